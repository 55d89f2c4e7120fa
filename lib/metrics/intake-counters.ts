/**
 * Intake counters of this process: every intake endpoint (a `soar-alert-in` node) reports its running counts here
 * while it exists; what a removed or redeployed endpoint had counted is kept, so the totals never go down while
 * the process runs (as Prometheus counters must). They start again at 0 with the process: the durable record of
 * what was accepted is the intake journal and the cases, not these counters.
 */

export interface IntakeCounts {
  /** Alerts accepted (journaled). */
  accepted: number;
  /** Alerts already delivered within the duplicate window. */
  duplicates: number;
  /** Records that were not valid alerts. */
  rejected: number;
  /** Requests refused before their records were read (auth, size, type, rate). */
  refused: number;
}

const zero = (): IntakeCounts => ({ accepted: 0, duplicates: 0, rejected: 0, refused: 0 });

const live = new Map<string, () => IntakeCounts>();
const retired = zero();
const since = new Date().toISOString();

function add(into: IntakeCounts, counts: IntakeCounts): void {
  into.accepted += counts.accepted;
  into.duplicates += counts.duplicates;
  into.rejected += counts.rejected;
  into.refused += counts.refused;
}

/** Reports an endpoint's counts (read when metrics are asked for); call the returned function when it closes. */
export function reportIntake(id: string, counts: () => IntakeCounts): () => void {
  const key = id + '\n' + Math.random().toString(36).slice(2);
  live.set(key, counts);
  return () => {
    if (!live.delete(key)) return;
    add(retired, counts());
  };
}

/** Totals over every endpoint of this process since it started. */
export function intakeCounts(): IntakeCounts & { since: string } {
  const total = zero();
  add(total, retired);
  for (const counts of live.values()) add(total, counts());
  return { ...total, since };
}
