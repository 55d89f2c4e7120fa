/**
 * The case operations of the `soar-case` node, as plain functions: an operation name and the message payload in,
 * a change to the case out (or a CaseChangeError that says what is wrong with the payload).
 */
import {
  addArtifact,
  addTimeline,
  applyPatch,
  CaseChangeError,
  recordAction,
  recordRun,
  setStatus,
  validatePatch,
} from './changes';
import type { Case } from './model';

export const CASE_OPERATIONS = [
  'group',
  'get',
  'update',
  'add-artifact',
  'add-timeline',
  'record-action',
  'record-run',
  'close',
] as const;
export type CaseOperation = (typeof CASE_OPERATIONS)[number];
/** The operations that change an existing case. */
export type CaseChangeOperation = Exclude<CaseOperation, 'group' | 'get'>;

export function isCaseOperation(value: string): value is CaseOperation {
  return (CASE_OPERATIONS as readonly string[]).includes(value);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function objectPayload(payload: unknown, operation: string): Record<string, unknown> {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
    throw new CaseChangeError(`${operation}: msg.payload must be an object`);
  }
  return payload as Record<string, unknown>;
}

/** Who made the change (`payload.by`), for the timeline. */
export function changedBy(payload: unknown): string | undefined {
  return text((payload as { by?: unknown } | null | undefined)?.by);
}

/** Applies operation `operation` with `payload` to case `c` at time `now`. */
export function applyOperation(c: Case, operation: CaseChangeOperation, payload: unknown, now: string): void {
  const by = changedBy(payload);
  switch (operation) {
    case 'update': {
      const { by: _by, ...patch } = objectPayload(payload, operation);
      applyPatch(c, validatePatch(patch), by, now);
      return;
    }
    case 'add-artifact': {
      const p = objectPayload(payload, operation);
      const artifact = { type: String(p.type ?? ''), value: String(p.value ?? '') };
      addArtifact(c, { ...artifact, ioc: p.ioc === true, verdict: text(p.verdict) }, now);
      return;
    }
    case 'add-timeline': {
      const p = objectPayload(payload, operation);
      addTimeline(c, { kind: text(p.kind), message: String(p.message ?? ''), by }, now);
      return;
    }
    case 'record-action': {
      const p = objectPayload(payload, operation);
      recordAction(
        c,
        {
          action: String(p.action ?? ''),
          target: String(p.target ?? ''),
          device: text(p.device),
          status: String(p.status ?? 'done'),
          expiresAt: text(p.expiresAt),
          id: text(p.id),
        },
        now,
      );
      return;
    }
    case 'record-run': {
      const p = objectPayload(payload, operation);
      recordRun(
        c,
        {
          playbook: String(p.playbook ?? ''),
          started: String(p.started ?? now),
          finished: text(p.finished),
          outcome: text(p.outcome),
          version: text(p.version),
          runId: text(p.runId),
          error: text(p.error),
        },
        now,
      );
      return;
    }
    case 'close':
      setStatus(c, 'closed', by, now, text((payload as { reason?: unknown } | null | undefined)?.reason));
      return;
  }
}
