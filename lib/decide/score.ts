/**
 * The decision of `soar-decide`: what is known about an alert and its case, scored into one of three outcomes —
 * **respond** automatically, **escalate** to an analyst, **dismiss** as a false positive. Pure: no I/O, no Node-RED.
 *
 * Five factors each give a sub-score from 0 to 100 and a reason line, or "no data" when nothing is known about them:
 * - **ioc** — the IOC library's verdict: a malicious match 100, a suspicious one 60, none 0. Read from the alert's
 *   `matches` and `verdict` (set by `soar-ioc-match`) and the case's artifacts marked `ioc: true`. No data when the
 *   alert never went through IOC matching (no `matches`, no `verdict`) and there is no case.
 * - **enrichment** — what reputation services said (`Enrichment[]` from `soar-enrich`; without them, the verdicts
 *   `soar-enrich` wrote on the case's non-IOC artifacts, those with an `enrich:<provider>` source): the worst answer
 *   across providers, each answer's score kept within its verdict's band (malicious at least 80, suspicious at least
 *   40, harmless at most 10). So when every provider with an opinion says harmless the factor is at most 10, and it
 *   lowers the total. `unknown` answers are no opinion; only those (or none) is no data.
 * - **severity** — the higher of the alert's and the case's severity: info 0, low 25, medium 50, high 75,
 *   critical 100.
 * - **asset** — the asset criticality the caller worked out (0–100, a list or an expression in the node); no data
 *   without one.
 * - **history** — the case's own past: 50 (neutral) for a case of one alert, raised by repetition (2+ alerts +10,
 *   5+ +25, 20+ +40) and by persistence (still getting alerts a day or more after it opened: +10), lowered when an
 *   analyst already closed an earlier case of the same type and key as a false positive (one: -40, two or more: -50).
 *   When that is not knowable it stays neutral on that point and says so. No data without a case.
 *
 * The total is the weighted mean over the factors that have data (a factor with no data, or with weight 0, is left
 * out of both the sum and the normalisation), rounded to one decimal. Without any factor it is 0 and the outcome is
 * escalate: nothing is known, so a person looks.
 *
 * **The rule** (evidence = a malicious IOC match or a malicious enrichment verdict, whatever the factors' weights):
 * 1. respond when total ≥ `respondAt` — and, with `requireEvidenceToRespond`, there is evidence;
 * 2. dismiss when total < `dismissBelow` and there is no evidence (a malicious verdict is never dismissed);
 * 3. escalate otherwise (between the thresholds, high without the required evidence, or low with evidence).
 *
 * Defaults (`DEFAULT_POLICY`): weights ioc 0.35, enrichment 0.25, severity 0.15, asset 0.15, history 0.10;
 * respond at 70, dismiss below 20, evidence required.
 */
import { SEVERITIES, type Alert, type Severity } from '../alert/model';
import type { Case } from '../cases/model';
import type { Enrichment } from '../enrich/model';

export const FACTOR_NAMES = ['ioc', 'enrichment', 'severity', 'asset', 'history'] as const;
export type FactorName = (typeof FACTOR_NAMES)[number];

export type DecisionWeights = Record<FactorName, number>;

export interface DecisionPolicy {
  /** Relative weights (any non-negative numbers; they are normalised over the factors that have data). */
  weights: DecisionWeights;
  /** Respond at or above this total (0–100). */
  respondAt: number;
  /** Dismiss below this total (0–100, at most `respondAt`) when there is no malicious evidence. */
  dismissBelow: number;
  /** Respond only with a malicious IOC match or a malicious enrichment verdict; otherwise escalate. */
  requireEvidenceToRespond: boolean;
}

export const DEFAULT_WEIGHTS: Readonly<DecisionWeights> = Object.freeze({
  ioc: 0.35,
  enrichment: 0.25,
  severity: 0.15,
  asset: 0.15,
  history: 0.1,
});

export const DEFAULT_POLICY: Readonly<DecisionPolicy> = Object.freeze({
  weights: DEFAULT_WEIGHTS,
  respondAt: 70,
  dismissBelow: 20,
  requireEvidenceToRespond: true,
});

/** What is known about earlier cases of the same type and key (looked up by the caller; absent when unknowable). */
export interface CaseHistory {
  /** Earlier cases of the same type and key an analyst closed as a false positive. */
  falsePositives: number;
}

