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
  /** Counters since `since`: of this process, or with a PostgreSQL store of every instance sharing it. */
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

/** Where the figures come from: the SQLite store (sqlite-sources.ts) or PostgreSQL (pg-sources.ts). */
export interface MetricsSources {
  playbookRuns(): Promise<PlaybookRunStats[]>;
  caseTypes(now: Date): Promise<CaseTypeMetrics[]>;
  caseCounts(): Promise<CaseCount[]>;
  deviceActions(): Promise<DeviceActionCount[]>;
  /** This process's counters (SQLite), or those of every instance sharing the store (PostgreSQL). */
  intake(): Promise<IntakeCounts & { since: string }>;
  /** Stops; a store that publishes resolves once its last publish is done. */
  close(): void | Promise<void>;
}

export async function collectMetrics(sources: MetricsSources, now = new Date()): Promise<SoarMetrics> {
  const [playbooks, types, counts, deviceActions, intake] = await Promise.all([
    sources.playbookRuns(),
    sources.caseTypes(now),
    sources.caseCounts(),
    sources.deviceActions(),
    sources.intake(),
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
    intake,
    deviceActions,
  };
}
