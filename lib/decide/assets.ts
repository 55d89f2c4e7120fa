/**
 * Asset criticality from a list: one `pattern=score` a line, the pattern a host name glob (`*.corp.example`,
 * `db-1.corp.example`, `*` for any name) or an IPv4/IPv6 address or CIDR (`10.20.0.0/16`), the score 0–100. Blank
 * lines and lines starting with `#` are ignored. Patterns are matched against the alert's host name and IP and its
 * address and host-name observables (a case's artifacts when there is no alert); the most critical match wins (an
 * alert touching a crown jewel is about the crown jewel).
 */
import type { Alert } from '../alert/model';
import type { Case } from '../cases/model';
import { canonicalHostPattern, hostName, matchHostPattern, parseCidr, type Cidr } from '../devices/scope';
import { ipv6ToBigInt, parseIpv4 } from '../ioc/ranges';

export interface AssetEntry {
  /** The pattern as canonical text. */
  pattern: string;
  kind: 'cidr' | 'host';
  score: number;
  cidr?: Cidr;
}

export class AssetListError extends Error {}

/** Parses the list; throws an AssetListError naming the line. */
export function parseAssetList(text: string): AssetEntry[] {
  const entries: AssetEntry[] = [];
  const lines = String(text ?? '').split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const where = `asset list line ${i + 1} "${line}"`;
    const eq = line.lastIndexOf('=');
    if (eq < 0) throw new AssetListError(`${where}: write pattern=score (e.g. *.corp.example=80)`);
    const pattern = line.slice(0, eq).trim();
    const scoreText = line.slice(eq + 1).trim();
    const score = Number(scoreText);
    if (scoreText === '' || !Number.isFinite(score) || score < 0 || score > 100) {
      throw new AssetListError(`${where}: the score must be a number from 0 to 100`);
    }
    if (pattern === '') throw new AssetListError(`${where}: the pattern is empty`);
    if (/^[0-9.]+(\/\d+)?$/.test(pattern) || pattern.includes(':')) {
      try {
        const cidr = parseCidr(pattern);
        entries.push({ pattern: cidr.value, kind: 'cidr', score, cidr });
      } catch (err) {
        throw new AssetListError(`${where}: the address ${(err as Error).message}`);
      }
      return;
    }
    try {
      entries.push({ pattern: canonicalHostPattern(pattern), kind: 'host', score });
    } catch (err) {
      throw new AssetListError(`${where}: the host name pattern ${(err as Error).message}`);
    }
  });
  return entries;
}

/** Whether an address (any text) lies in a parsed CIDR. */
function inCidr(address: string, cidr: Cidr): boolean {
  let parsed: Cidr;
  try {
    parsed = parseCidr(address);
  } catch {
    return false;
  }
  if (parsed.family !== cidr.family) return false;
  if (cidr.family === 4) {
    const a = parseIpv4(parsed.network);
    const n = parseIpv4(cidr.network);
    const size = 2 ** (32 - cidr.prefix);
    return a >= n && a < n + size;
  }
  const shift = BigInt(128 - cidr.prefix);
  return ipv6ToBigInt(parsed.network) >> shift === ipv6ToBigInt(cidr.network) >> shift;
}

/** The host names and addresses the list is matched against. */
export function assetTargets(alert: Alert | undefined, c: Case | undefined): { names: string[]; addresses: string[] } {
  const names = new Set<string>();
  const addresses = new Set<string>();
  const add = (type: string, value: unknown) => {
    if (typeof value !== 'string' || value === '') return;
    if (type === 'ipv4' || type === 'ipv6') addresses.add(value);
    else if (type === 'hostname' || type === 'domain') names.add(hostName(value));
  };
  if (alert) {
    if (alert.host?.name) add('hostname', alert.host.name);
    if (alert.host?.ip) add(alert.host.ip.includes(':') ? 'ipv6' : 'ipv4', alert.host.ip);
    for (const o of Array.isArray(alert.observables) ? alert.observables : []) add(o?.type, o?.value);
  } else if (c) {
    for (const a of c.artifacts ?? []) add(a.type, a.value);
  }
  return { names: [...names], addresses: [...addresses] };
}

/** The most critical entry matching the alert (or case), with why; undefined when none matches. */
export function assetCriticality(
  entries: readonly AssetEntry[],
  alert: Alert | undefined,
  c: Case | undefined,
): { score: number; reason: string } | undefined {
  const { names, addresses } = assetTargets(alert, c);
  let best: { score: number; reason: string } | undefined;
  for (const e of entries) {
    if (best && e.score <= best.score) continue;
    const hit =
      e.kind === 'cidr'
        ? addresses.find((a) => inCidr(a, e.cidr as Cidr))
        : names.find((n) => matchHostPattern(e.pattern, n));
    if (hit !== undefined) best = { score: e.score, reason: `${hit} matches ${e.pattern}` };
  }
  return best;
}
