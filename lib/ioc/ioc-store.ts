/**
 * Feeds of the IOC library saved in the store database, so that a restart reloads them without fetching.
 *
 * A feed is one header row (with the distinct metadata records of the feed, as JSON) and its values in rows of up to
 * GROUP_SIZE values of one type joined by newlines, with their source object refs likewise and, when the values of a
 * row do not all share one metadata record (`meta`), the record of each value (`meta_ids`). Reloading a row is a
 * `split` or two and no indicator objects (see `groups`, which IocIndex.loadFeeds takes as they are), and saving
 * what the index accepted (IocIndex.replaceFeed with `keepGroups`) is a join per row. A value holding a line break
 * is not saved: no indicator type allows one, so the index rejects it anyway.
 */
import type Database from 'better-sqlite3';
import type { IndicatorGroup, IndicatorMeta } from './ioc-index';
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
  /** Indicators the index rejected when the feed was saved (not saved themselves). */
  rejected: number;
}

/** The metadata of an indicator, without type, value and ref. */
type Meta = IndicatorMeta;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS ioc_feeds (
  name TEXT PRIMARY KEY,
  allow INTEGER NOT NULL,
  saved TEXT NOT NULL,
  count INTEGER NOT NULL,
  state TEXT,
  metas TEXT NOT NULL,
  rejected INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS ioc_feed_values (
  feed TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  meta INTEGER NOT NULL,
  ioc_values TEXT NOT NULL,
  refs TEXT,
  meta_ids TEXT,
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

function metaOf(ind: Meta): Meta {
  const meta: Meta = { confidence: ind.confidence, tlp: ind.tlp, tags: ind.tags, attack: ind.attack };
  if (ind.validFrom !== undefined) meta.validFrom = ind.validFrom;
  if (ind.validUntil !== undefined) meta.validUntil = ind.validUntil;
  if (ind.firstSeen !== undefined) meta.firstSeen = ind.firstSeen;
  if (ind.lastSeen !== undefined) meta.lastSeen = ind.lastSeen;
  return meta;
}

interface Group {
  type: string;
  /** The metadata of every value, or -1 when `metaIds` gives it per value. */
  meta: number;
  metaIds?: ArrayLike<number>;
  values: string[];
  refs: string[];
  hasRefs: boolean;
}

export class IocFeedStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    db.exec(SCHEMA);
    // Stores saved before per-value metadata ids: add the column (their rows keep one metadata record each).
    const columns = db.prepare<[], { name: string }>('PRAGMA table_info(ioc_feed_values)').all();
    if (!columns.some((c) => c.name === 'meta_ids')) db.exec('ALTER TABLE ioc_feed_values ADD COLUMN meta_ids TEXT');
    const feedColumns = db.prepare<[], { name: string }>('PRAGMA table_info(ioc_feeds)').all();
    if (!feedColumns.some((c) => c.name === 'rejected')) {
      db.exec('ALTER TABLE ioc_feeds ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0');
    }
    this.statements = {
      list: db.prepare<[], HeaderRow>(
        'SELECT name, allow, saved, count, state, rejected FROM ioc_feeds ORDER BY rowid',
      ),
      info: db.prepare<[string], HeaderRow>(
        'SELECT name, allow, saved, count, state, rejected FROM ioc_feeds WHERE name = ?',
      ),
      metas: db.prepare<[string], { metas: string }>('SELECT metas FROM ioc_feeds WHERE name = ?'),
      values: db.prepare<[string], Omit<FeedRow, 'seq'>>(
        'SELECT type, meta, ioc_values, refs, meta_ids FROM ioc_feed_values WHERE feed = ? ORDER BY seq',
      ),
      upsert: db.prepare(
        `INSERT INTO ioc_feeds (name, allow, saved, count, state, metas, rejected) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET allow = excluded.allow, saved = excluded.saved, count = excluded.count,
           state = excluded.state, metas = excluded.metas, rejected = excluded.rejected`,
      ),
      insertValues: db.prepare(
        'INSERT INTO ioc_feed_values (feed, seq, type, meta, ioc_values, refs, meta_ids) VALUES (?, ?, ?, ?, ?, ?, ?)',
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

  /** Replaces what is saved for the feed, in one transaction: the indicators as given, grouped by metadata. */
  save(name: string, indicators: readonly Indicator[], options: { allow: boolean; state?: unknown }): void {
    this.write(name, indicatorRows(indicators), options);
  }

  /**
   * Replaces what is saved for the feed with these groups (as `IocIndex.replaceFeed` hands back with `keepGroups`),
   * in one transaction: a save is a join per group (see `groupRows`).
   */
  saveGroups(
    name: string,
    groups: readonly IndicatorGroup[],
    options: { allow: boolean; state?: unknown; rejected?: number },
  ): void {
    this.write(name, groupRows(groups), options);
  }

  private write(name: string, feed: FeedRows, options: { allow: boolean; state?: unknown; rejected?: number }): void {
    const state = options.state === undefined ? null : JSON.stringify(options.state);
    const { deleteValues, upsert, insertValues } = this.statements;
    this.db.transaction(() => {
      deleteValues.run(name);
      const rejected = options.rejected ?? 0;
      upsert.run(
        name,
        options.allow ? 1 : 0,
        new Date().toISOString(),
        feed.count,
        state,
        JSON.stringify(feed.metas),
        rejected,
      );
      for (const row of feed.rows) {
        insertValues.run(name, row.seq, row.type, row.meta, row.ioc_values, row.refs, row.meta_ids);
      }
    })();
  }

  /**
   * The saved groups of a feed (empty when none are saved), as `IocIndex.loadFeeds` takes them: one per stored row,
   * values split, no indicator objects. Rows of one metadata record share one metadata object.
   */
  groups(name: string): IndicatorGroup[] {
    const row = this.statements.metas.get(name);
    if (row === undefined) return [];
    return rowsToGroups(row.metas, this.statements.values.iterate(name));
  }

  /** The saved indicators of a feed (empty when none are saved); indicators of one group share their arrays. */
  indicators(name: string): Indicator[] {
    return groupsToIndicators(this.groups(name));
  }

  /** Deletes a saved feed; true when there was one. */
  remove(name: string): boolean {
    return this.db.transaction(() => {
      this.statements.deleteValues.run(name);
      return this.statements.deleteFeed.run(name).changes > 0;
    })();
  }
}

/** One stored row: up to GROUP_SIZE values of one type, with their refs and metadata ids. */
export interface FeedRow {
  seq: number;
  type: string;
  /** Index into the feed's metadata records (the first value's when `meta_ids` is set). */
  meta: number;
  /** The values, joined by newlines. */
  ioc_values: string;
  /** The refs, joined by newlines; null when no value has one. */
  refs: string | null;
  /** Per-value indexes into the feed's metadata, comma-separated; null when `meta` holds for every value. */
  meta_ids: string | null;
}

/** A feed in its stored form: the distinct metadata records and the rows. Both stores (SQLite, PostgreSQL) keep it. */
export interface FeedRows {
  metas: Meta[];
  rows: FeedRow[];
  /** Values saved. */
  count: number;
}

/** The stored form of a list of indicators, grouped by metadata. */
export function indicatorRows(indicators: readonly Indicator[]): FeedRows {
  const metas: Meta[] = [];
  const groups = new Map<string, Group>();
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
  }
  return toRows(metas, [...groups.values()]);
}

/**
 * The stored form of the groups `IocIndex.replaceFeed` hands back with `keepGroups`: a join per group. Groups with
 * equal metadata (by identity) share one metadata record; values (and refs) holding a line break are left out.
 */
export function groupRows(groups: readonly IndicatorGroup[]): FeedRows {
  const metas: Meta[] = [];
  const metaIds = new Map<Meta, number>();
  const idOf = (meta: Meta): number => {
    let id = metaIds.get(meta);
    if (id === undefined) metaIds.set(meta, (id = metas.push(metaOf(meta)) - 1));
    return id;
  };
  /** Per `metas` array of the groups (a feed's groups share one): its indexes translated to ours. */
  const translated = new Map<readonly Meta[], number[]>();
  const rows: Group[] = [];
  for (const g of groups) {
    if (LINE_BREAK.test(g.type)) continue;
    let values = g.values as string[];
    let refs = g.refs !== undefined && g.refs.length === values.length ? (g.refs as string[]) : [];
    let hasRefs = refs.some((r) => r !== '');
    let ids: ArrayLike<number> | undefined;
    let meta = -1;
    if (g.metaIds !== undefined && g.metas !== undefined) {
      const theirs = g.metas;
      let ours = translated.get(theirs);
      if (ours === undefined) translated.set(theirs, (ours = new Array<number>(theirs.length).fill(-1)));
      const out = new Array<number>(g.metaIds.length);
      for (let i = 0; i < out.length; i++) {
        const k = g.metaIds[i];
        out[i] = ours[k] === -1 ? (ours[k] = idOf(theirs[k])) : ours[k];
      }
      ids = out;
    } else if (g.meta !== undefined) meta = idOf(g.meta);
    else continue;
    if (values.some((v) => LINE_BREAK.test(v)) || (hasRefs && refs.some((r) => LINE_BREAK.test(r)))) {
      const kept = values.flatMap((v, i) => (LINE_BREAK.test(v) ? [] : [i]));
      const allRefs = refs;
      const allIds = ids;
      values = kept.map((i) => values[i]);
      refs = hasRefs ? kept.map((i) => (LINE_BREAK.test(allRefs[i]) ? '' : allRefs[i])) : [];
      if (allIds !== undefined) ids = kept.map((i) => allIds[i]);
      hasRefs = refs.some((r) => r !== '');
    }
    rows.push({ type: g.type, meta, metaIds: ids, values, refs, hasRefs });
  }
  return toRows(metas, rows);
}

/** Groups cut into rows of at most GROUP_SIZE values, each a join. */
function toRows(metas: Meta[], groups: Group[]): FeedRows {
  const rows: FeedRow[] = [];
  let count = 0;
  for (const g of groups) {
    count += g.values.length;
    for (let i = 0; i < g.values.length; i += GROUP_SIZE) {
      const whole = i === 0 && g.values.length <= GROUP_SIZE;
      const values = (whole ? g.values : g.values.slice(i, i + GROUP_SIZE)).join('\n');
      const refs = g.hasRefs ? (whole ? g.refs : g.refs.slice(i, i + GROUP_SIZE)).join('\n') : null;
      let meta = g.meta;
      let metaIds: string | null = null;
      const ids = g.metaIds;
      if (ids !== undefined) {
        // One metadata record for the whole row (most feeds): kept in `meta`, no per-value list.
        const end = Math.min(i + GROUP_SIZE, g.values.length);
        meta = ids[i];
        let uniform = true;
        for (let k = i + 1; k < end && uniform; k++) uniform = ids[k] === meta;
        if (!uniform) metaIds = Array.prototype.slice.call(ids, i, end).join(',');
      }
      rows.push({ seq: rows.length, type: g.type, meta, ioc_values: values, refs, meta_ids: metaIds });
    }
  }
  return { metas, rows, count };
}

/**
 * Stored rows back as groups, as `IocIndex.loadFeeds` takes them: one per row, values split, no indicator objects.
 * Rows of one metadata record share one metadata object.
 */
export function rowsToGroups(metasJson: string, rows: Iterable<Omit<FeedRow, 'seq'>>): IndicatorGroup[] {
  const metas = shareLists(JSON.parse(metasJson) as Meta[]);
  const out: IndicatorGroup[] = [];
  for (const { type, meta, ioc_values, refs, meta_ids } of rows) {
    const group: IndicatorGroup = { type: type as IndicatorType, values: ioc_values.split('\n') };
    if (meta_ids === null) group.meta = metas[meta];
    else {
      group.metas = metas;
      group.metaIds = parseIds(meta_ids);
    }
    if (refs !== null) group.refs = refs.split('\n');
    out.push(group);
  }
  return out;
}

/**
 * Comma-separated metadata ids read digit by digit (a row holds up to GROUP_SIZE of them: splitting would make a
 * string per id). Anything but a decimal number gives -1, which names no metadata record (the index rejects the value).
 */
export function parseIds(text: string): Int32Array {
  let count = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 44) count++;
  const ids = new Int32Array(count);
  let k = 0;
  let id = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? 44 : text.charCodeAt(i);
    if (c === 44) {
      ids[k++] = digits > 0 && digits <= 9 ? id : -1;
      id = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits >= 0) {
      id = id * 10 + (c - 48);
      digits++;
    } else {
      digits = -1;
    }
  }
  return ids;
}

