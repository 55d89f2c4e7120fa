/**
 * Which artifacts of a case the IOC library now says more about than the case knows: the retro-hunt's "new hits".
 * Pure functions over a case and a lookup; no store, no Node-RED.
 */
import type { MatchVerdict } from '../alert/model';
import type { Artifact, Case } from '../cases/model';
import type { IocMatch } from '../ioc/model';
import { judgeMatches, verdictRank, type VerdictOptions } from '../ioc/verdict';

/** The IOC library's lookup (`IocIndex.lookup`): the indicators an artifact's value matches now. */
export type IocLookup = (type: Artifact['type'], value: string) => readonly IocMatch[];

/** One artifact meeting one indicator, with the feeds that list it. */
export interface HuntHit {
  artifact: { type: Artifact['type']; value: string };
  indicator: { type: string; value: string };
  via: IocMatch['via'];
  verdict: MatchVerdict;
  /** The highest confidence of the feeds counted. */
  confidence: number;
  /** The feeds (counted ones) that list the indicator. */
  feeds: string[];
  /** ATT&CK ids the feeds give the indicator. */
  attack: string[];
}

export interface HitOptions extends Partial<VerdictOptions> {
  /**
   * Only these feeds count (a name also covers the feeds under it: `feeds` covers `feeds/list.txt`, as a folder
   * feed names its files). Undefined: every feed.
   */
  feeds?: readonly string[];
}

/** Whether feed `name` is one of `feeds` or under one of them. */
export function feedSelected(name: string, feeds: readonly string[] | undefined): boolean {
  if (feeds === undefined) return true;
  return feeds.some((f) => name === f || name.startsWith(f + '/'));
}

/** The match with only the selected feeds among its sources (undefined when none is left). */
function selectFeeds(match: IocMatch, feeds: readonly string[] | undefined): IocMatch | undefined {
  if (feeds === undefined) return match;
  const sources = match.sources.filter((s) => feedSelected(s.feed, feeds));
  return sources.length === 0 ? undefined : { ...match, sources };
}

/**
 * The hits on a case that are news to it: an artifact that is not yet an IOC, a feed not yet among its `ioc:<feed>`
 * sources, or a verdict worse than the one it has. Seen hits are not news, so a second hunt over the same library
 * finds nothing and raises nothing.
 */
export function newHits(c: Pick<Case, 'artifacts'>, lookup: IocLookup, options: HitOptions = {}): HuntHit[] {
  const hits: HuntHit[] = [];
  for (const artifact of c.artifacts) {
    const found: IocMatch[] = [];
    for (const m of lookup(artifact.type, artifact.value)) {
      const selected = selectFeeds(m, options.feeds);
      if (selected) found.push(selected);
    }
    if (found.length === 0) continue;
    const { matches } = judgeMatches(found, options);
    for (const m of matches) {
      const feeds = [...new Set(m.sources.map((s) => s.feed))];
      const unseenFeed = feeds.some((f) => !artifact.sources.includes(`ioc:${f}`));
      const worse = verdictRank(m.verdict) > verdictRank(artifact.verdict);
      if (artifact.ioc && !unseenFeed && !worse) continue;
      hits.push({
        artifact: { type: artifact.type, value: artifact.value },
        indicator: { type: m.indicator.type, value: m.indicator.value },
        via: m.via,
        verdict: m.verdict,
        confidence: m.confidence,
        feeds,
        attack: [...new Set(m.sources.flatMap((s) => s.attack))],
      });
    }
  }
  return hits;
}
