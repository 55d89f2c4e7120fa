/**
 * The JSONata plumbing shared by rules and case types: compiling with an error a person can act on, a bounded cache
 * of compiled expressions, and JSONata's own truthiness for condition results.
 */
import jsonata from 'jsonata';
import { errorMessage } from '../alert/messages';
import { memoize, type Evaluator } from './memo';

export type { Evaluator } from './memo';

/** JSONata throws plain objects ({code, position, token, message}); this says what and where in one line. */
export function describeJsonataError(error: unknown): string {
  if (typeof error !== 'object' || error === null) return errorMessage(error);
  const { code, position } = error as { code?: unknown; position?: unknown };
  const where = typeof position === 'number' ? ` at position ${position}` : '';
  const what = typeof code === 'string' ? ` ${code}` : '';
  return `JSONata error${what}${where}: ${errorMessage(error)}`;
}

/**
 * Guardrails for every evaluation: a runaway recursion or an endless loop in an expression fails that one message
 * (JSONata errors D1011 and D1012) instead of hanging Node-RED. The timeout is wall-clock time, generous so that a
 * burst of alerts evaluated side by side does not trip it.
 */
export const EVALUATION_LIMITS = { timeout: 5000, stack: 1000 } as const;

const MAX_CACHED = 500;
const cache = new Map<string, Evaluator>();

/**
 * Compiles an expression, or returns the one compiled before for the same text; its results are remembered when
 * it is a pure function of a few fields (lib/rules/memo.ts). Throws an Error starting with "JSONata syntax error"
 * (and the position) when the text is not valid JSONata.
 */
export function compileExpression(expression: string): Evaluator {
  const cached = cache.get(expression);
  if (cached) return cached;
  let compiled: Evaluator;
  try {
    compiled = memoize(jsonata(expression, { ...EVALUATION_LIMITS }));
  } catch (error) {
    throw new Error(describeJsonataError(error).replace(/^JSONata error/, 'JSONata syntax error'), { cause: error });
  }
  if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
  cache.set(expression, compiled);
  return compiled;
}

/** JSONata's boolean cast ($boolean): empty strings, 0, empty arrays and objects, null and functions are false. */
export function jsonataTruthy(value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.length > 0;
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'function') return false;
  if (Array.isArray(value)) return value.some(jsonataTruthy);
  if (typeof value === 'object') {
    // A JSONata function value (`function($x){...}`) is an object marked as a lambda: false, as $boolean says.
    if ((value as { _jsonata_lambda?: unknown })._jsonata_lambda === true) return false;
    return Object.keys(value).length > 0;
  }
  return false;
}
