/**
 * The response engine: carries out one action on one target through the device(s) the fleet selects, with the
 * guardrails in this order —
 * 1. the action and target are valid (an IP target is canonicalised);
 * 2. a protected asset is never acted on (./protected);
 * 3. the device(s): capable, in scope, not down (../devices/selection); none is a `refused` outcome with the reason;
 * 4. per device: an action already in force on that target is not repeated (`already`, not audited: nothing was
 *    done); an action the device's
 *    approval policy names waits for an analyst (`pending-approval`) unless the request carries the approval;
 *    dry run records what would happen; the blast-radius limits (actions per minute per device, and overall)
 *    refuse the excess (`rate-limited`); an open circuit fails fast (`circuit-open`); otherwise the device is called,
 *    with retries and exponential backoff (`done` or `failed`);
 * 5. an action with a duration is reverted when it expires — the expiry is in the store, so it happens after a
 *    restart too, and with a store shared by several instances once, by whichever claims it; an undo action
 *    (`unblock-ip` …) ends the matching actions in force.
 * Every device outcome goes to the audit log; the caller records the outcome in the case.
 */
import { randomUUID } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import type { AuditLog } from '../audit';
import type { DeviceFleet, ManagedDevice } from '../devices/fleet';
import { CAPABILITIES, UNDO, type ActionResult, type ActionTarget, type Capability } from '../devices/model';
import { parseCidr } from '../devices/scope';
import type { SelectMode } from '../devices/selection';
import { RateLimiter } from '../intake/rate-limit';
import type { ProtectedAssets } from './protected';
import type { ActionRecord, ResponseStore } from './response-store';
import { withRetries, type RetryOptions } from './retry';

export interface ResponseRequest {
  action: Capability;
  target: ActionTarget;
  mode?: SelectMode;
  dryRun?: boolean;
  /** Revert automatically after this many seconds. */
  durationSeconds?: number;
  caseId?: string;
  reason?: string;
  /** Who or what asked (an analyst, a playbook). */
  requestedBy?: string;
  /** Present when an analyst approved this request: the approval policy is then satisfied. */
  approval?: { by: string; at: string; comment?: string };
}

export type DeviceOutcomeStatus =
  'done' | 'failed' | 'dry-run' | 'pending-approval' | 'already' | 'rate-limited' | 'circuit-open';

export interface DeviceOutcome {
  device: string;
  deviceName: string;
  status: DeviceOutcomeStatus;
  detail: string;
  actionId?: string;
  expiresAt?: string;
  attempts?: number;
}

/** `refused`: nothing was attempted (protected asset, no device, invalid request). */
export type OutcomeStatus = 'done' | 'failed' | 'needs-approval' | 'dry-run' | 'refused';

export interface ResponseOutcome {
  status: OutcomeStatus;
  action: Capability;
  target: ActionTarget;
  at: string;
  reason?: string;
  devices: DeviceOutcome[];
  dryRun: boolean;
  durationSeconds?: number;
  caseId?: string;
}

export class ResponseRequestError extends Error {}

export interface EngineOptions {
  /** Most device actions per minute over all devices; 0: no limit. Default 60. */
  actionsPerMinute?: number;
  retry?: RetryOptions;
  /** Where the engine reports its own trouble (an audit write or an expiry run that failed). */
  log?: (level: 'warn' | 'error', message: string) => void;
  /** Called after each automatic revert (expiry), e.g. to note it in the case. */
  onExpired?: (record: ActionRecord, outcome: 'expired' | 'revert-failed', detail: string) => void;
  /**
   * Look for due actions at least this often, even with no expiry known here: with a store shared by several
   * instances, another instance's actions (one that died, too) come due without this one having armed a timer.
   * Default: only at the next known expiry.
   */
  sweepEveryMs?: number;
  /** How long a batch of due actions stays claimed by this engine while it reverts them. Default 10 minutes. */
  claimMs?: number;
  now?: () => number;
}

const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);
/** The action an undo undoes (`unblock-ip` → `block-ip`). */
const FORWARD: Partial<Record<Capability, Capability>> = Object.fromEntries(
  Object.entries(UNDO).map(([forward, undo]) => [undo, forward]),
);
const KINDS = new Set(['ip', 'host', 'domain', 'file', 'url']);
const MAX_DURATION_SECONDS = 365 * 24 * 3600;
/** A revert that fails at expiry is tried again this often, for this long. */
const REVERT_RETRY_EVERY_MS = 5 * 60_000;
const REVERT_RETRY_FOR_MS = 24 * 3600_000;
/** The longest wait of the expiry timer (it re-arms then), and the wait after the store could not be read. */
const MAX_EXPIRY_WAIT_MS = 24 * 3600 * 1000;
const STORE_RETRY_MS = 30_000;