export interface DecisionInput {
  alert?: Alert;
  case?: Case;
  enrichments?: Enrichment[];
  /** 0–100; values outside are clamped. */
  assetCriticality?: number;
  /** Why the asset has that criticality ("db-1.corp.example matches *.corp.example"), for the reason line. */
  assetReason?: string;
  history?: CaseHistory;
  /** For the case's age; defaults to now. */
  now?: Date;
}

export interface Factor {
  name: FactorName;
  /** 0–100, or null when there is no data for the factor (then it does not count). */
  score: number | null;
  /** The policy's weight for the factor. */
  weight: number;
  reason: string;
}

export type Outcome = 'respond' | 'escalate' | 'dismiss';
export const OUTCOMES: readonly Outcome[] = ['respond', 'escalate', 'dismiss'];

export interface Decision {
  outcome: Outcome;
  /** The weighted total, 0–100, one decimal. */
  score: number;
  factors: Factor[];
  /** Why this outcome, in one sentence. */
  reason: string;
  /** A malicious IOC match or enrichment verdict was among the facts. */
  evidence: boolean;
}

export class DecisionPolicyError extends Error {}

const clamp = (n: number): number => Math.min(100, Math.max(0, n));
const round1 = (n: number): number => Math.round(n * 10) / 10;
/** A score as written in reasons: no trailing ".0". */
export const formatScore = (n: number): string => String(round1(n));

/** Checks a policy; throws a DecisionPolicyError saying what to fix. */
export function validatePolicy(policy: DecisionPolicy): DecisionPolicy {
  let sum = 0;
  for (const name of FACTOR_NAMES) {
    const w = policy.weights?.[name];
    if (typeof w !== 'number' || !Number.isFinite(w) || w < 0) {
      throw new DecisionPolicyError(`the ${name} weight must be a number of 0 or more, not ${JSON.stringify(w)}`);
    }
    sum += w;
  }
  if (sum <= 0) throw new DecisionPolicyError('at least one weight must be above 0');
  for (const key of ['respondAt', 'dismissBelow'] as const) {
    const v = policy[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) {
      throw new DecisionPolicyError(`${key} must be a number from 0 to 100, not ${JSON.stringify(v)}`);
    }
  }
  if (policy.dismissBelow > policy.respondAt) {
    throw new DecisionPolicyError(
      `dismissBelow (${policy.dismissBelow}) must not be above respondAt (${policy.respondAt})`,
    );
  }
  return policy;
}

// ---- ioc ----------------------------------------------------------------------------------------------------------

interface Sub {
  score: number | null;
  reason: string;
  malicious?: boolean;
}

function iocFactor(alert: Alert | undefined, c: Case | undefined): Sub {
  const known = (alert && (Array.isArray(alert.matches) || alert.verdict !== undefined)) || c !== undefined;
  if (!known) return { score: null, reason: 'no data (the alert was not matched against the IOC library)' };
  // Each hit: verdict, what matched, which feeds said so.
  const hits: { verdict: string; value: string; feeds: string[] }[] = [];
  for (const m of alert?.matches ?? []) {
    hits.push({ verdict: m.verdict, value: m.observable.value, feeds: m.sources.map((s) => s.feed) });
  }
  for (const a of c?.artifacts ?? []) {
    if (!a.ioc) continue;
    const feeds = a.sources.filter((s) => s.startsWith('ioc:')).map((s) => s.slice(4));
    hits.push({ verdict: a.verdict ?? 'suspicious', value: a.value, feeds });
  }
  const describe = (verdict: string): string | undefined => {
    const of = hits.filter((h) => h.verdict === verdict);
    if (of.length === 0) return undefined;
    const values = [...new Set(of.map((h) => h.value))];
    const feeds = [...new Set(of.flatMap((h) => h.feeds))];
    const shown = values.slice(0, 3).join(', ') + (values.length > 3 ? ` and ${values.length - 3} more` : '');
    return `${verdict} match ${shown}${feeds.length > 0 ? ` in feed ${feeds.join(', ')}` : ''}`;
  };
  const malicious = describe('malicious');
  if (malicious || alert?.verdict === 'malicious') {
    return { score: 100, reason: malicious ?? 'malicious IOC verdict', malicious: true };
  }
  const suspicious = describe('suspicious');
  if (suspicious || alert?.verdict === 'suspicious') {
    return { score: 60, reason: suspicious ?? 'suspicious IOC verdict' };
  }
  return { score: 0, reason: 'no IOC match' };
}

// ---- enrichment ---------------------------------------------------------------------------------------------------

