import { randomUUID } from 'node:crypto';
import type { Node, NodeAPI, NodeDef, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import { acquireCaseStore, releaseCaseStore, type Case, type CaseStore } from '../../lib/cases';
import { ApprovalTracker } from '../../lib/response/approval-tracker';
import type { ResponseOutcome, ResponseRequest } from '../../lib/response/engine';
import type { ApprovalRecord, ApprovalStatus, ResponseStore } from '../../lib/response/response-store';
import { acquireResponseStore, releaseResponseStore } from '../../lib/response/response-stores';
import { acquireResponseRuntime, releaseResponseRuntime, type ResponseRuntime } from '../../lib/response/runtime';
import { caseStoreOptions, auditFile, storeLocation, type SoarSettings } from '../../lib/settings';
import { redactStoreUrl, isPostgresUrl } from '../../lib/store/pg/pool';

interface ApprovalNodeDef extends NodeDef {
  timeoutMinutes?: number | string;
  summary?: string;
}

type Decision = 'approve' | 'deny';

/** What leaves the node, on every output. */
interface ApprovalInfo {
  id: string;
  decision: Decision | 'timeout';
  by: string;
  at: string;
  comment?: string;
}

type HeldMessage = NodeMessageInFlow & {
  response?: { request?: ResponseRequest; outcome?: ResponseOutcome };
  caseId?: string;
  case?: Case;
  approval?: ApprovalInfo;
};

/** The answer of a node asked to decide an approval it holds (used by the admin route). */
type DecideResult = { ok: true; approval: ApprovalRecord } | { ok: false; status: 404 | 409; error: string };

/**
 * What the admin route needs from the node holding an approval (a `soar-approval`, or another node that parks
 * messages in the approvals table and implements the same method).
 */
interface ApprovalHolder {
  decideApproval(id: string, decision: Decision, by: string, comment?: string): Promise<DecideResult>;
}

const DEFAULT_TIMEOUT_MINUTES = 60;
/** Fractions of a minute are allowed (down to 0.6 s), mainly for tests and demonstrations. */
const MIN_TIMEOUT_MINUTES = 0.01;
/** Seven days. */
const MAX_TIMEOUT_MINUTES = 10080;
const MAX_COMMENT_LENGTH = 2000;
const MAX_SUMMARY_LENGTH = 1000;

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The configured timeout in minutes, or an error message. */
function parseTimeout(value: unknown): number | string {
  if (value === undefined || value === null || value === '') return DEFAULT_TIMEOUT_MINUTES;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || n < MIN_TIMEOUT_MINUTES || n > MAX_TIMEOUT_MINUTES) {
    return `the timeout must be a number of minutes from ${MIN_TIMEOUT_MINUTES} to ${MAX_TIMEOUT_MINUTES} (7 days), not ${JSON.stringify(value)}`;
  }
  return n;
}

/** Checks the body of `POST /soar/approvals/:id`; returns the decision or an error message. */
function parseDecision(body: unknown): { decision: Decision; comment?: string } | string {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return 'the body must be a JSON object {"decision": "approve"|"deny", "comment": "…"}';
  }
  const { decision, comment } = body as { decision?: unknown; comment?: unknown };
  if (decision !== 'approve' && decision !== 'deny') {
    return `decision must be "approve" or "deny", not ${JSON.stringify(decision) ?? 'missing'}`;
  }
  if (comment !== undefined && comment !== null && typeof comment !== 'string') return 'comment must be a string';
  if (typeof comment === 'string' && comment.length > MAX_COMMENT_LENGTH) {
    return `comment must be at most ${MAX_COMMENT_LENGTH} characters (it has ${comment.length})`;
  }
  return typeof comment === 'string' && comment !== '' ? { decision, comment } : { decision };
}

/** The case a held message belongs to. */
function caseIdOf(msg: HeldMessage): string | undefined {
  return (
    text(msg.response?.request?.caseId) ?? text(msg.response?.outcome?.caseId) ?? text(msg.caseId) ?? text(msg.case?.id)
  );
}

