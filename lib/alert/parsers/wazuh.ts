/**
 * Wazuh alerts in both generations:
 * - 4.x `alerts.json` (what integrations and the alerts log carry): `rule.{level,id,description,groups,mitre.id}`,
 *   `agent`, `manager`, `data.{srcip,dstip,srcuser,dstuser}`, `syscheck`, `id`, `timestamp`;
 * - 5.x ECS-based findings: `wazuh.rule.{id,title,level,mitre.technique.id,mitre.subtechnique.id}`,
 *   `wazuh.agent`, ECS `source`, `user`, `host`, `file`, `process`, `@timestamp`.
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { ObservableCollector } from '../observables';
import { firstText, getPath, isObject, list, obj, text, type JsonObject } from '../record';
import { wazuhSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert } from '../model';
import { addEcsObservables, addEcsThreat } from './ecs';
import { assembleAlert, hostIpObservables, makeHost, makeRule, type AlertParser } from './parser';

function isWazuh4(record: JsonObject): boolean {
  const rule = obj(record.rule);
  return rule !== undefined && 'level' in rule && (isObject(record.agent) || isObject(record.manager));
}

function isWazuh5(record: JsonObject): boolean {
  return isObject(getPath(record, 'wazuh.rule')) || getPath(record, 'wazuh.rule.id') !== undefined;
}

export function detect(record: unknown): record is JsonObject {
  return isObject(record) && (isWazuh4(record) || isWazuh5(record));
}

export function explain(record: JsonObject): string | undefined {
  const parameters = obj(record.parameters);
  if (parameters === undefined || !isObject(parameters.alert)) return undefined;
  if (record.command === undefined && obj(record.origin)?.module !== 'wazuh-analysisd') return undefined;
  const command = text(record.command);
  return (
    `this is a Wazuh active-response message${command ? ` (command "${command}")` : ''} for wazuh-execd, not an ` +
    'alert: it is Wazuh already acting on an alert. Send the alerts themselves (an integration, or alerts.json ' +
    'forwarded line by line)'
  );
}

/**
 * 4.x: the alert `id` (`<epoch>.<offset>`, unique per manager). 5.x: the indexer document `_id`, else `event.id`,
 * else `event.doc_id`. Without any of them, the record's content.
 */
export function sourceRef(record: JsonObject): string {
  const ref = isWazuh4(record)
    ? firstText(record.id, record._id)
    : firstText(record._id, getPath(record, 'event.id'), getPath(record, 'event.doc_id'));
  return ref ?? contentRef(record);
}

function parseWazuh4(record: JsonObject, received: string): Alert {
  const rule = obj(record.rule) ?? {};
  const ruleId = text(rule.id);
  const description = text(rule.description);
  // Groups run from general to specific ("syslog", "sshd", "authentication_failures"): the last is the category.
  const groups = list(rule.groups).filter((g): g is string => typeof g === 'string' && g.trim() !== '');

  const observables = new ObservableCollector();
  const data = obj(record.data);
  if (data) {
    observables.addIp(data.srcip, 'source');
    observables.addIp(data.dstip, 'destination');
    observables.add('user', data.srcuser, 'actor');
    observables.add('user', data.dstuser, 'target');
    observables.add('url', data.url, 'related');
    // Windows event channel alerts put the interesting parts here.
    const eventData = obj(getPath(data, 'win.eventdata'));
    if (eventData) {
      observables.addIp(eventData.ipAddress, 'source');
      observables.add('user', eventData.subjectUserName, 'actor');
      observables.add('user', eventData.targetUserName, 'target');
    }
  }
  const syscheck = obj(record.syscheck);
  if (syscheck) {
    observables.add('file', syscheck.path, 'related');
    observables.add('md5', syscheck.md5_after, 'related');
    observables.add('sha1', syscheck.sha1_after, 'related');
    observables.add('sha256', syscheck.sha256_after, 'related');
  }
  // The agent is the reporting host; agent 000 is the manager itself.
  const agent = obj(record.agent);
  const hostName = firstText(agent?.name, obj(record.manager)?.name);
  const agentIps = hostIpObservables(agent?.ip);
  observables.add('hostname', hostName, 'host');
  observables.pushAll(agentIps);

  const attack = new AttackCollector();
  attack.add(getPath(rule, 'mitre.id'));

  return assembleAlert({
    source: 'wazuh',
    sourceRef: sourceRef(record),
    time: eventTime(received, record.timestamp, record['@timestamp']),
    received,
    title: description ?? (ruleId !== undefined ? `Wazuh rule ${ruleId}` : 'wazuh alert'),
    severity: wazuhSeverity(rule.level),
    rule: makeRule(ruleId, description, groups[groups.length - 1]?.trim()),
    observables: observables.items,
    attack: attack.ids,
    host: makeHost(hostName, agentIps[0]?.value),
    raw: record,
  });
}

function parseWazuh5(record: JsonObject, received: string): Alert {
  const ruleId = text(getPath(record, 'wazuh.rule.id'));
  const ruleTitle = text(getPath(record, 'wazuh.rule.title'));

  const observables = new ObservableCollector();
  addEcsObservables(record, observables);
  // ECS `host` is where the event happened; without it, the agent's host that collected it.
  let hostName = firstText(getPath(record, 'host.name'), getPath(record, 'host.hostname'));
  let rawHostIps = getPath(record, 'host.ip');
  if (hostName === undefined && rawHostIps === undefined) {
    hostName = firstText(getPath(record, 'wazuh.agent.host.hostname'), getPath(record, 'wazuh.agent.name'));
    rawHostIps = getPath(record, 'wazuh.agent.host.ip');
  }
  const hostIps = hostIpObservables(rawHostIps);
  observables.add('hostname', hostName, 'host');
  observables.pushAll(hostIps);

  const attack = new AttackCollector();
  attack.add(getPath(record, 'wazuh.rule.mitre.technique.id'));
  attack.add(getPath(record, 'wazuh.rule.mitre.subtechnique.id'));
  addEcsThreat(record, 'threat', attack);

  return assembleAlert({
    source: 'wazuh',
    sourceRef: sourceRef(record),
    time: eventTime(received, getPath(record, '@timestamp')),
    received,
    title: ruleTitle ?? firstText(getPath(record, 'message')) ?? (ruleId ? `Wazuh rule ${ruleId}` : 'wazuh alert'),
    severity: wazuhSeverity(getPath(record, 'wazuh.rule.level')),
    // The integration's category ("Security", "System Activity") is Wazuh's own classification of the finding.
    rule: makeRule(ruleId, ruleTitle, text(getPath(record, 'wazuh.integration.category'))),
    observables: observables.items,
    attack: attack.ids,
    host: makeHost(hostName, hostIps[0]?.value),
    raw: record,
  });
}

export function parse(record: JsonObject, received: string): Alert {
  return isWazuh4(record) ? parseWazuh4(record, received) : parseWazuh5(record, received);
}

export const wazuhParser: AlertParser = {
  source: 'wazuh',
  label: 'Wazuh',
  expects: 'a Wazuh 4.x alert (rule.level with agent or manager) or a Wazuh 5.x finding (wazuh.rule)',
  detect,
  sourceRef,
  parse,
  explain,
};
