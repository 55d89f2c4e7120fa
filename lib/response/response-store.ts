/**
 * What the response engine must not forget over a restart, in the store: the actions in force (so an action is not
 * repeated, and an action with a duration is reverted when it expires, after a restart too) and the approvals
 * waiting for an analyst. Two implementations: the embedded SQLite store (one instance) and PostgreSQL (several
 * instances sharing the state); both pass test/lib/response/response-store.conformance.ts.
 */
import type { ActionResult, Capability } from '../devices/model';

export type ActionRecordStatus = 'active' | 'reverted' | 'expired' | 'revert-failed' | 'failed';

export interface ActionRecord {
  id: string;
  device: string;
  deviceName: string;
  action: Capability;
  targetKind: string;
  target: string;
  caseId?: string;
  status: ActionRecordStatus;
  created: string;
  /** Epoch ms when it is to be reverted, if it has a duration. */
  expiresAt?: number;
  result?: ActionResult;
  finished?: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'timeout';

export interface ApprovalRecord {
  id: string;
  /** The soar-approval node (or soar-respond node) holding it. */
  node: string;
  status: ApprovalStatus;
  created: string;
  /** Epoch ms of the timeout. */
  expiresAt: number;
  /** What is to be approved, in words, and the data to resume with. */
  summary: string;
  request: unknown;
  caseId?: string;
  decidedBy?: string;
  decidedAt?: string;
  comment?: string;
  /** The instance (store `instance`) that took the message and sends it on once decided. */
  holder?: string;
  /** Whether the held message has gone out (after a decision); at most once over all instances. */
  released?: boolean;
}

/** A change of an approval, as every instance sharing the store learns of it. */
export interface ApprovalNotice {
  id: string;
  node: string;
  status: ApprovalStatus;
  caseId?: string;
}

/**
 * Told of approval changes made through this store and, for a shared store, through other instances. Called
 * without a notice when notices may have been missed (the listening connection came back): look at the store again.
 */
export type ApprovalListener = (notice?: ApprovalNotice) => void;

/** A store operation that failed (the database is unreachable, …); the message names the store and the operation. */
export class ResponseStoreError extends Error {}

export interface ResponseStore {
  /** True when several instances share it (PostgreSQL): their timed work and releases are then claimed. */
  readonly shared: boolean;
  /** Who this instance is among those sharing the store (approval holders). */
  readonly instance: string;

  /** The action in force for this device, action and target, if any. */
  activeAction(device: string, action: Capability, target: string): Promise<ActionRecord | undefined>;
  /** Every action of this kind in force on a target, on any device (an undo ends them all). */
  activeOn(action: Capability, target: string): Promise<ActionRecord[]>;
  /**
   * Records an action in force, unless one of the same action on the same target is already in force on that device
   * (then nothing is recorded and that one is returned). Atomic over instances: of two at once, one records.
   */
  recordAction(
    r: Omit<ActionRecord, 'status'>,
  ): Promise<{ recorded: true } | { recorded: false; active?: ActionRecord }>;
  /** What the device returned for an action recorded before it was called. */
  setResult(id: string, result: ActionResult): Promise<void>;
  /** Moves an active action's expiry (a revert that failed is tried again then); ends its claim. */
  postpone(id: string, expiresAt: number): Promise<void>;
  /**
   * Active actions whose expiry has come, oldest first, claimed until `now + claimMs`: until then neither this nor
   * another instance gets them again (unless postponed), so each is reverted once; a claim whose holder died lapses.
   */
  dueActions(now: number, limit?: number, claimMs?: number): Promise<ActionRecord[]>;
  /** Epoch ms when an active action next comes due (its expiry, or the end of its claim), or undefined. */
  nextExpiry(): Promise<number | undefined>;
  /** Ends an active action; false when it was not active (already ended elsewhere). */
  finishAction(id: string, status: Exclude<ActionRecordStatus, 'active'>, at?: string): Promise<boolean>;
  activeActions(limit?: number): Promise<ActionRecord[]>;

