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

/** A parameter matched exactly: a repeated one arrives as a list, refused rather than joined into one that matches nothing. */
function once(value: unknown, name: string): string | undefined {
  if (Array.isArray(value) || (typeof value === 'object' && value !== null)) {
    throw new CaseChangeError(`${name} must be given once`);
  }
  return value === undefined ? undefined : String(value);
}

/** `GET /soar/cases/:id/alerts` parameters: a page of at most MAX_PAGE. */
export function parsePage(params: Record<string, unknown>): { limit: number; offset: number } {
  return {
    limit: integer(params.limit, 'limit', DEFAULT_PAGE, MAX_PAGE) || DEFAULT_PAGE,
    offset: integer(params.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
  };
}

/** `GET /soar/cases` parameters (`status`, `type`, `severity` take comma-separated lists) as a CaseQuery. */
export function parseCaseQuery(params: Record<string, unknown>): CaseQuery {
  const q = params.q === undefined ? undefined : String(params.q).trim() || undefined;
  const key = once(params.key, 'key');
  const alert = once(params.alert, 'alert');
  return {
    status: list<CaseStatus>(params.status, CASE_STATUSES, 'status'),
    type: list<string>(params.type, null, 'type'),
    severity: list<Severity>(params.severity, SEVERITIES, 'severity'),
    ...(key === undefined ? {} : { key }),
    ...(alert === undefined ? {} : { alert }),
    q,
    ...parsePage(params),
  };
}
