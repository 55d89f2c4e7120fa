import { mkdirSync, watch, type FSWatcher } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import {
  FEED_SOURCES,
  FeedLoader,
  SETTLE_MS,
  type FeedRefreshReport,
  type FeedSourceConfig,
  type FeedSourceKind,
} from '../../lib/ioc/feed-loader';
import { FEED_FORMATS, type CsvPresetName, type FeedFormat } from '../../lib/ioc/feeds/detect';
import { CSV_PRESETS } from '../../lib/ioc/feeds/lists';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../lib/ioc/library';
import { TLP_LEVELS, type Tlp } from '../../lib/ioc/model';
import type { FeedAuth } from '../../lib/ioc/sources/http';
import { dataDir, storeLocation, type SoarSettings } from '../../lib/settings';

interface FeedNodeDef extends NodeDef {
  feed: string;
  source: FeedSourceKind;
  location: string;
  collection: string;
  format: FeedFormat;
  csvPreset: string;
  authType: FeedAuth['type'];
  authHeader: string;
  allow: boolean;
  confidence: string;
  tlp: string;
  tags: string;
  /** Minutes between refreshes; 0: only at deploy and on a message. */
  refreshMinutes: string;
}

interface FeedCredentials {
  username?: string;
  password?: string;
  token?: string;
}

type FeedMessage = NodeMessageInFlow & { filename?: string; remove?: boolean };

/** A folder is scanned again this often even without a change notice (fs.watch misses some, e.g. on NFS). */
const RESCAN_MS = 60_000;

