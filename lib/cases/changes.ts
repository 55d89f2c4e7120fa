/**
 * Pure changes to a case: what grouping an alert does to it, and what analysts and nodes record on it. The store
 * applies them inside one transaction, so each is an atomic read-modify-write.
 */
import type { Alert, AlertMatch, ObservableType, Severity } from '../alert/model';
import { OBSERVABLE_TYPES, SEVERITIES } from '../alert/model';
import { makeObservable } from '../alert/observables';
import { worseVerdict } from '../ioc/verdict';
import {
  ACTION_STATUSES,
  CASE_STATUSES,
  MAX_ALERT_IDS,
  type ActionStatus,
  type Artifact,
  type Case,
  type CaseAction,
  type CaseStatus,
  type PlaybookRun,
  type TimelineEntry,
  MAX_ARTIFACTS,
  MAX_CASE_RUNS,
} from './model';
import { randomUUID } from 'node:crypto';

export class CaseChangeError extends Error {}

/** A new alert folds into an alert entry with the same message among this many latest timeline entries. */
const FOLD_WITHIN = 20;

export const severityRank = (s: Severity): number => SEVERITIES.indexOf(s);
const higher = (a: Severity, b: Severity): Severity => (severityRank(b) > severityRank(a) ? b : a);

export interface NewCaseOptions {
  id: string;
  type: string;
  key: string;
  severity?: Severity;
  slaMinutes?: number;
  now: string;
}

export function newCase(alert: Alert, options: NewCaseOptions): Case {
  const created: Case = {
    id: options.id,
    type: options.type,
    title: alert.title,
    status: 'new',
    severity: options.severity ? higher(options.severity, alert.severity) : alert.severity,
    key: options.key,
    created: options.now,
    updated: options.now,
    alertCount: 0,
    alerts: [],
    artifacts: [],
    ttps: [],
    timeline: [{ at: options.now, kind: 'created', message: `case opened (${options.type}) for ${options.key}` }],
    actions: [],
    runs: [],
  };
  if (options.slaMinutes && options.slaMinutes > 0) {
    const due = new Date(Date.parse(options.now) + options.slaMinutes * 60_000).toISOString();
    created.sla = { minutes: options.slaMinutes, dueAt: due };
  }
  return created;
}

function mergeArtifact(
  c: Case,
  type: ObservableType,
  value: string,
  source: string,
  now: string,
  ioc = false,
  index?: Map<string, Artifact>,
) {
  const existing = index
    ? index.get(type + '\n' + value)
    : c.artifacts.find((a) => a.type === type && a.value === value);
  if (existing) {
    existing.count += 1;
    existing.lastSeen = now;
    if (!existing.sources.includes(source)) existing.sources.push(source);
    if (ioc) existing.ioc = true;
    return existing;
  }
  const artifact: Artifact = { type, value, ioc, sources: [source], firstSeen: now, lastSeen: now, count: 1 };
  if (c.artifacts.length >= MAX_ARTIFACTS) {
    // A scan can name thousands of addresses: past the cap the case notes it once instead of growing.
    if (!c.timeline.some((t) => t.kind === 'artifacts-capped')) {
      c.timeline.push({
        at: now,
        kind: 'artifacts-capped',
        message: `more than ${MAX_ARTIFACTS} artifacts: later new ones are not kept`,
      });
    }
    return artifact;
  }
  c.artifacts.push(artifact);
  index?.set(type + '\n' + value, artifact);
  return artifact;
}

/** Marks an artifact as an IOC: the worse verdict wins (`malicious` is never downgraded), the feeds join its sources. */
function markIoc(artifact: Artifact, match: AlertMatch): void {
  markArtifactIoc(
    artifact,
    match.verdict,
    match.sources.map((s) => s.feed),
  );
}

/** An artifact an IOC feed lists: `ioc: true`, the worse verdict (never a better one), `ioc:<feed>` sources. */
export function markArtifactIoc(artifact: Artifact, verdict: string | undefined, feeds: readonly string[]): void {
  artifact.ioc = true;
  const worse = worseVerdict<string | undefined>(artifact.verdict, verdict);
  if (worse !== undefined) artifact.verdict = worse;
  for (const feed of feeds) {
    const source = `ioc:${feed}`;
    if (!artifact.sources.includes(source)) artifact.sources.push(source);
  }
}

/**
 * The IOC matches of an alert (set by soar-ioc-match): the matched observables' artifacts become `ioc: true` with
 * the match's verdict and `ioc:<feed>` sources. A matched observable the alert does not list (the alert was changed
 * after matching) is added as an artifact all the same, counted once however many indicators it matched.
 */
