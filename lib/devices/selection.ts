/**
 * Device selection: which configured device(s) an action goes to. A device is a candidate when it has the capability,
 * its scope covers the target (see `scope.ts` for the scope rules and specificity), and it is not down.
 *
 * What covers what:
 * - `ip` target (an address or a CIDR): the scope CIDRs of its family that contain all of it (a CIDR target
 *   `10.1.0.0/16` is covered by `10.0.0.0/8` and `10.1.0.0/16`, not by `10.1.2.0/24`). An IPv4-mapped IPv6 address
 *   (`::ffff:10.1.2.3`) is the IPv4 address; `::/0` does not cover IPv4 and `0.0.0.0/0` does not cover IPv6.
 * - `host` target: the value and `target.host`; a host name is matched against host patterns, an IP address against
 *   CIDRs (so `isolate-host` of `10.1.2.3` goes by the network).
 * - `domain` target: the value against host patterns.
 * - `file` target: only through `target.host` (name or IP, as above); a file with neither host nor tags is in no
 *   scope.
 * - every kind: `target.tags` against scope tags (case-insensitive).
 * A device matching through several entries counts with its most specific one.
 *
 * Health: `down` devices are never selected (they are listed in `skipped` with the reason); `degraded` devices are
 * usable but rank after healthy ones; a device not checked yet (no health) is `unknown`: usable, ranked after `ok`
 * and before `degraded` (at start-up every device is unknown, and refusing them all would block every response).
 *
 * Modes:
 * - `most-specific`: the one usable device with the highest specificity; on a tie, the healthiest (ok, unknown,
 *   degraded), then by name, then by id — one device, so an action is not done twice by accident (use `global` for
 *   that). `skipped` lists the down devices that would otherwise have been chosen or tied (specificity ≥ the chosen
 *   one's); all covering down devices when nothing usable remains.
 * - `global`: every usable device covering the target (the seed's NDR global blocking), ok before unknown before
 *   degraded, then by specificity (highest first), name and id; `skipped` lists every covering down device.
 * When no device is selected, `reason` says why: no device has the capability; none of the capable ones covers the
 * target; every covering one is down; or the target is not what its kind needs (an `ip` target that is no address).
 *
 * Lookups go through structures precompiled per capability when the devices are set: the CIDRs of each address
 * family flattened into sorted disjoint ranges (`CidrTable`, longest prefix first, walking up to shorter ones through
 * parents), exact host names and tags in Maps, and wildcard patterns bucketed by the part of their last literal
 * suffix from its first dot (`web-*.corp.example` under `.corp.example`), so a name looks up only the buckets of its
 * own dotted suffixes (plus the dot-less bucket) and tests only the patterns there. In most-specific mode a lookup
 * passes over entries less specific than a usable device already found (the CIDR walk stops there). Health lives
 * beside the indexes: `setHealth` changes no structure; `setDevices` rebuilds them all (about 50 ms for 1,000
 * devices with 10,000 entries).
 */
import { CidrTable, ipv6ToBigInt, parseIpv4, type CidrInput } from '../ioc/ranges';
import ipaddr from 'ipaddr.js';
import type { ActionTarget, Capability, DeviceHealth, DeviceScope, HealthStatus } from './model';
import {
  EXACT_HOST_BONUS,
  TAG_SPECIFICITY,
  cidrSpecificity,
  hostName,
  hostSpecificity,
  matchParts,
  validateScope,
  type ScopeEntry,
} from './scope';

/** A device as the selector sees it. */
export interface SelectableDevice {
  id: string;
  name: string;
  capabilities: Capability[];
  scope: DeviceScope;
  health?: DeviceHealth;
}

export type SelectMode = 'most-specific' | 'global';

export interface SelectedDevice {
  id: string;
  name: string;
  /** The (most specific) scope entry that covers the target. */
  scopeEntry: ScopeEntry;
  specificity: number;
  /** `unknown` when the device has not been checked yet. */
  health: HealthStatus | 'unknown';
}

export interface SkippedDevice {
  id: string;
  name: string;
  /** `down`, or `down: <the health check's reason>`. */
  reason: string;
}

export interface Selection {
  devices: SelectedDevice[];
  skipped: SkippedDevice[];
  /** Why no device was selected (only when `devices` is empty). */
  reason?: string;
}

