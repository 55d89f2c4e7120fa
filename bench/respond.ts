/**
 * bench/respond: device selection among 1,000 devices holding 10,000 scope entries in all (IPv4 and IPv6 CIDRs of
 * many prefixes, wildcard host patterns, exact host names, tags) over five capabilities, against a linear scan of
 * every entry (pre-parsed: numbers, BigInts, compiled RegExps) measured in the same run.
 * Target: `select` ≤ 20 µs median per call. Also: the build time (`setDevices`), both modes, per target kind.
 *
 * Method: targets are made by `JSON.parse` per batch (fresh strings, as from an arriving message), outside the timed
 * part; each batch of calls is timed with `process.hrtime.bigint()`, after one unmeasured warm-up pass; the figure is
 * the median of the batch means. The scan and the selector must agree on the chosen specificity for every target
 * (checked, reported in the notes).
 */
import { DeviceSelector, parseTargetIp, type SelectableDevice } from '../lib/devices/selection';
import { hostName, parseCidr, scopeSpecificity } from '../lib/devices/scope';
import type { ActionTarget, Capability, DeviceHealth } from '../lib/devices/model';
import { ipv4String, seeded } from '../test/lib/ioc/helpers';
import { median, gc, type Row } from './measure';

const SEED = 20260315;
const DEVICES = 1000;
const ENTRIES_PER_DEVICE = 10;
const TARGETS = 10_000;
const BATCH = 1000;
const BATCHES = 200;
const SCAN_BATCH = 100;
const SCAN_BATCHES = 40;
const BUILD_REPS = 5;
const TARGET_US = 20;

const CAPS: Capability[] = ['block-ip', 'isolate-host', 'quarantine-file', 'sinkhole-domain', 'collect-host-context'];
const LABELS = ['web', 'db', 'mail', 'app', 'api', 'vpn', 'dc', 'pos', 'k8s', 'build', 'ws', 'print'];
const ZONES = Array.from({ length: 50 }, (_, k) => (k % 2 === 0 ? `site${k}.corp.example` : `dc${k}.example.net`));
const TAGS = Array.from({ length: 200 }, (_, k) => `tag-${k}`);
type Kind = 'ipv4 in scope' | 'ipv4 anywhere' | 'ipv6' | 'host name' | 'domain' | 'file on host';

