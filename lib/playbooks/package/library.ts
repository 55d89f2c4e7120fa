/**
 * A shared folder of playbooks (`SOAR_LIBRARY_DIR`, e.g. a git checkout the team shares) as a Node-RED library
 * source: the editor's Import dialog lists its folders and files, and importing a playbook package gives the editor
 * the package's flow (tab and nodes), so it arrives as a new tab. Plain flow exports (`[...]` JSON) are served as
 * they are. Read-only unless the folder is declared writable: a shared library is normally changed through review.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isObject, PACKAGE_FORMAT, PlaybookError } from './model';
import { validatePackage } from './validate';

/** One listed file, in the shape Node-RED's library lists files: `fn` is its name in the folder. */
export interface LibraryFile {
  fn: string;
  name?: string;
  version?: string;
  description?: string;
}

/** Turns a library document into the flow the editor imports; the default knows packages and plain flows. */
export type FlowConverter = (doc: unknown, file: string) => unknown[] | undefined;

export class PlaybookLibrary {
  readonly root: string;
  readonly writable: boolean;
  private readonly converters: FlowConverter[];

  constructor(root: string, options: { writable?: boolean; converters?: FlowConverter[] } = {}) {
    this.root = resolve(root);
    this.writable = options.writable === true;
    this.converters = options.converters ?? [];
  }

  /** Fails (and Node-RED leaves the library out, with a warning) when the folder is not there. */
  async init(): Promise<void> {
    const s = await stat(this.root).catch(() => undefined);
    if (!s?.isDirectory()) {
      throw new PlaybookError(`SOAR_LIBRARY_DIR ${this.root} is not a folder: create it or fix the variable`);
    }
  }

  /** A path inside the library; anything that would leave it (`..`, absolute paths) is refused. */
  private inside(path: string): string {
    const full = resolve(this.root, path.replace(/^\/+/, ''));
    const rel = relative(this.root, full);
    if (rel.startsWith('..') || rel.split(sep).includes('..') || resolve(this.root, rel) !== full) {
      throw new PlaybookError(`${path} is outside the playbook library`);
    }
    return full;
  }

  /** A folder listing (sub-folders, then files) or a file's flow as JSON text, as Node-RED's library API wants. */
  async getEntry(type: string, path: string): Promise<string | (string | LibraryFile)[]> {
    if (type !== 'flows') {
      if (path === '' || path.endsWith('/')) return [];
      throw new PlaybookError(`the playbook library holds flows only, not ${type}`);
    }
    let full = this.inside(path);
    let s = await stat(full).catch(() => undefined);
    if (!s && !full.endsWith('.json') && existsSync(full + '.json')) {
      full += '.json';
      s = await stat(full);
    }
    if (!s) {
      if (path === '' || path.endsWith('/')) return [];
      throw new PlaybookError(`no playbook ${path} in the library`);
    }
    if (s.isDirectory()) return this.list(full);
    return JSON.stringify(this.flowOf(JSON.parse(await readFile(full, 'utf8')), path));
  }

  private async list(dir: string): Promise<(string | LibraryFile)[]> {
    const names = (await readdir(dir, { withFileTypes: true })).filter((d) => !d.name.startsWith('.'));
    const dirs = names.filter((d) => d.isDirectory()).map((d) => d.name);
    const files: LibraryFile[] = [];
    for (const d of names) {
      if (!d.isFile() || !d.name.endsWith('.json')) continue;
      const entry: LibraryFile = { fn: d.name };
      try {
        const doc: unknown = JSON.parse(await readFile(join(dir, d.name), 'utf8'));
        if (isObject(doc) && doc.format === PACKAGE_FORMAT && isObject(doc.playbook)) {
          const p = doc.playbook;
          if (typeof p.name === 'string') entry.name = p.name;
          if (typeof p.version === 'string') entry.version = p.version;
          if (typeof p.description === 'string') entry.description = p.description;
        }
      } catch {
        // an unreadable file is still listed; opening it says what is wrong
      }
      files.push(entry);
    }
    return [...dirs.sort(), ...files.sort((a, b) => a.fn.localeCompare(b.fn))];
  }

  /** The flow the editor imports for a library document. */
  flowOf(doc: unknown, file: string): unknown[] {
    if (Array.isArray(doc)) return doc;
    if (isObject(doc) && doc.format === PACKAGE_FORMAT) {
      const result = validatePackage(doc);
      if (!result.valid)
        throw new PlaybookError(`${file} is not a valid playbook package: ${result.errors.join('; ')}`);
      return doc.flow as unknown[];
    }
    for (const convert of this.converters) {
      const flow = convert(doc, file);
      if (flow) return flow;
    }
    throw new PlaybookError(`${file} is neither a playbook package nor a flow export`);
  }

  /** Saves a flow from the editor's Export dialog, when the library is writable. */
  async saveEntry(type: string, path: string, _meta: unknown, body: string): Promise<void> {
    if (!this.writable) {
      throw new PlaybookError('the SOAR playbook library is read-only (set SOAR_LIBRARY_WRITABLE=true to save to it)');
    }
    if (type !== 'flows') throw new PlaybookError(`the playbook library holds flows only, not ${type}`);
    const full = this.inside(path.endsWith('.json') ? path : path + '.json');
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, JSON.stringify(JSON.parse(body), null, 2) + '\n');
  }
}
