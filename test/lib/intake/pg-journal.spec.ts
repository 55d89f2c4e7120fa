import assert from 'node:assert/strict';
import { JournalError, type JournalEntry } from '../../../lib/intake/journal-store';
import { acquireJournal, releaseJournal } from '../../../lib/intake/journal';
import { PgIntakeJournal } from '../../../lib/intake/pg-journal';
import { asInstance, schemaUrl, startPostgres, type PostgresServer } from '../../helpers/postgres';
import { eventually, journalConformance, rec } from './journal-conformance';

/** The same database under another URL: its own pool in this process, as another instance would have. */
let schemas = 0;

describe('PgIntakeJournal (a real PostgreSQL server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let database: Promise<string> | undefined;
  /** One database for the spec, a schema per test. */
  const fresh = async () => schemaUrl(await (database ??= server.createDatabase()), `t${++schemas}`);
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  journalConformance(() => {
    let url = '';
    return {
      open: async () => new PgIntakeJournal((url = await fresh()), { owner: 'instance-a' }),
      reopen: async () => new PgIntakeJournal(url, { owner: 'instance-a' }),
      cleanup: async () => undefined,
    };
  });

  it('accepts each alert id once when two instances take the same alerts at the same time', async () => {
    const url = await fresh();
    const a = new PgIntakeJournal(asInstance(url, 'a'), { owner: 'a' });
    const b = new PgIntakeJournal(asInstance(url, 'b'), { owner: 'b' });
    try {
      // 2,000 ids, each delivered to both instances, in overlapping commits of 50 in opposite orders.
      const ids = Array.from({ length: 2000 }, (_, i) => `alert-${i}`);
      const commits: Promise<(number | null)[]>[] = [];
      for (let i = 0; i < ids.length; i += 50) {
        const chunk = ids.slice(i, i + 50).map((id) => rec(id));
        commits.push(a.commit('in', chunk, Date.now(), 0));
        commits.push(b.commit('in', [...chunk].reverse(), Date.now(), 0));
      }
      const outcomes = (await Promise.all(commits)).flat();
      assert.equal(outcomes.filter((o) => o !== null).length, ids.length, 'each id accepted exactly once');
      const pendingA = await a.pendingEntries('in', 0, Number.MAX_SAFE_INTEGER, 5000);
      const pendingB = await b.pendingEntries('in', 0, Number.MAX_SAFE_INTEGER, 5000);
      assert.equal(pendingA.length + pendingB.length, ids.length, 'each instance sees only what it accepted');
      assert.deepEqual([...pendingA, ...pendingB].map((e) => e.alertId).sort(), [...ids].sort());
      assert.deepEqual(await b.commit('in', [rec('alert-7')], Date.now(), 0), [null], 'a duplicate for both');
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('journals thousands of alerts a second, one round trip per batch of concurrent commits', async () => {
    const url = await fresh();
    const journal = new PgIntakeJournal(url, { owner: 'bench' });
    try {
      await journal.lastPendingSeq(); // schema in place, a connection open
      const started = Date.now();
      const commits = Array.from({ length: 400 }, (_, r) =>
        journal.commit(
          'in',
          Array.from({ length: 50 }, (_, i) => rec(`r${r}-a${i}`, { n: i, text: 'x'.repeat(400) })),
          Date.now(),
          0,
        ),
      );
      const accepted = (await Promise.all(commits)).flat().filter((o) => o !== null).length;
      const seconds = (Date.now() - started) / 1000;
      assert.equal(accepted, 20_000);
      // Per-alert round trips would take minutes; batched it is well over 10,000/s on an idle machine.
      assert.ok(20_000 / seconds > 3_000, `20,000 alerts in ${seconds.toFixed(2)} s`);
    } finally {
      await journal.close();
    }
  });

  it('replays an instance’s pending alerts to it after a restart, and to nobody else while it is alive', async () => {
    const url = await fresh();
    const options = { heartbeatMs: 50, leaseMs: 400 };
    const a = new PgIntakeJournal(asInstance(url, 'a'), { owner: 'a', ...options });
    const b = new PgIntakeJournal(asInstance(url, 'b'), { owner: 'b', ...options });
    const adopted: JournalEntry[] = [];
    b.onAdopted((entries) => adopted.push(...entries));
    try {
      await a.commit('in', [rec('x'), rec('y')], Date.now(), 0);
      await new Promise((r) => setTimeout(r, 600));
      assert.deepEqual(adopted, [], 'a renews its heartbeat: nothing to adopt');
      await a.close();
      const again = new PgIntakeJournal(asInstance(url, 'a2'), { owner: 'a', ...options });
      try {
        assert.deepEqual(
          (await again.pendingEntries('in')).map((e) => e.alertId),
          ['x', 'y'],
          'restarted in time, a replays its own alerts',
        );
        assert.deepEqual(await b.pendingEntries('in'), []);
      } finally {
        await again.close();
      }
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('lets a live instance adopt the pending alerts of an instance that stopped and did not come back', async () => {
    const url = await fresh();
    const options = { heartbeatMs: 50, leaseMs: 300 };
    const dead = new PgIntakeJournal(asInstance(url, 'dead'), { owner: 'dead', ...options });
    const live = new PgIntakeJournal(asInstance(url, 'live'), { owner: 'live', ...options });
    const adopted: JournalEntry[] = [];
    live.onAdopted((entries) => adopted.push(...entries));
    try {
      const [x] = (await dead.commit('in', [rec('x'), rec('y'), rec('z')], Date.now(), 0)) as number[];
      await dead.markProcessedNow([x]);
      await dead.close();
      await eventually(async () =>
        assert.deepEqual(adopted.map((e) => [e.node, e.alertId]).sort(), [
          ['in', 'y'],
          ['in', 'z'],
        ]),
      );
      assert.equal(adopted[0].body, '{"id":"y"}');
      assert.deepEqual(
        (await live.pendingEntries('in')).map((e) => e.alertId),
        ['y', 'z'],
        'now the live instance’s own: replayed at its restart if it stops before processing them',
      );
      await live.markProcessedNow(adopted.map((e) => e.seq));
      const back = new PgIntakeJournal(asInstance(url, 'back'), { owner: 'dead', ...options });
      try {
        assert.deepEqual(await back.pendingEntries('in'), [], 'nothing is replayed twice');
      } finally {
        await back.close();
      }
    } finally {
      await Promise.all([dead.close(), live.close()]);
    }
  });

  it('fails a commit during an outage with an error naming the store without its password, then recovers', async () => {
    const base = await fresh();
    const url = base.replace('postgres://soar@', 'postgres://soar:s3cret@');
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    const journal = acquireJournal(url, { owner: 'outage', heartbeatMs: 50 });
    const background: string[] = [];
    journal.onBackgroundError((err, what) => background.push(`${what}: ${err.message}`));
    try {
      assert.equal(typeof (await journal.commit('in', [rec('before')], Date.now(), 0))[0], 'number');
      await server.stopServer();
      try {
        const err = await journal.commit('in', [rec('during')], Date.now(), 0).then(
          () => assert.fail('a commit cannot succeed without the server'),
          (e: Error) => e,
        );
        assert.ok(err instanceof JournalError);
        assert.match(err.message, /intake journal in postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/.* failed/);
        assert.doesNotMatch(err.message, /s3cret/);
        journal.markProcessedSoon([1]);
        await eventually(async () => assert.ok(background.length > 0, 'background failures are reported'));
        assert.ok(background.every((b) => !b.includes('s3cret')));
      } finally {
        await server.start();
      }
      await eventually(async () => {
        assert.equal(typeof (await journal.commit('in', [rec(`after-${Date.now()}`)], Date.now(), 0))[0], 'number');
      }, 10_000);
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      releaseJournal(url, 0);
    }
  });
});
