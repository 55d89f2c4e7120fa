/**
 * Alerts from any JSON source through a user-written JSONata mapping (https://jsonata.org). The expression is
 * evaluated against the record and must produce an object with some of:
 *
 *   title        string
 *   severity     one of info/low/medium/high/critical, a synonym or a number (see severityFromAny); else medium
 *   sourceRef    the record's identity; default: its `id`, `uuid`, `_id` or `event_id`, else a digest of the record
 *   time         ISO 8601 or epoch seconds/milliseconds; default: when it was received
 *   rule         { id, name, category }
 *   observables  [{ type, value, role }]: type is an observable type, or `ip` (IPv4 or IPv6, detected) or `hash`
 *                (MD5/SHA-1/SHA-256 by length); role defaults to `related`. Values that are missing or invalid are
 *                dropped (the alert is still produced); an unknown type or role is an error in the mapping.
 *   attack       ATT&CK technique ids, a string or an array
 *   host         { name, ip }
 */
import jsonata from 'jsonata';
import { AttackCollector } from './attack';
import { contentRef } from './id';
import { OBSERVABLE_ROLES, OBSERVABLE_TYPES, type Alert, type ObservableRole, type ObservableType } from './model';
import type { NormalizeResult } from './normalize';
import { guessIpObservable, hashObservable, makeObservable, ObservableCollector } from './observables';
import { describeType, errorMessage, notAnObjectReason } from './messages';
import { assembleAlert, hostIpObservables, makeHost, makeRule } from './parsers/parser';
import { firstText, isObject, list, obj, text, type JsonObject } from './record';
import { severityFromAny } from './severity';
import { eventTime, toIsoTime } from './time';

/**
 * A starting point that reads common flat field names (`title`/`name`/`message`, `severity`/`level`,
 * `src_ip`/`dest_ip`, `domain`, `url`, `sha256`/`md5`, `user`, `host`...). Copy it and adapt it to the source.
 */
export const DEFAULT_GENERIC_MAPPING = `{
  "title": title ?? name ?? message ?? summary,
  "severity": severity ?? level ?? priority,
  "time": timestamp ?? time ?? \`@timestamp\` ?? created_at,
  "rule": { "id": $string(rule_id ?? rule.id), "name": rule_name ?? rule.name, "category": category },
  "observables": [
    { "type": "ip", "value": src_ip ?? source_ip, "role": "source" },
    { "type": "ip", "value": dest_ip ?? dst_ip ?? destination_ip, "role": "destination" },
    { "type": "domain", "value": domain },
    { "type": "url", "value": url },
    { "type": "hash", "value": sha256 ?? sha1 ?? md5 ?? hash },
    { "type": "user", "value": user ?? username, "role": "actor" },
    { "type": "hostname", "value": hostname ?? host, "role": "host" }
  ],
  "attack": attack ?? techniques,
  "host": { "name": hostname ?? host }
}`;

const TYPE_ALIASES = ['ip', 'hash'] as const;
type MappingType = ObservableType | (typeof TYPE_ALIASES)[number];
const MAPPING_TYPES: readonly string[] = [...OBSERVABLE_TYPES, ...TYPE_ALIASES];

export interface GenericMapping {
  /** The mapping's result for one record as an alert, or the reason it gives none. Never rejects. */
  map(record: unknown, received?: string): Promise<NormalizeResult>;
}

class MappingError extends Error {}

function observablesOf(value: unknown): ObservableCollector {
  const observables = new ObservableCollector();
  list(value).forEach((entry, index) => {
    if (!isObject(entry)) {
      throw new MappingError(
        `observables[${index}] is ${describeType(entry)}, not an object with type, value and role`,
      );
    }
    const type = entry.type;
    if (typeof type !== 'string' || !MAPPING_TYPES.includes(type)) {
      throw new MappingError(
        `observables[${index}] has unknown type ${JSON.stringify(type) ?? 'undefined'}: use one of ${MAPPING_TYPES.join(', ')}`,
      );
    }
    const role = entry.role ?? 'related';
    if (typeof role !== 'string' || !(OBSERVABLE_ROLES as readonly string[]).includes(role)) {
      throw new MappingError(
        `observables[${index}] has unknown role ${JSON.stringify(role)}: use one of ${OBSERVABLE_ROLES.join(', ')}`,
      );
    }
    const mappingType = type as MappingType;
    const observableRole = role as ObservableRole;
    // Numbers are accepted where sources write them (a numeric user id); other non-strings are dropped.
    const raw = typeof entry.value === 'number' ? String(entry.value) : entry.value;
    if (mappingType === 'ip') observables.push(guessIpObservable(raw, observableRole));
    else if (mappingType === 'hash') observables.push(hashObservable(raw, observableRole));
    else observables.push(makeObservable(mappingType, raw, observableRole));
  });
  return observables;
}

function toAlert(mapped: JsonObject, record: JsonObject, received: string): Alert {
  const observables = observablesOf(mapped.observables);
  const rule = obj(mapped.rule);
  const ruleName = text(rule?.name);
  const host = obj(mapped.host);
  const attack = new AttackCollector();
  attack.add(mapped.attack);
  const sourceRef =
    text(mapped.sourceRef) ?? firstText(record.id, record.uuid, record._id, record.event_id) ?? contentRef(record);
  return assembleAlert({
    source: 'generic',
    sourceRef,
    time: eventTime(received, mapped.time),
    received,
    title: text(mapped.title) ?? ruleName ?? 'generic alert',
    severity: severityFromAny(mapped.severity) ?? 'medium',
    rule: makeRule(text(rule?.id), ruleName, text(rule?.category)),
    observables: observables.items,
    attack: attack.ids,
    host: host && makeHost(text(host.name), hostIpObservables(host.ip)[0]?.value),
    raw: record,
  });
}

function errorPosition(error: unknown): string {
  return isObject(error) && typeof error.position === 'number' ? ` at position ${error.position}` : '';
}

/**
 * Compiles a mapping once, for many records. Throws an Error saying where the syntax is wrong
 * ("JSONata syntax error at position 12: ...") so the editor can show it when the node is configured.
 */
export function compileGenericMapping(expression: string): GenericMapping {
  if (typeof expression !== 'string' || expression.trim() === '') {
    throw new Error('the generic mapping is empty: write a JSONata expression that produces the alert fields');
  }
  let compiled: jsonata.Expression;
  try {
    compiled = jsonata(expression);
  } catch (error) {
    throw new Error(`JSONata syntax error${errorPosition(error)}: ${errorMessage(error)}`, { cause: error });
  }
  return {
    async map(record: unknown, received?: string): Promise<NormalizeResult> {
      if (!isObject(record)) return { ok: false, reason: notAnObjectReason(record) };
      const at = toIsoTime(received) ?? new Date().toISOString();
      let mapped: unknown;
      try {
        mapped = await compiled.evaluate(record);
      } catch (error) {
        return {
          ok: false,
          reason: `the generic JSONata mapping failed on this record${errorPosition(error)}: ${errorMessage(error)}`,
        };
      }
      if (!isObject(mapped)) {
        return {
          ok: false,
          reason: `the generic JSONata mapping must produce an object (with title, severity, observables...), but it produced ${describeType(mapped)}`,
        };
      }
      try {
        return { ok: true, alert: toAlert(mapped, record, at) };
      } catch (error) {
        const problem =
          error instanceof MappingError
            ? `is wrong: ${error.message}`
            : `result could not be read: ${errorMessage(error)}`;
        return { ok: false, reason: `the generic JSONata mapping ${problem}` };
      }
    },
  };
}
