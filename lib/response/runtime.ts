/**
 * The response engine of a process, shared by every `soar-respond` and `soar-approval` node: one per store file,
 * over the store database (actions in force, approvals), the audit log in the data dir, the device fleet, and the
 * protected assets of the settings. Expiries of actions are noted in their cases.
 */
import { acquireAuditLog, releaseAuditLog, type AuditLog } from '../audit';
import { acquireCaseStore, releaseCaseStore } from '../cases';
import { fleet } from '../devices/fleet';
import { SharedResources } from '../shared';
import { acquireStoreDatabase, releaseStoreDatabase, type StoreSync } from '../store/database';
import { recordExpiry } from './case-record';
import { ResponseEngine } from './engine';
import { ProtectedAssets } from './protected';
import { ResponseStore } from './response-store';

export interface ResponseRuntimeOptions {
  storeFile: string;
  auditFile: string;
  synchronous?: StoreSync;
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
  releaseCaseStore(r.options.storeFile);
  releaseStoreDatabase(r.options.storeFile);
});

export function acquireResponseRuntime(options: ResponseRuntimeOptions): ResponseRuntime {
  return runtimes.acquire(options.storeFile, () => {
    // First what can fail on bad settings, before anything is opened that would then have to be closed again.
    const protectedAssets = new ProtectedAssets(options.protectedAssets);
    const db = acquireStoreDatabase(options.storeFile, { synchronous: options.synchronous });
    const store = new ResponseStore(db);
    let audit: AuditLog;
    try {
      audit = acquireAuditLog(options.auditFile);
    } catch (err) {
      releaseStoreDatabase(options.storeFile);
      throw err;
    }
    const cases = acquireCaseStore(options.storeFile, { synchronous: options.synchronous });
    const engine = new ResponseEngine(fleet, store, audit, protectedAssets, {
      actionsPerMinute: options.actionsPerMinute,
      log: options.log,
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
export function releaseResponseRuntime(storeFile: string, graceMs = 5000): void {
  runtimes.release(storeFile, graceMs);
}
