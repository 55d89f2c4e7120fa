/**
 * The response store in the embedded SQLite database (one instance): synchronous better-sqlite3 statements behind
 * the async ResponseStore interface. Each call is one statement or one transaction, so what the engine checks and
 * records cannot interleave with another call.
 */
import type Database from 'better-sqlite3';
import type { ActionResult, Capability } from '../devices/model';
import { soarEvents } from '../events';
import { INSTANCE_ID } from '../store/pg/lease';
import {
  actionValues,
  ApprovalListeners,
  DUE_BATCH,
  DUE_CLAIM_MS,
  toAction,
  toApproval,
  type ActionRecord,
  type ActionRecordStatus,
  type ActionRow,
  type ApprovalListener,
  type ApprovalRecord,
  type ApprovalRow,
  type ApprovalStatus,
  type ResponseStore,
} from './response-store';

/** Adds a column an older store file lacks. */
function addColumn(db: Database.Database, table: string, column: string, definition: string): void {
  const columns = db.prepare<[], { name: string }>(`PRAGMA table_info(${table})`).all();
  if (!columns.some((c) => c.name === column)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${definition}`);
}

export class SqliteResponseStore implements ResponseStore {
  readonly shared = false;
  private readonly stmt;
  private readonly listeners = new ApprovalListeners();
  private readonly claimDue;

  constructor(
    private readonly db: Database.Database,
    readonly instance: string = INSTANCE_ID,
  ) {
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
    addColumn(db, 'approvals', 'used', 'INTEGER NOT NULL DEFAULT 0');
    addColumn(db, 'response_actions', 'claimed_until', 'INTEGER');
    addColumn(db, 'approvals', 'holder', 'TEXT');
    // Approvals decided before releases were recorded went out then: they count as released (new ones start at 0).
    addColumn(db, 'approvals', 'released', 'INTEGER NOT NULL DEFAULT 1');
    // One action of a kind in force per device and target: the unique index makes a second record fail atomically.
    db.exec(`
      DROP INDEX IF EXISTS response_actions_active;
      CREATE UNIQUE INDEX IF NOT EXISTS response_actions_one_active
        ON response_actions (device, action, target) WHERE status = 'active';
    `);
    this.stmt = {
      active: db.prepare<[string, string, string], ActionRow>(
        "SELECT * FROM response_actions WHERE device = ? AND action = ? AND target = ? AND status = 'active'",
      ),
      activeOn: db.prepare<[string, string], ActionRow>(
        "SELECT * FROM response_actions WHERE action = ? AND target = ? AND status = 'active' ORDER BY created",
      ),
      insertAction: db.prepare(
        `INSERT INTO response_actions (id, device, device_name, action, target_kind, target, case_id, status, created,
           expires_at, result) VALUES (?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?) ON CONFLICT DO NOTHING`,
      ),
      due: db.prepare<[number, number, number], ActionRow>(
        `SELECT * FROM response_actions WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= ?
           AND (claimed_until IS NULL OR claimed_until <= ?)
         ORDER BY expires_at LIMIT ?`,
      ),
      claim: db.prepare('UPDATE response_actions SET claimed_until = ? WHERE id = ?'),
      nextExpiry: db.prepare<[], { next: number | null }>(
        `SELECT min(max(expires_at, coalesce(claimed_until, 0))) AS next FROM response_actions
         WHERE status = 'active' AND expires_at IS NOT NULL`,
      ),
      setResult: db.prepare('UPDATE response_actions SET result = ? WHERE id = ?'),
      postpone: db.prepare(
        "UPDATE response_actions SET expires_at = ?, claimed_until = NULL WHERE id = ? AND status = 'active'",
      ),
      finishAction: db.prepare(
        "UPDATE response_actions SET status = ?, finished = ? WHERE id = ? AND status = 'active'",
      ),
      listActive: db.prepare<[number], ActionRow>(
        "SELECT * FROM response_actions WHERE status = 'active' ORDER BY created DESC LIMIT ?",
      ),
      insertApproval: db.prepare(
        `INSERT INTO approvals (id, node, status, created, expires_at, summary, request, case_id, holder, released)
         VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, 0)`,
      ),
      approval: db.prepare<[string], ApprovalRow>('SELECT * FROM approvals WHERE id = ?'),
      pending: db.prepare<[], ApprovalRow>("SELECT * FROM approvals WHERE status = 'pending' ORDER BY created"),
      pendingOf: db.prepare<[string], ApprovalRow>(
        "SELECT * FROM approvals WHERE status = 'pending' AND node = ? ORDER BY created",
      ),
      unreleasedOf: db.prepare<[string], ApprovalRow>(
        "SELECT * FROM approvals WHERE status <> 'pending' AND released = 0 AND node = ? ORDER BY decided_at",
      ),
      consume: db.prepare("UPDATE approvals SET used = 1 WHERE id = ? AND status = 'approved' AND used = 0"),
      decide: db.prepare<
        [string, string | null, string, string | null, string],
        { node: string; case_id: string | null }
      >(
        `UPDATE approvals SET status = ?, decided_by = ?, decided_at = ?, comment = ?
         WHERE id = ? AND status = 'pending' RETURNING node, case_id`,
      ),
      release: db.prepare("UPDATE approvals SET released = 1 WHERE id = ? AND status <> 'pending' AND released = 0"),
    };
    this.claimDue = db.transaction((now: number, limit: number, claimMs: number): ActionRow[] => {
      const rows = this.stmt.due.all(now, now, limit);
      for (const row of rows) this.stmt.claim.run(now + claimMs, row.id);
      return rows;
    });
  }

  async activeAction(device: string, action: Capability, target: string): Promise<ActionRecord | undefined> {
    const row = this.stmt.active.get(device, action, target);
    return row === undefined ? undefined : toAction(row);
  }

  async activeOn(action: Capability, target: string): Promise<ActionRecord[]> {
    return this.stmt.activeOn.all(action, target).map(toAction);
  }

  async recordAction(
    r: Omit<ActionRecord, 'status'>,
  ): Promise<{ recorded: true } | { recorded: false; active?: ActionRecord }> {
    const changes = this.stmt.insertAction.run(...actionValues(r)).changes;
    if (changes > 0) return { recorded: true };
    return { recorded: false, active: await this.activeAction(r.device, r.action, r.target) };
  }

  async setResult(id: string, result: ActionResult): Promise<void> {
    this.stmt.setResult.run(JSON.stringify(result), id);
  }

  async postpone(id: string, expiresAt: number): Promise<void> {
    this.stmt.postpone.run(expiresAt, id);
  }

  async dueActions(now: number, limit = DUE_BATCH, claimMs = DUE_CLAIM_MS): Promise<ActionRecord[]> {
    return this.claimDue(now, limit, claimMs).map(toAction);
  }

  async nextExpiry(): Promise<number | undefined> {
    return this.stmt.nextExpiry.get()?.next ?? undefined;
  }

  async finishAction(
    id: string,
    status: Exclude<ActionRecordStatus, 'active'>,
    at = new Date().toISOString(),
  ): Promise<boolean> {
    return this.stmt.finishAction.run(status, at, id).changes > 0;
  }

  async activeActions(limit = 500): Promise<ActionRecord[]> {
    return this.stmt.listActive.all(limit).map(toAction);
  }

  async addApproval(a: Omit<ApprovalRecord, 'status' | 'holder' | 'released'>): Promise<void> {
    this.stmt.insertApproval.run(
      a.id,
      a.node,
      a.created,
      a.expiresAt,
      a.summary,
      JSON.stringify(a.request),
      a.caseId ?? null,
      this.instance,
    );
    const notice = { id: a.id, node: a.node, status: 'pending' as const, ...(a.caseId ? { caseId: a.caseId } : {}) };
    soarEvents.emit('approval', { id: a.id, status: 'pending', ...(a.caseId ? { caseId: a.caseId } : {}) });
    this.listeners.emit(notice);
  }

  async approval(id: string): Promise<ApprovalRecord | undefined> {
    const row = this.stmt.approval.get(id);
    return row === undefined ? undefined : toApproval(row);
  }

  async pendingApprovals(node?: string): Promise<ApprovalRecord[]> {
    return (node === undefined ? this.stmt.pending.all() : this.stmt.pendingOf.all(node)).map(toApproval);
  }

  async unreleasedApprovals(node: string): Promise<ApprovalRecord[]> {
    return this.stmt.unreleasedOf.all(node).map(toApproval);
  }

  async consumeApproval(id: string): Promise<boolean> {
    return this.stmt.consume.run(id).changes > 0;
  }

  async decide(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    by: string | undefined,
    comment?: string,
  ): Promise<boolean> {
    const at = new Date().toISOString();
    const row = this.stmt.decide.get(status, by ?? null, at, comment ?? null, id);
    if (row === undefined) return false;
    soarEvents.emit('approval', { id, status });
    this.listeners.emit({ id, node: row.node, status, ...(row.case_id !== null ? { caseId: row.case_id } : {}) });
    return true;
  }

  async claimRelease(id: string): Promise<boolean> {
    return this.stmt.release.run(id).changes > 0;
  }

  onApprovalChange(listener: ApprovalListener): () => void {
    return this.listeners.add(listener);
  }

  /** The database belongs to whoever opened it (shared in the process): closing the store leaves it open. */
  async close(): Promise<void> {}
}
