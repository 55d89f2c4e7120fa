/**
 * A JSON text whose top level is an object, read with one of its array members handed over element by element. A
 * bundle of a million STIX objects parsed whole becomes one object graph of several hundred megabytes that the
 * garbage collector traces again and again while the feed loads; read a chunk of elements at a time, each element is
 * garbage as soon as it has been used.
 *
 * A chunk is found without scanning every character: from about CHUNK characters ahead, the next `}` followed by `,`
 * or `]` is taken as the end of an element and `JSON.parse('[' + chunk + ']')` checks the guess. The guess can only
 * parse when it is right: a cut inside a string leaves the string open, a cut inside an element leaves a bracket
 * open, and both fail to parse. After a few wrong guesses (a string full of `},`) the elements up to the chunk's end
 * are found exactly, character by character.
 *
 * Only the commonest shape takes this path: anything unexpected (not an object, the member missing, twice, or not
 * an array, a syntax error in the skeleton) gives `undefined` — possibly after some elements were handed over,
 * which the caller then discards — and the caller parses the text whole, which also reports a syntax error as
 * `JSON.parse` words it. An element that is not JSON throws a SyntaxError.
 */

/** About this many characters are parsed at once: large enough to amortise a parse, small enough to die young. */
const CHUNK = 32_768;
/** Wrong guesses of a chunk's end before its elements are found exactly. */
const GUESSES = 4;

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

/**
 * Calls `each` with every element of array member `member` of the object `text`, in order, and returns the object's
 * other members (parsed); undefined when `text` is of another shape.
 */
export function forEachArrayElement(
  text: string,
  member: string,
  each: (element: unknown, index: number) => void,
): Record<string, unknown> | undefined {
  const chunks = arrayChunks(text, member);
  let index = 0;
  for (;;) {
    const step = chunks.next();
    if (step.done) return step.value;
    for (const element of step.value) each(element, index++);
  }
}

/**
 * The elements of array member `member` of the object `text`, a chunk (an array of parsed elements) per step, for
 * a reader that does other work between chunks; the generator's return value is the object's other members
 * (parsed), or undefined when `text` is of another shape.
 */
export function* arrayChunks(
  text: string,
  member: string,
): Generator<unknown[], Record<string, unknown> | undefined, undefined> {
  try {
    return yield* read(text, member);
  } catch (err) {
    if (err instanceof NotThisShape) return undefined;
    throw err;
  }
}

function* read(text: string, member: string): Generator<unknown[], Record<string, unknown> | undefined, undefined> {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return undefined;
  i = skipSpace(text, i + 1);
  // The other members' values are parsed at the end, once the text has proved to be of this shape.
  const others: [key: string, start: number, end: number][] = [];
  let found = false;
  if (text.charCodeAt(i) === CLOSE_BRACE) return undefined;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return undefined;
    const keyEnd = stringEnd(text, i);
    const key = parseSkeleton(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return undefined;
    i = skipSpace(text, i + 1);
    if (key === member) {
      if (found || text.charCodeAt(i) !== OPEN_BRACKET) return undefined;
      found = true;
      i = yield* readElements(text, skipSpace(text, i + 1));
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
  if (skipSpace(text, i + 1) !== text.length || !found) return undefined;
  const fields: Record<string, unknown> = {};
  for (const [key, start, end] of others) fields[key] = parseSkeleton(text.slice(start, end));
  return fields;
}

/** A piece of the skeleton (a key, another member's value): not JSON means not this shape. */
function parseSkeleton(piece: string): unknown {
  try {
    return JSON.parse(piece) as unknown;
  } catch {
    throw new NotThisShape();
  }
}

/** Yields the elements of the array whose first element (or `]`) is at `i`, a chunk at a time; returns the index just past its `]`. */
function* readElements(text: string, i: number): Generator<unknown[], number, undefined> {
  if (text.charCodeAt(i) === CLOSE_BRACKET) return i + 1;
  for (;;) {
    // `i` is the start of an element: parse a run of whole elements, then expect `,` or `]`.
    let chunk = guessedChunk(text, i);
    if (chunk === undefined) {
      const end = exactChunkEnd(text, i);
      chunk = { end, elements: JSON.parse(`[${text.slice(i, end)}]`) as unknown[] };
    }
    yield chunk.elements;
    const next = skipSpace(text, chunk.end);
    if (text.charCodeAt(next) === CLOSE_BRACKET) return next + 1;
    i = skipSpace(text, next + 1);
  }
}

interface Chunk {
  /** Just past the chunk's last element. */
  end: number;
  elements: unknown[];
}

/** A chunk from `start` whose guessed end parsed, or undefined after GUESSES wrong guesses (or near the end). */
function guessedChunk(text: string, start: number): Chunk | undefined {
  let from = start + CHUNK;
  if (from >= text.length) return undefined;
  for (let guess = 0; guess < GUESSES; guess++) {
    const close = text.indexOf('}', from);
    if (close === -1) return undefined;
    from = close + 1;
    const c = text.charCodeAt(skipSpace(text, close + 1));
    if (c !== COMMA && c !== CLOSE_BRACKET) continue;
    try {
      return { end: close + 1, elements: JSON.parse(`[${text.slice(start, close + 1)}]`) as unknown[] };
    } catch {
      // The guess cut an element (a `}` followed by `,` inside it): try the next one.
    }
  }
  return undefined;
}

/**
 * The end of the whole elements from `start` reaching at least CHUNK characters (or the last element), found
 * character by character; each element must be followed by `,` or `]`.
 */
function exactChunkEnd(text: string, start: number): number {
  let i = start;
  for (;;) {
    const end = valueEnd(text, i);
    const next = skipSpace(text, end);
    const c = text.charCodeAt(next);
    if (c === CLOSE_BRACKET || end - start >= CHUNK) {
      if (c !== CLOSE_BRACKET && c !== COMMA) throw new NotThisShape();
      return end;
    }
    if (c !== COMMA) throw new NotThisShape();
    i = skipSpace(text, next + 1);
  }
}
