import { closeSync, openSync, readSync } from 'node:fs';
import { linkProblem, parseRecordLine, type AuditRecord } from './record';

export interface VerifyOptions {
  /**
   * A record's `seq` and `hash` kept somewhere else (a ticket, a SIEM, a printed report). The chain alone cannot show
   * that whole entries were cut from the end of the log, or that the whole log was rewritten from some entry on; an
   * anchor can: the entry with that seq must exist and have that hash.
   */
  anchor?: { seq: number; hash: string };
}

export interface VerifyResult {
  ok: boolean;
  /** Sound, correctly linked entries before the first bad line (all of them when `ok`). */
  entries: number;
  /** The first line that breaks the chain (1-based), and why. */
  firstBad?: { line: number; reason: string };
  /** The last sound entry's seq and hash (to use as a later anchor). */
  head?: { seq: number; hash: string };
}

const CHUNK = 1 << 16;

/** Calls `onLine` with each line of `file` (without its newline) and its number; `complete` is false for a last line
 * with no newline. Stops when `onLine` returns false. Reads in chunks, so the file's size does not matter. */
function eachLine(file: string, onLine: (line: Buffer, lineNo: number, complete: boolean) => boolean): void {
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(CHUNK);
    let pending: Buffer[] = [];
    let lineNo = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, CHUNK, null);
      if (n === 0) break;
      let start = 0;
      for (;;) {
        const nl = buffer.indexOf(0x0a, start);
        if (nl === -1 || nl >= n) break;
        const piece = Buffer.from(buffer.subarray(start, nl));
        const line = pending.length ? Buffer.concat([...pending, piece]) : piece;
        pending = [];
        lineNo += 1;
        if (!onLine(line, lineNo, true)) return;
        start = nl + 1;
      }
      if (start < n) pending.push(Buffer.from(buffer.subarray(start, n)));
    }
    if (pending.length) onLine(Buffer.concat(pending), lineNo + 1, false);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads the whole log and checks every line: that it is a sound record (JSON, hash over its content, exact
 * serialisation) and that it follows the one before (seq one more, prev equal to the previous hash). Reports the
 * first line that fails. Throws when the file cannot be read (ENOENT when it does not exist).
 */
export function verifyAuditLog(file: string, options: VerifyOptions = {}): VerifyResult {
  let previous: AuditRecord | undefined;
  let entries = 0;
  let firstBad: VerifyResult['firstBad'];
  let anchored = false;
  const anchor = options.anchor;
  eachLine(file, (line, lineNo, complete) => {
    if (!complete) {
      firstBad = {
        line: lineNo,
        reason: 'incomplete last line (no newline at the end): the file was truncated or a write was torn',
      };
      return false;
    }
    const parsed = parseRecordLine(line);
    const problem = 'reason' in parsed ? parsed.reason : linkProblem(parsed.record, previous, lineNo);
    if (problem !== undefined || !('record' in parsed)) {
      firstBad = { line: lineNo, reason: problem ?? 'not a record' };
      return false;
    }
    if (anchor && parsed.record.seq === anchor.seq) {
      if (parsed.record.hash !== anchor.hash) {
        firstBad = {
          line: lineNo,
          reason: `entry seq ${anchor.seq} has hash ${parsed.record.hash}, not the anchored ${anchor.hash}: the log was rewritten`,
        };
        return false;
      }
      anchored = true;
    }
    previous = parsed.record;
    entries += 1;
    return true;
  });
  if (!firstBad && anchor && !anchored) {
    firstBad = {
      line: entries + 1,
      reason: `the log ends at seq ${previous?.seq ?? 0}, before the anchored entry seq ${anchor.seq}: entries were removed from the end`,
    };
  }
  const head = previous ? { seq: previous.seq, hash: previous.hash } : undefined;
  return firstBad ? { ok: false, entries, firstBad, head } : { ok: true, entries, head };
}
