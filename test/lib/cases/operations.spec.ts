import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize } from '../../../lib/alert';
import { applyOperation, isCaseOperation, mergeAlert, newCase, type Case } from '../../../lib/cases';

const record = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
    'utf8',
  ),
);

function freshCase(): Case {
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  const c = newCase(result.alert, { id: 'CASE-1', type: 'brute-force', key: 'k', now: '2026-11-28T10:00:00.000Z' });
  mergeAlert(c, result.alert, '2026-11-28T10:00:00.000Z');
  return c;
}

describe('case operations', () => {
  const now = '2026-11-28T11:00:00.000Z';

  it('knows its operations', () => {
    assert.equal(isCaseOperation('record-action'), true);
    assert.equal(isCaseOperation('explode'), false);
  });

  it('updates from a payload, recording who did it and leaving "by" out of the patch', () => {
    const c = freshCase();
    applyOperation(c, 'update', { status: 'in-progress', assignee: 'ana', by: 'ana' }, now);
    assert.equal(c.status, 'in-progress');
    assert.equal(c.assignee, 'ana');
    assert.ok(c.timeline.some((t) => t.kind === 'status' && t.by === 'ana'));
  });

  it('adds timeline entries, artifacts, actions and runs, and closes with a reason', () => {
    const c = freshCase();
    applyOperation(c, 'add-timeline', { message: 'called the owner', by: 'ana' }, now);
    applyOperation(c, 'add-artifact', { type: 'sha256', value: 'A'.repeat(64), ioc: true, verdict: 'malicious' }, now);
    applyOperation(c, 'record-action', { action: 'isolate-host', target: 'web-1' }, now);
    applyOperation(c, 'record-run', { playbook: 'ssh-brute-force', started: now, outcome: 'success' }, now);
    applyOperation(c, 'close', { reason: 'contained', by: 'ana' }, now);
    assert.equal(c.timeline.find((t) => t.kind === 'note')?.message, 'called the owner');
    assert.equal(c.artifacts.find((a) => a.type === 'sha256')?.value, 'a'.repeat(64));
    assert.equal(c.actions[0].status, 'done', 'an action is done unless it says otherwise');
    assert.equal(c.firstActionAt, now);
    assert.equal(c.runs[0].playbook, 'ssh-brute-force');
    assert.equal(c.status, 'closed');
    assert.match(c.timeline[c.timeline.length - 1].message, /: contained$/);
  });

  it('refuses payloads that are not objects or miss what the operation needs', () => {
    const c = freshCase();
    assert.throws(() => applyOperation(c, 'update', 'closed', now), /update: msg.payload must be an object/);
    assert.throws(() => applyOperation(c, 'add-timeline', {}, now), /needs a message/);
    assert.throws(
      () => applyOperation(c, 'record-action', { action: 'block-ip' }, now),
      /needs an action name and a target/,
    );
    assert.throws(
      () => applyOperation(c, 'record-action', { action: 'x', target: 'y', status: 'ok' }, now),
      /invalid action status "ok"/,
    );
    assert.throws(() => applyOperation(c, 'record-run', {}, now), /needs a playbook/);
  });
});
