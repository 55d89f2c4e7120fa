/**
 * Runtime plugin: records every playbook run (lib/playbooks/runs) through Node-RED's messaging hooks, and serves the
 * admin routes for runs and metrics:
 *   GET /soar/runs?playbook=&case=&outcome=&limit=&offset=   finished runs, newest first, with their steps
 *   GET /soar/metrics                                       playbooks, case types, intake, device actions (JSON)
 *   GET /soar/metrics/prometheus                            the same in the Prometheus text format
 *
 * Settings (settings.js, `soar` section): `runTimeoutSeconds` (default 300; a tab's env `SOAR_RUN_TIMEOUT_SECONDS`
 * wins for its playbook), `runTracking: false` switches the hooks off, `runRetentionDays` (default 30) how long
 * finished runs are kept, `maxOpenRuns` (default 100,000), `metricsCacheSeconds` (default 10), `storeUrl` (a
 * PostgreSQL store shared by several instances: the runs and metrics of all of them, on every one).
 *
 * Errors: Node-RED reports every node error that has a message (`node.error(err, msg)`, a handler that threw,
 * `done(err)`) through `Node.prototype.error`, which hands it to the Catch nodes; no hook sees it, so the plugin
 * wraps that one method (once per process) to tell the tracker, whether a Catch node exists or not.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { acquireCaseStore, recordRun, type CaseStore } from '../../lib/cases';
import {
  collectMetrics,
  openMetricsSources,
  prometheusText,
  PROMETHEUS_CONTENT_TYPE,
  type MetricsSources,
  type SoarMetrics,
} from '../../lib/metrics';
import {
  completeWatched,
  errorText,
  parseRunQuery,
  caseRun,
  playbookTabs,
  RunQueryError,
  RunRecorder,
  RunTracker,
  acquireRunStore,
  DEFAULT_MAX_OPEN_RUNS,
  type PlaybookRunStore,
  type FinishedRun,
  type FlowConfigNode,
  type Message,
  type PlaybookTab,
  type TrackedNode,
} from '../../lib/playbooks/runs';
import { listenToNodeErrors, stoppedScope, type FlowsStoppedEvent } from '../../lib/playbooks/runs/runtime';
import { caseStoreOptions, postgresStoreUrl, storeLocation, type SoarSettings } from '../../lib/settings';
import { onStoreBackgroundError } from '../../lib/store/background-errors';

const DEFAULT_TIMEOUT_SECONDS = 300;
const DEFAULT_RETENTION_DAYS = 30;
const DEFAULT_METRICS_CACHE_SECONDS = 10;
const FLUSH_WAIT_MS = 2000;

/** The parts of Node-RED's hook events the tracker reads. */
type RuntimeNode = TrackedNode & { _expectedDoneCount?: number };
interface DeliverEvent {
  msg: Message;
  source: { node: RuntimeNode };
}
interface ReceiveEvent {
  msg: Message;
  destination: { node: RuntimeNode };
}
interface CompleteEvent {
  msg: Message;
  error?: unknown;
  node: { id: string; node: RuntimeNode };
}
type Hooks = { add: (name: string, hook: (event: never) => void) => void; remove: (name: string) => void };

/** Node-RED calls `onComplete` only for nodes whose input handler takes `done`; the others finish when it returns. */
const takesDone = (node: RuntimeNode) => (node._expectedDoneCount ?? 0) > 0;

