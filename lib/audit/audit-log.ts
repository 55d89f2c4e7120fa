import {
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readSync,
  realpathSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { SharedResources } from '../shared';
import { linkProblem, nextRecord, parseRecordLine, recordLine, type AuditEntry, type AuditRecord } from './record';

/** The log's file name in the data dir. */
export const AUDIT_FILE_NAME = 'soar-audit.jsonl';

export function auditFile(dataDir: string): string {
  return join(dataDir, AUDIT_FILE_NAME);
}

export class AuditLogError extends Error {}

export interface AuditLogOptions {
  /** Where repairs and other notices go; default `process.emitWarning`. */
  log?: (level: 'info' | 'warn', message: string) => void;
  /** The clock for `at` (tests). */
  now?: () => Date;
}

const CHUNK = 1 << 16;
/** How much of a removed torn line goes into the notice and the repair entry. */
const EXCERPT = 200;

/** Files open for appending in this process (real paths): a second writer would fork the chain. */
const openFiles = new Set<string>();

function defaultLog(level: 'info' | 'warn', message: string): void {
  if (level === 'warn') process.emitWarning(message, 'SoarAuditWarning');
}

function readAt(fd: number, start: number, end: number): Buffer {
  const buffer = Buffer.alloc(end - start);
  let done = 0;
  while (done < buffer.length) {
    const n = readSync(fd, buffer, done, buffer.length - done, start + done);
    if (n === 0) throw new AuditLogError('the audit log shrank while it was being read');
    done += n;
  }
  return buffer;
}

/** Position of the last newline before `before`, or -1; reads backwards in chunks. */
function lastNewline(fd: number, before: number): number {
  let end = before;
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const chunk = readAt(fd, start, end);
    const i = chunk.lastIndexOf(0x0a);
    if (i !== -1) return start + i;
    end = start;
  }
  return -1;
}

function excerpt(bytes: Buffer): string {
  const text = JSON.stringify(bytes.subarray(0, EXCERPT).toString('utf8'));
  return bytes.length > EXCERPT ? `${text}…` : text;
}

/**
 * The append-only, hash-chained audit log (format: lib/audit/index.ts). Open it with `AuditLog.open` or, shared in a
 * process, `acquireAuditLog`. `append` is synchronous: the line is written and fdatasync'ed before it returns, so an
 * entry that `append` returned survives a crash or power loss, and appends never interleave within the process.
 *
 * One writer per file: a second `AuditLog` on the same file in the same process is refused, and an append notices
 * when the file's size is not what this writer left (another process wrote to it, or someone truncated it) and
 * refuses rather than chaining onto something it has not checked. Several processes appending to one file are not
 * supported.
 */
export class AuditLog {
  private fd: number | undefined;
  /** The file's size after our last write: what we expect to find before the next one. */
  private size: number;
  private last: { seq: number; hash: string } | undefined;

  private constructor(
    readonly file: string,
    private readonly key: string,
    fd: number,
    size: number,
    last: { seq: number; hash: string } | undefined,
    private readonly now: () => Date,
  ) {
    this.fd = fd;
    this.size = size;
    this.last = last;
  }