/** The target with an IP value in canonical form; throws a ResponseRequestError. */
export function canonicalTarget(target: unknown): ActionTarget {
  const t = target as Partial<ActionTarget> | null;
  if (t === null || typeof t !== 'object') throw new ResponseRequestError('the target must be an object {kind, value}');
  if (typeof t.kind !== 'string' || !KINDS.has(t.kind)) {
    throw new ResponseRequestError(
      `target kind must be one of ip, host, domain, file, url, not ${JSON.stringify(t.kind)}`,
    );
  }
  if (typeof t.value !== 'string' || t.value.trim() === '' || t.value.length > 2048) {
    throw new ResponseRequestError('the target needs a value (at most 2048 characters)');
  }
  let value = t.value.trim();
  if (t.kind === 'ip') {
    // Strict: dotted-quad decimal only (`010.0.0.1` is not read as 8.0.0.1), IPv4-mapped IPv6 as IPv4, no host bits.
    try {
      value = parseCidr(value).value;
    } catch (err) {
      throw new ResponseRequestError(`${JSON.stringify(t.value)} ${(err as Error).message}`);
    }
  }
  if (t.kind === 'url') urlHost(value);
  const out: ActionTarget = { kind: t.kind, value };
  if (Array.isArray(t.tags)) out.tags = t.tags.filter((x): x is string => typeof x === 'string');
  if (typeof t.host === 'string' && t.host.trim() !== '') out.host = t.host.trim();
  return out;
}

/** The host of a URL target (lower case, no trailing dot); throws a ResponseRequestError for one that has none. */
export function urlHost(value: string): string {
  let host: string;
  try {
    host = new URL(value).hostname;
  } catch {
    throw new ResponseRequestError(`${JSON.stringify(value)} is not an absolute URL`);
  }
  host = host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  if (host === '') throw new ResponseRequestError(`${JSON.stringify(value)} names no host`);
  return host;
}

/**
 * What the device selection sees: a URL is covered by whatever covers its host (an address by the CIDRs, a name by
 * the host patterns), so a URL target is selected as the `ip` or `domain` its host is. The device still gets the URL.
 */
export function selectionTarget(target: ActionTarget): ActionTarget {
  if (target.kind !== 'url') return target;
  const host = urlHost(target.value);
  const asIp = ipaddr.isValid(host);
  return { ...target, kind: asIp ? 'ip' : 'domain', value: asIp ? ipaddr.process(host).toString() : host };
}

function summarise(devices: DeviceOutcome[], dryRun: boolean): OutcomeStatus {
  if (devices.some((d) => d.status === 'pending-approval')) return 'needs-approval';
  if (devices.some((d) => d.status === 'failed' || d.status === 'rate-limited' || d.status === 'circuit-open')) {
    return 'failed';
  }
  if (dryRun) return 'dry-run';
  return 'done';
}

export class ResponseEngine {
  private readonly overall: RateLimiter;
  private readonly perDevice = new Map<string, { limit: number; limiter: RateLimiter }>();
  private expiryTimer: NodeJS.Timeout | undefined;
  /** When the armed expiry timer fires (on the engine's clock). */
  private expiryDueAt = Infinity;
  /** The latest scheduling: an older one that finishes reading the store later does not arm its timer. */
  private scheduling = 0;
  private reverting = false;
  private closed = false;
  private readonly now: () => number;

  constructor(
    private readonly fleet: DeviceFleet,
    private readonly store: ResponseStore,
    private readonly audit: AuditLog,
    private readonly protectedAssets: ProtectedAssets,
    private readonly options: EngineOptions = {},
  ) {
    const perMinute = options.actionsPerMinute ?? 60;
    this.overall = new RateLimiter({ ratePerSecond: perMinute / 60, burst: perMinute });
    this.now = options.now ?? Date.now;
  }

