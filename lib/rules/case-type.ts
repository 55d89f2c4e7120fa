/**
 * Case types (DESIGN.md section 1): alerts of one case type share a response, a grouping key, a time window, a
 * default severity and an SLA. The `soar-case-type` config node holds one; `soar-rule` assigns it to alerts
 * (`msg.caseType`); the case node groups alerts into cases with `groupingKey`.
 */
import type { Alert, Severity } from '../alert/model';
import { SEVERITIES } from '../alert/model';
import { describeType } from '../alert/messages';
import { compileExpression, describeJsonataError } from './expression';

export interface CaseType {
  /** The config node's id. */
  id: string;
  name: string;
  /** JSONata over the alert that yields the grouping key; empty for the default key (see `defaultGroupingSubject`). */
  keyExpression: string;
  /** How long a case keeps collecting alerts with the same key, in minutes. */
  windowMinutes: number;
  /** The severity a new case of this type starts with. */
  severity: Severity;
  /** Minutes within which a case of this type should be responded to. */
  slaMinutes: number;
}

/** The config node's shape with everything optional and numbers possibly as text (as the editor stores them). */
export interface CaseTypeConfig {
  id: string;
  name?: string;
  keyExpression?: string;
  windowMinutes?: number | string;
  severity?: string;
  slaMinutes?: number | string;
}

/** What a `soar-case-type` config node offers to the nodes that use it. */
export interface CaseTypeProvider {
  /** The case type as a plain object (a fresh copy); throws when the config node is misconfigured. */
  caseType(): CaseType;
}

export const CASE_TYPE_DEFAULTS = {
  keyExpression: '',
  windowMinutes: 1440,
  severity: 'medium',
  slaMinutes: 60,
} as const satisfies Omit<CaseType, 'id' | 'name'>;

function positiveMinutes(value: number | string | undefined, fallback: number, what: string): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0) {
    throw new Error(`the ${what} must be a number of minutes above 0, not ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * A validated case type from a config node's settings: defaults filled in, numbers parsed, the key expression
 * compiled (so a syntax error shows when the flow is deployed). Throws an Error that says what to fix.
 */
export function caseTypeFromConfig(config: CaseTypeConfig): CaseType {
  const name = typeof config.name === 'string' ? config.name.trim() : '';
  if (!name) throw new Error('the case type needs a name: it names the cases and prefixes their grouping keys');
  // Kept as written (only blank becomes empty), so that error positions point into the text the user sees.
  const keyExpression =
    typeof config.keyExpression === 'string' && config.keyExpression.trim() ? config.keyExpression : '';
  if (keyExpression) {
    try {
      compileExpression(keyExpression);
    } catch (error) {
      throw new Error(`the grouping key expression has a ${(error as Error).message}`, { cause: error });
    }
  }
  const severity =
    config.severity === undefined || config.severity === '' ? CASE_TYPE_DEFAULTS.severity : config.severity;
  if (!(SEVERITIES as readonly string[]).includes(severity)) {
    throw new Error(`the default severity ${JSON.stringify(severity)} is not one of ${SEVERITIES.join(', ')}`);
  }
  return {
    id: config.id,
    name,
    keyExpression,
    windowMinutes: positiveMinutes(config.windowMinutes, CASE_TYPE_DEFAULTS.windowMinutes, 'window'),
    severity: severity as Severity,
    slaMinutes: positiveMinutes(config.slaMinutes, CASE_TYPE_DEFAULTS.slaMinutes, 'SLA'),
  };
}

/**
 * What the default grouping key groups by: the alert's primary source address (the first observable with role
 * `source` of type ipv4 or ipv6), else its host's name, else its host's IP, else its rule id, else (nothing to
 * group by) the alert's own id.
 */
export function defaultGroupingSubject(alert: Alert): string {
  const observables = Array.isArray(alert.observables) ? alert.observables : [];
  const source = observables.find(
    (o) => o?.role === 'source' && (o.type === 'ipv4' || o.type === 'ipv6') && typeof o.value === 'string',
  );
  if (source) return source.value;
  if (alert.host?.name) return alert.host.name;
  if (alert.host?.ip) return alert.host.ip;
  if (alert.rule?.id) return alert.rule.id;
  return alert.id;
}

function resultHint(result: unknown): string {
  if (result === undefined) {
    return ': the fields it reads are absent from this alert (give a fallback with ??, or leave the expression empty for the default key)';
  }
  if (Array.isArray(result)) return ': pick one value with [0] or join them with $join(..., ",")';
  return '';
}

/**
 * The key that groups alerts of this case type into one case: `<case type name>:<subject>`, where the subject is
 * the key expression's result (a non-empty string or a number) or, with no expression, `defaultGroupingSubject`.
 * Throws an Error naming the case type when the expression fails or yields anything else.
 */
export async function groupingKey(caseType: CaseType, alert: Alert): Promise<string> {
  const prefix = caseType.name || caseType.id;
  const expression = caseType.keyExpression;
  if (typeof expression !== 'string' || !expression.trim()) return `${prefix}:${defaultGroupingSubject(alert)}`;
  let compiled;
  try {
    compiled = compileExpression(expression);
  } catch (error) {
    throw new Error(`case type "${prefix}": the grouping key expression has a ${(error as Error).message}`, {
      cause: error,
    });
  }
  let result: unknown;
  try {
    result = await compiled.evaluate(alert);
  } catch (error) {
    throw new Error(
      `case type "${prefix}": the grouping key expression failed on alert ${alert.id}: ${describeJsonataError(error)}`,
      { cause: error },
    );
  }
  if (typeof result === 'string' && result !== '') return `${prefix}:${result}`;
  if (typeof result === 'number' && Number.isFinite(result)) return `${prefix}:${result}`;
  const got = result === '' ? 'an empty string' : typeof result === 'number' ? String(result) : describeType(result);
  throw new Error(
    `case type "${prefix}": the grouping key expression must produce a non-empty string or a number, but it produced ${got} for alert ${alert.id}${resultHint(result)}`,
  );
}
