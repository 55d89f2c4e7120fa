#!/usr/bin/env node
/**
 * `soar playbook list | export | import | validate`: playbook packages from the command line, on a data dir's flows
 * file (or any flows file). The engine is lib/playbooks/package; this file only parses arguments and prints.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  asPackage,
  checkRequires,
  exportCacao,
  exportPlaybook,
  importPlaybook,
  listPlaybooks,
  packageFileName,
  PlaybookError,
  readFlowsFile,
  scanInstalledTypes,
  validatePackage,
  writeFlowsFile,
  type FlowNode,
} from './package';

export const EXIT_OK = 0;
/** The package is invalid, something it needs is missing, or the flows refuse it. */
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

const HELP = `Usage: soar playbook <command> [options]

Commands:
  list                           the flow tabs and subflows, with their playbook id and version
  export <tab>                   a tab or subflow (its id, its name, or its playbook id) as a playbook package
      -o, --output <file>        write there (a folder: <id>-<version>.playbook.json in it); default: stdout
      --author <name>            the package's author (default: the flow's SOAR_PLAYBOOK_AUTHOR)
      --format package|cacao     a playbook package (default) or an OASIS CACAO 2.0 playbook (a tab only)
  import <file>                  add a playbook package (or a CACAO 2.0 playbook) to the flows as a new tab
                                 (every id new)
      --update                   replace the tab that holds the same playbook id, if the package is newer
      --force                    with --update: replace even with the same or an older version;
                                 without: import although node modules are missing
      --trusted                  restore every node with its code, commands, files and URLs, and on --update
                                 keep this installation's credentials (the tab id, config nodes of the same id);
                                 only for packages you exported yourself. Without it, nodes that run code (function,
                                 exec, inject, http request, file...) become placeholders that run nothing and show
                                 their configuration in their Description, and an update asks for credentials again
  validate <file>                check a package, and what it needs against this installation; lists the nodes
                                 that carry code (codeNodes with --json)

Options:
  --data-dir <dir>               the data dir (default: $SOAR_DATA_DIR or ./.soar); its flows.json is used
  --flows <file>                 use this flows file instead
  --json                         machine-readable output (list, validate)
  -h, --help

Secrets never leave: credentials, env variables of type credential, properties named like a secret, secret query
parameters (?apikey=, &token=, &sig=) and webhook URLs (Slack, Discord, Teams) are taken out on export; the
importer fills them in again. Code (function, exec commands) is exported as it is: export warns about it.

import rewrites the flows file (atomically and flushed to disk, the previous one kept as .flows.json.backup, with
the same mode and owner: run it as the user Node-RED runs as, or as root). A running Node-RED does
not see the change: restart it (npm start) or reload the flows from the editor afterwards, and do not deploy from
an editor opened before the import, or it overwrites the imported tab.

Exit codes: 0 done, 1 invalid package or missing requirements or refused import, 2 wrong usage.`;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

class UsageError extends Error {}

const OPTIONS = {
  'data-dir': { type: 'string' },
  flows: { type: 'string' },
  output: { type: 'string', short: 'o' },
  author: { type: 'string' },
  format: { type: 'string' },
  update: { type: 'boolean' },
  force: { type: 'boolean' },
  trusted: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function locations(values: Values, io: CliIo): { dataDir?: string; flowsFile: string } {
  if (values.flows && values['data-dir']) throw new UsageError('give --data-dir or --flows, not both');
  if (values.flows) return { flowsFile: resolve(io.cwd, values.flows) };
  const dataDir = resolve(io.cwd, values['data-dir'] || io.env.SOAR_DATA_DIR || '.soar');
  return { dataDir, flowsFile: join(dataDir, 'flows.json') };
}

function readDocument(file: string, io: CliIo): unknown {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) throw new PlaybookError(`no file ${path}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new PlaybookError(`${path} is not JSON: ${(err as Error).message}`);
  }
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected one ${what}, got ${positionals.length}`);
  return positionals[0];
}

