/**
 * Which feeds a trigger message says are new: the report `soar-ioc-feed` sends after a refresh. A folder feed
 * reports each new or changed file as its own feed (`<feed>/<file>`); anything else that is not such a report
 * means "hunt with every feed".
 */

export interface TriggerFeeds {
  /** The feeds whose indicators count; undefined: all feeds. */
  feeds?: string[];
  /** The message is a report of a refresh that brought nothing new (or only retracted feeds): no hunt needed. */
  nothingNew: boolean;
}

interface ReportLike {
  feed?: unknown;
  changed?: unknown;
  files?: unknown;
  removed?: unknown;
}

const isReport = (p: unknown): p is ReportLike =>
  p !== null && typeof p === 'object' && typeof (p as ReportLike).feed === 'string';

export function triggerFeeds(payload: unknown): TriggerFeeds {
  if (!isReport(payload)) return { nothingNew: false };
  if (Array.isArray(payload.files)) {
    const changed = payload.files
      .filter((f): f is { feed: string; changed?: unknown } => isReport(f) && f.changed !== false)
      .map((f) => f.feed);
    if (changed.length > 0) return { feeds: changed, nothingNew: false };
    return { feeds: [], nothingNew: true };
  }
  if (payload.changed === false || (payload.changed === undefined && Array.isArray(payload.removed))) {
    return { feeds: [], nothingNew: true };
  }
  return { feeds: [payload.feed as string], nothingNew: false };
}
