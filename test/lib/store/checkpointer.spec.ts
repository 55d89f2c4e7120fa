import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  DEFAULT_RESTART_BYTES,
  RESTART_BACKOFF_MS,
  RESTART_WAIT_MS,
  WAL_SIZE_LIMIT_BYTES,
  WalCheckpointer,
  type CheckpointResult,
} from '../../../lib/store/checkpointer';
import { onStoreBackgroundError } from '../../../lib/store/background-errors';
import { acquireStoreDatabase, openStoreDatabase, releaseStoreDatabase } from '../../../lib/store/database';
import { tempDir } from '../../helpers/tmp';

describe('WalCheckpointer (WAL checkpoints in a worker thread)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir('soar-checkpoint-')));
  afterEach(() => tmp.cleanup());

  const fill = (db: ReturnType<typeof openStoreDatabase>, rows: number): void => {
    db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < rows; i++) insert.run('x'.repeat(2_000));
  };

  it('checkpoints in the background while the connection itself never does, until stopped', async () => {
    const file = join(tmp.dir, 'store.db');
    const db = openStoreDatabase(file);
    const checkpointer = new WalCheckpointer(db, file, { intervalMs: 10 });
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
      const results: CheckpointResult[] = [];
      checkpointer.on('checkpoint', (result) => results.push(result));
      // Far past the 1,000 pages at which a commit would checkpoint by itself.
      fill(db, 3_000);
      // Every page of the database reaches its file, though this connection never checkpoints; the worker says so
      // (its message may arrive after the file has grown).
      const bytes =
        (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
      const waiting = () => statSync(file).size < bytes || results.length === 0;
      for (const end = Date.now() + 10_000; waiting() && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(statSync(file).size, bytes);
      assert.ok(results.length > 0);
      assert.ok(
        results.every((r) => r.checkpointed > 0 && r.checkpointed <= r.log),
        JSON.stringify(results),
      );
    } finally {
      await checkpointer.stop();
    }
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    fill(db, 10);
    db.close();
  });

  it('keeps the WAL bounded under a steady stream of commits, starting it over once it passes restartBytes', async () => {
    const file = join(tmp.dir, 'store.db');
    const db = openStoreDatabase(file);
    const checkpointer = new WalCheckpointer(db, file, { intervalMs: 10, restartBytes: 1 << 20 });
    const results: CheckpointResult[] = [];
    checkpointer.on('checkpoint', (result) => results.push(result));
    try {
      db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
      const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
      // Bursts of commits a millisecond apart for 1.5 s (tens of MB), as a busy flow makes them: a PASSIVE checkpoint
      // never finds the log without new frames, so without a RESTART the log was never started over and grew with
      // every commit (to about 160 MB here).
      let largest = 0;
      for (const end = Date.now() + 1_500; Date.now() < end;) {
        for (let i = 0; i < 20; i++) insert.run('x'.repeat(2_000));
        largest = Math.max(largest, statSync(`${file}-wal`).size);
        await new Promise((r) => setTimeout(r, 1));
      }
      const written = (db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n * 2_000;
      assert.ok(written > 16 << 20, `only ${written} bytes written: the test proves nothing`);
      assert.ok(largest < 32 << 20, `the WAL grew to ${largest} bytes for ${written} written`);
      assert.ok(results.some((r) => r.restarted));
    } finally {
      await checkpointer.stop();
      db.close();
    }
  });

  it('holds writers off rarely while a reader keeps it from starting the WAL over (it waits a moment, then backs off)', async () => {
    const file = join(tmp.dir, 'store.db');
    const db = openStoreDatabase(file);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)');
    const insert = db.prepare('INSERT INTO t (body) VALUES (?)');
    for (let i = 0; i < 1_000; i++) insert.run('x'.repeat(2_000)); // past restartBytes before the worker starts
    // Another connection (a backup, say) in a read transaction for the whole test: no RESTART can finish.
    const reader = new Database(file);
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM t').get();
    const checkpointer = new WalCheckpointer(db, file, { intervalMs: 10, restartBytes: 1 << 20 });
    try {
      // For a second: the time commits spent waiting for a RESTART (each waits up to RESTART_WAIT_MS). Without the
      // back-off that was most of the second (a try every 10 ms tick).
      let held = 0;
      for (const end = Date.now() + 1_000; Date.now() < end;) {
        const started = performance.now();
        insert.run('x'.repeat(2_000));
        const took = performance.now() - started;
        if (took >= RESTART_WAIT_MS / 2) held += took;
        await new Promise((r) => setTimeout(r, 1));
      }
      assert.ok(held < 200, `commits waited ${Math.round(held)} ms in a second behind RESTART tries`);
      assert.ok(RESTART_BACKOFF_MS >= 1_000);
    } finally {
      reader.exec('COMMIT');
      reader.close();
      await checkpointer.stop();
      db.close();
    }
  });

  it('has store connections cut a grown WAL back to the limit, above the size at which it is started over', () => {
    const db = openStoreDatabase(join(tmp.dir, 'store.db'));
    try {
      assert.equal(db.pragma('journal_size_limit', { simple: true }), WAL_SIZE_LIMIT_BYTES);
      assert.ok(DEFAULT_RESTART_BYTES < WAL_SIZE_LIMIT_BYTES);
    } finally {
      db.close();
    }
  });

  it('hands checkpoints back to the connection when its worker fails', async () => {
    const file = join(tmp.dir, 'store.db');
    const db = openStoreDatabase(file);
    const checkpointer = new WalCheckpointer(db, join(tmp.dir, 'missing.db'));
    const [err] = (await once(checkpointer, 'error')) as [Error];
    assert.match(err.message, /^WAL checkpoints of .*missing\.db: SQLITE_CANTOPEN: /);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    db.close();
  });

  it('does not keep a process alive that has nothing else to do', () => {
    const file = join(tmp.dir, 'exit.db');
    const code = `const { acquireStoreDatabase } = require(${JSON.stringify(require.resolve('../../../lib/store/database'))});
      acquireStoreDatabase(${JSON.stringify(file)}).exec('CREATE TABLE t (x)');`;
    const child = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', code], { timeout: 15_000 });
    assert.equal(child.signal, null, 'the process had to be killed');
    assert.equal(child.status, 0, String(child.stderr));
  });

  it('runs for every shared store connection of a data dir', () => {
    const file = join(tmp.dir, 'shared.db');
    const db = acquireStoreDatabase(file);
    try {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0);
    } finally {
      releaseStoreDatabase(file);
    }
    assert.equal(db.open, false);
    const memory = acquireStoreDatabase(':memory:');
    assert.equal(memory.pragma('wal_autocheckpoint', { simple: true }), 1000);
    releaseStoreDatabase(':memory:');
  });

  it("reports a failure of a shared connection's checkpoints, whose commits then checkpoint again", async () => {
    const file = join(tmp.dir, 'reported.db');
    let stop: (() => void) | undefined;
    const reported = new Promise<[Error, string]>((resolve) => {
      stop = onStoreBackgroundError((err, what) => resolve([err, what]));
    });
    const db = acquireStoreDatabase(file);
    try {
      // Gone before the checkpoint thread (still starting) opens it; this connection keeps the open file.
      unlinkSync(file);
      const [err, what] = await reported;
      assert.match(err.message, /SQLITE_CANTOPEN/);
      assert.equal(what, 'WAL checkpoints are back in store commits');
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000, 'commits checkpoint again');
    } finally {
      stop?.();
      releaseStoreDatabase(file);
    }
  });
});
