import assert from 'node:assert/strict';
import { prometheusText, type SoarMetrics } from '../../../lib/metrics';
import { assertPrometheusText } from './prometheus-format';

const metrics: SoarMetrics = {
  generated: '2026-11-28T10:00:00.000Z',
  playbooks: [
    {
      playbook: 'triage',
      version: '1.0.0',
      runs: 4,
      success: 3,
      failure: 1,
      timeout: 0,
      aborted: 0,
      successRate: 0.75,
      duration: { count: 4, sum: 2, mean: 0.5, p95: 1.25 },
    },
    {
      playbook: 'odd "name" \\ with\nnewline',
      version: '0.0.0',
      runs: 1,
      success: 0,
      failure: 0,
      timeout: 1,
      aborted: 0,
      successRate: 0,
      duration: { count: 0, sum: 0, mean: null, p95: null },
    },
  ],
  caseTypes: [
    {
      type: 'brute-force',
      open: 2,
      closed: 1,
      total: 3,
      timeToFirstAction: { count: 2, mean: 30, p95: 40 },
      timeToResolution: { count: 0, mean: null, p95: null },
      slaBreaches: 1,
      byStatus: { new: 2, closed: 1 },
    },
  ],
  intake: { accepted: 10, duplicates: 2, rejected: 1, refused: 3, since: '2026-11-28T09:00:00.000Z' },
  deviceActions: [{ device: 'lab firewall', action: 'block-ip', status: 'done', count: 2 }],
};

describe('prometheusText', () => {
  it('writes every family with HELP and TYPE, in a valid exposition', () => {
    const text = prometheusText(metrics);
    assertPrometheusText(text);
    const samples = text.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.deepEqual(samples, [
      'soar_playbook_runs_total{playbook="triage",version="1.0.0",outcome="success"} 3',
      'soar_playbook_runs_total{playbook="triage",version="1.0.0",outcome="failure"} 1',
      'soar_playbook_runs_total{playbook="triage",version="1.0.0",outcome="timeout"} 0',
      'soar_playbook_runs_total{playbook="triage",version="1.0.0",outcome="aborted"} 0',
      'soar_playbook_runs_total{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0",outcome="success"} 0',
      'soar_playbook_runs_total{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0",outcome="failure"} 0',
      'soar_playbook_runs_total{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0",outcome="timeout"} 1',
      'soar_playbook_runs_total{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0",outcome="aborted"} 0',
      'soar_playbook_success_ratio{playbook="triage",version="1.0.0"} 0.75',
      'soar_playbook_success_ratio{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0"} 0',
      'soar_playbook_run_duration_seconds{playbook="triage",version="1.0.0",quantile="0.95"} 1.25',
      'soar_playbook_run_duration_seconds_sum{playbook="triage",version="1.0.0"} 2',
      'soar_playbook_run_duration_seconds_count{playbook="triage",version="1.0.0"} 4',
      'soar_playbook_run_duration_seconds{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0",quantile="0.95"} NaN',
      'soar_playbook_run_duration_seconds_sum{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0"} 0',
      'soar_playbook_run_duration_seconds_count{playbook="odd \\"name\\" \\\\ with\\nnewline",version="0.0.0"} 0',
      'soar_cases{type="brute-force",status="new"} 2',
      'soar_cases{type="brute-force",status="closed"} 1',
      'soar_case_time_to_first_action_seconds{type="brute-force",quantile="0.95"} 40',
      'soar_case_time_to_first_action_seconds_sum{type="brute-force"} 60',
      'soar_case_time_to_first_action_seconds_count{type="brute-force"} 2',
      'soar_case_time_to_resolution_seconds{type="brute-force",quantile="0.95"} NaN',
      'soar_case_time_to_resolution_seconds_sum{type="brute-force"} 0',
      'soar_case_time_to_resolution_seconds_count{type="brute-force"} 0',
      'soar_case_sla_breaches{type="brute-force"} 1',
      'soar_intake_alerts_total{outcome="accepted"} 10',
      'soar_intake_alerts_total{outcome="duplicate"} 2',
      'soar_intake_alerts_total{outcome="rejected"} 1',
      'soar_intake_requests_refused_total 3',
      'soar_device_actions_total{device="lab firewall",action="block-ip",status="done"} 2',
    ]);
    assert.ok(text.includes('# TYPE soar_playbook_runs_total counter\n'));
    assert.ok(text.includes('# TYPE soar_playbook_run_duration_seconds summary\n'));
    assert.ok(text.includes('# TYPE soar_cases gauge\n'));
  });

  it('is still valid with nothing recorded yet', () => {
    const text = prometheusText({
      ...metrics,
      playbooks: [],
      caseTypes: [],
      deviceActions: [],
      intake: { accepted: 0, duplicates: 0, rejected: 0, refused: 0, since: metrics.intake.since },
    });
    assertPrometheusText(text);
    assert.ok(text.includes('soar_intake_alerts_total{outcome="accepted"} 0\n'));
  });

  it('has a strict check that refuses malformed lines', () => {
    assert.throws(() => assertPrometheusText('# HELP a x\n# TYPE a gauge\na{b="c} 1\n'), /not a valid exposition line/);
    assert.throws(() => assertPrometheusText('# HELP a x\n# TYPE a gauge\nb 1\n'), /belongs to family a/);
    assert.throws(() => assertPrometheusText('# HELP a x\n# TYPE a gauge\na 1\na 2\n'), /sample repeated/);
  });
});
