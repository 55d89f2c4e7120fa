/**
 * Case metrics per case type: open and closed counts, time to first response and to resolution (mean and p95),
 * SLA breaches.
 */
import type { CaseTypeMetrics, DurationStats } from './case-store';
import { OPEN_STATUSES, type CaseStatus } from './model';

/** The times of one case, epoch milliseconds. */
export interface CaseTimes {
  type: string;
  status: string;
  created: number;
  firstAction: number | null;
  resolved: number | null;
  slaDue: number | null;
}

function stats(secondsList: number[]): DurationStats {
  if (secondsList.length === 0) return { count: 0, mean: null, p95: null };
  const sorted = [...secondsList].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / sorted.length;
  // Nearest-rank percentile.
  const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)];
  return { count: sorted.length, mean, p95 };
}

export function caseTypeMetrics(cases: Iterable<CaseTimes>, now: number): CaseTypeMetrics[] {
  const byType = new Map<
    string,
    { open: number; closed: number; response: number[]; resolution: number[]; breaches: number }
  >();
  for (const c of cases) {
    let m = byType.get(c.type);
    if (!m) {
      m = { open: 0, closed: 0, response: [], resolution: [], breaches: 0 };
      byType.set(c.type, m);
    }
    if (OPEN_STATUSES.includes(c.status as CaseStatus)) m.open += 1;
    else m.closed += 1;
    if (c.firstAction !== null) m.response.push((c.firstAction - c.created) / 1000);
    if (c.resolved !== null) m.resolution.push((c.resolved - c.created) / 1000);
    if (c.slaDue !== null && (c.firstAction ?? now) > c.slaDue) m.breaches += 1;
  }
  return [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, m]) => ({
      type,
      open: m.open,
      closed: m.closed,
      total: m.open + m.closed,
      timeToFirstAction: stats(m.response),
      timeToResolution: stats(m.resolution),
      slaBreaches: m.breaches,
    }));
}
