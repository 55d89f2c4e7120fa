/**
 * Loads one configured feed source into the IOC library: a URL, a TAXII 2.1 collection, a MISP feed, a file, a
 * folder of feed files (each file its own feed, `<feed>/<file name>`), or content handed over in a message.
 *
 * Rules:
 * - A refresh replaces the feed atomically and saves it with the source's state (ETag, TAXII cursor, file size and
 *   time), so an unchanged source is not reloaded, after a restart either.
 * - A refresh that fails (network, bad file) keeps the indicators the feed had: a broken download must not empty
 *   the library. So does content that yields no indicator but errors.
 * - Each saved feed records its owner (the node) and a fingerprint of the configuration: a changed configuration
 *   reloads in full, and `forgetStale` retracts what the owner saved under another name (a renamed feed, a file
 *   that left the folder).
 */
import { readFile, stat } from 'node:fs/promises';
import type { CsvPresetName, FeedFormat } from './feeds/detect';
import { parseStixBundle } from './feeds/stix';
import type { FeedParseOptions, FeedParseReport } from './feeds/report';
import type { IocLibrary } from './library';
import type { Indicator } from './model';
import { scanFeedDirectory, type FeedFile } from './sources/directory';
import { downloadFeed, type FeedAuth } from './sources/http';
import { mergeIncremental, stixObjectIds } from './sources/incremental';
import { loadMispFeed } from './sources/misp-feed';
import { TaxiiClient, type TaxiiAuth } from './taxii';

export const FEED_SOURCES = ['url', 'taxii', 'misp-feed', 'file', 'directory', 'message'] as const;
export type FeedSourceKind = (typeof FEED_SOURCES)[number];

export interface FeedSourceConfig {
  /** The feed's name in the library (and in matches). */
  feed: string;
  kind: FeedSourceKind;
  /** URL (url, taxii, misp-feed) or path (file, directory, misp-feed). */
  location: string;
  /** TAXII: collection id or title (optional when `location` is the collection's URL). */
  collection?: string;
  format: FeedFormat;
  csv?: CsvPresetName;
  auth?: FeedAuth;
  allow: boolean;
  parse: FeedParseOptions;
  /** Who saves the feed (the node id): its stale feeds are retracted, nobody else's. */
  owner: string;
}

export interface FeedRefreshReport {
  feed: string;
  /** False when the source had nothing new (304, same file, no new TAXII objects). */
  changed: boolean;
  accepted: number;
  rejected: number;
  unsupported: number;
  /** The first few problems, each a sentence. */
  errors: string[];
  /** Distinct values the feed holds now. */
  indicators: number;
  durationMs: number;
  /** Directory: one report per new or changed file, and the feeds retracted because their file left. */
  files?: FeedRefreshReport[];
  removed?: string[];
  /** Directory: files still being written, to be read on a later scan. */
  pending?: number;
}

/** A refresh that could not load anything: the feed keeps what it had. */
export class FeedRefreshError extends Error {}

interface FeedState {
  owner: string;
  fingerprint: string;
  etag?: string;
  lastModified?: string;
  cursor?: string;
  size?: number;
  mtimeMs?: number;
}

const MAX_ERRORS = 10;
/** A file changed this recently may still be being written (a copy in progress): read it on the next scan. */
export const SETTLE_MS = 1500;

/** The first few parse errors, each a sentence. */
function describeErrors(errors: FeedParseReport['errors']): string[] {
  return errors.slice(0, MAX_ERRORS).map((e) => (e.index === undefined ? e.reason : `#${e.index}: ${e.reason}`));
}

export class FeedLoader {
  private readonly fingerprint: string;

  constructor(
    private readonly library: IocLibrary,
    private readonly config: FeedSourceConfig,
  ) {
    const { kind, location, collection, format, csv, allow, parse } = config;
    this.fingerprint = JSON.stringify([kind, location, collection, format, csv, allow, parse]);
  }

  /** The library's feeds this source owns now. */
  feedNames(): string[] {
    const prefix = `${this.config.feed}/`;
    return this.library.index
      .feedNames()
      .filter((n) => (this.config.kind === 'directory' ? n.startsWith(prefix) : n === this.config.feed))
      .filter((n) => this.ownState(n) !== undefined);
  }

  /** Retracts the feeds this owner saved that this configuration no longer produces. Returns their names. */
  forgetStale(): string[] {
    const removed: string[] = [];
    for (const saved of this.library.savedFeeds()) {
      if ((saved.state as FeedState | undefined)?.owner !== this.config.owner) continue;
      const mine =
        this.config.kind === 'directory'
          ? saved.name.startsWith(`${this.config.feed}/`)
          : saved.name === this.config.feed;
      if (!mine) {
        this.library.removeFeed(saved.name);
        removed.push(saved.name);
      }
    }
    return removed;
  }

