/**
 * Vendor record → Alert. Formats are detected in a fixed order (cheapest and most common first, ECS-shaped Wazuh
 * before Elastic); `generic` is never detected, it needs a JSONata mapping (see generic.ts).
 * Bad input is a value, not a crash: `normalize` and `identify` never throw.
 */
import { alertId } from './id';
import { ALERT_SOURCES, type Alert, type AlertSource } from './model';
import { errorMessage, notAnObjectReason } from './messages';
import { isObject, type JsonObject } from './record';
import { toIsoTime } from './time';
import type { AlertParser, ParsedSource } from './parsers/parser';
import { elasticParser } from './parsers/elastic';
import { ocsfParser } from './parsers/ocsf';
import { sentinelParser } from './parsers/sentinel';
import { splunkParser } from './parsers/splunk';
import { suricataParser } from './parsers/suricata';
import { wazuhParser } from './parsers/wazuh';

export type NormalizeResult = { ok: true; alert: Alert } | { ok: false; reason: string };

export interface NormalizeOptions {
  /** A format to use instead of detection; `auto` (the default) detects. */
  format?: AlertSource | 'auto';
  /** When the record arrived (ISO 8601); now when absent or not a valid time. */
  received?: string;
}

export interface AlertIdentity {
  source: AlertSource;
  sourceRef: string;
  id: string;
}

const PARSERS: readonly AlertParser[] = [
  suricataParser,
  wazuhParser,
  elasticParser,
  ocsfParser,
  splunkParser,
  sentinelParser,
];
const BY_SOURCE = new Map<string, AlertParser>(PARSERS.map((p) => [p.source, p]));

const UNRECOGNISED =
  'no parser recognises this record: expected Suricata EVE (event_type "alert"), Wazuh, Elastic/ECS, OCSF ' +
  'finding, Splunk webhook or Sentinel incident; configure a generic JSONata mapping for other sources';

/** The detected format, or null when no parser recognises the record. */
export function detectFormat(record: unknown): ParsedSource | null {
  for (const parser of PARSERS) if (parser.detect(record)) return parser.source;
  return null;
}

type Selection = { parser: AlertParser; record: JsonObject } | { reason: string };

function selectParser(record: unknown, format: AlertSource | 'auto' | undefined): Selection {
  if (!isObject(record)) return { reason: notAnObjectReason(record) };
  if (format === undefined || format === 'auto') {
    for (const parser of PARSERS) if (parser.detect(record)) return { parser, record };
    for (const parser of PARSERS) {
      const why = parser.explain?.(record);
      if (why !== undefined) return { reason: why };
    }
    return { reason: UNRECOGNISED };
  }
  if (format === 'generic') {
    return {
      reason:
        'the generic format has no built-in parser: compile a JSONata mapping with compileGenericMapping(expression) and use its map(record)',
    };
  }
  const parser = BY_SOURCE.get(format);
  if (parser === undefined) {
    return { reason: `unknown format "${String(format)}": use auto or one of ${ALERT_SOURCES.join(', ')}` };
  }
  if (parser.detect(record)) return { parser, record };
  const why = parser.explain?.(record);
  return {
    reason: why ?? `the format is set to ${parser.label}, but this record is not one: expected ${parser.expects}`,
  };
}

/**
 * The record's source, sourceRef and alert id without building the alert (for duplicate detection at intake);
 * the id is the one `normalize` gives. Null when `normalize` would reject the record.
 */
export function identify(record: unknown, format: AlertSource | 'auto' = 'auto'): AlertIdentity | null {
  const selection = selectParser(record, format);
  if (!('parser' in selection)) return null;
  try {
    const { source } = selection.parser;
    const sourceRef = selection.parser.sourceRef(selection.record);
    return { source, sourceRef, id: alertId(source, sourceRef) };
  } catch {
    return null;
  }
}

// Every alert of a batch carries the same receipt time: convert it once.
let lastReceivedIn: string | undefined;
let lastReceivedOut = '';

function receivedTime(value: string | undefined): string {
  if (value === undefined || value !== lastReceivedIn) {
    const iso = toIsoTime(value);
    if (iso === undefined) return new Date().toISOString();
    lastReceivedIn = value;
    lastReceivedOut = iso;
  }
  return lastReceivedOut;
}

/** The record as an Alert, or the reason it cannot be one. */
export function normalize(record: unknown, options: NormalizeOptions = {}): NormalizeResult {
  const selection = selectParser(record, options.format);
  if (!('parser' in selection)) return { ok: false, reason: selection.reason };
  const received = receivedTime(options.received);
  try {
    return { ok: true, alert: selection.parser.parse(selection.record, received) };
  } catch (error) {
    // Parsers read every field defensively, so this is a bug; still a reason, never a crash.
    return {
      ok: false,
      reason: `the ${selection.parser.label} parser could not read this record (${errorMessage(error)}); please report it with the record`,
    };
  }
}
