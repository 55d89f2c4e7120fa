/**
 * The IOC library's store when several instances share PostgreSQL (see ./library for the interface).
 *
 * - The feeds' headers (name, state, counts) are kept in memory, so the feed loader reads them at once; a replace or
 *   remove updates them and queues the write, writes go out in order, and `flush` says when they are durable.
 * - Every `pollMs` the feeds' versions are read (one small query); the feeds another instance replaced are loaded
 *   from one snapshot and handed to the library, which swaps them into its index; removed ones are dropped. A feed
 *   with a write of this instance still queued is left alone: the newest save wins, and that is ours.
 * - A scheduled refresh happens once across the instances: whoever holds the feed's refresh lease fetches.
 */
import { BackgroundErrors } from '../store/background-errors';
import type { Pool } from 'pg';
import { INSTANCE_ID, migrateLeases, tryLease } from '../store/pg/lease';
import { acquireStorePool, redactStoreUrl, releaseStorePool } from '../store/pg/pool';
import type { FeedGroups, IndicatorGroup } from './ioc-index';
import { groupRows, groupsToIndicators, type SavedFeedInfo } from './ioc-store';
import type { FeedChanges, IocLibraryOptions, LibraryStore } from './library';
import type { Indicator } from './model';
import { PgIocFeedStore, type LoadedFeed } from './pg-feed-store';

/** A failure of the IOC library's PostgreSQL store; the message names the store without its password. */
export class IocStoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IocStoreError';
  }
}

/**
 * Feeds whose saved indicators the loader reads back at the next refresh (incremental sources such as TAXII, which
 * save a `cursor`): their groups stay in memory, since that read must answer at once. Other feeds' do not.
 */
const needsSavedIndicators = (info: SavedFeedInfo): boolean =>
  typeof info.state === 'object' && info.state !== null && 'cursor' in info.state;

const copyState = (state: unknown): unknown => (state === undefined ? undefined : JSON.parse(JSON.stringify(state)));

export class PgLibraryStore implements LibraryStore {
  readonly describe: string;
  private readonly headers = new Map<string, SavedFeedInfo>();
  private readonly versions = new Map<string, number>();
  private readonly kept = new Map<string, readonly IndicatorGroup[]>();
  /** Writes of this instance still queued, per feed. */
  private readonly queued = new Map<string, number>();
  private writes: Promise<void> = Promise.resolve();
  private failures: Error[] = [];
  private apply: (changes: FeedChanges) => void = () => undefined;
  private syncing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly errors = new BackgroundErrors();
  private closing: Promise<void> | undefined;

  constructor(
    readonly location: string,
    private readonly pool: Pool,
    private readonly feeds: PgIocFeedStore,
    loaded: readonly LoadedFeed[],
    pollMs: number,
    private readonly instance = INSTANCE_ID,
  ) {
    this.describe = redactStoreUrl(location);
    for (const feed of loaded) this.remember(feed);
    this.timer = setInterval(() => {
      this.sync().then(
        () => this.errors.clear(),
        (err: Error) => this.errors.report(err, 'could not follow the feeds other instances saved; retrying'),
      );
    }, pollMs);
    this.timer.unref();
  }

  private remember(feed: LoadedFeed): void {
    this.headers.set(feed.name, feed.info);
    this.versions.set(feed.name, feed.version);
    if (needsSavedIndicators(feed.info)) this.kept.set(feed.name, feed.groups);
    else this.kept.delete(feed.name);
  }

  list(): SavedFeedInfo[] {
    return [...this.headers.values()];
  }

  info(name: string): SavedFeedInfo | undefined {
    return this.headers.get(name);
  }

  indicators(name: string): Indicator[] {
    return groupsToIndicators(this.kept.get(name) ?? []);
  }

  save(
    name: string,
    groups: readonly IndicatorGroup[],
    options: { allow: boolean; state?: unknown; rejected: number },
  ) {
    const rows = groupRows(groups);
    const info: SavedFeedInfo = {
      name,
      allow: options.allow,
      saved: new Date().toISOString(),
      count: rows.count,
      rejected: options.rejected,
    };
    const state = copyState(options.state);
    if (state !== undefined) info.state = state;
    this.headers.set(name, info);
    if (needsSavedIndicators(info)) this.kept.set(name, groups);
    else this.kept.delete(name);
    this.enqueue(name, `saving feed ${name}`, async () => {
      this.versions.set(name, await this.feeds.save(name, rows, options));
    });
  }