/** The configuration as the loader takes it; throws with a message for the node status. */
function sourceConfig(
  config: FeedNodeDef,
  credentials: FeedCredentials,
  id: string,
  soar: SoarSettings | undefined,
  userDir: string | undefined,
): FeedSourceConfig {
  const kind = config.source ?? 'directory';
  if (!FEED_SOURCES.includes(kind)) throw new Error(`unknown source ${JSON.stringify(kind)}`);
  const format = config.format || 'auto';
  if (!FEED_FORMATS.includes(format)) throw new Error(`unknown format ${JSON.stringify(format)}`);
  const feed = (config.feed || config.name || '').trim() || `feed-${id}`;
  if (feed.includes('/')) throw new Error('a feed name cannot contain "/"');
  let location = (config.location ?? '').trim();
  if (kind === 'directory' || kind === 'file' || (kind === 'misp-feed' && !/^https?:\/\//i.test(location))) {
    // Relative paths are inside the data dir; an empty folder path is the data dir's feeds/.
    const base = dataDir(soar, userDir);
    if (location === '' && kind === 'directory') location = join(base, 'feeds');
    else if (location !== '' && !isAbsolute(location)) location = resolve(base, location);
  }
  if (location === '' && kind !== 'message') throw new Error(`a ${kind} source needs a location`);
  const csvPreset = config.csvPreset && config.csvPreset !== 'auto' ? config.csvPreset : undefined;
  if (csvPreset !== undefined && !(csvPreset in CSV_PRESETS)) throw new Error(`unknown CSV layout ${csvPreset}`);
  const confidence =
    config.confidence === '' || config.confidence === undefined ? undefined : Number(config.confidence);
  if (confidence !== undefined && !(confidence >= 0 && confidence <= 100)) throw new Error('confidence must be 0–100');
  const tlp = config.tlp ? (config.tlp as Tlp) : undefined;
  if (tlp !== undefined && !TLP_LEVELS.includes(tlp)) throw new Error(`unknown TLP ${config.tlp}`);
  const tags = (config.tags ?? '')
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const authType = config.authType || 'none';
  const auth: FeedAuth = { type: authType, ...credentials };
  if (authType === 'header') auth.header = config.authHeader;
  return {
    feed,
    kind,
    location,
    collection: config.collection || undefined,
    format,
    csv: csvPreset as CsvPresetName | undefined,
    auth,
    allow: config.allow === true,
    parse: {
      ...(confidence !== undefined && { confidence }),
      ...(tlp !== undefined && { tlp }),
      ...(tags.length > 0 && { tags }),
    },
    owner: id,
  };
}

function summary(report: FeedRefreshReport): string {
  const time = new Date().toTimeString().slice(0, 5);
  const problems = report.errors.length > 0 ? ` · ${report.rejected} rejected` : '';
  return `${report.indicators.toLocaleString('en')} indicators${problems} · ${time}`;
}

export = function (RED: NodeAPI) {
  function SoarIocFeed(this: Node<FeedCredentials>, config: FeedNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
    let source: FeedSourceConfig;
    try {
      source = sourceConfig(config, node.credentials ?? {}, node.id, settings.soar, settings.userDir);
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: (err as Error).message });
      node.error((err as Error).message);
      node.on('input', (_msg, _send, done) => done(err as Error));
      return;
    }
    // The SQLite store of the data dir, or PostgreSQL shared by several instances (each loads the same library).
    const location = storeLocation(settings.soar, settings.userDir);
    const opening = openIocLibrary(location, {
      synchronous: settings.soar?.sync,
      defaultAllowlists: settings.soar?.allowlists,
    });
    let library: IocLibrary | undefined;
    let loader: FeedLoader | undefined;
    let unavailable: Error | undefined;
    let stopReports = () => {};
    const aborter = new AbortController();
    let running: Promise<void> | undefined;
    let again: { msg?: FeedMessage; done?: (err?: Error) => void; send?: (m: FeedMessage) => void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settle: NodeJS.Timeout | undefined;
    let watcher: FSWatcher | undefined;
    let closed = false;

    const held = () =>
      (loader?.feedNames() ?? []).reduce(
        (n, f) => n + (library?.index.stats().feeds.find((s) => s.feed === f)?.indicators ?? 0),
        0,
      );
    /** Retractions are saved in the background; with PostgreSQL a failure shows here. */
    const flushed = (what: string) => library?.flush().catch((err: Error) => node.warn(`${what}: ${err.message}`));

    /**
     * Whether this instance does a scheduled refresh now. With several instances sharing PostgreSQL one of them
     * fetches (the holder of the feed's refresh lease, kept for `leaseMs`); the others take the result from the store.
     */
    let leaseMs = 60_000;
    const mayRefresh = async (): Promise<boolean> => {
      if (!library || (await library.refreshLease(source.feed, leaseMs))) return true;
      await library.sync();
      return false;
    };

    /** One refresh at a time; a trigger during a refresh runs once more after it (triggers coalesce). */
    const refresh = (msg?: FeedMessage, send?: (m: FeedMessage) => void, done?: (err?: Error) => void): void => {
      if (!loader || !library) return done?.(unavailable);
      if (running) {
        if (again?.done) again.done();
        again = { msg, send, done };
        return;
      }
      const scheduled = msg === undefined && source.kind !== 'message';
      const content = msg === undefined ? undefined : { content: msg.payload, name: msg.filename };
      const current = loader;
      const lib = library;
      running = (scheduled ? mayRefresh() : Promise.resolve(true))
        .then(async (mine) => {
          if (!mine) {
            if (!closed)
              node.status({ fill: 'grey', shape: 'dot', text: `${summaryHeld()} · refreshed by another instance` });
            return done?.();
          }
          node.status({ fill: 'blue', shape: 'ring', text: 'refreshing…' });
          const report = await current.refresh(source.kind === 'message' ? content : undefined, aborter.signal);
          // Saved before it counts as done: with PostgreSQL the store (and so the other instances) has it now.
          await lib.flush();
          if (closed) return done?.();
          const failed = report.files?.filter((f) => !f.changed && f.errors.length > 0).length ?? 0;
          node.status({
            fill: failed > 0 ? 'yellow' : 'green',
            shape: 'dot',
            text: failed > 0 ? `${summary(report)} · ${failed} file(s) failed` : summary(report),
          });
          if (report.pending && !settle) {
            settle = setTimeout(() => {
              settle = undefined;
              refresh();
            }, SETTLE_MS);
          }
          if (report.changed || msg !== undefined) {
            const out = { ...(msg ?? {}), topic: source.feed, payload: report } as FeedMessage;
            (send ?? ((m: FeedMessage) => node.send(m)))(out);
          }
          done?.();
        })
        .catch((err: Error) => {
          if (closed) return done?.();
          node.status({ fill: 'red', shape: 'ring', text: `${err.message.slice(0, 80)} · kept ${held()}` });
          const message = `feed ${source.feed}: ${err.message}`;
          if (done) done(new Error(message));
          else node.error(message, { topic: source.feed, payload: { feed: source.feed, error: err.message } });
        })
        .finally(() => {
          running = undefined;
          const next = again;
          again = undefined;
          if (next && !closed) refresh(next.msg, next.send, next.done);
        });
    };
    const summaryHeld = () => `${held().toLocaleString('en')} indicators`;

    const start = (lib: IocLibrary) => {
      library = lib;
      loader = new FeedLoader(lib, source);
      stopReports = lib.onBackgroundError((err, what) => node.warn(`${what}: ${err.message}`));
      const stale = loader.forgetStale();
      if (stale.length > 0) {
        node.log(`retracted feeds this node no longer loads: ${stale.join(', ')}`);
        void flushed('retracting stale feeds');
      }
      node.status({ fill: 'grey', shape: 'dot', text: `${summaryHeld()} (saved)` });
      if (source.kind === 'message') return;
      // Refresh at deploy (unchanged sources answer cheaply: 304, same file size and time, no new TAXII objects).
      setImmediate(() => !closed && refresh());
      if (source.kind === 'directory') {
        // A folder is watched, and scanned every minute for what fs.watch misses (network file systems).
        leaseMs = 2 * RESCAN_MS;
        timer = setInterval(() => refresh(), RESCAN_MS);
        try {
          mkdirSync(source.location, { recursive: true });
          watcher = watch(source.location, () => {
            if (settle) return;
            settle = setTimeout(() => {
              settle = undefined;
              refresh();
            }, 250);
          });
          watcher.on('error', (err) => node.warn(`watching ${source.location}: ${err.message}`));
        } catch (err) {
          node.warn(`watching ${source.location}: ${(err as Error).message}; scanning every minute instead`);
        }
      } else {
        const minutes = Number(config.refreshMinutes);
        if (minutes > 0) {
          const every = Math.max(1, minutes) * 60_000;
          // The lease outlives one interval: its holder renews it at each refresh; if it stops, another takes over.
          leaseMs = every + Math.max(60_000, every / 2);
          timer = setInterval(() => refresh(), every);
        }
      }
    };

    const ready = opening.then(
      (lib) => {
        if (!closed) start(lib);
      },
      (err: Error) => {
        unavailable = new Error(`IOC library unavailable: ${err.message}`);
        releaseIocLibrary(location, 0);
        if (closed) return;
        node.status({ fill: 'red', shape: 'ring', text: 'IOC library unavailable' });
        node.error(unavailable.message);
      },
    );

    node.on('input', (msg: FeedMessage, send, done) => {
      void ready.then(() => {
        if (!loader) return done(unavailable);
        if (msg.remove === true) {
          const names = loader.retract();
          void flushed('retracting the feed');
          node.status({ fill: 'grey', shape: 'ring', text: `retracted ${names.length} feed(s)` });
          send({ ...msg, topic: source.feed, payload: { feed: source.feed, removed: names } });
          return done();
        }
        refresh(msg, send as (m: FeedMessage) => void, done);
      });
    });

    node.on('close', (removed: boolean, done: () => void) => {
      closed = true;
      aborter.abort();
      if (timer) clearInterval(timer);
      if (settle) clearTimeout(settle);
      watcher?.close();
      again?.done?.();
      stopReports();
      const finish = () => {
        if (removed && loader) {
          const names = loader.retract();
          if (names.length > 0) node.log(`retracted ${names.join(', ')}`);
        }
        if (library) releaseIocLibrary(location);
        done();
      };
      // The library is loaded (or failed), and a refresh in flight ends (aborted or not), before it is let go.
      void ready.then(() => (running ? running.then(finish, finish) : finish()));
    });
  }

  RED.nodes.registerType<Node<FeedCredentials>, FeedNodeDef, object, FeedCredentials>('soar-ioc-feed', SoarIocFeed, {
    credentials: { username: { type: 'text' }, password: { type: 'password' }, token: { type: 'password' } },
  });
};
