import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { OBSERVABLE_TYPES, type Alert } from '../../lib/alert/model';
import { validateAlert } from '../../lib/alert/schema';
import { acquireCaseStore, releaseCaseStore, type Case, type CaseStore } from '../../lib/cases';
import {
  applyEnrichments,
  applyToAlert,
  DEFAULT_ENRICH_TYPES,
  pickAlertObservables,
  pickCaseArtifacts,
  type EnrichedAlert,
  type PickOptions,
  type PickedObservable,
} from '../../lib/enrich/apply';
import type { EnrichError, Enrichment } from '../../lib/enrich/model';
import { caseStoreOptions, storeLocation, type SoarSettings } from '../../lib/settings';
import type { EnrichProviderNode } from '../soar-enrich-provider/provider-node';
import { fleet } from '../../lib/devices/fleet';
import { collectHostContext } from '../../lib/enrich/host-context';

/** The provider config node fields (fixed slots: Node-RED tracks, exports and copies config references by field). */
const PROVIDER_SLOTS = ['provider1', 'provider2', 'provider3', 'provider4'] as const;

interface EnrichNodeDef extends NodeDef {
  provider1?: string;
  provider2?: string;
  provider3?: string;
  provider4?: string;
  /** Observable types, comma-separated (or an array from a hand-written flow). */
  types?: string | string[];
  only?: string;
  maxObservables?: string | number;
  maxWaitSeconds?: string | number;
  /** Also ask the device that manages the alert's host for its context (`collect-host-context`). */
  hostContext?: boolean;
}

type EnrichMessage = NodeMessageInFlow & {
  case?: Case;
  caseId?: string;
  enrichments?: Enrichment[];
  enrichmentErrors?: EnrichError[];
};

/** Thrown inside the case update to leave the case unwritten (none of its artifacts was enriched). */
class Unchanged extends Error {}

const KNOWN_TYPES: ReadonlySet<string> = new Set(OBSERVABLE_TYPES);

function typesOf(value: string | string[] | undefined): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? value.split(/[\s,]+/) : [];
  const types = list.map((t) => String(t).trim()).filter((t) => t !== '');
  return types.length > 0 ? types : [...DEFAULT_ENRICH_TYPES];
}

function wholeNumber(value: unknown, fallback: number): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

/** The alert in msg.payload, or undefined. An enrichment added by an earlier soar-enrich node does not disqualify it. */
function alertOf(payload: unknown): EnrichedAlert | undefined {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return undefined;
  const { enrichments: _ignored, ...rest } = payload as EnrichedAlert;
  return validateAlert(rest).valid ? (payload as EnrichedAlert) : undefined;
}

const isCase = (c: unknown): c is Case =>
  c !== null && typeof c === 'object' && typeof (c as Case).id === 'string' && Array.isArray((c as Case).artifacts);

