/**
 * The figures `GET /soar/metrics` answers (and `/soar/metrics/prometheus` exposes).
 */
import type { CaseTypeMetrics } from '../cases/case-store';
import type { PlaybookRunStats } from '../playbooks/runs/run-store';
import type { IntakeCounts } from './intake-counters';

export interface CaseCount {
  type: string;
  status: string;
  count: number;
}

export interface DeviceActionCount {
  /** The device's name, or `none` for an action recorded without one. */
  device: string;
  action: string;
  /** A case action status (`done`, `failed`, `dry-run`, `pending-approval`, `denied`, `expired`, `reverted`). */
  status: string;
  count: number;
}

export interface SoarMetrics {
  generated: string;
  playbooks: PlaybookRunStats[];
  /** Per case type: counts per status and the time-to-respond figures of lib/cases/metrics. */
  caseTypes: (CaseTypeMetrics & { byStatus: Record<string, number> })[];
  /** Counters of this process since `since`. */
  intake: IntakeCounts & { since: string };
  /** From the actions recorded on cases. */
  deviceActions: DeviceActionCount[];
  /** What run tracking could not follow or record, in this process (plugins/soar-runs adds it). */
  runTracking?: RunTrackingCounts;
}

export interface RunTrackingCounts {
  /** Runs open now. */
  open: number;
  /** Runs not followed because too many were open (`soar.maxOpenRuns`). */
  untracked: number;
  /** New messages sent by a node busy with several runs, that could be put in none. */
  unattributed: number;
  /** Runs stored but not put on their case because too many were waiting. */
  notAttached: number;
  /** Runs the store refused after every retry. */
  lost: number;
}

/** Where the figures come from; the SQLite store is one implementation, a PostgreSQL one can follow. */
export interface MetricsSources {
  playbookRuns(): Promise<PlaybookRunStats[]>;
  caseTypes(now: Date): Promise<CaseTypeMetrics[]>;
  caseCounts(): Promise<CaseCount[]>;
  deviceActions(): Promise<DeviceActionCount[]>;
  intake(): IntakeCounts & { since: string };
}

export async function collectMetrics(sources: MetricsSources, now = new Date()): Promise<SoarMetrics> {
  const [playbooks, types, counts, deviceActions] = await Promise.all([
    sources.playbookRuns(),
    sources.caseTypes(now),
    sources.caseCounts(),
    sources.deviceActions(),
  ]);
  const byType = new Map<string, Record<string, number>>();
  for (const c of counts) {
    const statuses = byType.get(c.type) ?? {};
    statuses[c.status] = (statuses[c.status] ?? 0) + c.count;
    byType.set(c.type, statuses);
  }
  return {
    generated: now.toISOString(),
    playbooks,
    caseTypes: types.map((t) => ({ ...t, byStatus: byType.get(t.type) ?? {} })),
    intake: sources.intake(),
    deviceActions,
  };
}
