/**
 * The metrics every store must give, run against each implementation (SQLite, PostgreSQL) by its spec file.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize, type Alert } from '../../../lib/alert';
import { recordAction, setStatus, type CaseStore } from '../../../lib/cases';
import { collectMetrics, prometheusText, type MetricsSources } from '../../../lib/metrics';
import type { PlaybookRunStore } from '../../../lib/playbooks/runs';
import { assertPrometheusText } from './prometheus-format';

const record = JSON.parse(
  readFileSync(
    join(__dirname, '..', '..', 'fixtures', 'samples', 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'),
    'utf8',
  ),
);

export function sampleAlert(suffix = ''): Alert {
  const alert = normalize(record);
  if (!alert.ok) throw new Error(alert.reason);
  return suffix ? { ...alert.alert, id: `${alert.alert.id}-${suffix}` } : alert.alert;
}

/** The stores of one instance on one location. */
export interface MetricsStores {
  runs: PlaybookRunStore;
  cases: CaseStore;
  sources: MetricsSources;
}

export interface MetricsHarness {
  /** A fresh, empty store location (a file path or a database URL). */
  location(): Promise<string>;
  /** The run store's clock is `now` (the p95 is over the runs of the 24 h before it). */
  open(location: string, now: () => number): MetricsStores;
  /** Metrics sources of another process on the same stores (they count from scratch). */
  openSources(location: string, stores: MetricsStores): MetricsSources;
  /** Replaces a case's actions in the store behind the case store's back (a hand-edited row). */
  editActions(location: string, caseId: string, actions: unknown[]): Promise<void>;
}

