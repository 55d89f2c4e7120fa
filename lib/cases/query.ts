import { SEVERITIES, type Severity } from '../alert/model';
import type { CaseQuery } from './case-store';
import { CaseChangeError } from './changes';
import { CASE_STATUSES, type CaseStatus } from './model';

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

function list<T extends string>(value: unknown, allowed: readonly T[] | null, name: string): T[] | undefined {
  if (value === undefined || value === '') return undefined;
  const raw = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  const items = raw.map((v) => v.trim()).filter(Boolean);
  if (allowed) {
    for (const item of items) {
      if (!(allowed as readonly string[]).includes(item)) {
        throw new CaseChangeError(`invalid ${name} "${item}": expected one of ${allowed.join(', ')}`);
      }
    }
  }
  return items as T[];
}

function integer(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > max)
    throw new CaseChangeError(`${name} must be an integer from 0 to ${max}`);
  return n;
}

/** `GET /soar/cases` parameters (`status`, `type`, `severity` take comma-separated lists) as a CaseQuery. */
export function parseCaseQuery(params: Record<string, unknown>): CaseQuery {
  const q = params.q === undefined ? undefined : String(params.q).trim() || undefined;
  // A repeated parameter arrives as a list: one key only, rather than a joined string that matches nothing.
  if (Array.isArray(params.key) || (typeof params.key === 'object' && params.key !== null)) {
    throw new CaseChangeError('key must be given once');
  }
  const key = params.key === undefined ? undefined : String(params.key);
  return {
    status: list<CaseStatus>(params.status, CASE_STATUSES, 'status'),
    type: list<string>(params.type, null, 'type'),
    severity: list<Severity>(params.severity, SEVERITIES, 'severity'),
    ...(key === undefined ? {} : { key }),
    q,
    limit: integer(params.limit, 'limit', DEFAULT_PAGE, MAX_PAGE) || DEFAULT_PAGE,
    offset: integer(params.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
  };
}
