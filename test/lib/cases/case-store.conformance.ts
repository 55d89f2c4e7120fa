/**
 * The behaviour every case store shows, whatever holds the cases: run by case-store.spec.ts for SQLite and by
 * pg-case-store.spec.ts for PostgreSQL, so the two implementations cannot drift apart.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { normalize, type Alert } from '../../../lib/alert';
import {
  addArtifact,
  addTimeline,
  applyPatch,
  CaseChangeError,
  CaseNotFoundError,
  MAX_ALERT_IDS,
  recordAction,
  type Case,
  type CaseKeepingOptions,
  type CaseStore,
} from '../../../lib/cases';
import { soarEvents } from '../../../lib/events';

const samples = join(__dirname, '..', '..', 'fixtures', 'samples');
export const DAY = 24 * 3600_000;

export function alertOf(record: unknown): Alert {
  const result = normalize(record);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

const wazuhFile = join(samples, 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json');
export const wazuh = alertOf(JSON.parse(readFileSync(wazuhFile, 'utf8')));

/** A Wazuh alert with another id (and optionally another source address). */
export function variant(n: number | string, srcip = '172.17.1.1'): Alert {
  const raw = JSON.parse(readFileSync(wazuhFile, 'utf8'));
  raw.id = `${raw.id}-${n}`;
  raw.data.srcip = srcip;
  return alertOf(raw);
}

/** A fresh, empty store of one implementation. */
export interface CaseStoreFixture {
  store: CaseStore;
  /** Closes the store and opens it again on the same file or database. */
  reopen(): Promise<CaseStore>;
  /** Closes the store and removes what it left. */
  dispose(): Promise<void>;
  /**
   * Makes the database refuse to delete alert links (a trigger raising an error: SQLite fires it for each row
   * deleted, PostgreSQL for each statement) until the returned function drops it.
   */
  refuseForgetting(): Promise<() => Promise<void>>;
}

/** Makes a fresh, empty store with the given options (reopened with the same). */
export type CaseStoreMaker = (options?: CaseKeepingOptions) => Promise<CaseStoreFixture>;