  /** Checks and carries out a request; never throws for a bad request or a failing device (see the outcome). */
  async respond(request: ResponseRequest, signal?: AbortSignal): Promise<ResponseOutcome> {
    const at = new Date(this.now()).toISOString();
    const dryRun = request.dryRun === true;
    const base = { action: request.action, at, dryRun, caseId: request.caseId, devices: [] as DeviceOutcome[] };
    let target: ActionTarget;
    try {
      if (typeof request.action !== 'string' || !KNOWN.has(request.action)) {
        throw new ResponseRequestError(
          `action must be one of ${CAPABILITIES.join(', ')}, not ${JSON.stringify(request.action)}`,
        );
      }
      const d = request.durationSeconds;
      if (d !== undefined && !(Number.isInteger(d) && d > 0 && d <= MAX_DURATION_SECONDS)) {
        throw new ResponseRequestError(`duration must be a whole number of seconds from 1 to ${MAX_DURATION_SECONDS}`);
      }
      if (d !== undefined && UNDO[request.action] === undefined) {
        throw new ResponseRequestError(`${request.action} cannot have a duration: it has no undo`);
      }
      target = canonicalTarget(request.target);
    } catch (err) {
      const outcome: ResponseOutcome = {
        ...base,
        target: request.target,
        status: 'refused',
        reason: (err as Error).message,
      };
      this.auditRefusal(request, outcome);
      return outcome;
    }
    const refusal = this.protectedAssets.refusal(request.action, target);
    const selection =
      refusal === undefined ? this.fleet.select(request.action, selectionTarget(target), request.mode) : undefined;
    if (refusal !== undefined || selection?.devices.length === 0) {
      const reason = refusal ?? selection?.reason ?? 'no device';
      const outcome: ResponseOutcome = { ...base, target, status: 'refused', reason };
      this.auditRefusal(request, outcome);
      return outcome;
    }
    const devices: DeviceOutcome[] = [];
    for (const chosen of selection?.devices ?? []) {
      const device = this.fleet.get(chosen.id);
      if (!device) continue;
      devices.push(await this.onDevice(device, request, target, dryRun, signal));
    }
    const outcome: ResponseOutcome = { ...base, target, devices, status: summarise(devices, dryRun) };
    if (request.durationSeconds !== undefined) {
      outcome.durationSeconds = request.durationSeconds;
      this.expiring(this.now() + request.durationSeconds * 1000);
    }
    return outcome;
  }

  private async onDevice(
    device: ManagedDevice,
    request: ResponseRequest,
    target: ActionTarget,
    dryRun: boolean,
    signal?: AbortSignal,
  ): Promise<DeviceOutcome> {
    const out = (status: DeviceOutcomeStatus, detail: string, extra: Partial<DeviceOutcome> = {}): DeviceOutcome => {
      const outcome: DeviceOutcome = { device: device.id, deviceName: device.name, status, detail, ...extra };
      // The device has acted (or not) whatever happens to the audit log: a failed write is reported, not turned
      // into a device failure.
      try {
        this.audit.append({
          kind: 'action',
          actor: request.approval?.by ?? request.requestedBy,
          caseId: request.caseId,
          action: request.action,
          target: target.value,
          device: device.name,
          outcome: status,
          detail: { detail, dryRun, durationSeconds: request.durationSeconds, approval: request.approval, ...extra },
        });
      } catch (err) {
        outcome.detail += ` (not in the audit log: ${(err as Error).message})`;
        this.options.log?.('error', `audit log: ${(err as Error).message}`);
      }
      return outcome;
    };
    const action = request.action;
    const forward = FORWARD[action];
    // Nothing is done for an action in force, so nothing is audited: every alert of a case asking again must not
    // flood the log.
    const already = (active: ActionRecord | undefined): DeviceOutcome => ({
      device: device.id,
      deviceName: device.name,
      status: 'already',
      detail: `${action} ${target.value} already in force on ${device.name}${active ? ` since ${active.created}` : ''}`,
      ...(active ? { actionId: active.id } : {}),
    });
    const active = await this.store.activeAction(device.id, action, target.value);
    if (active) return already(active);
    if (device.approval.has(action) && request.approval === undefined && !dryRun) {
      return out('pending-approval', `${device.name} requires an analyst's approval for ${action}`);
    }
    if (dryRun) {
      return out('dry-run', `would ${action} ${target.value} on ${device.name} (${device.type.type.label})`);
    }
    // An action that can be undone is in the store before the device is called: recording it is what reserves it
    // (one action of a kind in force per device and target, atomically, also across instances), so a concurrent
    // request for it finds it in force, and a crash cannot leave it in force on the device with no record to
    // revert it by. It comes before the limits, so a request that loses the race takes no limiter token or trial.
    const id = randomUUID();
    const expiresAt = request.durationSeconds === undefined ? undefined : this.now() + request.durationSeconds * 1000;
    const recorded = UNDO[action] !== undefined;
    if (recorded) {
      const reserved = await this.store.recordAction({
        id,
        device: device.id,
        deviceName: device.name,
        action,
        targetKind: target.kind,
        target: target.value,
        caseId: request.caseId,
        created: new Date(this.now()).toISOString(),
        expiresAt,
      });
      if (!reserved.recorded) return already(reserved.active);
    }
    const limited = this.rateLimited(device);
    const refused =
      limited !== undefined
        ? out('rate-limited', limited)
        : !device.breaker.allow()
          ? out(
              'circuit-open',
              `${device.name} failed repeatedly: not called for another ${Math.ceil(device.breaker.retryInMs() / 1000)} s`,
            )
          : undefined;
    if (refused) {
      if (recorded) refused.detail += await this.noted(() => this.store.finishAction(id, 'failed'));
      return refused;
    }
    // An undo of an action this device has in force reverts it with what the action returned (a REST device's
    // rule id); on this device only — another device's action on the target stays until it is undone there.
    const undoing = forward === undefined ? undefined : await this.store.activeAction(device.id, forward, target.value);
    let attempts = 0;
    const reason = request.reason ?? (request.caseId ? `case ${request.caseId}` : undefined);
    const options = { durationSeconds: request.durationSeconds, reason, signal };
    let result: ActionResult;
    try {
      result = await withRetries(
        (attempt) => {
          attempts = attempt;
          return undoing !== undefined && forward !== undefined
            ? device.adapter.revert(forward, target, undoing.result ?? { detail: '' }, options)
            : device.adapter.execute(action, target, options);
        },
        { ...this.options.retry, signal },
      );
    } catch (err) {
      device.breaker.failure();
      const unrecorded = recorded ? await this.noted(() => this.store.finishAction(id, 'failed')) : '';
      return out('failed', `${device.name}: ${(err as Error).message}${unrecorded}`, { attempts });
    }
    device.breaker.success();
    const extra: Partial<DeviceOutcome> = { actionId: id, attempts };
    let unrecorded = '';
    if (recorded) {
      unrecorded += await this.noted(() => this.store.setResult(id, result));
      if (expiresAt !== undefined) extra.expiresAt = new Date(expiresAt).toISOString();
    }
    if (undoing) unrecorded += await this.noted(() => this.store.finishAction(undoing.id, 'reverted'));
    return out('done', `${result.detail}${unrecorded}`, extra);
  }

