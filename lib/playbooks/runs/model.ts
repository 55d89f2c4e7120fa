/**
 * A playbook run: the handling of one message by a playbook flow, from the node that started it until every
 * message it caused was done. Recorded once, when it finishes.
 */
import type { PlaybookRun } from '../../cases/model';

/**
 * `aborted`: the flows were stopped (a deploy that restarted the run's nodes, or a shutdown) while the run was open;
 * such runs are counted apart and left out of the success rate.
 */
export const RUN_OUTCOMES = ['success', 'failure', 'timeout', 'aborted'] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** Time spent in one node of the flow during a run (a node the run passed several times is one step). */
export interface RunStep {
  node: string;
  type: string;
  name?: string;
  /** How many messages of the run the node handled. */
  count: number;
  /** Milliseconds from receiving each message to calling `done`, summed. */
  ms: number;
}

export interface FinishedRun {
  runId: string;
  playbook: string;
  version: string;
  /** The flow tab the run started on. */
  flow: string;
  /**
   * The run this one continues: a message of that run reached this playbook's tab (link out → link in, link call),
   * so the part on this tab is a run of this playbook of its own.
   */
  parent?: string;
  /** The case a message of the run carried (`msg.case.id`), if any. */
  caseId?: string;
  /** ISO 8601. */
  started: string;
  finished: string;
  outcome: RunOutcome;
  /** The first error of a failed run, or why it timed out or was aborted. */
  error?: string;
  /** In the order the nodes were first reached. */
  steps: RunStep[];
}

export function runDurationMs(run: Pick<FinishedRun, 'started' | 'finished'>): number {
  return Date.parse(run.finished) - Date.parse(run.started);
}

/** What a case keeps of a run (`Case.runs`): no steps, which stay in the run store. */
export function caseRun(run: FinishedRun): PlaybookRun {
  return {
    playbook: run.playbook,
    version: run.version,
    runId: run.runId,
    started: run.started,
    finished: run.finished,
    outcome: run.outcome,
    ...(run.error ? { error: run.error } : {}),
  };
}
