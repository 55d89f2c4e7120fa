import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import {
  acquireCaseStore,
  addTimeline,
  CaseNotFoundError,
  CaseStoreError,
  PgCaseStore,
  releaseCaseStore,
  SqliteCaseStore,
  type Case,
} from '../../../lib/cases';
import { Client, Pool } from 'pg';
import { MIGRATIONS } from '../../../lib/cases/pg-case-store';
import { migrate } from '../../../lib/store/pg/migrate';
import { asInstance, schemaUrl, startPostgres, type PostgresServer } from '../../helpers/postgres';
import { tempDir } from '../../helpers/tmp';
import { caseStoreConformance, DAY, variant } from './case-store.conformance';

describe('PgCaseStore (a real PostgreSQL server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  let database: string;
  let schemas = 0;
  /** A store location of its own for each test: a new schema (much quicker to make than a database). */
  const freshStore = () => schemaUrl(database, `s${++schemas}`);
  before(async () => {
    server = await startPostgres();
    database = await server.createDatabase();
  });
  after(async () => {
    await server?.stop();
  });

  // One schema for the conformance tests, emptied before each: quicker than a schema per test.
  let shared: string | undefined;
  caseStoreConformance('PgCaseStore', async (options) => {
    const url = (shared ??= await freshStore());
    let store = new PgCaseStore(url, options);
    await store.get('CASE-0'); // migrated
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        `DROP TRIGGER IF EXISTS refuse_forgetting ON soar_case_alerts;
         TRUNCATE soar_cases, soar_case_alerts, soar_case_counts; ALTER SEQUENCE soar_case_numbers RESTART`,
      );
    } finally {
      await client.end();
    }
    return {
      store,
      async reopen() {
        store.close();
        await store.closed();
        return (store = new PgCaseStore(url, options));
      },
      async dispose() {
        store.close();
        await store.closed();
      },
      async refuseForgetting() {
        const admin = new Client({ connectionString: url });
        await admin.connect();
        await admin.query(`
          CREATE OR REPLACE FUNCTION refuse_forgetting() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'deletes refused by a test trigger'; END $$;
          CREATE TRIGGER refuse_forgetting BEFORE DELETE ON soar_case_alerts
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_forgetting()`);
        return async () => {
          await admin.query('DROP TRIGGER refuse_forgetting ON soar_case_alerts');
          await admin.end();
        };
      },
    };
  });

  describe('several instances on one database', () => {
    let url: string;
    let stores: PgCaseStore[];
    beforeEach(async () => {
      url = await freshStore();
      stores = [new PgCaseStore(asInstance(url, 'a')), new PgCaseStore(asInstance(url, 'b'))];
    });
    afterEach(async () => {
      for (const s of stores) s.close();
      await Promise.all(stores.map((s) => s.closed()));
    });

    it('groups 400 alerts for 8 keys from two instances at once into 8 cases with exact counts', async () => {
      const now = new Date('2026-11-28T10:00:00Z');
      const results = await Promise.all(
        Array.from({ length: 400 }, (_, i) =>
          stores[i % 2].group(variant(i, `10.0.0.${i % 8}`), {
            type: 'brute-force',
            key: `key-${i % 8}`,
            windowMs: DAY,
            now,
          }),
        ),
      );
      assert.equal(results.filter((r) => r.created).length, 8, 'one case opened per key');
      assert.ok(results.every((r) => !r.duplicate));
      const page = await stores[0].query({ limit: 50, offset: 0 });
      assert.equal(page.total, 8);
      assert.deepEqual(
        page.items.map((c) => [c.key, c.alertCount]).sort(),
        Array.from({ length: 8 }, (_, k) => [`key-${k}`, 50]),
      );
      for (const c of page.items) {
        const listed = await stores[1].alertsOf(c.id, { limit: 500, offset: 0 });
        assert.equal(new Set(listed.items.map((a) => a.id)).size, 50, `${c.id} lists each alert once`);
        assert.equal(listed.total, 50);
      }

      // The same alerts again, each through the other instance: duplicates, nothing counted twice.
      const again = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          stores[(i + 1) % 2].group(variant(i, `10.0.0.${i % 8}`), {
            type: 'brute-force',
            key: `key-${i % 8}`,
            windowMs: DAY,
            now,
          }),
        ),
      );
      assert.ok(again.every((r) => r.duplicate && !r.created));
      const after = await stores[1].query({ limit: 50, offset: 0 });
      assert.equal(
        after.items.reduce((sum, c) => sum + c.alertCount, 0),
        400,
      );
      assert.equal((await stores[1].query({ status: ['new'], limit: 1, offset: 0 })).total, 8, 'counts kept exact');
    });

    it('keeps an alert a duplicate when two instances group it under different keys at once', async () => {
      const alert = variant('twice');
      const [a, b] = await Promise.all([
        stores[0].group(alert, { type: 'bf', key: 'one', windowMs: DAY }),
        stores[1].group(alert, { type: 'bf', key: 'two', windowMs: DAY }),
      ]);
      assert.deepEqual([a.duplicate, b.duplicate].sort(), [false, true]);
      const page = await stores[0].query({ limit: 10, offset: 0 });
      assert.equal(page.total, 1);
      assert.equal(page.items[0].alertCount, 1);
    });

    it('loses none of 100 concurrent updates of one case from two instances', async () => {
      const { case: c } = await stores[0].group(variant(1), { type: 'bf', key: 'k', windowMs: DAY });
      await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          stores[i % 2].update(c.id, (x, at) => addTimeline(x, { kind: 'note', message: `note ${i}` }, at)),
        ),
      );
      const notes = (await stores[1].get(c.id))!.timeline.filter((t) => t.kind === 'note').map((t) => t.message);
      assert.equal(notes.length, 100);
      assert.equal(new Set(notes).size, 100);
    });

    it('groups and updates the cases of 8 keys from two instances at once, losing nothing', async () => {
      const key = (k: number) => `key-${k}`;
      const opened = await Promise.all(
        Array.from({ length: 8 }, (_, k) =>
          stores[0].group(variant(`o${k}`), { type: 'bf', key: key(k), windowMs: DAY }),
        ),
      );
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 160; i++) {
        // The instances go through the keys in opposite orders.
        const k = i % 2 === 0 ? i % 8 : 7 - (i % 8);
        work.push(stores[i % 2].group(variant(i), { type: 'bf', key: key(k), windowMs: DAY }));
        work.push(
          stores[(i + 1) % 2].update(opened[7 - k].case.id, (c, at) =>
            addTimeline(c, { kind: 'note', message: `n${i}` }, at),
          ),
        );
      }
      await Promise.all(work);
      const page = await stores[1].query({ limit: 20, offset: 0 });
      assert.equal(page.total, 8);
      assert.equal(
        page.items.reduce((sum, c) => sum + c.alertCount, 0),
        168,
      );
      assert.equal(
        page.items.reduce((sum, c) => sum + c.timeline.filter((t) => t.kind === 'note').length, 0),
        160,
      );
    });

    it('groups into a case an analyst updates at the same moment without losing either change', async () => {
      const { case: c } = await stores[0].group(variant(0), { type: 'bf', key: 'k', windowMs: DAY });
      const work: Promise<unknown>[] = [];
      for (let i = 1; i <= 50; i++) {
        work.push(stores[i % 2].group(variant(i), { type: 'bf', key: 'k', windowMs: DAY }));
        work.push(stores[(i + 1) % 2].update(c.id, (x, at) => addTimeline(x, { kind: 'note', message: `n${i}` }, at)));
      }
      await Promise.all(work);
      const final = (await stores[0].get(c.id)) as Case;
      assert.equal(final.alertCount, 51);
      assert.equal(final.timeline.filter((t) => t.kind === 'note').length, 50);
    });
  });

  it('waits with a batch of updates for a case another transaction holds, then makes them in order', async () => {
    const url = await freshStore();
    const store = new PgCaseStore(url);
    const holder = new Client({ connectionString: url });
    try {
      await store.group(variant(1), { type: 'bf', key: 'held', windowMs: DAY });
      await store.group(variant(2), { type: 'bf', key: 'free', windowMs: DAY });
      await holder.connect();
      await holder.query("BEGIN; SELECT 1 FROM soar_cases WHERE id = 'CASE-1' FOR UPDATE");
      const note = (message: string) => (c: Case, at: string) => addTimeline(c, { kind: 'note', message }, at);
      let settled = false;
      const updates = Promise.all([
        store.update('CASE-1', note('first')),
        store.update('CASE-2', note('free')),
        store.update('CASE-1', note('second')),
      ]).finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(settled, false, 'waits for the row lock');
      await holder.query('COMMIT');
      const [, free] = await updates;
      assert.equal(free.timeline.at(-1)?.message, 'free');
      const notes = (await store.get('CASE-1'))!.timeline.filter((t) => t.kind === 'note').map((t) => t.message);
      assert.deepEqual(notes, ['first', 'second'], 'in the order asked');
    } finally {
      await holder.end().catch(() => undefined);
      store.close();
      await store.closed();
    }
  });

  it('groups an alert whose id, title and key hold U+0000 (which PostgreSQL text cannot) with the others of its batch', async () => {
    const store = new PgCaseStore(await freshStore());
    try {
      const now = new Date('2026-11-28T10:00:00Z');
      const hostile = { ...variant('nul'), id: 'wazuh:1\u00002', title: 'sshd\u0000 brute force' };
      const results = await Promise.all([
        store.group(variant(1), { type: 'brute-force', key: 'a', windowMs: DAY, now }),
        store.group(hostile, { type: 'brute-force', key: 'a\u0000b', windowMs: DAY, now }),
        store.group(variant(2), { type: 'brute-force', key: 'a', windowMs: DAY, now }),
      ]);
      assert.deepEqual(
        results.map((r) => [r.created, r.duplicate]),
        [
          [true, false],
          [true, false],
          [false, false],
        ],
      );
      const again = await store.group(hostile, { type: 'brute-force', key: 'a\u0000b', windowMs: DAY, now });
      assert.equal(again.duplicate, true, 'the same alert again is a duplicate');
      const found = await store.query({ q: 'sshd\u0000 brute', limit: 10, offset: 0 });
      assert.equal(found.total, 1);
      assert.equal((await store.get(results[1].case.id))?.alertCount, 1);
      // An update asked for a case id holding U+0000 finds no case, and fails none of the updates beside it.
      const updates = await Promise.allSettled([
        store.update('CASE-1\u0000', (c) => void (c.assignee = 'nobody')),
        store.update('CASE-1', (c) => void (c.assignee = 'ana')),
      ]);
      assert.ok(updates[0].status === 'rejected' && updates[0].reason instanceof CaseNotFoundError);
      assert.equal(updates[1].status === 'fulfilled' && updates[1].value.assignee, 'ana');
    } finally {
      store.close();
      await store.closed();
    }
  });

  it('fails with a CaseStoreError naming the store without its password while the server is down, then recovers', async () => {
    const url = (await freshStore()).replace('postgres://soar@', 'postgres://soar:s3cret@');
    const store = new PgCaseStore(url);
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    try {
      const { case: c } = await store.group(variant(1), { type: 'bf', key: 'k', windowMs: DAY });
      await server.stopServer();
      const failures = await Promise.allSettled([
        store.group(variant(2), { type: 'bf', key: 'k', windowMs: DAY }),
        store.get(c.id),
        store.update(c.id, (x, at) => addTimeline(x, { message: 'lost?' }, at)),
        store.query({ limit: 5, offset: 0 }),
      ]);
      for (const f of failures) {
        assert.equal(f.status, 'rejected');
        const err = (f as PromiseRejectedResult).reason as Error;
        assert.ok(err instanceof CaseStoreError, String(err));
        assert.match(
          err.message,
          /^case store postgres:\/\/soar:\*\*\*@127\.0\.0\.1:\d+\/\w+\?options=\S+: \w+ failed: /,
        );
        assert.doesNotMatch(err.message, /s3cret/);
      }
      await server.start();
      const next = await store.group(variant(2), { type: 'bf', key: 'k', windowMs: DAY });
      assert.deepEqual([next.case.id, next.case.alertCount], [c.id, 2], 'the pool reconnected');
      assert.equal((await store.get(c.id))!.timeline.filter((t) => t.message === 'lost?').length, 0);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      store.close();
      await store.closed();
    }
  });

  it('dates the alert links of a store from before alert ids were forgotten as it migrates, and forgets them later', async () => {
    const url = await freshStore();
    const pool = new Pool({ connectionString: url });
    try {
      await migrate(pool, 'cases', MIGRATIONS.slice(0, 2));
      await pool.query(`INSERT INTO soar_case_alerts VALUES ('suricata:1', 'network-ids', 'CASE-1')`);
    } finally {
      await pool.end();
    }
    const before = Date.now();
    const store = new PgCaseStore(url);
    try {
      assert.equal(await store.forgetAlertsBefore(before - 1), 0, 'dated when the store was migrated');
      assert.equal(await store.forgetAlertsBefore(Date.now() + 1), 1);
    } finally {
      store.close();
      await store.closed();
    }
  });

  it('writes a case as a HOT update: no index on the columns every write changes', async () => {
    const url = await freshStore();
    const store = new PgCaseStore(url);
    const { case: c } = await store.group(variant(1), { type: 'brute-force', key: 'k', windowMs: DAY });
    for (let i = 2; i <= 6; i++) {
      await store.group(variant(i), { type: 'brute-force', key: 'k', windowMs: DAY });
      await store.update(c.id, (x, now) => addTimeline(x, { kind: 'note', message: `n${i}` }, now));
    }
    assert.equal((await store.get(c.id))?.alertCount, 6);
    store.close();
    await store.closed(); // the connections end: their table statistics are flushed
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const indexed = await client.query<{ indexdef: string }>(
        `SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'soar_cases'`,
      );
      for (const { indexdef } of indexed.rows) assert.doesNotMatch(indexdef, /\b(updated|last_alert)\b/, indexdef);
      let stats = { upd: 0, hot: 0 };
      for (let tries = 0; tries < 50 && stats.upd < 10; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const { rows } = await client.query<{ upd: string; hot: string }>(
          `SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables
            WHERE schemaname = current_schema() AND relname = 'soar_cases'`,
        );
        stats = { upd: Number(rows[0].upd), hot: Number(rows[0].hot) };
      }
      assert.equal(stats.upd, 10, 'five groupings and five updates of the case');
      // Nearly all: an update that finds its page full (before the page is pruned) is not HOT.
      assert.ok(stats.hot >= 8, `HOT updates ${stats.hot} of ${stats.upd}`);
    } finally {
      await client.end();
    }
  });

  it('stores a busy case document compressed with lz4 (pglz gave up on them: CPU for nothing)', async () => {
    const url = await freshStore();
    const store = new PgCaseStore(url);
    let id = '';
    // Alerts from 60 addresses: a case of 60 artifacts, far past the size PostgreSQL stores out of line.
    for (let i = 1; i <= 60; i++) {
      const alert = { ...variant(i, `10.1.${i}.1`), id: randomUUID() };
      id = (await store.group(alert, { type: 'network-ids', key: 'k', windowMs: DAY })).case.id;
    }
    store.close();
    await store.closed();
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ method: string | null; stored: number; text: number }>(
        `SELECT pg_column_compression(data) AS method, pg_column_size(data) AS stored, octet_length(data) AS text
           FROM soar_cases WHERE id = $1`,
        [id],
      );
      assert.equal(rows[0].method, 'lz4');
      assert.ok(rows[0].stored < rows[0].text * 0.9, `${rows[0].stored} bytes stored for ${rows[0].text}`);
    } finally {
      await client.end();
    }
  });

  it('is what acquireCaseStore gives for a postgres:// location, and SQLite for a file', async () => {
    const url = await freshStore();
    const tmp = tempDir();
    const file = join(tmp.dir, 'store.db');
    try {
      const pg = acquireCaseStore(url);
      assert.ok(pg instanceof PgCaseStore);
      assert.equal(acquireCaseStore(url), pg, 'one store per location in a process');
      assert.ok(acquireCaseStore(file) instanceof SqliteCaseStore);
      assert.equal((await pg.group(variant(1), { type: 'bf', key: 'k', windowMs: DAY })).case.id, 'CASE-1');
    } finally {
      releaseCaseStore(url);
      releaseCaseStore(url);
      releaseCaseStore(file);
      tmp.cleanup();
    }
  });
});