/** `block-ip 203.0.113.9 on fw-edge (case CASE-12)` for a response request, else the topic. */
function defaultSummary(msg: HeldMessage): string {
  const request = msg.response?.request;
  if (request && typeof request === 'object' && text(request.action)) {
    const target = text(msg.response?.outcome?.target?.value) ?? text(request.target?.value) ?? '';
    const outcomes = Array.isArray(msg.response?.outcome?.devices) ? (msg.response?.outcome?.devices ?? []) : [];
    const waiting = outcomes.filter((d) => d?.status === 'pending-approval');
    const devices = (waiting.length > 0 ? waiting : outcomes).map((d) => d?.deviceName).filter(text);
    const caseId = caseIdOf(msg);
    return [
      request.action,
      target,
      devices.length > 0 ? `on ${devices.join(', ')}` : '',
      caseId ? `(case ${caseId})` : '',
    ]
      .filter((part) => part !== '')
      .join(' ');
  }
  return text(msg.topic) ?? `message ${msg._msgid ?? ''}`.trim();
}

/** The message as JSON data, without the HTTP request and response objects of an `http in` node. */
function storable(msg: HeldMessage): Record<string, unknown> {
  const { req: _req, res: _res, ...rest } = msg as HeldMessage & { req?: unknown; res?: unknown };
  return JSON.parse(JSON.stringify(rest)) as Record<string, unknown>;
}

function statusWords(status: ApprovalStatus): string {
  return status === 'timeout' ? 'timed out' : status;
}

/** The 409 answer for an approval that is no longer pending. */
function conflictMessage(record: ApprovalRecord): string {
  if (record.status === 'timeout') return `already timed out at ${record.decidedAt ?? '?'}`;
  return `already ${statusWords(record.status)} by ${record.decidedBy ?? 'anonymous'} at ${record.decidedAt ?? '?'}`;
}

