/**
 * Suricata EVE JSON alerts (`event_type: "alert"`). This is the hottest path (a busy sensor emits thousands of
 * alerts a second), so fields are read directly rather than through the generic path reader.
 */
import { AttackCollector } from '../attack';
import { contentRef } from '../id';
import { guessIpObservable, makeObservable, ObservableCollector } from '../observables';
import { isObject, list, num, obj, text, type JsonObject } from '../record';
import { suricataSeverity } from '../severity';
import { eventTime } from '../time';
import type { Alert, Observable } from '../model';
import { describeType } from '../messages';
import { assembleAlert, makeHost, makeRule, type AlertParser } from './parser';

export function detect(record: unknown): record is JsonObject {
  return isObject(record) && record.event_type === 'alert' && isObject(record.alert);
}

export function explain(record: JsonObject): string | undefined {
  const eventType = record.event_type;
  if (typeof eventType !== 'string' || !('flow_id' in record || 'src_ip' in record || 'timestamp' in record)) {
    return undefined;
  }
  if (eventType !== 'alert') {
    return (
      `this Suricata EVE record has event_type "${eventType}", not "alert": only alert records are alerts, so ` +
      'filter the other event types out before sending (or limit the eve-log output to alerts)'
    );
  }
  return `this Suricata EVE alert has no "alert" object (it is ${describeType(record.alert)}), so there is no signature to alert on`;
}

/**
 * `flow_id/signature_id/timestamp`, plus `/pcap_cnt` when present (two alerts of one signature in one flow at the
 * same microsecond differ by packet). The raw timestamp string is used, not the normalised time, so the reference
 * is exactly what the sensor wrote. A record without a timestamp has no identity of its own: its content is used.
 */
export function sourceRef(record: JsonObject): string {
  const timestamp = text(record.timestamp);
  if (timestamp === undefined) return contentRef(record);
  const alert = obj(record.alert);
  const ref = `${text(record.flow_id) ?? ''}/${text(alert?.signature_id) ?? ''}/${timestamp}`;
  const pcapCount = text(record.pcap_cnt);
  return pcapCount === undefined ? ref : `${ref}/${pcapCount}`;
}

// An HTTP Host header as an observable: the attacker controls it, so garbage ("-c", "HTTP/1.1") is dropped.
function httpHostObservable(hostname: unknown): Observable | null {
  return guessIpObservable(hostname, 'related') ?? makeObservable('domain', hostname, 'related');
}

function addHttp(http: JsonObject, observables: ObservableCollector): void {
  const host = httpHostObservable(http.hostname);
  observables.push(host);
  const url = text(http.url);
  if (url === undefined) return;
  if (/^https?:\/\//i.test(url)) {
    // A proxy request carries the absolute URL.
    observables.add('url', url, 'related');
  } else if (host !== null && url.startsWith('/')) {
    const port = num(http.http_port);
    const authority = host.type === 'ipv6' ? `[${host.value}]` : host.value;
    observables.add(
      'url',
      `http://${authority}${port !== undefined && port !== 80 ? `:${port}` : ''}${url}`,
      'related',
    );
  }
}

function addDns(dns: JsonObject, observables: ObservableCollector): void {
  // EVE v1 logs `rrname` at the top of the dns object (or in `query[]` for alerts); EVE v3 (Suricata 8) in `queries[]`.
  observables.add('domain', dns.rrname, 'related');
  for (const key of ['query', 'queries']) {
    for (const q of list(dns[key])) if (isObject(q)) observables.add('domain', q.rrname, 'related');
  }
}

function addFileHashes(file: unknown, observables: ObservableCollector): void {
  if (!isObject(file)) return;
  observables.add('md5', file.md5, 'related');
  observables.add('sha1', file.sha1, 'related');
  observables.add('sha256', file.sha256, 'related');
}

function addSmtp(smtp: JsonObject, observables: ObservableCollector): void {
  observables.add('email', smtp.mail_from, 'related');
  observables.add('email', smtp.rcpt_to, 'related');
}

function attackIds(metadata: JsonObject | undefined): string[] {
  const attack = new AttackCollector();
  if (metadata === undefined) return attack.ids;
  // ET rules tag techniques as metadata arrays of strings. ET writes other metadata values with "_" for
  // separators ("2023_04_17"), so "T1059_001" is read as the sub-technique T1059.001 too.
  for (const value of list(metadata.mitre_technique_id)) {
    attack.add(typeof value === 'string' ? value.replace(/^(T\d{4})_(\d{3})$/i, '$1.$2') : value);
  }
  return attack.ids;
}

export function parse(record: JsonObject, received: string): Alert {
  const alert = record.alert as JsonObject;
  const signatureId = text(alert.signature_id);
  const signature = text(alert.signature);

  const observables = new ObservableCollector();
  // Suricata 7 rules with the `target` keyword say which side is attacked; otherwise the packet's direction is
  // the best there is (source = the side that sent the matching packet).
  const alertSource = obj(alert.source);
  const alertTarget = obj(alert.target);
  observables.addIp(alertSource ? alertSource.ip : record.src_ip, 'source');
  observables.addIp(alertTarget ? alertTarget.ip : record.dest_ip, 'destination');
  const http = obj(record.http);
  if (http) addHttp(http, observables);
  const tls = obj(record.tls);
  if (tls) observables.add('domain', tls.sni, 'related');
  const dns = obj(record.dns);
  if (dns) addDns(dns, observables);
  const smtp = obj(record.smtp);
  if (smtp) addSmtp(smtp, observables);
  addFileHashes(record.fileinfo, observables);
  for (const file of list(record.files)) addFileHashes(file, observables);
  // `host` is the sensor name when eve-log has one configured.
  const sensor = text(record.host);
  if (sensor !== undefined) observables.add('hostname', sensor, 'host');

  return assembleAlert({
    source: 'suricata',
    sourceRef: sourceRef(record),
    time: eventTime(received, record.timestamp),
    received,
    title: signature ?? (signatureId !== undefined ? `Suricata signature ${signatureId}` : 'suricata alert'),
    severity: suricataSeverity(alert.severity),
    rule: makeRule(signatureId, signature, text(alert.category)),
    observables: observables.items,
    attack: attackIds(obj(alert.metadata)),
    host: makeHost(sensor, undefined),
    raw: record,
  });
}

export const suricataParser: AlertParser = {
  source: 'suricata',
  label: 'Suricata EVE',
  expects: 'an EVE JSON record with event_type "alert" and an "alert" object',
  detect,
  sourceRef,
  parse,
  explain,
};
