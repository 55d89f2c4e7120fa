import { hostname } from 'node:os';
import { reportIntake } from '../../lib/metrics/intake-counters';
import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import sjson from 'secure-json-parse';
import { Backpressure } from '../../lib/intake/backpressure';
import { IntakeEndpoint, type AcceptedAlert, type IntakeRef } from '../../lib/intake/intake';
import { acquireJournal, openedJournal, releaseJournal, type IntakeJournalStore } from '../../lib/intake/journal';
import type { JournalEntry } from '../../lib/intake/journal-store';
import { dataDir, journalLocation, type SoarSettings } from '../../lib/settings';

interface AlertInDef extends NodeDef {
  path: string;
  maxSizeMb: string | number;
  rateLimit: string | number;
  burst: string | number;
  duplicateWindowMin: string | number;
  maxInFlight?: string | number;
}

interface AlertInCredentials {
  token?: string;
}

const REPLAY_CHUNK = 500;
/** A replay that could not read the journal (a store outage at start) is tried again this much later. */
const REPLAY_RETRY_MS = 10_000;
const EMIT_CHUNK = 500;
/** Alerts in the flow (sent, not yet marked processed) beyond which requests get 503; 0 turns it off. */
const DEFAULT_MAX_IN_FLIGHT = 2000;