/** A store location for messages: a PostgreSQL URL without its password. */
function shown(location: string): string {
  return isPostgresUrl(location) ? redactStoreUrl(location) : location;
}

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
  const location = () => storeLocation(settings().soar, settings().userDir);

  // The admin API reads the approvals of the current settings' store, opened on first use.
  let api: { location: string; store: ResponseStore } | undefined;
  const approvals = (): ResponseStore => {
    const current = location();
    if (api?.location !== current) {
      if (api) releaseResponseStore(api.location);
      api = undefined;
      api = { location: current, store: acquireResponseStore(current, { synchronous: settings().soar?.sync }) };
    }
    return api.store;
  };
  const user = (req: Request) => (req as Request & { user?: { username?: string } }).user?.username;

  /** An approval as the admin API shows it: without the held message, times in ISO 8601. */
  const view = (a: ApprovalRecord) => ({
    id: a.id,
    node: a.node,
    status: a.status,
    summary: a.summary,
    ...(a.caseId !== undefined ? { caseId: a.caseId } : {}),
    created: a.created,
    expiresAt: new Date(a.expiresAt).toISOString(),
    ...(a.decidedBy !== undefined ? { decidedBy: a.decidedBy } : {}),
    ...(a.decidedAt !== undefined ? { decidedAt: a.decidedAt } : {}),
    ...(a.comment !== undefined ? { comment: a.comment } : {}),
  });

  RED.httpAdmin.get('/soar/approvals', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    (async () => approvals().pendingApprovals())().then(
      (pending) => {
        const items = pending.map((a) => {
          const { status: _status, ...item } = view(a);
          return item;
        });
        res.json({ items });
      },
      (err: Error) => res.status(500).json({ error: `approvals: ${err.message}` }),
    );
  });

  RED.httpAdmin.post('/soar/approvals/:id', RED.auth.needsPermission('soar.write'), (req: Request, res: Response) => {
    const parsed = parseDecision(req.body);
    if (typeof parsed === 'string') {
      res.status(400).json({ error: parsed });
      return;
    }
    const id = req.params.id as string;
    const decideIt = async (): Promise<{ status: number; body: object }> => {
      let record: ApprovalRecord | undefined;
      try {
        record = await approvals().approval(id);
      } catch (err) {
        return { status: 500, body: { error: `approvals: ${(err as Error).message}` } };
      }
      if (!record) return { status: 404, body: { error: `no approval with id "${id}"` } };
      if (record.status !== 'pending') return { status: 409, body: { error: conflictMessage(record) } };
      // With a store shared by several instances the node is deployed on each (the same flows): this instance's node
      // records the decision, and the instance holding the message sends it on.
      const holder = RED.nodes.getNode(record.node) as unknown as Partial<ApprovalHolder> | null;
      if (!holder || typeof holder.decideApproval !== 'function') {
        return {
          status: 503,
          body: {
            error: `the node holding this approval (${record.node}) is not deployed: the approval stays pending until it is`,
          },
        };
      }
      const result = await holder.decideApproval(id, parsed.decision, user(req) ?? 'anonymous', parsed.comment);
      return result.ok
        ? { status: 200, body: view(result.approval) }
        : { status: result.status, body: { error: result.error } };
    };
    decideIt().then(
      (answer) => res.status(answer.status).json(answer.body),
      (err: Error) => res.status(500).json({ error: `approval ${id}: ${err.message}` }),
    );
  });

  function SoarApproval(this: Node, config: ApprovalNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const soar = settings().soar;
    const storeAt = location();
    const timeout = parseTimeout(config.timeoutMinutes);
    if (typeof timeout === 'string') {
      node.status({ fill: 'red', shape: 'ring', text: 'bad timeout' });
      node.error(timeout);
      node.on('input', (_msg, _send, done) => done(new Error(timeout)));
      return;
    }
    let runtime: ResponseRuntime;
    let cases: CaseStore;
    try {
      runtime = acquireResponseRuntime({
        location: storeAt,
        auditFile: auditFile(soar, settings().userDir),
        ...caseStoreOptions(soar),
        protectedAssets: soar?.protectedAssets,
        actionsPerMinute: soar?.actionsPerMinute,
      });
    } catch (err) {
      const reason = `cannot open the response store ${shown(storeAt)}: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: 'store unavailable' });
      node.error(reason);
      node.on('input', (_msg, _send, done) => done(new Error(reason)));
      return;
    }
    try {
      cases = acquireCaseStore(storeAt, caseStoreOptions(soar));
    } catch (err) {
      releaseResponseRuntime(storeAt);
      const reason = `cannot open the case store ${shown(storeAt)}: ${(err as Error).message}`;
      node.status({ fill: 'red', shape: 'ring', text: 'case store unavailable' });
      node.error(reason);
      node.on('input', (_msg, _send, done) => done(new Error(reason)));
      return;
    }
    const { store, audit } = runtime;

    const summaryOf = (msg: HeldMessage): string => {
      const template = text(config.summary?.trim());
      const summary = template
        ? template.replace(/\{\{\s*([^{}\s]+)\s*\}\}/g, (_m, path: string) => {
            let value: unknown;
            try {
              value = RED.util.getMessageProperty(msg, path.startsWith('msg.') ? path.slice(4) : path);
            } catch {
              value = undefined;
            }
            if (value === undefined || value === null) return '';
            return typeof value === 'object' ? JSON.stringify(value) : String(value);
          })
        : defaultSummary(msg);
      return summary.length > MAX_SUMMARY_LENGTH ? `${summary.slice(0, MAX_SUMMARY_LENGTH - 1)}…` : summary;
    };

    /** Notes the outcome in the audit log and the case, then sends the held message on its output. */
    async function release(record: ApprovalRecord): Promise<void> {
      const id = record.id;
      const decision: ApprovalInfo['decision'] =
        record.status === 'approved' ? 'approve' : record.status === 'denied' ? 'deny' : 'timeout';
      const msg = record.request as HeldMessage;
      const request = msg.response?.request;
      const by = decision === 'timeout' ? 'timeout' : (record.decidedBy ?? 'anonymous');
      const at = record.decidedAt ?? new Date().toISOString();
      const approval: ApprovalInfo = { id, decision, by, at };
      if (record.comment !== undefined) approval.comment = record.comment;
      msg.approval = approval;
      if (decision === 'approve' && request && typeof request === 'object') {
        request.approval = { by, at, ...(record.comment !== undefined ? { comment: record.comment } : {}) };
      }
      const outcome = decision === 'approve' ? 'approved' : decision === 'deny' ? 'denied' : 'timeout';
      const action = text(request?.action);
      const target = text(request?.target?.value);
      try {
        audit.append({
          kind: 'approval',
          actor: by,
          caseId: record.caseId,
          action,
          target,
          outcome,
          detail: { comment: record.comment, approvalId: id, summary: record.summary },
        });
      } catch (err) {
        node.error(`approval ${id} (${outcome}) could not be written to the audit log: ${(err as Error).message}`);
      }
      if (record.caseId) {
        const words =
          decision === 'timeout'
            ? `not decided within ${timeout} minute${timeout === 1 ? '' : 's'}: timed out`
            : `${outcome} by ${by}${record.comment !== undefined ? ` — "${record.comment}"` : ''}`;
        try {
          const updated = await cases.update(record.caseId, (c, now) => {
            c.timeline.push({
              at: now,
              kind: 'approval',
              message: `${record.summary}: ${words}`,
              ...(decision === 'timeout' ? {} : { by }),
            });
            if (decision !== 'approve' && action && target) {
              // The actions the respond node recorded as waiting for this approval will not happen.
              for (const a of c.actions) {
                if (a.status === 'pending-approval' && a.action === action && a.target === target) a.status = 'denied';
              }
            }
            c.updated = now;
          });
          if (msg.case && typeof msg.case === 'object') msg.case = updated;
        } catch (err) {
          node.warn(`approval ${id}: the case ${record.caseId} was not updated: ${(err as Error).message}`);
        }
      }
      const index = decision === 'approve' ? 0 : decision === 'deny' ? 1 : 2;
      const out: (NodeMessage | null)[] = [null, null, null];
      out[index] = msg as NodeMessage;
      node.send(out);
    }

    // Holds this node's approvals: timeouts, decisions made through any instance sharing the store, and the
    // sending on of each decided message, once.
    const tracker = new ApprovalTracker({
      store,
      node: node.id,
      release,
      onChange: () => showStatus(),
      onError: (message) => node.error(message),
    });
    const showStatus = () => {
      const n = tracker.held;
      node.status(
        n > 0
          ? { fill: 'yellow', shape: 'ring', text: `${n} pending` }
          : { fill: 'green', shape: 'dot', text: '0 pending' },
      );
    };

    (node as unknown as ApprovalHolder).decideApproval = async (id, decision, by, comment) => {
      const result = await tracker.decide(id, decision, by, comment);
      if (result.ok) return { ok: true, approval: result.approval };
      if (result.reason === 'not-found') return { ok: false, status: 404, error: `no approval with id "${id}"` };
      return { ok: false, status: 409, error: conflictMessage(result.approval) };
    };

    node.on('input', (msg: HeldMessage, _send, done) => {
      const work = async () => {
        const id = randomUUID();
        const created = new Date();
        const summary = summaryOf(msg);
        const caseId = caseIdOf(msg);
        const record: Omit<ApprovalRecord, 'status'> = {
          id,
          node: node.id,
          created: created.toISOString(),
          expiresAt: created.getTime() + Math.round(timeout * 60_000),
          summary,
          request: storable(msg),
          ...(caseId ? { caseId } : {}),
        };
        // In the store before the message is acknowledged: it is held there, not in memory.
        await store.addApproval(record);
        tracker.track({ ...record, status: 'pending', holder: store.instance, released: false });
        if (caseId) {
          await cases
            .update(caseId, (c, now) => {
              c.timeline.push({ at: now, kind: 'approval', message: `waiting for approval: ${summary}` });
              c.updated = now;
            })
            .catch((err: Error) => node.warn(`approval ${id}: the case ${caseId} was not updated: ${err.message}`));
        }
      };
      work().then(
        () => done(),
        (err: Error) => done(err),
      );
    });

    // Approvals this node held before a restart or redeploy (and, with a shared store, those decided elsewhere or
    // left by an instance that is gone) are taken up once every node of the flows is there, so a message sent on
    // then (one whose time ran out meanwhile goes out on "timed out") has somewhere to go.
    let closed = false;
    const onStarted = () => {
      RED.events.off('flows:started', onStarted);
      if (closed) return;
      tracker.start().then(showStatus, (err: Error) => node.error(`approvals: ${err.message}`));
    };
    RED.events.on('flows:started', onStarted);
    node.status({ fill: 'grey', shape: 'ring', text: 'starting' });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      RED.events.off('flows:started', onStarted);
      tracker.close();
      delete (node as unknown as Partial<ApprovalHolder>).decideApproval;
      releaseCaseStore(storeAt);
      releaseResponseRuntime(storeAt);
      done();
    });
  }

  RED.nodes.registerType('soar-approval', SoarApproval);
};