/**
 * The metadata records with equal tag lists (and ATT&CK lists) made one array each, as a parser hands them: the
 * index validates a list once per array it is given, and a feed has a few distinct lists over many records.
 */
function shareLists(metas: Meta[]): Meta[] {
  const lists = new Map<string, string[]>();
  const shared = (list: unknown): unknown => {
    // Not a list: the index rejects it, with its reason. An empty one costs the index nothing.
    if (!Array.isArray(list) || list.length === 0) return list;
    // A lone tag is its own key (JSON text, the key of any other list, starts with a bracket).
    const key = list.length === 1 && typeof list[0] === 'string' ? `\u0001${list[0]}` : JSON.stringify(list);
    const known = lists.get(key);
    if (known !== undefined) return known;
    lists.set(key, list as string[]);
    return list;
  };
  for (const meta of metas) {
    if (typeof meta !== 'object' || meta === null) continue;
    meta.tags = shared(meta.tags) as string[];
    meta.attack = shared(meta.attack) as string[];
  }
  return metas;
}

/** Groups as indicator objects (indicators of one group share their arrays). */
export function groupsToIndicators(groups: readonly IndicatorGroup[]): Indicator[] {
  const out: Indicator[] = [];
  for (const { type, meta: one, metas, metaIds, values, refs } of groups) {
    for (let i = 0; i < values.length; i++) {
      const meta = (metaIds === undefined ? one : metas?.[metaIds[i]]) as Meta;
      const ind: Indicator = {
        type,
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
      if (refs !== undefined && refs[i] !== '') ind.ref = refs[i];
      out.push(ind);
    }
  }
  return out;
}

interface HeaderRow {
  name: string;
  allow: number;
  saved: string;
  count: number;
  state: string | null;
  rejected: number;
}

function toInfo(row: HeaderRow): SavedFeedInfo {
  const info: SavedFeedInfo = {
    name: row.name,
    allow: row.allow === 1,
    saved: row.saved,
    count: row.count,
    rejected: row.rejected,
  };
  if (row.state !== null) info.state = JSON.parse(row.state) as unknown;
  return info;
}
