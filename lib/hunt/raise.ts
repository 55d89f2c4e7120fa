/**
 * Raising a case for retro-hunt hits: the artifacts become IOCs (the worse verdict wins, the feeds join their
 * sources, as `soar-case` marks an alert's matches), the severity goes up to what the worst verdict calls for, the
 * feeds' ATT&CK ids join the TTPs, and the timeline says which indicator of which feed was found.
 */
import type { Severity } from '../alert/model';
import { markArtifactIoc, severityRank } from '../cases/changes';
import type { Case } from '../cases/model';
import { verdictRank } from '../ioc/verdict';
import type { HuntHit } from './hits';

export interface RaiseOptions {
  /** The severity a case is raised to (at least) per verdict. Defaults: malicious `high`, suspicious `medium`. */
  severity?: { malicious?: Severity; suspicious?: Severity };
  /** Who raised it, for the timeline (`soar-hunt`). */
  by?: string;
}

/** Timeline entries per raise at most; the rest are counted in the last one. */
export const MAX_HIT_ENTRIES = 10;

const DEFAULT_SEVERITY: Record<HuntHit['verdict'], Severity> = { malicious: 'high', suspicious: 'medium' };

/** One line for the timeline: what matched what, where, and the verdict. */
export function describeHit(hit: HuntHit): string {
  const indicator =
    hit.indicator.value === hit.artifact.value
      ? ''
      : ` (indicator ${hit.indicator.type} ${hit.indicator.value}, ${hit.via})`;
  const feeds = hit.feeds.length === 1 ? `feed ${hit.feeds[0]}` : `feeds ${hit.feeds.join(', ')}`;
  return `retro-hunt: ${hit.artifact.type} ${hit.artifact.value}${indicator} is listed in ${feeds}: ${hit.verdict}`;
}

/** Applies the hits to the case, in place (inside the case store's atomic update). */
export function raiseCase(c: Case, hits: readonly HuntHit[], now: string, options: RaiseOptions = {}): void {
  const by = options.by ? { by: options.by } : {};
  let worst: HuntHit['verdict'] | undefined;
  hits.forEach((hit, i) => {
    const artifact = c.artifacts.find((a) => a.type === hit.artifact.type && a.value === hit.artifact.value);
    if (artifact) markArtifactIoc(artifact, hit.verdict, hit.feeds);
    for (const t of hit.attack) if (!c.ttps.includes(t)) c.ttps.push(t);
    if (verdictRank(hit.verdict) > verdictRank(worst)) worst = hit.verdict;
    if (i < MAX_HIT_ENTRIES - 1 || hits.length === MAX_HIT_ENTRIES) {
      c.timeline.push({ at: now, kind: 'hunt', message: describeHit(hit), ...by });
    } else if (i === MAX_HIT_ENTRIES - 1) {
      c.timeline.push({
        at: now,
        kind: 'hunt',
        message: `retro-hunt: ${hits.length - i} more artifacts matched`,
        ...by,
      });
    }
  });
  if (worst !== undefined) {
    const target = options.severity?.[worst] ?? DEFAULT_SEVERITY[worst];
    if (severityRank(target) > severityRank(c.severity)) {
      c.timeline.push({ at: now, kind: 'severity', message: `severity raised from ${c.severity} to ${target}`, ...by });
      c.severity = target;
    }
  }
  c.updated = now;
}
