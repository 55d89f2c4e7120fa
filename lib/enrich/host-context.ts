/**
 * Host forensics through the device framework: the device whose scope covers an alert's host and that can
 * `collect-host-context` (an EDR) is asked what it knows, and its answer becomes an enrichment like a reputation
 * service's (`provider: "device:<name>"`, verdict `unknown`: context, not reputation; the device's data in `raw`).
 */
import type { DeviceFleet } from '../devices/fleet';
import type { ActionTarget } from '../devices/model';
import type { EnrichError, Enrichment } from './model';

export async function collectHostContext(
  fleet: DeviceFleet,
  host: { name?: string; ip?: string } | undefined,
  signal?: AbortSignal,
): Promise<{ enrichments: Enrichment[]; errors: EnrichError[] }> {
  const value = host?.name || host?.ip;
  if (!value) return { enrichments: [], errors: [] };
  const observable = {
    type: host?.name ? ('hostname' as const) : value.includes(':') ? ('ipv6' as const) : ('ipv4' as const),
    value,
  };
  const target: ActionTarget = { kind: 'host', value };
  const [chosen] = fleet.select('collect-host-context', target).devices;
  const device = chosen === undefined ? undefined : fleet.get(chosen.id);
  // No device manages this host: no context, which is not an error.
  if (!device) return { enrichments: [], errors: [] };
  const provider = `device:${device.name}`;
  try {
    const result = await device.adapter.execute('collect-host-context', target, { reason: 'enrichment', signal });
    return {
      enrichments: [
        {
          provider,
          observable,
          verdict: 'unknown',
          score: 0,
          reason: result.detail,
          at: new Date().toISOString(),
          raw: result.data ?? null,
        },
      ],
      errors: [],
    };
  } catch (err) {
    return { enrichments: [], errors: [{ provider, observable, error: (err as Error).message }] };
  }
}