export function caseStoreConformance(name: string, makeStore: CaseStoreMaker): void {
  describe(`case store conformance: ${name}`, function () {
    let fixture: CaseStoreFixture;
    let store: CaseStore;
    const reopen = async () => (store = await fixture.reopen());
    const group = (alert: Alert, key = 'k', now = new Date('2026-11-28T10:00:00Z'), windowMs = DAY) =>
      store.group(alert, { type: 'brute-force', key, windowMs, now, slaMinutes: 30 });

    beforeEach(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.dispose();
    });

    it('opens a case for the first alert with its artifacts, TTPs, severity, SLA and timeline', async () => {
      const { case: c, created, duplicate } = await group(wazuh);
      assert.deepEqual([created, duplicate], [true, false]);
      assert.equal(c.id, 'CASE-1');
      assert.equal(c.type, 'brute-force');
      assert.equal(c.status, 'new');
      assert.equal(c.alertCount, 1);
      assert.deepEqual(c.alerts, [wazuh.id]);
      assert.deepEqual(c.ttps, ['T1110']);
      assert.equal(c.severity, wazuh.severity);
      const src = c.artifacts.find((a) => a.value === '172.17.1.1');
      assert.deepEqual(src, {
        type: 'ipv4',
        value: '172.17.1.1',
        ioc: false,
        sources: ['wazuh'],
        firstSeen: '2026-11-28T10:00:00.000Z',
        lastSeen: '2026-11-28T10:00:00.000Z',
        count: 1,
      });
      assert.deepEqual(c.sla, { minutes: 30, dueAt: '2026-11-28T10:30:00.000Z' });
      assert.deepEqual(
        c.timeline.map((t) => t.kind),
        ['created', 'alert'],
      );
    });

    it('groups alerts of the same type and key into the open case, merging artifacts', async () => {
      await group(wazuh);
      const later = new Date('2026-11-28T11:00:00Z');
      const { case: c, created } = await group(variant(2), 'k', later);
      assert.equal(created, false);
      assert.equal(c.alertCount, 2);
      const src = c.artifacts.find((a) => a.value === '172.17.1.1')!;
      assert.equal(src.count, 2);
      assert.equal(src.lastSeen, later.toISOString());
      assert.equal(src.firstSeen, '2026-11-28T10:00:00.000Z');
      assert.equal((await group(variant(3), 'other')).case.id, 'CASE-2', 'another key, another case');
    });

    it('folds a run of alerts with the same title into one timeline entry with a count', async () => {
      await group(wazuh);
      await group(variant(2), 'k', new Date('2026-11-28T10:01:00Z'));
      const { case: c } = await group(variant(3), 'k', new Date('2026-11-28T10:02:00Z'));
      const alerts = c.timeline.filter((t) => t.kind === 'alert');
      assert.equal(alerts.length, 1);
      assert.equal(alerts[0].count, 3);
      assert.equal(alerts[0].until, '2026-11-28T10:02:00.000Z');
      assert.match(alerts[0].message, /^3 × wazuh alert: /);
    });

    it('counts the same alert id once', async () => {
      await group(wazuh);
      const again = await group(wazuh);
      assert.equal(again.duplicate, true);
      assert.equal(again.case.alertCount, 1);
    });

    it('keeps grouping into a case after it was updated (an update is not an alert)', async () => {
      const t = (min: number) => new Date(Date.UTC(2026, 10, 28, 10, min));
      const hour = 3600_000;
      await group(wazuh, 'k', t(0), hour);
      await group(variant(2), 'k', t(50), hour);
      await store.update('CASE-1', (c, now) => applyPatch(c, { status: 'in-progress' }, 'ana', now), t(101));
      const next = await group(variant(3), 'k', t(102), hour);
      assert.deepEqual([next.created, next.case.id, next.case.alertCount], [false, 'CASE-1', 3]);
    });

    it('tells the change listeners of an update, unless the update is quiet bookkeeping', async () => {
      await group(wazuh);
      const seen: string[] = [];
      const off = soarEvents.on('case', (e) => seen.push(`${e.id} ${e.status}`));
      try {
        await store.update('CASE-1', (c, now) => applyPatch(c, { status: 'in-progress' }, 'ana', now));
        await store.update('CASE-1', (c, now) => applyPatch(c, { status: 'resolved' }, 'ana', now), undefined, {
          quiet: true,
        });
      } finally {
        off();
      }
      assert.deepEqual(seen, ['CASE-1 in-progress']);
      assert.equal((await store.get('CASE-1'))?.status, 'resolved', 'a quiet update is written all the same');
    });

    it('lists cases created in the same millisecond newest first', async () => {
      const now = new Date('2026-11-28T10:00:00Z');
      for (let i = 0; i < 12; i++) await group(variant(i), `k${i}`, now);
      const page = await store.query({ limit: 3, offset: 0 });
      assert.deepEqual(
        page.items.map((c) => c.id),
        ['CASE-12', 'CASE-11', 'CASE-10'],
      );
    });

    it('groups one alert into cases of different types independently', async () => {
      await store.group(wazuh, { type: 'a', key: 'k', windowMs: DAY });
      const other = await store.group(wazuh, { type: 'b', key: 'k', windowMs: DAY });
      assert.deepEqual([other.created, other.duplicate, other.case.type], [true, false, 'b']);
    });

    it('refuses an artifact of an unknown type or with an invalid value, and canonicalises the rest', async () => {
      await group(wazuh);
      await assert.rejects(
        store.update('CASE-1', (c, at) => addArtifact(c, { type: 'colour', value: 'red' }, at)),
        /invalid artifact type "colour"/,
      );
      await assert.rejects(
        store.update('CASE-1', (c, at) => addArtifact(c, { type: 'ipv4', value: '999.1.1.1' }, at)),
        /not a valid ipv4/,
      );
      const c = await store.update('CASE-1', (c, at) => addArtifact(c, { type: 'domain', value: 'Evil.Example.' }, at));
      assert.ok(c.artifacts.some((a) => a.type === 'domain' && a.value === 'evil.example'));
    });

    it('opens a new case once the window has passed or the case was closed', async () => {
      await group(wazuh);
      const late = await group(variant(2), 'k', new Date('2026-11-29T10:00:01Z'));
      assert.deepEqual([late.created, late.case.id], [true, 'CASE-2']);
      await store.update('CASE-2', (c, now) => applyPatch(c, { status: 'closed' }, 'ana', now));
      const afterClose = await group(variant(3), 'k', new Date('2026-11-29T10:00:02Z'));
      assert.deepEqual([afterClose.created, afterClose.case.id], [true, 'CASE-3']);
    });

    it('keeps a case open to its key for a window from its last alert, through other changes, a close and a reopen', async () => {
      // Each step on its own (awaited): what the store wrote is what the next step reads.
      const at = (minutes: number) => new Date(Date.parse('2026-11-28T10:00:00Z') + minutes * 60_000);
      const window = 10 * 60_000;
      const into = async (n: number, minutes: number) => (await group(variant(n), 'k', at(minutes), window)).case.id;
      assert.equal(await into(1, 0), 'CASE-1');
      assert.equal(await into(2, 8), 'CASE-1');
      await store.update('CASE-1', (c, now) => addTimeline(c, { kind: 'note', message: 'looked at', by: 'ana' }, now));
      // 16 minutes after the first alert, 8 after the last: the grouping at 8 minutes moved the window.
      assert.equal(await into(3, 16), 'CASE-1');
      await store.update('CASE-1', (c, now) => applyPatch(c, { status: 'closed' }, 'ana', now));
      assert.equal(await into(4, 17), 'CASE-2');
      await store.update('CASE-2', (c, now) => applyPatch(c, { status: 'closed' }, 'ana', now));
      await store.update('CASE-1', (c, now) => applyPatch(c, { status: 'in-progress' }, 'ana', now));
      assert.equal(await into(5, 18), 'CASE-1', 'reopened, and its last alert 2 minutes ago');
      const page = await store.query({ status: ['in-progress'], limit: 10, offset: 0 });
      assert.deepEqual([page.total, page.items.map((c) => [c.id, c.alertCount])], [1, [['CASE-1', 4]]]);
      assert.equal((await store.query({ status: ['closed'], limit: 10, offset: 0 })).total, 1);
    });

    it('passes over a case closed earlier in the same batch: the next open case of its key, or a new one', async () => {
      const t0 = Date.parse('2026-11-28T10:00:00Z');
      const at = (minutes: number) => new Date(t0 + minutes * 60_000);
      await group(wazuh, 'k', at(0), 3600_000);
      // Past the hour: CASE-2 opens while CASE-1 stays open (its window passed).
      assert.equal((await group(variant(2), 'k', at(120), 3600_000)).case.id, 'CASE-2');
      // Asked together: CASE-2 closed, then alerts of its key with a window reaching back to CASE-1's alert.
      const [closed, toOlder, again] = await Promise.all([
        store.update('CASE-2', (c, now) => applyPatch(c, { status: 'closed' }, 'ana', now)),
        group(variant(3), 'k', at(121), 3 * 3600_000),
        group(variant(4), 'k', at(122), 3 * 3600_000),
      ]);
      assert.equal(closed.status, 'closed');
      assert.deepEqual([toOlder.case.id, toOlder.created, again.case.id], ['CASE-1', false, 'CASE-1']);
      // Asked together: CASE-1 closed too, then an alert of the key: no open case is left, a new one opens.
      const [, fresh] = await Promise.all([
        store.update('CASE-1', (c, now) => applyPatch(c, { status: 'resolved' }, 'ana', now)),
        group(variant(5), 'k', at(123), 3 * 3600_000),
      ]);
      assert.deepEqual([fresh.case.id, fresh.created], ['CASE-3', true]);
      // Asked together: CASE-3 closed and CASE-1 reopened, then an alert of the key: CASE-1 takes it.
      const [, , reopened] = await Promise.all([
        store.update('CASE-3', (c, now) => applyPatch(c, { status: 'closed' }, 'ana', now)),
        store.update('CASE-1', (c, now) => applyPatch(c, { status: 'in-progress' }, 'ana', now)),
        group(variant(6), 'k', at(124), 3 * 3600_000),
      ]);
      assert.deepEqual([reopened.case.id, reopened.created], ['CASE-1', false]);
      const counts = await Promise.all(
        ['CASE-1', 'CASE-2', 'CASE-3'].map(async (id) => (await store.get(id))?.alertCount),
      );
      assert.deepEqual(counts, [4, 1, 1]);
      assert.equal((await store.query({ status: ['in-progress'], limit: 10, offset: 0 })).total, 1);
      assert.equal((await store.query({ status: ['closed'], limit: 10, offset: 0 })).total, 2);
    });

    it('forgets the alerts it grouped once their retention has passed: one delivered again then counts again', async () => {
      await fixture.dispose();
      let clock = Date.parse('2026-11-28T10:00:00Z');
      fixture = await makeStore({ now: () => clock, alertIdRetentionDays: 1 });
      store = fixture.store;
      await group(wazuh);
      clock += 12 * 3600_000;
      await group(variant(2));
      assert.equal((await group(wazuh)).duplicate, true, 'remembered within the retention');
      // A day and an hour after the first alert: the round of forgetting after the next batch forgets it.
      clock += 13 * 3600_000;
      await group(variant(3));
      await reopen(); // once the round has finished
      const again = await group(wazuh);
      assert.deepEqual([again.duplicate, again.case.alertCount], [false, 4]);
      assert.equal((await group(variant(2))).duplicate, true, 'grouped 13 hours before: remembered');
      // By hand: every alert grouped before a cutoff (the second, the third, the first again).
      assert.equal(await store.forgetAlertsBefore(clock + 1), 3);
      assert.equal((await store.alertsOf('CASE-1', { limit: 10, offset: 0 })).total, 0, 'forgotten: not listed');
      assert.equal((await group(variant(2))).duplicate, false);
    });

    it('lists the alerts of a case newest first and paged, past the ids the case keeps, and finds the case of an alert', async () => {
      await fixture.dispose();
      let clock = Date.parse('2026-11-28T10:00:00Z');
      fixture = await makeStore({ now: () => clock });
      store = fixture.store;
      const alerts = Array.from({ length: MAX_ALERT_IDS + 5 }, (_, i) => variant(`listed-${i}`));
      for (const alert of alerts) {
        await group(alert);
        clock += 1000;
      }
      await group(variant('elsewhere'), 'another key');
      const c = (await store.get('CASE-1'))!;
      assert.equal(c.alertCount, alerts.length);
      assert.deepEqual(
        c.alerts,
        alerts.slice(-MAX_ALERT_IDS).map((a) => a.id),
        'the case keeps its newest',
      );
      const newestFirst = alerts.map((a) => a.id).reverse();
      const first = await store.alertsOf('CASE-1', { limit: 4, offset: 0 });
      assert.equal(first.total, alerts.length);
      assert.deepEqual(
        first.items.map((a) => a.id),
        newestFirst.slice(0, 4),
      );
      assert.equal(first.items[0].grouped, new Date(clock - 1000).toISOString(), 'when the store grouped it');
      const all = await store.alertsOf('CASE-1', { limit: 500, offset: 0 });
      assert.deepEqual(
        all.items.map((a) => a.id),
        newestFirst,
      );
      assert.deepEqual(
        (await store.alertsOf('CASE-1', { limit: 3, offset: alerts.length - 2 })).items.map((a) => a.id),
        newestFirst.slice(-2),
      );
      assert.deepEqual(await store.alertsOf('CASE-1', { limit: 10, offset: alerts.length }), {
        total: alerts.length,
        items: [],
      });
      // The oldest alert, which the case no longer lists itself.
      const owner = await store.query({ alert: alerts[0].id, limit: 10, offset: 0 });
      assert.deepEqual([owner.total, owner.items.map((x) => x.id)], [1, ['CASE-1']]);
      const other = await store.query({ alert: variant('elsewhere').id, type: ['brute-force'], limit: 10, offset: 0 });
      assert.deepEqual([other.total, other.items.map((x) => x.id)], [1, ['CASE-2']]);
      assert.equal((await store.query({ alert: 'no such alert', limit: 10, offset: 0 })).total, 0);
      await assert.rejects(store.alertsOf('CASE-404', { limit: 10, offset: 0 }), CaseNotFoundError);
    });

    it('reports a round of forgetting that fails, loses nothing, and forgets at the first round that works', async () => {
      await fixture.dispose();
      let clock = Date.parse('2026-11-28T10:00:00Z');
      fixture = await makeStore({ now: () => clock, alertIdRetentionDays: 1 });
      store = fixture.store;
      const reports: string[] = [];
      const stop = store.onBackgroundError((err, what) => reports.push(`${what}: ${err.message}`));
      await group(wazuh);
      const allow = await fixture.refuseForgetting();
      try {
        // A day and an hour later: the round after this batch is due, and fails.
        clock += 25 * 3600_000;
        await group(variant(2));
        for (let waited = 0; reports.length === 0 && waited < 5_000; waited += 10) {
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.equal(reports.length, 1);
        assert.match(reports[0], /^could not forget old alert ids \(tried again in a minute\): .*refused by a test/);
        assert.equal((await group(wazuh)).duplicate, true, 'still remembered');
      } finally {
        await allow();
      }
      clock += 2 * 60_000;
      await group(variant(3));
      stop();
      await reopen(); // once the round has finished
      assert.deepEqual(
        [(await group(wazuh)).duplicate, (await group(variant(2))).duplicate],
        [false, true],
        'forgotten once the database let it (the second alert is 2 minutes old)',
      );
      assert.equal(reports.length, 1);
    });

    it('raises severity with a higher alert and records it in the timeline', async () => {
      const low = { ...variant(1), severity: 'low' as const };
      const critical = { ...variant(2), severity: 'critical' as const };
      await group(low);
      const { case: c } = await group(critical);
      assert.equal(c.severity, 'critical');
      assert.ok(c.timeline.some((t) => t.kind === 'severity' && /low to critical/.test(t.message)));
    });

    it('never loses one of 200 concurrent groupings of one key', async () => {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => group(variant(i))));
      assert.equal(new Set(results.map((r) => r.case.id)).size, 1);
      assert.equal((await store.get('CASE-1'))!.alertCount, 200);
    });

    it('groups the real Suricata sample sets into one case per signature and source address', async () => {
      const records: Record<string, unknown>[] = [
        'fhassanabad-wrccdc-2017-alerts.json',
        'fhassanabad-first-org-conf-2015-alerts.json',
        'fhassanabad-honeypot-2018-alerts.json',
      ].flatMap((f) => JSON.parse(readFileSync(join(samples, 'suricata-eve', f), 'utf8')));
      // Expected, straight from the raw records: distinct (signature id, source address) pairs and distinct alerts.
      const raw = records as { alert: { signature_id: number }; src_ip: string; flow_id: number; timestamp: string }[];
      const pairs = new Set(raw.map((r) => `${r.alert.signature_id}|${r.src_ip}`));
      const distinctAlerts = new Set(raw.map((r) => `${r.flow_id}/${r.alert.signature_id}/${r.timestamp}`));
      let n = 0;
      for (const r of raw) {
        const alert = alertOf(r);
        await store.group(alert, {
          type: 'network-ids',
          key: `${r.alert.signature_id}|${r.src_ip}`,
          windowMs: 3650 * DAY,
          now: new Date(Date.UTC(2026, 0, 1) + n++ * 1000),
        });
      }
      const page = await store.query({ type: ['network-ids'], limit: 500, offset: 0 });
      assert.equal(page.total, pairs.size);
      assert.equal(
        page.items.reduce((sum, c) => sum + c.alertCount, 0),
        distinctAlerts.size,
      );
    });

    it('commits concurrent groupings together, and one bad alert fails alone', async () => {
      const broken = { ...variant(99), observables: undefined } as unknown as Alert;
      const results = await Promise.allSettled([
        group(variant(1)),
        group(broken),
        group(variant(2), 'other'),
        group(variant(3)),
      ]);
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled', 'fulfilled'],
      );
      assert.equal((await store.query({ limit: 50, offset: 0 })).total, 2);
      // The bad alert had begun to change its case when it failed: none of that stays.
      const c = (await store.get('CASE-1'))!;
      assert.deepEqual([c.alertCount, c.alerts], [2, [variant(1).id, variant(3).id]]);
    });

    it('keeps cases (and their counts) across a reopen', async () => {
      await group(wazuh);
      store = await reopen();
      assert.equal((await store.get('CASE-1'))!.alertCount, 1);
      assert.equal((await store.query({ status: ['new'], limit: 1, offset: 0 })).total, 1);
      assert.equal((await group(variant(2))).case.id, 'CASE-1');
    });

    it('updates atomically and aborts without writing when the change throws', async () => {
      await group(wazuh);
      await assert.rejects(
        store.update('CASE-1', (c) => {
          c.title = 'changed';
          throw new CaseChangeError('no');
        }),
        /no/,
      );
      assert.equal((await store.get('CASE-1'))!.title, wazuh.title);
      await assert.rejects(
        store.update('CASE-404', () => undefined),
        CaseNotFoundError,
      );
    });

    it('applies groupings and updates asked for together in order: a grouping between updates, a failing change alone', async () => {
      const { case: c } = await group(wazuh);
      const assigned = store.update(c.id, (x) => void (x.assignee = 'ana'));
      const grouped = group(variant(2));
      const refused = store.update(c.id, (x) => {
        x.title = 'never written';
        throw new CaseChangeError('refused');
      });
      const raised = store.update(c.id, (x) => void (x.severity = 'critical'));
      const elsewhere = group(variant(3), 'other');
      await assert.rejects(refused, /refused/);
      // Each result is the case as written, with its own change (and possibly later ones of the same batch): the
      // grouping sees the assignee set before it, the last update the grouped alert.
      assert.equal((await assigned).assignee, 'ana');
      assert.deepEqual([(await grouped).case.alertCount, (await grouped).case.assignee], [2, 'ana']);
      assert.deepEqual([(await raised).alertCount, (await raised).severity], [2, 'critical']);
      assert.equal((await elsewhere).created, true);
      const stored = (await store.get(c.id)) as Case;
      assert.deepEqual(
        [stored.alertCount, stored.assignee, stored.severity, stored.title],
        [2, 'ana', 'critical', wazuh.title],
      );
      assert.equal((await store.query({ severity: ['critical'], limit: 1, offset: 0 })).total, 1);
      // The next alert of the key still finds the case (its last alert time kept by the updates after it).
      const later = await group(variant(4), 'k', new Date('2026-11-28T10:30:00Z'));
      assert.deepEqual([later.case.id, later.case.alertCount], [c.id, 3]);
    });

    it('applies updates asked for at once in order: one whose change throws fails alone and leaves no trace', async () => {
      await group(wazuh);
      await group(variant(2, '10.0.0.2'), 'other');
      const note = (n: number) => (c: Case, at: string) => addTimeline(c, { kind: 'note', message: `n${n}` }, at);
      const settled = await Promise.allSettled([
        store.update('CASE-1', note(1)),
        store.update('CASE-2', note(1)),
        store.update('CASE-1', (c, at) => {
          addTimeline(c, { kind: 'note', message: 'half-made' }, at);
          c.title = 'changed';
          throw new CaseChangeError('refused');
        }),
        store.update('CASE-1', note(2)),
        store.update('CASE-404', note(0)),
        store.update('CASE-1', (c, at) => applyPatch(c, { status: 'in-progress' }, 'ana', at)),
      ]);
      assert.deepEqual(
        settled.map((s) => s.status),
        ['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'],
      );
      assert.match(String((settled[2] as PromiseRejectedResult).reason), /refused/);
      assert.ok((settled[4] as PromiseRejectedResult).reason instanceof CaseNotFoundError);
      const notes = (c: Case) => c.timeline.filter((t) => t.kind === 'note').map((t) => t.message);
      const final = (await store.get('CASE-1')) as Case;
      assert.deepEqual(notes(final), ['n1', 'n2']);
      assert.equal(final.title, wazuh.title);
      assert.equal(final.status, 'in-progress');
      assert.deepEqual(notes((await store.get('CASE-2')) as Case), ['n1']);
      assert.equal((await store.query({ status: ['in-progress'], limit: 1, offset: 0 })).total, 1);
      assert.equal((await store.query({ status: ['new'], limit: 1, offset: 0 })).total, 1);

      // Every caller has a case of its own, with (at least) its own change.
      const [first, , , second, , third] = settled.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
      assert.ok(first && second && third);
      assert.notEqual(first, second);
      assert.notEqual(second, third);
      assert.ok(notes(first).includes('n1') && notes(second).includes('n2'));
      first.title = 'mine';
      assert.equal(second.title, wazuh.title);
      assert.equal(third.title, wazuh.title);
    });

    it('records actions, artifacts and the first response', async () => {
      await group(wazuh);
      const now = new Date('2026-11-28T10:05:00Z');
      const c = await store.update(
        'CASE-1',
        (c, at) => {
          recordAction(c, { action: 'block-ip', target: '172.17.1.1', device: 'fw1', status: 'done' }, at);
          addArtifact(c, { type: 'domain', value: 'evil.example', ioc: true, verdict: 'malicious' }, at);
        },
        now,
      );
      assert.equal(c.actions[0].action, 'block-ip');
      assert.equal(c.firstActionAt, now.toISOString());
      assert.deepEqual(
        c.artifacts.find((a) => a.value === 'evil.example'),
        {
          type: 'domain',
          value: 'evil.example',
          ioc: true,
          verdict: 'malicious',
          sources: ['analyst'],
          firstSeen: now.toISOString(),
          lastSeen: now.toISOString(),
          count: 1,
        },
      );
    });

    it('queries by status, type, severity and text, newest first, with paging and a total', async () => {
      for (let i = 0; i < 5; i++) {
        await store.group(variant(i, `10.0.0.${i + 1}`), {
          type: i % 2 ? 'brute-force' : 'malware',
          key: `k${i}`,
          windowMs: DAY,
          now: new Date(Date.UTC(2026, 10, 28, 10, i)),
        });
      }
      await store.update('CASE-2', (c, now) => applyPatch(c, { status: 'resolved', severity: 'critical' }, 'ana', now));
      const page = await store.query({ limit: 2, offset: 1 });
      assert.equal(page.total, 5);
      assert.deepEqual(
        page.items.map((c) => c.id),
        ['CASE-4', 'CASE-3'],
      );
      assert.deepEqual(
        (await store.query({ status: ['resolved'], limit: 50, offset: 0 })).items.map((c) => c.id),
        ['CASE-2'],
      );
      assert.equal((await store.query({ type: ['malware'], limit: 50, offset: 0 })).total, 3);
      assert.equal((await store.query({ severity: ['critical'], limit: 50, offset: 0 })).total, 1);
      assert.deepEqual(
        (await store.query({ q: '10.0.0.3', limit: 50, offset: 0 })).items.map((c) => c.id),
        ['CASE-3'],
      );
      assert.equal((await store.query({ q: '100%_', limit: 50, offset: 0 })).total, 0, 'LIKE wildcards are literal');
      // By key (exactly), with the other filters; the total counts the matching cases only.
      const byKey = await store.query({ type: ['brute-force'], key: 'k1', status: ['resolved'], limit: 50, offset: 0 });
      assert.deepEqual([byKey.total, byKey.items.map((c) => c.id)], [1, ['CASE-2']]);
      assert.equal(
        (await store.query({ type: ['brute-force'], key: 'k1', status: ['new'], limit: 5, offset: 0 })).total,
        0,
      );
      assert.equal((await store.query({ key: 'k%', limit: 50, offset: 0 })).total, 0, 'a key is matched exactly');
    });

    it('computes metrics per case type', async () => {
      const t0 = Date.UTC(2026, 10, 28, 10, 0);
      await store.group(variant(1), { type: 'bf', key: 'a', windowMs: DAY, slaMinutes: 10, now: new Date(t0) });
      await store.group(variant(2), { type: 'bf', key: 'b', windowMs: DAY, slaMinutes: 10, now: new Date(t0) });
      // CASE-1: first action after 5 minutes (a dry run before does not count), resolved after 60;
      // CASE-2: picked up but never acted on, SLA long past.
      await store.update(
        'CASE-1',
        (c, at) => recordAction(c, { action: 'block-ip', target: '172.17.1.1', status: 'dry-run' }, at),
        new Date(t0 + 60_000),
      );
      await store.update(
        'CASE-1',
        (c, at) => recordAction(c, { action: 'block-ip', target: '172.17.1.1', status: 'done' }, at),
        new Date(t0 + 5 * 60_000),
      );
      await store.update(
        'CASE-2',
        (c, at) => applyPatch(c, { status: 'in-progress' }, 'ana', at),
        new Date(t0 + 60_000),
      );
      await store.update(
        'CASE-1',
        (c, at) => applyPatch(c, { status: 'resolved' }, 'ana', at),
        new Date(t0 + 60 * 60_000),
      );
      const [bf] = await store.metrics(new Date(t0 + 120 * 60_000));
      assert.deepEqual(bf, {
        type: 'bf',
        open: 1,
        closed: 1,
        total: 2,
        timeToFirstAction: { count: 1, mean: 300, p95: 300 },
        timeToResolution: { count: 1, mean: 3600, p95: 3600 },
        slaBreaches: 1,
      });
    });
  });
}
