/**
 * The response engine of a process, shared by every `soar-respond` and `soar-approval` node: one per store location
 * (the SQLite file, or the PostgreSQL URL several instances share), over the response store (actions in force,
 * approvals), the audit log in the data dir, the device fleet, and the protected assets of the settings. Expiries
 * of actions are noted in their cases.
 */
import { acquireAuditLog, releaseAuditLog, type AuditLog } from '../audit';
import { acquireCaseStore, releaseCaseStore } from '../cases';
import { fleet } from '../devices/fleet';
import { SharedResources } from '../shared';
import type { StoreSync } from '../store/database';
import { recordExpiry } from './case-record';
import { ResponseEngine } from './engine';
import { ProtectedAssets } from './protected';
import type { ResponseStore } from './response-store';
import { acquireResponseStore, releaseResponseStore } from './response-stores';

/** With a store shared by several instances, how often each looks for due actions nobody here armed a timer for. */
const SHARED_SWEEP_MS = 30_000;

export interface ResponseRuntimeOptions {
  /** `storeLocation(...)` of lib/settings: the SQLite file or the PostgreSQL URL. */
  location: string;
  auditFile: string;
  synchronous?: StoreSync;
  /** The case store's `alertIdRetentionDays` (lib/cases), should the runtime be the first to open it. */
  alertIdRetentionDays?: number;
  /** Assets never acted on, besides this host, its gateways and resolvers. */
  protectedAssets?: { cidrs?: string[]; hosts?: string[] };
  /** Most device actions a minute over all devices. Default 60. */
  actionsPerMinute?: number;
  /** Where the engine reports its own trouble (Node-RED's log). */
  log?: (level: 'warn' | 'error', message: string) => void;
}

export interface ResponseRuntime {
  engine: ResponseEngine;
  store: ResponseStore;
  audit: AuditLog;
}

const runtimes = new SharedResources<ResponseRuntime & { options: ResponseRuntimeOptions }>((r) => {
  r.engine.close();
  releaseAuditLog(r.options.auditFile);
  releaseCaseStore(r.options.location);
  releaseResponseStore(r.options.location);
});

export function acquireResponseRuntime(options: ResponseRuntimeOptions): ResponseRuntime {
  return runtimes.acquire(options.location, () => {
    // First what can fail on bad settings, before anything is opened that would then have to be closed again.
    const protectedAssets = new ProtectedAssets(options.protectedAssets);
    const store = acquireResponseStore(options.location, { synchronous: options.synchronous });
    let audit: AuditLog;
    try {
      audit = acquireAuditLog(options.auditFile);
    } catch (err) {
      releaseResponseStore(options.location);
      throw err;
    }
    let cases: ReturnType<typeof acquireCaseStore>;
    try {
      cases = acquireCaseStore(options.location, {
        synchronous: options.synchronous,
        alertIdRetentionDays: options.alertIdRetentionDays,
      });
    } catch (err) {
      releaseAuditLog(options.auditFile);
      releaseResponseStore(options.location);
      throw err;
    }
    const engine = new ResponseEngine(fleet, store, audit, protectedAssets, {
      actionsPerMinute: options.actionsPerMinute,
      log: options.log,
      ...(store.shared ? { sweepEveryMs: SHARED_SWEEP_MS } : {}),
      onExpired: (record, outcome, detail) => {
        if (!record.caseId) return;
        cases.update(record.caseId, (c, now) => recordExpiry(c, record, outcome, detail, now)).catch(() => undefined); // the case may be gone; the audit log has the expiry
      },
    });
    // Expiries that came due while the process was down are carried out now.
    setImmediate(() => {
      engine.revertExpired().catch((err: Error) => options.log?.('error', `expiry: ${err.message}`));
    });
    return { engine, store, audit, options };
  });
}

/** Kept a few seconds after the last user, so a redeploy does not reopen everything. */
export function releaseResponseRuntime(location: string, graceMs = 5000): void {
  runtimes.release(location, graceMs);
}
