import type { NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { enrichCacheFor, type EnrichCache } from '../../lib/enrich/cache';
import { EnrichClient } from '../../lib/enrich/client';
import { forgetLimiter, limiterFor } from '../../lib/enrich/limiter';
import type { EnrichProvider } from '../../lib/enrich/model';
import { ENRICH_PROVIDER_IDS, ENRICH_PROVIDERS, type ProviderConfig } from '../../lib/enrich/providers';
import { acquireStoreDatabase, releaseStoreDatabase } from '../../lib/store/database';
import { storeFile, type SoarSettings } from '../../lib/settings';
import { PROVIDER_DEFAULTS, type EnrichProviderNode, type ProviderCredentials } from './provider-node';

interface ProviderNodeDef extends NodeDef {
  provider: string;
  baseUrl?: string;
  perMinute?: string | number;
  burst?: string | number;
  timeoutSeconds?: string | number;
  retries?: string | number;
}

/** How often expired cache rows are deleted. */
const PURGE_INTERVAL_MS = 10 * 60 * 1000;

/** A number from the editor, or `fallback` when the field is empty or not a number ≥ `min`. */
function numberOr(value: unknown, fallback: number, min = 0): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) && n >= min ? n : fallback;
}

export = function (RED: NodeAPI) {
  const settings = () => RED.settings as unknown as { soar?: SoarSettings; userDir?: string };

  // The editor's provider list (labels, quotas, types, default limits), so the html does not duplicate it.
  RED.httpAdmin.get('/soar/enrich/providers', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    res.json({
      items: ENRICH_PROVIDER_IDS.map((id) => {
        const p = ENRICH_PROVIDERS[id];
        return {
          id,
          label: p.label,
          quota: p.quota,
          types: p.types,
          ttlSeconds: p.ttlSeconds,
          ...PROVIDER_DEFAULTS[id],
        };
      }),
    });
  });

  function SoarEnrichProvider(this: EnrichProviderNode, config: ProviderNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const id = String(config.provider ?? '');
    const provider = (ENRICH_PROVIDERS as Readonly<Record<string, EnrichProvider<ProviderConfig> | undefined>>)[id];
    node.providerId = id;
    node.providerLabel = provider?.label ?? id;
    node.enabled = false;

    const disable = (reason: string, log: boolean) => {
      node.enabled = false;
      node.reason = reason;
      // A config node has no status: a real fault goes to the log; a missing key is shown by the enrich nodes.
      if (log) node.warn(`enrichment provider ${config.name || id || node.id}: ${reason}`);
    };

    if (!provider) {
      disable(`unknown provider ${JSON.stringify(id)} (one of ${ENRICH_PROVIDER_IDS.join(', ')})`, true);
      return;
    }
    const defaults = PROVIDER_DEFAULTS[id] ?? { perMinute: 1, burst: 1, needsKey: true };
    const apiKey = (node.credentials?.apiKey ?? '').trim();
    if (defaults.needsKey && apiKey === '') {
      disable('no API key', false);
      return;
    }

    // The lookup cache stays in this instance's SQLite store, also when the shared store is PostgreSQL: it only
    // saves provider quota, losing it costs a lookup again, and each instance keeps its own rate limiter anyway.
    const file = storeFile(settings().soar, settings().userDir);
    let cache: EnrichCache;
    try {
      cache = enrichCacheFor(acquireStoreDatabase(file, { synchronous: settings().soar?.sync }));
    } catch (err) {
      // acquire failed: nothing to release. Lookups without a cache would spend the quota: the provider is off.
      disable(`cannot open the cache in ${file}: ${(err as Error).message}`, true);
      return;
    }

    let limiter;
    try {
      limiter = limiterFor(node.id, {
        perMinute: numberOr(config.perMinute, defaults.perMinute),
        burst: Math.max(1, Math.floor(numberOr(config.burst, defaults.burst, 1))),
      });
    } catch (err) {
      releaseStoreDatabase(file);
      disable(`rate limit: ${(err as Error).message}`, true);
      return;
    }
    const baseUrl = typeof config.baseUrl === 'string' && config.baseUrl.trim() !== '' ? config.baseUrl.trim() : '';
    node.client = new EnrichClient<ProviderConfig>({
      provider,
      config: baseUrl ? { baseUrl } : {},
      apiKey,
      cache,
      limiter,
      timeoutMs: numberOr(config.timeoutSeconds, 10, 0.001) * 1000,
      retries: Math.floor(numberOr(config.retries, 3)),
    });
    node.enabled = true;
    node.reason = undefined;

    const purge = setInterval(() => {
      try {
        cache.purgeExpired();
      } catch (err) {
        node.debug(`cache purge: ${(err as Error).message}`);
      }
    }, PURGE_INTERVAL_MS);
    purge.unref();

    node.on('close', (removed: boolean, done: () => void) => {
      clearInterval(purge);
      node.enabled = false;
      node.client = undefined;
      // A redeploy keeps the limiter (and its spent tokens); a removed or disabled provider lets waiting lookups go.
      if (removed) forgetLimiter(node.id);
      releaseStoreDatabase(file);
      done();
    });
  }

  RED.nodes.registerType<EnrichProviderNode, ProviderNodeDef, object, ProviderCredentials>(
    'soar-enrich-provider',
    SoarEnrichProvider,
    { credentials: { apiKey: { type: 'password' } } },
  );
};
