/**
 * Putting enrichments where analysts and playbooks read them: on the alert (`alert.enrichments`) and on the case's
 * artifacts (`verdict`, `sources`) with one timeline entry. Pure functions, no I/O: `soar-enrich` calls
 * `applyEnrichments` inside the case store's atomic update.
 */
import type { Alert, Observable, ObservableType } from '../alert/model';
import type { Artifact, Case } from '../cases/model';
import type { EnrichVerdict, Enrichment } from './model';
import { ENRICH_PROVIDERS } from './providers';

/** The observable types `soar-enrich` looks up unless told otherwise. */
export const DEFAULT_ENRICH_TYPES: readonly ObservableType[] = [
  'ipv4',
  'ipv6',
  'domain',
  'url',
  'md5',
  'sha1',
  'sha256',
];

/**
 * How bad a verdict is. An artifact's verdict only ever moves up this scale: `harmless` and `unknown` never replace
 * `suspicious` or `malicious`. A verdict that is none of these (set by an analyst with `add-artifact`) ranks above
 * `harmless`: only `suspicious` or `malicious` replace it.
 */
const RANK: Readonly<Record<string, number>> = { unknown: 0, harmless: 1, suspicious: 3, malicious: 4 };
const OTHER_RANK = 2;

export function verdictRank(verdict: string | undefined): number {
  if (verdict === undefined || verdict === '') return -1;
  return RANK[verdict] ?? OTHER_RANK;
}

/** The worse of two verdicts (the existing one when they rank the same). */
export function worseVerdict(existing: string | undefined, incoming: EnrichVerdict): string {
  return verdictRank(incoming) > verdictRank(existing) ? incoming : (existing as string);
}

const keyOf = (type: string, value: string) => `${type}\n${value}`;

/** The source an enrichment adds to an artifact: `enrich:<provider>`. */
export const enrichSource = (provider: string): string => `enrich:${provider}`;

/** The provider's label ("VirusTotal") for a timeline, or its id when it is not a built-in provider. */
export function providerLabel(provider: string): string {
  return (ENRICH_PROVIDERS as Readonly<Record<string, { label: string } | undefined>>)[provider]?.label ?? provider;
}

/** One line of the timeline summary: "VirusTotal: 203.0.113.7 malicious (42/90 engines)". */
export function describeEnrichment(e: Enrichment): string {
  const reason = e.reason ? ` (${e.reason})` : '';
  return `${providerLabel(e.provider)}: ${e.observable.value} ${e.verdict}${reason}`;
}

/** Lines a timeline entry lists before "… and N more". */
export const MAX_TIMELINE_LINES = 10;

export interface ApplyResult {
  /** Artifacts that got at least one enrichment (a source or a verdict). */
  matched: number;
  /** Artifacts whose verdict changed. */
  changed: number;
  /** The timeline entry added, if any (only enrichments that are news get one: a new provider or a worse verdict). */
  summary?: string;
}

/**
 * Puts `enrichments` on the artifacts of `c` with the same type and value: the verdict becomes the worse of the
 * existing and the new one, `enrich:<provider>` joins the sources, and one timeline entry (kind `enrichment`)
 * summarises what is new — a provider that had not spoken about the artifact before, or a verdict made worse — so a
 * cached answer repeated for every alert of the case adds nothing. Enrichments of values that are not artifacts of
 * the case are ignored (an enrichment never adds an artifact). Mutates `c`; `c.updated` is set when anything changed.
 */
