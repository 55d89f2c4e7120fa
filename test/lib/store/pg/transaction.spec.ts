import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import { pgTransaction } from '../../../../lib/store/pg/transaction';

describe('pgTransaction', () => {
  it("listens for the connection's errors from the moment the pool hands it over", async () => {
    // The packet that ended a connection's last query may also carry the server's "terminating connection": pg
    // releases the connection, the pool hands it to the caller waiting for one, and the error is emitted, all in that
    // packet's handling. A listener attached after `await pool.connect()` would come a microtask late (uncaught).
    const terminating = new Error('terminating connection due to administrator command');
    let dead = false;
    const released: (Error | undefined)[] = [];
    const connection = Object.assign(new EventEmitter(), {
      query: async () => {
        if (dead) throw terminating;
        return { rows: [] };
      },
      release: (err?: Error) => void released.push(err),
    });
    const handOver = (deliver: () => void) =>
      setImmediate(() => {
        deliver();
        dead = true;
        connection.emit('error', terminating);
      });
    const pool = {
      connect(callback?: (err: Error | undefined, client: unknown) => void) {
        if (callback) return void handOver(() => callback(undefined, connection));
        return new Promise((resolve) => handOver(() => resolve(connection)));
      },
    } as unknown as Pool;
    await assert.rejects(
      pgTransaction(pool, async (c) => (await c.query('SELECT 1')).rows),
      /terminating connection/,
    );
    assert.deepEqual(released, [terminating], 'the broken connection is not handed to the next caller');
  });
});
