/**
 * Runtime plugin: playbook packages from the editor, and the shared playbook library.
 *   POST /soar/playbooks/export    {id, author?, format?}  the deployed tab or subflow `id` as a package, or with
 *                                  format `cacao` as a CACAO 2.0 playbook (soar.read and flows.read: it carries
 *                                  the flow's code, commands and URLs)
 *   POST /soar/playbooks/validate  a package or a CACAO playbook → {valid, errors, warnings, missing, existing,
 *                                  codeNodes, package, trustedPackage, changes} (soar.read). `package` is what to
 *                                  import without trust (non-inert nodes as placeholders), `trustedPackage` the
 *                                  document with its code, for the editor to import only after the analyst
 *                                  confirmed the listed `codeNodes`; `changes` compares with the installed version.
 * The editor side (soar-playbooks.html) downloads the package and imports a chosen file with Node-RED's own
 * importer. The library source `soar-playbook-library` serves SOAR_LIBRARY_DIR in the Import dialog (settings.js).
 * All the work is in lib/playbooks/package; this file only adapts it to Node-RED.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import {
  asPackage,
  applyTrust,
  checkRequires,
  compareVersions,
  exportCacao,
  exportPlaybook,
  isCacaoDocument,
  packageFileName,
  packageFromCacao,
  PlaybookError,
  PlaybookLibrary,
  remapIds,
  rootIdentity,
  scanInstalledTypes,
  validatePackage,
  type FlowNode,
  type PlaybookPackage,
} from '../../lib/playbooks/package';

/** What settings.js puts in `editorTheme.library.sources` for the library. */
interface LibrarySourceConfig {
  id: string;
  path: string;
  label?: string;
  readOnly?: boolean;
  /** Serve flows with their code: settings.js sets it from SOAR_LIBRARY_TRUSTED=true. */
  trusted?: boolean;
}

type PluginApi = { registerPlugin: (id: string, definition: Record<string, unknown>) => void };
type NodesWithEach = { eachNode: (cb: (node: FlowNode) => void) => void };

