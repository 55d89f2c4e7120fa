/** The alert normalisation engine: vendor records in, Alerts (DESIGN.md section 2) out. No Node-RED imports. */
export * from './model';
export { alertId, contentRef } from './id';
export { ATTACK_ID_PATTERN } from './attack';
export { toIsoTime } from './time';
export {
  dedupeObservables,
  guessIpObservable,
  hashObservable,
  hostOrIpObservable,
  makeObservable,
} from './observables';
export {
  elasticSeverity,
  ocsfSeverity,
  riskScoreSeverity,
  sentinelSeverity,
  severityFromAny,
  splunkSeverity,
  suricataSeverity,
  wazuhSeverity,
} from './severity';
export {
  detectFormat,
  identify,
  normalize,
  type AlertIdentity,
  type NormalizeOptions,
  type NormalizeResult,
} from './normalize';
export { compileGenericMapping, DEFAULT_GENERIC_MAPPING, type GenericMapping } from './generic';
export { ALERT_SCHEMA, validateAlert, type AlertValidation } from './schema';
