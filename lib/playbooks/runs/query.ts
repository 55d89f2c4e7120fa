import { RUN_OUTCOMES, type RunOutcome } from './model';
import type { RunQuery } from './run-store';

export class RunQueryError extends Error {}

export const DEFAULT_RUN_PAGE = 50;
export const MAX_RUN_PAGE = 500;

function one(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new RunQueryError(`${name} must be given once`);
  return value === '' ? undefined : value;
}

function count(value: unknown, name: string, fallback: number, max: number): number {
  const text = one(value, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > max) throw new RunQueryError(`${name} must be a whole number 0..${max}`);
  return n;
}

/** `GET /soar/runs?playbook=&case=&outcome=&limit=&offset=`. */
export function parseRunQuery(query: Record<string, unknown>): RunQuery {
  const outcome = one(query.outcome, 'outcome');
  if (outcome !== undefined && !(RUN_OUTCOMES as readonly string[]).includes(outcome)) {
    throw new RunQueryError(`outcome must be one of ${RUN_OUTCOMES.join(', ')}`);
  }
  return {
    playbook: one(query.playbook, 'playbook'),
    caseId: one(query.case, 'case'),
    outcome: outcome as RunOutcome | undefined,
    limit: count(query.limit, 'limit', DEFAULT_RUN_PAGE, MAX_RUN_PAGE),
    offset: count(query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
  };
}
