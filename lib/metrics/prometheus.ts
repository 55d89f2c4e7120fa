/**
 * The metrics in the Prometheus text exposition format (version 0.0.4). Written here rather than with prom-client:
 * the figures are computed from the store at each scrape (counts, mean and p95 already known), whereas prom-client
 * builds them from observations made in this process (a counter can only be incremented, a summary computes its
 * own quantiles), so it would only be a string formatter with three dependencies.
 */
import type { SoarMetrics } from './model';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Labels = Record<string, unknown>;
type MetricType = 'counter' | 'gauge' | 'summary';

/** Any value (a NULL from the store, a number): one bad label must not fail the whole scrape. */
const escapeLabel = (value: unknown) =>
  String(value ?? '')
    .replace(/\\/g, '\\\\')
    .replace(/\n/g, '\\n')
    .replace(/"/g, '\\"');
const escapeHelp = (value: string) => value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function number(value: number | null): string {
  if (value === null || Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

class Exposition {
  private readonly lines: string[] = [];

  family(name: string, type: MetricType, help: string): void {
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Labels, value: number | null): void {
    const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
    this.lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${number(value)}`);
  }

  /** A summary with its 0.95 quantile, sum and count. */
  summary(name: string, labels: Labels, figures: { p95: number | null; sum: number; count: number }): void {
    this.sample(name, { ...labels, quantile: '0.95' }, figures.p95);
    this.sample(`${name}_sum`, labels, figures.sum);
    this.sample(`${name}_count`, labels, figures.count);
  }

  text(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function prometheusText(m: SoarMetrics): string {
  const out = new Exposition();

  out.family(
    'soar_playbook_runs_total',
    'counter',
    'Playbook runs finished, by outcome (aborted: cut short by a deploy or a shutdown).',
  );
  for (const p of m.playbooks) {
    for (const outcome of ['success', 'failure', 'timeout', 'aborted'] as const) {
      out.sample('soar_playbook_runs_total', { playbook: p.playbook, version: p.version, outcome }, p[outcome]);
    }
  }
  out.family(
    'soar_playbook_success_ratio',
    'gauge',
    'Share of the playbook runs that succeeded (0..1), aborted runs left out.',
  );
  for (const p of m.playbooks) {
    out.sample('soar_playbook_success_ratio', { playbook: p.playbook, version: p.version }, p.successRate);
  }
  out.family(
    'soar_playbook_run_duration_seconds',
    'summary',
    'Duration of the playbook runs that finished (success or failure; timeouts are not timed); p95 over the last 24 h.',
  );
  for (const p of m.playbooks) {
    out.summary('soar_playbook_run_duration_seconds', { playbook: p.playbook, version: p.version }, p.duration);
  }

  out.family('soar_cases', 'gauge', 'Cases by type and status.');
  for (const t of m.caseTypes) {
    for (const [status, count] of Object.entries(t.byStatus)) out.sample('soar_cases', { type: t.type, status }, count);
  }
  const caseSummary = (
    name: string,
    help: string,
    pick: (t: SoarMetrics['caseTypes'][number]) => typeof t.timeToFirstAction,
  ) => {
    out.family(name, 'summary', help);
    for (const t of m.caseTypes) {
      const s = pick(t);
      out.summary(name, { type: t.type }, { p95: s.p95, sum: (s.mean ?? 0) * s.count, count: s.count });
    }
  };
  caseSummary(
    'soar_case_time_to_first_action_seconds',
    'Time from a case opening to its first response action.',
    (t) => t.timeToFirstAction,
  );
  caseSummary(
    'soar_case_time_to_resolution_seconds',
    'Time from a case opening to its resolution.',
    (t) => t.timeToResolution,
  );
  out.family(
    'soar_case_sla_breaches',
    'gauge',
    'Cases whose first action came after the SLA, or still waiting past it.',
  );
  for (const t of m.caseTypes) out.sample('soar_case_sla_breaches', { type: t.type }, t.slaBreaches);

  out.family(
    'soar_intake_alerts_total',
    'counter',
    'Alerts posted to the intake: since this process started, or with a PostgreSQL store by every instance sharing it.',
  );
  out.sample('soar_intake_alerts_total', { outcome: 'accepted' }, m.intake.accepted);
  out.sample('soar_intake_alerts_total', { outcome: 'duplicate' }, m.intake.duplicates);
  out.sample('soar_intake_alerts_total', { outcome: 'rejected' }, m.intake.rejected);
  out.family(
    'soar_intake_requests_refused_total',
    'counter',
    'Intake requests refused before their alerts were read (authentication, size, content type, rate, backpressure).',
  );
  out.sample('soar_intake_requests_refused_total', {}, m.intake.refused);

  out.family(
    'soar_device_actions_total',
    'counter',
    'Response actions recorded on cases, by device, action and status.',
  );
  for (const a of m.deviceActions) {
    out.sample('soar_device_actions_total', { device: a.device, action: a.action, status: a.status }, a.count);
  }
  const tracking = m.runTracking;
  if (tracking) {
    out.family('soar_playbook_runs_open', 'gauge', 'Playbook runs being followed now.');
    out.sample('soar_playbook_runs_open', {}, tracking.open);
    out.family(
      'soar_playbook_runs_unrecorded_total',
      'counter',
      'Playbook runs (or parts) not recorded since this process started, by reason.',
    );
    out.sample('soar_playbook_runs_unrecorded_total', { reason: 'too-many-open' }, tracking.untracked);
    out.sample('soar_playbook_runs_unrecorded_total', { reason: 'unattributed-message' }, tracking.unattributed);
    out.sample('soar_playbook_runs_unrecorded_total', { reason: 'not-on-case' }, tracking.notAttached);
    out.sample('soar_playbook_runs_unrecorded_total', { reason: 'store-failed' }, tracking.lost);
  }
  return out.text();
}