export function applyEnrichments(c: Case, enrichments: readonly Enrichment[], now: string): ApplyResult {
  const index = new Map<string, Artifact>();
  for (const a of c.artifacts ?? []) if (!index.has(keyOf(a.type, a.value))) index.set(keyOf(a.type, a.value), a);
  const matched = new Set<Artifact>();
  const changed = new Set<Artifact>();
  const news: Enrichment[] = [];
  for (const e of enrichments) {
    const artifact = e?.observable ? index.get(keyOf(e.observable.type, e.observable.value)) : undefined;
    if (!artifact) continue;
    matched.add(artifact);
    if (!Array.isArray(artifact.sources)) artifact.sources = [];
    const source = enrichSource(e.provider);
    const fresh = !artifact.sources.includes(source);
    if (fresh) artifact.sources.push(source);
    const verdict = worseVerdict(artifact.verdict, e.verdict);
    const worse = verdict !== artifact.verdict;
    if (worse) {
      artifact.verdict = verdict;
      changed.add(artifact);
    }
    if (fresh || worse) news.push(e);
  }
  const result: ApplyResult = { matched: matched.size, changed: changed.size };
  if (news.length > 0) {
    // The worst first: a long list is cut, and what is cut should be the harmless part.
    const sorted = news
      .map((e, i) => ({ e, i }))
      .sort((a, b) => verdictRank(b.e.verdict) - verdictRank(a.e.verdict) || b.e.score - a.e.score || a.i - b.i)
      .map(({ e }) => e);
    const lines = sorted.slice(0, MAX_TIMELINE_LINES).map(describeEnrichment);
    const more = sorted.length - lines.length;
    const summary = `${lines.join('; ')}${more > 0 ? `; … and ${more} more` : ''}`;
    c.timeline.push({ at: now, kind: 'enrichment', message: summary });
    result.summary = summary;
  }
  if (matched.size > 0) c.updated = now;
  return result;
}

/** An alert that `soar-enrich` has been through. */
export type EnrichedAlert = Alert & { enrichments?: Enrichment[] };

/**
 * Sets `alert.enrichments` to the enrichments of its own observables, keeping earlier ones (another `soar-enrich`
 * node, another provider) except where a new answer of the same provider about the same observable replaces them.
 * Returns how many were added.
 */
export function applyToAlert(alert: EnrichedAlert, enrichments: readonly Enrichment[]): number {
  const own = new Set((alert.observables ?? []).map((o) => keyOf(o.type, o.value)));
  const mine = enrichments.filter((e) => e?.observable && own.has(keyOf(e.observable.type, e.observable.value)));
  const replaced = new Set(mine.map((e) => `${e.provider}\n${keyOf(e.observable.type, e.observable.value)}`));
  const kept = (Array.isArray(alert.enrichments) ? alert.enrichments : []).filter(
    (e) => !replaced.has(`${e.provider}\n${keyOf(e.observable?.type, e.observable?.value)}`),
  );
  alert.enrichments = [...kept, ...mine];
  return mine.length;
}

export interface PickOptions {
  /** Observable types to look up. */
  types: readonly string[];
  /** `ioc`: only those that matched the IOC library. */
  only: 'all' | 'ioc';
  /** At most this many (IOC matches first). */
  max: number;
}

export type PickedObservable = { type: ObservableType; value: string };

function pick(candidates: { type: ObservableType; value: string; ioc: boolean }[], options: PickOptions) {
  const types = new Set(options.types);
  const seen = new Set<string>();
  const ioc: PickedObservable[] = [];
  const other: PickedObservable[] = [];
  for (const c of candidates) {
    if (!c || typeof c.value !== 'string' || c.value === '' || !types.has(c.type)) continue;
    if (options.only === 'ioc' && !c.ioc) continue;
    const key = keyOf(c.type, c.value);
    if (seen.has(key)) continue;
    seen.add(key);
    (c.ioc ? ioc : other).push({ type: c.type, value: c.value });
  }
  return [...ioc, ...other].slice(0, Math.max(0, options.max));
}

/** The alert's observables to look up: those that matched the IOC library (`alert.matches`) first. */
export function pickAlertObservables(alert: Alert, options: PickOptions): PickedObservable[] {
  const matched = new Set(
    (Array.isArray(alert.matches) ? alert.matches : []).map((m) => keyOf(m.observable?.type, m.observable?.value)),
  );
  return pick(
    (alert.observables ?? []).map((o: Observable) => ({
      type: o.type,
      value: o.value,
      ioc: matched.has(keyOf(o.type, o.value)),
    })),
    options,
  );
}

/** The case's artifacts to look up: IOC artifacts first. */
export function pickCaseArtifacts(c: Case, options: PickOptions): PickedObservable[] {
  return pick(
    (c.artifacts ?? []).map((a) => ({ type: a.type, value: a.value, ioc: a.ioc === true })),
    options,
  );
}
