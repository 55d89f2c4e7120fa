/**
 * Writes finished runs in batches: the runs that finish within `batchMs` go to the run store in one transaction,
 * then onto their cases (one case update per run that has a case). Nothing is written per message.
 */
import type { FinishedRun } from './model';
import type { PlaybookRunStore } from './run-store';

export interface RunRecorderOptions {
  store: Pick<PlaybookRunStore, 'save'>;
  /** Records the run on its case; a rejection is reported, the run stays stored. */
  attachToCase?: (run: FinishedRun & { caseId: string }) => Promise<unknown>;
  /** Where write failures go (Node-RED's log). */
  report?: (message: string) => void;
  batchMs?: number;
}

export class RunRecorder {
  private queue: FinishedRun[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly options: RunRecorderOptions) {}

  add(run: FinishedRun): void {
    this.queue.push(run);
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

  private async write(batch: FinishedRun[]): Promise<void> {
    const report = this.options.report ?? (() => undefined);
    try {
      await this.options.store.save(batch);
    } catch (err) {
      report(`could not store ${batch.length} playbook runs: ${(err as Error).message}`);
    }
    const attach = this.options.attachToCase;
    if (!attach) return;
    for (const run of batch) {
      if (run.caseId === undefined) continue;
      try {
        await attach(run as FinishedRun & { caseId: string });
      } catch (err) {
        report(`could not record run ${run.runId} on case ${run.caseId}: ${(err as Error).message}`);
      }
    }
  }
}
