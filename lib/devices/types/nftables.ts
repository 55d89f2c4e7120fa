/**
 * nftables: a Linux firewall driven through `nft`, on the local host or inside a named network namespace
 * (`ip netns exec <ns> nft …`).
 *
 * The adapter owns one table (`table inet soar` by default) and never touches any other: named sets `blocked4`/
 * `blocked6` and `isolated4`/`isolated6` (interval + timeout, so the kernel expires timed elements by itself),
 * `allow4`/`allow6` (the addresses an isolated host may still talk to) and one base chain per managed hook that drops
 * traffic from/to blocked addresses and everything of an isolated address that is not to/from the allow set.
 *
 * Every change is one atomic `nft -f -` transaction fed on stdin that first (re)states the table, so a table removed
 * behind the adapter's back comes back with the next action. Addresses are parsed with ipaddr.js and re-printed in
 * canonical form before they reach nft: no text of a target ever goes into a ruleset as given, and nothing runs
 * through a shell.
 */
import ipaddr from 'ipaddr.js';
import { ExecError, run } from '../exec';
import {
  UNDO,
  type ActionOptions,
  type ActionResult,
  type ActionTarget,
  type Capability,
  type DeviceAdapter,
  type DeviceContext,
  type DeviceHealth,
  type DeviceType,
  type JsonSchema,
} from '../model';

export const NFT_HOOKS = ['input', 'forward', 'output'] as const;
export type NftHook = (typeof NFT_HOOKS)[number];

export interface NftSettings {
  /** A network namespace (`ip netns` name): the device's commands run as `ip netns exec <namespace> nft …`. */
  namespace?: string;
  /** The adapter's own table in the `inet` family. Default `soar`. */
  table?: string;
  /** The hooks it installs a filtering chain on. Default all of `input`, `forward`, `output`. */
  hooks?: NftHook[];
  /** Base chain priority (`filter` is 0; lower runs earlier). Default -10. */
  priority?: number;
  /** Addresses and CIDRs an isolated host may still talk to (the SOAR host, DNS resolvers, …). */
  isolationAllow?: string[];
  /** The `nft` program. Default `nft` (looked up in PATH). */
  nftPath?: string;
  /** The `ip` program (iproute2), used with `namespace`. Default `ip`. */
  ipPath?: string;
  /** Milliseconds one nft run may take. Default 10 000. */
  timeoutMs?: number;
}

export const NAMESPACE_PATTERN = '^[A-Za-z0-9_.-]{1,64}$';
export const TABLE_PATTERN = '^[A-Za-z][A-Za-z0-9_]{0,31}$';
const PROGRAM_PATTERN = '^[A-Za-z0-9_./+][A-Za-z0-9_./+-]{0,255}$';
/** The longest element timeout accepted (365 days); a longer block is a permanent one, reverted by the case. */
export const MAX_DURATION_SECONDS = 365 * 24 * 3600;

export const nftSettingsSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    namespace: {
      type: 'string',
      pattern: NAMESPACE_PATTERN,
      title: 'Network namespace',
      description: 'Run nft inside this network namespace (ip netns exec); empty: the local host.',
    },
    table: {
      type: 'string',
      pattern: TABLE_PATTERN,
      default: 'soar',
      title: 'Table',
      description: 'The inet table the device owns; no other table is ever touched.',
    },
    hooks: {
      type: 'array',
      items: { type: 'string', enum: [...NFT_HOOKS] },
      uniqueItems: true,
      minItems: 1,
      default: [...NFT_HOOKS],
      title: 'Hooks',
      description: 'The hooks the device installs a filtering chain on.',
    },
    priority: {
      type: 'integer',
      minimum: -400,
      maximum: 400,
      default: -10,
      title: 'Chain priority',
    },
    isolationAllow: {
      type: 'array',
      items: { type: 'string', minLength: 2, maxLength: 64 },
      maxItems: 1024,
      default: [],
      title: 'Allowed for isolated hosts',
      description: 'Addresses or CIDRs an isolated host may still talk to (the SOAR host, DNS, …).',
    },
    nftPath: { type: 'string', pattern: PROGRAM_PATTERN, default: 'nft', title: 'nft program' },
    ipPath: { type: 'string', pattern: PROGRAM_PATTERN, default: 'ip', title: 'ip program (iproute2)' },
    timeoutMs: { type: 'integer', minimum: 100, maximum: 120000, default: 10000, title: 'Command timeout (ms)' },
  },
};