function mergeMatches(
  c: Case,
  alert: Alert,
  matches: readonly AlertMatch[],
  now: string,
  index: Map<string, Artifact> | undefined,
): void {
  const listed = new Set<string>();
  for (const o of alert.observables) listed.add(o.type + '\n' + o.value);
  for (const m of matches) {
    const { type, value } = m.observable;
    const key = type + '\n' + value;
    let artifact = index ? index.get(key) : c.artifacts.find((a) => a.type === type && a.value === value);
    if (artifact === undefined || !listed.has(key)) {
      artifact = mergeArtifact(c, type, value, alert.source, now, true, index);
      listed.add(key);
    }
    markIoc(artifact, m);
  }
}

/** An alert entry with this message among the latest timeline entries (alerts of a few rules often interleave). */
function recentAlertEntry(c: Case, message: string): TimelineEntry | undefined {
  for (let i = c.timeline.length - 1; i >= Math.max(0, c.timeline.length - FOLD_WITHIN); i--) {
    const entry = c.timeline[i];
    if (entry.kind === 'alert' && (entry.message === message || entry.message.endsWith(`× ${message}`))) return entry;
  }
  return undefined;
}

/**
 * Adds an alert to a case: counted, its observables as artifacts (those its IOC `matches` name marked `ioc: true`
 * with their verdict), its ATT&CK ids as TTPs, severity raised, and a
 * timeline entry — a run of alerts with the same title folds into one entry with a count, so that an alert storm
 * stays readable (and the case small).
 */
export function mergeAlert(c: Case, alert: Alert, now: string): void {
  c.alertCount += 1;
  c.alerts.push(alert.id);
  if (c.alerts.length > MAX_ALERT_IDS) c.alerts.splice(0, c.alerts.length - MAX_ALERT_IDS);
  const matches = alert.matches ?? [];
  if (alert.observables.length > 0 || matches.length > 0) {
    const index = c.artifacts.length > 8 ? new Map(c.artifacts.map((a) => [a.type + '\n' + a.value, a])) : undefined;
    for (const o of alert.observables) mergeArtifact(c, o.type, o.value, alert.source, now, false, index);
    if (matches.length > 0) mergeMatches(c, alert, matches, now, index);
  }
  for (const t of alert.attack) if (!c.ttps.includes(t)) c.ttps.push(t);
  const raised = higher(c.severity, alert.severity);
  if (raised !== c.severity) {
    c.timeline.push({ at: now, kind: 'severity', message: `severity raised from ${c.severity} to ${raised}` });
    c.severity = raised;
  }
  const message = `${alert.source} alert: ${alert.title}`;
  const folded = recentAlertEntry(c, message);
  if (folded) {
    folded.count = (folded.count ?? 1) + 1;
    folded.until = now;
    folded.message = `${folded.count} × ${message}`;
  } else {
    c.timeline.push({ at: now, kind: 'alert', message });
  }
  c.updated = now;
}

export interface CasePatch {
  status?: string;
  severity?: string;
  assignee?: string;
  note?: string;
}

