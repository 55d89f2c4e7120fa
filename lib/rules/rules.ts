/**
 * Security rules (DESIGN.md section 1, "security rule model"): an ordered list of JSONata conditions over the
 * alert, each with actions (case type, severity, ATT&CK ids, tags, drop). `compileRules` checks and compiles a list
 * once; `evaluate` runs it against one alert and says what matched and what changes, without touching the alert.
 */
import { ATTACK_ID_PATTERN } from '../alert/attack';
import { SEVERITIES, type Alert, type Severity } from '../alert/model';
import { compileExpression, describeJsonataError, jsonataTruthy, type Evaluator } from './expression';

/** `first`: the first matching rule applies and the rest are skipped; `all`: every matching rule applies in order. */
export const RULE_MODES = ['first', 'all'] as const;
export type RuleMode = (typeof RULE_MODES)[number];

/**
 * `set` makes the severity the given level; `raise` lifts it to at least that level (never lowers it); `lower`
 * brings it down to at most that level (never raises it).
 */
export const SEVERITY_ACTIONS = ['set', 'raise', 'lower'] as const;
export type SeverityAction = (typeof SEVERITY_ACTIONS)[number];

/** One rule as the `soar-rule` node stores it. Lists may also be given as comma-separated text. */
export interface RuleDefinition {
  /** Shown as the output label and reported in `msg.rules`; default `rule <n>`. */
  name?: string;
  /** JSONata over the alert; the rule matches when the result is truthy by JSONata's rules ($boolean). */
  condition: string;
  /** The id of a `soar-case-type` config node; empty for none. */
  caseType?: string;
  /** Empty (or absent) leaves the severity alone. */
  severityAction?: SeverityAction | '';
  severity?: Severity | '';
  /** ATT&CK technique ids to add (`T1110`, `T1059.001`); case does not matter. */
  attack?: readonly string[] | string;
  /** Tags to add. */
  tags?: readonly string[] | string;
  /** Drop the alert: it leaves by no output. */
  drop?: boolean;
}

export interface CompileOptions {
  /** Default `first`. */
  mode?: RuleMode;
}

export interface EvaluateOptions {
  /** Tags the alert already has (e.g. `msg.tags`): conditions see them, with the ones rules add, as `$tags`. */
  tags?: readonly string[];
}

/** What a rule list made of one alert. */
export interface RuleOutcome {
  /** Indexes of the rules that matched, in order (the output ports of `soar-rule`). */
  matched: number[];
  /** Their names. */
  names: string[];
  /** The new severity, when a rule changed it. */
  severity?: Severity;
  /** The alert's full list of ATT&CK ids, when a rule added one. */
  attack?: string[];
  /** Tags the rules added that were not among the alert's tags already; possibly empty. */
  tags: string[];
  /** The case type (config node id) set by the last matching rule that sets one. */
  caseType?: string;
  /** A matching rule drops the alert. */
  drop: boolean;
}

/** A rule after checking, as the node needs it (output labels, case type references). */
export interface RuleSummary {
  index: number;
  name: string;
  caseType?: string;
}

export interface CompiledRules {
  readonly mode: RuleMode;
  readonly rules: readonly RuleSummary[];
  /** Rejects with a `RuleEvaluationError` when a condition fails (JSONata runtime error). */
  evaluate(alert: Alert, options?: EvaluateOptions): Promise<RuleOutcome>;
}

/** A condition failed on an alert; the message names the rule. */
export class RuleEvaluationError extends Error {
  constructor(
    readonly ruleIndex: number,
    readonly ruleName: string,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(`rule "${ruleName}" (rule ${ruleIndex + 1}): the condition failed on this alert: ${detail}`, options);
    this.name = 'RuleEvaluationError';
  }
}

interface CompiledRule extends RuleSummary {
  condition: Evaluator;
  severityAction?: SeverityAction;
  severity?: Severity;
  attack: string[];
  tags: string[];
  drop: boolean;
}

const rank = (severity: unknown): number => SEVERITIES.indexOf(severity as Severity);

/** The severity after a rule's severity action. An unknown current severity is replaced by the level. */
export function adjustSeverity(current: Severity | undefined, action: SeverityAction, level: Severity): Severity {
  const now = rank(current);
  if (now < 0 || action === 'set') return level;
  if (action === 'raise') return now < rank(level) ? level : current!;
  return now > rank(level) ? level : current!;
}

/** Comma-separated text or a list → trimmed, non-empty strings. */
function listOf(value: readonly string[] | string | undefined, what: string, rule: string): string[] {
  if (value === undefined || value === null || value === '') return [];
  const items = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(items)) throw new Error(`${rule}: ${what} must be a list of strings`);
  return items
    .map((item) => {
      if (typeof item !== 'string')
        throw new Error(`${rule}: ${what} must be a list of strings, not ${JSON.stringify(item)}`);
      return item.trim();
    })
    .filter((item) => item !== '');
}

function addUnique(into: string[], items: readonly string[]): void {
  for (const item of items) if (!into.includes(item)) into.push(item);
}

