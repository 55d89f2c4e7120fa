/**
 * The retro-hunt: when the IOC library learns new indicators, look up the artifacts of every open case (`new`,
 * `in-progress`) and raise the cases holding something the library now lists. Cases are read page by page (newest
 * first; a case opened during the hunt shifts the pages, so ids already scanned are skipped); a case with news is
 * re-checked and changed inside one atomic store update, so a concurrent change of the case is never lost and two
 * hunts never raise it twice for the same hit.
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

export async function retroHunt(store: CaseStore, lookup: IocLookup, options: HuntOptions = {}): Promise<HuntResult> {
  const limit = options.pageSize ?? 200;
  const seen = new Set<string>();
  const raised: RaisedCase[] = [];
  for (let offset = 0; ; offset += limit) {
    options.signal?.throwIfAborted();
    const page = await store.query({ status: [...OPEN_STATUSES], limit, offset });
    for (const listed of page.items) {
      if (seen.has(listed.id)) continue;
      seen.add(listed.id);
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
    if (page.items.length < limit) break;
  }
  return { scanned: seen.size, raised };
}
