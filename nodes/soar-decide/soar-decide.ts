import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import type { Alert } from '../../lib/alert/model';
import {
  acquireCaseStore,
  addTimeline,
  applyPatch,
  CaseNotFoundError,
  releaseCaseStore,
  type Case,
  type CaseStore,
} from '../../lib/cases';
import { assetCriticality, parseAssetList, type AssetEntry } from '../../lib/decide/assets';
import {
  closedAsFalsePositive,
  decide,
  DECIDE_BY,
  DEFAULT_POLICY,
  describeDecision,
  FACTOR_NAMES,
  formatScore,
  validatePolicy,
  type CaseHistory,
  type Decision,
  type DecisionPolicy,
  type FactorName,
} from '../../lib/decide/score';
import type { Enrichment } from '../../lib/enrich/model';
import { compileExpression, describeJsonataError, type Evaluator } from '../../lib/rules/expression';
import { caseStoreOptions, storeLocation, type SoarSettings } from '../../lib/settings';
import { HistoryCache } from '../../lib/decide/history-cache';
import { soarEvents } from '../../lib/events';

type AssetSource = 'none' | 'list' | 'jsonata';

interface DecideNodeDef extends NodeDef {
  weightIoc?: number | string;
  weightEnrichment?: number | string;
  weightSeverity?: number | string;
  weightAsset?: number | string;
  weightHistory?: number | string;
  respondAt?: number | string;
  dismissBelow?: number | string;
  requireEvidence?: boolean;
  assetSource?: AssetSource;
  assetList?: string;
  assetExpression?: string;
  dismissCases?: boolean;
}

type DecideMessage = NodeMessageInFlow & { case?: Partial<Case>; caseId?: unknown; decision?: Decision };

/** What the history of a case needs: cases of its type and key other than itself. */
type CaseIdentity = Pick<Case, 'id' | 'type' | 'key'>;

type AssetInput = { assetCriticality?: number; assetReason?: string };

const noCase = (id: string) => new Error(`no case with id "${id}" in the case store`);

/** Earlier cases looked at for false positives of the same type and key (newest first). */
const HISTORY_LOOKBACK = 200;

const WEIGHT_FIELDS: Record<FactorName, keyof DecideNodeDef> = {
  ioc: 'weightIoc',
  enrichment: 'weightEnrichment',
  severity: 'weightSeverity',
  asset: 'weightAsset',
  history: 'weightHistory',
};

/** A number from the editor (a number or a numeric string), the default when empty; NaN when it is not one. */
function numberOr(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : NaN;
}

