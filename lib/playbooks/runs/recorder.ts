/**
 * Writes finished runs in batches: the runs that finish within `batchMs` go to the run store in one transaction,
 * then onto their cases, one case update per case per batch (a case that a thousand alerts join is rewritten once
 * per batch, not once per run). Nothing is written per message.
 *
 * Bounded: a batch the store refuses (SQLITE_BUSY, PostgreSQL unreachable…) is tried again, up to `retries` times with a growing pause,
 * then reported and dropped. Runs waiting to be put on their cases are capped at `maxPendingCaseRuns`: past it, a
 * run goes to the run store only (`GET /soar/runs?case=` still lists it) and is counted in `notAttached`.
 */
import type { FinishedRun } from './model';
import type { PlaybookRunStore } from './run-store';

export interface RunRecorderOptions {
  store: Pick<PlaybookRunStore, 'save'>;
  /** Records runs on their case (one update for all of them); a rejection is reported, the runs stay stored. */
  attachToCase?: (caseId: string, runs: FinishedRun[]) => Promise<unknown>;
  /** Where write failures go (Node-RED's log). */
  report?: (message: string) => void;
  batchMs?: number;
  /** Tries of a refused batch after the first; default 3. */
  retries?: number;
  /** Milliseconds before the first retry (doubling after); default 200. */
  retryMs?: number;
  /** Default 10,000. */
  maxPendingCaseRuns?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class RunRecorder {
  /** Each run, and whether it goes onto its case. */
  private queue: { run: FinishedRun; toCase: boolean }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** Runs with a case that are queued or being written. */
  private pendingCaseRuns = 0;
  /** Runs that were not put on their case because too many were waiting. */
  notAttached = 0;
  /** Runs the store refused after every retry. */
  lost = 0;

  constructor(private readonly options: RunRecorderOptions) {}

  add(run: FinishedRun): void {
    let toCase = run.caseId !== undefined && this.options.attachToCase !== undefined;
    if (toCase && this.pendingCaseRuns >= (this.options.maxPendingCaseRuns ?? 10_000)) {
      this.notAttached += 1;
      toCase = false;
    }
    if (toCase) this.pendingCaseRuns += 1;
    this.queue.push({ run, toCase });
    this.timer ??= setTimeout(() => void this.flush(), this.options.batchMs ?? 100);
  }

  /** Writes what is queued now; resolves when it (and any earlier write) is done. Never rejects. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(() => (batch.length > 0 ? this.write(batch) : undefined));
    return this.writing;
  }

  private async write(batch: { run: FinishedRun; toCase: boolean }[]): Promise<void> {
    const report = this.options.report ?? (() => undefined);
    const byCase = new Map<string, FinishedRun[]>();
    for (const { run, toCase } of batch) {
      if (!toCase) continue;
      const runs = byCase.get(run.caseId!);
      if (runs) runs.push(run);
      else byCase.set(run.caseId!, [run]);
    }
    await this.save(
      batch.map((e) => e.run),
      report,
    );
    const attach = this.options.attachToCase;
    for (const [caseId, runs] of byCase) {
      try {
        if (attach) await attach(caseId, runs);
      } catch (err) {
        report(`could not record ${runs.length} playbook run(s) on case ${caseId}: ${(err as Error).message}`);
      } finally {
        this.pendingCaseRuns -= runs.length;
      }
    }
  }

  private async save(batch: FinishedRun[], report: (message: string) => void): Promise<void> {
    const retries = this.options.retries ?? 3;
    let pause = this.options.retryMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.store.save(batch);
        return;
      } catch (err) {
        if (attempt >= retries) {
          this.lost += batch.length;
          report(`could not store ${batch.length} playbook runs: ${(err as Error).message}`);
          return;
        }
        await sleep(pause);
        pause *= 2;
      }
    }
  }
}
