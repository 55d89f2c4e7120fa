import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Request, Response } from 'express';
import { OBSERVABLE_TYPES, type Alert, type ObservableType } from '../../lib/alert/model';
import { makeObservable } from '../../lib/alert/observables';
import { validateAlert } from '../../lib/alert/schema';
import { guessIndicatorType } from '../../lib/ioc/feeds/lists';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../lib/ioc/library';
import { applyVerdict, DEFAULT_VERDICT_OPTIONS, judgeMatches, type VerdictOptions } from '../../lib/ioc/verdict';
import { storeLocation, type SoarSettings } from '../../lib/settings';
import { isPostgresUrl } from '../../lib/store/pg/pool';

interface IocMatchNodeDef extends NodeDef {
  maliciousConfidence?: number | string;
  minConfidence?: number | string;
  addAttack?: boolean;
}

/** The longest value `GET /soar/iocs/lookup` takes (a long URL still fits). */
const MAX_LOOKUP_VALUE = 2048;

/** How often the status refreshes its counts (the indicator count changes when a feed reloads). */
const STATUS_INTERVAL_MS = 5000;

const TYPES: ReadonlySet<string> = new Set(OBSERVABLE_TYPES);

const count = (n: number) => n.toLocaleString('en-US');

/** A threshold from the editor (a number or a numeric string, 0–100), or undefined when it is not one. */
function threshold(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) && n >= 0 && n <= 100 ? n : undefined;
}

class LookupError extends Error {}

