/**
 * What the response engine must not forget over a restart, in the store database: the actions in force (so an
 * action is not repeated, and an action with a duration is reverted when it expires, after a restart too) and the
 * approvals waiting for an analyst.
 */
import type Database from 'better-sqlite3';
import type { ActionResult, Capability } from '../devices/model';
import { soarEvents } from '../events';

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
}

interface ActionRow {
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

interface ApprovalRow {
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
}

function toAction(r: ActionRow): ActionRecord {
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
  if (r.expires_at !== null) out.expiresAt = r.expires_at;
  if (r.result !== null) out.result = JSON.parse(r.result) as ActionResult;
  if (r.finished !== null) out.finished = r.finished;
  return out;
}

function toApproval(r: ApprovalRow): ApprovalRecord {
  const out: ApprovalRecord = {
    id: r.id,
    node: r.node,
    status: r.status as ApprovalStatus,
    created: r.created,
    expiresAt: r.expires_at,
    summary: r.summary,
    request: JSON.parse(r.request) as unknown,
  };
  if (r.case_id !== null) out.caseId = r.case_id;
  if (r.decided_by !== null) out.decidedBy = r.decided_by;
  if (r.decided_at !== null) out.decidedAt = r.decided_at;
  if (r.comment !== null) out.comment = r.comment;
  return out;
}

export class ResponseStore {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS response_actions (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        device_name TEXT NOT NULL,
        action TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target TEXT NOT NULL,
        case_id TEXT,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        expires_at INTEGER,
        result TEXT,
        finished TEXT
      );
      CREATE INDEX IF NOT EXISTS response_actions_active
        ON response_actions (device, action, target) WHERE status = 'active';
      CREATE INDEX IF NOT EXISTS response_actions_expiry
        ON response_actions (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
      CREATE TABLE IF NOT EXISTS approvals (
        id TEXT PRIMARY KEY,
        node TEXT NOT NULL,
        status TEXT NOT NULL,
        created TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        summary TEXT NOT NULL,
        request TEXT NOT NULL,
        case_id TEXT,
        decided_by TEXT,
        decided_at TEXT,
        comment TEXT,
        used INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX IF NOT EXISTS approvals_pending ON approvals (status, expires_at);
    `);
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(approvals)').all();
    if (!columns.some((c) => c.name === 'used'))
      db.exec('ALTER TABLE approvals ADD COLUMN used INTEGER NOT NULL DEFAULT 0');
    this.stmt = {
      active: db.prepare<[string, string, string], ActionRow>(
        "SELECT * FROM response_actions WHERE device = ? AND action = ? AND target = ? AND status = 'active'",
      ),
      activeOn: db.prepare<[string, string], ActionRow>(
        "SELECT * FROM response_actions WHERE action = ? AND target = ? AND status = 'active' ORDER BY created",
      ),
      insertAction: db.prepare(
        `INSERT INTO response_actions (id, device, device_name, action, target_kind, target, case_id, status, created,
           expires_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)`,
      ),
      due: db.prepare<[number, number], ActionRow>(
        `SELECT * FROM response_actions WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?
         ORDER BY expires_at LIMIT ?`,
      ),
      nextExpiry: db.prepare<[], { next: number | null }>(
        "SELECT min(expires_at) AS next FROM response_actions WHERE status = 'active' AND expires_at IS NOT NULL",
      ),
      setResult: db.prepare('UPDATE response_actions SET result = ? WHERE id = ?'),
      postpone: db.prepare("UPDATE response_actions SET expires_at = ? WHERE id = ? AND status = 'active'"),
      finishAction: db.prepare(
        "UPDATE response_actions SET status = ?, finished = ? WHERE id = ? AND status = 'active'",
      ),
      listActive: db.prepare<[number], ActionRow>(
        "SELECT * FROM response_actions WHERE status = 'active' ORDER BY created DESC LIMIT ?",
      ),
      insertApproval: db.prepare(
        `INSERT INTO approvals (id, node, status, created, expires_at, summary, request, case_id)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?)`,
      ),
      approval: db.prepare<[string], ApprovalRow>('SELECT * FROM approvals WHERE id = ?'),
      pending: db.prepare<[], ApprovalRow>("SELECT * FROM approvals WHERE status = 'pending' ORDER BY created"),
      pendingOf: db.prepare<[string], ApprovalRow>(
        "SELECT * FROM approvals WHERE status = 'pending' AND node = ? ORDER BY created",
      ),
      consume: db.prepare("UPDATE approvals SET used = 1 WHERE id = ? AND status = 'approved' AND used = 0"),
      decide: db.prepare(
        `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?
         WHERE id = ? AND status = 'pending'`,
      ),
    };
  }

  /** The action in force for this device, action and target, if any. */
  activeAction(device: string, action: Capability, target: string): ActionRecord | undefined {
    const row = this.stmt.active.get(device, action, target);
    return row === undefined ? undefined : toAction(row);
  }

  /** Every action of this kind in force on a target, on any device (an undo ends them all). */
  activeOn(action: Capability, target: string): ActionRecord[] {
    return this.stmt.activeOn.all(action, target).map(toAction);
  }

  recordAction(r: Omit<ActionRecord, 'status'>): void {
    this.stmt.insertAction.run(
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
    );
  }

  /** What the device returned for an action recorded before it was called. */
  setResult(id: string, result: ActionResult): void {
    this.stmt.setResult.run(JSON.stringify(result), id);
  }

  /** Moves an active action's expiry (a revert that failed is tried again then). */
  postpone(id: string, expiresAt: number): void {
    this.stmt.postpone.run(expiresAt, id);
  }

  /** Active actions whose expiry has come, oldest first. */
  dueActions(now: number, limit = 100): ActionRecord[] {
    return this.stmt.due.all(now, limit).map(toAction);
  }

  /** Epoch ms of the next expiry, or undefined. */
  nextExpiry(): number | undefined {
    return this.stmt.nextExpiry.get()?.next ?? undefined;
  }

  /** Ends an active action; false when it was not active (already ended elsewhere). */
  finishAction(id: string, status: Exclude<ActionRecordStatus, 'active'>, at = new Date().toISOString()): boolean {
    return this.stmt.finishAction.run(status, at, id).changes > 0;
  }

  activeActions(limit = 500): ActionRecord[] {
    return this.stmt.listActive.all(limit).map(toAction);
  }

  addApproval(a: Omit<ApprovalRecord, 'status'>): void {
    this.stmt.insertApproval.run(
      a.id,
      a.node,
      a.created,
      a.expiresAt,
      a.summary,
      JSON.stringify(a.request),
      a.caseId ?? null,
    );
    soarEvents.emit('approval', { id: a.id, status: 'pending', ...(a.caseId ? { caseId: a.caseId } : {}) });
  }

  approval(id: string): ApprovalRecord | undefined {
    const row = this.stmt.approval.get(id);
    return row === undefined ? undefined : toApproval(row);
  }

  pendingApprovals(node?: string): ApprovalRecord[] {
    return (node === undefined ? this.stmt.pending.all() : this.stmt.pendingOf.all(node)).map(toApproval);
  }

  /**
   * Uses an approval up: true once for an approved approval, false ever after (or when it is not approved), so an
   * approved message cannot be replayed into a second action.
   */
  consumeApproval(id: string): boolean {
    return this.stmt.consume.run(id).changes > 0;
  }

  /** Records a decision once: false when the approval was no longer pending (decided, or timed out). */
  decide(id: string, status: Exclude<ApprovalStatus, 'pending'>, by: string | undefined, comment?: string): boolean {
    const at = new Date().toISOString();
    const decided = this.stmt.decide.run(status, by ?? null, at, comment ?? null, id).changes > 0;
    if (decided) soarEvents.emit('approval', { id, status });
    return decided;
  }
}
