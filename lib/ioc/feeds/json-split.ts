/**
 * A JSON text whose top level is an object, read with one of its array members left as text: the members' values
 * and, for that array, where each element lies. A bundle of a million STIX objects parsed whole becomes one object
 * graph of several hundred megabytes that the garbage collector traces again and again while the feed loads; parsed
 * one element at a time, each element is garbage as soon as it has been read (three times faster here).
 *
 * Only the commonest shape takes this path: anything unexpected (not an object, the member missing, twice, or not
 * an array, a syntax error in the skeleton) gives `undefined`, and the caller parses the text whole, which also
 * reports a syntax error as `JSON.parse` words it. An element's own syntax errors surface from `element(i)`.
 */
export interface SplitJson {
  /** The top-level members other than the split one, parsed. */
  readonly fields: Record<string, unknown>;
  /** How many elements the split array holds. */
  readonly count: number;
  /** Element `i`, parsed now (throws a SyntaxError when it is not JSON). */
  element(i: number): unknown;
}

const SPACE = 32;
const TAB = 9;
const LF = 10;
const CR = 13;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/** Reading stops with this when the text is not of the expected shape. */
class NotThisShape extends Error {}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== SPACE && c !== LF && c !== CR && c !== TAB) return i;
    i++;
  }
}

/** The index just past the string starting at `i` (its opening quote). */
function stringEnd(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const close = text.indexOf('"', j);
    if (close === -1) throw new NotThisShape();
    let backslashes = 0;
    for (let k = close - 1; text.charCodeAt(k) === BACKSLASH; k--) backslashes++;
    if (backslashes % 2 === 0) return close + 1;
    j = close + 1;
  }
}

/** The index just past the value starting at `i` (no leading space): a string, object, array or scalar. */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first !== OPEN_BRACE && first !== OPEN_BRACKET) {
    // A number, true, false or null: up to the next delimiter; JSON.parse of the slice checks it.
    let j = i;
    for (;;) {
      const c = text.charCodeAt(j);
      if (c === COMMA || c === CLOSE_BRACE || c === CLOSE_BRACKET || c === SPACE || c === LF || c === CR || c === TAB) {
        break;
      }
      if (j >= text.length) break;
      j++;
    }
    if (j === i) throw new NotThisShape();
    return j;
  }
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text.charCodeAt(j);
    if (c === QUOTE) j = stringEnd(text, j) - 1;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  throw new NotThisShape();
}

/** `text` read as an object whose member `member` is an array left unparsed; undefined for any other shape. */
export function splitJsonArrayMember(text: string, member: string): SplitJson | undefined {
  try {
    return split(text, member);
  } catch (err) {
    if (err instanceof NotThisShape || err instanceof SyntaxError) return undefined;
    throw err;
  }
}

function split(text: string, member: string): SplitJson | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(text, i + 1);
  // The other members' values are parsed at the end, once the text has proved to be of this shape.
  const others: [key: string, start: number, end: number][] = [];
  let starts: Int32Array | undefined;
  let ends: Int32Array | undefined;
  let count = 0;
  if (text.charCodeAt(i) === CLOSE_BRACE) return undefined;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return undefined;
    i = skipSpace(text, i + 1);
    if (key === member) {
      if (starts !== undefined || text.charCodeAt(i) !== OPEN_BRACKET) return undefined;
      // Offsets of up to 2 GiB characters fit an Int32Array; V8 strings are shorter than that.
      starts = new Int32Array(1024);
      ends = new Int32Array(1024);
      i = skipSpace(text, i + 1);
      if (text.charCodeAt(i) === CLOSE_BRACKET) i++;
      else {
        for (;;) {
          const end = valueEnd(text, i);
          if (count === starts.length) {
            starts = grow(starts);
            ends = grow(ends);
          }
          starts[count] = i;
          ends[count] = end;
          count++;
          i = skipSpace(text, end);
          const c = text.charCodeAt(i);
          if (c === CLOSE_BRACKET) {
            i++;
            break;
          }
          if (c !== COMMA) return undefined;
          i = skipSpace(text, i + 1);
        }
      }
    } else {
      const end = valueEnd(text, i);
      others.push([key, i, end]);
      i = end;
    }
    i = skipSpace(text, i);
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACE) break;
    if (c !== COMMA) return undefined;
    i = skipSpace(text, i + 1);
  }
  if (skipSpace(text, i + 1) !== text.length || starts === undefined || ends === undefined) return undefined;
  const fields: Record<string, unknown> = {};
  for (const [key, start, end] of others) fields[key] = JSON.parse(text.slice(start, end));
  const from = starts;
  const to = ends;
  return { fields, count, element: (n) => JSON.parse(text.slice(from[n], to[n])) as unknown };
}

function grow(a: Int32Array): Int32Array {
  const out = new Int32Array(a.length * 2);
  out.set(a);
  return out;
}
