/**
 * Event times to ISO 8601 UTC (`2022-05-11T12:29:19.905Z`). Sources disagree on the format: ISO with `Z`, `+0100`
 * or `+01:00` offsets, ISO without a zone (older Suricata, Prowler's `time_dt`), epoch seconds (Splunk `_time`,
 * Prowler's OCSF `time`) and epoch milliseconds (OCSF `time`).
 */

// Date, time, optional fraction of any length (Suricata and .NET write 6 or 7 digits), optional zone.
const ISO_LIKE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const NUMERIC = /^-?\d+(\.\d+)?$/;

// Epoch values are told apart by size: below 1e11 they are seconds (1e11 ms would be March 1973), below 1e14
// milliseconds, below 1e17 microseconds, above that nanoseconds.
function epochToMillis(n: number): number {
  const abs = Math.abs(n);
  if (abs < 1e11) return n * 1000;
  if (abs < 1e14) return n;
  if (abs < 1e17) return n / 1000;
  return n / 1e6;
}

function fromMillis(ms: number): string | undefined {
  // Years 1970 to 9999 keep toISOString in the plain four-digit form the Alert schema accepts.
  if (!Number.isFinite(ms) || ms < 0 || ms > 253402300799999) return undefined;
  return new Date(Math.floor(ms)).toISOString();
}

function fromIsoLike(value: string): string | undefined {
  const m = ISO_LIKE.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = s === undefined ? 0 : Number(s);
  const millis = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  let ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  // Date.UTC rolls 31 February over into March: reject dates that do not exist.
  if (new Date(ms).getUTCDate() !== day && second !== 60) return undefined;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    ms -= sign * offsetMinutes * 60000;
  }
  // A zone-less time is read as UTC: sensors and SIEMs log in UTC far more often than not, and guessing the
  // receiving machine's local zone would be worse.
  return fromMillis(ms);
}

/** ISO 8601 UTC for a time value, or undefined when it is missing or not a recognisable time. */
export function toIsoTime(value: unknown): string | undefined {
  if (typeof value === 'number') return fromMillis(epochToMillis(value));
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (NUMERIC.test(trimmed)) return fromMillis(epochToMillis(Number(trimmed)));
  return fromIsoLike(trimmed);
}

/** The first candidate that is a valid time, else `fallback` (the time the record was received). */
export function eventTime(fallback: string, ...candidates: unknown[]): string {
  for (const candidate of candidates) {
    const iso = toIsoTime(candidate);
    if (iso !== undefined) return iso;
  }
  return fallback;
}