/** The observable an analyst asks about: `type` given (an observable type) or guessed; throws a LookupError. */
function lookupQuery(query: Record<string, unknown>): { type: ObservableType; value: string } {
  const raw = query.value;
  if (typeof raw !== 'string' || raw.trim() === '') throw new LookupError('give the value to look up: ?value=…');
  if (raw.length > MAX_LOOKUP_VALUE) throw new LookupError(`value is longer than ${MAX_LOOKUP_VALUE} characters`);
  let type: ObservableType;
  if (query.type === undefined || query.type === '') {
    const guessed = guessIndicatorType(raw);
    if (guessed === undefined) {
      throw new LookupError(
        `cannot tell what ${JSON.stringify(raw)} is: give ?type= (one of ${OBSERVABLE_TYPES.join(', ')})`,
      );
    }
    type = guessed;
  } else if (typeof query.type === 'string' && TYPES.has(query.type)) {
    type = query.type as ObservableType;
  } else {
    throw new LookupError(`type must be one of ${OBSERVABLE_TYPES.join(', ')}`);
  }
  const observable = makeObservable(type, raw, 'related');
  if (observable === null) throw new LookupError(`${JSON.stringify(raw)} is not a valid ${type}`);
  return { type: observable.type, value: observable.value };
}

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
  // The SQLite store of the data dir, or PostgreSQL shared by several instances.
  const location = () => storeLocation(settings().soar, settings().userDir);
  const open = (where: string) =>
    openIocLibrary(where, { synchronous: settings().soar?.sync, defaultAllowlists: settings().soar?.allowlists });

  // The admin API uses the library of the current settings, loaded on first use and kept for the process.
  let api: { location: string; library: Promise<IocLibrary> } | undefined;
  const library = (): Promise<IocLibrary> => {
    const where = location();
    if (!api || api.location !== where) {
      const previous = api;
      const current = { location: where, library: open(where) };
      api = current;
      // A library that could not load is let go, so that the next request tries again.
      current.library.catch(() => {
        if (api === current) api = undefined;
        releaseIocLibrary(where, 0);
      });
      if (previous) releaseIocLibrary(previous.location);
    }
    return api.library;
  };

  RED.httpAdmin.get('/soar/iocs/lookup', RED.auth.needsPermission('soar.read'), (req: Request, res: Response) => {
    let asked: { type: ObservableType; value: string };
    try {
      asked = lookupQuery(req.query as Record<string, unknown>);
    } catch (err) {
      if (err instanceof LookupError) return void res.status(400).json({ error: err.message });
      throw err;
    }
    library()
      .then(
        (lib) => {
          // Matches of a lookup carry no role: judgeMatches gives them `related`.
          const { verdict, matches } = judgeMatches(lib.index.lookup(asked.type, asked.value));
          res.json({ value: asked.value, type: asked.type, verdict, matches });
        },
        (err: Error) => res.status(503).json({ error: `IOC library: ${err.message}` }),
      )
      .catch((err: Error) => {
        if (!res.headersSent) res.status(500).json({ error: `IOC library: ${err.message}` });
      });
  });

  RED.httpAdmin.get('/soar/iocs/stats', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    library()
      .then(
        (lib) => res.json(lib.index.stats()),
        (err: Error) => res.status(503).json({ error: `IOC library: ${err.message}` }),
      )
      .catch((err: Error) => {
        if (!res.headersSent) res.status(500).json({ error: `IOC library: ${err.message}` });
      });
  });

  function SoarIocMatch(this: Node, config: IocMatchNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const where = location();

    const options: VerdictOptions = { ...DEFAULT_VERDICT_OPTIONS };
    for (const key of ['maliciousConfidence', 'minConfidence'] as const) {
      const value = threshold(config[key]);
      if (value !== undefined) options[key] = value;
      else if (config[key] !== undefined && config[key] !== '') {
        node.warn(`${key} must be a number from 0 to 100, not ${JSON.stringify(config[key])}: using ${options[key]}`);
      }
    }
    const applyOptions = { ...options, addAttack: config.addAttack !== false };

    // Messages that arrive while the library loads (PostgreSQL: over the network) wait for it, in order.
    let lib: IocLibrary | undefined;
    let unavailable: Error | undefined;
    const ready = open(where).then(
      (loaded) => {
        lib = loaded;
        showStatus();
      },
      (err: Error) => {
        // A PostgreSQL failure names the store already, without its password.
        unavailable = isPostgresUrl(where) ? err : new Error(`cannot open the IOC library in ${where}: ${err.message}`);
        releaseIocLibrary(where, 0);
        node.status({ fill: 'red', shape: 'ring', text: 'IOC library unavailable' });
        node.error(unavailable.message);
      },
    );

    let matched = 0;
    let invalid = false;
    const showStatus = () => {
      if (invalid) return;
      if (!lib) return;
      let indicators: number;
      try {
        indicators = lib.index.stats().indicators;
      } catch {
        return;
      }
      node.status({
        fill: indicators > 0 ? 'green' : 'grey',
        shape: 'dot',
        text: `${count(matched)} matched · ${count(indicators)} indicators`,
      });
    };
    const statusTimer = setInterval(showStatus, STATUS_INTERVAL_MS);

    const match = (
      msg: NodeMessageInFlow,
      send: (m: (NodeMessageInFlow | null)[]) => void,
      done: (err?: Error) => void,
    ) => {
      if (!lib) return done(unavailable);
      try {
        const alert = msg.payload as Alert;
        const valid = validateAlert(alert);
        if (!valid.valid) {
          invalid = true;
          node.status({ fill: 'red', shape: 'ring', text: 'not an alert (see Catch)' });
          done(new Error(`msg.payload is not an alert (use soar-normalize first): ${valid.errors}`));
          return;
        }
        if (invalid) {
          invalid = false;
          showStatus();
        }
        const { matches } = applyVerdict(alert, lib.index.lookupAlert(alert), applyOptions);
        if (matches.length > 0) {
          matched += 1;
          send([msg, null]);
        } else {
          send([null, msg]);
        }
        done();
      } catch (err) {
        done(err as Error);
      }
    };

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      if (lib) match(msg, send, done);
      else void ready.then(() => match(msg, send, done));
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      clearInterval(statusTimer);
      void ready.then(() => {
        if (lib) releaseIocLibrary(where);
        done();
      });
    });
  }

  RED.nodes.registerType('soar-ioc-match', SoarIocMatch);
};