  /**
   * A store write after the device has acted: a failure (an outage) must not hide what the device did, so it is
   * reported and told in the outcome's detail instead of thrown.
   */
  private async noted(write: () => Promise<unknown>): Promise<string> {
    try {
      await write();
      return '';
    } catch (err) {
      this.options.log?.('error', (err as Error).message);
      return ` (not recorded in the store: ${(err as Error).message})`;
    }
  }

  /** Why the blast-radius limits refuse another action on this device now, or undefined. */
  private rateLimited(device: ManagedDevice): string | undefined {
    let entry = this.perDevice.get(device.id);
    if (device.actionsPerMinute > 0 && entry?.limit !== device.actionsPerMinute) {
      const limit = device.actionsPerMinute;
      entry = { limit, limiter: new RateLimiter({ ratePerSecond: limit / 60, burst: limit }) };
      this.perDevice.set(device.id, entry);
    }
    if (device.actionsPerMinute > 0 && entry) {
      const d = entry.limiter.take(device.id);
      if (!d.allowed) {
        return `blast-radius limit: ${device.name} takes at most ${device.actionsPerMinute} actions a minute (next in ${d.retryAfterSeconds} s)`;
      }
    }
    const all = this.overall.take('all');
    if (!all.allowed)
      return `blast-radius limit: at most ${this.options.actionsPerMinute ?? 60} actions a minute overall (next in ${all.retryAfterSeconds} s)`;
    return undefined;
  }

  private auditRefusal(request: ResponseRequest, outcome: ResponseOutcome): void {
    this.audit.append({
      kind: 'action',
      actor: request.requestedBy,
      caseId: request.caseId,
      action: String(request.action),
      target: typeof request.target?.value === 'string' ? request.target.value : undefined,
      outcome: 'refused',
      detail: { reason: outcome.reason, dryRun: outcome.dryRun },
    });
  }

  /**
   * Reverts every action whose duration is over (claiming each, so that another instance sharing the store does not
   * revert it too); then waits for the next expiry. Safe to call at any time.
   */
  async revertExpired(): Promise<number> {
    if (this.reverting || this.closed) return 0;
    this.reverting = true;
    let count = 0;
    try {
      for (;;) {
        // One claim per revert: a claim of several could lapse while a slow device works through them, and another
        // instance would then revert the rest again.
        const due = await this.store.dueActions(this.now(), 1, this.options.claimMs);
        if (due.length === 0) break;
        for (const record of due) {
          count++;
          await this.revertOne(record);
        }
        if (this.closed) break;
      }
    } finally {
      this.reverting = false;
      this.scheduleExpiry();
    }
    return count;
  }