function policyOf(config: DecideNodeDef): DecisionPolicy {
  const weights = { ...DEFAULT_POLICY.weights };
  for (const name of FACTOR_NAMES) weights[name] = numberOr(config[WEIGHT_FIELDS[name]], DEFAULT_POLICY.weights[name]);
  return validatePolicy({
    weights,
    respondAt: numberOr(config.respondAt, DEFAULT_POLICY.respondAt),
    dismissBelow: numberOr(config.dismissBelow, DEFAULT_POLICY.dismissBelow),
    requireEvidenceToRespond: config.requireEvidence !== false,
  });
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** An alert as far as the decision needs one: an object with an id and a list of observables. */
function alertOf(payload: unknown): Alert | undefined {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const p = payload as Partial<Alert>;
  return typeof p.id === 'string' && Array.isArray(p.observables) ? (p as Alert) : undefined;
}

/** Cases this process closed or resolved (or changed once closed): histories read before may be out of date. */
let casesClosed = 0;
/** One listener while soar-decide nodes exist, not one per node. */
let watching = 0;
let stopWatching: (() => void) | undefined;
function watchClosedCases(): () => void {
  if (watching++ === 0) {
    stopWatching = soarEvents.on('case', ({ status }) => {
      if (status === 'resolved' || status === 'closed') casesClosed++;
    });
  }
  return () => {
    if (--watching === 0) stopWatching?.();
  };
}

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };

  function SoarDecide(this: Node, config: DecideNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const source: AssetSource = config.assetSource ?? 'none';

    let policy: DecisionPolicy | undefined;
    let assets: AssetEntry[] = [];
    let expression: Evaluator | undefined;
    let problem: string | undefined;
    try {
      policy = policyOf(config);
      if (source === 'list') assets = parseAssetList(config.assetList ?? '');
      else if (source === 'jsonata') {
        const written = (config.assetExpression ?? '').trim();
        if (!written) throw new Error('the asset criticality expression is empty');
        try {
          expression = compileExpression(written);
        } catch (err) {
          throw new Error(`the asset criticality expression has a ${(err as Error).message}`, { cause: err });
        }
      } else if (source !== 'none') {
        throw new Error(`unknown asset criticality source "${String(source)}": none, list or jsonata`);
      }
    } catch (err) {
      problem = (err as Error).message;
      node.status({ fill: 'red', shape: 'ring', text: 'invalid configuration' });
      node.error(`soar-decide: ${problem}`);
    }

    const storePath = storeLocation(settings().soar, settings().userDir);
    let store: CaseStore | undefined;
    let closed = false;
    const cases = (): CaseStore => {
      // A message still in flight when the node closes must not take a store share nobody releases.
      if (closed) throw new Error('the node was closed (redeployed) while this message was in flight');
      return (store ??= acquireCaseStore(storePath, caseStoreOptions(settings().soar)));
    };
    const history = new HistoryCache<string[]>(() => casesClosed);
    const unwatch = watchClosedCases();

    /** Earlier cases of the same type and key closed as false positives; undefined when the store cannot say. */
    async function historyOf(c: CaseIdentity): Promise<CaseHistory | undefined> {
      try {
        // Only the cases of this type and key are read (not every closed case of the type). What is kept and shared
        // by the alerts of a few seconds is the ids of those closed as false positives, not the cases (thousands of
        // keys' pages would be held).
        const falsePositiveIds = await history.get(c.type + '\0' + c.key, async () => {
          const page = await cases().query({
            type: [c.type],
            key: c.key,
            status: ['resolved', 'closed'],
            limit: HISTORY_LOOKBACK,
            offset: 0,
          });
          return page.items.filter((other) => other.key === c.key && closedAsFalsePositive(other)).map((o) => o.id);
        });
        const falsePositives = falsePositiveIds.filter((id) => id !== c.id).length;
        return { falsePositives };
      } catch (err) {
        node.warn(`earlier cases unavailable, history left neutral: ${(err as Error).message}`);
        return undefined;
      }
    }

    /** The case's type and key (which never change): from msg.case when it has them, else from the store. */
    async function identityOf(msg: DecideMessage, caseId: string): Promise<CaseIdentity> {
      const given = msg.case;
      if (given?.id === caseId && typeof given.type === 'string' && typeof given.key === 'string') {
        return { id: caseId, type: given.type, key: given.key };
      }
      const c = await cases().get(caseId);
      if (!c) throw noCase(caseId);
      return c;
    }

    /** Asset criticality from the node's list: of the alert's host, or the case's. */
    function listAsset(alert: Alert | undefined, c: Case | undefined): AssetInput {
      const hit = source === 'list' ? assetCriticality(assets, alert, c) : undefined;
      return hit ? { assetCriticality: hit.score, assetReason: hit.reason } : {};
    }

    /** Asset criticality from the node's JSONata expression, evaluated on the message. */
    async function expressionAsset(msg: DecideMessage): Promise<AssetInput> {
      if (source !== 'jsonata' || !expression) return {};
      let result: unknown;
      try {
        result = await expression.evaluate(msg);
      } catch (err) {
        throw new Error(`the asset criticality expression failed: ${describeJsonataError(err)}`, { cause: err });
      }
      if (result === undefined || result === null) return {};
      if (typeof result !== 'number' || !Number.isFinite(result) || result < 0 || result > 100) {
        throw new Error(
          `the asset criticality expression gave ${JSON.stringify(result)}: it must give a number from 0 to 100`,
        );
      }
      return { assetCriticality: result, assetReason: 'from the expression' };
    }

    /** Writes the decision into the case timeline (and resolves a dismissed case nobody has taken up). */
    function record(current: Case, decision: Decision, now: string): void {
      const line = describeDecision(decision);
      // A run of alerts deciding the same way is one entry with a count: an alert storm keeps the case small.
      const last = current.timeline.at(-1);
      const outcome = `decision: ${decision.outcome} `;
      if (
        last?.kind === 'decision' &&
        last.by === DECIDE_BY &&
        last.message.replace(/^\d+ × /, '').startsWith(outcome)
      ) {
        last.count = (last.count ?? 1) + 1;
        last.until = now;
        last.message = `${last.count} × ${line}`;
        current.updated = now;
      } else addTimeline(current, { kind: 'decision', message: line, by: DECIDE_BY }, now);
      // Only a case nobody has taken up: one in progress is an analyst's call, not automation's.
      if (decision.outcome === 'dismiss' && config.dismissCases !== false && current.status === 'new') {
        const note = `dismissed as false positive: ${decision.reason}`;
        applyPatch(current, { status: 'resolved', note }, DECIDE_BY, now);
      }
    }

    node.on('input', (msg: DecideMessage, send, done) => {
      if (!policy || problem) {
        done(new Error(`soar-decide is misconfigured: ${problem}`));
        return;
      }
      const thePolicy = policy;
      const alert = alertOf(msg.payload);
      const caseId = text(msg.case?.id) ?? text(msg.caseId);
      if (!alert && !caseId) {
        done(
          new Error(
            'soar-decide needs an alert in msg.payload (from soar-normalize) or a case in msg.case / msg.caseId (from soar-case)',
          ),
        );
        return;
      }
      // Every answer soar-enrich gave: the alert's own (msg.payload.enrichments) and those about the case's other
      // artifacts (msg.enrichments), so an earlier malicious verdict is never outweighed by a harmless new one.
      const fromAlert = (msg.payload as { enrichments?: unknown } | null | undefined)?.enrichments;
      const fromMsg = (msg as { enrichments?: unknown }).enrichments;
      const all = [...(Array.isArray(fromAlert) ? fromAlert : []), ...(Array.isArray(fromMsg) ? fromMsg : [])];
      const seen = new Set<string>();
      const enrichments = (all as Enrichment[]).filter((e) => {
        const key = `${e?.provider}\n${e?.observable?.type}\n${e?.observable?.value}`;
        return seen.has(key) ? false : (seen.add(key), true);
      });

      (async () => {
        const fromExpression = await expressionAsset(msg);
        let decision: Decision;
        if (caseId) {
          const history = await historyOf(await identityOf(msg, caseId));
          // Decided inside the case's read-modify-write: on the case as stored now (msg.case may be older), with no
          // separate read before it.
          let decided: Decision | undefined;
          try {
            msg.case = await cases().update(caseId, (current, now) => {
              const asset = source === 'jsonata' ? fromExpression : listAsset(alert, current);
              decided = decide({ alert, case: current, enrichments, history, ...asset }, thePolicy);
              record(current, decided, now);
            });
          } catch (err) {
            throw err instanceof CaseNotFoundError ? noCase(caseId) : err;
          }
          decision = decided as Decision;
        } else {
          const asset = source === 'jsonata' ? fromExpression : listAsset(alert, undefined);
          decision = decide({ alert, enrichments, ...asset }, thePolicy);
        }
        msg.decision = decision;
        const port = decision.outcome === 'respond' ? 0 : decision.outcome === 'escalate' ? 1 : 2;
        const out: (DecideMessage | null)[] = [null, null, null];
        out[port] = msg;
        node.status({
          fill: decision.outcome === 'respond' ? 'red' : decision.outcome === 'escalate' ? 'yellow' : 'grey',
          shape: 'dot',
          text: `${decision.outcome} · ${formatScore(decision.score)}`,
        });
        send(out);
      })().then(
        () => done(),
        (err: Error) => done(err),
      );
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      unwatch();
      if (store) releaseCaseStore(storePath);
      store = undefined;
      done();
    });
  }

  RED.nodes.registerType('soar-decide', SoarDecide);
};