function compileRule(definition: RuleDefinition, index: number): CompiledRule {
  if (typeof definition !== 'object' || definition === null) {
    throw new Error(`rule ${index + 1} is not an object with a name, a condition and actions`);
  }
  const name =
    typeof definition.name === 'string' && definition.name.trim() ? definition.name.trim() : `rule ${index + 1}`;
  const label = `rule "${name}" (rule ${index + 1})`;

  // Compiled as written, so that error positions point into the text the user sees.
  const source = typeof definition.condition === 'string' ? definition.condition : '';
  if (!source.trim())
    throw new Error(`${label} has no condition: write a JSONata expression over the alert (true matches every alert)`);
  let condition: Evaluator;
  try {
    condition = compileExpression(source);
  } catch (error) {
    throw new Error(`${label}: the condition has a ${(error as Error).message}`, { cause: error });
  }

  let severityAction: SeverityAction | undefined;
  let severity: Severity | undefined;
  if (definition.severityAction) {
    if (!(SEVERITY_ACTIONS as readonly string[]).includes(definition.severityAction)) {
      throw new Error(
        `${label}: unknown severity action ${JSON.stringify(definition.severityAction)}: use ${SEVERITY_ACTIONS.join(', ')} or none`,
      );
    }
    if (!(SEVERITIES as readonly string[]).includes(definition.severity ?? '')) {
      throw new Error(
        `${label}: "${definition.severityAction} severity" needs a level, one of ${SEVERITIES.join(', ')}, not ${JSON.stringify(definition.severity ?? '')}`,
      );
    }
    severityAction = definition.severityAction;
    severity = definition.severity as Severity;
  }

  const attack: string[] = [];
  for (const id of listOf(definition.attack, 'ATT&CK ids', label)) {
    const canonical = id.toUpperCase();
    if (!ATTACK_ID_PATTERN.test(canonical)) {
      throw new Error(
        `${label}: ${JSON.stringify(id)} is not an ATT&CK technique id: write T followed by 4 digits, with an optional sub-technique (T1110, T1059.001)`,
      );
    }
    addUnique(attack, [canonical]);
  }
  const tags: string[] = [];
  addUnique(tags, listOf(definition.tags, 'tags', label));

  const caseType =
    typeof definition.caseType === 'string' && definition.caseType.trim() ? definition.caseType.trim() : undefined;
  return {
    index,
    name,
    caseType,
    condition,
    severityAction,
    severity,
    attack,
    tags,
    drop: definition.drop === true || (definition.drop as unknown) === 'true',
  };
}

/**
 * Checks and compiles a rule list once, for many alerts. Throws an Error naming the rule for a JSONata syntax error,
 * an invalid ATT&CK id, an unknown severity or action, or an unknown mode.
 */
export function compileRules(definitions: readonly RuleDefinition[], options: CompileOptions = {}): CompiledRules {
  const mode = options.mode ?? 'first';
  if (!(RULE_MODES as readonly string[]).includes(mode)) {
    throw new Error(`unknown rule mode ${JSON.stringify(mode)}: use first (stop at the first match) or all`);
  }
  if (!Array.isArray(definitions)) throw new Error('the rules must be a list');
  const rules = definitions.map(compileRule);

  async function evaluate(alert: Alert, evaluateOptions: EvaluateOptions = {}): Promise<RuleOutcome> {
    const knownTags = [...(evaluateOptions.tags ?? [])];
    const outcome: RuleOutcome = { matched: [], names: [], tags: [], drop: false };
    const originalAttack = Array.isArray(alert.attack) ? alert.attack : [];
    let severity = alert.severity;
    let attack: string[] = originalAttack;
    // The alert as the rules so far left it: in `all` mode a later condition sees the earlier changes.
    let current: Alert = alert;

    for (const rule of rules) {
      let result: unknown;
      try {
        result = await rule.condition.evaluate(current, { tags: knownTags });
      } catch (error) {
        throw new RuleEvaluationError(rule.index, rule.name, describeJsonataError(error), { cause: error });
      }
      if (!jsonataTruthy(result)) continue;

      outcome.matched.push(rule.index);
      outcome.names.push(rule.name);
      if (rule.drop) {
        outcome.drop = true;
        break;
      }
      if (rule.caseType) outcome.caseType = rule.caseType;
      if (rule.severityAction) severity = adjustSeverity(severity, rule.severityAction, rule.severity!);
      if (rule.attack.some((id) => !attack.includes(id))) {
        attack = [...attack];
        addUnique(attack, rule.attack);
      }
      for (const tag of rule.tags) {
        if (!knownTags.includes(tag)) {
          knownTags.push(tag);
          outcome.tags.push(tag);
        }
      }
      if (mode === 'first') break;
      if (severity !== current.severity || attack !== current.attack) current = { ...current, severity, attack };
    }

    if (severity !== alert.severity) outcome.severity = severity;
    if (attack !== originalAttack) outcome.attack = attack;
    return outcome;
  }

  return {
    mode,
    rules: rules.map(({ index, name, caseType }) => ({ index, name, caseType })),
    evaluate,
  };
}

/** The alert with the outcome's changes (severity, ATT&CK ids) applied: a new object; the input is not modified. */
export function applyOutcome(alert: Alert, outcome: RuleOutcome): Alert {
  if (outcome.severity === undefined && outcome.attack === undefined) return alert;
  return {
    ...alert,
    ...(outcome.severity !== undefined && { severity: outcome.severity }),
    ...(outcome.attack !== undefined && { attack: outcome.attack }),
  };
}
