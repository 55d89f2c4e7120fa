/**
 * The lab device: an in-process device that carries out nothing and records everything it is asked to do. The
 * default flow uses it so that `npm start` shows the whole loop (alert → case → response) without a real firewall;
 * its name and every result say "lab", so nobody mistakes it for protection. Tests use `fail` and `down` to play
 * a device that errors or is unreachable.
 */
import { CAPABILITIES, type ActionResult, type Capability, type DeviceType } from '../model';

export interface LabSettings {
  /** Actions that fail (the device answers with an error), to rehearse failures. */
  fail?: Capability[];
  /** The health check reports the device down. */
  down?: boolean;
  /** Milliseconds each call takes. Default 0. */
  latencyMs?: number;
}

export interface LabRecord {
  at: string;
  device: string;
  call: 'execute' | 'revert';
  action: Capability;
  target: string;
  durationSeconds?: number;
}

/** Everything every lab device was asked, newest last (bounded), for tests and for the curious analyst. */
export const labJournal: LabRecord[] = [];
const MAX_JOURNAL = 1000;

/** Waits `ms`; the abort listener goes with the wait, as callers pass one long-lived signal for many calls. */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (ms <= 0) return resolve();
    if (signal?.aborted) return reject(new Error('aborted'));
    const onAbort = () => {
      clearTimeout(timer);
      reject(new Error('aborted'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const labDeviceType: DeviceType<LabSettings, Record<string, never>> = {
  id: 'lab',
  label: 'lab device (records actions, changes nothing)',
  capabilities: [...CAPABILITIES],
  settingsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      fail: { type: 'array', items: { enum: [...CAPABILITIES] }, uniqueItems: true },
      down: { type: 'boolean' },
      latencyMs: { type: 'integer', minimum: 0, maximum: 60000 },
    },
  },
  credentialsSchema: { type: 'object', additionalProperties: false, properties: {} },
  create(settings, _credentials, context) {
    const record = (call: LabRecord['call'], action: Capability, target: string, durationSeconds?: number) => {
      labJournal.push({ at: new Date().toISOString(), device: context.name, call, action, target, durationSeconds });
      if (labJournal.length > MAX_JOURNAL) labJournal.splice(0, labJournal.length - MAX_JOURNAL);
    };
    const act = async (
      call: LabRecord['call'],
      action: Capability,
      target: string,
      signal?: AbortSignal,
      durationSeconds?: number,
    ): Promise<ActionResult> => {
      await sleep(settings.latencyMs ?? 0, signal);
      if (settings.fail?.includes(action)) throw new Error(`lab device ${context.name}: ${action} set to fail`);
      record(call, action, target, durationSeconds);
      const verb = call === 'revert' ? `reverted ${action}` : action;
      return { detail: `lab device ${context.name}: ${verb} ${target} (recorded only; nothing changed)` };
    };
    return {
      async health() {
        return settings.down
          ? { status: 'down', checkedAt: new Date().toISOString(), reason: 'lab device set down' }
          : { status: 'ok', checkedAt: new Date().toISOString(), reason: 'lab device: records actions only' };
      },
      execute: (action, target, options) =>
        act('execute', action, target.value, options.signal, options.durationSeconds),
      revert: (action, target, _result, options) => act('revert', action, target.value, options.signal),
    };
  },
};
