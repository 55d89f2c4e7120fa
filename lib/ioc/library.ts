/**
 * The IOC library of a process: one IocIndex per store location, shared by every IOC node, whose feeds are persisted
 * in the store so that a restart reloads them without fetching anything. The store is the SQLite database of the
 * data dir, or PostgreSQL shared by several instances (./pg-library): then every instance loads the same library at
 * start and follows the feeds the others replace or remove. Lookups only ever touch the in-memory index.
 */
import { SharedResources } from '../shared';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreSync } from '../store/database';
import { isPostgresUrl } from '../store/pg/pool';
import type { AllowlistSwitches } from './allowlists';
import { loadFeedContent, type FeedContentLoadOptions, type FeedReportSummary } from './feed-stream';
import type { FeedContentOptions } from './feeds/detect';
import { IocIndex, type FeedGroups, type IndicatorGroup } from './ioc-index';
import type { Indicator, ReplaceFeedResult } from './model';
import { IocFeedStore, type SavedFeedInfo } from './ioc-store';
import { openPgLibraryStore } from './pg-library';

export interface IocLibraryOptions {
  synchronous?: StoreSync;
  /** Which default allowlists are on (see ./allowlists). */
  defaultAllowlists?: AllowlistSwitches;
  /** PostgreSQL: how often the feeds other instances saved are looked for, in ms (default 5,000). */
  pollMs?: number;
  /** PostgreSQL: this instance as a holder of feed refresh leases (default: the process, lib/store/pg/lease). */
  instance?: string;
}

export interface SaveFeedOptions {
  /** The feed is an allowlist. */
  allow?: boolean;
  /** Whatever the feed's source needs to continue (a TAXII cursor, a file's size and time); kept as JSON. */
  state?: unknown;
}

/** A feed the library's store changed under it (another instance saved or removed it). */
export interface FeedChanges {
  replaced: FeedGroups[];
  removed: string[];
}

/**
 * Where a library keeps its feeds. What the feed loader reads (saved feeds, their state) answers at once; a save is
 * durable before `save` returns with SQLite, and before `flush` resolves with PostgreSQL.
 */
export interface LibraryStore {
  /** The store for messages (a URL without its password). */
  readonly describe: string;
  list(): SavedFeedInfo[];
  info(name: string): SavedFeedInfo | undefined;
  indicators(name: string): Indicator[];
  save(
    name: string,
    groups: readonly IndicatorGroup[],
    options: { allow: boolean; state?: unknown; rejected: number },
  ): void;
  remove(name: string): boolean;
  flush(): Promise<void>;
  /** True when this instance should refresh the feed now (it holds the feed's refresh lease for `ttlMs`). */
  refreshLease(feed: string, ttlMs: number): Promise<boolean>;
  /** Feeds changed by others, applied to the index as they are noticed (PostgreSQL). */
  follow(apply: (changes: FeedChanges) => void): void;
  /** Looks for changes by others now (PostgreSQL; resolves at once with SQLite). */
  sync(): Promise<void>;
  onBackgroundError(listener: (err: Error, what: string) => void): () => void;
  close(): Promise<void>;
}

export class IocLibrary {
  readonly index: IocIndex;
  /** How long the last start took to reload the saved feeds, in ms. */
  readonly reloadMs: number;

  constructor(
    readonly location: string,
    private readonly store: LibraryStore,
    saved: readonly FeedGroups[],
    options: IocLibraryOptions = {},
    started = Date.now(),
  ) {
    this.index = new IocIndex({ defaultAllowlists: options.defaultAllowlists ?? {} });
    // Every saved feed in one bulk load: groups of values straight from the store (no indicator objects), each
    // group's metadata validated once, the combined structures built once.
    this.index.loadFeeds(saved);
    this.reloadMs = Date.now() - started;
    store.follow(({ replaced, removed }) => {
      if (replaced.length > 0) this.index.loadFeeds(replaced);
      for (const name of removed) this.index.removeFeed(name);
    });
  }

  /**
   * Replaces a feed's indicators in the index (atomically: lookups see the old feed or the new one) and in the
   * store: durably before this returns with SQLite; with PostgreSQL once `flush()` resolves.
   */
  replaceFeed(name: string, indicators: readonly Indicator[], options: SaveFeedOptions = {}): ReplaceFeedResult {
    const { groups, ...result } = this.index.replaceFeed(name, indicators, { allow: options.allow, keepGroups: true });
    // What the index accepted, canonical, grouped by metadata record: the save is a join per group.
    this.store.save(name, groups ?? [], {
      allow: options.allow === true,
      state: options.state,
      rejected: result.rejected,
    });
    return result;
  }

  /**
   * Parses feed content and replaces the feed with it, in the index and the store, as `replaceFeed` of the parsed
   * indicators would; a large STIX bundle or CSV feed is read and indexed a batch at a time (./feed-stream). `check`
   * sees the parse report first and may refuse the load by throwing (the feed keeps what it had).
   */
  async loadContent(
    name: string,
    content: string | Buffer | object,
    parse: FeedContentOptions,
    options: SaveFeedOptions = {},
    check?: FeedContentLoadOptions['check'],
  ): Promise<{ report: FeedReportSummary; result: ReplaceFeedResult }> {
    const loaded = await loadFeedContent(this.index, name, content, {
      ...parse,
      allow: options.allow,
      keepGroups: true,
      check,
    });
    const { groups, ...result } = loaded.result;
    this.store.save(name, groups ?? [], {
      allow: options.allow === true,
      state: options.state,
      rejected: result.rejected,
    });
    return { report: loaded.report, result };
  }

  /** Retracts a feed: gone from the index and the store. True when there was one. */
  removeFeed(name: string): boolean {
    const removedFromStore = this.store.remove(name);
    return this.index.removeFeed(name) || removedFromStore;
  }

