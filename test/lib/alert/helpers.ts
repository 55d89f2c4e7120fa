/** Assertion helpers shared by the alert specs. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { normalize, type Alert, type NormalizeOptions } from '../../../lib/alert';

export const RECEIVED = '2024-06-01T12:00:00.000Z';

/** The id DESIGN.md promises, computed here independently of lib/alert/id.ts. */
export function expectedId(source: string, sourceRef: string): string {
  return `${source}-${createHash('sha256').update(`${source}\n${sourceRef}`).digest('hex').slice(0, 32)}`;
}

/** The alert a record normalises to; fails the test with the reason when it does not. */
export function normalized(record: unknown, options: NormalizeOptions = {}): Alert {
  const result = normalize(record, { received: RECEIVED, ...options });
  if (!result.ok) assert.fail(result.reason);
  return result.alert;
}

/** The reason a record is rejected for; fails the test when it is not. */
export function rejection(record: unknown, options: NormalizeOptions = {}): string {
  const result = normalize(record, { received: RECEIVED, ...options });
  if (result.ok) assert.fail(`expected a rejection, got alert ${result.alert.id}`);
  return result.reason;
}

/** The alert without `raw`, for comparing against a literal. */
export function withoutRaw(alert: Alert): Omit<Alert, 'raw'> {
  const { raw: _raw, ...rest } = alert;
  return rest;
}
