/**
 * The IOC library of a process: one IocIndex per store file, shared by every IOC node, whose feeds are persisted in
 * the store database so that a restart reloads them without fetching anything.
 */
import { SharedResources } from '../shared';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreSync } from '../store/database';
import type { AllowlistSwitches } from './allowlists';
import { IocIndex } from './ioc-index';
import type { Indicator, ReplaceFeedResult } from './model';
import { IocFeedStore, type SavedFeedInfo } from './ioc-store';

export interface IocLibraryOptions {
  synchronous?: StoreSync;
  /** Which default allowlists are on (see ./allowlists). */
  defaultAllowlists?: AllowlistSwitches;
}

export interface SaveFeedOptions {
  /** The feed is an allowlist. */
  allow?: boolean;
  /** Whatever the feed's source needs to continue (a TAXII cursor, a file's size and time); kept as JSON. */
  state?: unknown;
}

export class IocLibrary {
  readonly index: IocIndex;
  /** How long the last start took to reload the saved feeds, in ms. */
  readonly reloadMs: number;
  private readonly store: IocFeedStore;

  constructor(
    readonly file: string,
    db: ConstructorParameters<typeof IocFeedStore>[0],
    options: IocLibraryOptions = {},
  ) {
    this.index = new IocIndex({ defaultAllowlists: options.defaultAllowlists ?? {} });
    this.store = new IocFeedStore(db);
    const started = Date.now();
    // Every saved feed in one bulk load: groups of values straight from the store (no indicator objects), each
    // group's metadata validated once, the combined structures built once.
    this.index.loadFeeds(
      this.store.list().map((saved) => ({
        name: saved.name,
        allow: saved.allow,
        groups: this.store.groups(saved.name),
        rejected: saved.rejected,
      })),
    );
    this.reloadMs = Date.now() - started;
  }

  /**
   * Replaces a feed's indicators in the index (atomically: lookups see the old feed or the new one) and in the
   * store (durably, before this returns).
   */
  replaceFeed(name: string, indicators: readonly Indicator[], options: SaveFeedOptions = {}): ReplaceFeedResult {
    const { groups, ...result } = this.index.replaceFeed(name, indicators, { allow: options.allow, keepGroups: true });
    // What the index accepted, canonical, grouped by metadata record: the save is a join per group.
    this.store.saveGroups(name, groups ?? [], {
      allow: options.allow === true,
      state: options.state,
      rejected: result.rejected,
    });
    return result;
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
}

const libraries = new SharedResources<{ library: IocLibrary; file: string }>(({ file }) => releaseStoreDatabase(file));

/** The library for a store file, loaded on first use; pair every call with `releaseIocLibrary`. */
export function acquireIocLibrary(file: string, options: IocLibraryOptions = {}): IocLibrary {
  return libraries.acquire(file, () => {
    const db = acquireStoreDatabase(file, { synchronous: options.synchronous });
    try {
      return { library: new IocLibrary(file, db, options), file };
    } catch (err) {
      releaseStoreDatabase(file);
      throw err;
    }
  }).library;
}

/** Kept for a few seconds after the last user lets go, so a redeploy does not reload a million indicators. */
export function releaseIocLibrary(file: string, graceMs = 5000): void {
  libraries.release(file, graceMs);
}
