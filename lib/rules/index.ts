/** Security rules and case types: JSONata conditions over alerts, and how alerts group into cases. No Node-RED imports. */
export {
  adjustSeverity,
  applyOutcome,
  compileRules,
  RULE_MODES,
  RuleEvaluationError,
  SEVERITY_ACTIONS,
  type CompiledRules,
  type CompileOptions,
  type EvaluateOptions,
  type RuleDefinition,
  type RuleMode,
  type RuleOutcome,
  type RuleSummary,
  type SeverityAction,
} from './rules';
export {
  CASE_TYPE_DEFAULTS,
  caseTypeFromConfig,
  defaultGroupingSubject,
  groupingKey,
  type CaseType,
  type CaseTypeConfig,
  type CaseTypeProvider,
} from './case-type';
export {
  compileExpression,
  describeJsonataError,
  EVALUATION_LIMITS,
  jsonataTruthy,
  type Evaluator,
} from './expression';
