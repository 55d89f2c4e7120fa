import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog, verifyAuditLog } from '../../../lib/audit';
import { DeviceFleet } from '../../../lib/devices/fleet';
import type { Capability } from '../../../lib/devices/model';
import { checkDeviceType } from '../../../lib/devices/registry';
import { labDeviceType, labJournal } from '../../../lib/devices/types/lab';
import { ResponseEngine, type ResponseRequest } from '../../../lib/response/engine';
import { ProtectedAssets } from '../../../lib/response/protected';
import { SqliteResponseStore } from '../../../lib/response/sqlite-response-store';
import { tempDir } from '../../helpers/tmp';

const lab = checkDeviceType(labDeviceType);
const quiet = () => {};

describe('response/engine', () => {
  let tmp: ReturnType<typeof tempDir>;
  let db: Database.Database;
  let audit: AuditLog;
  let fleet: DeviceFleet;
  let now: number;
  const engines: ResponseEngine[] = [];

  const addDevice = (
    id: string,
    cidrs: string[],
    extra: { approval?: Capability[]; perMinute?: number; settings?: object } = {},
  ) =>
    fleet.add(
      {
        id,
        name: id,
        scope: { cidrs, hosts: [], tags: [] },
        settings: extra.settings ?? {},
        credentials: {},
        actionsPerMinute: extra.perMinute ?? 0,
        approval: extra.approval ?? [],
        breaker: { threshold: 2, cooldownMs: 60_000 },
      },
      lab,
      quiet,
    );
  const engine = (options: { actionsPerMinute?: number } = {}) => {
    const e = new ResponseEngine(
      fleet,
      new SqliteResponseStore(db),
      audit,
      new ProtectedAssets({ cidrs: ['10.0.0.1'], hosts: ['dc-*.corp.example'] }, false),
      {
        retry: { attempts: 2, baseMs: 1 },
        now: () => now,
        ...options,
      },
    );
    engines.push(e);
    return e;
  };
  const block = (value: string, extra: Partial<ResponseRequest> = {}): ResponseRequest => ({
    action: 'block-ip',
    target: { kind: 'ip', value },
    caseId: 'CASE-1',
    ...extra,
  });

  beforeEach(() => {
    tmp = tempDir();
    db = new Database(join(tmp.dir, 'store.db'));
    audit = AuditLog.open(join(tmp.dir, 'audit.jsonl'));
    fleet = new DeviceFleet();
    now = Date.parse('2026-11-28T10:00:00Z');
  });
  afterEach(() => {
    for (const e of engines.splice(0)) e.close();
    audit.close();
    db.close();
    tmp.cleanup();
  });

  it('acts through the most specific device in scope, and not twice on the same target', async () => {
    addDevice('edge', ['0.0.0.0/0']);
    addDevice('dc-fw', ['10.20.0.0/16']);
    const e = engine();
    const first = await e.respond(block('10.20.3.4'));
    assert.equal(first.status, 'done');
    assert.deepEqual(
      first.devices.map((d) => [d.deviceName, d.status]),
      [['dc-fw', 'done']],
    );
    assert.deepEqual(labJournal.at(-1), {
      ...labJournal.at(-1),
      device: 'dc-fw',
      action: 'block-ip',
      target: '10.20.3.4',
    });
    const again = await e.respond(block('10.20.3.4'));
    assert.equal(again.devices[0].status, 'already');
    const global = await e.respond(block('10.20.3.5', { mode: 'global' }));
    assert.deepEqual(global.devices.map((d) => d.deviceName).sort(), ['dc-fw', 'edge']);
  });

  it('refuses protected assets, targets no device covers and invalid requests, with the reason', async () => {
    addDevice('dc-fw', ['10.20.0.0/16']);
    const e = engine();
    assert.match(
      (await e.respond(block('10.0.0.0/8'))).reason ?? '',
      /10\.0\.0\.0\/8 is or contains a protected asset: 10\.0\.0\.1/,
    );
    const host = await e.respond({ action: 'isolate-host', target: { kind: 'host', value: 'DC-01.corp.example' } });
    assert.match(host.reason ?? '', /protected asset/);
    const unblockProtected = await e.respond({ action: 'unblock-ip', target: { kind: 'ip', value: '10.0.0.1' } });
    assert.notEqual(unblockProtected.reason?.includes('protected'), true, 'an undo is never refused as protected');
    const outside = await e.respond(block('45.155.205.1'));
    assert.equal(outside.status, 'refused');
    assert.match(outside.reason ?? '', /no device's scope covers 45\.155\.205\.1/);
    assert.match((await e.respond(block('not-an-ip'))).reason ?? '', /is not an IPv4 or IPv6 address or CIDR/);
    assert.match(
      (await e.respond({ ...block('10.20.1.1'), action: 'hack-back' as Capability })).reason ?? '',
      /action must be one of/,
    );
    assert.match(
      (
        await e.respond({
          action: 'collect-host-context',
          target: { kind: 'ip', value: '10.20.1.1' },
          durationSeconds: 60,
        })
      ).reason ?? '',
      /has no undo/,
    );
  });

  it('waits for approval where the device policy says so, records dry runs without calling the device', async () => {
    addDevice('edr', ['10.20.0.0/16'], { approval: ['isolate-host'] });
    const e = engine();
    const isolate: ResponseRequest = {
      action: 'isolate-host',
      target: { kind: 'host', value: '10.20.7.7' },
      caseId: 'CASE-2',
    };
    const pending = await e.respond(isolate);
    assert.equal(pending.status, 'needs-approval');
    const approved = await e.respond({ ...isolate, approval: { by: 'ana', at: new Date(now).toISOString() } });
    assert.equal(approved.status, 'done');
    const calls = labJournal.length;
    const dry = await e.respond(block('10.20.8.8', { dryRun: true }));
    assert.equal(dry.status, 'dry-run');
    assert.match(dry.devices[0].detail, /would block-ip 10\.20\.8\.8 on edr/);
    assert.equal(labJournal.length, calls, 'a dry run calls no device');
  });

  it('limits the blast radius per device and overall', async () => {
    addDevice('fw', ['10.20.0.0/16'], { perMinute: 2 });
    addDevice('fw2', ['10.30.0.0/16']);
    const e = engine({ actionsPerMinute: 3 });
    const statuses = [];
    for (const ip of ['10.20.0.1', '10.20.0.2', '10.20.0.3'])
      statuses.push((await e.respond(block(ip))).devices[0].status);
    assert.deepEqual(statuses, ['done', 'done', 'rate-limited']);
    assert.equal((await e.respond(block('10.30.0.1'))).devices[0].status, 'done');
    const over = await e.respond(block('10.30.0.2'));
    assert.equal(over.devices[0].status, 'rate-limited');
    assert.match(over.devices[0].detail, /at most 3 actions a minute overall/);
  });

  it('retries a failing device, then opens its circuit', async () => {
    addDevice('broken', ['10.20.0.0/16'], { settings: { fail: ['block-ip'] } });
    const e = engine();
    const first = await e.respond(block('10.20.0.1'));
    assert.equal(first.status, 'failed');
    assert.equal(first.devices[0].attempts, 2);
    await e.respond(block('10.20.0.2'));
    const third = await e.respond(block('10.20.0.3'));
    assert.equal(third.devices[0].status, 'circuit-open');
  });

  it('reverts an action when its duration is over, also after a restart, and an undo ends it early', async () => {
    addDevice('fw', ['10.20.0.0/16']);
    let e = engine();
    const timed = await e.respond(block('10.20.0.9', { durationSeconds: 60 }));
    assert.equal(timed.devices[0].expiresAt, new Date(now + 60_000).toISOString());
    await e.respond(block('10.20.0.10', { durationSeconds: 3600 }));
    e.close();
    // A restart: a new engine over the same store.
    now += 61_000;
    const expired: string[] = [];
    e = new ResponseEngine(fleet, new SqliteResponseStore(db), audit, new ProtectedAssets({}, false), {
      now: () => now,
      onExpired: (record, outcome) => expired.push(`${record.target} ${outcome}`),
    });
    engines.push(e);
    assert.equal(await e.revertExpired(), 1);
    assert.deepEqual(expired, ['10.20.0.9 expired']);
    assert.deepEqual(labJournal.at(-1), {
      ...labJournal.at(-1),
      call: 'revert',
      action: 'block-ip',
      target: '10.20.0.9',
    });
    assert.equal((await e.respond(block('10.20.0.9'))).devices[0].status, 'done', 'no longer in force');
    await e.respond({ action: 'unblock-ip', target: { kind: 'ip', value: '10.20.0.10' } });
    now += 3600_000;
    assert.equal(await e.revertExpired(), 0, 'the undo ended it: nothing left to expire');
  });

  it('reverts an action on its own when its duration is over, its timer armed once for the earliest expiry', async () => {
    addDevice('fw', ['10.20.0.0/16']);
    const store = new SqliteResponseStore(db);
    let reads = 0;
    const nextExpiry = store.nextExpiry.bind(store);
    store.nextExpiry = () => {
      reads++;
      return nextExpiry();
    };
    let expired: (target: string) => void = () => {};
    const firstExpired = new Promise<string>((resolve) => (expired = resolve));
    const e = new ResponseEngine(fleet, store, audit, new ProtectedAssets({}, false), {
      onExpired: (record) => expired(record.target),
    });
    engines.push(e);
    const started = Date.now();
    await e.respond(block('10.20.0.1', { durationSeconds: 1 }));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, 1, 'the first action with a duration arms the timer');
    for (let i = 2; i < 50; i++) await e.respond(block(`10.20.0.${i}`, { durationSeconds: 3600 }));
    assert.equal(reads, 1, 'later expiries neither read the store nor re-arm the timer');
    assert.equal(await firstExpired, '10.20.0.1');
    assert.ok(Date.now() - started >= 990, 'not before its time');
    assert.equal(labJournal.at(-1)?.call, 'revert');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(reads, 2, 'after the revert, one read to arm the timer for the next expiry');
  });

  it('does an action once when the same request arrives twice at the same time', async () => {
    addDevice('fw', ['10.20.0.0/16']);
    const e = engine();
    const calls = labJournal.length;
    const outcomes = await Promise.all([1, 2, 3].map(() => e.respond(block('10.20.0.77', { durationSeconds: 60 }))));
    assert.deepEqual(outcomes.map((o) => o.devices[0].status).sort(), ['already', 'already', 'done']);
    assert.equal(labJournal.length, calls + 1);
  });

  it('refuses protected assets however the address is spelt', async () => {
    addDevice('fw', ['0.0.0.0/0', '::/0']);
    const e = new ResponseEngine(
      fleet,
      new SqliteResponseStore(db),
      audit,
      new ProtectedAssets({ cidrs: ['10.0.0.1'] }),
      {
        now: () => now,
      },
    );
    engines.push(e);
    for (const value of ['::ffff:10.0.0.0/104', '::ffff:0:0/96', '127.0.0.1', '::1']) {
      const o = await e.respond(block(value));
      assert.equal(o.status, 'refused', value);
      assert.match(o.reason ?? '', /protected asset/, value);
    }
    const octal = await e.respond(block('010.0.0.1'));
    assert.match(octal.reason ?? '', /is not an IPv4 or IPv6 address/, 'no octal reading of 010.0.0.1 as 8.0.0.1');
  });

  it('undoes an action only on the device that is asked, with what the action returned', async () => {
    addDevice('fw-a', ['10.20.0.0/16']);
    addDevice('fw-b', ['10.0.0.0/8']);
    const e = engine();
    const global = await e.respond(block('10.20.5.5', { mode: 'global', durationSeconds: 3600 }));
    assert.deepEqual(
      global.devices.map((d) => d.status),
      ['done', 'done'],
    );
    const undo = await e.respond({ action: 'unblock-ip', target: { kind: 'ip', value: '10.20.5.5' } });
    assert.deepEqual(
      undo.devices.map((d) => [d.deviceName, d.status]),
      [['fw-a', 'done']],
    );
    assert.deepEqual(labJournal.at(-1), { ...labJournal.at(-1), device: 'fw-a', call: 'revert', action: 'block-ip' });
    now += 3600_000 + 1;
    assert.equal(await e.revertExpired(), 1, "fw-b's block is still in force and expires on its own");
    assert.deepEqual(labJournal.at(-1), { ...labJournal.at(-1), device: 'fw-b', call: 'revert', action: 'block-ip' });
  });

  it('tries a revert again later when the device is away at expiry', async () => {
    addDevice('fw', ['10.20.0.0/16']);
    const e = engine();
    await e.respond(block('10.20.0.66', { durationSeconds: 60 }));
    await fleet.remove('fw');
    now += 61_000;
    const store = new SqliteResponseStore(db);
    await e.revertExpired();
    assert.ok(await store.activeAction('fw', 'block-ip', '10.20.0.66'), 'still in force, to be reverted later');
    addDevice('fw', ['10.20.0.0/16']);
    now += 5 * 60_000;
    await e.revertExpired();
    assert.equal(await store.activeAction('fw', 'block-ip', '10.20.0.66'), undefined);
    assert.deepEqual(labJournal.at(-1), { ...labJournal.at(-1), call: 'revert', target: '10.20.0.66' });
  });

  it('writes every outcome to a verifiable audit chain', async () => {
    addDevice('fw', ['10.20.0.0/16']);
    const e = engine();
    await e.respond(block('10.20.0.1', { requestedBy: 'playbook:brute-force' }));
    await e.respond(block('45.155.205.1'));
    const result = verifyAuditLog(join(tmp.dir, 'audit.jsonl'));
    assert.equal(result.ok, true);
    assert.equal(result.entries, 2);
  });
});
