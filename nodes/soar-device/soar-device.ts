import type { Node, NodeAPI, NodeDef } from 'node-red';
import type { Request, Response } from 'express';
import { fleet } from '../../lib/devices/fleet';
import { CAPABILITIES, type Capability, type DeviceType } from '../../lib/devices/model';
import { checkDeviceType, type CheckedDeviceType } from '../../lib/devices/registry';
import { BUILT_IN_DEVICE_TYPES } from '../../lib/devices/types';

interface DeviceNodeDef extends NodeDef {
  deviceType: string;
  /** One entry per line (or comma-separated). */
  cidrs: string;
  hosts: string;
  tags: string;
  /** The device type's settings, as JSON text. */
  settings: string;
  actionsPerMinute: string | number;
  /** Actions that need an analyst's approval, comma-separated. */
  approval: string;
  healthSeconds: string | number;
}

interface DeviceCredentials {
  username?: string;
  password?: string;
  token?: string;
  headerName?: string;
}

interface PluginAPI {
  plugins: { getByType(type: string): { id: string; deviceType?: unknown }[] };
}

const list = (text: string | undefined): string[] =>
  (text ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');

const KNOWN: ReadonlySet<string> = new Set(CAPABILITIES);

export = function (RED: NodeAPI) {
  const checked = new WeakMap<object, CheckedDeviceType>();
  /**
   * Every device type known now: the built-in ones, then those of device plug-ins (a package installed from the
   * palette adds one at run time). The first of an id wins, so a plug-in cannot replace a built-in type.
   */
  const deviceTypes = (): Map<string, CheckedDeviceType> => {
    const out = new Map<string, CheckedDeviceType>();
    const plugins = (RED as unknown as PluginAPI).plugins.getByType('soar-device-type');
    for (const plugin of [
      ...BUILT_IN_DEVICE_TYPES.map((deviceType) => ({ id: deviceType.id, deviceType })),
      ...plugins,
    ]) {
      const definition = plugin.deviceType;
      if (definition === null || typeof definition !== 'object') continue;
      try {
        let c = checked.get(definition);
        if (!c) checked.set(definition, (c = checkDeviceType(definition)));
        if (!out.has(c.type.id)) out.set(c.type.id, c);
      } catch (err) {
        RED.log.warn(`soar: device plug-in ${plugin.id}: ${(err as Error).message}`);
      }
    }
    return out;
  };

  RED.httpAdmin.get('/soar/devices', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    res.json({ items: fleet.list() });
  });
  RED.httpAdmin.post(
    '/soar/devices/:id/health',
    RED.auth.needsPermission('soar.write'),
    (req: Request, res: Response) => {
      fleet.checkHealth(req.params.id as string).then(
        (health) => (health ? res.json(health) : res.status(404).json({ error: 'no such device' })),
        (err: Error) => res.status(500).json({ error: err.message }),
      );
    },
  );
  RED.httpAdmin.get('/soar/device-types', RED.auth.needsPermission('soar.read'), (_req: Request, res: Response) => {
    res.json({
      items: [...deviceTypes().values()].map(({ type }: { type: DeviceType }) => ({
        id: type.id,
        label: type.label,
        capabilities: type.capabilities,
        settingsSchema: type.settingsSchema,
        credentialsSchema: type.credentialsSchema,
      })),
    });
  });

  function SoarDevice(this: Node<DeviceCredentials>, config: DeviceNodeDef) {
    RED.nodes.createNode(this, config);
    const node = this;
    const name = config.name || config.deviceType || node.id;
    let timer: NodeJS.Timeout | undefined;
    let lastStatus: string | undefined;

    try {
      const type = deviceTypes().get(config.deviceType);
      if (!type) {
        const known = [...deviceTypes().keys()].join(', ') || 'none';
        throw new Error(`device type ${JSON.stringify(config.deviceType)} is not installed (installed: ${known})`);
      }
      let settings: unknown;
      try {
        settings = JSON.parse(config.settings || '{}');
      } catch (err) {
        throw new Error(`settings are not JSON: ${(err as Error).message}`, { cause: err });
      }
      const approval = list(config.approval);
      for (const a of approval) if (!KNOWN.has(a)) throw new Error(`unknown action in the approval policy: ${a}`);
      const credentials: Record<string, string> = {};
      for (const [k, v] of Object.entries(node.credentials ?? {}))
        if (typeof v === 'string' && v !== '') credentials[k] = v;
      fleet.add(
        {
          id: node.id,
          name,
          scope: { cidrs: list(config.cidrs), hosts: list(config.hosts), tags: list(config.tags) },
          settings,
          credentials,
          actionsPerMinute: Number(config.actionsPerMinute ?? 10),
          approval: approval as Capability[],
        },
        type,
        (level, message) =>
          level === 'error' ? node.error(message) : level === 'warn' ? node.warn(message) : node.log(message),
      );
    } catch (err) {
      // A config node has no status: the error goes to the log, and soar-respond finds no such device.
      node.error(`device ${name}: ${(err as Error).message}`);
      return;
    }

    let checking = false;
    const check = () => {
      // A slow device is not asked again while it is still answering the last check.
      if (checking) return;
      checking = true;
      fleet
        .checkHealth(node.id)
        .finally(() => (checking = false))
        .then(
          (health) => {
            if (!health) return;
            const text = `${health.status}${health.reason ? `: ${health.reason}` : ''}`;
            if (health.status !== lastStatus) {
              if (health.status === 'ok') node.log(`device ${name} is ${text}`);
              else node.warn(`device ${name} is ${text}`);
            }
            lastStatus = health.status;
          },
          (err: Error) => node.warn(`device ${name}: health check failed: ${err.message}`),
        );
    };
    setImmediate(check);
    const seconds = Number(config.healthSeconds ?? 60);
    if (seconds > 0) timer = setInterval(check, Math.max(5, seconds) * 1000);

    node.on('close', (done: () => void) => {
      if (timer) clearInterval(timer);
      fleet.remove(node.id).then(done, done);
    });
  }

  RED.nodes.registerType<Node<DeviceCredentials>, DeviceNodeDef, object, DeviceCredentials>('soar-device', SoarDevice, {
    credentials: {
      username: { type: 'text' },
      password: { type: 'password' },
      token: { type: 'password' },
      headerName: { type: 'text' },
    },
  });
};
