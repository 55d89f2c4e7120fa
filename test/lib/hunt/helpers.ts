import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize, type Alert } from '../../../lib/alert';

export const samples = join(__dirname, '..', '..', 'fixtures', 'samples');

function alertOf(record: unknown): Alert {
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

/** The Suricata alerts of the 2018 honeypot sample (real EVE records), normalised. */
export function honeypotAlerts(): Alert[] {
  return readFileSync(join(samples, 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => alertOf(JSON.parse(line)));
}

/** The source address of an alert. */
export const sourceOf = (a: Alert): string => a.observables.find((o) => o.role === 'source')?.value ?? '';

/** One alert per distinct source address, in sample order. */
export function alertsBySource(): Alert[] {
  const seen = new Set<string>();
  return honeypotAlerts().filter((a) => {
    const src = sourceOf(a);
    if (src === '' || seen.has(src)) return false;
    seen.add(src);
    return true;
  });
}
