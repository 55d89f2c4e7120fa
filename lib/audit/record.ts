import { createHash } from 'node:crypto';
import { canonicalJson, toJsonValue } from './canonical';

/**
 * The audit record and its line format; see lib/audit/index.ts for the description of the log.
 */

/** What a caller records. */
export interface AuditEntry {
  /** What happened: `action` (a response action's outcome), `approval` (a decision), `audit` (the log itself), … */
  kind: string;
  /** Who: a user name, or the playbook/node that acted. */
  actor?: string;
  caseId?: string;
  /** The action's name, e.g. `block-ip`. */
  action?: string;
  /** What the action was applied to, e.g. an address. */
  target?: string;
  /** The device (or device id) that carried it out. */
  device?: string;
  /** e.g. `success`, `failed`, `approved`, `denied`. */
  outcome?: string;
  /** Anything else, stored as JSON (a comment, an error message, the device's answer, …). */
  detail?: unknown;
}

/** What the log holds: the entry, numbered, timed and chained. */
export interface AuditRecord extends AuditEntry {
  /** 1, 2, 3, … without gaps. */
  seq: number;
  /** When it was appended, ISO 8601 UTC with milliseconds. */
  at: string;
  /** `hash` of the previous record, or `GENESIS` for the first. */
  prev: string;
  /** Hex SHA-256 of the canonical JSON of the record without `hash`. */
  hash: string;
}

/** The `prev` of the first record. */
export const GENESIS = '0'.repeat(64);

/** The optional string fields of an entry, in the order they are written. */
const STRING_FIELDS = ['actor', 'caseId', 'action', 'target', 'device', 'outcome'] as const;

/** The members a line starts with, in this order; any others follow sorted, and `hash` comes last. */
const LEADING = ['seq', 'at', 'prev', 'kind', ...STRING_FIELDS, 'detail'];

const HEX64 = /^[0-9a-f]{64}$/;
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Hex SHA-256 of the canonical JSON of `record` without its `hash` member. */
export function recordHash(record: Omit<AuditRecord, 'hash'> | Record<string, unknown>): string {
  const { hash: _hash, ...rest } = record as Record<string, unknown>;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

/**
 * The record as one line of the log, without the newline: a JSON object whose members come in a fixed order (seq,
 * at, prev, kind, actor, caseId, action, target, device, outcome, detail, then any other member sorted, then hash),
 * each value in canonical JSON. Deterministic, so the verifier can insist that a line is exactly this text.
 */
export function recordLine(record: AuditRecord | Record<string, unknown>): string {
  const members = record as Record<string, unknown>;
  const rest = Object.keys(members)
    .filter((key) => key !== 'hash' && !LEADING.includes(key))
    .sort();
  const parts: string[] = [];
  for (const key of [...LEADING, ...rest, 'hash']) {
    if (members[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(members[key])}`);
  }
  return `{${parts.join(',')}}`;
}

/** Builds the record that follows `prev` (or starts the log when `prev` is undefined). Throws on a malformed entry. */
export function nextRecord(entry: AuditEntry, prev: { seq: number; hash: string } | undefined, at: Date): AuditRecord {
  if (typeof entry !== 'object' || entry === null) throw new TypeError('an audit entry is an object');
  if (typeof entry.kind !== 'string' || entry.kind === '') throw new TypeError('an audit entry needs a kind');
  const record: Record<string, unknown> = {
    seq: prev ? prev.seq + 1 : 1,
    at: at.toISOString(),
    prev: prev ? prev.hash : GENESIS,
    kind: entry.kind,
  };
  for (const field of STRING_FIELDS) {
    const value = entry[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new TypeError(`the audit entry's ${field} must be a string`);
    record[field] = value;
  }
  const detail = toJsonValue(entry.detail);
  if (detail !== undefined) record.detail = detail;
  record.hash = recordHash(record);
  return record as unknown as AuditRecord;
}

/**
 * Checks one line (without its newline) on its own: JSON, the members' types, the hash, and that the line is
 * exactly the record's serialisation. Returns the record, or the reason it is not a sound one. Linking to the
 * previous record (seq, prev) is the caller's business.
 */
export function parseRecordLine(line: Buffer | string): { record: AuditRecord } | { reason: string } {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  if (text === '') return { reason: 'empty line' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { reason: 'not valid JSON (the line was edited or is corrupt)' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { reason: 'not a JSON object' };
  }
  const record = value as Record<string, unknown>;
  const { seq, at, prev, kind, hash } = record;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) return { reason: 'seq is missing or invalid' };
  if (typeof at !== 'string' || !ISO_UTC.test(at)) return { reason: 'at is missing or not an ISO 8601 UTC time' };
  if (typeof prev !== 'string' || !HEX64.test(prev)) return { reason: 'prev is missing or not a hex SHA-256' };
  if (typeof hash !== 'string' || !HEX64.test(hash)) return { reason: 'hash is missing or not a hex SHA-256' };
  if (typeof kind !== 'string' || kind === '') return { reason: 'kind is missing or empty' };
  for (const field of STRING_FIELDS) {
    if (record[field] !== undefined && typeof record[field] !== 'string') return { reason: `${field} is not a string` };
  }
  if (recordHash(record) !== hash) return { reason: "hash does not match the entry's content (the entry was edited)" };
  const bytes = typeof line === 'string' ? Buffer.from(line, 'utf8') : line;
  if (!Buffer.from(recordLine(record), 'utf8').equals(bytes)) {
    return { reason: "the line's text differs from the serialisation of its content (the line was edited)" };
  }
  return { record: record as unknown as AuditRecord };
}

/** Why `record` cannot follow `previous` (undefined: it is the first), or undefined when it links correctly. */
export function linkProblem(record: AuditRecord, previous: AuditRecord | undefined, line: number): string | undefined {
  const expected = previous ? previous.seq + 1 : 1;
  if (record.seq > expected) {
    return `seq ${record.seq} where ${expected} was expected: an entry before this line is missing, or the order changed`;
  }
  if (record.seq < expected) {
    return `seq ${record.seq} where ${expected} was expected: the entry is repeated, inserted or out of order`;
  }
  if (!previous) {
    if (record.prev !== GENESIS) return 'prev of the first entry is not 64 zeros: entries before it were removed';
  } else if (record.prev !== previous.hash) {
    return `prev does not match the hash of line ${line - 1} (an entry was inserted, replaced or rewritten)`;
  }
  return undefined;
}
