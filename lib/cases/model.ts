/**
 * The case model (DESIGN.md section 2: field names are public contract). A case groups the alerts of one case type
 * that share a grouping key, with what was learnt (artifacts, TTPs) and done (timeline, actions, playbook runs).
 */
import type { ObservableType, Severity } from '../alert/model';

export const CASE_STATUSES = ['new', 'in-progress', 'resolved', 'closed'] as const;
export type CaseStatus = (typeof CASE_STATUSES)[number];

/** Statuses in which a case still takes new alerts. */
export const OPEN_STATUSES: readonly CaseStatus[] = ['new', 'in-progress'];

export const ACTION_STATUSES = [
  'done',
  'failed',
  'dry-run',
  'pending-approval',
  'denied',
  'expired',
  'reverted',
] as const;
export type ActionStatus = (typeof ACTION_STATUSES)[number];

export interface Artifact {
  type: ObservableType;
  value: string;
  /** Whether the value matched the IOC library. */
  ioc: boolean;
  /**
   * `malicious` or `suspicious` from IOC matches (merged again, the worse verdict wins: `malicious` is never
   * downgraded), or what an analyst or playbook set with `add-artifact`.
   */
  verdict?: string;
  /** The alert sources (suricata, wazuh, ...) that reported it, and `ioc:<feed>` for each feed that listed it. */
  sources: string[];
  firstSeen: string;
  lastSeen: string;
  count: number;
}

export interface TimelineEntry {
  at: string;
  kind: string;
  message: string;
  by?: string;
  /** For a run of alerts of one rule folded into one entry: how many, and when the last came. */
  count?: number;
  until?: string;
}

export interface CaseAction {
  id: string;
  at: string;
  action: string;
  target: string;
  device?: string;
  status: ActionStatus;
  expiresAt?: string;
}

export interface PlaybookRun {
  playbook: string;
  started: string;
  finished?: string;
  outcome?: string;
  /** The playbook's version (tab env `SOAR_PLAYBOOK_VERSION`). */
  version?: string;
  /** The run in the run store (`GET /soar/runs?case=…` lists them with their steps). */
  runId?: string;
  /** Why a run failed or timed out. */
  error?: string;
}

export interface Case {
  id: string;
  type: string;
  title: string;
  status: CaseStatus;
  severity: Severity;
  /** The grouping key. */
  key: string;
  created: string;
  updated: string;
  alertCount: number;
  /** Ids of the newest alerts (at most MAX_ALERT_IDS; `alertCount` counts them all). */
  alerts: string[];
  artifacts: Artifact[];
  ttps: string[];
  timeline: TimelineEntry[];
  actions: CaseAction[];
  runs: PlaybookRun[];
  assignee?: string;
  /** Minutes to respond, from the case type, and when that runs out. */
  sla?: { minutes: number; dueAt: string };
  /** When the first response action was recorded (any status but `dry-run` and `pending-approval`). */
  firstActionAt?: string;
  resolvedAt?: string;
}

/**
 * A case keeps the ids of its newest alerts up to this many; the store knows every alert's case regardless, for its
 * retention period (`CaseStore.alertsOf`). 100 ids were two thirds of a busy case (about 4.4 KB of 6.6), read and
 * written at each of its changes; with 10 the flow spent 11-15 % less CPU per alert (interleaved e2e runs).
 */
export const MAX_ALERT_IDS = 10;

/**
 * A case keeps its newest playbook runs up to this many; the run store keeps them all (`GET /soar/runs?case=…`).
 * Every alert of a case is a run, and the whole case is read and written at each of its changes: 100 runs were
 * three quarters of a busy case's size, and 20 (about 4 KB) still more than half; with 5 the flow spent about a tenth
 * less CPU per alert (interleaved runs of the bench/e2e load, which vary by as much from run to run).
 */
export const MAX_CASE_RUNS = 5;

/** A case keeps at most this many distinct artifacts (it notes in its timeline when it stops adding). */
export const MAX_ARTIFACTS = 1_000;
