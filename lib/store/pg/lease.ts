import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import { migrate, type Migration } from './migrate';

/**
 * Leases: timed work that must happen once across several instances (an action's expiry, an approval's timeout, a
 * feed's refresh) is done by whichever instance holds the work's lease. A lease is a row with a holder and an
 * expiry: an instance takes a free or lapsed lease, renews its own, and a crashed holder's lease lapses after its
 * time to live, so another instance takes the work over.
 */

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'leases for timed work shared by several instances',
    up: `CREATE TABLE soar_leases (
      name text PRIMARY KEY,
      holder text NOT NULL,
      expires timestamptz NOT NULL)`,
  },
];

/** This process's identity as a lease holder (host, pid and a random part: unique across restarts). */
export const INSTANCE_ID = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

export async function migrateLeases(pool: Pool): Promise<void> {
  await migrate(pool, 'leases', MIGRATIONS);
}

/**
 * Takes or renews lease `name` for `ttlMs`; true when `holder` holds it now. Atomic: of several instances asking
 * at once for a free lease, exactly one gets it.
 */
export async function tryLease(pool: Pool, name: string, ttlMs: number, holder = INSTANCE_ID): Promise<boolean> {
  const { rows } = await pool.query(
    `INSERT INTO soar_leases (name, holder, expires) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
     ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires = EXCLUDED.expires
       WHERE soar_leases.holder = EXCLUDED.holder OR soar_leases.expires < now()
     RETURNING holder`,
    [name, holder, ttlMs],
  );
  return rows.length === 1;
}

/** Gives lease `name` up (if `holder` holds it), so another instance need not wait for it to lapse. */
export async function releaseLease(pool: Pool, name: string, holder = INSTANCE_ID): Promise<void> {
  await pool.query('DELETE FROM soar_leases WHERE name = $1 AND holder = $2', [name, holder]);
}
