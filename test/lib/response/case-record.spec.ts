import assert from 'node:assert/strict';
import type { Alert } from '../../../lib/alert/model';
import { newCase } from '../../../lib/cases/changes';
import { recordOutcome } from '../../../lib/response/case-record';
import type { ResponseOutcome } from '../../../lib/response/engine';

const outcome = (status: ResponseOutcome['status'], device: ResponseOutcome['devices'][number]): ResponseOutcome => ({
  status,
  action: 'isolate-host',
  target: { kind: 'host', value: 'ws-7' },
  at: '2026-11-28T10:00:00.000Z',
  dryRun: false,
  devices: [device],
});

const blank = () =>
  newCase({ title: 'beacon', severity: 'high' } as Alert, {
    id: 'CASE-1',
    type: 'malware',
    key: 'ws-7',
    now: '2026-11-28T09:00:00.000Z',
  });

describe('response/case-record', () => {
  it('records an action that waited for approval once, and moves it on when it is done', () => {
    const c = blank();
    recordOutcome(
      c,
      outcome('needs-approval', { device: 'edr', deviceName: 'edr', status: 'pending-approval', detail: 'waits' }),
      '2026-11-28T10:00:00.000Z',
    );
    assert.deepEqual(
      c.actions.map((a) => a.status),
      ['pending-approval'],
    );
    assert.equal(c.firstActionAt, undefined, 'a request is not a response');
    recordOutcome(
      c,
      outcome('done', { device: 'edr', deviceName: 'edr', status: 'done', detail: 'isolated', actionId: 'x' }),
      '2026-11-28T10:05:00.000Z',
      'ana',
    );
    assert.deepEqual(
      c.actions.map((a) => [a.action, a.target, a.device, a.status]),
      [['isolate-host', 'ws-7', 'edr', 'done']],
    );
    assert.equal(c.firstActionAt, '2026-11-28T10:05:00.000Z');
    assert.equal(c.timeline.at(-1)?.by, 'ana');
  });

  it('notes a refusal in the timeline and adds nothing for an action already in force', () => {
    const c = blank();
    const refused: ResponseOutcome = {
      ...outcome('refused', { device: '', deviceName: '', status: 'done', detail: '' }),
      devices: [],
      reason: 'protected asset',
    };
    recordOutcome(c, refused, '2026-11-28T10:00:00.000Z');
    assert.match(c.timeline.at(-1)?.message ?? '', /isolate-host ws-7 refused: protected asset/);
    const before = c.timeline.length;
    recordOutcome(
      c,
      outcome('done', { device: 'edr', deviceName: 'edr', status: 'already', detail: 'in force' }),
      '2026-11-28T10:01:00.000Z',
    );
    assert.equal(c.timeline.length, before);
    assert.equal(c.actions.length, 0);
  });
});
