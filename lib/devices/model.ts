/**
 * Response devices: what a device type (built in, or from a plug-in package) declares, and the adapter it creates
 * for one configured device. No Node-RED imports: the `soar-device-type` plug-in type and the `soar-device` config
 * node wrap these.
 */

/** What devices can be asked to do; each `…` has its undo (`block-ip` / `unblock-ip`, …). */
export const CAPABILITIES = [
  'block-ip',
  'unblock-ip',
  'isolate-host',
  'release-host',
  'quarantine-file',
  'release-file',
  'sinkhole-domain',
  'unsinkhole-domain',
  'block-url',
  'unblock-url',
  'collect-host-context',
] as const;
export type Capability = (typeof CAPABILITIES)[number];

/** The action that undoes an action, for the actions that have one. */
export const UNDO: Readonly<Partial<Record<Capability, Capability>>> = {
  'block-ip': 'unblock-ip',
  'isolate-host': 'release-host',
  'quarantine-file': 'release-file',
  'sinkhole-domain': 'unsinkhole-domain',
  'block-url': 'unblock-url',
};

/** What a device manages: the networks, the hosts (names, `*` wildcards) and the tags of assets it can act on. */
export interface DeviceScope {
  /** IPv4/IPv6 CIDRs (a bare address is a /32 or /128). `0.0.0.0/0` and `::/0`: everything. */
  cidrs: string[];
  /** Host name patterns, case-insensitive, `*` matching any run of characters within the name (`web-*.corp`). */
  hosts: string[];
  /** Asset tags (`pci`, `dmz`, …): a target carrying one of them is in scope. */
  tags: string[];
}

export type HealthStatus = 'ok' | 'degraded' | 'down';

export interface DeviceHealth {
  status: HealthStatus;
  /** ISO time of the check. */
  checkedAt: string;
  /** Why it is not ok (or a note when it is). */
  reason?: string;
}

/** What an action is aimed at. */
export interface ActionTarget {
  /**
   * `ip` (IPv4 or IPv6 address or CIDR), `host` (a host name), `domain`, `file` (a hash or a path), `url` (an
   * absolute URL; devices are chosen by its host, as for a domain).
   */
  kind: 'ip' | 'host' | 'domain' | 'file' | 'url';
  value: string;
  /** Tags of the asset, when known (from the case or the message), for tag scopes. */
  tags?: string[];
  /** A host the action concerns (e.g. where a file is to be quarantined), for host scopes. */
  host?: string;
}

export interface ActionOptions {
  /** Seconds after which the device itself should undo the action, when it can (nftables element timeouts). */
  durationSeconds?: number;
  /** Why (the case id and title), for the device's own logs and comments. */
  reason?: string;
  signal?: AbortSignal;
}

export interface ActionResult {
  /** What the device did, in words for the timeline. */
  detail: string;
  /** A device-side reference needed to revert (a rule handle, a ticket id), when there is one. */
  ref?: string;
  /** Data the action returned (host context for `collect-host-context`). */
  data?: unknown;
}

/** One configured device, as its type's factory creates it. Methods throw (or reject) with a readable reason. */
export interface DeviceAdapter {
  /** This device's capabilities, when narrower than its type's (a REST device has requests for some actions only). */
  readonly capabilities?: readonly Capability[];
  health(signal?: AbortSignal): Promise<DeviceHealth>;
  execute(action: Capability, target: ActionTarget, options: ActionOptions): Promise<ActionResult>;
  /** Undoes what `execute` did (with its result), e.g. on expiry. */
  revert(action: Capability, target: ActionTarget, result: ActionResult, options: ActionOptions): Promise<ActionResult>;
  /** Releases connections and timers. */
  close?(): Promise<void>;
}

/** A JSON Schema (draft 2020-12 as ajv takes it). */
export type JsonSchema = Record<string, unknown>;

export interface DeviceContext {
  /** The device's name (for messages). */
  name: string;
  log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

/** A kind of device, as a plug-in registers it. */
export interface DeviceType<Settings = Record<string, unknown>, Credentials = Record<string, unknown>> {
  /** Unique, lower-case (`nftables`, `acme-edr`). */
  id: string;
  label: string;
  capabilities: Capability[];
  /** Validates the device's settings (ajv); also drives the edit dialog's fields. */
  settingsSchema: JsonSchema;
  /** Validates its credentials; their properties are stored as Node-RED credentials, never in the flow. */
  credentialsSchema: JsonSchema;
  create(settings: Settings, credentials: Credentials, context: DeviceContext): DeviceAdapter;
}
