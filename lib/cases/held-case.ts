/**
 * Several updates of one case in one store transaction, made in memory and written once: the case is read and parsed
 * once, each change is made on it in order, and the store writes it after the last. What each caller gets back is the
 * case as its own change left it (a copy, taken only when a later change of the same case follows).
 */
import type { Case } from './model';

/** An update asked of a case store. */
export interface CaseUpdate {
  id: string;
  change: (c: Case, now: string) => void;
  now: Date;
}

/** One update made on a held case: its result, or the error its change threw. */
export class Applied {
  /** The case right after this change, as JSON, when a later change of the case followed. */
  snapshot?: string;
  /** Set when the change threw (then the case is as if it had not been asked). */
  error?: unknown;
  constructor(
    readonly held: HeldCase,
    readonly update: CaseUpdate,
  ) {}

  get failed(): boolean {
    return this.error !== undefined;
  }

  /** The case as this change left it (once the transaction is over): a case of its own. */
  result(): Case {
    return this.snapshot === undefined ? this.held.current : (JSON.parse(this.snapshot) as Case);
  }
}

/** A case as stored (its row's JSON), and as the transaction's updates have changed it so far. */
export class HeldCase {
  current: Case;
  private applied: Applied[] = [];

  constructor(readonly stored: string) {
    this.current = JSON.parse(stored) as Case;
  }

  /** Whether an update changed the case (so it must be written). */
  get changed(): boolean {
    return this.applied.length > 0;
  }

  /**
   * Makes the update's change. A change that throws leaves no trace: the case is read again and the earlier changes
   * are made again (one that throws now fails as well).
   */
  apply(update: CaseUpdate): Applied {
    const outcome = new Applied(this, update);
    const previous = this.applied.at(-1);
    if (previous !== undefined) previous.snapshot = JSON.stringify(this.current);
    try {
      update.change(this.current, update.now.toISOString());
      this.applied.push(outcome);
    } catch (err) {
      outcome.error = err ?? new Error('the change failed');
      this.current = JSON.parse(this.stored) as Case;
      this.applied = this.applied.filter((earlier) => {
        try {
          earlier.update.change(this.current, earlier.update.now.toISOString());
          return true;
        } catch (again) {
          earlier.error = again ?? new Error('the change failed');
          return false;
        }
      });
    }
    return outcome;
  }
}
