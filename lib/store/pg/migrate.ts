import type { Pool, PoolClient } from 'pg';
import { pgTransaction } from './transaction';

/**
 * Schema migrations, applied on start. Each part of the store (cases, context, journal, …) owns an ordered list of
 * steps under its own component name, so parts evolve independently. Every instance runs `migrate` when it opens
 * the store; a transaction-scoped advisory lock makes instances that start together apply each step exactly once.
 */

export interface Migration {
  /** 1, 2, 3, … in order; a published step never changes, a new one is appended. */
  version: number;
  /** What the step does, kept in the migrations table. */
  description: string;
  /** SQL text (several statements allowed) or a function run inside the migration's transaction. */
  up: string | ((client: PoolClient) => Promise<void>);
}

/** The advisory lock key of migrations (any constant; chosen not to collide with the leases' hashed keys). */
const MIGRATION_LOCK = 0x50a2_0001;

export async function migrate(pool: Pool, component: string, migrations: readonly Migration[]): Promise<number> {
  const ordered = [...migrations].sort((a, b) => a.version - b.version);
  ordered.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new Error(`${component} migrations must be numbered 1, 2, 3, … (found ${m.version})`);
  });
  return pgTransaction(
    pool,
    async (client) => {
      await client.query(`CREATE TABLE IF NOT EXISTS soar_migrations (
        component text NOT NULL,
        version integer NOT NULL,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (component, version))`);
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT max(version) AS version FROM soar_migrations WHERE component = $1',
        [component],
      );
      const current = rows[0]?.version ?? 0;
      if (current > ordered.length) {
        throw new Error(
          `the PostgreSQL store's ${component} schema is at version ${current}, newer than this version of ` +
            `node-red-contrib-soar knows (${ordered.length}): upgrade the package on every instance`,
        );
      }
      for (const step of ordered.slice(current)) {
        if (typeof step.up === 'string') await client.query(step.up);
        else await step.up(client);
        await client.query('INSERT INTO soar_migrations (component, version, description) VALUES ($1, $2, $3)', [
          component,
          step.version,
          step.description,
        ]);
      }
      return ordered.length - current;
    },
    { attempts: 1, begin: `SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})` },
  );
}
