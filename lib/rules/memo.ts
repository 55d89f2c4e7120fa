/**
 * Remembers the results of JSONata expressions that are pure functions of a few fields of their input.
 *
 * Rules and grouping keys are evaluated on every alert, and alerts repeat: the same signature fires thousands of
 * times with the same title, category and ATT&CK ids. JSONata's evaluator is asynchronous at every step (about
 * 10 µs and 12 KB of garbage per evaluation of a short condition); looking up the answer for fields already seen
 * costs a JSON text of those fields and a Map lookup.
 *
 * `readsOf` proves from the expression's syntax tree which parts of the input it can read: the values at the root
 * paths it starts from (`title`, `rule.category`, the whole `observables` array for `observables[role="source"]`)
 * and the variables it is given (`$tags`). It gives up (no memo) on anything whose result could depend on more:
 * the whole input (`$`, `$$`, `*` or `**` at the root, `%`), an impure function (`$now`, `$millis`, `$random`,
 * `$shuffle`, `$eval`), or a construct it does not follow (lambdas, bindings, `~>`, sorting, grouping, `@`, `#`,
 * transforms). Only primitive results are kept (never an object a caller could change), errors never; the memo is
 * keyed by the JSON text of what the expression reads, so it assumes its input is JSON data (as alerts are).
 */
import type jsonata from 'jsonata';

/** Entries kept for all expressions together (the oldest go first). */
export const MAX_MEMO_ENTRIES = 20_000;
/** A key longer than this (a large field read whole) is not kept: the lookup would cost as much as the evaluation. */
export const MAX_MEMO_KEY_LENGTH = 1_024;
/**
 * An expression whose keys were too long this many times in a row stops building them: it reads a large field
 * whole (`$exists(raw)`), and its JSON text would be made on every alert for nothing.
 */
export const MEMO_GIVE_UP_AFTER = 100;

/** What an expression reads: root paths (lists of field names) and variables. */
export interface Reads {
  paths: string[][];
  variables: string[];
}

/** JSONata's built-in functions whose result depends only on their arguments. */
const PURE_FUNCTIONS = new Set([
  'sum', 'count', 'max', 'min', 'average', 'string', 'substring', 'substringBefore', 'substringAfter', 'lowercase',
  'uppercase', 'length', 'trim', 'pad', 'match', 'contains', 'replace', 'split', 'join', 'formatNumber', 'formatBase',
  'formatInteger', 'parseInteger', 'number', 'floor', 'ceil', 'round', 'abs', 'sqrt', 'power', 'boolean', 'not',
  'map', 'zip', 'filter', 'single', 'reduce', 'sift', 'keys', 'lookup', 'append', 'exists', 'spread', 'merge',
  'reverse', 'each', 'error', 'assert', 'type', 'sort', 'distinct', 'base64encode', 'base64decode',
  'encodeUrlComponent', 'encodeUrl', 'decodeUrlComponent', 'decodeUrl', 'toMillis', 'fromMillis', 'clone',
]); // prettier-ignore
/**
 * The built-ins that take the context as their first argument when a call leaves it out (a `-` in their JSONata
 * signature): how many parameters they have, and whether the first accepts any type (then one argument always fills
 * it). At the root, a shorter call may read the whole input (`$contains("x")`, `$substring(1, 2)`).
 */
export const CONTEXT_DEFAULTS: Readonly<Record<string, readonly [params: number, anyFirst: boolean]>> = {
  string: [2, true], substring: [3, false], substringBefore: [2, false], substringAfter: [2, false],
  lowercase: [1, false], uppercase: [1, false], length: [1, false], trim: [1, false], pad: [3, false],
  match: [3, false], contains: [2, false], replace: [4, false], split: [3, false], formatNumber: [3, false],
  formatBase: [2, false], formatInteger: [2, false], parseInteger: [2, false], number: [1, false], floor: [1, false],
  ceil: [1, false], round: [2, false], abs: [1, false], sqrt: [1, false], power: [2, false], boolean: [1, true],
  not: [1, true], sift: [2, false], keys: [1, true], lookup: [2, true], spread: [1, true], each: [2, false],
  base64encode: [1, false], base64decode: [1, false], encodeUrlComponent: [1, false], encodeUrl: [1, false],
  decodeUrlComponent: [1, false], decodeUrl: [1, false], toMillis: [2, false], fromMillis: [3, false],
  clone: [1, false],
}; // prettier-ignore