/** The devices: seeded, ten distinct scope entries each, 1–3 capabilities, mostly healthy (exported for profiling). */
export function makeDevices(): SelectableDevice[] {
  const rnd = seeded(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const u32 = () => Math.floor(rnd() * 2 ** 32);
  const hex = () => Math.floor(rnd() * 65536).toString(16);
  const devices: SelectableDevice[] = [];
  for (let i = 0; i < DEVICES; i++) {
    const cidrs = new Set<string>();
    const hosts = new Set<string>();
    const tags = new Set<string>();
    while (cidrs.size + hosts.size + tags.size < ENTRIES_PER_DEVICE) {
      const r = rnd();
      if (r < 0.4) {
        const prefix = pick([8, 12, 16, 20, 22, 24, 24, 26, 28, 30, 32, 32]);
        // Mostly inside 10.0.0.0/8 (nesting, overlapping), some anywhere.
        const n = rnd() < 0.8 ? 0x0a000000 + (u32() & 0xffffff) : u32();
        const net = prefix === 32 ? n : n - (n % 2 ** (32 - prefix));
        cidrs.add(prefix === 32 ? ipv4String(net) : `${ipv4String(net >>> 0)}/${prefix}`);
      } else if (r < 0.55) {
        const prefix = pick([32, 40, 48, 56, 64, 128]);
        const groups = [0x2001, 0xdb8, Math.floor(rnd() * 16), Math.floor(rnd() * 256), Math.floor(rnd() * 65536)];
        const text = `${groups.map((g) => g.toString(16)).join(':')}::${prefix === 128 ? hex() : ''}`;
        // Clear host bits through the canonicaliser's own parse: take the address, then mask by prefix.
        const parsed = parseTargetIp(`${text}/${prefix}`);
        if (parsed === null || parsed.family !== 6) continue;
        const hexs = parsed.start.toString(16).padStart(32, '0');
        const addr = (hexs.match(/.{4}/g) as string[]).join(':');
        cidrs.add(parseCidr(`${addr}/${prefix}`).value);
      } else if (r < 0.75) {
        const zone = pick(ZONES);
        const label = pick(LABELS);
        hosts.add(pick([`*.${zone}`, `${label}-*.${zone}`, `${label}-*`, `*-${label}.${zone}`, `${label}-1*.${zone}`]));
      } else if (r < 0.92) {
        hosts.add(`${pick(LABELS)}-${Math.floor(rnd() * 40)}.${pick(ZONES)}`);
      } else {
        tags.add(pick(TAGS));
      }
    }
    const capabilities = CAPS.filter(() => rnd() < 0.4);
    if (capabilities.length === 0) capabilities.push(pick(CAPS));
    const h = rnd();
    const at = '2026-03-15T00:00:00.000Z';
    const health: DeviceHealth | undefined =
      h < 0.85
        ? { status: 'ok', checkedAt: at }
        : h < 0.91
          ? { status: 'degraded', checkedAt: at, reason: 'slow' }
          : h < 0.95
            ? { status: 'down', checkedAt: at, reason: 'timeout' }
            : undefined;
    devices.push({
      id: `dev-${i}`,
      name: `device-${String(i).padStart(4, '0')}`,
      capabilities,
      scope: { cidrs: [...cidrs], hosts: [...hosts], tags: [...tags] },
      health,
    });
  }
  return devices;
}

interface Query {
  kind: Kind;
  action: Capability;
  target: ActionTarget;
}

/** The targets: IPs inside scopes and anywhere, IPv6, host names, domains, files on hosts; a fifth carry tags. */
function makeQueries(devices: SelectableDevice[]): Query[] {
  const rnd = seeded(SEED + 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const v4Scopes = devices.flatMap((d) => d.scope.cidrs).filter((c) => !c.includes(':'));
  const name = () => `${pick(LABELS)}-${Math.floor(rnd() * 60)}.${pick(ZONES)}`;
  const out: Query[] = [];
  for (let i = 0; i < TARGETS; i++) {
    const r = rnd();
    const tags = rnd() < 0.2 ? [pick(TAGS)] : undefined;
    let q: Query;
    if (r < 0.4) {
      const c = parseCidr(pick(v4Scopes));
      const base = c.network.split('.').reduce((x, o) => x * 256 + Number(o), 0);
      const value = ipv4String(base + Math.floor(rnd() * 2 ** (32 - c.prefix)));
      q = { kind: 'ipv4 in scope', action: 'block-ip', target: { kind: 'ip', value } };
    } else if (r < 0.55) {
      q = {
        kind: 'ipv4 anywhere',
        action: 'block-ip',
        target: { kind: 'ip', value: ipv4String(Math.floor(rnd() * 2 ** 32)) },
      };
    } else if (r < 0.65) {
      const value = `2001:db8:${Math.floor(rnd() * 16).toString(16)}:${Math.floor(rnd() * 256).toString(16)}::${Math.floor(rnd() * 65536).toString(16)}`;
      q = { kind: 'ipv6', action: 'block-ip', target: { kind: 'ip', value } };
    } else if (r < 0.88) {
      q = { kind: 'host name', action: 'isolate-host', target: { kind: 'host', value: name() } };
    } else if (r < 0.94) {
      q = { kind: 'domain', action: 'sinkhole-domain', target: { kind: 'domain', value: `login.${name()}` } };
    } else {
      const host = rnd() < 0.8 ? name() : `10.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.7`;
      const value = Math.floor(rnd() * 2 ** 32)
        .toString(16)
        .padStart(8, '0')
        .repeat(8);
      q = { kind: 'file on host', action: 'quarantine-file', target: { kind: 'file', value, host } };
    }
    if (tags) q.target.tags = tags;
    out.push(q);
  }
  return out;
}

/**
 * The baseline: every entry of every device, pre-parsed once (IPv4 ranges as numbers, IPv6 as BigInts, wildcard
 * patterns as RegExps), scanned per call, choosing the same way as the selector's most-specific mode.
 */
class LinearScan {
  private readonly devices: {
    id: string;
    name: string;
    caps: Set<Capability>;
    rank: number;
    v4: { lo: number; hi: number; spec: number }[];
    v6: { lo: bigint; hi: bigint; spec: number }[];
    hosts: { re: RegExp | null; exact: string; spec: number }[];
    tags: string[];
  }[];

  constructor(input: SelectableDevice[]) {
    this.devices = input.map((d) => {
      const v4: { lo: number; hi: number; spec: number }[] = [];
      const v6: { lo: bigint; hi: bigint; spec: number }[] = [];
      for (const c of d.scope.cidrs) {
        const key = parseTargetIp(c);
        if (key === null) continue;
        const spec = scopeSpecificity({ kind: 'cidr', value: c });
        if (key.family === 4) v4.push({ lo: key.start, hi: key.start + 2 ** (32 - key.prefix) - 1, spec });
        else v6.push({ lo: key.start, hi: key.start + (1n << BigInt(128 - key.prefix)) - 1n, spec });
      }
      const hosts = d.scope.hosts.map((h) => ({
        re: h.includes('*') ? new RegExp(`^${h.replace(/[.-]/g, '\\$&').replace(/\*/g, '.*')}$`) : null,
        exact: h,
        spec: scopeSpecificity({ kind: 'host', value: h }),
      }));
      const rank = d.health === undefined ? 1 : d.health.status === 'ok' ? 0 : d.health.status === 'degraded' ? 2 : 3;
      return { id: d.id, name: d.name, caps: new Set(d.capabilities), rank, v4, v6, hosts, tags: d.scope.tags };
    });
  }

  /** The chosen device's id and specificity (most-specific mode), or null. */
  select(action: Capability, target: ActionTarget): { id: string; spec: number } | null {
    const ipText = target.kind === 'ip' ? target.value : target.host;
    const ip = ipText === undefined ? null : parseTargetIp(ipText);
    const nameText = target.kind === 'host' || target.kind === 'domain' ? target.value : target.host;
    const name = ip === null && nameText !== undefined ? hostName(nameText) : '';
    let best: (typeof this.devices)[number] | null = null;
    let bestSpec = -Infinity;
    for (const d of this.devices) {
      if (!d.caps.has(action) || d.rank === 3) continue;
      let spec = -Infinity;
      if (ip !== null) {
        if (ip.family === 4) {
          const hi = ip.start + 2 ** (32 - ip.prefix) - 1;
          for (const c of d.v4) if (c.lo <= ip.start && hi <= c.hi && c.spec > spec) spec = c.spec;
        } else {
          const hi = ip.start + (1n << BigInt(128 - ip.prefix)) - 1n;
          for (const c of d.v6) if (c.lo <= ip.start && hi <= c.hi && c.spec > spec) spec = c.spec;
        }
      }
      if (name !== '') {
        for (const h of d.hosts) {
          if (h.spec > spec && (h.re === null ? h.exact === name : h.re.test(name))) spec = h.spec;
        }
      }
      if (target.tags && spec < -1) {
        for (const t of target.tags) if (d.tags.includes(t)) spec = -1;
      }
      if (spec === -Infinity) continue;
      if (
        best === null ||
        spec > bestSpec ||
        (spec === bestSpec && (d.rank - best.rank || (d.name < best.name ? -1 : d.name > best.name ? 1 : 0)) < 0)
      ) {
        best = d;
        bestSpec = spec;
      }
    }
    return best === null ? null : { id: best.id, spec: bestSpec };
  }
}

/** Median per-call µs over `batches` batches of `size` calls of `call` on fresh copies of `queries`. */
function timeBatches(queries: Query[], size: number, batches: number, call: (q: Query) => unknown): number[] {
  const chunks: string[] = [];
  for (let i = 0; i + size <= queries.length; i += size) chunks.push(JSON.stringify(queries.slice(i, i + size)));
  if (chunks.length === 0) chunks.push(JSON.stringify(queries));
  let sink = 0;
  const means: number[] = [];
  for (let b = -1; b < batches; b++) {
    const batch = JSON.parse(chunks[(b + chunks.length) % chunks.length]) as Query[];
    if (b % 50 === 0) gc();
    const t0 = process.hrtime.bigint();
    for (const q of batch) if (call(q)) sink++;
    const t1 = process.hrtime.bigint();
    if (b >= 0) means.push(Number(t1 - t0) / 1000 / batch.length);
  }
  if (sink < 0) console.log(sink);
  return means;
}

const us = (x: number): string => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} µs`;

export async function benchRespond(): Promise<Row[]> {
  const rows: Row[] = [];
  const devices = makeDevices();
  const queries = makeQueries(devices);
  const count = (f: (c: string) => boolean, list: 'cidrs' | 'hosts' | 'tags') =>
    devices.reduce((n, d) => n + d.scope[list].filter(f).length, 0);
  const all = () => true;
  const v4 = count((c) => !c.includes(':'), 'cidrs');
  const v6 = count((c) => c.includes(':'), 'cidrs');
  const wild = count((h) => h.includes('*'), 'hosts');
  const exact = count((h) => !h.includes('*'), 'hosts');
  const tags = count(all, 'tags');
  const entries = v4 + v6 + wild + exact + tags;

  // Build.
  const selector = new DeviceSelector();
  const builds: number[] = [];
  for (let r = 0; r < BUILD_REPS; r++) {
    gc();
    const t0 = process.hrtime.bigint();
    selector.setDevices(devices);
    builds.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  rows.push({
    case: `build: ${DEVICES} devices, ${entries} scope entries, ${CAPS.length} capabilities`,
    value: `${median(builds).toFixed(1)} ms median`,
    note: `${v4} IPv4 + ${v6} IPv6 CIDRs, ${wild} wildcard + ${exact} exact hosts, ${tags} tags; ${BUILD_REPS} builds`,
  });

  // Agreement with the scan, and how many targets a device covers.
  const scan = new LinearScan(devices);
  let agree = 0;
  let chosen = 0;
  for (const q of queries) {
    const s = selector.select(q.action, q.target);
    const b = scan.select(q.action, q.target);
    const a = s.devices[0];
    if ((a === undefined && b === null) || (a !== undefined && b !== null && a.id === b.id && a.specificity === b.spec))
      agree++;
    if (a !== undefined) chosen++;
  }
  const agreement = `selector = scan on ${agree}/${queries.length} targets; ${((100 * chosen) / queries.length).toFixed(0)} % get a device`;

  // Most-specific, mixed targets: the target figure.
  const mixed = timeBatches(queries, BATCH, BATCHES, (q) => selector.select(q.action, q.target).devices.length);
  const m = median(mixed);
  rows.push({
    case: `select most-specific, mixed fresh targets (target ≤ ${TARGET_US} µs median)`,
    value: `${us(m)} median`,
    note: `${m <= TARGET_US ? 'met' : 'NOT met'}; batches ${us(Math.min(...mixed))}–${us(Math.max(...mixed))}; ${agreement}`,
  });
  const global = timeBatches(
    queries,
    BATCH,
    BATCHES,
    (q) => selector.select(q.action, q.target, 'global').devices.length,
  );
  const gm = median(global);
  let globalDevices = 0;
  for (const q of queries) globalDevices += selector.select(q.action, q.target, 'global').devices.length;
  rows.push({
    case: 'select global, mixed fresh targets',
    value: `${us(gm)} median`,
    note: `no target; ${(globalDevices / queries.length).toFixed(1)} devices per target on average`,
  });

  // Per kind.
  const kinds: Kind[] = ['ipv4 in scope', 'ipv4 anywhere', 'ipv6', 'host name', 'domain', 'file on host'];
  for (const kind of kinds) {
    const list = queries.filter((q) => q.kind === kind);
    const t = median(timeBatches(list, Math.min(BATCH, list.length), 50, (q) => selector.select(q.action, q.target)));
    const covered = list.filter((q) => selector.select(q.action, q.target).devices.length > 0).length;
    rows.push({
      case: `  most-specific: ${kind} (${list.length} targets)`,
      value: `${us(t)} median`,
      note: `${((100 * covered) / list.length).toFixed(0)} % get a device`,
    });
  }

  // Baseline: the linear scan.
  const base = median(timeBatches(queries, SCAN_BATCH, SCAN_BATCHES, (q) => scan.select(q.action, q.target)));
  rows.push({
    case: `baseline: linear scan of ${entries} pre-parsed entries, mixed targets`,
    value: `${us(base)} median`,
    note: `selector ${(base / m).toFixed(0)}× faster`,
  });
  return rows;
}
