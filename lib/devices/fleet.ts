/**
 * The devices configured in this process (one `soar-device` config node each): their adapters, scopes, policies
 * and last health, and the selector the response engine asks which device to act on. The selector is rebuilt
 * lazily, on the first selection after a change, so deploying a thousand devices costs one rebuild, not a thousand.
 */
import type { ValidateFunction } from 'ajv';
import { soarEvents } from '../events';
import { CircuitBreaker, type CircuitBreakerOptions } from '../response/circuit-breaker';
import { CAPABILITIES, type Capability, type DeviceAdapter, type DeviceHealth, type DeviceScope } from './model';
import { schemaErrors, type CheckedDeviceType } from './registry';
import { validateScope } from './scope';
import { DeviceSelector, type Selection, type SelectMode } from './selection';
import type { ActionTarget } from './model';

export interface DeviceConfig {
  /** The config node's id. */
  id: string;
  name: string;
  scope: unknown;
  settings: unknown;
  credentials: unknown;
  /** Most actions per minute on this device (the blast-radius limit); 0: no limit. */
  actionsPerMinute: number;
  /** Actions on this device that wait for an analyst's approval. */
  approval: Capability[];
  breaker?: CircuitBreakerOptions;
}

/** What `GET /soar/devices` shows of a device (never its settings' secrets or credentials). */
export interface DeviceInfo {
  id: string;
  name: string;
  type: string;
  typeLabel: string;
  capabilities: Capability[];
  scope: DeviceScope;
  /** DESIGN's device status: `unknown` until the first health check. */
  status: DeviceHealth['status'] | 'unknown';
  checkedAt: string | null;
  reason: string | null;
  health: DeviceHealth | null;
  approval: Capability[];
  actionsPerMinute: number;
  circuit: string;
}

export class DeviceConfigError extends Error {}

export interface ManagedDevice {
  readonly id: string;
  readonly name: string;
  readonly type: CheckedDeviceType;
  readonly adapter: DeviceAdapter;
  readonly scope: DeviceScope;
  readonly approval: ReadonlySet<Capability>;
  readonly actionsPerMinute: number;
  readonly breaker: CircuitBreaker;
  health?: DeviceHealth;
}

const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);

function validated(validate: ValidateFunction, value: unknown, what: string): Record<string, unknown> {
  // ajv fills defaults in place: validate a copy, so the node's own config is left as the user wrote it.
  const copy = structuredClone(value ?? {}) as Record<string, unknown>;
  if (!validate(copy)) throw new DeviceConfigError(`${what}: ${schemaErrors(validate)}`);
  return copy;
}

/** What a device can do: its adapter's own list when it narrows the type's. */
export function capabilitiesOf(device: ManagedDevice): readonly Capability[] {
  return device.adapter.capabilities ?? device.type.type.capabilities;
}

export class DeviceFleet {
  private readonly devices = new Map<string, ManagedDevice>();
  private readonly selector = new DeviceSelector();
  private stale = false;
  private readonly listeners = new Set<(device: ManagedDevice) => void>();

  /** Adds (or replaces) a device; throws a DeviceConfigError naming what is wrong with its configuration. */
  add(config: DeviceConfig, type: CheckedDeviceType, log: (level: 'info' | 'warn' | 'error', m: string) => void) {
    let scope: DeviceScope;
    try {
      scope = validateScope(config.scope);
    } catch (err) {
      throw new DeviceConfigError(`device ${config.name}: ${(err as Error).message}`);
    }
    const settings = validated(type.validateSettings, config.settings, `device ${config.name}: settings`);
    const credentials = validated(type.validateCredentials, config.credentials, `device ${config.name}: credentials`);
    for (const a of config.approval) {
      if (!KNOWN.has(a)) throw new DeviceConfigError(`device ${config.name}: unknown action ${JSON.stringify(a)}`);
    }
    if (!(config.actionsPerMinute >= 0)) {
      throw new DeviceConfigError(`device ${config.name}: actions per minute must be 0 or more`);
    }
    let adapter: DeviceAdapter;
    try {
      adapter = type.type.create(settings, credentials, { name: config.name, log });
    } catch (err) {
      throw new DeviceConfigError(`device ${config.name}: ${(err as Error).message}`);
    }
    const device: ManagedDevice = {
      id: config.id,
      name: config.name,
      type,
      adapter,
      scope,
      approval: new Set(config.approval),
      actionsPerMinute: config.actionsPerMinute,
      breaker: new CircuitBreaker(config.breaker),
    };
    const previous = this.devices.get(config.id);
    this.devices.set(config.id, device);
    this.stale = true;
    if (previous) void previous.adapter.close?.().catch(() => undefined);
    return device;
  }

  /** Removes a device and closes its adapter. */
  async remove(id: string): Promise<void> {
    const device = this.devices.get(id);
    if (!device) return;
    this.devices.delete(id);
    this.stale = true;
    await device.adapter.close?.().catch(() => undefined);
  }

  get(id: string): ManagedDevice | undefined {
    return this.devices.get(id);
  }

  get size(): number {
    return this.devices.size;
  }

  list(): DeviceInfo[] {
    return [...this.devices.values()].map((d) => ({
      id: d.id,
      name: d.name,
      type: d.type.type.id,
      typeLabel: d.type.type.label,
      capabilities: [...capabilitiesOf(d)],
      scope: d.scope,
      status: d.health?.status ?? 'unknown',
      checkedAt: d.health?.checkedAt ?? null,
      reason: d.health?.reason ?? null,
      health: d.health ?? null,
      approval: [...d.approval],
      actionsPerMinute: d.actionsPerMinute,
      circuit: d.breaker.state,
    }));
  }

  /** Which device(s) to act on (see ./selection). */
  select(action: Capability, target: ActionTarget, mode: SelectMode = 'most-specific'): Selection {
    if (this.stale) {
      this.selector.setDevices(
        [...this.devices.values()].map((d) => ({
          id: d.id,
          name: d.name,
          capabilities: [...capabilitiesOf(d)],
          scope: d.scope,
          health: d.health,
        })),
      );
      this.stale = false;
    }
    return this.selector.select(action, target, mode);
  }

  /** Asks the device for its health (bounded by `timeoutMs`); a failing or slow check is `down` with the reason. */
  async checkHealth(id: string, timeoutMs = 10_000): Promise<DeviceHealth | undefined> {
    const device = this.devices.get(id);
    if (!device) return undefined;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<DeviceHealth>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve({ status: 'down', checkedAt: new Date().toISOString(), reason: `no answer in ${timeoutMs} ms` });
      }, timeoutMs);
    });
    let health: DeviceHealth;
    try {
      health = await Promise.race([device.adapter.health(controller.signal), timeout]);
    } catch (err) {
      health = { status: 'down', checkedAt: new Date().toISOString(), reason: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
    if (this.devices.get(id) !== device) return health; // replaced or removed meanwhile
    const before = device.health?.status;
    device.health = health;
    if (health.status !== before) soarEvents.emit('device', { id, status: health.status });
    if (!this.stale) this.selector.setHealth(id, health);
    for (const listener of this.listeners) listener(device);
    return health;
  }

  /** Called after every health check of any device. Returns the function that stops it. */
  onHealth(listener: (device: ManagedDevice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The devices of this Node-RED process. */
export const fleet = new DeviceFleet();
