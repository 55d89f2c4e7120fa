/**
 * Elastic Security alerts: the alert document (ECS plus `kibana.alert.*`, usually flattened dotted keys beside
 * nested ECS objects, as `{{context.alerts}}` in a Kibana webhook connector expands), legacy 7.x signals
 * (`signal.*`), plain ECS documents with `event.kind` "alert" or "signal", and any of these wrapped as an
 * Elasticsearch search hit (`{_id, _index, _source}`).
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { ObservableCollector } from '../observables';
import { firstText, getPath, isObject, obj, type JsonObject } from '../record';
import { elasticSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert } from '../model';
import { addEcsObservables, addEcsThreat } from './ecs';
import { assembleAlert, hostIpObservables, makeHost, makeRule, type AlertParser } from './parser';

// The alert document itself: the `_source` of a search hit, or the record.
function documentOf(record: JsonObject): JsonObject {
  return obj(record._source) ?? record;
}

function isElasticAlert(doc: JsonObject): boolean {
  if (getPath(doc, 'kibana.alert.uuid') !== undefined || getPath(doc, 'kibana.alert.rule.name') !== undefined) {
    return true;
  }
  if (isObject(getPath(doc, 'signal.rule')) || getPath(doc, 'signal.rule.id') !== undefined) return true;
  const kind = getPath(doc, 'event.kind');
  return getPath(doc, 'ecs.version') !== undefined && (kind === 'alert' || kind === 'signal');
}

export function detect(record: unknown): record is JsonObject {
  return isObject(record) && isElasticAlert(documentOf(record));
}

/** `kibana.alert.uuid`, else the search hit's `_id` (which is the legacy signal's id), else ECS `event.id`. */
export function sourceRef(record: JsonObject): string {
  const doc = documentOf(record);
  return firstText(getPath(doc, 'kibana.alert.uuid'), record._id, getPath(doc, 'event.id')) ?? contentRef(record);
}

export function parse(record: JsonObject, received: string): Alert {
  const doc = documentOf(record);
  const ruleName = firstText(getPath(doc, 'kibana.alert.rule.name'), getPath(doc, 'signal.rule.name'));
  const ecsRuleName = firstText(getPath(doc, 'rule.name'));

  const observables = new ObservableCollector();
  addEcsObservables(doc, observables);
  const hostName = firstText(getPath(doc, 'host.name'), getPath(doc, 'host.hostname'));
  const hostIps = hostIpObservables(getPath(doc, 'host.ip'));
  observables.add('hostname', hostName, 'host');
  observables.pushAll(hostIps);

  const attack = new AttackCollector();
  addEcsThreat(doc, 'threat', attack);
  addEcsThreat(doc, 'kibana.alert.rule.threat', attack);
  addEcsThreat(doc, 'signal.rule.threat', attack);

  return assembleAlert({
    source: 'elastic',
    sourceRef: sourceRef(record),
    // The alert's @timestamp is when the rule ran; original_time is when the event happened.
    time: eventTime(
      received,
      getPath(doc, 'kibana.alert.original_time'),
      getPath(doc, 'signal.original_time'),
      getPath(doc, '@timestamp'),
    ),
    received,
    title: ruleName ?? ecsRuleName ?? firstText(getPath(doc, 'message')) ?? 'elastic alert',
    severity: elasticSeverity(
      getPath(doc, 'kibana.alert.severity') ?? getPath(doc, 'signal.rule.severity'),
      getPath(doc, 'event.severity'),
      getPath(doc, 'kibana.alert.risk_score') ?? getPath(doc, 'signal.rule.risk_score'),
    ),
    // The detection rule that raised the alert; `rule_id` is stable across Kibana spaces and clusters, `uuid` is
    // the saved object's id. A plain ECS alert names its rule in ECS `rule.*`.
    rule: makeRule(
      firstText(
        getPath(doc, 'kibana.alert.rule.rule_id'),
        getPath(doc, 'kibana.alert.rule.uuid'),
        getPath(doc, 'signal.rule.rule_id'),
        getPath(doc, 'signal.rule.id'),
        getPath(doc, 'rule.id'),
      ),
      ruleName ?? ecsRuleName,
      firstText(getPath(doc, 'kibana.alert.rule.category'), getPath(doc, 'rule.category')),
    ),
    observables: observables.items,
    attack: attack.ids,
    host: makeHost(hostName, hostIps[0]?.value),
    raw: record,
  });
}

export const elasticParser: AlertParser = {
  source: 'elastic',
  label: 'Elastic Security',
  expects: 'an Elastic Security alert document (kibana.alert.* or signal.* fields, or ECS with event.kind "alert")',
  detect,
  sourceRef,
  parse,
};
