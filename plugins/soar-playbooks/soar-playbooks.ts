/**
 * Runtime plugin: playbook packages from the editor, and the shared playbook library.
 *   POST /soar/playbooks/export    {id, author?, format?}  the deployed tab or subflow `id` as a package, or with
 *                                  format `cacao` as a CACAO 2.0 playbook (soar.read)
 *   POST /soar/playbooks/validate  a package or a CACAO playbook → {valid, errors, warnings, missing, existing,
 *                                  package} (`package`: what to import; a CACAO playbook converted) (soar.read)
 * The editor side (soar-playbooks.html) downloads the package and imports a chosen file with Node-RED's own
 * importer. The library source `soar-playbook-library` serves SOAR_LIBRARY_DIR in the Import dialog (settings.js).
 * All the work is in lib/playbooks/package; this file only adapts it to Node-RED.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import {
  asPackage,
  checkRequires,
  compareVersions,
  exportCacao,
  exportPlaybook,
  isCacaoDocument,
  packageFileName,
  packageFromCacao,
  PlaybookError,
  PlaybookLibrary,
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

  RED.httpAdmin.post('/soar/playbooks/export', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
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
  });

  RED.httpAdmin.post(
    '/soar/playbooks/validate',
    RED.auth.needsPermission('soar.read'),
    (req: Request, res: Response) => {
      try {
        const index = scanInstalledTypes({ dataDir: userDir() });
        const converted = asPackage(req.body as unknown, index);
        const result = validatePackage(converted.doc);
        if (!result.valid) {
          res.json({ ...result, missing: [], existing: null, package: null });
          return;
        }
        const pkg = converted.doc as PlaybookPackage;
        const flows = deployedFlows();
        const report = checkRequires(pkg, { index, flows, dataDir: userDir() });
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
          format: converted.from,
          package: pkg,
        });
      } catch (err) {
        fail(res, err);
      }
    },
  );

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
        // A CACAO playbook in the library imports as the flow it converts to.
        converters: [
          (doc) =>
            isCacaoDocument(doc)
              ? packageFromCacao(doc, scanInstalledTypes({ dataDir: userDir() })).pkg.flow
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
    saveEntry(type: string, path: string, meta: unknown, body: string) {
      return this.library.saveEntry(type, path, meta, body);
    }
  }
  plugins.registerPlugin('soar-playbook-library', {
    type: 'node-red-library-source',
    class: SoarPlaybookLibrarySource,
  });
};
