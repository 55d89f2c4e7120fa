import assert from 'node:assert/strict';
import { Pool } from 'pg';
import { migrate } from '../../../../lib/store/pg/migrate';
import { pgTransaction } from '../../../../lib/store/pg/transaction';
import { migrateLeases, tryLease, releaseLease } from '../../../../lib/store/pg/lease';
import { acquireStorePool, releaseStorePool, redactStoreUrl, isPostgresUrl } from '../../../../lib/store/pg/pool';
import { startPostgres, type PostgresServer } from '../../../helpers/postgres';

describe('PostgreSQL store foundation (a real server)', function () {
  this.timeout(60_000);
  let server: PostgresServer;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
  });

  it('applies each migration step once, also when instances start together, and refuses a newer schema', async () => {
    const url = await server.createDatabase();
    const pools = [new Pool({ connectionString: url }), new Pool({ connectionString: url })];
    try {
      const steps = [
        { version: 1, description: 'table', up: 'CREATE TABLE t (id integer PRIMARY KEY)' },
        { version: 2, description: 'row', up: 'INSERT INTO t VALUES (1)' },
      ];
      const applied = await Promise.all(pools.map((p) => migrate(p, 'demo', steps)));
      assert.deepEqual([...applied].sort(), [0, 2], 'one instance applied both steps, the other none');
      assert.equal(await migrate(pools[0], 'demo', steps), 0);
      const third = { version: 3, description: 'second row', up: 'INSERT INTO t VALUES (2)' };
      assert.equal(await migrate(pools[1], 'demo', [...steps, third]), 1);
      assert.deepEqual((await pools[0].query('SELECT id FROM t ORDER BY id')).rows, [{ id: 1 }, { id: 2 }]);
      await assert.rejects(migrate(pools[0], 'demo', steps), /version 3, newer than .* knows \(2\)/);
      await assert.rejects(
        migrate(pools[0], 'other', [{ version: 2, description: 'gap', up: 'SELECT 1' }]),
        /numbered 1, 2, 3/,
      );
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('rolls a failed transaction back', async () => {
    const pool = new Pool({ connectionString: await server.createDatabase() });
    try {
      await pool.query('CREATE TABLE t (v text)');
      await assert.rejects(
        pgTransaction(pool, async (c) => {
          await c.query(`INSERT INTO t VALUES ('kept?')`);
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.equal((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 0);
    } finally {
      await pool.end();
    }
  });

  it('gives a lease to exactly one of several instances asking at once, until it lapses or is released', async () => {
    const url = await server.createDatabase();
    const pool = acquireStorePool(url);
    try {
      await migrateLeases(pool);
      const holders = ['a', 'b', 'c', 'd', 'e'];
      const got = await Promise.all(holders.map((h) => tryLease(pool, 'expiry', 60_000, h)));
      assert.equal(got.filter(Boolean).length, 1, 'one holder');
      const winner = holders[got.indexOf(true)];
      assert.equal(await tryLease(pool, 'expiry', 60_000, winner), true, 'the holder renews');
      const other = holders.find((h) => h !== winner) as string;
      assert.equal(await tryLease(pool, 'expiry', 60_000, other), false);
      await releaseLease(pool, 'expiry', winner);
      assert.equal(await tryLease(pool, 'expiry', 50, other), true, 'a released lease is free');
      await new Promise((r) => setTimeout(r, 120));
      assert.equal(await tryLease(pool, 'expiry', 60_000, winner), true, 'a lapsed lease is taken over');
      // 64-bit integers arrive as numbers, not strings.
      assert.equal((await pool.query('SELECT 9007199254740991::bigint AS n')).rows[0].n, 9007199254740991);
    } finally {
      releaseStorePool(url);
    }
  });

  it('keeps a password out of messages and recognises PostgreSQL URLs', () => {
    assert.equal(redactStoreUrl('postgres://soar:s3cret@db:5432/soar'), 'postgres://soar:***@db:5432/soar');
    assert.equal(
      redactStoreUrl('postgres://soar@db/soar?password=s3cret&sslmode=require'),
      'postgres://soar@db/soar?password=***&sslmode=require',
    );
    assert.ok(isPostgresUrl('postgresql://db/soar'));
    assert.ok(!isPostgresUrl('/var/lib/soar.db'));
    assert.ok(!isPostgresUrl(undefined));
  });
});
