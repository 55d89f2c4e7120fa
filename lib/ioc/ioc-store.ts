/**
 * Feeds of the IOC library saved in the store database, so that a restart reloads them without fetching.
 *
 * A feed is one header row (with the distinct metadata records of the feed, as JSON) and its values in groups: one
 * row per (type, metadata) holding up to GROUP_SIZE values joined by newlines, and their source object refs likewise.
 * Reloading a group is one `split`, and its indicators share one metadata object, so a million indicators reload
 * in well under a second, and saving them is a handful of statements. A value holding a line break is not saved: no
 * indicator type allows one, so the index rejects it anyway.
 */
import type Database from 'better-sqlite3';
import type { Indicator, IndicatorType, Tlp } from './model';

/** Values per stored row: bounds the size of one text value (a few MB). */
export const GROUP_SIZE = 50_000;

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
CREATE TABLE IF NOT EXISTS ioc_feed_values (
  feed TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  meta INTEGER NOT NULL,
  ioc_values TEXT NOT NULL,
  refs TEXT,
  PRIMARY KEY (feed, seq)
);
`;

const LINE_BREAK = /[\n\r]/;

/** A key equal for indicators with equal metadata; cheaper than JSON.stringify of the whole indicator. */
function metaKey(ind: Indicator): string {
  const tags = Array.isArray(ind.tags) ? ind.tags.join('\u0001') : String(ind.tags);
  const attack = Array.isArray(ind.attack) ? ind.attack.join('\u0001') : String(ind.attack);
  return `${ind.type}\u0002${ind.confidence}\u0002${ind.tlp}\u0002${tags}\u0002${attack}\u0002${ind.validFrom}\u0002${ind.validUntil}\u0002${ind.firstSeen}\u0002${ind.lastSeen}`;
}

function metaOf(ind: Indicator): Meta {
  const meta: Meta = { confidence: ind.confidence, tlp: ind.tlp, tags: ind.tags, attack: ind.attack };
  if (ind.validFrom !== undefined) meta.validFrom = ind.validFrom;
  if (ind.validUntil !== undefined) meta.validUntil = ind.validUntil;
  if (ind.firstSeen !== undefined) meta.firstSeen = ind.firstSeen;
  if (ind.lastSeen !== undefined) meta.lastSeen = ind.lastSeen;
  return meta;
}

interface Group {
  type: string;
  meta: number;
  values: string[];
  refs: string[];
  hasRefs: boolean;
}

interface ValueRow {
  type: string;
  meta: number;
  ioc_values: string;
  refs: string | null;
}

export class IocFeedStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    this.statements = {
      list: db.prepare<[], HeaderRow>('SELECT name, allow, saved, count, state FROM ioc_feeds ORDER BY rowid'),
      info: db.prepare<[string], HeaderRow>('SELECT name, allow, saved, count, state FROM ioc_feeds WHERE name = ?'),
      metas: db.prepare<[string], { metas: string }>('SELECT metas FROM ioc_feeds WHERE name = ?'),
      values: db.prepare<[string], ValueRow>(
        'SELECT type, meta, ioc_values, refs FROM ioc_feed_values WHERE feed = ? ORDER BY seq',
      ),
      upsert: db.prepare(
        `INSERT INTO ioc_feeds (name, allow, saved, count, state, metas) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET allow = excluded.allow, saved = excluded.saved, count = excluded.count,
           state = excluded.state, metas = excluded.metas`,
      ),
      insertValues: db.prepare(
        'INSERT INTO ioc_feed_values (feed, seq, type, meta, ioc_values, refs) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deleteValues: db.prepare('DELETE FROM ioc_feed_values WHERE feed = ?'),
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
    const groups = new Map<string, Group>();
    let count = 0;
    for (const ind of indicators) {
      if (typeof ind !== 'object' || ind === null || typeof ind.value !== 'string' || typeof ind.type !== 'string') {
        continue; // the index rejects it too, and counts it for this load; a reload need not count it again
      }
      if (LINE_BREAK.test(ind.value) || LINE_BREAK.test(ind.type)) continue;
      const key = metaKey(ind);
      let group = groups.get(key);
      if (group === undefined) {
        group = { type: ind.type, meta: metas.push(metaOf(ind)) - 1, values: [], refs: [], hasRefs: false };
        groups.set(key, group);
      }
      const ref = typeof ind.ref === 'string' && !LINE_BREAK.test(ind.ref) ? ind.ref : '';
      group.values.push(ind.value);
      group.refs.push(ref);
      if (ref !== '') group.hasRefs = true;
      count++;
    }
    const state = options.state === undefined ? null : JSON.stringify(options.state);
    const { deleteValues, upsert, insertValues } = this.statements;
    this.db.transaction(() => {
      deleteValues.run(name);
      upsert.run(name, options.allow ? 1 : 0, new Date().toISOString(), count, state, JSON.stringify(metas));
      let seq = 0;
      for (const g of groups.values()) {
        for (let i = 0; i < g.values.length; i += GROUP_SIZE) {
          const values = g.values.slice(i, i + GROUP_SIZE).join('\n');
          const refs = g.hasRefs ? g.refs.slice(i, i + GROUP_SIZE).join('\n') : null;
          insertValues.run(name, seq++, g.type, g.meta, values, refs);
        }
      }
    })();
  }

  /** The saved indicators of a feed (empty when none are saved); indicators of one group share their arrays. */
  indicators(name: string): Indicator[] {
    const row = this.statements.metas.get(name);
    if (row === undefined) return [];
    const metas = JSON.parse(row.metas) as Meta[];
    const out: Indicator[] = [];
    for (const { type, meta: m, ioc_values, refs } of this.statements.values.iterate(name)) {
      const meta = metas[m];
      const values = ioc_values.split('\n');
      const refList = refs === null ? undefined : refs.split('\n');
      for (let i = 0; i < values.length; i++) {
        const ind: Indicator = {
          type: type as IndicatorType,
          value: values[i],
          confidence: meta.confidence,
          tlp: meta.tlp as Tlp,
          tags: meta.tags,
          attack: meta.attack,
        };
        if (meta.validFrom !== undefined) ind.validFrom = meta.validFrom;
        if (meta.validUntil !== undefined) ind.validUntil = meta.validUntil;
        if (meta.firstSeen !== undefined) ind.firstSeen = meta.firstSeen;
        if (meta.lastSeen !== undefined) ind.lastSeen = meta.lastSeen;
        if (refList !== undefined && refList[i] !== '') ind.ref = refList[i];
        out.push(ind);
      }
    }
    return out;
  }

  /** Deletes a saved feed; true when there was one. */
  remove(name: string): boolean {
    return this.db.transaction(() => {
      this.statements.deleteValues.run(name);
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
