import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { SEVERITIES, type Severity } from '../../lib/alert/model';
import { acquireCaseStore, releaseCaseStore, type CaseStore } from '../../lib/cases';
import { retroHunt, triggerFeeds, type HuntResult } from '../../lib/hunt';
import { openIocLibrary, releaseIocLibrary, type IocLibrary } from '../../lib/ioc/library';
import { DEFAULT_VERDICT_OPTIONS, type VerdictOptions } from '../../lib/ioc/verdict';
import { caseStoreOptions, storeLocation, type SoarSettings } from '../../lib/settings';
import { isPostgresUrl } from '../../lib/store/pg/pool';

interface HuntNodeDef extends NodeDef {
  maliciousConfidence?: number | string;
  minConfidence?: number | string;
  /** The severity a case is raised to for a malicious / suspicious hit. */
  maliciousSeverity?: string;
  suspiciousSeverity?: string;
  /** Count only the feeds the trigger (a soar-ioc-feed report) names; off: every feed. */
  reportedFeedsOnly?: boolean;
}

/** A threshold from the editor (a number or a numeric string, 0–100), or undefined when it is not one. */
function threshold(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) && n >= 0 && n <= 100 ? n : undefined;
}

const severity = (value: unknown, fallback: Severity): Severity =>
  (SEVERITIES as readonly unknown[]).includes(value) ? (value as Severity) : fallback;

export = function (RED: NodeAPI) {
  function SoarHunt(this: Node, config: HuntNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
    const location = storeLocation(settings.soar, settings.userDir);

    const verdict: VerdictOptions = { ...DEFAULT_VERDICT_OPTIONS };
    for (const key of ['maliciousConfidence', 'minConfidence'] as const) {
      const value = threshold(config[key]);
      if (value !== undefined) verdict[key] = value;
      else if (config[key] !== undefined && config[key] !== '') {
        node.warn(`${key} must be a number from 0 to 100, not ${JSON.stringify(config[key])}: using ${verdict[key]}`);
      }
    }
    const raise = {
      malicious: severity(config.maliciousSeverity, 'high'),
      suspicious: severity(config.suspiciousSeverity, 'medium'),
    };

    // The IOC library and the cases, in the SQLite store of the data dir or in PostgreSQL (shared by instances).
    let opened: { library: IocLibrary; cases: CaseStore } | undefined;
    let unavailable: Error | undefined;
    const ready = openIocLibrary(location, {
      synchronous: settings.soar?.sync,
      defaultAllowlists: settings.soar?.allowlists,
    })
      .then((library) => {
        opened = { library, cases: acquireCaseStore(location, caseStoreOptions(settings.soar)) };
      })
      .catch((err: Error) => {
        // The library is let go at once (loaded or not), so that a redeploy tries again.
        releaseIocLibrary(location, 0);
        unavailable = isPostgresUrl(location) ? err : new Error(`cannot open the store ${location}: ${err.message}`);
        node.status({ fill: 'red', shape: 'ring', text: 'store unavailable' });
        node.error(unavailable.message);
      });
    const aborter = new AbortController();
    node.status({ fill: 'grey', shape: 'dot', text: 'waiting for new indicators' });

    // One hunt at a time: a trigger during a hunt waits for it (each hunt reads the library as it is then).
    let queue: Promise<unknown> = Promise.resolve();

    node.on('input', (msg: NodeMessageInFlow, send, done) => {
      const trigger = config.reportedFeedsOnly === false ? { nothingNew: false } : triggerFeeds(msg.payload);
      if (trigger.nothingNew) {
        node.status({
          fill: 'grey',
          shape: 'dot',
          text: `nothing new to hunt · ${new Date().toTimeString().slice(0, 5)}`,
        });
        return done();
      }
      const run = queue.then(async () => {
        await ready;
        if (!opened) throw unavailable ?? new Error('store unavailable');
        const { library, cases } = opened;
        node.status({ fill: 'blue', shape: 'ring', text: 'hunting…' });
        return retroHunt(cases, (type, value) => library.index.lookup(type, value), {
          ...verdict,
          feeds: 'feeds' in trigger ? trigger.feeds : undefined,
          severity: raise,
          by: `soar-hunt${config.name ? ` ${config.name}` : ''}`,
          signal: aborter.signal,
        });
      });
      queue = run.catch(() => undefined);
      run.then(
        (result: HuntResult) => {
          node.status({
            fill: result.raised.length > 0 ? 'red' : 'green',
            shape: 'dot',
            text: `${result.scanned} cases scanned · ${result.raised.length} raised · ${new Date().toTimeString().slice(0, 5)}`,
          });
          for (const r of result.raised) {
            send({
              ...RED.util.cloneMessage(msg),
              topic: r.case.id,
              caseId: r.case.id,
              case: r.case,
              payload: r.hits,
              hunt: { scanned: result.scanned, raised: result.raised.length },
            } as NodeMessageInFlow);
          }
          done();
        },
        (err: Error) => {
          node.status({ fill: 'red', shape: 'ring', text: `hunt failed: ${err.message}`.slice(0, 60) });
          done(err);
        },
      );
    });

    node.on('close', (done: () => void) => {
      aborter.abort();
      void Promise.all([ready, queue]).finally(() => {
        if (opened) {
          releaseCaseStore(location);
          releaseIocLibrary(location);
        }
        done();
      });
    });
  }

  RED.nodes.registerType('soar-hunt', SoarHunt);
};
