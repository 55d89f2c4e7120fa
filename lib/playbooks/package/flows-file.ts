/** Reading and writing a Node-RED flows file from outside Node-RED (the CLI). */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isObject, PlaybookError, type FlowNode } from './model';

export function readFlowsFile(file: string): FlowNode[] {
  if (!existsSync(file)) {
    throw new PlaybookError(`no flows file at ${file}: start the application once, or give --flows <file>`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlaybookError(`${file} is not JSON: ${(err as Error).message}`);
  }
  // Node-RED also accepts the `{flows: [...], rev}` form some tools write.
  const nodes = isObject(parsed) && Array.isArray(parsed.flows) ? parsed.flows : parsed;
  if (!Array.isArray(nodes) || !nodes.every((n) => isObject(n) && typeof n.id === 'string')) {
    throw new PlaybookError(`${file} is not a Node-RED flows file (an array of nodes with ids)`);
  }
  return nodes as FlowNode[];
}

/**
 * Writes the flows file the way a crash cannot half-write it: a temporary file beside it, then a rename. The
 * previous version is kept as `.<name>.backup`, as Node-RED itself does.
 */
export function writeFlowsFile(file: string, flows: readonly FlowNode[]): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  writeFileSync(tmp, JSON.stringify(flows, null, 4) + '\n', { mode: 0o600 });
  if (existsSync(file)) writeFileSync(join(dirname(file), `.${basename(file)}.backup`), readFileSync(file));
  renameSync(tmp, file);
}
