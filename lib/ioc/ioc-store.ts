/**
 * Feeds of the IOC library saved in the store database, so that a restart reloads them without fetching.
 *
 * A feed is one header row and its indicators in chunks of CHUNK_SIZE, each chunk one text value: the distinct
 * metadata records of the feed are stored once (JSON), each indicator as one line `meta\ttype\tvalue\tref`. That is
 * a handful of statements per feed instead of a row per indicator, so saving a million indicators takes well under
 * a second and loading them is a string split rather than a million row reads.
 */
import type Database from 'better-sqlite3';
import type { Indicator, IndicatorType, Tlp } from './model';

/** Indicators per stored chunk: bounds the size of one text value (a few MB). */
export const CHUNK_SIZE = 50_000;

export interface SavedFeedInfo {
  name: string;
  allow: boolean;
  /** ISO time of the save. */
  saved: string;
  count: number;
  /** The source's state saved with the feed (see IocLibrary.replaceFeed). */
  state?: unknown;
}

/** The metadata of an indicator, without type, value and ref. */
type Meta = Omit<Indicator, 'type' | 'value' | 'ref' | 'feed'>;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ioc_feeds (
  name TEXT PRIMARY KEY,
  allow INTEGER NOT NULL,
  saved TEXT NOT NULL,
  count INTEGER NOT NULL,
  state TEXT,
  metas TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS ioc_feed_chunks (
  feed TEXT NOT NULL,
  seq INTEGER NOT NULL,
  lines TEXT NOT NULL,
  PRIMARY KEY (feed, seq)
);
`;

/** A field that could break the line format (or looks encoded) is written as a JSON string. */
const NEEDS_ENCODING = /[\t\n\r]|^"/;

function encodeField(s: string): string {
  return NEEDS_ENCODING.test(s) ? JSON.stringify(s) : s;
}

function decodeField(s: string): string {
  return s.charCodeAt(0) === 34 ? (JSON.parse(s) as string) : s;
}

/** A key equal for indicators with equal metadata; cheaper than JSON.stringify of the whole indicator. */
function metaKey(ind: Indicator): string {
  const tags = Array.isArray(ind.tags) ? ind.tags.join('\u0001') : String(ind.tags);
  const attack = Array.isArray(ind.attack) ? ind.attack.join('\u0001') : String(ind.attack);
  return `${ind.confidence}\u0002${ind.tlp}\u0002${tags}\u0002${attack}\u0002${ind.validFrom}\u0002${ind.validUntil}\u0002${ind.firstSeen}\u0002${ind.lastSeen}`;
}

function metaOf(ind: Indicator): Meta {
  const meta: Meta = { confidence: ind.confidence, tlp: ind.tlp, tags: ind.tags, attack: ind.attack };
  if (ind.validFrom !== undefined) meta.validFrom = ind.validFrom;
  if (ind.validUntil !== undefined) meta.validUntil = ind.validUntil;
  if (ind.firstSeen !== undefined) meta.firstSeen = ind.firstSeen;
  if (ind.lastSeen !== undefined) meta.lastSeen = ind.lastSeen;
  return meta;
}

export class IocFeedStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.statements = {
      list: db.prepare<[], HeaderRow>('SELECT name, allow, saved, count, state FROM ioc_feeds ORDER BY rowid'),
      info: db.prepare<[string], HeaderRow>('SELECT name, allow, saved, count, state FROM ioc_feeds WHERE name = ?'),
      metas: db.prepare<[string], { metas: string }>('SELECT metas FROM ioc_feeds WHERE name = ?'),
      chunks: db.prepare<[string], { lines: string }>('SELECT lines FROM ioc_feed_chunks WHERE feed = ? ORDER BY seq'),
      upsert: db.prepare(
        `INSERT INTO ioc_feeds (name, allow, saved, count, state, metas) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET allow = excluded.allow, saved = excluded.saved, count = excluded.count,
           state = excluded.state, metas = excluded.metas`,
      ),
      insertChunk: db.prepare('INSERT INTO ioc_feed_chunks (feed, seq, lines) VALUES (?, ?, ?)'),
      deleteChunks: db.prepare('DELETE FROM ioc_feed_chunks WHERE feed = ?'),
      deleteFeed: db.prepare('DELETE FROM ioc_feeds WHERE name = ?'),
    };
  }

  /** Saved feeds in the order they were first saved. */
  list(): SavedFeedInfo[] {
    return this.statements.list.all().map(toInfo);
  }

  info(name: string): SavedFeedInfo | undefined {
    const row = this.statements.info.get(name);
    return row === undefined ? undefined : toInfo(row);
  }

  /** Replaces what is saved for the feed, in one transaction. */
  save(name: string, indicators: readonly Indicator[], options: { allow: boolean; state?: unknown }): void {
    const metas: Meta[] = [];
    const metaIndex = new Map<string, number>();
    const chunks: string[] = [];
    let lines: string[] = [];
    let count = 0;
    for (const ind of indicators) {
      if (typeof ind !== 'object' || ind === null || typeof ind.value !== 'string' || typeof ind.type !== 'string') {
        continue; // the index rejects it too, and counts it for this load; a reload need not count it again
      }
      const key = metaKey(ind);
      let m = metaIndex.get(key);
      if (m === undefined) {
        m = metas.push(metaOf(ind)) - 1;
        metaIndex.set(key, m);
      }
      const ref = typeof ind.ref === 'string' ? `\t${encodeField(ind.ref)}` : '';
      count++;
      lines.push(`${m}\t${encodeField(ind.type)}\t${encodeField(ind.value)}${ref}`);
      if (lines.length === CHUNK_SIZE) {
        chunks.push(lines.join('\n'));
        lines = [];
      }
    }
    if (lines.length > 0) chunks.push(lines.join('\n'));
    const state = options.state === undefined ? null : JSON.stringify(options.state);
    this.db.transaction(() => {
      this.statements.deleteChunks.run(name);
      this.statements.upsert.run(
        name,
        options.allow ? 1 : 0,
        new Date().toISOString(),
        count,
        state,
        JSON.stringify(metas),
      );
      chunks.forEach((text, seq) => this.statements.insertChunk.run(name, seq, text));
    })();
  }

  /** The saved indicators of a feed (empty when none are saved); they share their metadata objects. */
  indicators(name: string): Indicator[] {
    const row = this.statements.metas.get(name);
    if (row === undefined) return [];
    const metas = JSON.parse(row.metas) as Meta[];
    const out: Indicator[] = [];
    for (const { lines } of this.statements.chunks.iterate(name)) {
      for (const line of lines.split('\n')) {
        const [m, type, value, ref] = line.split('\t');
        const meta = metas[Number(m)];
        const ind: Indicator = {
          type: decodeField(type) as IndicatorType,
          value: decodeField(value),
          confidence: meta.confidence,
          tlp: meta.tlp as Tlp,
          tags: meta.tags,
          attack: meta.attack,
        };
        if (meta.validFrom !== undefined) ind.validFrom = meta.validFrom;
        if (meta.validUntil !== undefined) ind.validUntil = meta.validUntil;
        if (meta.firstSeen !== undefined) ind.firstSeen = meta.firstSeen;
        if (meta.lastSeen !== undefined) ind.lastSeen = meta.lastSeen;
        if (ref !== undefined) ind.ref = decodeField(ref);
        out.push(ind);
      }
    }
    return out;
  }

  /** Deletes a saved feed; true when there was one. */
  remove(name: string): boolean {
    return this.db.transaction(() => {
      this.statements.deleteChunks.run(name);
      return this.statements.deleteFeed.run(name).changes > 0;
    })();
  }
}

interface HeaderRow {
  name: string;
  allow: number;
  saved: string;
  count: number;
  state: string | null;
}

function toInfo(row: HeaderRow): SavedFeedInfo {
  const info: SavedFeedInfo = { name: row.name, allow: row.allow === 1, saved: row.saved, count: row.count };
  if (row.state !== null) info.state = JSON.parse(row.state) as unknown;
  return info;
}