export const nftCredentialsSchema: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

/** An address or network in the canonical form nft is given. */
export interface NftElement {
  family: 4 | 6;
  /** `10.0.0.1`, `10.0.0.0/24`, `fd00::1`, `fd00::/64` (network address, no host bits). */
  text: string;
  prefix: number;
  /** Inclusive bounds, for overlap checks. */
  first: bigint;
  last: bigint;
}

/** Settings with defaults applied and values checked. */
export interface ResolvedNftSettings {
  namespace?: string;
  table: string;
  hooks: NftHook[];
  priority: number;
  allow: NftElement[];
  nftPath: string;
  ipPath: string;
  timeoutMs: number;
}

/** A target or setting nft cannot be given, with a message a person can act on. */
export class NftInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NftInputError';
  }
}

/** nft (or `ip netns exec`) failed: the program's own reason, without its caret lines. */
export class NftCommandError extends Error {
  constructor(
    message: string,
    readonly stderr: string,
  ) {
    super(message);
    this.name = 'NftCommandError';
  }
}

function toBigInt(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function element(addr: ipaddr.IPv4 | ipaddr.IPv6, prefix: number): NftElement {
  const family = addr.kind() === 'ipv4' ? 4 : 6;
  const bits = family === 4 ? 32 : 128;
  const value = toBigInt(addr.toByteArray());
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const first = value & ~hostMask;
  const last = first | hostMask;
  const network =
    family === 4
      ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${prefix}`).toRFC5952String();
  return { family, text: prefix === bits ? network : `${network}/${prefix}`, prefix, first, last };
}

/**
 * Parses an IPv4/IPv6 address or CIDR into the canonical element nft is given. Accepts only dotted-quad IPv4 and
 * standard IPv6 text (no zone ids, no `0x`/short IPv4 forms); an IPv4-mapped IPv6 address becomes its IPv4 address;
 * host bits of a CIDR are cleared. `/0` is refused: it would cover every address.
 */
export function parseNftElement(input: unknown): NftElement {
  if (typeof input !== 'string') throw new NftInputError('an IP address or CIDR must be a string');
  const value = input.trim();
  if (!value || value.length > 64 || !/^[0-9A-Fa-f:./]+$/.test(value)) {
    throw new NftInputError(`"${input.slice(0, 80)}" is not an IPv4/IPv6 address or CIDR`);
  }
  const slash = value.indexOf('/');
  const addrText = slash < 0 ? value : value.slice(0, slash);
  const prefixText = slash < 0 ? undefined : value.slice(slash + 1);
  let addr: ipaddr.IPv4 | ipaddr.IPv6;
  if (ipaddr.IPv4.isValidFourPartDecimal(addrText)) addr = ipaddr.IPv4.parse(addrText);
  else if (ipaddr.IPv6.isValid(addrText)) addr = ipaddr.IPv6.parse(addrText);
  else throw new NftInputError(`"${value}" is not an IPv4/IPv6 address or CIDR`);
  const bits = addr.kind() === 'ipv4' ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      throw new NftInputError(`"${value}": the prefix length must be 1 to ${bits}`);
    }
    prefix = Number(prefixText);
  }
  if (prefix === 0) throw new NftInputError(`"${value}" covers every address: refused`);
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && prefix >= 96) {
    return element((addr as ipaddr.IPv6).toIPv4Address(), prefix - 96);
  }
  return element(addr, prefix);
}

/** Applies defaults and checks settings; throws NftInputError naming the bad field. */
export function resolveNftSettings(settings: NftSettings | undefined): ResolvedNftSettings {
  const s = settings ?? {};
  const check = (field: string, value: unknown, pattern: string) => {
    if (typeof value !== 'string' || !new RegExp(pattern).test(value)) {
      throw new NftInputError(`nftables setting ${field}: ${JSON.stringify(value)} does not match ${pattern}`);
    }
  };
  const namespace = s.namespace === '' || s.namespace === undefined || s.namespace === null ? undefined : s.namespace;
  if (namespace !== undefined) check('namespace', namespace, NAMESPACE_PATTERN);
  const table = s.table || 'soar';
  check('table', table, TABLE_PATTERN);
  const nftPath = s.nftPath || 'nft';
  check('nftPath', nftPath, PROGRAM_PATTERN);
  const ipPath = s.ipPath || 'ip';
  check('ipPath', ipPath, PROGRAM_PATTERN);
  const hooks = s.hooks ?? [...NFT_HOOKS];
  if (!Array.isArray(hooks) || hooks.length === 0 || hooks.some((h) => !NFT_HOOKS.includes(h))) {
    throw new NftInputError(`nftables setting hooks: a non-empty list of ${NFT_HOOKS.join(', ')}`);
  }
  const priority = s.priority ?? -10;
  if (!Number.isInteger(priority) || priority < -400 || priority > 400) {
    throw new NftInputError('nftables setting priority: an integer from -400 to 400');
  }
  const timeoutMs = s.timeoutMs ?? 10_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > 120_000) {
    throw new NftInputError('nftables setting timeoutMs: an integer from 100 to 120000');
  }
  const allow: NftElement[] = [];
  for (const entry of s.isolationAllow ?? []) {
    try {
      allow.push(parseNftElement(entry));
    } catch (e) {
      throw new NftInputError(`nftables setting isolationAllow: ${(e as Error).message}`);
    }
  }
  return {
    namespace,
    table,
    hooks: NFT_HOOKS.filter((h) => hooks.includes(h)),
    priority,
    allow,
    nftPath,
    ipPath,
    timeoutMs,
  };
}

const SET_NAMES = ['blocked4', 'blocked6', 'isolated4', 'isolated6', 'allow4', 'allow6'] as const;

/**
 * The transaction that (re)states the device's table: sets are added if missing (their elements are kept, except the
 * allow sets, which are rewritten from the settings), the managed chains are recreated with their rules, and chains
 * of hooks no longer managed are removed. Idempotent; nft applies it atomically.
 */
export function buildEnsureScript(settings: ResolvedNftSettings): string {
  const t = `inet ${settings.table}`;
  const lines = [`add table ${t}`];
  for (const family of [4, 6] as const) {
    const type = family === 4 ? 'ipv4_addr' : 'ipv6_addr';
    lines.push(`add set ${t} blocked${family} { type ${type}; flags interval, timeout; }`);
    lines.push(`add set ${t} isolated${family} { type ${type}; flags interval, timeout; }`);
    lines.push(`add set ${t} allow${family} { type ${type}; flags interval; auto-merge; }`);
    lines.push(`flush set ${t} allow${family}`);
    const allowed = settings.allow.filter((e) => e.family === family).map((e) => e.text);
    if (allowed.length) lines.push(`add element ${t} allow${family} { ${[...new Set(allowed)].join(', ')} }`);
  }
  for (const hook of NFT_HOOKS) {
    // `add` then `delete`: removes the chain whether or not it exists; a managed one is then created afresh, so a
    // changed priority or a hand-edited chain is put right.
    lines.push(`add chain ${t} ${hook}`, `delete chain ${t} ${hook}`);
    if (!settings.hooks.includes(hook)) continue;
    const c = `${t} ${hook}`;
    lines.push(`add chain ${c} { type filter hook ${hook} priority ${settings.priority}; policy accept; }`);
    for (const [ip, family] of [
      ['ip', 4],
      ['ip6', 6],
    ] as const) {
      lines.push(`add rule ${c} ${ip} saddr @blocked${family} drop`);
      lines.push(`add rule ${c} ${ip} daddr @blocked${family} drop`);
    }
    // Neighbour discovery keeps working for isolated IPv6 hosts (it only resolves link-layer addresses).
    lines.push(
      `add rule ${c} icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert } accept`,
    );
    for (const [ip, family] of [
      ['ip', 4],
      ['ip6', 6],
    ] as const) {
      lines.push(`add rule ${c} ${ip} saddr @isolated${family} ${ip} daddr != @allow${family} drop`);
      lines.push(`add rule ${c} ${ip} daddr @isolated${family} ${ip} saddr != @allow${family} drop`);
    }
  }
  return lines.join('\n') + '\n';
}

/** nft's reason without the echoed command and caret lines; the offending command appended when there is one. */
function nftReason(e: unknown): NftCommandError {
  if (!(e instanceof ExecError)) return new NftCommandError((e as Error)?.message ?? String(e), '');
  if (!e.stderr.trim()) return new NftCommandError(e.message, e.stderr);
  const lines = e.stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() && !/^\s*\^+[\s^~]*$/.test(l));
  const errors = lines
    .filter((l) => /Error:|Cannot|Operation not permitted|Permission denied|not found/i.test(l))
    .map((l) => l.replace(/^\/dev\/stdin:[\d:-]+:\s*/, ''));
  const first = errors[0] ?? lines[0];
  const command = lines.find((l) => /^(add|delete|flush|list|get) /.test(l));
  return new NftCommandError(command ? `${first} (in: ${command})` : first, e.stderr);
}

interface NftJsonSet {
  name: string;
  elem?: unknown[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The sets of an `nft -j list …` answer. */
function jsonSets(stdout: string): Map<string, NftJsonSet> {
  const sets = new Map<string, NftJsonSet>();
  const doc: unknown = JSON.parse(stdout);
  const items = isObject(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  for (const item of items) {
    if (isObject(item) && isObject(item.set) && typeof item.set.name === 'string') {
      sets.set(item.set.name, {
        name: item.set.name,
        elem: Array.isArray(item.set.elem) ? item.set.elem : [],
      });
    }
  }
  return sets;
}

function jsonChains(stdout: string): string[] {
  const doc: unknown = JSON.parse(stdout);
  const items = isObject(doc) && Array.isArray(doc.nftables) ? doc.nftables : [];
  return items
    .filter((i): i is { chain: Record<string, unknown> } => isObject(i) && isObject(i.chain))
    .map((i) => String(i.chain.name));
}

/** One element of an nft JSON set as an address range (undefined for forms it does not recognise). */
function jsonElementRange(e: unknown): { text: string; first: bigint; last: bigint } | undefined {
  try {
    if (isObject(e) && isObject(e.elem)) return jsonElementRange(e.elem.val);
    if (typeof e === 'string') {
      const el = parseNftElement(e);
      return { text: el.text, first: el.first, last: el.last };
    }
    if (isObject(e) && isObject(e.prefix)) {
      const el = parseNftElement(`${String(e.prefix.addr)}/${String(e.prefix.len)}`);
      return { text: el.text, first: el.first, last: el.last };
    }
    if (isObject(e) && Array.isArray(e.range) && e.range.length === 2) {
      const a = parseNftElement(String(e.range[0]));
      const b = parseNftElement(String(e.range[1]));
      return { text: `${a.text}-${b.text}`, first: a.first, last: b.last };
    }
  } catch {
    return undefined;
  }
  return undefined;
}

type SetKind = 'blocked' | 'isolated';

const ACTIONS: Readonly<Partial<Record<Capability, { set: SetKind; add: boolean }>>> = {
  'block-ip': { set: 'blocked', add: true },
  'unblock-ip': { set: 'blocked', add: false },
  'isolate-host': { set: 'isolated', add: true },
  'release-host': { set: 'isolated', add: false },
};

const WORDS: Record<SetKind, { done: string; not: string }> = {
  blocked: { done: 'blocked', not: 'was not blocked' },
  isolated: { done: 'isolated', not: 'was not isolated' },
};

/** Keeps a reason as an nft element comment: printable ASCII without quotes or backslashes, at most 120 characters. */
function commentOf(reason: string | undefined): string | undefined {
  if (!reason) return undefined;
  const text = reason
    .replace(/[^A-Za-z0-9 _.,:;#@/()+=-]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 120);
  return text || undefined;
}

function durationOf(options: ActionOptions | undefined): number | undefined {
  const d = options?.durationSeconds;
  if (d === undefined || d === null) return undefined;
  if (typeof d !== 'number' || !Number.isFinite(d) || d <= 0) {
    throw new NftInputError(`durationSeconds must be a positive number of seconds (got ${String(d)})`);
  }
  const seconds = Math.ceil(d);
  if (seconds > MAX_DURATION_SECONDS) {
    throw new NftInputError(
      `durationSeconds ${seconds} is over ${MAX_DURATION_SECONDS} (365 days): block without a duration instead`,
    );
  }
  return seconds;
}

export class NftablesAdapter implements DeviceAdapter {
  readonly settings: ResolvedNftSettings;
  private readonly ensureScript: string;

  constructor(
    settings: NftSettings,
    private readonly context: DeviceContext,
  ) {
    this.settings = resolveNftSettings(settings);
    this.ensureScript = buildEnsureScript(this.settings);
  }

  /** Runs nft with `args`, in the namespace when there is one. */
  private async nft(args: string[], input: string | undefined, signal?: AbortSignal): Promise<string> {
    const { namespace, nftPath, ipPath, timeoutMs } = this.settings;
    const [file, argv] = namespace ? [ipPath, ['netns', 'exec', namespace, nftPath, ...args]] : [nftPath, args];
    try {
      const { stdout } = await run(file, argv, { input, timeoutMs, signal });
      return stdout;
    } catch (e) {
      const err = nftReason(e);
      const where = namespace ? ` (namespace ${namespace})` : '';
      throw new NftCommandError(`nftables${where}: ${err.message}`, err.stderr);
    }
  }

  /** Applies a transaction (the ensure script first, then `commands`) atomically through `nft -f -`. */
  private apply(commands: string[], signal?: AbortSignal): Promise<string> {
    return this.nft(['-f', '-'], this.ensureScript + commands.map((c) => c + '\n').join(''), signal);
  }

  private async listSet(name: string, signal?: AbortSignal): Promise<unknown[]> {
    const out = await this.nft(['-j', 'list', 'set', 'inet', this.settings.table, name], undefined, signal);
    return jsonSets(out).get(name)?.elem ?? [];
  }

  /** Elements of `set` that overlap `el` (with their own text). */
  private async overlapping(set: string, el: NftElement, signal?: AbortSignal) {
    const elems = await this.listSet(set, signal).catch(() => [] as unknown[]);
    return elems
      .map(jsonElementRange)
      .filter((r): r is NonNullable<typeof r> => !!r && r.first <= el.last && el.first <= r.last);
  }

  async health(signal?: AbortSignal): Promise<DeviceHealth> {
    const checkedAt = () => new Date().toISOString();
    const { table, hooks, namespace } = this.settings;
    try {
      const list = () => this.nft(['-j', 'list', 'table', 'inet', table], undefined, signal);
      let out: string | undefined;
      let note = '';
      try {
        out = await list();
      } catch {
        out = undefined;
      }
      const complete = (text: string) => {
        const sets = jsonSets(text);
        const chains = jsonChains(text);
        return SET_NAMES.every((s) => sets.has(s)) && hooks.every((h) => chains.includes(h));
      };
      if (out === undefined || !complete(out)) {
        await this.apply([], signal);
        out = await list();
        note = '; table (re)created';
      }
      const sets = jsonSets(out);
      const count = (name: string) => sets.get(name)?.elem?.length ?? 0;
      const b4 = count('blocked4');
      const b6 = count('blocked6');
      const i4 = count('isolated4');
      const i6 = count('isolated6');
      const where = namespace ? ` in namespace ${namespace}` : '';
      return {
        status: 'ok',
        checkedAt: checkedAt(),
        reason:
          `table inet ${table}${where}: ${b4 + b6} blocked (${b4} IPv4, ${b6} IPv6), ` +
          `${i4 + i6} isolated (${i4} IPv4, ${i6} IPv6); hooks ${hooks.join(', ')}${note}`,
      };
    } catch (e) {
      return { status: 'down', checkedAt: checkedAt(), reason: (e as Error).message };
    }
  }

  async execute(action: Capability, target: ActionTarget, options: ActionOptions = {}): Promise<ActionResult> {
    const spec = ACTIONS[action];
    if (!spec) throw new NftInputError(`nftables cannot ${action}`);
    if (!target || (target.kind !== 'ip' && target.kind !== 'host')) {
      throw new NftInputError(`nftables acts on IP addresses, not on a ${String(target?.kind)} target`);
    }
    let el: NftElement;
    try {
      el = parseNftElement(target.value);
    } catch (e) {
      const hint = target.kind === 'host' ? ' (resolve the host name to its address first)' : '';
      throw new NftInputError(`${action}: ${(e as Error).message}${hint}`);
    }
    const set = `${spec.set}${el.family}`;
    const t = `inet ${this.settings.table}`;
    const words = WORDS[spec.set];
    const ref = `${set} ${el.text}`;

    if (spec.add) {
      const seconds = durationOf(options);
      const comment = commentOf(options.reason);
      const extra = `${seconds ? ` timeout ${seconds}s` : ''}${comment ? ` comment "${comment}"` : ''}`;
      try {
        // add (so that it exists), delete, add again with the new timeout: a repeated action restarts the timeout,
        // and adding an element twice is not an error.
        await this.apply(
          [
            `add element ${t} ${set} { ${el.text} }`,
            `delete element ${t} ${set} { ${el.text} }`,
            `add element ${t} ${set} { ${el.text}${extra} }`,
          ],
          options.signal,
        );
      } catch (e) {
        if (!(e instanceof NftCommandError) || !/overlap/i.test(e.message)) throw e;
        const others = await this.overlapping(set, el, options.signal);
        const within = others.find((o) => o.first <= el.first && el.last <= o.last);
        if (within) {
          this.context.log('info', `${action} ${el.text}: already ${words.done} within ${within.text}`);
          return { detail: `${el.text} already ${words.done} within ${within.text}; nothing changed`, ref };
        }
        const list = others.map((o) => o.text).join(', ') || 'an existing element';
        throw new NftInputError(`${action} ${el.text}: overlaps ${words.done} ${list}; undo that first`);
      }
      const detail = `${words.done} ${el.text}${seconds ? ` for ${seconds} s (expires in the kernel)` : ''}`;
      this.context.log('info', `${this.context.name}: ${detail}`);
      return { detail, ref };
    }

    try {
      await this.apply([`delete element ${t} ${set} { ${el.text} }`], options.signal);
    } catch (e) {
      const absent =
        e instanceof NftCommandError &&
        /delete element/.test(e.stderr) &&
        /element does not exist|No such file or directory/i.test(e.stderr);
      if (!absent) throw e;
      const others = await this.overlapping(set, el, options.signal);
      const note = others.length
        ? ` (it overlaps ${words.done} ${others.map((o) => o.text).join(', ')}, which stays)`
        : '';
      return { detail: `${el.text} ${words.not}${note}`, ref };
    }
    const detail = `${spec.set === 'blocked' ? 'unblocked' : 'released'} ${el.text}`;
    this.context.log('info', `${this.context.name}: ${detail}`);
    return { detail, ref };
  }

  async revert(
    action: Capability,
    target: ActionTarget,
    _result: ActionResult,
    options: ActionOptions = {},
  ): Promise<ActionResult> {
    const undo = UNDO[action];
    if (!undo || !ACTIONS[undo]) throw new NftInputError(`nftables cannot revert ${action}`);
    return this.execute(undo, target, { signal: options.signal, reason: options.reason });
  }
}

export const nftablesDeviceType: DeviceType<NftSettings, Record<string, never>> = {
  id: 'nftables',
  label: 'nftables firewall',
  capabilities: ['block-ip', 'unblock-ip', 'isolate-host', 'release-host'],
  settingsSchema: nftSettingsSchema,
  credentialsSchema: nftCredentialsSchema,
  create(settings: NftSettings, _credentials: Record<string, never>, context: DeviceContext): DeviceAdapter {
    return new NftablesAdapter(settings, context);
  },
};
