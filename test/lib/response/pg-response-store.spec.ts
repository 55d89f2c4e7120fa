/**
 * The PostgreSQL response store on a real server: the shared conformance suite, then what several instances sharing
 * it must get right. Two pools on one database stand for two instances (each store is named as its instance).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Pool } from 'pg';
import { AuditLog } from '../../../lib/audit';
import { DeviceFleet } from '../../../lib/devices/fleet';
import { checkDeviceType } from '../../../lib/devices/registry';
import { labDeviceType, labJournal } from '../../../lib/devices/types/lab';
import { ApprovalTracker } from '../../../lib/response/approval-tracker';
import { ResponseEngine } from '../../../lib/response/engine';
import { PgResponseStore } from '../../../lib/response/pg-response-store';
import { ProtectedAssets } from '../../../lib/response/protected';
import { ResponseStoreError, type ApprovalRecord } from '../../../lib/response/response-store';
import { startPostgres, type PostgresServer } from '../../helpers/postgres';
import { tempDir } from '../../helpers/tmp';
import { until } from '../../helpers/wait';
import { responseStoreConformance } from './response-store.conformance';

const lab = checkDeviceType(labDeviceType);

describe('response/pg-response-store (a real PostgreSQL)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  /**
   * Stores on the spec's database, emptied first (cheaper than a database per test), one per instance; `close` ends
   * them and their pools.
   */
  let url: string;
  before(async () => {
    url = await server.createDatabase();
  });
  async function instances() {
    const admin = new Pool({ connectionString: url });
    try {
      await admin.query(`DO $$ BEGIN
        IF to_regclass('soar_approvals') IS NOT NULL THEN TRUNCATE soar_response_actions, soar_approvals; END IF;
      END $$`);
    } finally {
      await admin.end();
    }
    const opened: { store: PgResponseStore; pool: Pool }[] = [];
    return {
      url,
      async open(instance?: string, storeUrl = url) {
        const pool = new Pool({ connectionString: storeUrl, connectionTimeoutMillis: 2000 });
        pool.on('error', () => undefined);
        const store = new PgResponseStore(pool, storeUrl, instance);
        opened.push({ store, pool });
        return store;
      },
      async close() {
        for (const { store, pool } of opened.splice(0)) {
          await store.close();
          await pool.end();
        }
      },
    };
  }

  describe('conformance', () => {
    responseStoreConformance(instances);
  });

  describe('several instances', () => {
    let db: Awaited<ReturnType<typeof instances>>;
    let tmp: ReturnType<typeof tempDir>;
    let audit: AuditLog;
    const engines: ResponseEngine[] = [];
    const trackers: ApprovalTracker[] = [];
    beforeEach(async () => {
      db = await instances();
      tmp = tempDir();
      audit = AuditLog.open(join(tmp.dir, 'audit.jsonl'));
    });
    afterEach(async () => {
      for (const e of engines.splice(0)) e.close();
      for (const t of trackers.splice(0)) t.close();
      await db.close();
      audit.close();
      tmp.cleanup();
    });

    const fleetWithLab = () => {
      const fleet = new DeviceFleet();
      fleet.add(
        {
          id: 'fw',
          name: 'fw',
          scope: { cidrs: ['10.30.0.0/16'], hosts: [], tags: [] },
          settings: {},
          credentials: {},
          actionsPerMinute: 0,
          approval: [],
          breaker: { threshold: 5, cooldownMs: 60_000 },
        },
        lab,
        () => undefined,
      );
      return fleet;
    };

    it('reverts each due action exactly once when two instances sweep at the same time', async () => {
      const fleet = fleetWithLab();
      let now = Date.parse('2026-11-28T10:00:00Z');
      const engine = async (instance: string) => {
        const e = new ResponseEngine(fleet, await db.open(instance), audit, new ProtectedAssets({}, false), {
          actionsPerMinute: 0,
          now: () => now,
        });
        engines.push(e);
        return e;
      };
      const [a, b] = [await engine('A'), await engine('B')];
      const targets = Array.from({ length: 40 }, (_, i) => `10.30.1.${i + 1}`);
      // Requested through both instances, each target twice: one block each.
      const outcomes = await Promise.all(
        targets.flatMap((value, i) =>
          [a, b].map((e) => e.respond({ action: 'block-ip', target: { kind: 'ip', value }, durationSeconds: 60 + i })),
        ),
      );
      const statuses = outcomes.map((o) => o.devices[0].status);
      assert.equal(statuses.filter((s) => s === 'done').length, targets.length, 'one block per target');
      assert.equal(statuses.filter((s) => s === 'already').length, targets.length);

      const from = labJournal.length;
      now += 3600_000;
      const [ra, rb] = await Promise.all([a.revertExpired(), b.revertExpired()]);
      assert.equal(ra + rb, targets.length);
      assert.ok(ra > 0 && rb > 0, `both instances took a share (${ra} and ${rb})`);
      const reverts = labJournal.slice(from).filter((r) => r.call === 'revert');
      assert.deepEqual(reverts.map((r) => r.target).sort(), [...targets].sort(), 'each target reverted once');
      assert.equal(await a.revertExpired(), 0);
    });

    it('reverts the due actions an instance claimed and then died with, once its claim lapses', async () => {
      const fleet = fleetWithLab();
      let now = Date.parse('2026-11-28T10:00:00Z');
      const dead = await db.open('dead');
      const e = new ResponseEngine(fleet, dead, audit, new ProtectedAssets({}, false), { now: () => now });
      await e.respond({ action: 'block-ip', target: { kind: 'ip', value: '10.30.9.9' }, durationSeconds: 60 });
      e.close();
      now += 61_000;
      // The dead instance had claimed it for a minute when it crashed, before reverting it.
      assert.equal((await dead.dueActions(now, 10, 60_000)).length, 1);
      const survivor = new ResponseEngine(fleet, await db.open('survivor'), audit, new ProtectedAssets({}, false), {
        now: () => now,
        claimMs: 60_000,
      });
      engines.push(survivor);
      assert.equal(await survivor.revertExpired(), 0, 'claimed by the other instance');
      now += 60_000;
      const from = labJournal.length;
      assert.equal(await survivor.revertExpired(), 1, 'the claim lapsed: taken over');
      assert.deepEqual(
        labJournal.slice(from).map((r) => [r.call, r.target]),
        [['revert', '10.30.9.9']],
      );
    });

    /** A tracker of node `gate` on a store; what it releases is collected in `released`. */
    const tracker = (store: PgResponseStore, options: { pollMs?: number; takeoverMs?: number } = {}) => {
      const released: ApprovalRecord[] = [];
      const t = new ApprovalTracker({
        store,
        node: 'gate',
        release: async (record) => {
          released.push(record);
        },
        pollMs: options.pollMs ?? 60_000,
        takeoverMs: options.takeoverMs ?? 60_000,
      });
      trackers.push(t);
      return { t, released };
    };
    const ask = async (store: PgResponseStore, t: ApprovalTracker, id: string, expiresInMs = 60_000) => {
      const record = {
        id,
        node: 'gate',
        created: new Date().toISOString(),
        expiresAt: Date.now() + expiresInMs,
        summary: `approve ${id}?`,
        request: { topic: id },
      };
      await store.addApproval(record);
      t.track({ ...record, status: 'pending', holder: store.instance, released: false });
    };

    it('sends the message held by instance B on when an analyst decides through instance A, at once', async () => {
      const [storeA, storeB] = [await db.open('A'), await db.open('B')];
      const a = tracker(storeA);
      const b = tracker(storeB);
      await Promise.all([a.t.start(), b.t.start()]);
      await ask(storeB, b.t, 'ap-1');
      assert.equal(b.t.held, 1);
      const started = Date.now();
      const decided = await a.t.decide('ap-1', 'approve', 'ana', 'ok');
      assert.equal(decided.ok, true);
      // Polling is once a minute here: only the notice can bring it this fast.
      await until(() => b.released.length === 1, 5000);
      assert.ok(Date.now() - started < 5000);
      assert.deepEqual(
        b.released.map((r) => [r.id, r.status, r.decidedBy, r.comment]),
        [['ap-1', 'approved', 'ana', 'ok']],
      );
      assert.equal(b.t.held, 0);
      assert.deepEqual(a.released, [], 'the deciding instance does not send a message it does not hold');
      const again = await b.t.decide('ap-1', 'deny', 'bob');
      assert.equal(again.ok, false);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(b.released.length, 1, 'sent once');
    });

    it('learns of a decision it missed while its listening connection was down, once it is back', async () => {
      const [storeA, storeB] = [await db.open('A'), await db.open('B')];
      const b = tracker(storeB);
      await b.t.start();
      await ask(storeB, b.t, 'ap-2');
      const admin = new Pool({ connectionString: db.url });
      try {
        const listening = async () =>
          (
            await admin.query<{ pid: number }>(
              `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
            )
          ).rows;
        await until(async () => (await listening()).length === 1, 5000);
        await admin.query('SELECT pg_terminate_backend($1)', [(await listening())[0].pid]);
        // Decided while nobody listens (A does not track the node).
        assert.equal(await storeA.decide('ap-2', 'denied', 'bob'), true);
        await until(() => b.released.length === 1, 10_000);
        assert.equal(b.released[0].status, 'denied');
      } finally {
        await admin.end();
      }
    });

    it('times out and sends on the approvals of an instance that is gone, once, from another instance', async () => {
      const [storeA, storeB, storeC] = [await db.open('A'), await db.open('B'), await db.open('C')];
      const gone = tracker(storeA);
      await ask(storeA, gone.t, 'ap-3', 100);
      await ask(storeA, gone.t, 'ap-4', 60_000);
      gone.t.close(); // instance A stops before the timeout, holding both
      assert.equal(await storeB.decide('ap-4', 'approved', 'ana'), true, 'decided through B while A is away');
      const b = tracker(storeB, { pollMs: 100, takeoverMs: 300 });
      const c = tracker(storeC, { pollMs: 100, takeoverMs: 300 });
      await Promise.all([b.t.start(), c.t.start()]);
      await until(() => b.released.length + c.released.length === 2, 10_000);
      await new Promise((r) => setTimeout(r, 300));
      const all = [...b.released, ...c.released];
      assert.deepEqual(
        all.map((r) => [r.id, r.status]).sort(),
        [
          ['ap-3', 'timeout'],
          ['ap-4', 'approved'],
        ],
        'each sent once, by one of the survivors',
      );
      assert.deepEqual(gone.released, []);
    });

    it('fails an operation with a clear error during an outage (no password in it) and recovers after', async () => {
      const url = db.url.replace('postgres://soar@', 'postgres://soar:s3cret@');
      const store = await db.open('A', url);
      const fleet = fleetWithLab();
      const e = new ResponseEngine(fleet, store, audit, new ProtectedAssets({}, false), { actionsPerMinute: 0 });
      engines.push(e);
      const b = tracker(store, { pollMs: 100 });
      await b.t.start();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on('unhandledRejection', onUnhandled);
      try {
        await server.stopServer();
        const block = { action: 'block-ip' as const, target: { kind: 'ip' as const, value: '10.30.5.5' } };
        const err = await e.respond(block).then(
          () => assert.fail('the store is down'),
          (error: Error) => error,
        );
        assert.ok(err instanceof ResponseStoreError);
        assert.match(
          err.message,
          /^response store postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/\w+: reading the action in force failed: /,
        );
        assert.doesNotMatch(err.message, /s3cret/);
        await new Promise((r) => setTimeout(r, 300)); // the tracker polls and the listener retries meanwhile
        await server.start();
        const outcome = await e.respond(block);
        assert.equal(outcome.devices[0].status, 'done');
        // The listener is back too: a decision through another instance reaches the tracker.
        await ask(store, b.t, 'ap-5');
        const other = await db.open('B');
        await other.decide('ap-5', 'approved', 'ana');
        await until(() => b.released.length === 1, 10_000);
        assert.deepEqual(unhandled, []);
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });
  });
});
