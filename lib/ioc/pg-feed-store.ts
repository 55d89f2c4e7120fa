/**
 * The IOC library's saved feeds in PostgreSQL, shared by several instances: the same stored form as the SQLite
 * store (./ioc-store: a header row with the distinct metadata records, and rows of up to GROUP_SIZE values joined by
 * newlines), plus a version per feed from one sequence, bumped by every save, so that an instance sees which feeds
 * another one replaced (a cheap `SELECT name, version` poll) and reloads just those.
 */
import type { Pool, PoolClient } from 'pg';
import type { FeedGroups } from './ioc-index';
import { rowsToGroups, type FeedRow, type FeedRows, type SavedFeedInfo } from './ioc-store';
import { migrate, type Migration } from '../store/pg/migrate';
import { pgTransaction } from '../store/pg/transaction';

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    description: 'IOC library: saved feeds, their values in grouped rows, a version per save',
    up: `
      CREATE SEQUENCE soar_ioc_feed_version;
      CREATE TABLE soar_ioc_feeds (
        name     text    PRIMARY KEY,
        position bigserial,
        allow    boolean NOT NULL,
        saved    text    NOT NULL,
        count    integer NOT NULL,
        state    text,
        metas    text    NOT NULL,
        rejected integer NOT NULL DEFAULT 0,
        version  bigint  NOT NULL);
      CREATE TABLE soar_ioc_feed_values (
        feed       text    NOT NULL,
        seq        integer NOT NULL,
        type       text    NOT NULL,
        meta       integer NOT NULL,
        ioc_values text    NOT NULL,
        refs       text,
        meta_ids   text,
        PRIMARY KEY (feed, seq));`,
  },
];

/** Rows per INSERT: a row holds up to GROUP_SIZE values (about 1–2 MB), so a statement carries tens of MB at most. */
const ROWS_PER_INSERT = 16;

interface HeaderRow {
  name: string;
  allow: boolean;
  saved: string;
  count: number;
  state: string | null;
  rejected: number;
  version: number;
  metas: string;
}

/** A saved feed as loaded: what the index takes, what the library shows, and its version. */
export interface LoadedFeed extends FeedGroups {
  info: SavedFeedInfo;
  version: number;
}

function toInfo(row: HeaderRow): SavedFeedInfo {
  const info: SavedFeedInfo = {
    name: row.name,
    allow: row.allow,
    saved: row.saved,
    count: row.count,
    rejected: row.rejected,
  };
  if (row.state !== null) info.state = JSON.parse(row.state) as unknown;
  return info;
}

export class PgIocFeedStore {
  constructor(private readonly pool: Pool) {}

  async migrate(): Promise<void> {
    await migrate(this.pool, 'ioc', MIGRATIONS);
  }

  /** Every saved feed's version, by name. */
  async versions(): Promise<Map<string, number>> {
    const { rows } = await this.pool.query<{ name: string; version: number }>(
      'SELECT name, version FROM soar_ioc_feeds',
    );
    return new Map(rows.map((r) => [r.name, r.version]));
  }

  /**
   * Loads saved feeds (all, or those named), in the order first saved, from one snapshot: a feed replaced meanwhile
   * by another instance comes whole, old or new.
   */
  load(names?: readonly string[]): Promise<LoadedFeed[]> {
    return pgTransaction(this.pool, async (client) => {
      await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const headers = await client.query<HeaderRow>(
        `SELECT name, allow, saved, count, state, rejected, version, metas FROM soar_ioc_feeds
         WHERE $1::text[] IS NULL OR name = ANY($1::text[]) ORDER BY position`,
        [names ?? null],
      );
      const values = await client.query<Omit<FeedRow, 'seq'> & { feed: string }>(
        `SELECT feed, type, meta, ioc_values, refs, meta_ids FROM soar_ioc_feed_values
         WHERE $1::text[] IS NULL OR feed = ANY($1::text[]) ORDER BY feed, seq`,
        [names ?? null],
      );
      const byFeed = new Map<string, Omit<FeedRow, 'seq'>[]>();
      for (const row of values.rows) {
        let list = byFeed.get(row.feed);
        if (list === undefined) byFeed.set(row.feed, (list = []));
        list.push(row);
      }
      return headers.rows.map((h) => ({
        name: h.name,
        allow: h.allow,
        rejected: h.rejected,
        groups: rowsToGroups(h.metas, byFeed.get(h.name) ?? []),
        info: toInfo(h),
        version: h.version,
      }));
    });
  }

  /**
   * Replaces what is saved for the feed, in one transaction; resolves to the feed's new version. The header row is
   * written first: its lock makes two instances saving the same feed at once take turns (the later save wins whole).
   */
  save(name: string, feed: FeedRows, options: { allow: boolean; state?: unknown; rejected?: number }): Promise<number> {
    return pgTransaction(this.pool, async (client) => {
      const { rows } = await client.query<{ version: number }>(
        `INSERT INTO soar_ioc_feeds (name, allow, saved, count, state, metas, rejected, version)
         VALUES ($1, $2, $3, $4, $5, $6, $7, nextval('soar_ioc_feed_version'))
         ON CONFLICT (name) DO UPDATE SET allow = EXCLUDED.allow, saved = EXCLUDED.saved, count = EXCLUDED.count,
           state = EXCLUDED.state, metas = EXCLUDED.metas, rejected = EXCLUDED.rejected,
           version = nextval('soar_ioc_feed_version')
         RETURNING version`,
        [
          name,
          options.allow,
          new Date().toISOString(),
          feed.count,
          options.state === undefined ? null : JSON.stringify(options.state),
          JSON.stringify(feed.metas),
          options.rejected ?? 0,
        ],
      );
      await client.query('DELETE FROM soar_ioc_feed_values WHERE feed = $1', [name]);
      await insertRows(client, name, feed.rows);
      return rows[0].version;
    });
  }

  /** Deletes a saved feed; true when there was one. */
  remove(name: string): Promise<boolean> {
    return pgTransaction(this.pool, async (client) => {
      const header = await client.query('DELETE FROM soar_ioc_feeds WHERE name = $1', [name]);
      await client.query('DELETE FROM soar_ioc_feed_values WHERE feed = $1', [name]);
      return (header.rowCount ?? 0) > 0;
    });
  }
}

/** Multi-row INSERTs of the stored rows (each already a join of up to GROUP_SIZE values). */
async function insertRows(client: PoolClient, feed: string, rows: readonly FeedRow[]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + ROWS_PER_INSERT);
    const params: unknown[] = [feed];
    const tuples = chunk.map((row) => {
      const at = params.length;
      params.push(row.seq, row.type, row.meta, row.ioc_values, row.refs, row.meta_ids);
      return `($1, $${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}, $${at + 5}, $${at + 6})`;
    });
    await client.query(
      `INSERT INTO soar_ioc_feed_values (feed, seq, type, meta, ioc_values, refs, meta_ids) VALUES ${tuples.join(', ')}`,
      params,
    );
  }
}
