/**
 * Writes finished runs in batches: the runs that finish within `batchMs` go to the run store in one transaction.
 * Those with a case wait up to `attachMs` more and go onto their cases together, one case update per case (a case
 * that a thousand alerts join is rewritten about once a second, not once per run or per batch), the updates of
 * different cases at once (the SQLite store commits them together). Nothing is written per message; `flush` writes
 * everything waiting, so a read after it sees every run that finished before it.
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
  /** Milliseconds runs wait to be put on their case after they are stored; default 1,000. */
  attachMs?: number;
  /** Tries of a refused batch after the first; default 3. */
  retries?: number;
  /** Milliseconds before the first retry (doubling after); default 200. */
  retryMs?: number;
  /** Default 10,000. */
  maxPendingCaseRuns?: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Case updates in flight at once (a PostgreSQL store holds a connection for each). */
const ATTACH_CONCURRENCY = 8;

export class RunRecorder {
  /** Each run, and whether it goes onto its case. */
  private queue: { run: FinishedRun; toCase: boolean }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Stored runs waiting to go onto their cases, per case. */
  private waiting = new Map<string, FinishedRun[]>();
  private attachTimer: NodeJS.Timeout | undefined;
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
    this.timer ??= setTimeout(() => void this.write(false), this.options.batchMs ?? 100);
  }

  /** Writes everything queued or waiting now; resolves when it (and any earlier write) is done. Never rejects. */
  flush(): Promise<void> {
    return this.write(true);
  }

  /** Stores the queued runs, then puts the waiting ones on their cases now or after `attachMs`. */
  private write(attachNow: boolean): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue;
    this.queue = [];
    this.writing = this.writing.then(async () => {
      if (batch.length > 0) await this.save(batch.map((e) => e.run));
      for (const { run, toCase } of batch) {
        if (!toCase) continue;
        const runs = this.waiting.get(run.caseId!);
        if (runs) runs.push(run);
        else this.waiting.set(run.caseId!, [run]);
      }
      if (attachNow) await this.attach();
      else if (this.waiting.size > 0) {
        this.attachTimer ??= setTimeout(() => {
          this.attachTimer = undefined;
          this.writing = this.writing.then(() => this.attach());
        }, this.options.attachMs ?? 1_000);
      }
    });
    return this.writing;
  }

  private async attach(): Promise<void> {
    if (this.attachTimer) clearTimeout(this.attachTimer);
    this.attachTimer = undefined;
    const attach = this.options.attachToCase;
    const cases = [...this.waiting];
    this.waiting = new Map();
    for (let i = 0; i < cases.length; i += ATTACH_CONCURRENCY) {
      await Promise.all(
        cases.slice(i, i + ATTACH_CONCURRENCY).map(async ([caseId, runs]) => {
          try {
            if (attach) await attach(caseId, runs);
          } catch (err) {
            this.report(`could not record ${runs.length} playbook run(s) on case ${caseId}: ${(err as Error).message}`);
          } finally {
            this.pendingCaseRuns -= runs.length;
          }
        }),
      );
    }
  }

  private report(message: string): void {
    this.options.report?.(message);
  }

  private async save(batch: FinishedRun[]): Promise<void> {
    const retries = this.options.retries ?? 3;
    let pause = this.options.retryMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.options.store.save(batch);
        return;
      } catch (err) {
        if (attempt >= retries) {
          this.lost += batch.length;
          this.report(`could not store ${batch.length} playbook runs: ${(err as Error).message}`);
          return;
        }
        await sleep(pause);
        pause *= 2;
      }
    }
  }
}
