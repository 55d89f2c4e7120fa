/**
 * What the nodes and the case API need from a case store. Asynchronous, so that a PostgreSQL implementation can
 * stand behind the same interface (and run the same tests) as the embedded SQLite one.
 */
import type { Alert, Severity } from '../alert/model';
import type { Case, CaseStatus } from './model';

export interface GroupOptions {
  /** Case type name. */
  type: string;
  /** Grouping key (already evaluated). */
  key: string;
  /** An open case of the same type and key takes the alert if its last alert is at most this old. */
  windowMs: number;
  /** The case type's default severity: a new case starts at least this high. */
  severity?: Severity;
  slaMinutes?: number;
  now?: Date;
}

export interface GroupResult {
  case: Case;
  /** A new case was opened for this alert. */
  created: boolean;
  /** The alert had been grouped before (same alert id): nothing changed. */
  duplicate: boolean;
}

export interface CaseQuery {
  status?: CaseStatus[];
  type?: string[];
  severity?: Severity[];
  /** The grouping key (exactly): the cases of one host, user or sender, with `type`. */
  key?: string;
  /** An alert id: the case (of each type) that took the alert, while the store remembers it (`alertsOf`). */
  alert?: string;
  /** Matches the title and artifact values, case-insensitively. */
  q?: string;
  limit: number;
  offset: number;
}

export interface CasePage {
  total: number;
  items: Case[];
}

/** An alert grouped into a case: its id, and when it was grouped (ISO 8601). */
export interface CaseAlert {
  id: string;
  grouped: string;
}

export interface CaseAlertPage {
  total: number;
  items: CaseAlert[];
}

export interface DurationStats {
  /** How many cases the figures are over. */
  count: number;
  /** Seconds; null when count is 0. */
  mean: number | null;
  p95: number | null;
}

export interface CaseTypeMetrics {
  type: string;
  open: number;
  closed: number;
  total: number;
  timeToFirstAction: DurationStats;
  timeToResolution: DurationStats;
  /** Cases whose first action came after the SLA, or that are still waiting past it. */
  slaBreaches: number;
}

export class CaseNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`no case with id "${id}"`);
  }
}

/**
 * The store could not do an operation (PostgreSQL unreachable, a connection lost mid-way): names the store (its URL
 * without a password) and the operation, so a Catch node's message says where to look.
 */
export class CaseStoreError extends Error {
  constructor(
    readonly store: string,
    readonly operation: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`case store ${store}: ${operation} failed: ${reason}`, options);
  }
}

export interface CaseStore {
  group(alert: Alert, options: GroupOptions): Promise<GroupResult>;
  get(id: string): Promise<Case | undefined>;
  /**
   * Atomic read-modify-write of one case; `change` may throw to abort without writing. `quiet`: bookkeeping an
   * analyst need not see live (no change event). Resolves with the case as written, an object of the caller's own:
   * updates of one case asked for at the same moment are written together, so it may also hold the later ones.
   */
  update(id: string, change: (c: Case, now: string) => void, now?: Date, options?: { quiet?: boolean }): Promise<Case>;
  /** Newest first. */
  query(query: CaseQuery): Promise<CasePage>;
  /**
   * The alerts grouped into a case, newest first (those grouped in one millisecond by id), as long as the store
   * remembers them (`alertIdRetentionDays`): the case itself lists only its newest `MAX_ALERT_IDS`. Rejects with
   * CaseNotFoundError for a case that does not exist.
   */
  alertsOf(id: string, page: { limit: number; offset: number }): Promise<CaseAlertPage>;
  metrics(now?: Date): Promise<CaseTypeMetrics[]>;
  /**
   * Forgets which case took the alerts grouped before `cutoff` (epoch ms), at most `chunks` × 2,000 of them, oldest
   * first: such an alert delivered again is counted again. Resolves with how many were forgotten. The store does
   * this by itself for alerts older than `alertIdRetentionDays`.
   */
  forgetAlertsBefore(cutoff: number, chunks?: number): Promise<number>;
  /**
   * Listens for failures of the store's own background work (its rounds of forgetting old alert ids): one loses
   * nothing and is tried again a minute later, but a store that can never prune grows unseen. The same failure is
   * told once until the work succeeds again. Returns the function that stops listening.
   */
  onBackgroundError(listener: (err: Error, what: string) => void): () => void;
  close(): void;
}

/** How long a case store remembers the alerts it grouped, so that one delivered again is counted once. */
export interface CaseKeepingOptions {
  /**
   * Days an alert id is remembered after its grouping; 0 remembers every one for good. Default 7: a replay from the
   * intake journal comes at the next start, a source sending an alert again mostly within hours.
   */
  alertIdRetentionDays?: number;
  /** The clock (epoch ms) that dates the groupings; tests set it. */
  now?: () => number;
}

export const DEFAULT_ALERT_ID_RETENTION_DAYS = 7;
/** Alert ids forgotten per statement, statements per round of forgetting, and how often a round runs. */
export const FORGET_CHUNK = 2_000;
export const FORGET_CHUNKS = 5;
export const FORGET_EVERY_MS = 60_000;
/** How a failed round of forgetting is reported (see `CaseStore.onBackgroundError`). */
export const FORGET_FAILED = 'could not forget old alert ids (tried again in a minute)';

/** The cutoff of the next round of forgetting, or undefined when none is due (or retention is off). */
export function forgetCutoff(options: CaseKeepingOptions, now: number, lastRound: number): number | undefined {
  const days = options.alertIdRetentionDays ?? DEFAULT_ALERT_ID_RETENTION_DAYS;
  if (!(days > 0) || now - lastRound < FORGET_EVERY_MS) return undefined;
  return now - days * 86_400_000;
}