/** Ends the store-failure subscription of the last runtime that loaded this plugin (a test process starts several). */
let stopStoreReports: (() => void) | undefined;

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
  const soar = () => settings().soar;
  // The SQLite file of the data dir, or the PostgreSQL store several instances share (`soar.storeUrl`).
  const location = () => storeLocation(soar(), settings().userDir);
  const positive = (value: unknown, fallback: number) => {
    const n = Number(value);
    return value !== undefined && value !== null && value !== '' && Number.isFinite(n) && n >= 0 ? n : fallback;
  };
  const timeoutSeconds = () => positive(soar()?.runTimeoutSeconds, DEFAULT_TIMEOUT_SECONDS) || DEFAULT_TIMEOUT_SECONDS;

  // Stores are opened on first use, for the life of the process.
  let runs: PlaybookRunStore | undefined;
  let cases: CaseStore | undefined;
  let sources: MetricsSources | undefined;
  const runStore = () =>
    (runs ??= acquireRunStore(location(), {
      synchronous: soar()?.sync,
      retentionDays: positive(soar()?.runRetentionDays, DEFAULT_RETENTION_DAYS),
    }));
  const caseStore = () => (cases ??= acquireCaseStore(location(), caseStoreOptions(soar())));
  const metricsSources = () =>
    (sources ??= openMetricsSources(location(), runStore(), caseStore(), { synchronous: soar()?.sync }));

  const recorder = new RunRecorder({
    store: { save: (batch) => runStore().save(batch) },
    attachToCase: (caseId: string, finished: FinishedRun[]) =>
      caseStore().update(
        caseId,
        (c, now) => {
          for (const run of finished) {
            recordRun(c, caseRun(run), now);
          }
        },
        undefined,
        // Successful automatic runs are bookkeeping: the sidebar need not hear of each.
        { quiet: finished.every((run) => run.outcome === 'success') },
      ),
    report: (message) => RED.log.warn(`soar-runs: ${message}`),
    // A shared PostgreSQL server may be away for a few seconds (a restart, a failover): about 12 s of tries.
    retries: postgresStoreUrl(soar()) ? 6 : undefined,
  });
  /**
   * What finished before a read is written before it, so the read shows it; but a read never waits long behind a
   * write the store keeps refusing (the store's own error then answers).
   */
  const written = () =>
    Promise.race([recorder.flush(), new Promise<void>((resolve) => setTimeout(resolve, FLUSH_WAIT_MS).unref())]);

  RED.plugins.registerPlugin('soar-runs', { type: 'soar-runs' } as never);

  // The embedded store's background work (WAL checkpoints) fails quietly otherwise: the process logs it here.
  stopStoreReports?.();
  stopStoreReports = onStoreBackgroundError((err, what) => RED.log.warn(`soar store: ${what}: ${err.message}`));

  // A hook that throws makes Node-RED drop the message: every hook body is guarded, failures logged once a minute.
  let lastReport = 0;
  let unreported = 0;
  const guard =
    <E>(name: string, body: (event: E) => void) =>
    (event: E) => {
      try {
        body(event);
      } catch (err) {
        const now = Date.now();
        if (now - lastReport < 60_000) {
          unreported += 1;
          return;
        }
        const more = unreported > 0 ? ` (and ${unreported} more failures since the last report)` : '';
        RED.log.warn(`soar-runs: ${name} failed: ${errorText(err)}${more}; the message went on, its run may be off`);
        lastReport = now;
        unreported = 0;
      }
    };

  // A shared PostgreSQL store: this instance publishes its intake counters for the metrics of every instance, whether
  // or not it is asked for metrics itself.
  if (postgresStoreUrl(soar())) {
    RED.events.on(
      'flows:started',
      guard('flows:started', () => void metricsSources()),
    );
  }

  let tracker: RunTracker | undefined;
  if (soar()?.runTracking !== false) {
    let playbooks = new Map<string, PlaybookTab>();
    let watched = new Set<string>();
    const active = new RunTracker({
      playbookOf: (tab) => playbooks.get(tab),
      onFinished: (run) => recorder.add(run),
      maxOpenRuns: positive(soar()?.maxOpenRuns, DEFAULT_MAX_OPEN_RUNS) || DEFAULT_MAX_OPEN_RUNS,
    });
    tracker = active;
    let sweeper: NodeJS.Timeout | undefined;

    RED.events.on(
      'flows:started',
      guard('flows:started', () => {
        const nodes: FlowConfigNode[] = [];
        RED.nodes.eachNode((n) => {
          nodes.push(n as unknown as FlowConfigNode);
        });
        playbooks = playbookTabs(nodes, timeoutSeconds());
        watched = completeWatched(nodes);
        // Look for timed-out runs a few times per timeout, at most once a second.
        const shortest = Math.min(timeoutSeconds() * 1000, ...[...playbooks.values()].map((p) => p.timeoutMs));
        if (sweeper) clearInterval(sweeper);
        sweeper = setInterval(
          guard('sweep', () => active.sweep()),
          Math.max(50, Math.min(1000, shortest / 4)),
        );
        sweeper.unref();
        for (const n of nodes) {
          const runtimeNode = n.type === 'tab' ? undefined : RED.nodes.getNode?.(n.id);
          if (!runtimeNode) continue;
          listenToNodeErrors(runtimeNode, (node, error, msg) => active.error(msg, node, error));
          break;
        }
      }),
    );
    // A deploy or a shutdown. Before the nodes close (some call done() for the messages they drop, as the delay
    // node does): the runs with a message on a node about to stop are aborted. After: what finished is written.
    RED.events.on(
      'flows:stopping',
      guard('flows:stopping', (event: FlowsStoppedEvent) => active.stopped(stoppedScope(event))),
    );
    RED.events.on('flows:stopped', () => void recorder.flush());

    const hooks = (RED as unknown as { hooks: Hooks }).hooks;
    hooks.add(
      'preDeliver.soar-runs',
      guard('preDeliver', (e: DeliverEvent) => active.deliver(e.msg, e.source.node)),
    );
    hooks.add(
      'onReceive.soar-runs',
      guard('onReceive', (e: ReceiveEvent) => active.receive(e.msg, e.destination.node)),
    );
    hooks.add(
      'postReceive.soar-runs',
      guard('postReceive', (e: ReceiveEvent) =>
        active.handled(e.msg, e.destination.node, takesDone(e.destination.node)),
      ),
    );
    hooks.add(
      'onComplete.soar-runs',
      guard('onComplete', (e: CompleteEvent) =>
        active.complete(e.msg, e.node.node, e.error, watched.has(e.node.id) ? 'later' : 'now'),
      ),
    );
  }

  // The figures are read at most every `metricsCacheSeconds` (a Prometheus scrape every few seconds reads once).
  let cached: { at: number; metrics: Promise<SoarMetrics> } | undefined;
  const metrics = (): Promise<SoarMetrics> => {
    const ttl = positive(soar()?.metricsCacheSeconds, DEFAULT_METRICS_CACHE_SECONDS) * 1000;
    const now = Date.now();
    if (cached && now - cached.at < ttl) return cached.metrics;
    const fresh = written()
      .then(() => collectMetrics(metricsSources()))
      .then((m) => ({
        ...m,
        runTracking: {
          ...(tracker?.counts ?? { open: 0, untracked: 0, unattributed: 0 }),
          notAttached: recorder.notAttached,
          lost: recorder.lost,
        },
      }));
    cached = { at: now, metrics: fresh };
    fresh.catch(() => {
      if (cached?.metrics === fresh) cached = undefined;
    });
    return fresh;
  };

  const fail = (res: Response, err: unknown) => {
    if (err instanceof RunQueryError) res.status(400).json({ error: err.message });
    else res.status(500).json({ error: `soar store: ${(err as Error).message}` });
  };

  RED.httpAdmin.get('/soar/runs', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
    let query;
    try {
      query = parseRunQuery(req.query as Record<string, unknown>);
    } catch (err) {
      return fail(res, err);
    }
    written()
      .then(() => runStore().list(query))
      .then(
        (page) => res.json(page),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.get('/soar/metrics', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    metrics().then(
      (m) => res.json(m),
      (err) => fail(res, err),
    );
  });
  RED.httpAdmin.get(
    '/soar/metrics/prometheus',
    RED.auth.needsPermission('soar.read'),
    (_req: Request, res: Response) => {
      metrics().then(
        (m) => {
          // Set as is: express's res.type/send would reorder the parameters.
          res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
          res.end(prometheusText(m));
        },
        (err) => fail(res, err),
      );
    },
  );
};