/** Rank of a health state: lower is healthier; `down` is not usable. */
const OK = 0;
const UNKNOWN = 1;
const DEGRADED = 2;
const DOWN = 3;
const HEALTH_NAMES: (HealthStatus | 'unknown')[] = ['ok', 'unknown', 'degraded', 'down'];

function healthRank(health: DeviceHealth | undefined): number {
  if (health === undefined) return UNKNOWN;
  return health.status === 'ok' ? OK : health.status === 'degraded' ? DEGRADED : DOWN;
}

/** One distinct scope entry and the devices (indexes) that have it. */
interface Entry {
  kind: ScopeEntry['kind'];
  value: string;
  specificity: number;
  devices: number[];
  /** Host patterns: the pattern split on `*`. */
  parts?: string[];
}

/** The lookup structures of one capability. */
interface CapabilityIndex {
  /** Indexes of the capable devices. */
  capable: number[];
  v4: CidrTable<Entry> | null;
  v6: CidrTable<Entry> | null;
  exact: Map<string, Entry>;
  /** Wildcard patterns by the dotted tail of their last literal part (see the module comment). */
  wild: Map<string, Entry[]>;
  /** Wildcard patterns whose last literal part has no dot (`web-*`, `*`): tested against every name. */
  wildAny: Entry[];
  tags: Map<string, Entry>;
}

/** A parsed IP target. */
export type IpKey = { family: 4; start: number; prefix: number } | { family: 6; start: bigint; prefix: number };

/** Parses an address or CIDR target (host bits of a CIDR ignored); null when it is neither. */
export function parseTargetIp(text: string): IpKey | null {
  const s = text.trim();
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  let prefix = -1;
  if (slash >= 0) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
  }
  const n = parseIpv4(address);
  if (n >= 0) {
    if (prefix > 32) return null;
    if (prefix < 0) return { family: 4, start: n, prefix: 32 };
    return { family: 4, start: n - (n % 2 ** (32 - prefix)), prefix };
  }
  if (address.includes('%') || !address.includes(':')) return null;
  let parsed: ipaddr.IPv6;
  try {
    parsed = ipaddr.IPv6.parse(address);
  } catch {
    return null;
  }
  if (prefix > 128) return null;
  if (prefix < 0) prefix = 128;
  if (prefix >= 96 && parsed.isIPv4MappedAddress()) {
    const p = parsed.parts;
    const v4 = p[6] * 65536 + p[7];
    const p4 = prefix - 96;
    return { family: 4, start: v4 - (v4 % 2 ** (32 - p4)), prefix: p4 };
  }
  let big = 0n;
  for (const part of parsed.parts) big = (big << 16n) | BigInt(part);
  if (prefix < 128) big &= ~((1n << BigInt(128 - prefix)) - 1n);
  return { family: 6, start: big, prefix };
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

function describe(target: ActionTarget): string {
  let text = target.kind === 'file' && target.host ? `${target.value} on ${target.host}` : target.value;
  if (target.kind === 'file' && !target.host) text = `file ${target.value}`;
  if (target.tags && target.tags.length > 0) text += ` (tags ${target.tags.join(', ')})`;
  return text;
}

/**
 * Picks devices for actions. Build it with the configured devices (`setDevices` again when they change; scopes are
 * validated and canonicalised, a bad one throws naming the device) and keep health current with `setHealth`.
 */
export class DeviceSelector {
  private ids: string[] = [];
  private names: string[] = [];
  private health: (DeviceHealth | undefined)[] = [];
  private ranks = new Uint8Array(0);
  private byId = new Map<string, number>();
  private indexes = new Map<Capability, CapabilityIndex>();
  // Per-call scratch, reused: the best entry found per device in this call (valid where stamp === call).
  private stamp = new Uint32Array(0);
  private bestSpec = new Float64Array(0);
  private bestEntry: (Entry | undefined)[] = [];
  private touched: number[] = [];
  private call = 0;
  /**
   * Most-specific mode: the highest specificity of a usable device found so far in this call; entries less specific
   * cannot change the choice (nor the skipped list, which only holds down devices at least as specific), so the
   * lookups pass over them. -Infinity in global mode.
   */
  private floor = -Infinity;
  private prune = false;