  /** Stores a pending approval held by this instance. */
  addApproval(a: Omit<ApprovalRecord, 'status' | 'holder' | 'released'>): Promise<void>;
  approval(id: string): Promise<ApprovalRecord | undefined>;
  pendingApprovals(node?: string): Promise<ApprovalRecord[]>;
  /** Decided approvals of a node whose held message has not gone out yet. */
  unreleasedApprovals(node: string): Promise<ApprovalRecord[]>;
  /**
   * Uses an approval up: true once for an approved approval, false ever after (or when it is not approved), so an
   * approved message cannot be replayed into a second action.
   */
  consumeApproval(id: string): Promise<boolean>;
  /** Records a decision once: false when the approval was no longer pending (decided, or timed out). */
  decide(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    by: string | undefined,
    comment?: string,
  ): Promise<boolean>;
  /** Claims the sending of a decided approval's held message: true once over all instances. */
  claimRelease(id: string): Promise<boolean>;
  /** Listens to approval changes (see ApprovalListener); returns the function that stops listening. */
  onApprovalChange(listener: ApprovalListener): () => void;
  /**
   * Resolves once changes made by other instances are heard (a shared store's notice channel is open), or after
   * `maxMs` when it cannot be opened yet (polling covers the gap). Absent for a store of one instance.
   */
  whenListening?(maxMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The values of a new active action, in the column order both stores insert them. */
export function actionValues(r: Omit<ActionRecord, 'status'>): unknown[] {
  return [
    r.id,
    r.device,
    r.deviceName,
    r.action,
    r.targetKind,
    r.target,
    r.caseId ?? null,
    r.created,
    r.expiresAt ?? null,
    r.result === undefined ? null : JSON.stringify(r.result),
  ];
}

/** A row of the actions table, as both stores keep it. */
export interface ActionRow {
  id: string;
  device: string;
  device_name: string;
  action: string;
  target_kind: string;
  target: string;
  case_id: string | null;
  status: string;
  created: string;
  expires_at: number | null;
  result: string | null;
  finished: string | null;
}

/** A row of the approvals table, as both stores keep it. */
export interface ApprovalRow {
  id: string;
  node: string;
  status: string;
  created: string;
  expires_at: number;
  summary: string;
  request: string;
  case_id: string | null;
  decided_by: string | null;
  decided_at: string | null;
  comment: string | null;
  holder: string | null;
  released: number | boolean;
}

export function toAction(r: ActionRow): ActionRecord {
  const out: ActionRecord = {
    id: r.id,
    device: r.device,
    deviceName: r.device_name,
    action: r.action as Capability,
    targetKind: r.target_kind,
    target: r.target,
    status: r.status as ActionRecordStatus,
    created: r.created,
  };
  if (r.case_id !== null) out.caseId = r.case_id;
  if (r.expires_at !== null) out.expiresAt = Number(r.expires_at);
  if (r.result !== null) out.result = JSON.parse(r.result) as ActionResult;
  if (r.finished !== null) out.finished = r.finished;
  return out;
}

export function toApproval(r: ApprovalRow): ApprovalRecord {
  const out: ApprovalRecord = {
    id: r.id,
    node: r.node,
    status: r.status as ApprovalStatus,
    created: r.created,
    expiresAt: Number(r.expires_at),
    summary: r.summary,
    request: JSON.parse(r.request) as unknown,
    released: r.released === true || r.released === 1,
  };
  if (r.case_id !== null) out.caseId = r.case_id;
  if (r.decided_by !== null) out.decidedBy = r.decided_by;
  if (r.decided_at !== null) out.decidedAt = r.decided_at;
  if (r.comment !== null) out.comment = r.comment;
  if (r.holder !== null) out.holder = r.holder;
  return out;
}

/** Defaults of `dueActions`: a batch, and how long a claimed batch is left to the instance reverting it. */
export const DUE_BATCH = 10;
export const DUE_CLAIM_MS = 10 * 60_000;

/** The listeners of a store's approval changes; one that throws does not break the change that told it. */
export class ApprovalListeners {
  private readonly listeners = new Set<ApprovalListener>();

  add(listener: ApprovalListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get size(): number {
    return this.listeners.size;
  }

  emit(notice?: ApprovalNotice): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(notice);
      } catch {
        // a listener's bug is its own
      }
    }
  }
}
