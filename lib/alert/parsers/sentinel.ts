/**
 * Microsoft Sentinel objects as the Azure REST API (and automation rules / Logic Apps passing them on) returns
 * them: an incident (`Microsoft.SecurityInsights/incidents`, `properties.title`, `incidentNumber`...) or a single
 * SecurityAlert entity (`kind: "SecurityAlert"`, `properties.systemAlertId`).
 *
 * A list response (`{"value": [...]}`, e.g. the incident-alerts API) is not one alert: it is rejected with a reason
 * asking for its entries to be sent as separate records, each of which is then an alert of its own.
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { hostOrIpObservable } from '../observables';
import { firstText, isObject, list, obj, text, type JsonObject } from '../record';
import { sentinelSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert, Observable } from '../model';
import { assembleAlert, makeRule, type AlertParser } from './parser';

function isSecurityAlert(properties: JsonObject): boolean {
  return typeof properties.systemAlertId === 'string';
}

function isIncident(record: JsonObject, properties: JsonObject): boolean {
  return (
    (typeof record.type === 'string' && record.type.toLowerCase() === 'microsoft.securityinsights/incidents') ||
    (properties.incidentNumber !== undefined && typeof properties.title === 'string')
  );
}

export function detect(record: unknown): record is JsonObject {
  if (!isObject(record)) return false;
  const properties = obj(record.properties);
  return properties !== undefined && (isSecurityAlert(properties) || isIncident(record, properties));
}

export function explain(record: JsonObject): string | undefined {
  if (!Array.isArray(record.value) || !record.value.some((entry) => isObject(entry) && isObject(entry.properties))) {
    return undefined;
  }
  const count = record.value.length;
  return (
    `this is a Sentinel list response with ${count} ${count === 1 ? 'entry' : 'entries'} in "value", not one ` +
    'alert: send each entry of value[] as its own record (the alert intake accepts a JSON array)'
  );
}

// The last segment of an ARM resource id ("/subscriptions/.../incidents/<guid>" → "<guid>").
function lastSegment(resourceId: unknown): string | undefined {
  const id = text(resourceId);
  return id === undefined ? undefined : text(id.slice(id.lastIndexOf('/') + 1));
}

/**
 * A SecurityAlert: `properties.systemAlertId`. An incident: its `name` (a GUID, also the last segment of `id`),
 * else `properties.incidentNumber` (unique within a workspace only).
 */
export function sourceRef(record: JsonObject): string {
  const properties = obj(record.properties) ?? {};
  if (isSecurityAlert(properties)) return properties.systemAlertId as string;
  return firstText(record.name, lastSegment(record.id), properties.incidentNumber) ?? contentRef(record);
}

function attackOf(properties: JsonObject): string[] {
  const attack = new AttackCollector();
  const additional = obj(properties.additionalData);
  // Tactics are names ("InitialAccess"), not technique ids; newer API versions add technique ids.
  attack.add(properties.techniques);
  attack.add(properties.subTechniques);
  attack.add(additional?.techniques);
  attack.add(additional?.subTechniques);
  return attack.ids;
}

function parseIncident(record: JsonObject, properties: JsonObject, received: string): Alert {
  const incidentNumber = text(properties.incidentNumber);
  return assembleAlert({
    source: 'sentinel',
    sourceRef: sourceRef(record),
    time: eventTime(received, properties.firstActivityTimeUtc, properties.createdTimeUtc),
    received,
    title:
      text(properties.title) ??
      (incidentNumber !== undefined ? `Sentinel incident ${incidentNumber}` : 'sentinel alert'),
    severity: sentinelSeverity(properties.severity),
    // The analytic rule that created the incident (the first, when several did), by its rule GUID.
    rule: makeRule(lastSegment(list(properties.relatedAnalyticRuleIds)[0]), undefined, undefined),
    // The incident object itself names no entities (they come from a separate API call).
    observables: [],
    attack: attackOf(properties),
    host: undefined,
    raw: record,
  });
}

function parseSecurityAlert(record: JsonObject, properties: JsonObject, received: string): Alert {
  const displayName = firstText(properties.alertDisplayName, properties.friendlyName);
  // The compromised entity is usually the attacked machine; a user principal name does not parse as a host.
  const entity: Observable | null = hostOrIpObservable(properties.compromisedEntity, 'target');
  return assembleAlert({
    source: 'sentinel',
    sourceRef: sourceRef(record),
    time: eventTime(received, properties.startTimeUtc, properties.timeGenerated),
    received,
    title: displayName ?? firstText(properties.alertType) ?? 'sentinel alert',
    severity: sentinelSeverity(properties.severity),
    rule: makeRule(text(properties.alertType), displayName, text(properties.productName)),
    observables: entity ? [entity] : [],
    attack: attackOf(properties),
    host: undefined,
    raw: record,
  });
}

export function parse(record: JsonObject, received: string): Alert {
  const properties = obj(record.properties) ?? {};
  return isSecurityAlert(properties)
    ? parseSecurityAlert(record, properties, received)
    : parseIncident(record, properties, received);
}

export const sentinelParser: AlertParser = {
  source: 'sentinel',
  label: 'Sentinel incident',
  expects: 'a Microsoft Sentinel incident or SecurityAlert object as the Azure REST API returns it (with properties)',
  detect,
  sourceRef,
  parse,
  explain,
};