export = function (RED: NodeAPI) {
  function SoarEnrich(this: Node, config: EnrichNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const settings = RED.settings as unknown as { soar?: SoarSettings; userDir?: string };
    const storeAt = storeLocation(settings.soar, settings.userDir);

    const types = typesOf(config.types);
    for (const t of types) if (!KNOWN_TYPES.has(t)) node.warn(`unknown observable type ${JSON.stringify(t)}: ignored`);
    const pickOptions: PickOptions = {
      types: types.filter((t) => KNOWN_TYPES.has(t)),
      only: config.only === 'ioc' ? 'ioc' : 'all',
      max: wholeNumber(config.maxObservables, 10),
    };
    // How long one message may wait for rate limits and answers; lookups still waiting then are errors.
    const maxWaitMs = wholeNumber(config.maxWaitSeconds, 300) * 1000;

    const slots = PROVIDER_SLOTS.map((slot) => config[slot]).filter(
      (id): id is string => typeof id === 'string' && id !== '',
    );
    const providers = (): { id: string; node?: EnrichProviderNode }[] =>
      slots.map((id) => ({ id, node: RED.nodes.getNode(id) as EnrichProviderNode | undefined }));

    /** Why providers are skipped ("virustotal: no API key"), for the status. */
    const skipped = (): string[] =>
      providers()
        .filter((p) => !p.node?.enabled || !p.node.client)
        .map((p) =>
          p.node ? `${p.node.providerId}: ${p.node.reason ?? 'not running'}` : `provider ${p.id} is not deployed`,
        );

    let cases: CaseStore | undefined;
    const caseStore = (): CaseStore => (cases ??= acquireCaseStore(storeAt, caseStoreOptions(settings.soar)));

    const running = new Set<AbortController>();

    const showStatus = (result?: { enriched: number; errors: number }) => {
      const off = skipped();
      const note = off.join(', ');
      if (slots.length === 0) {
        node.status({ fill: 'red', shape: 'ring', text: 'no provider configured' });
      } else if (off.length === slots.length) {
        node.status({ fill: 'grey', shape: 'ring', text: note });
      } else if (!result) {
        node.status({ fill: 'grey', shape: off.length ? 'ring' : 'dot', text: off.length ? note : 'ready' });
      } else {
        const counts = `${result.enriched} enriched${result.errors ? ` · ${result.errors} error${result.errors === 1 ? '' : 's'}` : ''}`;
        node.status({
          fill: result.errors > 0 ? 'yellow' : 'green',
          shape: off.length || result.errors ? 'ring' : 'dot',
          text: off.length ? `${counts} · ${note}` : counts,
        });
      }
    };
    // Config nodes start before the nodes that use them: whether a provider is enabled is known now.
    showStatus();

    async function enrich(msg: EnrichMessage): Promise<{ enriched: number; errors: number }> {
      const alert = alertOf(msg.payload);
      let c: Case | undefined = isCase(msg.case) ? msg.case : undefined;
      const caseId = c?.id ?? (typeof msg.caseId === 'string' && msg.caseId !== '' ? msg.caseId : undefined);
      if (!c && caseId) {
        c = await caseStore().get(caseId);
        if (!c && !alert) throw new Error(`no case with id ${JSON.stringify(caseId)} and msg.payload is not an alert`);
      }
      if (!alert && !c) {
        throw new Error(
          'msg.payload is not an alert (use soar-normalize first) and there is no msg.case or msg.caseId to enrich',
        );
      }
      const enrichments: Enrichment[] = [];
      const errors: EnrichError[] = [];
      const active = providers()
        .map((p) => p.node)
        .filter((p): p is EnrichProviderNode => !!p?.enabled && !!p.client);
      const hostContext = config.hostContext === true && !!alert?.host;
      // No provider running (no API key yet) and no host context asked for: nothing to look up or wait for.
      if (active.length > 0 || hostContext) {
        const observables: PickedObservable[] = c
          ? pickCaseArtifacts(c, pickOptions)
          : pickAlertObservables(alert as Alert, pickOptions);
        const controller = new AbortController();
        running.add(controller);
        const timer =
          maxWaitMs > 0
            ? setTimeout(
                () => controller.abort(new Error(`gave up after waiting ${maxWaitMs / 1000} s for the provider`)),
                maxWaitMs,
              )
            : undefined;
        try {
          const results = await Promise.all(
            active.map((p) =>
              (p.client as NonNullable<EnrichProviderNode['client']>).lookupAll(observables, controller.signal),
            ),
          );
          if (hostContext && alert?.host) {
            results.push(await collectHostContext(fleet, alert.host, controller.signal));
          }
          for (const r of results) {
            enrichments.push(...r.enrichments);
            errors.push(...r.errors);
          }
        } finally {
          if (timer) clearTimeout(timer);
          running.delete(controller);
        }
      }

      if (alert) applyToAlert(alert, enrichments);
      msg.enrichments = enrichments;
      msg.enrichmentErrors = errors;

      if (c && enrichments.length > 0) {
        try {
          msg.case = await caseStore().update(c.id, (stored, now) => {
            if (applyEnrichments(stored, enrichments, now).matched === 0) throw new Unchanged();
          });
        } catch (err) {
          if (!(err instanceof Unchanged))
            node.warn(`case ${c.id}: enrichments not recorded: ${(err as Error).message}`);
          msg.case = c;
        }
      } else if (c) {
        msg.case = c;
      }
      return { enriched: enrichments.length, errors: errors.length };
    }

    node.on('input', (msg: EnrichMessage, send, done) => {
      enrich(msg).then(
        (result) => {
          showStatus(result);
          send(msg);
          done();
        },
        (err: Error) => {
          node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 60) });
          done(err);
        },
      );
    });

    node.on('close', (done: () => void) => {
      for (const controller of running) controller.abort(new Error('the flow was stopped'));
      running.clear();
      if (cases) releaseCaseStore(storeAt);
      cases = undefined;
      done();
    });
  }

  RED.nodes.registerType('soar-enrich', SoarEnrich);
};