export function metricsConformance(name: string, harness: MetricsHarness): void {
  describe(`metrics sources conformance: ${name}`, () => {
    let location: string;
    let stores: MetricsStores;
    beforeEach(async () => {
      location = await harness.location();
      stores = harness.open(location, () => Date.parse('2026-11-28T11:00:00.000Z'));
    });
    afterEach(() => {
      stores.sources.close();
      stores.runs.close();
      stores.cases.close();
    });

    it('collects playbook runs, case counts and times per type, and device actions by outcome from the store', async () => {
      const { cases, runs, sources } = stores;
      const created = new Date('2026-11-28T10:00:00.000Z');
      const group = (key: string, type: string) =>
        cases.group(sampleAlert(key), { type, key, windowMs: 60_000, now: created });
      const a = (await group('a', 'brute-force')).case.id;
      const b = (await group('b', 'brute-force')).case.id;
      await group('c', 'phishing');
      await cases.update(
        a,
        (c, now) => {
          recordAction(c, { action: 'block-ip', target: '198.51.100.7', device: 'lab firewall', status: 'done' }, now);
          recordAction(
            c,
            { action: 'block-ip', target: '198.51.100.8', device: 'lab firewall', status: 'failed' },
            now,
          );
          recordAction(c, { action: 'isolate-host', target: 'web-1', status: 'pending-approval' }, now);
        },
        new Date('2026-11-28T10:00:30.000Z'),
      );
      await cases.update(
        b,
        (c, now) => {
          recordAction(c, { action: 'block-ip', target: '198.51.100.9', device: 'lab firewall', status: 'done' }, now);
          setStatus(c, 'closed', 'ana', now);
        },
        new Date('2026-11-28T10:01:30.000Z'),
      );
      await runs.save([
        {
          runId: 'r1',
          playbook: 'triage',
          version: '1.0.0',
          flow: 't',
          caseId: a,
          started: '2026-11-28T10:00:00.000Z',
          finished: '2026-11-28T10:00:02.000Z',
          outcome: 'success',
          steps: [],
        },
      ]);

      const m = await collectMetrics(sources, new Date('2026-11-28T11:00:00.000Z'));
      assert.equal(m.generated, '2026-11-28T11:00:00.000Z');
      assert.deepEqual(
        m.playbooks.map((p) => [p.playbook, p.runs, p.success, p.duration.mean, p.duration.p95]),
        [['triage', 1, 1, 2, 2]],
      );
      const bruteForce = m.caseTypes.find((t) => t.type === 'brute-force')!;
      assert.deepEqual(bruteForce.byStatus, { new: 1, closed: 1 });
      assert.deepEqual([bruteForce.open, bruteForce.closed, bruteForce.total], [1, 1, 2]);
      assert.deepEqual(bruteForce.timeToFirstAction, { count: 2, mean: 60, p95: 90 });
      assert.deepEqual(bruteForce.timeToResolution, { count: 1, mean: 90, p95: 90 });
      assert.deepEqual(m.caseTypes.find((t) => t.type === 'phishing')!.byStatus, { new: 1 });
      assert.deepEqual(m.deviceActions, [
        { device: 'lab firewall', action: 'block-ip', status: 'done', count: 2 },
        { device: 'lab firewall', action: 'block-ip', status: 'failed', count: 1 },
        { device: 'none', action: 'isolate-host', status: 'pending-approval', count: 1 },
      ]);
      assert.equal(typeof m.intake.accepted, 'number');
      assert.ok(!Number.isNaN(Date.parse(m.intake.since)));
    });

    it('keeps the device action counts up to date from the cases changed since the last read', async () => {
      const { cases, sources } = stores;
      assert.deepEqual(await sources.deviceActions(), [], 'no case yet');
      const id = (await cases.group(sampleAlert(), { type: 'brute-force', key: 'k', windowMs: 60_000 })).case.id;
      const other = (await cases.group(sampleAlert('2'), { type: 'phishing', key: 'p', windowMs: 60_000 })).case.id;
      await cases.update(other, (c, now) => {
        recordAction(c, { action: 'block-ip', target: '198.51.100.1', device: 'fw', status: 'done' }, now);
      });
      assert.deepEqual(await sources.deviceActions(), [{ device: 'fw', action: 'block-ip', status: 'done', count: 1 }]);
      await cases.update(id, (c, now) => {
        recordAction(c, { action: 'block-ip', target: '198.51.100.7', device: 'fw', status: 'pending-approval' }, now);
      });
      assert.deepEqual(await sources.deviceActions(), [
        { device: 'fw', action: 'block-ip', status: 'done', count: 1 },
        { device: 'fw', action: 'block-ip', status: 'pending-approval', count: 1 },
      ]);
      // The approval came: the same action changes status (moved, not added).
      await cases.update(id, (c, now) => {
        c.actions[0].status = 'done';
        c.updated = now;
      });
      assert.deepEqual(await sources.deviceActions(), [{ device: 'fw', action: 'block-ip', status: 'done', count: 2 }]);
      // A new process (a new reader) counts the same from scratch.
      const fresh = harness.openSources(location, stores);
      try {
        assert.deepEqual(await fresh.deviceActions(), [{ device: 'fw', action: 'block-ip', status: 'done', count: 2 }]);
      } finally {
        fresh.close();
      }
    });

    it('still serves a valid Prometheus scrape when a case action lacks its action or status (a hand-edited row)', async () => {
      const { cases, sources } = stores;
      const id = (await cases.group(sampleAlert(), { type: 'brute-force', key: 'k', windowMs: 60_000 })).case.id;
      await harness.editActions(location, id, [{ id: 'a1', at: '2026-11-28T10:00:00.000Z', target: '198.51.100.7' }]);
      const m = await collectMetrics(sources);
      assert.deepEqual(m.deviceActions, [{ device: 'none', action: 'unknown', status: 'unknown', count: 1 }]);
      const text = prometheusText(m);
      assertPrometheusText(text);
      assert.ok(text.includes('soar_device_actions_total{device="none",action="unknown",status="unknown"} 1\n'));
      // Whatever a source gives, a label is written, never thrown on.
      const odd = prometheusText({
        ...m,
        deviceActions: [{ device: null, action: 42, status: undefined, count: 1 } as never],
      });
      assertPrometheusText(odd);
      assert.ok(odd.includes('soar_device_actions_total{device="",action="42",status=""} 1\n'));
    });
  });
}
