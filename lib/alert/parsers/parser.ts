/** What every format parser provides, and the small pieces of alert assembly they share. */
import { alertId } from '../id';
import { guessIpObservable } from '../observables';
import type { Alert, AlertHost, AlertRule, AlertSource, Observable } from '../model';
import type { JsonObject } from '../record';

export type ParsedSource = Exclude<AlertSource, 'generic'>;

export interface AlertParser {
  readonly source: ParsedSource;
  /** The format's name in messages ("Suricata EVE"). */
  readonly label: string;
  /** What records of the format look like, for the reason given when a record does not fit. */
  readonly expects: string;
  /** Cheap and unambiguous: true only for alert records of this format that `parse` turns into an alert. */
  detect(record: unknown): record is JsonObject;
  /** The record's own identity at its source; only called on records `detect` accepted. */
  sourceRef(record: JsonObject): string;
  /** Only called on records `detect` accepted; never throws on odd field types. */
  parse(record: JsonObject, received: string): Alert;
  /**
   * Why a record that resembles this format is still not an alert of it (a Suricata flow event, a Wazuh
   * active-response message...), or undefined when it does not resemble it.
   */
  explain?(record: JsonObject): string | undefined;
}

/** Everything of an alert but its id (derived); `host` is always given, undefined when the source did not say. */
export type AlertParts = Omit<Alert, 'id' | 'host'> & { host: AlertHost | undefined };

/** The alert with its id, fields in the documented order, `host` left out when the source did not say. */
export function assembleAlert(parts: AlertParts): Alert {
  const alert: Alert = {
    id: alertId(parts.source, parts.sourceRef),
    source: parts.source,
    sourceRef: parts.sourceRef,
    time: parts.time,
    received: parts.received,
    title: parts.title,
    severity: parts.severity,
    rule: parts.rule,
    observables: parts.observables,
    attack: parts.attack,
    raw: parts.raw,
  };
  if (parts.host !== undefined) alert.host = parts.host;
  return alert;
}

/** A rule with only the fields that are known (no `undefined` values in the JSON). */
export function makeRule(id: string | undefined, name: string | undefined, category: string | undefined): AlertRule {
  const rule: AlertRule = {};
  if (id !== undefined) rule.id = id;
  if (name !== undefined) rule.name = name;
  if (category !== undefined) rule.category = category;
  return rule;
}

function isLoopbackOrUnspecified(ip: string): boolean {
  return ip.startsWith('127.') || ip === '0.0.0.0' || ip === '::1' || ip === '::';
}

/**
 * The reporting host's addresses (one or an array) as canonical `host` observables, without the loopback and
 * unspecified addresses that ECS `host.ip` lists alongside the real ones.
 */
export function hostIpObservables(ips: unknown): Observable[] {
  const out: Observable[] = [];
  for (const candidate of Array.isArray(ips) ? ips : [ips]) {
    const o = guessIpObservable(candidate, 'host');
    if (o !== null && !isLoopbackOrUnspecified(o.value)) out.push(o);
  }
  return out;
}

/** The reporting host (`ip` canonical), or undefined when neither its name nor an address is known. */
export function makeHost(name: string | undefined, ip: string | undefined): AlertHost | undefined {
  if (name === undefined && ip === undefined) return undefined;
  const host: AlertHost = {};
  if (name !== undefined) host.name = name;
  if (ip !== undefined) host.ip = ip;
  return host;
}
