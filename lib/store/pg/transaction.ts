import type { Pool, PoolClient } from 'pg';

/**
 * One transaction on one pooled PostgreSQL connection, safe against a server that goes away mid-transaction.
 *
 * pg-pool listens for a connection's `error` event only while the connection is idle in the pool: a connection that
 * breaks while checked out (server restart, network cut) emits `error` with no listener, which Node turns into an
 * uncaught exception. Here a listener is attached for the whole checkout, the operation fails with the error instead,
 * and the broken connection is destroyed rather than handed to the next caller.
 */

/**
 * SQLSTATEs after which the whole transaction can simply run again: serialization failure, deadlock, and a lock not
 * granted within the pool's lock timeout (another instance held it too long).
 */
const RETRYABLE_STATES = new Set(['40001', '40P01', '55P03']);

/** Thrown by `work` to have the transaction rolled back and run again (a race another instance won). */
export class RetryTransaction extends Error {}

const retryable = (err: unknown) =>
  err instanceof RetryTransaction || RETRYABLE_STATES.has((err as { code?: string } | null)?.code ?? '');

export interface TransactionOptions {
  /** How often to run a transaction that hit a deadlock, a serialization failure or a RetryTransaction (default 5). */
  attempts?: number;
  /** Parameterless SQL sent together with BEGIN (saves a round trip), e.g. taking advisory locks. */
  begin?: string;
}

export async function pgTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  { attempts = 5, begin }: TransactionOptions = {},
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let broken: Error | undefined;
    const onError = (err: Error) => (broken = err);
    const client = await checkOut(pool, onError);
    try {
      await client.query(begin ? `BEGIN; ${begin}` : 'BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken ??= rollbackErr));
      if (attempt < attempts && !broken && retryable(err)) continue;
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

/**
 * A pooled connection with `onError` listening from the moment the pool hands it over. With `await pool.connect()`
 * the listener would come a microtask late: a connection released by a query whose last packet also carried the
 * server's "terminating connection" goes straight to the caller waiting for one, and the error is emitted in that
 * same packet's handling, with no listener (seen in CI as an uncaught error while a test stopped the server).
 */
function checkOut(pool: Pool, onError: (err: Error) => void): Promise<PoolClient> {
  return new Promise((resolve, reject) => {
    pool.connect((err, client) => {
      if (err || !client) return reject(err ?? new Error('no connection'));
      client.on('error', onError);
      resolve(client);
    });
  });
}

/** A readable reason from a pg or network error (a refused connection to several addresses has no message). */
export function pgErrorText(err: unknown): string {
  const e = err as { message?: string; code?: string; errors?: { message?: string }[] } | null;
  if (e?.message) return e.message;
  if (e?.errors?.length) return e.errors.map((x) => x.message).join('; ');
  return e?.code ?? String(err);
}
