/**
 * Where `soar-respond` takes its targets from: the message (`msg.target`), a fixed target, or the IOC artifacts of
 * the message's case (those at or above a verdict), turned into action targets by their type.
 */
import ipaddr from 'ipaddr.js';
import type { Artifact } from '../cases/model';
import type { ActionTarget, Capability } from '../devices/model';

/** At most this many targets from one case per message (the blast-radius limits apply on top). */
export const MAX_CASE_TARGETS = 50;

const VERDICT_RANK: Record<string, number> = { malicious: 2, suspicious: 1 };

const KIND_OF: Record<string, ActionTarget['kind'] | undefined> = {
  ipv4: 'ip',
  ipv6: 'ip',
  cidr: 'ip',
  domain: 'domain',
  url: 'url',
  hostname: 'host',
  md5: 'file',
  sha1: 'file',
  sha256: 'file',
  file: 'file',
};

/**
 * A target from `msg.target`: `{kind, value, tags?, host?}`, or a bare string (an IP is `ip`, an absolute URL
 * `url`, else `host`).
 */
export function targetFromMessage(input: unknown): ActionTarget {
  if (typeof input === 'string') {
    const value = input.trim();
    const isIp = ipaddr.isValid(value) || (value.includes('/') && ipaddr.isValidCIDR(value));
    if (!isIp && /^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return { kind: 'url', value };
    return { kind: isIp ? 'ip' : 'host', value };
  }
  return input as ActionTarget;
}

/**
 * The target kinds each action can aim at (an IP cannot be sinkholed, a domain cannot be blocked as an IP, a URL
 * artifact goes to `block-url`).
 */
const KINDS_FOR: Record<Capability, readonly ActionTarget['kind'][]> = {
  'block-ip': ['ip'],
  'unblock-ip': ['ip'],
  'isolate-host': ['host', 'ip'],
  'release-host': ['host', 'ip'],
  'quarantine-file': ['file'],
  'release-file': ['file'],
  'sinkhole-domain': ['domain'],
  'unsinkhole-domain': ['domain'],
  'block-url': ['url'],
  'unblock-url': ['url'],
  'collect-host-context': ['host', 'ip'],
};

/**
 * The case's IOC artifacts at or above `minVerdict` that `action` can aim at, in artifact order. `host` (the
 * alert's host) goes with file targets, so a quarantine finds the device that manages that host.
 */
export function targetsFromArtifacts(
  artifacts: readonly Artifact[],
  action: Capability,
  minVerdict: 'malicious' | 'suspicious',
  host?: string,
): ActionTarget[] {
  const kinds = KINDS_FOR[action];
  const min = VERDICT_RANK[minVerdict];
  const out: ActionTarget[] = [];
  for (const a of artifacts) {
    if (!a.ioc || (VERDICT_RANK[a.verdict ?? ''] ?? 0) < min) continue;
    const kind = KIND_OF[a.type];
    if (kind === undefined || !kinds.includes(kind)) continue;
    const target: ActionTarget = { kind, value: a.value };
    if (kind === 'file' && host) target.host = host;
    out.push(target);
    if (out.length === MAX_CASE_TARGETS) break;
  }
  return out;
}