/** An answer's score kept within its verdict's band. */
function bandScore(verdict: string, score: number): number {
  const s = Number.isFinite(score) ? clamp(score) : 0;
  switch (verdict) {
    case 'malicious':
      return Math.max(s, 80);
    case 'suspicious':
      return Math.max(s, 40);
    case 'harmless':
      return Math.min(s, 10);
    default:
      return s;
  }
}

interface Opinion {
  provider: string;
  value: string;
  verdict: string;
  score: number;
  reason?: string;
}

function enrichmentFactor(enrichments: readonly Enrichment[] | undefined, c: Case | undefined): Sub {
  let opinions: Opinion[] = [];
  const given = Array.isArray(enrichments) ? enrichments : [];
  for (const e of given) {
    if (!e || typeof e !== 'object' || !['malicious', 'suspicious', 'harmless'].includes(e.verdict)) continue;
    opinions.push({
      provider: String(e.provider),
      value: String(e.observable?.value ?? '?'),
      verdict: e.verdict,
      score: bandScore(e.verdict, Number(e.score)),
      reason: typeof e.reason === 'string' && e.reason !== '' ? e.reason : undefined,
    });
  }
  if (c) {
    // Verdicts soar-enrich wrote on the case's artifacts (sources `enrich:<provider>`), earlier alerts' included, so
    // a malicious answer about one artifact is not outweighed by a harmless one about the next alert's. An IOC
    // artifact's verdict mixes the feeds' and the providers' (the worse wins), so it counts under ioc only.
    for (const a of c.artifacts) {
      const providers = a.sources.filter((s) => s.startsWith('enrich:')).map((s) => s.slice(7));
      if (a.ioc || providers.length === 0 || !a.verdict) continue;
      if (!['malicious', 'suspicious', 'harmless'].includes(a.verdict)) continue;
      opinions.push({
        provider: providers.join(', '),
        value: a.value,
        verdict: a.verdict,
        score: bandScore(a.verdict, -1),
      });
    }
  }
  if (opinions.length === 0) {
    return {
      score: null,
      reason: given.length > 0 ? 'no data (no provider had an opinion)' : 'no data (no enrichment)',
    };
  }
  opinions = opinions.sort((a, b) => b.score - a.score);
  const worst = opinions[0];
  if (worst.verdict === 'harmless') {
    const providers = [...new Set(opinions.map((o) => o.provider))];
    return { score: worst.score, reason: `harmless per ${providers.join(', ')}` };
  }
  const others = opinions.length - 1;
  const reason =
    `${worst.verdict}: ${worst.value} per ${worst.provider} (score ${formatScore(worst.score)}` +
    (worst.reason ? `, ${worst.reason}` : '') +
    ')' +
    (others > 0 ? `; ${others} other answer${others === 1 ? '' : 's'}` : '');
  return { score: worst.score, reason, malicious: worst.verdict === 'malicious' };
}

// ---- severity, asset ----------------------------------------------------------------------------------------------

const SEVERITY_SCORES: Record<Severity, number> = { info: 0, low: 25, medium: 50, high: 75, critical: 100 };

function severityFactor(alert: Alert | undefined, c: Case | undefined): Sub {
  const known = [alert?.severity, c?.severity].filter((s): s is Severity =>
    (SEVERITIES as readonly unknown[]).includes(s),
  );
  if (known.length === 0) return { score: null, reason: 'no data (no severity)' };
  const worst = known.reduce((a, b) => (SEVERITIES.indexOf(b) > SEVERITIES.indexOf(a) ? b : a));
  return { score: SEVERITY_SCORES[worst], reason: worst };
}

function assetFactor(criticality: number | undefined, why: string | undefined): Sub {
  if (criticality === undefined || criticality === null || !Number.isFinite(criticality)) {
    return { score: null, reason: 'no data (asset criticality not known)' };
  }
  const score = clamp(criticality);
  return { score, reason: why ? `criticality ${formatScore(score)}: ${why}` : `criticality ${formatScore(score)}` };
}

// ---- history ------------------------------------------------------------------------------------------------------

const DAY_MS = 86_400_000;

