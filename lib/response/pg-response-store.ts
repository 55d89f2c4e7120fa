/**
 * The response store in PostgreSQL, shared by several Node-RED instances:
 * - one action of a kind in force per device and target: a partial unique index, so of two instances recording the
 *   same action at once one records and the other finds it in force;
 * - expiries: due actions are claimed (`FOR UPDATE SKIP LOCKED`, then a claim time), so two sweeping instances never
 *   revert the same action, and the claim of an instance that died lapses for another to take over;
 * - approvals: decided once (`WHERE status = 'pending'`), released once (`WHERE NOT released`), and every change is
 *   announced on the `soar_approvals` channel (LISTEN/NOTIFY) so the instance holding the message learns of a
 *   decision made through another one at once.
 * Errors name the store (its URL without the password) and the operation; an outage fails the operation, the pool
 * reconnects once the server is back, and so does the listening connection.
 */
import { Client, type Pool, type QueryResultRow } from 'pg';
import type { ActionResult, Capability } from '../devices/model';
import { soarEvents } from '../events';
import { INSTANCE_ID } from '../store/pg/lease';
import { migrate, type Migration } from '../store/pg/migrate';
import { redactStoreUrl } from '../store/pg/pool';
import {
  actionValues,
  ApprovalListeners,
  DUE_BATCH,
  DUE_CLAIM_MS,
  ResponseStoreError,
  toAction,
  toApproval,
  type ActionRecord,
  type ActionRecordStatus,
  type ActionRow,
  type ApprovalListener,
  type ApprovalNotice,
  type ApprovalRecord,
  type ApprovalRow,
  type ApprovalStatus,
  type ResponseStore,
} from './response-store';

/** The NOTIFY channel of approval changes. */
export const APPROVAL_CHANNEL = 'soar_approvals';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'response actions in force and approvals',
    up: `
      CREATE TABLE soar_response_actions (
        id text PRIMARY KEY,
        device text NOT NULL,
        device_name text NOT NULL,
        action text NOT NULL,
        target_kind text NOT NULL,
        target text NOT NULL,
        case_id text,
        status text NOT NULL,
        created text NOT NULL,
        expires_at bigint,
        result text,
        finished text,
        claimed_until bigint);
      CREATE UNIQUE INDEX soar_response_actions_one_active
        ON soar_response_actions (device, action, target) WHERE status = 'active';
      CREATE INDEX soar_response_actions_on_target
        ON soar_response_actions (action, target) WHERE status = 'active';
      CREATE INDEX soar_response_actions_expiry
        ON soar_response_actions (expires_at) WHERE status = 'active' AND expires_at IS NOT NULL;
      CREATE TABLE soar_approvals (
        id text PRIMARY KEY,
        node text NOT NULL,
        status text NOT NULL,
        created text NOT NULL,
        expires_at bigint NOT NULL,
        summary text NOT NULL,
        request text NOT NULL,
        case_id text,
        decided_by text,
        decided_at text,
        comment text,
        used boolean NOT NULL DEFAULT false,
        holder text,
        released boolean NOT NULL DEFAULT false);
      CREATE INDEX soar_approvals_pending ON soar_approvals (node, created) WHERE status = 'pending';
      CREATE INDEX soar_approvals_unreleased ON soar_approvals (node) WHERE status <> 'pending' AND NOT released;`,
  },
];

/** The words of an error, also for those that carry none (an AggregateError of several refused addresses). */
function reasonOf(err: unknown): string {
  const e = err as Error & { code?: string; errors?: unknown[] };
  if (e?.message) return e.message;
  if (Array.isArray(e?.errors) && e.errors.length > 0) return reasonOf(e.errors[0]);
  return e?.code ?? String(err);
}

/** How long the listening connection waits before connecting again, at most. */
const MAX_RELISTEN_MS = 30_000;

