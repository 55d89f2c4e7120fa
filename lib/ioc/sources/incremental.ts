/**
 * Incremental feeds (a TAXII collection polled with `added_after`) deliver new and changed objects only. The
 * feed's indicators are then the saved ones, without those of every object delivered again (a new version
 * replaces the old; a revoked object delivers none), plus the new ones, less those expired.
 */
import type { Indicator } from '../model';

export function mergeIncremental(
  previous: readonly Indicator[],
  updatedRefs: ReadonlySet<string>,
  added: readonly Indicator[],
  now: number = Date.now(),
): Indicator[] {
  const live = (i: Indicator): boolean => i.validUntil === undefined || Date.parse(i.validUntil) > now;
  const out: Indicator[] = [];
  for (const i of previous) if ((i.ref === undefined || !updatedRefs.has(i.ref)) && live(i)) out.push(i);
  for (const i of added) if (live(i)) out.push(i);
  return out;
}

/** The ids of the STIX objects in a page of a collection (indicators, revoked or not). */
export function stixObjectIds(objects: readonly unknown[]): Set<string> {
  const ids = new Set<string>();
  for (const o of objects) {
    const id = (o as { id?: unknown } | null)?.id;
    if (typeof id === 'string') ids.add(id);
  }
  return ids;
}
