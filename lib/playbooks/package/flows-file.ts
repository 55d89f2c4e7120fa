/** Reading and writing a Node-RED flows file from outside Node-RED (the CLI). */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fchmodSync,
  fchownSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { isObject, PlaybookError, type FlowNode } from './model';

function parseFlowsFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PlaybookError(`${file} is not JSON: ${(err as Error).message}`);
  }
}

export function readFlowsFile(file: string): FlowNode[] {
  if (!existsSync(file)) {
    throw new PlaybookError(`no flows file at ${file}: start the application once, or give --flows <file>`);
  }
  const parsed = parseFlowsFile(file);
  // Node-RED also accepts the `{flows: [...], rev}` form some tools write.
  const nodes = isObject(parsed) && Array.isArray(parsed.flows) ? parsed.flows : parsed;
  if (!Array.isArray(nodes) || !nodes.every((n) => isObject(n) && typeof n.id === 'string')) {
    throw new PlaybookError(`${file} is not a Node-RED flows file (an array of nodes with ids)`);
  }
  return nodes as FlowNode[];
}

/** Flushes a file or folder to disk (a rename is only durable once the folder is). */
function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the flows file the way a crash cannot half-write it: a temporary file beside it, flushed, then a rename,
 * then the folder flushed. The previous version is kept as `.<name>.backup`, as Node-RED itself does. The new file
 * keeps the old one's mode and owner (Node-RED runs as its own user, which must still be able to read and write
 * it: a CLI run as another user that cannot give the file back to its owner refuses instead), and its
 * `{flows, rev}` form if it had it.
 */
export function writeFlowsFile(file: string, flows: readonly FlowNode[]): void {
  const before = existsSync(file) ? statSync(file) : undefined;
  const previous = before ? parseFlowsFile(file) : undefined;
  const text = JSON.stringify(flows, null, 4);
  const body =
    isObject(previous) && Array.isArray(previous.flows)
      ? JSON.stringify(
          { ...previous, flows, rev: createHash('md5').update(JSON.stringify(flows)).digest('hex') },
          null,
          4,
        )
      : text;

  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, body + '\n');
    if (before) {
      if (typeof process.getuid === 'function' && before.uid !== process.getuid()) {
        try {
          fchownSync(fd, before.uid, before.gid);
        } catch {
          throw new PlaybookError(
            `${file} belongs to user ${before.uid}, not to the user running this command (${process.getuid()}), ` +
              'who cannot give the new file back to its owner: run the command as that user (the one Node-RED ' +
              'runs as), or as root; nothing was changed',
          );
        }
      }
      fchmodSync(fd, before.mode & 0o7777);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  if (before) writeFileSync(join(dirname(file), `.${basename(file)}.backup`), readFileSync(file), { mode: 0o600 });
  renameSync(tmp, file);
  fsyncPath(dirname(file));
}