  constructor(devices: readonly SelectableDevice[] = []) {
    this.setDevices(devices);
  }

  /** The number of devices. */
  get size(): number {
    return this.ids.length;
  }

  /** Replaces the devices and rebuilds the indexes. Throws (changing nothing) on a duplicate id or a bad scope. */
  setDevices(devices: readonly SelectableDevice[]): void {
    const byId = new Map<string, number>();
    const scopes: CompiledScope[] = [];
    devices.forEach((d, i) => {
      if (byId.has(d.id)) throw new Error(`device id "${d.id}" appears twice`);
      byId.set(d.id, i);
      try {
        scopes.push(compileScope(validateScope(d.scope)));
      } catch (err) {
        throw new Error(`device "${d.name}" (${d.id}): ${(err as Error).message}`, { cause: err });
      }
    });
    const indexes = new Map<Capability, CapabilityIndex>();
    const capable = new Map<Capability, number[]>();
    devices.forEach((d, i) => {
      for (const c of new Set(d.capabilities)) {
        let list = capable.get(c);
        if (!list) capable.set(c, (list = []));
        list.push(i);
      }
    });
    for (const [capability, list] of capable) indexes.set(capability, buildIndex(list, scopes));
    const n = devices.length;
    this.ids = devices.map((d) => d.id);
    this.names = devices.map((d) => d.name);
    this.health = devices.map((d) => d.health);
    this.ranks = Uint8Array.from(devices, (d) => healthRank(d.health));
    this.byId = byId;
    this.indexes = indexes;
    this.stamp = new Uint32Array(n);
    this.bestSpec = new Float64Array(n);
    this.bestEntry = new Array<Entry | undefined>(n).fill(undefined);
    this.call = 0;
  }

  /** Records a device's health (undefined: unknown again). False when no device has that id. */
  setHealth(id: string, health: DeviceHealth | undefined): boolean {
    const i = this.byId.get(id);
    if (i === undefined) return false;
    this.health[i] = health;
    this.ranks[i] = healthRank(health);
    return true;
  }

  /** The devices to carry out `action` on `target` (see the module comment for the rules). */
  select(action: Capability, target: ActionTarget, mode: SelectMode = 'most-specific'): Selection {
    if (mode !== 'most-specific' && mode !== 'global') {
      throw new TypeError(`unknown selection mode ${JSON.stringify(mode)} (most-specific or global)`);
    }
    const index = this.indexes.get(action);
    if (index === undefined) return { devices: [], skipped: [], reason: `no device can ${action}` };
    // Targets come from messages: a wrong shape is an outcome with a reason, not a crash.
    if (typeof target !== 'object' || target === null || typeof target.value !== 'string') {
      return { devices: [], skipped: [], reason: `${action} target must have a string value` };
    }
    if (++this.call === 0xffffffff) {
      this.stamp.fill(0);
      this.call = 1;
    }
    this.touched.length = 0;
    this.floor = -Infinity;
    this.prune = mode === 'most-specific';

    switch (target.kind) {
      case 'ip': {
        const key = parseTargetIp(target.value);
        if (key === null) {
          return {
            devices: [],
            skipped: [],
            reason: `${action} target ${JSON.stringify(target.value)} is not an IP address or CIDR`,
          };
        }
        this.coverIp(index, key);
        break;
      }
      case 'host':
        this.coverName(index, target.value);
        if (typeof target.host === 'string' && target.host !== target.value) this.coverName(index, target.host);
        break;
      case 'domain': {
        const name = hostName(target.value);
        if (name !== '') this.coverHost(index, name);
        break;
      }
      case 'file':
        if (typeof target.host === 'string') this.coverName(index, target.host);
        break;
      default:
        return {
          devices: [],
          skipped: [],
          reason: `unknown target kind ${JSON.stringify((target as { kind: unknown }).kind)} (ip, host, domain or file)`,
        };
    }
    if (Array.isArray(target.tags) && TAG_SPECIFICITY >= this.floor) {
      for (const tag of target.tags) {
        if (typeof tag !== 'string') continue;
        const entry = index.tags.get(tag.trim().toLowerCase());
        if (entry !== undefined) this.offer(entry);
      }
    }
    return this.result(action, target, mode, index);
  }

