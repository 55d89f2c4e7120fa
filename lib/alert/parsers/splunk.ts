/**
 * Splunk "Webhook" alert action: `{sid, search_name, app, owner, results_link, result}`, where `result` is the
 * first result row of the triggering search (all values strings, multivalue fields arrays). Observables come from
 * Common Information Model field names when the search produces them.
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { guessIpObservable, ObservableCollector } from '../observables';
import { firstText, isObject, obj, text, type JsonObject } from '../record';
import { splunkSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert, AlertHost } from '../model';
import { assembleAlert, makeRule, type AlertParser } from './parser';

export function detect(record: unknown): record is JsonObject {
  return (
    isObject(record) &&
    typeof record.sid === 'string' &&
    typeof record.search_name === 'string' &&
    (isObject(record.result) || typeof record.results_link === 'string')
  );
}

/**
 * `sid` plus the result's identity: its `_cd` (index bucket and offset, unique per event) when the search returns
 * raw events, else a digest of the result row. The sid alone is not enough: a real-time alert keeps one sid for
 * every trigger.
 */
export function sourceRef(record: JsonObject): string {
  const sid = record.sid as string;
  const result = obj(record.result);
  if (result === undefined || Object.keys(result).length === 0) return sid;
  return `${sid}/${text(result._cd) ?? contentRef(result)}`;
}

function hostOf(value: unknown): AlertHost | undefined {
  const ip = guessIpObservable(value, 'host');
  if (ip) return { ip: ip.value };
  const name = text(value);
  return name === undefined ? undefined : { name };
}

function observablesOf(result: JsonObject): ObservableCollector {
  const observables = new ObservableCollector();
  observables.addHostOrIp(result.src_ip ?? result.src, 'source');
  observables.addHostOrIp(result.dest_ip ?? result.dest, 'destination');
  observables.add('user', result.src_user, 'actor');
  observables.add('user', result.user, 'actor');
  observables.add('user', result.dest_user, 'target');
  observables.add('url', result.url, 'related');
  observables.add('domain', result.query, 'related');
  observables.add('email', result.sender, 'related');
  observables.add('email', result.recipient, 'related');
  observables.addHash(result.file_hash, 'related');
  observables.add('file', result.file_path ?? result.file_name, 'related');
  observables.add('process', result.process_name ?? result.process, 'related');
  observables.addHostOrIp(result.host, 'host');
  return observables;
}

// Splunk ES correlation searches annotate results with ATT&CK ids (`annotations.mitre_attack`).
function attackOf(result: JsonObject): string[] {
  const attack = new AttackCollector();
  attack.add(result['annotations.mitre_attack']);
  attack.add(result.mitre_technique_id);
  return attack.ids;
}

export function parse(record: JsonObject, received: string): Alert {
  const searchName = text(record.search_name);
  const result = obj(record.result) ?? {};
  return assembleAlert({
    source: 'splunk',
    sourceRef: sourceRef(record),
    time: eventTime(received, result._time),
    received,
    title: searchName ?? 'splunk alert',
    severity: splunkSeverity(result),
    // The saved search is the rule; its name is its identity within the app.
    rule: makeRule(searchName, searchName, undefined),
    observables: observablesOf(result).items,
    attack: attackOf(result),
    host: hostOf(firstText(result.host)),
    raw: record,
  });
}

export const splunkParser: AlertParser = {
  source: 'splunk',
  label: 'Splunk webhook',
  expects: 'a Splunk webhook alert-action body (sid, search_name and result)',
  detect,
  sourceRef,
  parse,
};
