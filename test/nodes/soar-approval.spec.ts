import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import approvalNode from '../../nodes/soar-approval/soar-approval';
import { normalize } from '../../lib/alert';
import { verifyAuditLog, type AuditRecord } from '../../lib/audit';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import { auditFile, storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';

type Approval = { id: string; decision: string; by: string; at: string; comment?: string };
type Out = {
  payload?: unknown;
  topic?: string;
  approval: Approval;
  caseId?: string;
  case?: Case;
  response?: { request: { action: string; approval?: { by: string; at: string; comment?: string } } };
};

function flow(timeoutMinutes: number | string = 60, summary = '') {
  return [
    { id: 'tab', type: 'tab' },
    {
      id: 'gate',
      z: 'tab',
      type: 'soar-approval',
      name: '',
      timeoutMinutes,
      summary,
      wires: [['approved'], ['denied'], ['timedout']],
    },
    { id: 'approved', z: 'tab', type: 'helper' },
    { id: 'denied', z: 'tab', type: 'helper' },
    { id: 'timedout', z: 'tab', type: 'helper' },
  ];
}

/** A message as soar-respond's third output sends it. */
function respondMessage(caseId?: string) {
  return {
    payload: { note: 'from the playbook' },
    ...(caseId ? { caseId } : {}),
    response: {
      request: {
        action: 'block-ip',
        target: { kind: 'ip', value: '203.0.113.9' },
        ...(caseId ? { caseId } : {}),
        requestedBy: 'playbook:brute-force',
      },
      outcome: {
        status: 'needs-approval',
        action: 'block-ip',
        target: { kind: 'ip', value: '203.0.113.9' },
        at: new Date().toISOString(),
        dryRun: false,
        devices: [
          { device: 'd1', deviceName: 'fw-edge', status: 'pending-approval', detail: 'fw-edge requires approval' },
        ],
        ...(caseId ? { caseId } : {}),
      },
    },
  };
}

/** The next message on one of the three outputs (or on any, with `outputs`). */
function next(...outputs: string[]): Promise<{ output: string; msg: Out }> {
  return new Promise((resolve) => {
    const listeners: [ReturnType<typeof helper.getNode>, (m: object) => void][] = [];
    for (const output of outputs) {
      const n = helper.getNode(output);
      const listener = (m: object) => {
        for (const [node, l] of listeners) node.removeListener('input', l);
        resolve({ output, msg: m as Out });
      };
      listeners.push([n, listener]);
      n.on('input', listener);
    }
  });
}
const ALL = ['approved', 'denied', 'timedout'];

function send(msg: object): void {
  (helper.getNode('gate') as unknown as { receive: (m: object) => void }).receive(msg);
}

type Item = { id: string; node: string; summary: string; caseId?: string; created: string; expiresAt: string };

async function pending(): Promise<Item[]> {
  return (await helper.request().get('/soar/approvals').expect(200)).body.items as Item[];
}

/** Waits until `n` approvals are pending (the node stores them asynchronously after `receive`). */
async function waitPending(n: number): Promise<Item[]> {
  for (let i = 0; i < 200; i++) {
    const items = await pending();
    if (items.length >= n) return items;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${n} approvals never became pending`);
}

function auditEntries(dir: string): AuditRecord[] {
  const file = auditFile(undefined, dir);
  const verified = verifyAuditLog(file);
  assert.ok(verified.ok, JSON.stringify(verified.firstBad));
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditRecord);
}

const alertRaw = readFileSync(
  join(__dirname, '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
  'utf8',
);

describe('soar-approval', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(async () => {
    tmp = tempDir();
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  /** Opens a case in the store of this test's data dir; returns its id. */
  async function openCase(withPendingAction = true): Promise<string> {
    const file = storeFile(undefined, tmp.dir);
    const cases = acquireCaseStore(file);
    try {
      const normalized = normalize(JSON.parse(alertRaw));
      if (!normalized.ok) throw new Error(normalized.reason);
      const { case: c } = await cases.group(normalized.alert, { type: 'brute-force', key: 'k', windowMs: 3600_000 });
      if (withPendingAction) {
        await cases.update(c.id, (x, now) => {
          x.actions.push({ id: 'a1', at: now, action: 'block-ip', target: '203.0.113.9', status: 'pending-approval' });
        });
      }
      return c.id;
    } finally {
      releaseCaseStore(file);
    }
  }

  async function getCase(id: string): Promise<Case> {
    const file = storeFile(undefined, tmp.dir);
    try {
      const c = await acquireCaseStore(file).get(id);
      assert.ok(c, `case ${id} exists`);
      return c;
    } finally {
      releaseCaseStore(file);
    }
  }

  it('holds a response request and sends it on "approved" with the approval once an analyst approves', async () => {
    const caseId = await openCase();
    await helper.load([approvalNode], flow());
    send(respondMessage(caseId));
    const [item] = await waitPending(1);
    assert.equal(item.node, 'gate');
    assert.equal(item.caseId, caseId);
    assert.equal(item.summary, `block-ip 203.0.113.9 on fw-edge (case ${caseId})`);
    const expires = Date.parse(item.expiresAt) - Date.parse(item.created);
    assert.ok(Math.abs(expires - 3600_000) < 1000, `expires after ${expires} ms`);

    const out = next(...ALL);
    const answer = await helper
      .request()
      .post(`/soar/approvals/${item.id}`)
      .send({ decision: 'approve', comment: 'owner agrees' })
      .expect(200);
    assert.equal(answer.body.status, 'approved');
    assert.equal(answer.body.decidedBy, 'anonymous');
    assert.equal(answer.body.comment, 'owner agrees');
    assert.equal(answer.body.request, undefined, 'the answer does not echo the held message');
    assert.equal(answer.body.expiresAt, item.expiresAt);

    const { output, msg } = await out;
    assert.equal(output, 'approved');
    assert.deepEqual(msg.approval, {
      id: item.id,
      decision: 'approve',
      by: 'anonymous',
      at: answer.body.decidedAt,
      comment: 'owner agrees',
    });
    assert.deepEqual(msg.response?.request.approval, {
      by: 'anonymous',
      at: answer.body.decidedAt,
      comment: 'owner agrees',
    });
    assert.deepEqual(msg.payload, { note: 'from the playbook' });
    assert.deepEqual(await pending(), []);

    const entry = auditEntries(tmp.dir).find((e) => e.kind === 'approval');
    assert.ok(entry, 'an approval entry in the audit log');
    assert.equal(entry.actor, 'anonymous');
    assert.equal(entry.outcome, 'approved');
    assert.equal(entry.caseId, caseId);
    assert.equal(entry.action, 'block-ip');
    assert.equal(entry.target, '203.0.113.9');
    assert.deepEqual(entry.detail, {
      comment: 'owner agrees',
      approvalId: item.id,
      summary: item.summary,
    });

    const c = await getCase(caseId);
    const note = c.timeline.find((t) => t.kind === 'approval' && t.message.includes('approved'));
    assert.equal(note?.message, `${item.summary}: approved by anonymous — "owner agrees"`);
    assert.equal(note?.by, 'anonymous');
    assert.ok(c.timeline.some((t) => t.message === `waiting for approval: ${item.summary}`));
    assert.equal(c.actions[0].status, 'pending-approval', 'an approved action is left to soar-respond');
  });

  it('sends a denied message on "denied" and marks the waiting case action denied', async () => {
    const caseId = await openCase();
    await helper.load([approvalNode], flow());
    send({ ...respondMessage(caseId), case: { id: caseId } });
    const [item] = await waitPending(1);
    const out = next(...ALL);
    await helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'deny' }).expect(200);
    const { output, msg } = await out;
    assert.equal(output, 'denied');
    assert.equal(msg.approval.decision, 'deny');
    assert.equal(msg.approval.comment, undefined);
    assert.equal(msg.response?.request.approval, undefined, 'a denied request carries no approval');
    assert.equal(msg.case?.actions[0].status, 'denied', 'msg.case is the case after the decision');
    const c = await getCase(caseId);
    assert.equal(c.actions[0].status, 'denied');
    assert.ok(c.timeline.some((t) => t.message === `${item.summary}: denied by anonymous`));
    assert.equal(auditEntries(tmp.dir).find((e) => e.kind === 'approval')?.outcome, 'denied');
  });

  it('times out: sends on "timed out", audits it, and refuses a later decision with 409', async () => {
    const caseId = await openCase(false);
    await helper.load([approvalNode], flow(0.01));
    const out = next(...ALL);
    send(respondMessage(caseId));
    const { output, msg } = await out;
    assert.equal(output, 'timedout');
    assert.equal(msg.approval.decision, 'timeout');
    assert.equal(msg.approval.by, 'timeout');
    assert.deepEqual(await pending(), []);
    const answer = await helper
      .request()
      .post(`/soar/approvals/${msg.approval.id}`)
      .send({ decision: 'approve' })
      .expect(409);
    assert.match(answer.body.error, /^already timed out at \d{4}-/);
    const entry = auditEntries(tmp.dir).find((e) => e.kind === 'approval');
    assert.equal(entry?.outcome, 'timeout');
    assert.equal(entry?.actor, 'timeout');
    const c = await getCase(caseId);
    assert.ok(c.timeline.some((t) => t.kind === 'approval' && /timed out$/.test(t.message)));
  });

  it('is a generic gate for any message: summary from msg.topic or the configured template', async () => {
    await helper.load([approvalNode], flow(60));
    send({ topic: 'restart the mail gateway', payload: 42 });
    const [item] = await waitPending(1);
    assert.equal(item.summary, 'restart the mail gateway');
    assert.equal(item.caseId, undefined);
    const out = next(...ALL);
    await helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'approve', comment: 'ok' }).expect(200);
    const { output, msg } = await out;
    assert.equal(output, 'approved');
    assert.equal(msg.payload, 42);
    assert.equal(msg.topic, 'restart the mail gateway');
    assert.equal(msg.approval.comment, 'ok');
    assert.equal(msg.response, undefined);

    await helper.unload();
    await helper.load([approvalNode], flow(60, 'Isolate {{payload.host}} for {{msg.topic}}?'));
    send({ topic: 'CASE-7', payload: { host: 'ws-042' } });
    const [templated] = await waitPending(1);
    assert.equal(templated.summary, 'Isolate ws-042 for CASE-7?');
  });

  it('lists pending approvals and answers 400, 404 and 409 as it should', async () => {
    await helper.load([approvalNode], flow());
    send({ topic: 'one' });
    send({ topic: 'two' });
    const items = await waitPending(2);
    assert.deepEqual(items.map((i) => i.summary).sort(), ['one', 'two']);
    const id = items[0].id;
    const post = (body: unknown, target = id) =>
      helper
        .request()
        .post(`/soar/approvals/${target}`)
        .send(body as object);
    await post({ decision: 'maybe' }).expect(400);
    await post({}).expect(400);
    await post({ decision: 'approve', comment: 7 }).expect(400);
    await post({ decision: 'approve', comment: 'x'.repeat(2001) }).expect(400);
    await post([1, 2]).expect(400);
    await post({ decision: 'approve' }, 'no-such-approval').expect(404);
    assert.equal((await pending()).length, 2, 'a bad request decides nothing');
    const out = next(...ALL);
    await post({ decision: 'deny', comment: 'x'.repeat(2000) }).expect(200);
    assert.equal((await out).output, 'denied');
    const conflict = await post({ decision: 'approve' }).expect(409);
    assert.match(conflict.body.error, /^already denied by anonymous at \d{4}-/);
    assert.deepEqual(
      (await pending()).map((i) => i.summary),
      [items[1].summary],
    );
  });

  it('records one decision when two analysts decide at once', async () => {
    await helper.load([approvalNode], flow());
    send({ topic: 'race' });
    const [item] = await waitPending(1);
    const seen: string[] = [];
    for (const output of ALL) helper.getNode(output).on('input', () => seen.push(output));
    const answers = await Promise.all([
      helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'approve' }),
      helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'deny' }),
    ]);
    assert.deepEqual(answers.map((a) => a.status).sort(), [200, 409]);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seen.length, 1);
    const winner = answers.find((a) => a.status === 200)?.body.status;
    assert.equal(seen[0], winner === 'approved' ? 'approved' : 'denied');
    assert.equal(auditEntries(tmp.dir).filter((e) => e.kind === 'approval').length, 1);
  });

  it('keeps pending approvals over a restart and sends the message once approved afterwards', async () => {
    const caseId = await openCase();
    await helper.load([approvalNode], flow());
    send(respondMessage(caseId));
    const [item] = await waitPending(1);
    await helper.unload();
    await helper.load([approvalNode], flow());
    const [again] = await pending();
    assert.deepEqual(again, item);
    const out = next(...ALL);
    await helper
      .request()
      .post(`/soar/approvals/${item.id}`)
      .send({ decision: 'approve', comment: 'later' })
      .expect(200);
    const { output, msg } = await out;
    assert.equal(output, 'approved');
    assert.equal(msg.response?.request.approval?.comment, 'later');
    assert.equal(msg.caseId, caseId);
  });

  it('sends an approval whose time ran out while it was not deployed on "timed out" when it starts', async () => {
    await helper.load([approvalNode], flow(0.01));
    send({ topic: 'during downtime' });
    await waitPending(1);
    await helper.unload();
    await new Promise((r) => setTimeout(r, 700));
    // The helper resolves on "flows:started"; the overdue timeout fires on a later turn of the event loop.
    await helper.load([approvalNode], flow(0.01));
    const { output, msg } = await next(...ALL);
    assert.equal(output, 'timedout');
    assert.equal(msg.topic, 'during downtime');
    assert.deepEqual(await pending(), []);
  });

  it('answers 503 and keeps the approval pending while the node holding it is not deployed', async () => {
    await helper.load([approvalNode], flow());
    send({ topic: 'orphan' });
    const [item] = await waitPending(1);
    await helper.unload();
    await helper.load([approvalNode], [{ id: 'tab', type: 'tab' }]);
    const answer = await helper.request().post(`/soar/approvals/${item.id}`).send({ decision: 'approve' }).expect(503);
    assert.match(answer.body.error, /not deployed/);
    assert.deepEqual(
      (await pending()).map((i) => i.id),
      [item.id],
    );
  });

  it('refuses to start with a timeout out of range', async () => {
    await helper.load([approvalNode], flow(20000));
    send({ topic: 'x' });
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await pending(), []);
  });
});