export class PgResponseStore implements ResponseStore {
  readonly shared = true;
  private readonly where: string;
  private migrated: Promise<void> | undefined;
  private readonly listeners = new ApprovalListeners();
  private listening: Client | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private relistenMs = 500;
  /** Whether notices may have been missed (the listening connection broke since it last listened). */
  private missed = false;
  /** Resolved the first time the listening connection listens. */
  private markListening: (() => void) | undefined;
  private readonly listeningOnce = new Promise<void>((resolve) => (this.markListening = resolve));
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly url: string,
    readonly instance: string = INSTANCE_ID,
  ) {
    this.where = redactStoreUrl(url);
  }

  /** Applies the migrations once; tried again on the next call when the server was unreachable. */
  private ready(): Promise<void> {
    this.migrated ??= migrate(this.pool, 'response', MIGRATIONS).then(
      () => undefined,
      (err: unknown) => {
        this.migrated = undefined;
        throw err;
      },
    );
    return this.migrated;
  }

  private async query<R extends QueryResultRow>(what: string, sql: string, params: unknown[] = []): Promise<R[]> {
    try {
      await this.ready();
      return (await this.pool.query<R>(sql, params)).rows;
    } catch (err) {
      throw new ResponseStoreError(`response store ${this.where}: ${what} failed: ${reasonOf(err)}`);
    }
  }

  async activeAction(device: string, action: Capability, target: string): Promise<ActionRecord | undefined> {
    const rows = await this.query<ActionRow>(
      'reading the action in force',
      `SELECT * FROM soar_response_actions WHERE device = $1 AND action = $2 AND target = $3 AND status = 'active'`,
      [device, action, target],
    );
    return rows[0] === undefined ? undefined : toAction(rows[0]);
  }

  async activeOn(action: Capability, target: string): Promise<ActionRecord[]> {
    const rows = await this.query<ActionRow>(
      'reading the actions in force',
      `SELECT * FROM soar_response_actions WHERE action = $1 AND target = $2 AND status = 'active' ORDER BY created`,
      [action, target],
    );
    return rows.map(toAction);
  }

  async recordAction(
    r: Omit<ActionRecord, 'status'>,
  ): Promise<{ recorded: true } | { recorded: false; active?: ActionRecord }> {
    const rows = await this.query<{ id: string }>(
      `recording ${r.action} ${r.target}`,
      `INSERT INTO soar_response_actions (id, device, device_name, action, target_kind, target, case_id, status,
         created, expires_at, result) VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $9, $10)
       ON CONFLICT DO NOTHING RETURNING id`,
      actionValues(r),
    );
    if (rows.length > 0) return { recorded: true };
    return { recorded: false, active: await this.activeAction(r.device, r.action, r.target) };
  }

  async setResult(id: string, result: ActionResult): Promise<void> {
    await this.query('recording a device result', 'UPDATE soar_response_actions SET result = $1 WHERE id = $2', [
      JSON.stringify(result),
      id,
    ]);
  }

  async postpone(id: string, expiresAt: number): Promise<void> {
    await this.query(
      'postponing an expiry',
      `UPDATE soar_response_actions SET expires_at = $1, claimed_until = NULL WHERE id = $2 AND status = 'active'`,
      [expiresAt, id],
    );
  }

  async dueActions(now: number, limit = DUE_BATCH, claimMs = DUE_CLAIM_MS): Promise<ActionRecord[]> {
    // Rows another instance is claiming right now are skipped, not waited for; one it has claimed is not due.
    const rows = await this.query<ActionRow>(
      'claiming due actions',
      `UPDATE soar_response_actions SET claimed_until = $1::bigint + $3::bigint
       WHERE id IN (
         SELECT id FROM soar_response_actions
         WHERE status = 'active' AND expires_at IS NOT NULL AND expires_at <= $1
           AND (claimed_until IS NULL OR claimed_until <= $1)
         ORDER BY expires_at LIMIT $2
         FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [now, limit, claimMs],
    );
    return rows.map(toAction).sort((a, b) => (a.expiresAt ?? 0) - (b.expiresAt ?? 0));
  }

  async nextExpiry(): Promise<number | undefined> {
    const rows = await this.query<{ next: number | string | null }>(
      'reading the next expiry',
      `SELECT min(greatest(expires_at, claimed_until)) AS next FROM soar_response_actions
       WHERE status = 'active' AND expires_at IS NOT NULL`,
    );
    const next = rows[0]?.next;
    return next === null || next === undefined ? undefined : Number(next);
  }

  async finishAction(
    id: string,
    status: Exclude<ActionRecordStatus, 'active'>,
    at = new Date().toISOString(),
  ): Promise<boolean> {
    const rows = await this.query<{ id: string }>(
      `ending an action (${status})`,
      `UPDATE soar_response_actions SET status = $1, finished = $2 WHERE id = $3 AND status = 'active' RETURNING id`,
      [status, at, id],
    );
    return rows.length > 0;
  }

  async activeActions(limit = 500): Promise<ActionRecord[]> {
    const rows = await this.query<ActionRow>(
      'listing the actions in force',
      `SELECT * FROM soar_response_actions WHERE status = 'active' ORDER BY created DESC LIMIT $1`,
      [limit],
    );
    return rows.map(toAction);
  }

  async addApproval(a: Omit<ApprovalRecord, 'status' | 'holder' | 'released'>): Promise<void> {
    await this.query(
      'storing an approval',
      `WITH added AS (
         INSERT INTO soar_approvals (id, node, status, created, expires_at, summary, request, case_id, holder)
         VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8) RETURNING id, node, status, case_id)
       SELECT pg_notify('${APPROVAL_CHANNEL}', json_build_object('id', id, 'node', node, 'status', status,
         'caseId', case_id, 'origin', $8::text)::text) FROM added`,
      [a.id, a.node, a.created, a.expiresAt, a.summary, JSON.stringify(a.request), a.caseId ?? null, this.instance],
    );
    this.tell({ id: a.id, node: a.node, status: 'pending', ...(a.caseId ? { caseId: a.caseId } : {}) });
  }

  async approval(id: string): Promise<ApprovalRecord | undefined> {
    const rows = await this.query<ApprovalRow>('reading an approval', 'SELECT * FROM soar_approvals WHERE id = $1', [
      id,
    ]);
    return rows[0] === undefined ? undefined : toApproval(rows[0]);
  }

  async pendingApprovals(node?: string): Promise<ApprovalRecord[]> {
    const rows = await this.query<ApprovalRow>(
      'listing pending approvals',
      `SELECT * FROM soar_approvals WHERE status = 'pending' AND ($1::text IS NULL OR node = $1) ORDER BY created`,
      [node ?? null],
    );
    return rows.map(toApproval);
  }

  async unreleasedApprovals(node: string): Promise<ApprovalRecord[]> {
    const rows = await this.query<ApprovalRow>(
      'listing decided approvals',
      `SELECT * FROM soar_approvals WHERE status <> 'pending' AND NOT released AND node = $1 ORDER BY decided_at`,
      [node],
    );
    return rows.map(toApproval);
  }

  async consumeApproval(id: string): Promise<boolean> {
    const rows = await this.query<{ id: string }>(
      'using an approval',
      `UPDATE soar_approvals SET used = true WHERE id = $1 AND status = 'approved' AND NOT used RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  async decide(
    id: string,
    status: Exclude<ApprovalStatus, 'pending'>,
    by: string | undefined,
    comment?: string,
  ): Promise<boolean> {
    const rows = await this.query<{ node: string; case_id: string | null }>(
      `recording the decision on approval ${id}`,
      `WITH decided AS (
         UPDATE soar_approvals SET status = $1, decided_by = $2, decided_at = $3, comment = $4
         WHERE id = $5 AND status = 'pending' RETURNING id, node, status, case_id)
       SELECT node, case_id, pg_notify('${APPROVAL_CHANNEL}', json_build_object('id', id, 'node', node,
         'status', status, 'caseId', case_id, 'origin', $6::text)::text) FROM decided`,
      [status, by ?? null, new Date().toISOString(), comment ?? null, id, this.instance],
    );
    const row = rows[0];
    if (row === undefined) return false;
    this.tell({ id, node: row.node, status, ...(row.case_id !== null ? { caseId: row.case_id } : {}) });
    return true;
  }

  async claimRelease(id: string): Promise<boolean> {
    const rows = await this.query<{ id: string }>(
      `releasing the message of approval ${id}`,
      `UPDATE soar_approvals SET released = true WHERE id = $1 AND status <> 'pending' AND NOT released RETURNING id`,
      [id],
    );
    return rows.length > 0;
  }

  onApprovalChange(listener: ApprovalListener): () => void {
    const remove = this.listeners.add(listener);
    this.listen();
    return remove;
  }

  whenListening(maxMs = 5_000): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxMs);
      timer.unref();
      void this.listeningOnce.then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Tells this process's listeners (the sidebar and the nodes) of a change. */
  private tell(notice: ApprovalNotice): void {
    soarEvents.emit('approval', {
      id: notice.id,
      status: notice.status,
      ...(notice.caseId ? { caseId: notice.caseId } : {}),
    });
    this.listeners.emit(notice);
  }

  private onNotification(payload: string | undefined): void {
    let parsed: ApprovalNotice & { origin?: string; caseId?: string | null };
    try {
      parsed = JSON.parse(payload ?? '') as typeof parsed;
    } catch {
      return;
    }
    // This instance told its own listeners when it made the change.
    if (parsed.origin === this.instance || typeof parsed.id !== 'string' || typeof parsed.node !== 'string') return;
    this.tell({
      id: parsed.id,
      node: parsed.node,
      status: parsed.status,
      ...(typeof parsed.caseId === 'string' ? { caseId: parsed.caseId } : {}),
    });
  }

  /** One connection LISTENing while anyone listens; connected again (with backoff) when it breaks. */
  private listen(): void {
    if (this.closed || this.listening || this.relisten) return;
    const client = new Client({
      connectionString: this.url,
      application_name: 'node-red-contrib-soar approvals',
      // A listener that silently lost its server must notice (the 5 s poll covers the gap meanwhile).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 10_000,
    });
    this.listening = client;
    let lost = false;
    const onLost = () => {
      if (lost) return;
      lost = true;
      this.missed = true;
      if (this.listening === client) this.listening = undefined;
      client.end().catch(() => undefined);
      if (this.closed || this.listeners.size === 0) return;
      this.relisten = setTimeout(() => {
        this.relisten = undefined;
        this.listen();
      }, this.relistenMs);
      this.relisten.unref();
      this.relistenMs = Math.min(this.relistenMs * 2, MAX_RELISTEN_MS);
    };
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => {
      if (n.channel === APPROVAL_CHANNEL) this.onNotification(n.payload);
    });
    client
      .connect()
      .then(() => client.query(`LISTEN ${APPROVAL_CHANNEL}`))
      .then(() => {
        this.markListening?.();
        this.relistenMs = 500;
        // Changes made while the connection was down were not heard: the listeners look again.
        if (this.missed) this.listeners.emit();
        this.missed = false;
      }, onLost);
  }

  /** Stops listening; the pool belongs to whoever acquired it. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.relisten) clearTimeout(this.relisten);
    this.relisten = undefined;
    const client = this.listening;
    this.listening = undefined;
    if (client) await client.end().catch(() => undefined);
  }
}