  /**
   * Opens (creating it, mode 0600) the log at `file` and continues its chain from the last entry. A last line cut
   * short by a crash is completed when it is a whole, correctly chained entry that only lacks its newline, and is
   * otherwise truncated away; a truncation is reported through `log` and recorded as an entry of kind `audit`
   * (action `repair`), so the chain itself shows it. A last complete line that is not a sound entry is an error: the
   * log is not touched and nothing is chained onto it (run `npm run audit:verify`).
   */
  static open(file: string, options: AuditLogOptions = {}): AuditLog {
    const log = options.log ?? defaultLog;
    mkdirSync(dirname(resolve(file)), { recursive: true });
    const created = !existsSync(file);
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT | constants.O_APPEND, 0o600);
    let audit: AuditLog | undefined;
    try {
      const key = realpathSync(file);
      if (openFiles.has(key)) {
        throw new AuditLogError(`the audit log ${file} is already open in this process (use acquireAuditLog)`);
      }
      fchmodSync(fd, 0o600);
      if (created) syncDirectory(dirname(key));
      const { size, last, repair } = recover(fd, file, log);
      audit = new AuditLog(file, key, fd, size, last, options.now ?? (() => new Date()));
      openFiles.add(key);
      if (repair) audit.append(repair);
      return audit;
    } catch (err) {
      if (audit) audit.close();
      else closeSync(fd);
      throw err;
    }
  }

  /** The last entry's seq and hash (undefined while the log is empty): what to keep elsewhere as an anchor. */
  get head(): { seq: number; hash: string } | undefined {
    return this.last ? { ...this.last } : undefined;
  }

  /** Appends `entry` and returns the stored record once it is on disk. Throws when it could not be stored. */
  append(entry: AuditEntry): AuditRecord {
    const fd = this.fd;
    if (fd === undefined) throw new AuditLogError(`the audit log ${this.file} is closed`);
    const record = nextRecord(entry, this.last, this.now());
    const bytes = Buffer.from(`${recordLine(record)}\n`, 'utf8');
    const size = fstatSync(fd).size;
    if (size !== this.size) {
      throw new AuditLogError(
        `the audit log ${this.file} changed outside this writer (${size} bytes where ${this.size} were expected); ` +
          'check it with `npm run audit:verify` and restart',
      );
    }
    try {
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
      fdatasyncSync(fd);
    } catch (err) {
      // Take back a partly written line, so that the next append does not follow garbage.
      try {
        ftruncateSync(fd, this.size);
        fdatasyncSync(fd);
      } catch {
        this.close();
      }
      throw err;
    }
    this.size += bytes.length;
    this.last = { seq: record.seq, hash: record.hash };
    return record;
  }

  close(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    openFiles.delete(this.key);
    closeSync(fd);
  }
}

function syncDirectory(dir: string): void {
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the file's own fsync still holds its data.
  }
}

/** Reads the end of the log: the last entry to chain onto, after dealing with a torn last line. */
function recover(
  fd: number,
  file: string,
  log: (level: 'info' | 'warn', message: string) => void,
): { size: number; last: { seq: number; hash: string } | undefined; repair?: AuditEntry } {
  let size = fstatSync(fd).size;
  if (size === 0) return { size, last: undefined };
  const endNl = lastNewline(fd, size);
  let last: AuditRecord | undefined;
  if (endNl !== -1) {
    const startNl = lastNewline(fd, endNl);
    const parsed = parseRecordLine(readAt(fd, startNl + 1, endNl));
    if ('reason' in parsed) {
      throw new AuditLogError(
        `the last entry of the audit log ${file} (at byte ${startNl + 1}) is not sound: ${parsed.reason}; ` +
          'nothing is appended to it — check it with `npm run audit:verify`',
      );
    }
    last = parsed.record;
  }
  if (endNl === size - 1) return { size, last: last && { seq: last.seq, hash: last.hash } };

  // The file does not end with a newline: the last write was cut short.
  const tornStart = endNl + 1;
  const torn = readAt(fd, tornStart, size);
  const parsed = parseRecordLine(torn);
  if ('record' in parsed && linkProblem(parsed.record, last, 0) === undefined) {
    writeSync(fd, '\n');
    fdatasyncSync(fd);
    size += 1;
    log('info', `audit log ${file}: completed the last entry (seq ${parsed.record.seq}), which lacked its newline`);
    return { size, last: { seq: parsed.record.seq, hash: parsed.record.hash } };
  }
  ftruncateSync(fd, tornStart);
  fdatasyncSync(fd);
  const message =
    `audit log ${file}: removed a torn last line (${torn.length} bytes at byte ${tornStart}, left by a crash ` +
    `during a write): ${excerpt(torn)}`;
  log('warn', message);
  return {
    size: tornStart,
    last: last && { seq: last.seq, hash: last.hash },
    repair: {
      kind: 'audit',
      action: 'repair',
      outcome: 'torn-line-removed',
      detail: { bytes: torn.length, offset: tornStart, excerpt: torn.subarray(0, EXCERPT).toString('utf8') },
    },
  };
}

const shared = new SharedResources<AuditLog>((audit) => audit.close());

/** One `AuditLog` per file in a process, shared by every user; pair every call with `releaseAuditLog`. */
export function acquireAuditLog(file: string, options: AuditLogOptions = {}): AuditLog {
  return shared.acquire(resolve(file), () => AuditLog.open(file, options));
}

/** Lets go of a share taken with `acquireAuditLog`; the last one closes the file (after `graceMs`, if given). */
export function releaseAuditLog(file: string, graceMs = 0): void {
  shared.release(resolve(file), graceMs);
}
