import contentType from 'content-type';
import sjson from 'secure-json-parse';

/**
 * Turns a request body into alert records, judged one by one: a broken NDJSON line or a non-object array item is
 * reported with its index and a reason, and never costs the good records around it.
 */

export type BodyKind = 'json' | 'ndjson';

export interface BodyRecord {
  /** Position in the body: the array index, or the 0-based line number for NDJSON. */
  index: number;
  record: Record<string, unknown>;
  /** The record as JSON text (the original line for NDJSON). */
  text: string;
}

export interface BodyError {
  index: number;
  error: string;
}

export interface ParsedBody {
  records: BodyRecord[];
  errors: BodyError[];
  /** Set when the body holds more than `MAX_RECORDS` records: nothing of it is taken. */
  tooMany?: string;
}

/** Most records one request may carry: bigger batches are refused whole (413) rather than stall the runtime. */
export const MAX_RECORDS = 10_000;

const NDJSON_TYPES = new Set([
  'application/x-ndjson',
  'application/ndjson',
  'application/jsonl',
  'application/x-jsonlines',
  'application/jsonlines',
]);

/** Nesting deeper than this is refused: real alerts are shallow, and deep input is a stack-exhaustion attack. */
export const MAX_DEPTH = 64;

export type BodyKindResult = { ok: true; kind: BodyKind } | { ok: false; error: string };

export function bodyKind(header: string | undefined): BodyKindResult {
  if (!header) return { ok: false, error: 'missing Content-Type: send application/json or application/x-ndjson' };
  let parsed: contentType.ParsedMediaType;
  try {
    parsed = contentType.parse(header);
  } catch {
    return { ok: false, error: `malformed Content-Type "${header}"` };
  }
  const charset = parsed.parameters.charset?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    return { ok: false, error: `unsupported charset "${charset}": send UTF-8` };
  }
  if (parsed.type === 'application/json' || parsed.type.endsWith('+json')) return { ok: true, kind: 'json' };
  if (NDJSON_TYPES.has(parsed.type)) return { ok: true, kind: 'ndjson' };
  return {
    ok: false,
    error: `unsupported Content-Type "${parsed.type}": send application/json (an alert or an array) or application/x-ndjson`,
  };
}

const PARSE_OPTIONS = { protoAction: 'remove', constructorAction: 'remove' } as const;

function parseJson(text: string): unknown {
  return sjson.parse(text, undefined, PARSE_OPTIONS);
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/** Depth of the deepest object or array, stopping early once `limit` is passed. */
function tooDeep(value: unknown, limit: number): boolean {
  if (limit < 0) return true;
  if (value === null || typeof value !== 'object') return false;
  const children = Array.isArray(value) ? value : Object.values(value as object);
  for (const child of children) {
    if (child !== null && typeof child === 'object' && tooDeep(child, limit - 1)) return true;
  }
  return false;
}

/** Whether `text` has fewer `{` and `[` than `limit`, in which case nothing in it can nest deeper. */
function fewOpenings(text: string, limit: number): boolean {
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1 && count < limit; i = text.indexOf('{', i + 1)) count++;
  for (let i = text.indexOf('['); i !== -1 && count < limit; i = text.indexOf('[', i + 1)) count++;
  return count < limit;
}

/** Why `value` cannot be an alert record, or null when it can. */
function recordProblem(value: unknown, text: string | undefined): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `expected a JSON object (an alert record), got ${describe(value)}`;
  }
  if (Object.keys(value).length === 0) return 'empty object: an alert record needs fields';
  // Walking the value is the exact check; counting brackets first skips it for the usual shallow record.
  if (!(text !== undefined && fewOpenings(text, MAX_DEPTH)) && tooDeep(value, MAX_DEPTH)) {
    return `nested deeper than ${MAX_DEPTH} levels`;
  }
  return null;
}

const BLANK = /^\s*$/;

/**
 * The records of a body. NDJSON is decoded line by line straight from the buffer: decoding a large body into one
 * string first costs more than parsing it.
 */
export function parseBody(raw: Buffer, kind: BodyKind): ParsedBody {
  const records: BodyRecord[] = [];
  const errors: BodyError[] = [];
  const take = (index: number, value: unknown, original: string | undefined) => {
    const problem = recordProblem(value, original);
    if (problem) errors.push({ index, error: problem });
    else records.push({ index, record: value as Record<string, unknown>, text: original ?? JSON.stringify(value) });
  };

  const tooMany = `more than ${MAX_RECORDS} records in one request: split the batch`;
  if (kind === 'ndjson') {
    for (let start = 0, index = 0; start < raw.length; index++) {
      if (records.length + errors.length >= MAX_RECORDS) return { records: [], errors: [], tooMany };
      let end = raw.indexOf(10, start);
      if (end === -1) end = raw.length;
      const line = raw.toString('utf8', start, end);
      start = end + 1;
      if (BLANK.test(line)) continue;
      let value: unknown;
      try {
        value = parseJson(line);
      } catch (err) {
        errors.push({ index, error: `line ${index + 1} is not valid JSON: ${reason(err)}` });
        continue;
      }
      take(index, value, line.trim());
    }
    if (records.length === 0 && errors.length === 0) errors.push({ index: 0, error: 'empty body: no alert records' });
    return { records, errors };
  }

  const text = raw.toString('utf8');
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (err) {
    return { records, errors: [{ index: 0, error: `body is not valid JSON: ${reason(err)}` }] };
  }
  if (Array.isArray(value)) {
    if (value.length > MAX_RECORDS) return { records: [], errors: [], tooMany };
    if (value.length === 0) errors.push({ index: 0, error: 'empty array: no alert records' });
    value.forEach((item, i) => take(i, item, undefined));
  } else {
    take(0, value, text);
  }
  return { records, errors };
}