  private async revertOne(record: ActionRecord): Promise<void> {
    const device = this.fleet.get(record.device);
    const undo = UNDO[record.action] as Capability;
    const target: ActionTarget = { kind: record.targetKind as ActionTarget['kind'], value: record.target };
    let status: 'expired' | 'revert-failed';
    let detail: string;
    if (!device) {
      status = 'revert-failed';
      detail = `device ${record.deviceName} is no longer configured: ${record.action} ${record.target} stays in force`;
    } else {
      try {
        const result = await withRetries(
          () =>
            device.adapter.revert(record.action, target, record.result ?? { detail: '' }, {
              reason: `expiry of ${record.action}`,
            }),
          this.options.retry,
        );
        status = 'expired';
        detail = result.detail;
      } catch (err) {
        status = 'revert-failed';
        detail = `${device.name}: ${undo} ${record.target} failed: ${(err as Error).message}`;
      }
    }
    // A device that is down or being redeployed at expiry is asked again later (every few minutes, for a day)
    // rather than leaving the action in force for good.
    const overdue = this.now() - (record.expiresAt ?? this.now());
    if (status === 'revert-failed' && overdue < REVERT_RETRY_FOR_MS) {
      await this.store.postpone(record.id, this.now() + REVERT_RETRY_EVERY_MS);
      this.options.log?.('warn', `${detail}; trying again in ${REVERT_RETRY_EVERY_MS / 60_000} minutes`);
      return;
    }
    // Another instance finished it meanwhile: its audit entry and case record are that instance's to write.
    if (!(await this.store.finishAction(record.id, status))) return;
    try {
      this.audit.append({
        kind: 'action',
        actor: 'expiry',
        caseId: record.caseId,
        action: undo,
        target: record.target,
        device: record.deviceName,
        outcome: status,
        detail: { detail, actionId: record.id },
      });
    } catch (err) {
      this.options.log?.('error', `audit log: ${(err as Error).message}`);
    }
    this.options.onExpired?.(record, status, detail);
  }

  /**
   * Arms one timer for the next expiry (at most a day ahead, or `sweepEveryMs`; it re-arms then). A store that
   * cannot be read is asked again later, so an outage does not stop the expiries for good.
   */
  scheduleExpiry(): void {
    if (this.closed) return;
    const turn = ++this.scheduling;
    this.store.nextExpiry().then(
      (next) => this.armExpiry(turn, next === undefined ? undefined : next - this.now()),
      (err: Error) => {
        this.options.log?.('error', `expiry: ${err.message}`);
        this.armExpiry(turn, STORE_RETRY_MS);
      },
    );
  }

  /**
   * An action was just recorded to expire at `expiresAt`: the timer is armed for it unless it is armed for no later
   * already (it then finds the next expiry when it fires). Most actions expire after those before them, so most
   * cost nothing here, not even a read of the store.
   */
  private expiring(expiresAt: number): void {
    if (this.expiryTimer !== undefined && this.expiryDueAt <= expiresAt) return;
    this.scheduleExpiry();
  }

  /**
   * Arms the timer `waitMs` ahead, unless it is armed for no later already. Not re-armed with a new duration each
   * time: Node keeps the (empty) list of every duration an unref'd timer was cleared from until that duration has
   * passed, and a timer re-armed per action left one per action, for up to a day.
   */
  private armExpiry(turn: number, waitMs: number | undefined): void {
    if (this.closed || turn !== this.scheduling) return;
    const sweep = this.options.sweepEveryMs;
    if (waitMs === undefined && sweep === undefined) return this.disarmExpiry();
    const wait = Math.min(Math.max(0, waitMs ?? Infinity), sweep ?? Infinity, MAX_EXPIRY_WAIT_MS);
    const dueAt = this.now() + wait;
    if (this.expiryTimer !== undefined && this.expiryDueAt <= dueAt) return;
    this.disarmExpiry();
    this.expiryDueAt = dueAt;
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = undefined;
      this.revertExpired().catch((err: Error) => this.options.log?.('error', `expiry: ${err.message}`));
    }, wait);
    this.expiryTimer.unref();
  }

  private disarmExpiry(): void {
    if (this.expiryTimer !== undefined) clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
  }

  close(): void {
    this.closed = true;
    this.disarmExpiry();
  }
}