function num(value: string | number | undefined, fallback: number): number {
  const n = typeof value === 'number' ? value : Number.parseFloat(value ?? '');
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

function routePath(path: string | undefined): string {
  const p = (path ?? '').trim() || '/alerts';
  return p.startsWith('/') ? p : '/' + p;
}

export = function (RED: NodeAPI) {
  const soar = (): SoarSettings | undefined => (RED.settings as unknown as { soar?: SoarSettings }).soar;

  function SoarAlertIn(this: Node<AlertInCredentials>, config: AlertInDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const path = routePath(config.path);
    // The SQLite file of the data dir, or the PostgreSQL store shared by several instances.
    const location = journalLocation(soar(), RED.settings.userDir);
    let journal: IntakeJournalStore;
    try {
      journal = acquireJournal(location, {
        synchronous: soar()?.sync,
        // PostgreSQL: this instance's pending alerts are replayed by it after a restart (same host and data dir).
        owner: process.env.SOAR_INSTANCE_ID || `${hostname()}:${dataDir(soar(), RED.settings.userDir)}`,
      });
    } catch (err) {
      node.status({ fill: 'red', shape: 'ring', text: 'journal unavailable' });
      node.error((err as Error).message);
      return;
    }

    const stopJournalReports = journal.onBackgroundError((err, what) =>
      node.warn(`intake journal: ${what}: ${err.message}`),
    );
    const duplicateWindowMs = num(config.duplicateWindowMin, 60) * 60_000;
    journal.keepSeenFor(duplicateWindowMs);
    // Marks made anywhere through the journal (soar-case, soar-rule, this node's input) make room in the flow.
    const backpressure = new Backpressure({ limit: num(config.maxInFlight, DEFAULT_MAX_IN_FLIGHT) });
    const stopMarks = journal.onMarked((seqs) => backpressure.marked(seqs));
    const endpoint = new IntakeEndpoint({
      node: node.id,
      journal,
      token: () => node.credentials?.token || process.env.SOAR_INTAKE_TOKEN || soar()?.intakeToken || '',
      maxBytes: Math.round(num(config.maxSizeMb, 5) * 1024 * 1024),
      ratePerSecond: num(config.rateLimit, 100),
      burst: num(config.burst, 200),
      duplicateWindowMs,
      pressure: backpressure,
    });
    const stopIntakeReport = reportIntake(node.id, () => endpoint.stats);

    const toMessage = (alert: AcceptedAlert): { payload: unknown; intake: IntakeRef } => ({
      payload: alert.record,
      intake: { seq: alert.seq, alertId: alert.alertId, received: new Date(alert.received).toISOString() },
    });

    // Status is refreshed at most once a second: a status per request would flood the editor.
    let statusTimer: NodeJS.Timeout | undefined;
    let journalFailed = false;
    const showStatus = () => {
      statusTimer = undefined;
      if (journalFailed) {
        node.status({ fill: 'red', shape: 'ring', text: 'journal write failed: answering 503' });
        return;
      }
      const pressure = backpressure.check();
      if (pressure.busy) {
        // Refreshed while busy, even when no request comes, so the status shows when the flow has caught up.
        scheduleStatus();
        node.status({
          fill: 'yellow',
          shape: 'ring',
          text: `busy: ${pressure.inFlight} in flight, ${endpoint.stats.busy} refused (503)`,
        });
        return;
      }
      const { accepted, duplicates, rejected, refused } = endpoint.stats;
      const bad = rejected + refused;
      node.status({
        fill: bad > 0 ? 'yellow' : 'green',
        shape: 'dot',
        text: `${accepted} accepted, ${bad} rejected` + (duplicates ? `, ${duplicates} dup` : ''),
      });
    };
    const scheduleStatus = () => {
      statusTimer ??= setTimeout(showStatus, 1000);
    };

    // Until the replay of what was pending at start is done, what is sent otherwise (live or adopted) is noted, so
    // that the replay does not send it a second time.
    let replaying = true;
    const sentOtherwise = new Set<number>();

    // Every alert sent into the flow is counted in flight until it is marked processed.
    const send = (alert: AcceptedAlert, now: number) => {
      if (replaying) sentOtherwise.add(alert.seq);
      backpressure.sent(alert.seq, now);
      node.send(toMessage(alert));
    };
    // One send per alert (Node-RED clones every message after the first of one send call), in chunks so that a
    // large batch does not hold the event loop. Accepted alerts go at once: the request was let in.
    const emit = (alerts: AcceptedAlert[], from = 0) => {
      const end = Math.min(alerts.length, from + EMIT_CHUNK);
      const now = Date.now();
      for (let i = from; i < end; i++) send(alerts[i], now);
      if (end < alerts.length) setImmediate(emit, alerts, end);
    };
    /** Waits, when the flow has too many alerts in flight, until it has room; false once the node is closing. */
    const roomInFlow = async (): Promise<boolean> => {
      if (backpressure.check(Date.now(), true).busy) await backpressure.room();
      return !closed;
    };
    const fromEntry = (entry: JournalEntry): AcceptedAlert => ({
      seq: entry.seq,
      alertId: entry.alertId,
      received: entry.received,
      record: sjson.parse(entry.body, undefined, { protoAction: 'remove', constructorAction: 'remove' }),
    });

    const handler: RequestHandler = (req: Request, res: Response) => {
      endpoint
        .handle(req, req.ip ?? req.socket.remoteAddress ?? 'unknown')
        .then(
          (result) => {
            res.writeHead(result.status, { 'Content-Type': 'application/json; charset=utf-8', ...result.headers });
            res.end(JSON.stringify(result.body));
            if (result.status === 202) journalFailed = false;
            emit(result.accepted);
          },
          (err: Error) => {
            // The journal could not commit: nothing of this request was accepted, and the client should retry.
            journalFailed = true;
            node.error(`intake journal write failed: ${err.message}`);
            if (!res.headersSent) {
              res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Retry-After': '5' });
              res.end(JSON.stringify({ error: 'alerts could not be stored; nothing was accepted, retry later' }));
            }
          },
        )
        // Whatever happened while answering must not become an unhandled rejection (it would stop Node-RED).
        .catch((err: Error) => node.error(`intake: ${err.message}`))
        .finally(scheduleStatus);
    };

    const configured = (RED.settings as unknown as { httpNodeMiddleware?: RequestHandler | RequestHandler[] })
      .httpNodeMiddleware;
    const middleware: RequestHandler | RequestHandler[] =
      typeof configured === 'function' || Array.isArray(configured)
        ? configured
        : (_req: Request, _res: Response, next: NextFunction) => next();
    try {
      RED.httpNode.post(path, middleware, handler);
    } catch (err) {
      releaseJournal(location);
      node.status({ fill: 'red', shape: 'ring', text: 'invalid path' });
      node.error(`cannot serve POST ${path}: ${(err as Error).message}`);
      return;
    }

    // Replay what this instance accepted but never marked processed (at-least-once), without re-sending alerts that
    // arrive while the replay runs.
    let closed = false;
    let replayTimer: NodeJS.Timeout | undefined;
    const replay = async () => {
      const uptoSeq = await journal.lastPendingSeq();
      let afterSeq = 0;
      let replayed = 0;
      while (!closed) {
        const entries = await journal.pendingEntries(node.id, afterSeq, uptoSeq, REPLAY_CHUNK);
        if (entries.length === 0) break;
        for (const entry of entries) {
          // Not faster than the flow takes them (the journal keeps them meanwhile).
          if (!(await roomInFlow())) return;
          if (sentOtherwise.has(entry.seq)) continue;
          sentOtherwise.add(entry.seq); // a replay retried after a failure half-way does not send it again
          send(fromEntry(entry), Date.now());
          replayed += 1;
        }
        afterSeq = entries[entries.length - 1].seq;
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (closed) return;
      replaying = false;
      sentOtherwise.clear();
      if (replayed > 0) node.log(`replayed ${replayed} journaled alert(s) not yet processed`);
      await warnOrphans();
    };
    const startReplay = () => {
      replayTimer = undefined;
      replay().catch((err: Error) => {
        if (closed) return;
        node.warn(`cannot replay the pending alerts yet (retrying in ${REPLAY_RETRY_MS / 1000} s): ${err.message}`);
        replayTimer = setTimeout(startReplay, REPLAY_RETRY_MS);
      });
    };
    replayTimer = setTimeout(startReplay, 0);

    // With PostgreSQL, the pending alerts of an instance that stopped for good are adopted by a live one: those
    // of this node id are sent on from here, one adoption after the other, not faster than the flow takes them.
    let adoptions = Promise.resolve();
    const sendAdopted = async (entries: JournalEntry[]) => {
      for (const entry of entries) {
        if (!(await roomInFlow())) return;
        send(fromEntry(entry), Date.now());
      }
    };
    const stopAdoptions = journal.onAdopted((entries) => {
      const mine = entries.filter((e) => e.node === node.id);
      if (mine.length === 0) return;
      node.log(`took over ${mine.length} pending alert(s) of an instance that stopped`);
      adoptions = adoptions
        .then(() => sendAdopted(mine))
        .catch((err: Error) => node.error(`could not send adopted alerts on: ${err.message}`));
    });

    // Pending alerts belong to the intake node that accepted them: say so when that node is no longer deployed.
    const warnOrphans = async () => {
      for (const [owner, count] of await journal.pendingCounts()) {
        if (owner !== node.id && !RED.nodes.getNode(owner)) {
          node.warn(
            `${count} journaled alert(s) of intake node ${owner}, which is not deployed, are waiting: ` +
              'they are replayed when a node with that id starts again',
          );
        }
      }
    };

    node.status({ fill: 'green', shape: 'ring', text: `POST ${path}` });

    // Input: messages that carry `msg.intake` (from this or another intake node) mark their alert processed.
    node.on('input', (msg: NodeMessageInFlow & { intake?: IntakeRef | IntakeRef[] }, _send, done) => {
      const refs = Array.isArray(msg.intake) ? msg.intake : msg.intake ? [msg.intake] : [];
      const seqs = refs.map((r) => r?.seq).filter((s): s is number => Number.isInteger(s));
      if (seqs.length === 0) {
        done(new Error('nothing to mark processed: msg.intake.seq is missing (wire messages from soar-alert-in)'));
        return;
      }
      // After a redeploy this node may be closed while messages are still in flight: mark in the open journal.
      (openedJournal(location) ?? journal).markProcessedSoon(seqs);
      done();
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (replayTimer) clearTimeout(replayTimer);
      stopMarks();
      backpressure.close();
      stopJournalReports();
      stopAdoptions();
      stopIntakeReport();
      if (statusTimer) clearTimeout(statusTimer);
      const stack = (
        RED.httpNode as unknown as {
          _router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] };
        }
      )._router.stack;
      for (let i = stack.length - 1; i >= 0; i--) {
        const route = stack[i].route;
        if (route && route.path === path && route.methods.post) stack.splice(i, 1);
      }
      releaseJournal(location);
      done();
    });
  }

  RED.nodes.registerType<Node<AlertInCredentials>, AlertInDef, object, AlertInCredentials>(
    'soar-alert-in',
    SoarAlertIn,
    {
      credentials: { token: { type: 'password' } },
    },
  );
};
