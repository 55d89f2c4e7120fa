/**
 * How response outcomes appear in a case: each device outcome is an action (the case's `actions`, with a timeline
 * entry); a refusal is a timeline note; an action already in force adds nothing; an expiry changes the action's
 * status.
 */
import { recordAction } from '../cases/changes';
import type { ActionStatus, Case } from '../cases/model';
import type { ActionRecord } from './response-store';
import type { DeviceOutcomeStatus, ResponseOutcome } from './engine';

const CASE_STATUS: Record<DeviceOutcomeStatus, ActionStatus | undefined> = {
  done: 'done',
  failed: 'failed',
  'rate-limited': 'failed',
  'circuit-open': 'failed',
  'dry-run': 'dry-run',
  'pending-approval': 'pending-approval',
  already: undefined,
};

/**
 * Whether `recordOutcome` would change a case at all: an outcome whose every device action was already in force
 * adds nothing, and its caller need not rewrite the case.
 */
export function outcomeChangesCase(outcome: ResponseOutcome): boolean {
  return outcome.status === 'refused' || outcome.devices.some((d) => CASE_STATUS[d.status] !== undefined);
}

export function recordOutcome(c: Case, outcome: ResponseOutcome, now: string, by?: string): void {
  if (outcome.status === 'refused') {
    c.timeline.push({
      at: now,
      kind: 'action',
      message: `${outcome.action} ${outcome.target?.value ?? ''} refused: ${outcome.reason ?? ''}`.trim(),
      ...(by ? { by } : {}),
    });
    c.updated = now;
    return;
  }
  for (const d of outcome.devices) {
    const status = CASE_STATUS[d.status];
    // An action already in force is not news: the case has it from the first time.
    if (status === undefined) continue;
    // An approved action carries on the action that waited for the approval, rather than adding a second one.
    const waiting =
      status !== 'pending-approval'
        ? c.actions.find(
            (a) =>
              a.status === 'pending-approval' &&
              a.action === outcome.action &&
              a.target === outcome.target.value &&
              a.device === d.deviceName,
          )
        : undefined;
    if (waiting) {
      waiting.status = status;
      if (d.expiresAt) waiting.expiresAt = d.expiresAt;
      c.timeline.push({
        at: now,
        kind: 'action',
        message: `${outcome.action} ${outcome.target.value} on ${d.deviceName}: ${status}`,
        ...(by ? { by } : {}),
      });
      if (status !== 'dry-run') c.firstActionAt ??= now;
      c.updated = now;
      continue;
    }
    recordAction(
      c,
      {
        id: d.actionId,
        action: outcome.action,
        target: outcome.target.value,
        device: d.deviceName,
        status,
        expiresAt: d.expiresAt,
      },
      now,
    );
    if (status === 'failed' || status === 'dry-run') c.timeline.push({ at: now, kind: 'action', message: d.detail });
  }
}

export function recordExpiry(
  c: Case,
  record: ActionRecord,
  outcome: 'expired' | 'revert-failed',
  detail: string,
  now: string,
): void {
  const action = c.actions.find((a) => a.id === record.id);
  if (action && outcome === 'expired') action.status = 'expired';
  c.timeline.push({
    at: now,
    kind: 'action',
    message: outcome === 'expired' ? `${record.action} ${record.target} expired: ${detail}` : detail,
  });
  c.updated = now;
}