  /** Retracts every feed of this source (the node was deleted). */
  retract(): string[] {
    const names = this.feedNames();
    for (const n of names) this.library.removeFeed(n);
    return names;
  }

  /** Fetches and loads the source. `message` is the content for the `message` kind. */
  async refresh(message?: { content: unknown; name?: string }, signal?: AbortSignal): Promise<FeedRefreshReport> {
    const started = Date.now();
    const { kind, location } = this.config;
    let report: FeedRefreshReport;
    switch (kind) {
      case 'directory':
        report = await this.refreshDirectory(signal);
        break;
      case 'message': {
        if (message === undefined || message.content === undefined || message.content === null) {
          throw new FeedRefreshError('msg.payload must hold the feed content (text, a Buffer or parsed JSON)');
        }
        report = await this.loadContent(this.config.feed, message.content, message.name, {});
        break;
      }
      case 'file': {
        const unreadable = (err: NodeJS.ErrnoException) => {
          throw new FeedRefreshError(`cannot read ${location}: ${err.code ?? err.message}`);
        };
        const { size, mtimeMs } = await stat(location).catch(unreadable);
        const state = this.currentState(this.config.feed);
        if (state?.size === size && state.mtimeMs === mtimeMs) report = this.unchanged(this.config.feed);
        else {
          const content = await readFile(location).catch(unreadable);
          report = await this.loadContent(this.config.feed, content, location, { size, mtimeMs });
        }
        break;
      }
      case 'url': {
        const state = this.currentState(this.config.feed);
        const got = await downloadFeed(location, {
          auth: this.config.auth,
          etag: state?.etag,
          lastModified: state?.lastModified,
          signal,
        });
        if (!got.modified) report = this.unchanged(this.config.feed);
        else {
          const state = { etag: got.etag, lastModified: got.lastModified };
          report = await this.loadContent(this.config.feed, got.body, new URL(location).pathname, state);
        }
        break;
      }
      case 'misp-feed': {
        const parsed = await loadMispFeed(location, { ...this.config.parse, auth: this.config.auth, signal });
        report = this.load(this.config.feed, parsed, {});
        break;
      }
      case 'taxii':
        report = await this.refreshTaxii(signal);
        break;
    }
    report.durationMs = Date.now() - started;
    return report;
  }

  private ownState(name: string): FeedState | undefined {
    const state = this.library.savedFeed(name)?.state as FeedState | undefined;
    return state?.owner === this.config.owner ? state : undefined;
  }

  /** The saved state when it was saved by this same configuration (else the source is read in full). */
  private currentState(name: string): FeedState | undefined {
    const state = this.ownState(name);
    return state?.fingerprint === this.fingerprint ? state : undefined;
  }

  /**
   * Parses content and replaces the feed with it (a large STIX bundle a batch at a time), unless nothing but errors
   * came out of it. Content that cannot be read at all is a FeedRefreshError: the feed keeps what it had.
   */
  private async loadContent(
    name: string,
    content: unknown,
    sourceName: string | undefined,
    state: Omit<FeedState, 'owner' | 'fingerprint'>,
  ): Promise<FeedRefreshReport> {
    try {
      const { report, result } = await this.library.loadContent(
        name,
        content as string | Buffer | object,
        { ...this.config.parse, format: this.config.format, csv: this.config.csv, name: sourceName },
        { allow: this.config.allow, state: this.stateToSave(state) },
        (parsed, indicators) => this.refuseEmpty(name, parsed, indicators),
      );
      return this.outcome(name, report, result);
    } catch (err) {
      if (err instanceof FeedRefreshError) throw err;
      throw new FeedRefreshError((err as Error).message);
    }
  }

  private unchanged(name: string): FeedRefreshReport {
    return {
      feed: name,
      changed: false,
      accepted: 0,
      rejected: 0,
      unsupported: 0,
      errors: [],
      indicators: this.held(name),
      durationMs: 0,
    };
  }

  private held(name: string): number {
    return this.library.index.stats().feeds.find((f) => f.feed === name)?.indicators ?? 0;
  }

  /** Replaces the feed with parsed indicators, unless nothing but errors came out of it. */
  private load(
    name: string,
    parsed: FeedParseReport,
    state: Omit<FeedState, 'owner' | 'fingerprint'>,
    indicators: readonly Indicator[] = parsed.indicators,
  ): FeedRefreshReport {
    this.refuseEmpty(name, parsed, indicators.length);
    const result = this.library.replaceFeed(name, indicators, {
      allow: this.config.allow,
      state: this.stateToSave(state),
    });
    return this.outcome(name, parsed, result);
  }

