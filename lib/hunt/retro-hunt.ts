/**
 * The retro-hunt: when the IOC library learns new indicators, look up the artifacts of every open case (`new`,
 * `in-progress`) and raise the cases holding something the library now lists. Cases are read page by page, newest
 * first (see openCases: no case open throughout the hunt is skipped when others open or close meanwhile); a case
 * with news is re-checked and changed inside one atomic store update, so a concurrent change of the case is never
 * lost and two hunts never raise it twice for the same hit.
 */
import type { CaseStore } from '../cases/case-store';
import type { Case } from '../cases/model';
import { OPEN_STATUSES } from '../cases/model';
import { newHits, type HitOptions, type HuntHit, type IocLookup } from './hits';
import { raiseCase, type RaiseOptions } from './raise';

export interface HuntOptions extends HitOptions, RaiseOptions {
  /** Cases read per page (default 200). */
  pageSize?: number;
  now?: Date;
  signal?: AbortSignal;
}

export interface RaisedCase {
  /** The case as stored after the raise. */
  case: Case;
  hits: HuntHit[];
}

export interface HuntResult {
  /** Open cases looked at. */
  scanned: number;
  raised: RaisedCase[];
}

/** Thrown inside an update to leave the case unchanged (the news was already recorded by someone else). */
class NothingNew extends Error {}

function createdMs(c: Case): number {
  return Date.parse(c.created);
}

/**
 * Every case open throughout the walk, each once, newest first. The store pages by offset over open cases sorted
 * by `created`, and the set moves while we read: a case closed before the offset moves every later case one place
 * up, so a plain `offset += limit` skips one. Each page is read from one place before where the last one ended and
 * must start at that last case or at a newer one (then nothing between was passed over); when it starts at an
 * older case, cases were closed meanwhile, and we step back a page until it does. Cases opened meanwhile (newer)
 * only move pages down: what comes twice is skipped by id. A store with keyset paging (`created`/`id` after a case)
 * would make the step back unnecessary.
 */
async function* openCases(store: CaseStore, limit: number, signal?: AbortSignal): AsyncGenerator<Case> {
  const seen = new Set<string>();
  let offset = 0;
  let last: Case | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const { items } = await store.query({ status: [...OPEN_STATUSES], limit, offset });
    const first = items[0];
    const joins = !last || (first !== undefined && (first.id === last.id || createdMs(first) > createdMs(last)));
    if (!joins && offset > 0) {
      offset = Math.max(0, offset - limit);
      continue;
    }
    for (const c of items) {
      if (seen.has(c.id)) continue;
      seen.add(c.id);
      yield c;
    }
    if (items.length < limit) return;
    last = items[items.length - 1];
    offset += limit - 1;
  }
}

export async function retroHunt(store: CaseStore, lookup: IocLookup, options: HuntOptions = {}): Promise<HuntResult> {
  // Pages overlap by one case (see openCases), so a page holds at least two.
  const limit = Math.max(2, options.pageSize ?? 200);
  let scanned = 0;
  const raised: RaisedCase[] = [];
  for await (const listed of openCases(store, limit, options.signal)) {
    scanned++;
    if (newHits(listed, lookup, options).length === 0) continue;
    let hits: HuntHit[] = [];
    try {
      const updated = await store.update(
        listed.id,
        (c, now) => {
          hits = newHits(c, lookup, options);
          if (hits.length === 0) throw new NothingNew();
          raiseCase(c, hits, now, options);
        },
        options.now,
      );
      raised.push({ case: updated, hits });
    } catch (err) {
      if (!(err instanceof NothingNew)) throw err;
    }
  }
  return { scanned, raised };
}
