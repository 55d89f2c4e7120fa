/**
 * Runtime plugin: records every playbook run (lib/playbooks/runs) through Node-RED's messaging hooks, and serves the
 * admin routes for runs and metrics:
 *   GET /soar/runs?playbook=&case=&outcome=&limit=&offset=   finished runs, newest first, with their steps
 *   GET /soar/metrics                                       playbooks, case types, intake, device actions (JSON)
 *   GET /soar/metrics/prometheus                            the same in the Prometheus text format
 *
 * Settings (settings.js, `soar` section): `runTimeoutSeconds` (default 300; a tab's env `SOAR_RUN_TIMEOUT_SECONDS`
 * wins for its playbook), `runTracking: false` switches the hooks off.
 */
import type { NodeAPI } from 'node-red';
import type { Request, Response } from 'express';
import { acquireCaseStore, recordRun, type SqliteCaseStore } from '../../lib/cases';
import { collectMetrics, prometheusText, PROMETHEUS_CONTENT_TYPE, SqliteMetricsSources } from '../../lib/metrics';
import {
  parseRunQuery,
  playbookTabs,
  RunQueryError,
  RunRecorder,
  RunTracker,
  SqlitePlaybookRunStore,
  type FinishedRun,
  type FlowConfigNode,
  type Message,
  type PlaybookTab,
  type TrackedNode,
} from '../../lib/playbooks/runs';
import { storeFile, type SoarSettings } from '../../lib/settings';

const DEFAULT_TIMEOUT_SECONDS = 300;

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
  node: { node: RuntimeNode };
}
type Hooks = { add: (name: string, hook: (event: never) => void) => void; remove: (name: string) => void };

/** Node-RED calls `onComplete` only for nodes whose input handler takes `done`; the others finish when it returns. */
const takesDone = (node: RuntimeNode) => (node._expectedDoneCount ?? 0) > 0;

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
  const soar = () => settings().soar;
  const file = () => storeFile(soar(), settings().userDir);
  const timeoutSeconds = () => {
    const seconds = Number(soar()?.runTimeoutSeconds);
    return Number.isFinite(seconds) && seconds > 0 ? seconds : DEFAULT_TIMEOUT_SECONDS;
  };

  // Stores are opened on first use, for the life of the process.
  let runs: SqlitePlaybookRunStore | undefined;
  let cases: SqliteCaseStore | undefined;
  let sources: SqliteMetricsSources | undefined;
  const runStore = () => (runs ??= new SqlitePlaybookRunStore(file(), { synchronous: soar()?.sync }));
  const caseStore = () => (cases ??= acquireCaseStore(file(), { synchronous: soar()?.sync }));
  const metricsSources = () =>
    (sources ??= new SqliteMetricsSources(file(), runStore(), caseStore(), { synchronous: soar()?.sync }));

  const recorder = new RunRecorder({
    store: { save: (batch) => runStore().save(batch) },
    attachToCase: (run: FinishedRun & { caseId: string }) =>
      caseStore().update(run.caseId, (c, now) =>
        recordRun(
          c,
          {
            playbook: run.playbook,
            version: run.version,
            runId: run.runId,
            started: run.started,
            finished: run.finished,
            outcome: run.outcome,
            ...(run.error ? { error: run.error } : {}),
          },
          now,
        ),
      ),
    report: (message) => RED.log.warn(`soar-runs: ${message}`),
  });

  RED.plugins.registerPlugin('soar-runs', { type: 'soar-runs' } as never);

  if (soar()?.runTracking !== false) {
    let playbooks = new Map<string, PlaybookTab>();
    const tracker = new RunTracker({ playbookOf: (tab) => playbooks.get(tab), onFinished: (run) => recorder.add(run) });
    let sweeper: NodeJS.Timeout | undefined;

    RED.events.on('flows:started', () => {
      const nodes: FlowConfigNode[] = [];
      RED.nodes.eachNode((n) => {
        nodes.push(n as unknown as FlowConfigNode);
      });
      playbooks = playbookTabs(nodes, timeoutSeconds());
      tracker.resetNodes();
      // Look for timed-out runs a few times per timeout, at most once a second.
      const shortest = Math.min(timeoutSeconds() * 1000, ...[...playbooks.values()].map((p) => p.timeoutMs));
      if (sweeper) clearInterval(sweeper);
      sweeper = setInterval(() => tracker.sweep(), Math.max(50, Math.min(1000, shortest / 4)));
      sweeper.unref();
    });
    // A deploy or a shutdown: what has finished is written now.
    RED.events.on('flows:stopped', () => void recorder.flush());

    const hooks = (RED as unknown as { hooks: Hooks }).hooks;
    hooks.add('preDeliver.soar-runs', (e: DeliverEvent) => tracker.deliver(e.msg, e.source.node));
    hooks.add('onReceive.soar-runs', (e: ReceiveEvent) => tracker.receive(e.msg, e.destination.node));
    hooks.add('postReceive.soar-runs', (e: ReceiveEvent) => {
      if (!takesDone(e.destination.node)) tracker.complete(e.msg, e.destination.node);
    });
    hooks.add('onComplete.soar-runs', (e: CompleteEvent) => tracker.complete(e.msg, e.node.node, e.error));
  }

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
    recorder
      .flush()
      .then(() => runStore().list(query))
      .then(
        (page) => res.json(page),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.get('/soar/metrics', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    recorder
      .flush()
      .then(() => collectMetrics(metricsSources()))
      .then(
        (metrics) => res.json(metrics),
        (err) => fail(res, err),
      );
  });
  RED.httpAdmin.get(
    '/soar/metrics/prometheus',
    RED.auth.needsPermission('soar.read'),
    (_req: Request, res: Response) => {
      recorder
        .flush()
        .then(() => collectMetrics(metricsSources()))
        .then(
          (metrics) => {
            // Set as is: express's res.type/send would reorder the parameters.
            res.setHeader('Content-Type', PROMETHEUS_CONTENT_TYPE);
            res.end(prometheusText(metrics));
          },
          (err) => fail(res, err),
        );
    },
  );
};
