/**
 * A shared folder of playbooks (`SOAR_LIBRARY_DIR`, e.g. a git checkout the team shares) as a Node-RED library
 * source: the editor's Import dialog lists its folders and files, and importing a playbook package gives the editor
 * the package's flow (tab and nodes), so it arrives as a new tab. Plain flow exports (`[...]` JSON) are served as
 * they are. Read-only unless the folder is declared writable: a shared library is normally changed through review.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { isObject, PACKAGE_FORMAT, PlaybookError, type FlowNode } from './model';
import { stripSecrets } from './secrets';
import { applyTrust } from './trust';
import { validatePackage } from './validate';

/** Files larger than this are not read: listed without their name and version, refused when opened. */
export const MAX_LIBRARY_FILE_BYTES = 5 * 1024 * 1024;

/** Said of any file that cannot be served, whatever the reason: never the parser's text (it quotes the file). */
const NOT_A_PLAYBOOK = 'is not a valid playbook file';

/** One listed file, in the shape Node-RED's library lists files: `fn` is its name in the folder. */
export interface LibraryFile {
  fn: string;
  name?: string;
  version?: string;
  description?: string;
  /** Set on a file larger than MAX_LIBRARY_FILE_BYTES: listed, not read. */
  tooLarge?: boolean;
}

/**
 * Turns a library document into the flow the editor imports; the default knows packages and plain flows. A
 * converter applies the trust model itself (the CACAO import has its own placeholders).
 */
export type FlowConverter = (doc: unknown, file: string, options: { trusted: boolean }) => unknown[] | undefined;

export class PlaybookLibrary {
  readonly root: string;
  readonly writable: boolean;
  /** Serve flows with their code (SOAR_LIBRARY_TRUSTED=true); otherwise non-inert nodes become placeholders. */
  readonly trusted: boolean;
  private readonly converters: FlowConverter[];

  constructor(root: string, options: { writable?: boolean; trusted?: boolean; converters?: FlowConverter[] } = {}) {
    this.root = resolve(root);
    this.writable = options.writable === true;
    this.trusted = options.trusted === true;
    this.converters = options.converters ?? [];
  }

