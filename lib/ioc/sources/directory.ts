/**
 * A folder of feed files (the data dir's `feeds/`): each file is one feed, each sub-folder holding a MISP
 * `manifest.json` one MISP feed. A scan says what is there with its size and time, so that only new or changed
 * files are read again.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface FeedFile {
  /** File or folder name inside the watched folder. */
  name: string;
  path: string;
  kind: 'file' | 'misp-feed';
  size: number;
  mtimeMs: number;
}

/** Names a feed folder ignores: hidden files, editor and download leftovers, and documentation. */
const IGNORED = /^\.|~$|\.(tmp|part|crdownload|swp|bak|md)$/i;

export async function scanFeedDirectory(dir: string): Promise<FeedFile[]> {
  const out: FeedFile[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (IGNORED.test(entry.name)) continue;
    const path = join(dir, entry.name);
    try {
      if (entry.isFile()) {
        const s = await stat(path);
        out.push({ name: entry.name, path, kind: 'file', size: s.size, mtimeMs: s.mtimeMs });
      } else if (entry.isDirectory()) {
        // A MISP feed changes when its manifest does.
        const s = await stat(join(path, 'manifest.json'));
        out.push({ name: entry.name, path, kind: 'misp-feed', size: s.size, mtimeMs: s.mtimeMs });
      }
    } catch {
      // Gone since readdir, or a folder without a manifest: not a feed.
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
