/**
 * Work asked for while a batch of it is in the database goes together in the next batch (group commit): one batch
 * at a time, at most `max` items, started on the next turn of the event loop so that what is asked for in one turn
 * goes together. `process` settles every item of its batch.
 */
export class BatchQueue<T> {
  private queue: T[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    private readonly process: (batch: T[]) => Promise<void>,
    private readonly max: number,
  ) {}

  push(item: T): void {
    this.queue.push(item);
    this.schedule();
  }

  /** Whether items wait or a batch is in the database. */
  get busy(): boolean {
    return this.running || this.queue.length > 0;
  }

  private schedule(): void {
    if (this.running || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running || this.queue.length === 0) return;
      this.running = true;
      // `process` settles its items itself; should it fail all the same, the next batch still runs.
      void this.process(this.queue.splice(0, this.max))
        .catch(() => undefined)
        .finally(() => {
          this.running = false;
          this.schedule();
        });
    });
  }
}