export = function (RED: NodeAPI) {
  const userDir = () => (RED.settings as unknown as { userDir?: string }).userDir;

  /** The deployed flows, in flows-file order (Node-RED's active configuration). */
  function deployedFlows(): FlowNode[] {
    const flows: FlowNode[] = [];
    (RED.nodes as unknown as NodesWithEach).eachNode((n) => flows.push(n));
    return flows;
  }

  function fail(res: Response, err: unknown): void {
    if (err instanceof PlaybookError) {
      res.status(/^no tab or subflow/.test(err.message) ? 404 : 400).json({ error: err.message });
      return;
    }
    RED.log.error(`soar-playbooks: ${(err as Error).stack ?? String(err)}`);
    res.status(500).json({ error: (err as Error).message });
  }

  // An export carries the flow's function code, exec commands, URLs and env values: reading flows, not only cases.
  RED.httpAdmin.post(
    '/soar/playbooks/export',
    RED.auth.needsPermission('soar.read'),
    RED.auth.needsPermission('flows.read'),
    (req: Request, res: Response) => {
      try {
        const body = (req.body ?? {}) as { id?: unknown; author?: unknown; format?: unknown };
        if (typeof body.id !== 'string' || body.id === '') {
          res.status(400).json({ error: 'give the tab or subflow to export as {"id": "<its id>"}' });
          return;
        }
        const author = typeof body.author === 'string' ? body.author : undefined;
        if (body.format === 'cacao') {
          const cacao = exportCacao(deployedFlows(), body.id, { author });
          res.json({ package: cacao.doc, fileName: cacao.fileName, removed: cacao.removed, warnings: cacao.warnings });
          return;
        }
        const result = exportPlaybook(deployedFlows(), body.id, {
          index: scanInstalledTypes({ dataDir: userDir() }),
          author,
        });
        res.json({
          package: result.pkg,
          fileName: packageFileName(result.pkg),
          removed: result.removed,
          warnings: result.warnings,
        });
      } catch (err) {
        fail(res, err);
      }
    },
  );

  RED.httpAdmin.post(
    '/soar/playbooks/validate',
    RED.auth.needsPermission('soar.read'),
    (req: Request, res: Response) => {
      try {
        const index = scanInstalledTypes({ dataDir: userDir() });
        // A CACAO playbook converted with trust gives the nodes with their code; `package` below is without.
        const converted = asPackage(req.body as unknown, index, { trusted: true });
        const result = validatePackage(converted.doc);
        if (!result.valid) {
          res.json({ ...result, missing: [], existing: null, package: null, trustedPackage: null, changes: null });
          return;
        }
        const trustedPackage = converted.doc as PlaybookPackage;
        // Every id new: Node-RED's importer would otherwise reuse this installation's config node of the same id
        // (ids such as soar.device.lab are public), with its credentials, for the package's nodes.
        const untrusted = remapIds(applyTrust(trustedPackage.flow, {}).flow).nodes;
        const pkg: PlaybookPackage = { ...trustedPackage, flow: untrusted };
        const flows = deployedFlows();
        const report = checkRequires(trustedPackage, { index, flows, dataDir: userDir() });
        const installed = flows.find((n) => n.type === pkg.playbook.kind && rootIdentity(n).id === pkg.playbook.id);
        res.json({
          valid: true,
          errors: [],
          warnings: [...converted.warnings, ...result.warnings, ...report.warnings],
          missing: report.missing,
          existing: installed
            ? {
                nodeId: installed.id,
                ...rootIdentity(installed),
                // Whether importing would be an update (newer) or needs forcing (same or older).
                newer: compareVersions(pkg.playbook.version, rootIdentity(installed).version) > 0,
              }
            : null,
          codeNodes: result.codeNodes,
          changes: installed ? changesFrom(flows, installed, trustedPackage) : null,
          format: converted.from,
          package: pkg,
          trustedPackage,
        });
      } catch (err) {
        fail(res, err);
      }
    },
  );

  /** What an update changes, for its confirmation: node types added and removed, and nodes that carry code. */
  function changesFrom(flows: readonly FlowNode[], installed: FlowNode, pkg: PlaybookPackage) {
    const count = (nodes: readonly FlowNode[]) => {
      const by = new Map<string, number>();
      for (const n of nodes) by.set(n.type, (by.get(n.type) ?? 0) + 1);
      return by;
    };
    const before = count(flows.filter((n) => n.z === installed.id));
    const after = count(pkg.flow.filter((n) => n.z === pkg.flow[0].id));
    const diff = (a: Map<string, number>, b: Map<string, number>) =>
      [...a]
        .filter(([type, n]) => n > (b.get(type) ?? 0))
        .map(([type, n]) => `${type} ×${n - (b.get(type) ?? 0)}`)
        .sort();
    return { typesAdded: diff(after, before), typesRemoved: diff(before, after) };
  }

  const plugins = RED.plugins as unknown as PluginApi;
  plugins.registerPlugin('soar-playbooks', { type: 'soar-playbooks' });

  /** Node-RED constructs one per `editorTheme.library.sources` entry of this type. */
  class SoarPlaybookLibrarySource {
    readonly type = 'soar-playbook-library';
    readonly id: string;
    readonly label: string;
    private readonly library: PlaybookLibrary;
    constructor(config: LibrarySourceConfig) {
      if (!config.path) throw new PlaybookError('the soar-playbook-library source needs a path');
      this.id = config.id;
      this.label = config.label ?? config.id;
      this.library = new PlaybookLibrary(config.path, {
        writable: config.readOnly === false,
        trusted: config.trusted === true,
        // A CACAO playbook in the library imports as the flow it converts to, with the CACAO import's own trust.
        converters: [
          (doc, _file, trust) =>
            isCacaoDocument(doc)
              ? packageFromCacao(doc, scanInstalledTypes({ dataDir: userDir() }), trust).pkg.flow
              : undefined,
        ],
      });
    }
    init() {
      return this.library.init();
    }
    getEntry(type: string, path: string) {
      return this.library.getEntry(type, path);
    }
    async saveEntry(type: string, path: string, meta: unknown, body: string): Promise<void> {
      const { removed } = await this.library.saveEntry(type, path, meta, body);
      if (removed.length > 0) {
        RED.log.warn(
          `soar-playbooks: saved ${path} to the library without ${removed.length} secret(s): ${removed.join('; ')}`,
        );
      }
    }
  }
  plugins.registerPlugin('soar-playbook-library', {
    type: 'node-red-library-source',
    class: SoarPlaybookLibrarySource,
  });
};
