import type { IntakeRef } from './intake';
import { openedJournal } from './journal';

/**
 * Marks the alert a message came from (`msg.intake`) processed in the intake journal open for `location` (what
 * `journalLocation` in lib/settings gives: the SQLite file, or the PostgreSQL URL), so that it is not replayed at
 * the next start. For the nodes where an alert's journey ends: grouped into a case, or dropped by a rule. A message
 * that did not come from an intake node is left alone.
 */
export function markIntakeProcessed(location: string, ref: IntakeRef | undefined): void {
  if (ref && Number.isInteger(ref.seq)) openedJournal(location)?.markProcessedSoon([ref.seq]);
}
