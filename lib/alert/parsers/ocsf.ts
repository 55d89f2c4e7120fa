/**
 * OCSF findings: the Findings category, class_uid 2xxx (Detection Finding 2004 above all; Security Finding 2001
 * of OCSF 1.0 with its `finding` object instead of `finding_info`). Events of the other categories (system,
 * network, IAM activity...) describe what happened, not that something is wrong, and are not alerts.
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { guessIpObservable, hashObservable, makeObservable, ObservableCollector } from '../observables';
import { firstText, isObject, list, num, obj, text, type JsonObject } from '../record';
import { ocsfSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert, Observable, ObservableRole } from '../model';
import { assembleAlert, hostIpObservables, makeHost, makeRule, type AlertParser } from './parser';

function isFindingClass(classUid: number | undefined): boolean {
  return classUid !== undefined && classUid >= 2000 && classUid < 3000;
}

export function detect(record: unknown): record is JsonObject {
  return isObject(record) && isObject(record.metadata) && isFindingClass(num(record.class_uid));
}

export function explain(record: JsonObject): string | undefined {
  const classUid = num(record.class_uid);
  if (classUid === undefined || !isObject(record.metadata)) return undefined;
  const name = text(record.class_name);
  return (
    `this OCSF record is class ${classUid}${name ? ` (${name})` : ''}, not a finding: ` +
    'only the Findings category (class_uid 2xxx, such as Detection Finding 2004) is read as alerts; map other ' +
    'classes with a generic JSONata mapping'
  );
}

function findingOf(record: JsonObject): JsonObject | undefined {
  return obj(record.finding_info) ?? obj(record.finding);
}

/** `finding_info.uid` (OCSF 1.0: `finding.uid`), else `metadata.uid`, else the record's content. */
export function sourceRef(record: JsonObject): string {
  return firstText(findingOf(record)?.uid, obj(record.metadata)?.uid) ?? contentRef(record);
}

// OCSF observable type_id → our type (the value-bearing types; object types such as Endpoint carry no value).
function observableFromOcsf(typeId: number | undefined, value: unknown, role: ObservableRole): Observable | null {
  switch (typeId) {
    case 1:
      return makeObservable('hostname', value, role);
    case 2:
      return guessIpObservable(value, role);
    case 4:
      return makeObservable('user', value, role);
    case 5:
      return makeObservable('email', value, role);
    case 6:
      return makeObservable('url', value, role);
    case 7:
      return makeObservable('file', value, role);
    case 8:
      return hashObservable(value, role);
    case 9:
      return makeObservable('process', value, role);
    case 12:
      return makeObservable('cidr', value, role);
    default:
      return null;
  }
}

// An observable's `name` points at the attribute it came from ("src_endpoint.ip"), which says its role.
function roleOfAttribute(name: string | undefined): ObservableRole {
  if (name === undefined) return 'related';
  if (name.startsWith('src_endpoint.')) return 'source';
  if (name.startsWith('dst_endpoint.')) return 'destination';
  if (name.startsWith('device.')) return 'host';
  if (name.startsWith('actor.user.')) return 'actor';
  if (name.startsWith('user.')) return 'target';
  return 'related';
}

function addEndpoint(endpoint: unknown, role: ObservableRole, observables: ObservableCollector): void {
  if (!isObject(endpoint)) return;
  observables.addIp(endpoint.ip, role);
  observables.add('hostname', endpoint.hostname, role);
  observables.add('domain', endpoint.domain, role);
}

function addFile(file: unknown, observables: ObservableCollector): void {
  if (!isObject(file)) return;
  observables.add('file', firstText(file.path, file.name), 'related');
  for (const fingerprint of list(file.hashes))
    if (isObject(fingerprint)) observables.addHash(fingerprint.value, 'related');
}

function addProcess(process: unknown, observables: ObservableCollector): void {
  if (!isObject(process)) return;
  observables.add('process', process.name, 'related');
  addFile(process.file, observables);
}

// The entity objects of a finding, at the top level or inside each of its `evidences[]`.
function addEntities(source: JsonObject, observables: ObservableCollector): void {
  addEndpoint(source.src_endpoint, 'source', observables);
  addEndpoint(source.dst_endpoint, 'destination', observables);
  const actor = obj(source.actor);
  if (actor) {
    const user = obj(actor.user);
    if (user) {
      observables.add('user', user.name, 'actor');
      observables.add('email', user.email_addr, 'actor');
    }
    addProcess(actor.process, observables);
  }
  const user = obj(source.user);
  if (user) {
    observables.add('user', user.name, 'target');
    observables.add('email', user.email_addr, 'target');
  }
  addProcess(source.process, observables);
  addFile(source.file, observables);
  observables.add('url', obj(source.url)?.url_string, 'related');
  observables.add('domain', obj(source.query)?.hostname, 'related');
}

function addAttacks(attacks: unknown, attack: AttackCollector): void {
  for (const a of list(attacks)) {
    if (!isObject(a)) continue;
    attack.add(obj(a.technique)?.uid);
    attack.add(obj(a.sub_technique)?.uid);
  }
}

export function parse(record: JsonObject, received: string): Alert {
  const finding = findingOf(record);
  const analytic = obj(finding?.analytic);
  const title = firstText(finding?.title);

  const observables = new ObservableCollector();
  addEntities(record, observables);
  for (const evidence of list(record.evidences)) if (isObject(evidence)) addEntities(evidence, observables);
  // Affected resources rarely carry network identities (a cloud resource is an ARN), but when they do, keep them.
  for (const resource of list(record.resources)) {
    if (!isObject(resource)) continue;
    observables.addIp(resource.ip, 'related');
    observables.add('hostname', resource.hostname, 'related');
  }
  for (const o of list(record.observables)) {
    if (!isObject(o)) continue;
    observables.push(observableFromOcsf(num(o.type_id), o.value, roleOfAttribute(text(o.name))));
  }
  const device = obj(record.device);
  const hostName = firstText(device?.hostname, device?.name);
  const deviceIps = hostIpObservables(device?.ip);
  observables.add('hostname', hostName, 'host');
  observables.pushAll(deviceIps);

  const attack = new AttackCollector();
  addAttacks(record.attacks, attack);
  addAttacks(finding?.attacks, attack);

  return assembleAlert({
    source: 'ocsf',
    sourceRef: sourceRef(record),
    time: eventTime(received, record.time, record.time_dt, finding?.created_time, finding?.created_time_dt),
    received,
    title: title ?? firstText(record.message, record.class_name) ?? 'ocsf alert',
    severity: ocsfSeverity(record.severity_id, record.severity),
    // The analytic that fired, else the product's own check id (`metadata.event_code`, e.g. a Prowler check).
    rule: makeRule(
      firstText(analytic?.uid, obj(record.metadata)?.event_code),
      firstText(analytic?.name) ?? title,
      firstText(analytic?.category, list(finding?.types)[0], record.class_name),
    ),
    observables: observables.items,
    attack: attack.ids,
    host: makeHost(hostName, deviceIps[0]?.value),
    raw: record,
  });
}

export const ocsfParser: AlertParser = {
  source: 'ocsf',
  label: 'OCSF finding',
  expects: 'an OCSF finding (class_uid 2000–2999 with a metadata object), such as a Detection Finding',
  detect,
  sourceRef,
  parse,
  explain,
};