  private stateToSave(state: Omit<FeedState, 'owner' | 'fingerprint'>): FeedState {
    return { ...state, owner: this.config.owner, fingerprint: this.fingerprint };
  }

  /** A refresh that yields no indicator but errors keeps what the feed had. */
  private refuseEmpty(name: string, parsed: Pick<FeedParseReport, 'errors'>, indicators: number): void {
    if (indicators === 0 && parsed.errors.length > 0) {
      throw new FeedRefreshError(
        `${name}: no indicators loaded, ${parsed.errors.length} errors, first: ${describeErrors(parsed.errors)[0]}`,
      );
    }
  }

  private outcome(
    name: string,
    parsed: Omit<FeedParseReport, 'indicators'>,
    result: ReturnType<IocLibrary['replaceFeed']>,
  ): FeedRefreshReport {
    const errors = describeErrors(parsed.errors);
    for (const e of result.errors) {
      if (errors.length < MAX_ERRORS) errors.push(`${JSON.stringify(e.value)}: ${e.error}`);
    }
    return {
      feed: name,
      changed: true,
      accepted: result.accepted,
      rejected: result.rejected + parsed.errors.length,
      unsupported: parsed.unsupported,
      errors,
      indicators: this.held(name),
      durationMs: 0,
    };
  }

  private async refreshTaxii(signal?: AbortSignal): Promise<FeedRefreshReport> {
    const { feed, location, collection, auth } = this.config;
    if (auth?.type === 'header') throw new FeedRefreshError('TAXII servers take basic or bearer authentication');
    const client = new TaxiiClient({ auth: auth as TaxiiAuth | undefined });
    const resolved = await client.resolveCollection(location, collection || undefined);
    const state = this.currentState(feed);
    const cursor = state?.cursor;
    const fetched = await client.fetchObjects(resolved.objectsUrl, { addedAfter: cursor, signal });
    if (cursor !== undefined && fetched.objects.length === 0) return this.unchanged(feed);
    const parsed = parseStixBundle({ objects: fetched.objects }, this.config.parse);
    const indicators =
      cursor === undefined
        ? mergeIncremental([], new Set(), parsed.indicators)
        : mergeIncremental(this.library.savedIndicators(feed), stixObjectIds(fetched.objects), parsed.indicators);
    return this.load(feed, parsed, { cursor: fetched.dateAddedLast ?? cursor }, indicators);
  }

  private async refreshDirectory(signal?: AbortSignal): Promise<FeedRefreshReport> {
    const { feed, location } = this.config;
    let files: FeedFile[];
    try {
      files = await scanFeedDirectory(location);
    } catch (err) {
      throw new FeedRefreshError(
        `cannot read the folder ${location}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    const report: FeedRefreshReport = {
      feed,
      changed: false,
      accepted: 0,
      rejected: 0,
      unsupported: 0,
      errors: [],
      indicators: 0,
      durationMs: 0,
      files: [],
      removed: [],
      pending: 0,
    };
    const present = new Set<string>();
    const now = Date.now();
    for (const file of files) {
      signal?.throwIfAborted();
      const name = `${feed}/${file.name}`;
      present.add(name);
      const state = this.currentState(name);
      if (state !== undefined && state.size === file.size && state.mtimeMs === file.mtimeMs) continue;
      if (now - file.mtimeMs < SETTLE_MS) {
        report.pending = (report.pending ?? 0) + 1;
        continue;
      }
      const fileState = { size: file.size, mtimeMs: file.mtimeMs };
      let one: FeedRefreshReport;
      try {
        if (file.kind === 'misp-feed') {
          one = this.load(name, await loadMispFeed(file.path, { ...this.config.parse, signal }), fileState);
        } else {
          const content = await readFile(file.path);
          one = await this.loadContent(name, content, file.name, fileState);
        }
      } catch (err) {
        // One bad file is reported and keeps what it had; the other files still load.
        if (signal?.aborted) throw err;
        one = { ...this.unchanged(name), errors: [`${file.name}: ${(err as Error).message}`] };
      }
      report.files?.push(one);
    }
    for (const name of this.feedNames()) {
      if (!present.has(name)) {
        this.library.removeFeed(name);
        report.removed?.push(name);
      }
    }
    for (const one of report.files ?? []) {
      report.changed ||= one.changed;
      report.accepted += one.accepted;
      report.rejected += one.rejected;
      report.unsupported += one.unsupported;
      const file = one.feed.slice(feed.length + 1);
      for (const e of one.errors) {
        if (report.errors.length < MAX_ERRORS) report.errors.push(e.startsWith(`${file}: `) ? e : `${file}: ${e}`);
      }
    }
    report.changed ||= (report.removed?.length ?? 0) > 0;
    report.indicators = this.feedNames().reduce((sum, n) => sum + this.held(n), 0);
    return report;
  }
}