function check<T extends string>(value: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new CaseChangeError(`invalid ${what} "${value}": expected one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Validates a patch before anything is written (so a bad request changes nothing). */
export function validatePatch(patch: unknown): CasePatch {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw new CaseChangeError('expected an object with status, severity, assignee or note');
  }
  const p = patch as Record<string, unknown>;
  const out: CasePatch = {};
  for (const field of Object.keys(p)) {
    if (!['status', 'severity', 'assignee', 'note'].includes(field)) {
      throw new CaseChangeError(`unknown field "${field}": a case update takes status, severity, assignee and note`);
    }
    const value = p[field];
    if (typeof value !== 'string') throw new CaseChangeError(`${field} must be a string`);
    if (field === 'status') check(value, CASE_STATUSES, 'status');
    if (field === 'severity') check(value, SEVERITIES, 'severity');
    if (field === 'note' && value.trim() === '') throw new CaseChangeError('note must not be empty');
    out[field as keyof CasePatch] = value;
  }
  if (Object.keys(out).length === 0)
    throw new CaseChangeError('nothing to update: give status, severity, assignee or note');
  return out;
}

export function setStatus(c: Case, status: CaseStatus, by: string | undefined, now: string, reason?: string): void {
  if (status === c.status) return;
  c.timeline.push({
    at: now,
    kind: 'status',
    message: `status ${c.status} → ${status}` + (reason ? `: ${reason}` : ''),
    ...(by ? { by } : {}),
  });
  if (status === 'resolved' || status === 'closed') c.resolvedAt ??= now;
  else delete c.resolvedAt;
  c.status = status;
  c.updated = now;
}

export function applyPatch(c: Case, patch: CasePatch, by: string | undefined, now: string): void {
  if (patch.status) setStatus(c, patch.status as CaseStatus, by, now);
  if (patch.severity && patch.severity !== c.severity) {
    c.timeline.push({
      at: now,
      kind: 'severity',
      message: `severity ${c.severity} → ${patch.severity}`,
      ...(by ? { by } : {}),
    });
    c.severity = patch.severity as Severity;
  }
  if (patch.assignee !== undefined && patch.assignee !== c.assignee) {
    c.timeline.push({
      at: now,
      kind: 'assignee',
      message: `assigned to ${patch.assignee || 'nobody'}`,
      ...(by ? { by } : {}),
    });
    if (patch.assignee) c.assignee = patch.assignee;
    else delete c.assignee;
  }
  if (patch.note) c.timeline.push({ at: now, kind: 'note', message: patch.note, ...(by ? { by } : {}) });
  c.updated = now;
}

export function addArtifact(
  c: Case,
  input: { type: string; value: string; ioc?: boolean; verdict?: string; source?: string },
  now: string,
): Artifact {
  const type = check(input.type, OBSERVABLE_TYPES, 'artifact type');
  const canonical = makeObservable(type, input.value, 'related');
  if (!canonical) throw new CaseChangeError(`"${input.value}" is not a valid ${type}`);
  const artifact = mergeArtifact(c, type, canonical.value, input.source ?? 'analyst', now, input.ioc);
  if (input.verdict) artifact.verdict = input.verdict;
  c.updated = now;
  return artifact;
}

export function addTimeline(c: Case, entry: { kind?: string; message: string; by?: string }, now: string): void {
  if (!entry.message) throw new CaseChangeError('a timeline entry needs a message');
  c.timeline.push({
    at: now,
    kind: entry.kind || 'note',
    message: entry.message,
    ...(entry.by ? { by: entry.by } : {}),
  });
  c.updated = now;
}

export function recordAction(
  c: Case,
  input: { action: string; target: string; device?: string; status: string; expiresAt?: string; id?: string },
  now: string,
): CaseAction {
  if (!input.action || !input.target) throw new CaseChangeError('an action needs an action name and a target');
  const action: CaseAction = {
    id: input.id || randomUUID(),
    at: now,
    action: input.action,
    target: input.target,
    status: check(input.status, ACTION_STATUSES, 'action status') as ActionStatus,
    ...(input.device ? { device: input.device } : {}),
    ...(input.expiresAt ? { expiresAt: input.expiresAt } : {}),
  };
  c.actions.push(action);
  c.timeline.push({
    at: now,
    kind: 'action',
    message: `${action.action} ${action.target}${action.device ? ` on ${action.device}` : ''}: ${action.status}`,
  });
  // Time to respond counts actions carried out (or tried), not rehearsals or requests.
  if (action.status !== 'dry-run' && action.status !== 'pending-approval') c.firstActionAt ??= now;
  c.updated = now;
  return action;
}

/**
 * Records a playbook run on a case. A run with a `runId` the case already has is updated (a run recorded when it
 * started, then when it finished). The case keeps its newest MAX_CASE_RUNS runs. A run tracked automatically
 * (with a `runId`) goes into the timeline only when it did not succeed, so that a case of a thousand alerts does
 * not get a thousand "success" entries; a run recorded by hand always does. Only a timeline entry makes the case
 * `updated`: an automatic run that succeeded is no news for the analyst (the case list stays in its order).
 */
export function recordRun(c: Case, run: PlaybookRun, now: string): void {
  if (!run.playbook || !run.started) throw new CaseChangeError('a playbook run needs a playbook and a start time');
  const entry: PlaybookRun = { playbook: run.playbook, started: run.started };
  for (const field of ['finished', 'outcome', 'version', 'runId', 'error'] as const) {
    if (run[field] !== undefined) entry[field] = run[field];
  }
  const existing = entry.runId === undefined ? -1 : c.runs.findIndex((r) => r.runId === entry.runId);
  if (existing >= 0) c.runs[existing] = entry;
  else c.runs.push(entry);
  if (c.runs.length > MAX_CASE_RUNS) c.runs.splice(0, c.runs.length - MAX_CASE_RUNS);
  if (entry.runId === undefined || (entry.outcome !== undefined && entry.outcome !== 'success')) {
    const version = entry.version ? ` ${entry.version}` : '';
    const why = entry.error ? ` (${entry.error})` : '';
    c.timeline.push({
      at: now,
      kind: 'playbook',
      message: `playbook ${entry.playbook}${version}: ${entry.outcome ?? 'started'}${why}`,
    });
    c.updated = now;
  }
}
