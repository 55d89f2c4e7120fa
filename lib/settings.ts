import { join } from 'node:path';
import type { JournalSync } from './intake/journal';
import type { AllowlistSwitches } from './ioc/allowlists';

/**
 * The `soar` section of Node-RED's settings.js, shared by our nodes. Everything is optional; `settings.js` at the
 * package root fills it for `npm start`.
 */
export interface SoarSettings {
  /** Where the product keeps its state; defaults to Node-RED's userDir. */
  dataDir?: string;
  /** Fallback intake token when neither the node credential nor SOAR_INTAKE_TOKEN is set. */
  intakeToken?: string;
  /** `full` makes every commit of the journal and the store fsync (survives power loss); `normal` survives crashes. */
  sync?: JournalSync;
  /** Switches for the IOC library's default allowlists (lib/ioc/allowlists), e.g. `{ "public-resolvers": false }`. */
  allowlists?: AllowlistSwitches;
  /** Assets no response action may cut off, besides this host, its gateways and resolvers. */
  protectedAssets?: { cidrs?: string[]; hosts?: string[] };
  /** Most device actions a minute over all devices (the overall blast-radius limit). Default 60. */
  actionsPerMinute?: number;
  /** Seconds a playbook run may stay open before it is recorded as `timeout` (a tab's SOAR_RUN_TIMEOUT_SECONDS wins). Default 300. */
  runTimeoutSeconds?: number;
  /** `false` switches playbook run tracking off. */
  runTracking?: boolean;
  /** Days finished playbook runs are kept in the run store (the run counters are kept for good). Default 30. */
  runRetentionDays?: number;
  /**
   * Days a case store remembers the alert ids it grouped, so that an alert delivered again (replayed after a crash,
   * sent twice by its source) is counted once; 0 remembers them for good. Default 7.
   */
  alertIdRetentionDays?: number;
  /** Most playbook runs followed at once; past it new runs are counted as untracked. Default 100,000. */
  maxOpenRuns?: number;
  /** Seconds `/soar/metrics` (and the Prometheus scrape) reuse figures computed before. Default 10; 0 never. */
  metricsCacheSeconds?: number;
  /**
   * `postgres://…` (settings.js takes it from SOAR_STORE_URL): the shared store of several instances lives in
   * PostgreSQL instead of the SQLite files of the data dir.
   */
  storeUrl?: string;
}

/** The options every opener of the case store passes (the first one's hold for the process). */
export function caseStoreOptions(soar: SoarSettings | undefined): {
  synchronous?: JournalSync;
  alertIdRetentionDays?: number;
} {
  return { synchronous: soar?.sync, alertIdRetentionDays: soar?.alertIdRetentionDays };
}

export function dataDir(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return soar?.dataDir ?? userDir ?? process.cwd();
}

/** The embedded store (context and cases). */
export function storeFile(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return join(dataDir(soar, userDir), 'soar-store.db');
}

/** The PostgreSQL store's URL when one is configured, else undefined (the embedded SQLite store). */
export function postgresStoreUrl(soar: SoarSettings | undefined): string | undefined {
  const url = soar?.storeUrl;
  return url && /^postgres(ql)?:\/\//i.test(url) ? url : undefined;
}

/**
 * Where the shared store lives: the PostgreSQL URL when one is configured, else the SQLite file of the data dir.
 * Every `acquire…` of a store part (cases, context, runs, response, IOC library) takes this and picks its
 * implementation by it.
 */
export function storeLocation(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return postgresStoreUrl(soar) ?? storeFile(soar, userDir);
}

/** Where the intake journal lives: the PostgreSQL URL when one is configured, else its own SQLite file. */
export function journalLocation(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return postgresStoreUrl(soar) ?? journalFile(soar, userDir);
}

export function journalFile(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return join(dataDir(soar, userDir), 'soar-intake.db');
}

/** The hash-chained audit log of response actions and approvals. */
export function auditFile(soar: SoarSettings | undefined, userDir: string | undefined): string {
  return join(dataDir(soar, userDir), 'soar-audit.jsonl');
}