/** Built-ins whose result varies from call to call: an expression that names one is never remembered. */
const IMPURE_FUNCTIONS = new Set(['now', 'millis', 'random', 'shuffle', 'eval']);

/** The syntax-tree properties `readsOf` knows; a node with any other is a construct it does not follow. */
const KNOWN_PROPERTIES = new Set([
  'type', 'value', 'position', 'steps', 'stages', 'predicate', 'expr', 'lhs', 'rhs', 'expression', 'expressions',
  'condition', 'then', 'else', 'arguments', 'procedure', 'keepArray', 'keepSingletonArray', 'consarray', 'name',
]); // prettier-ignore

class NotPure extends Error {}

type Node = jsonata.ExprNode & Record<string, unknown>;

/** The parts of the input an expression reads, or undefined when its result may depend on more than those. */
export function readsOf(ast: jsonata.ExprNode): Reads | undefined {
  const paths = new Map<string, string[]>();
  const variables = new Set<string>();

  const known = (node: Node) => {
    for (const key of Object.keys(node)) if (!KNOWN_PROPERTIES.has(key)) throw new NotPure(key);
  };

  const visit = (node: Node | undefined, atRoot: boolean): void => {
    if (node === undefined || node === null) return;
    known(node);
    switch (node.type as string) {
      case 'string':
      case 'number':
      case 'value':
      case 'regex':
        return;
      case 'path':
        return visitPath(node, atRoot);
      case 'name':
        if (atRoot) paths.set(String(node.value), [String(node.value)]);
        return visitStages(node);
      case 'wildcard':
      case 'descendant':
        if (atRoot) throw new NotPure(node.type);
        return visitStages(node);
      case 'variable':
        visitVariable(String(node.value), atRoot);
        return visitStages(node);
      case 'binary':
        visit(node.lhs as Node, atRoot);
        return visit(node.rhs as Node, atRoot);
      case 'unary':
        if (node.value === '-') return visit(node.expression as Node, atRoot);
        if (node.value === '[') return (node.expressions as Node[]).forEach((e) => visit(e, atRoot));
        if (node.value === '{') {
          for (const pair of node.lhs as unknown as Node[][]) pair.forEach((e) => visit(e, atRoot));
          return;
        }
        throw new NotPure(`unary ${String(node.value)}`);
      case 'condition':
        visit(node.condition as Node, atRoot);
        visit(node.then as Node, atRoot);
        return visit(node.else as Node, atRoot);
      case 'block':
        (node.expressions as Node[]).forEach((e) => visit(e, atRoot));
        return visitStages(node);
      case 'function': {
        const procedure = node.procedure as Node | undefined;
        const name = String(procedure?.value);
        if (procedure?.type !== 'variable' || !PURE_FUNCTIONS.has(name)) throw new NotPure('function');
        const args = node.arguments as Node[];
        const takesContext = CONTEXT_DEFAULTS[name];
        if (atRoot && takesContext && args.length < takesContext[0] && !(takesContext[1] && args.length > 0)) {
          throw new NotPure(`$${name} with the input as its first argument`);
        }
        args.forEach((e) => visit(e, atRoot));
        return visitStages(node);
      }
      default:
        throw new NotPure(String(node.type));
    }
  };

  // Filters and predicates see the items of their step: parts of what the step read.
  const visitStages = (node: Node) => {
    for (const stage of [...((node.stages as Node[]) ?? []), ...((node.predicate as Node[]) ?? [])]) {
      if ((stage.type as string) !== 'filter') throw new NotPure(String(stage.type));
      known(stage);
      visit(stage.expr as Node, false);
    }
  };

  const visitVariable = (name: string, atRoot: boolean) => {
    if (name === '$') throw new NotPure('$$'); // the root, from anywhere
    if (name === '') {
      if (atRoot) throw new NotPure('$'); // the whole input
      return; // an item of a step: part of what the step read
    }
    if (IMPURE_FUNCTIONS.has(name)) throw new NotPure(name);
    if (!PURE_FUNCTIONS.has(name)) variables.add(name); // a binding the caller gives (or absent)
  };

  // A root path reads the value at its leading field names, down to the first step that filters or maps (its
  // later steps, filters and predicates only see parts of that value).
  const visitPath = (node: Node, atRoot: boolean) => {
    const steps = node.steps as Node[];
    let rest = 0;
    if (atRoot && steps[0]?.type === 'name') {
      const names: string[] = [];
      for (const step of steps) {
        if (step.type !== 'name') break;
        names.push(String(step.value));
        rest += 1;
        if (step.stages || step.predicate) break;
      }
      paths.set(names.join('\u0000'), names);
    }
    steps.forEach((step, i) => {
      if (i < rest) {
        known(step);
        return visitStages(step);
      }
      // The first step of a path that does not start with a name is evaluated in the path's own context.
      visit(step, atRoot && i === 0);
    });
  };

  try {
    visit(ast as Node, true);
  } catch (err) {
    if (err instanceof NotPure) return undefined;
    throw err;
  }
  return { paths: withoutCovered([...paths.values()]), variables: [...variables].sort() };
}