  /** Matches a host name or (when it parses as one) an IP address. */
  private coverName(index: CapabilityIndex, text: string): void {
    const key = parseTargetIp(text);
    if (key !== null) {
      this.coverIp(index, key);
      return;
    }
    const name = hostName(text);
    if (name !== '') this.coverHost(index, name);
  }

  private coverIp(index: CapabilityIndex, key: IpKey): void {
    let table: CidrTable<Entry> | null;
    let i: number;
    if (key.family === 4) {
      table = index.v4;
      if (table === null) return;
      i = table.find4(key.start);
    } else {
      table = index.v6;
      if (table === null) return;
      i = table.find6(key.start);
    }
    const { prefixes, parents, entries } = table;
    while (i >= 0 && prefixes[i] > key.prefix) i = parents[i];
    // Longest first: each device's first offer is its best CIDR, and specificity only falls from there.
    for (; i >= 0 && entries[i].specificity >= this.floor; i = parents[i]) this.offer(entries[i]);
  }

  private coverHost(index: CapabilityIndex, name: string): void {
    const exact = index.exact.get(name);
    if (exact !== undefined) this.offer(exact);
    for (const entry of index.wildAny) {
      if (entry.specificity >= this.floor && matchParts(entry.parts as string[], name)) this.offer(entry);
    }
    if (index.wild.size === 0) return;
    for (let dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      const bucket = index.wild.get(name.slice(dot));
      if (bucket === undefined) continue;
      for (const entry of bucket) {
        if (entry.specificity >= this.floor && matchParts(entry.parts as string[], name)) this.offer(entry);
      }
    }
  }

  /** Notes that `entry` covers the target for its devices, keeping each device's most specific entry. */
  private offer(entry: Entry): void {
    const call = this.call;
    const spec = entry.specificity;
    if (spec < this.floor) return;
    const ranks = this.ranks;
    for (const d of entry.devices) {
      if (this.prune && spec > this.floor && ranks[d] !== DOWN) this.floor = spec;
      if (this.stamp[d] !== call) {
        this.stamp[d] = call;
        this.bestSpec[d] = spec;
        this.bestEntry[d] = entry;
        this.touched.push(d);
      } else if (spec > this.bestSpec[d]) {
        this.bestSpec[d] = spec;
        this.bestEntry[d] = entry;
      }
    }
  }

  private selected(d: number): SelectedDevice {
    const entry = this.bestEntry[d] as Entry;
    return {
      id: this.ids[d],
      name: this.names[d],
      scopeEntry: { kind: entry.kind, value: entry.value },
      specificity: this.bestSpec[d],
      health: HEALTH_NAMES[this.ranks[d]],
    };
  }

  private skip(d: number): SkippedDevice {
    const why = this.health[d]?.reason;
    return { id: this.ids[d], name: this.names[d], reason: why ? `down: ${why}` : 'down' };
  }

  /** Ties within equal rank: by name, then id. */
  private byName = (a: number, b: number): number =>
    this.names[a] < this.names[b] ? -1 : this.names[a] > this.names[b] ? 1 : this.ids[a] < this.ids[b] ? -1 : 1;

  private result(action: Capability, target: ActionTarget, mode: SelectMode, index: CapabilityIndex): Selection {
    const touched = this.touched;
    const ranks = this.ranks;
    const spec = this.bestSpec;
    if (touched.length === 0) {
      const hint = target.kind === 'file' && !target.host && !target.tags?.length ? '; it names no host or tags' : '';
      return {
        devices: [],
        skipped: [],
        reason: `no device's scope covers ${describe(target)} (${plural(index.capable.length, 'device', 'devices')} can ${action}${hint})`,
      };
    }
    const down: number[] = [];
    const usable: number[] = [];
    for (const d of touched) (ranks[d] === DOWN ? down : usable).push(d);
    down.sort((a, b) => spec[b] - spec[a] || this.byName(a, b));
    if (usable.length === 0) {
      const skipped = down.map((d) => this.skip(d));
      const list = skipped.map((s) => (s.reason === 'down' ? s.name : `${s.name}: ${s.reason.slice(6)}`)).join('; ');
      return {
        devices: [],
        skipped,
        reason: `every device covering ${describe(target)} that can ${action} is down (${list})`,
      };
    }
    if (mode === 'global') {
      usable.sort((a, b) => ranks[a] - ranks[b] || spec[b] - spec[a] || this.byName(a, b));
      return { devices: usable.map((d) => this.selected(d)), skipped: down.map((d) => this.skip(d)) };
    }
    let best = usable[0];
    for (let k = 1; k < usable.length; k++) {
      const d = usable[k];
      if (spec[d] > spec[best] || (spec[d] === spec[best] && (ranks[d] - ranks[best] || this.byName(d, best)) < 0)) {
        best = d;
      }
    }
    const floor = spec[best];
    const skipped: SkippedDevice[] = [];
    for (const d of down) if (spec[d] >= floor) skipped.push(this.skip(d));
    return { devices: [this.selected(best)], skipped };
  }
}