  remove(name: string): boolean {
    const had = this.headers.delete(name);
    this.kept.delete(name);
    this.enqueue(name, `removing feed ${name}`, async () => {
      await this.feeds.remove(name);
      this.versions.delete(name);
    });
    return had;
  }

  /**
   * Queues a write; they go out one at a time, in order. A failed write forgets what this instance knew of the feed:
   * the next poll reloads it as the store has it (so the index, the headers and the other instances agree), and the
   * loader, finding no saved state, fetches the feed in full at its next refresh.
   */
  private enqueue(name: string, what: string, write: () => Promise<void>): void {
    if (this.closing) {
      this.failures.push(new IocStoreError(`IOC library in ${this.describe}: ${what} failed: the library is closed`));
      return;
    }
    this.queued.set(name, (this.queued.get(name) ?? 0) + 1);
    this.writes = this.writes
      .then(write)
      .catch((err: Error) => {
        this.headers.delete(name);
        this.kept.delete(name);
        this.versions.delete(name);
        this.failures.push(
          new IocStoreError(`IOC library in ${this.describe}: ${what} failed: ${err.message}`, { cause: err }),
        );
      })
      .finally(() => {
        const left = (this.queued.get(name) ?? 1) - 1;
        if (left > 0) this.queued.set(name, left);
        else this.queued.delete(name);
      });
  }

  async flush(): Promise<void> {
    await this.writes;
    const [first] = this.failures;
    this.failures = [];
    if (first) throw first;
  }

  async refreshLease(feed: string, ttlMs: number): Promise<boolean> {
    try {
      return await tryLease(this.pool, `ioc-feed:${feed}`, ttlMs, this.instance);
    } catch (err) {
      throw new IocStoreError(
        `IOC library in ${this.describe}: cannot take the refresh lease of feed ${feed}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }

  follow(apply: (changes: FeedChanges) => void): void {
    this.apply = apply;
  }

  sync(): Promise<void> {
    this.syncing ??= this.followOthers().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async followOthers(): Promise<void> {
    if (this.closing) return;
    let remote: Map<string, number>;
    let loaded: LoadedFeed[] = [];
    const known = new Map(this.versions);
    try {
      remote = await this.feeds.versions();
      const changed = [...remote].filter(([n, v]) => !this.queued.has(n) && known.get(n) !== v).map(([n]) => n);
      if (changed.length > 0) loaded = await this.feeds.load(changed);
    } catch (err) {
      throw new IocStoreError(`IOC library in ${this.describe}: ${(err as Error).message}`, { cause: err });
    }
    if (this.closing) return;
    // Skipped when this instance wrote the feed meanwhile (its save is newer, or still queued).
    const replaced = loaded.filter((f) => !this.queued.has(f.name) && (this.versions.get(f.name) ?? -1) < f.version);
    const removed = [...known.keys()].filter(
      (n) => !remote.has(n) && !this.queued.has(n) && this.versions.get(n) === known.get(n),
    );
    for (const feed of replaced) this.remember(feed);
    for (const name of removed) {
      this.headers.delete(name);
      this.versions.delete(name);
      this.kept.delete(name);
    }
    if (replaced.length > 0 || removed.length > 0) {
      this.apply({
        replaced: replaced.map(({ name, allow, groups, rejected }): FeedGroups => ({ name, allow, groups, rejected })),
        removed,
      });
    }
  }

  onBackgroundError(listener: (err: Error, what: string) => void): () => void {
    return this.errors.on(listener);
  }

  /** Stops following, lets the queued writes finish, and lets go of the pool. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    clearInterval(this.timer);
    const pending = this.writes;
    this.closing = pending.then(
      () => releaseStorePool(this.location, 5_000),
      () => releaseStorePool(this.location, 5_000),
    );
    return this.closing;
  }
}

/** Opens the store (schema migrations first) and loads every saved feed from one snapshot. */
export async function openPgLibraryStore(
  url: string,
  options: IocLibraryOptions,
): Promise<{ store: PgLibraryStore; saved: FeedGroups[] }> {
  const pool = acquireStorePool(url);
  try {
    const feeds = new PgIocFeedStore(pool);
    await feeds.migrate();
    await migrateLeases(pool);
    const loaded = await feeds.load();
    const store = new PgLibraryStore(url, pool, feeds, loaded, options.pollMs ?? 5_000, options.instance);
    return { store, saved: loaded };
  } catch (err) {
    releaseStorePool(url);
    throw new IocStoreError(`cannot load the IOC library from ${redactStoreUrl(url)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