/** Drops a path that a shorter one covers (`rule` reads all of `rule.id`). */
function withoutCovered(paths: string[][]): string[][] {
  const sorted = paths.sort((a, b) => a.length - b.length);
  return sorted.filter(
    (path, i) => !sorted.slice(0, i).some((shorter) => shorter.every((name, k) => path[k] === name)),
  );
}

/** The value an expression reads at a root path: stops at the first non-object (an array is read whole). */
function valueAt(input: unknown, path: readonly string[]): unknown {
  let value = input;
  for (const name of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) break;
    value = (value as Record<string, unknown>)[name];
  }
  return value;
}

const memo = new Map<string, unknown>();
let serial = 0;
let hits = 0;

/** How often an evaluation was answered from the memo, and how many results it holds (for tests and benches). */
export function memoStats(): { hits: number; entries: number } {
  return { hits, entries: memo.size };
}

/** A compiled expression as rules and case types use it. */
export interface Evaluator {
  evaluate(input: unknown, bindings?: Record<string, unknown>): Promise<unknown>;
  /** Whether results are remembered (`readsOf` proved the expression pure, and its keys are not all too long). */
  readonly memoized: boolean;
}

/**
 * The expression's `evaluate`, answering from the memo when it has seen the same values at the paths the expression
 * reads; an expression `readsOf` cannot prove pure is evaluated every time.
 */
export function memoize(expression: jsonata.Expression): Evaluator {
  const reads = readsOf(expression.ast());
  if (!reads) return { evaluate: (input, bindings) => expression.evaluate(input, bindings), memoized: false };
  const id = `${++serial}\u0001`;
  let tooLong = 0;

  const keyOf = (input: unknown, bindings: Record<string, unknown> | undefined): string | undefined => {
    if (tooLong >= MEMO_GIVE_UP_AFTER) return undefined;
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return undefined;
    let key = id;
    try {
      for (const path of reads.paths) {
        const value = valueAt(input, path);
        if (typeof value === 'function') return undefined;
        key += value === undefined ? '\u0002' : JSON.stringify(value);
        key += '\u0001';
      }
      for (const name of reads.variables) {
        const value = bindings?.[name];
        key += value === undefined ? '\u0002' : JSON.stringify(value);
        key += '\u0001';
      }
    } catch {
      return undefined; // not JSON (a cycle, a BigInt): evaluated every time
    }
    if (key.length > MAX_MEMO_KEY_LENGTH) {
      tooLong += 1;
      return undefined;
    }
    tooLong = 0;
    return key;
  };

  const evaluate = async (input: unknown, bindings?: Record<string, unknown>): Promise<unknown> => {
    const key = keyOf(input, bindings);
    if (key !== undefined && memo.has(key)) {
      hits += 1;
      return memo.get(key);
    }
    const result: unknown = await expression.evaluate(input, bindings);
    if (key !== undefined && (result === null || typeof result !== 'object') && typeof result !== 'function') {
      if (memo.size >= MAX_MEMO_ENTRIES) memo.delete(memo.keys().next().value as string);
      memo.set(key, result);
    }
    return result;
  };
  return {
    evaluate,
    get memoized() {
      return tooLong < MEMO_GIVE_UP_AFTER;
    },
  };
}