  /**
   * The real path of a path inside the library, which must be inside the library's real folder and no symlink:
   * `inside()` only checks the text, and a symlink in a shared checkout (`leak.json -> /etc/passwd`, `root -> /`)
   * would serve any file the Node-RED user can read.
   */
  private async contained(full: string): Promise<string | undefined> {
    const entry = await lstat(full).catch(() => undefined);
    if (!entry) return undefined;
    if (entry.isSymbolicLink() && full !== this.root)
      throw new PlaybookError(`${relative(this.root, full)} is a symlink: not served`);
    const [rootReal, real] = await Promise.all([realpath(this.root), realpath(full)]);
    const rel = relative(rootReal, real);
    if (rel.startsWith('..') || rel.split(sep).includes('..') || resolve(rootReal, rel) !== real) {
      throw new PlaybookError(`${relative(this.root, full)} is outside the playbook library`);
    }
    return real;
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
    const asked = this.inside(path);
    let full = await this.contained(asked);
    if (!full && !asked.endsWith('.json')) full = await this.contained(asked + '.json');
    if (!full) {
      if (path === '' || path.endsWith('/')) return [];
      throw new PlaybookError(`no playbook ${path} in the library`);
    }
    const s = await stat(full);
    if (s.isDirectory()) return this.list(full);
    if (!s.isFile()) throw new PlaybookError(`${path} ${NOT_A_PLAYBOOK}`);
    if (s.size > MAX_LIBRARY_FILE_BYTES) {
      throw new PlaybookError(`${path} is larger than ${MAX_LIBRARY_FILE_BYTES / 1024 / 1024} MB: not served`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(await readFile(full, 'utf8'));
    } catch {
      throw new PlaybookError(`${path} ${NOT_A_PLAYBOOK} (not JSON)`);
    }
    return JSON.stringify(this.flowOf(doc, path));
  }

  private async list(dir: string): Promise<(string | LibraryFile)[]> {
    const names = (await readdir(dir, { withFileTypes: true })).filter((d) => !d.name.startsWith('.'));
    const dirs = names.filter((d) => d.isDirectory()).map((d) => d.name);
    const files: LibraryFile[] = [];
    for (const d of names) {
      if (!d.isFile() || !d.name.endsWith('.json')) continue;
      const entry: LibraryFile = { fn: d.name };
      try {
        // Symlinks are neither files nor folders to readdir: left out above. Large files are listed, not read.
        if ((await stat(join(dir, d.name))).size > MAX_LIBRARY_FILE_BYTES) {
          entry.tooLarge = true;
          files.push(entry);
          continue;
        }
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

  /** The flow the editor imports for a library document: without trust, non-inert nodes are placeholders. */
  flowOf(doc: unknown, file: string): unknown[] {
    const trust = { trusted: this.trusted };
    if (Array.isArray(doc)) {
      const nodes = doc.filter(
        (n): n is FlowNode => isObject(n) && typeof n.id === 'string' && typeof n.type === 'string',
      );
      if (nodes.length !== doc.length) throw new PlaybookError(`${file} ${NOT_A_PLAYBOOK} (not a flow export)`);
      return applyTrust(nodes, trust).flow;
    }
    if (isObject(doc) && doc.format === PACKAGE_FORMAT) {
      const result = validatePackage(doc);
      if (!result.valid)
        throw new PlaybookError(`${file} is not a valid playbook package: ${result.errors.join('; ')}`);
      return applyTrust(doc.flow as FlowNode[], trust).flow;
    }
    for (const convert of this.converters) {
      const flow = convert(doc, file, trust);
      if (flow) return flow;
    }
    throw new PlaybookError(`${file} is neither a playbook package nor a flow export`);
  }

  /** The deepest existing folder on the way to `dir` must be inside the library (a symlinked folder is not). */
  private async assertFolderInside(dir: string): Promise<void> {
    let existing = dir;
    while (!(await lstat(existing).catch(() => undefined))) existing = dirname(existing);
    if (existing !== this.root && (await lstat(existing)).isSymbolicLink()) {
      throw new PlaybookError(`${relative(this.root, existing)} is a symlink: nothing saved through it`);
    }
    await this.contained(existing);
  }

  /**
   * Saves a flow from the editor's Export dialog, when the library is writable, without its secrets (the same
   * stripping as a package export); returns what was taken out. Never writes through a symlink: the file is written
   * beside the target and renamed over it, which replaces a symlink instead of following it.
   */
  async saveEntry(type: string, path: string, _meta: unknown, body: string): Promise<{ removed: string[] }> {
    if (!this.writable) {
      throw new PlaybookError('the SOAR playbook library is read-only (set SOAR_LIBRARY_WRITABLE=true to save to it)');
    }
    if (type !== 'flows') throw new PlaybookError(`the playbook library holds flows only, not ${type}`);
    const full = this.inside(path.endsWith('.json') ? path : path + '.json');
    let doc: unknown;
    try {
      doc = JSON.parse(body);
    } catch {
      throw new PlaybookError(`${path}: the flow to save is not JSON`);
    }
    let removed: string[] = [];
    if (Array.isArray(doc)) {
      const stripped = stripSecrets(doc.filter(isObject) as FlowNode[]);
      doc = stripped.nodes;
      removed = stripped.removed;
    } else if (isObject(doc) && Array.isArray(doc.flow)) {
      const stripped = stripSecrets(doc.flow.filter(isObject) as FlowNode[]);
      doc = { ...doc, flow: stripped.nodes };
      removed = stripped.removed;
    }
    await this.assertFolderInside(dirname(full));
    await mkdir(dirname(full), { recursive: true });
    await this.assertFolderInside(dirname(full));
    const existing = await lstat(full).catch(() => undefined);
    if (existing?.isSymbolicLink()) throw new PlaybookError(`${path} is a symlink: nothing saved through it`);
    const temp = join(dirname(full), `.${basename(full)}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await writeFile(temp, JSON.stringify(doc, null, 2) + '\n', { flag: 'wx' });
      await rename(temp, full);
    } finally {
      await rm(temp, { force: true });
    }
    return { removed };
  }
}