function historyFactor(c: Case | undefined, history: CaseHistory | undefined, now: Date): Sub {
  if (!c) return { score: null, reason: 'no data (no case)' };
  let score = 50;
  const parts: string[] = [];
  const alerts = Number.isFinite(c.alertCount) ? c.alertCount : 0;
  const repeated = alerts >= 20 ? 40 : alerts >= 5 ? 25 : alerts >= 2 ? 10 : 0;
  score += repeated;
  parts.push(`${alerts} alert${alerts === 1 ? '' : 's'}`);
  const created = Date.parse(c.created);
  const age = Number.isFinite(created) ? now.getTime() - created : 0;
  if (age >= DAY_MS && alerts >= 2) {
    score += 10;
    parts.push(`recurring for ${Math.floor(age / DAY_MS)} d`);
  }
  if (!history) {
    parts.push('earlier false positives not known');
  } else if (history.falsePositives > 0) {
    score -= history.falsePositives >= 2 ? 50 : 40;
    const n = history.falsePositives;
    parts.push(`${n} earlier case${n === 1 ? '' : 's'} for this key closed as false positive`);
  } else {
    parts.push('no earlier false positive for this key');
  }
  return { score: clamp(score), reason: parts.join(', ') };
}

// ---- the decision -------------------------------------------------------------------------------------------------

export function decide(input: DecisionInput, policy: DecisionPolicy = DEFAULT_POLICY): Decision {
  const now = input.now ?? new Date();
  const subs: Record<FactorName, Sub> = {
    ioc: iocFactor(input.alert, input.case),
    enrichment: enrichmentFactor(input.enrichments, input.case),
    severity: severityFactor(input.alert, input.case),
    asset: assetFactor(input.assetCriticality, input.assetReason),
    history: historyFactor(input.case, input.history, now),
  };
  const factors: Factor[] = FACTOR_NAMES.map((name) => ({
    name,
    score: subs[name].score === null ? null : round1(subs[name].score as number),
    weight: policy.weights[name],
    reason: subs[name].reason,
  }));
  let sum = 0;
  let weights = 0;
  for (const f of factors) {
    if (f.score === null || !(f.weight > 0)) continue;
    sum += f.score * f.weight;
    weights += f.weight;
  }
  const score = weights > 0 ? round1(clamp(sum / weights)) : 0;
  const evidence = subs.ioc.malicious === true || subs.enrichment.malicious === true;
  const s = formatScore(score);

  let outcome: Outcome;
  let reason: string;
  if (weights === 0) {
    outcome = 'escalate';
    reason = 'nothing to score: no factor with a weight has data';
  } else if (score >= policy.respondAt && (evidence || !policy.requireEvidenceToRespond)) {
    outcome = 'respond';
    reason =
      `score ${s} is at or above ${policy.respondAt}` +
      (evidence ? ' with malicious evidence' : ' (evidence not required)');
  } else if (score >= policy.respondAt) {
    outcome = 'escalate';
    reason = `score ${s} is at or above ${policy.respondAt} but no IOC or enrichment verdict is malicious`;
  } else if (score < policy.dismissBelow && !evidence) {
    outcome = 'dismiss';
    reason = `score ${s} is below ${policy.dismissBelow} and nothing is malicious`;
  } else if (score < policy.dismissBelow) {
    outcome = 'escalate';
    reason = `score ${s} is below ${policy.dismissBelow} but a verdict is malicious`;
  } else {
    outcome = 'escalate';
    reason = `score ${s} is between ${policy.dismissBelow} and ${policy.respondAt}`;
  }
  return { outcome, score, factors, reason, evidence };
}

/**
 * The decision as one timeline line: `decision: respond (score 82): ioc 100 (malicious match … in feed X);
 * enrichment 90 (…); …; score 82 is at or above 70 with malicious evidence`.
 */
export function describeDecision(decision: Decision): string {
  const factors = decision.factors.map((f) =>
    f.score === null ? `${f.name} ${f.reason}` : `${f.name} ${formatScore(f.score)} (${f.reason})`,
  );
  return (
    `decision: ${decision.outcome} (score ${formatScore(decision.score)}): ${factors.join('; ')} — ` + decision.reason
  );
}

/** Who `soar-decide` is in a case timeline (`by`). */
export const DECIDE_BY = 'soar-decide';

/** The timeline entries an analyst writes when closing a case as a false positive mention it ("false positive", "FP"). */
const FALSE_POSITIVE = /\bfalse[ -]positive\b|\bFP\b/i;

/**
 * Whether a resolved or closed case was closed as a false positive by a person: a status change or note, not written
 * by `soar-decide` itself, says so. (Automation's own dismissals do not count, or each would make the next likelier.)
 */
export function closedAsFalsePositive(c: Case): boolean {
  if (c.status !== 'resolved' && c.status !== 'closed') return false;
  return c.timeline.some(
    (t) => (t.kind === 'status' || t.kind === 'note') && t.by !== DECIDE_BY && FALSE_POSITIVE.test(t.message),
  );
}