  /** Every saved feed, in the order first saved. */
  savedFeeds(): SavedFeedInfo[] {
    return this.store.list();
  }

  /** What was saved with the feed, or undefined when it was never saved. */
  savedFeed(name: string): SavedFeedInfo | undefined {
    return this.store.info(name);
  }

  /** The indicators saved for a feed: those `replaceFeed` accepted, canonical, with their refs. */
  savedIndicators(name: string): Indicator[] {
    return this.store.indicators(name);
  }

  /**
   * Resolves once every replace and remove made so far is durable in the store; rejects with the first that failed
   * since the last flush (the index keeps the new feed; the store, and so the other instances, the old one).
   */
  flush(): Promise<void> {
    return this.store.flush();
  }

  /**
   * Whether this instance should do a scheduled refresh of `feed` now: with PostgreSQL, only the instance holding
   * the feed's refresh lease (taken or renewed for `ttlMs`) fetches; the others pick the result up from the store.
   */
  refreshLease(feed: string, ttlMs: number): Promise<boolean> {
    return this.store.refreshLease(feed, ttlMs);
  }

  /** Applies the feeds other instances saved or removed, now rather than at the next poll. */
  sync(): Promise<void> {
    return this.store.sync();
  }

  /** Failures of background work (following other instances' changes); returns the unsubscribe. */
  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    return this.store.onBackgroundError(listener);
  }

  close(): Promise<void> {
    return this.store.close();
  }
}

/** The SQLite store of one instance: the saved feeds read and written synchronously in the store database. */
class SqliteLibraryStore implements LibraryStore {
  readonly feeds: IocFeedStore;
  private closed = false;

  constructor(
    readonly describe: string,
    db: ConstructorParameters<typeof IocFeedStore>[0],
  ) {
    this.feeds = new IocFeedStore(db);
  }

  saved(): FeedGroups[] {
    return this.feeds.list().map((saved) => ({
      name: saved.name,
      allow: saved.allow,
      groups: this.feeds.groups(saved.name),
      rejected: saved.rejected,
    }));
  }

  list(): SavedFeedInfo[] {
    return this.feeds.list();
  }
  info(name: string): SavedFeedInfo | undefined {
    return this.feeds.info(name);
  }
  indicators(name: string): Indicator[] {
    return this.feeds.indicators(name);
  }
  save(
    name: string,
    groups: readonly IndicatorGroup[],
    options: { allow: boolean; state?: unknown; rejected: number },
  ) {
    this.feeds.saveGroups(name, groups, options);
  }
  remove(name: string): boolean {
    return this.feeds.remove(name);
  }
  async flush(): Promise<void> {}
  /** One instance: it always refreshes its feeds itself. */
  async refreshLease(): Promise<boolean> {
    return true;
  }
  follow(): void {}
  async sync(): Promise<void> {}
  onBackgroundError(): () => void {
    return () => undefined;
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    releaseStoreDatabase(this.describe);
  }
}

function openSqliteLibrary(file: string, options: IocLibraryOptions): IocLibrary {
  const started = Date.now();
  const db = acquireStoreDatabase(file, { synchronous: options.synchronous });
  try {
    const store = new SqliteLibraryStore(file, db);
    return new IocLibrary(file, store, store.saved(), options, started);
  } catch (err) {
    releaseStoreDatabase(file);
    throw err;
  }
}

async function openPgLibrary(location: string, options: IocLibraryOptions): Promise<IocLibrary> {
  const started = Date.now();
  const { store, saved } = await openPgLibraryStore(location, options);
  try {
    return new IocLibrary(location, store, saved, options, started);
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** A shared library: loaded (SQLite, synchronously) or loading (PostgreSQL). */
interface SharedLibrary {
  loaded?: IocLibrary;
  opening: Promise<IocLibrary>;
}

const libraries = new SharedResources<SharedLibrary>(({ opening }) => {
  opening.then(
    (library) => void library.close(),
    () => undefined,
  );
});

function openShared(location: string, options: IocLibraryOptions): SharedLibrary {
  if (!isPostgresUrl(location)) {
    const loaded = openSqliteLibrary(location, options);
    return { loaded, opening: Promise.resolve(loaded) };
  }
  const shared: SharedLibrary = { opening: openPgLibrary(location, options) };
  shared.opening.then(
    (library) => (shared.loaded = library),
    () => undefined, // the callers see the failure; the shared entry must not be an unhandled rejection
  );
  return shared;
}

/**
 * The library for a store location (`storeLocation` in lib/settings: the SQLite file or the PostgreSQL URL), loaded
 * on first use. Pair every call with `releaseIocLibrary`, also when it rejects (then with a grace of 0, so that the
 * next open tries again).
 */
export function openIocLibrary(location: string, options: IocLibraryOptions = {}): Promise<IocLibrary> {
  try {
    return libraries.acquire(location, () => openShared(location, options)).opening;
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/**
 * The library of a SQLite store file, loaded synchronously on first use; pair every call with `releaseIocLibrary`.
 * A PostgreSQL store loads over the network: use `openIocLibrary` for a location that may be one.
 */
export function acquireIocLibrary(file: string, options: IocLibraryOptions = {}): IocLibrary {
  if (isPostgresUrl(file)) {
    throw new TypeError('an IOC library in PostgreSQL loads asynchronously: open it with openIocLibrary');
  }
  return libraries.acquire(file, () => openShared(file, options)).loaded as IocLibrary;
}

/** Kept for a few seconds after the last user lets go, so a redeploy does not reload a million indicators. */
export function releaseIocLibrary(location: string, graceMs = 5000): void {
  libraries.release(location, graceMs);
}