/** One device's scope, parsed once for all its capabilities' indexes. */
interface CompiledScope {
  cidrs: { family: 4 | 6; start: number | bigint; prefix: number; value: string }[];
  hosts: string[];
  tags: string[];
}

/** Parses a canonical scope (as from `validateScope`) into numbers. */
function compileScope(scope: DeviceScope): CompiledScope {
  const cidrs = scope.cidrs.map((value) => {
    const slash = value.indexOf('/');
    const address = slash < 0 ? value : value.slice(0, slash);
    const v4 = parseIpv4(address);
    if (v4 >= 0)
      return { family: 4 as const, start: v4, prefix: slash < 0 ? 32 : Number(value.slice(slash + 1)), value };
    return {
      family: 6 as const,
      start: ipv6ToBigInt(address),
      prefix: slash < 0 ? 128 : Number(value.slice(slash + 1)),
      value,
    };
  });
  return { cidrs, hosts: scope.hosts, tags: scope.tags };
}

/** Builds the lookup structures for the devices `capable` (indexes into `scopes`). */
function buildIndex(capable: number[], scopes: readonly CompiledScope[]): CapabilityIndex {
  const v4 = new Map<string, CidrInput<Entry>>();
  const v6 = new Map<string, CidrInput<Entry>>();
  const exact = new Map<string, Entry>();
  const patterns = new Map<string, Entry>();
  const tags = new Map<string, Entry>();
  const add = (map: Map<string, Entry>, kind: Entry['kind'], value: string, specificity: number, d: number) => {
    const found = map.get(value);
    if (found === undefined) map.set(value, { kind, value, specificity, devices: [d] });
    else found.devices.push(d);
  };
  for (const d of capable) {
    const scope = scopes[d];
    for (const c of scope.cidrs) {
      const map = c.family === 4 ? v4 : v6;
      const found = map.get(c.value);
      if (found !== undefined) {
        found.entry.devices.push(d);
        continue;
      }
      const entry: Entry = {
        kind: 'cidr',
        value: c.value,
        specificity: cidrSpecificity(c.family, c.prefix),
        devices: [d],
      };
      map.set(c.value, { start: c.start, prefix: c.prefix, value: c.value, entry });
    }
    for (const value of scope.hosts) {
      if (value.includes('*')) add(patterns, 'host', value, hostSpecificity(value), d);
      else add(exact, 'host', value, EXACT_HOST_BONUS + value.length, d);
    }
    for (const value of scope.tags) add(tags, 'tag', value, TAG_SPECIFICITY, d);
  }
  const wild = new Map<string, Entry[]>();
  const wildAny: Entry[] = [];
  for (const entry of patterns.values()) {
    entry.parts = entry.value.split('*');
    const last = entry.parts[entry.parts.length - 1];
    const dot = last.indexOf('.');
    if (dot < 0) {
      wildAny.push(entry);
      continue;
    }
    const key = last.slice(dot);
    const bucket = wild.get(key);
    if (bucket === undefined) wild.set(key, [entry]);
    else bucket.push(entry);
  }
  return {
    capable,
    v4: v4.size > 0 ? CidrTable.build(32, [...v4.values()]) : null,
    v6: v6.size > 0 ? CidrTable.build(128, [...v6.values()]) : null,
    exact,
    wild,
    wildAny,
    tags,
  };
}