function list(values: Values, io: CliIo): number {
  const { flowsFile } = locations(values, io);
  const playbooks = listPlaybooks(readFlowsFile(flowsFile));
  if (values.json) {
    io.stdout(JSON.stringify(playbooks, null, 2) + '\n');
    return EXIT_OK;
  }
  const rows = [['NODE ID', 'KIND', 'PLAYBOOK ID', 'VERSION', 'NODES', 'NAME']];
  for (const p of playbooks) rows.push([p.nodeId, p.kind, p.id, p.version, String(p.nodes), p.name]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  io.stdout(
    rows.map((r) => r.map((c, i) => (i < r.length - 1 ? c.padEnd(widths[i]) : c)).join('  ')).join('\n') + '\n',
  );
  return EXIT_OK;
}

function exported(
  selector: string,
  values: Values,
  io: CliIo,
): { doc: unknown; removed: string[]; warnings: string[]; fileName: string; summary: string } {
  const { dataDir, flowsFile } = locations(values, io);
  const flows = readFlowsFile(flowsFile);
  const format = values.format ?? 'package';
  if (format === 'cacao') {
    const { doc, removed, warnings, fileName } = exportCacao(flows, selector, { author: values.author });
    return { doc, removed, warnings, fileName, summary: `"${String(doc.name)}" as CACAO 2.0` };
  }
  if (format !== 'package') throw new UsageError(`--format is package or cacao, not ${format}`);
  const index = scanInstalledTypes({ dataDir });
  const { pkg, removed, warnings } = exportPlaybook(flows, selector, { index, author: values.author });
  const summary = `"${pkg.playbook.name}" ${pkg.playbook.version} (${pkg.flow.length} nodes)`;
  return { doc: pkg, removed, warnings, fileName: packageFileName(pkg), summary };
}

function exportCommand(selector: string, values: Values, io: CliIo): number {
  const { doc, removed, warnings, fileName, summary } = exported(selector, values, io);
  const text = JSON.stringify(doc, null, 2) + '\n';
  for (const w of warnings) io.stderr(`warning: ${w}\n`);
  if (removed.length > 0) io.stderr(`left out ${removed.length} secret(s): ${removed.join('; ')}\n`);
  if (!values.output) {
    io.stdout(text);
    return EXIT_OK;
  }
  let out = resolve(io.cwd, values.output);
  if (existsSync(out) && !out.endsWith('.json')) out = join(out, fileName);
  writeFileSync(out, text);
  io.stderr(`exported ${summary} to ${out}\n`);
  return EXIT_OK;
}

function installation(values: Values, io: CliIo): { dataDir?: string; flowsFile: string; flows: FlowNode[] } {
  const where = locations(values, io);
  return { ...where, flows: existsSync(where.flowsFile) ? readFlowsFile(where.flowsFile) : [] };
}

function validateCommand(file: string, values: Values, io: CliIo): number {
  const { dataDir, flows } = installation(values, io);
  const index = scanInstalledTypes({ dataDir });
  const converted = asPackage(readDocument(file, io), index);
  const doc = converted.doc;
  const result = validatePackage(doc);
  let missing: string[] = [];
  let warnings = [...converted.warnings, ...result.warnings];
  if (result.valid) {
    const report = checkRequires(doc as never, { index, flows, dataDir });
    missing = report.missing;
    warnings = [...warnings, ...report.warnings];
  }
  const ok = result.valid && missing.length === 0;
  if (values.json) {
    const out = {
      format: converted.from,
      valid: result.valid,
      errors: result.errors,
      missing,
      warnings,
      codeNodes: result.codeNodes,
    };
    io.stdout(JSON.stringify(out, null, 2) + '\n');
  } else {
    for (const e of result.errors) io.stdout(`error: ${e}\n`);
    for (const m of missing) io.stdout(`missing: ${m}\n`);
    for (const w of warnings) io.stdout(`warning: ${w}\n`);
    const what = converted.from === 'cacao' ? 'CACAO 2.0 playbook' : 'playbook package';
    io.stdout(
      !result.valid
        ? `${file}: not a valid playbook package\n`
        : ok
          ? `${file}: a valid ${what}; this installation has what it needs\n`
          : `${file}: a valid ${what}, but this installation lacks what it needs (above)\n`,
    );
  }
  return ok ? EXIT_OK : EXIT_PROBLEM;
}

function importCommand(file: string, values: Values, io: CliIo): number {
  // The flows file must exist: creating it here would keep a first start from installing the default flow.
  const { dataDir, flowsFile } = locations(values, io);
  const flows = readFlowsFile(flowsFile);
  const index = scanInstalledTypes({ dataDir });
  const trusted = values.trusted === true;
  const converted = asPackage(readDocument(file, io), index, { trusted });
  const doc = converted.doc;
  for (const w of converted.warnings) io.stderr(`warning: ${w}\n`);
  const result = validatePackage(doc);
  if (!result.valid) {
    for (const e of result.errors) io.stderr(`error: ${e}\n`);
    io.stderr(`${file}: not a valid playbook package; nothing imported\n`);
    return EXIT_PROBLEM;
  }
  const report = checkRequires(doc as never, { index, flows, dataDir });
  // validatePackage's own warnings name every node with code; the import's say what became of them.
  for (const w of [...result.warnings.filter((w) => trusted || !/carries code/.test(w)), ...report.warnings]) {
    io.stderr(`warning: ${w}\n`);
  }
  for (const m of report.missing) io.stderr(`missing: ${m}\n`);
  // Node-RED starts no flow at all while a type is missing, so an import that needs absent modules would stop every
  // playbook on this installation: only on request.
  if (report.missing.length > 0 && !values.force) {
    io.stderr('nothing imported: install what is missing first, or import with --force to add the tab anyway\n');
    return EXIT_PROBLEM;
  }
  const imported = importPlaybook(flows, doc, {
    update: values.update,
    force: values.force && values.update,
    trusted,
  });
  writeFlowsFile(flowsFile, imported.flows);
  for (const w of imported.warnings) io.stderr(`warning: ${w}\n`);
  if (!trusted && imported.warnings.length > 0) {
    io.stderr('imported without trust: review the placeholders; import with --trusted only a package you trust\n');
  }
  for (const n of imported.notes) io.stderr(`note: ${n}\n`);
  const meta = (doc as { playbook: { name: string; version: string } }).playbook;
  io.stdout(
    imported.action === 'added'
      ? `added "${meta.name}" ${meta.version} as ${imported.rootId} to ${flowsFile}\n`
      : `updated "${meta.name}" from ${imported.previousVersion} to ${meta.version} (${imported.rootId}) in ${flowsFile}\n`,
  );
  if (imported.reused.length > 0) {
    io.stderr(`kept this installation's config nodes with the same id: ${imported.reused.join(', ')}\n`);
  }
  io.stderr('restart Node-RED (or reload its flows) to run it\n');
  return EXIT_OK;
}

export async function runCli(argv: string[], io: CliIo): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    const [group, command, ...rest] = positionals;
    if (values.help || positionals.length === 0) {
      io.stdout(HELP + '\n');
      return values.help ? EXIT_OK : EXIT_USAGE;
    }
    if (group !== 'playbook') throw new UsageError(`unknown command "${group}": try soar playbook --help`);
    switch (command) {
      case 'list':
        if (rest.length > 0) throw new UsageError('list takes no arguments');
        return list(values, io);
      case 'export':
        return exportCommand(one(rest, 'tab (id, name or playbook id)'), values, io);
      case 'import':
        return importCommand(one(rest, 'package file'), values, io);
      case 'validate':
        return validateCommand(one(rest, 'package file'), values, io);
      default:
        throw new UsageError(`unknown playbook command "${command ?? ''}": list, export, import or validate`);
    }
  } catch (err) {
    if (err instanceof PlaybookError) {
      io.stderr(`error: ${err.message}\n`);
      return EXIT_PROBLEM;
    }
    // parseArgs throws TypeErrors with a code for unknown or malformed options.
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`error: ${(err as Error).message}\n\n${HELP}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

if (require.main === module) {
  runCli(process.argv.slice(2), {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
  }).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`soar: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT_PROBLEM;
    },
  );
}
