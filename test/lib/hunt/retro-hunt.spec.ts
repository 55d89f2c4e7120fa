import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteCaseStore, type Case, type CaseQuery, type CaseStore } from '../../../lib/cases';
import { retroHunt, MAX_HIT_ENTRIES } from '../../../lib/hunt';
import { IocIndex } from '../../../lib/ioc';
import { tempDir } from '../../helpers/tmp';
import { ind } from '../ioc/helpers';
import { alertsBySource, sourceOf } from './helpers';

describe('retroHunt over the case store', () => {
  let tmp: ReturnType<typeof tempDir>;
  let store: SqliteCaseStore;
  let index: IocIndex;
  const lookup = (type: Case['artifacts'][number]['type'], value: string) => index.lookup(type, value);

  /** One network-ids case per source address of the honeypot sample (its first artifact: the source). */
  async function openCases(count: number): Promise<Case[]> {
    const out: Case[] = [];
    for (const alert of alertsBySource().slice(0, count)) {
      const { case: c } = await store.group(alert, {
        type: 'network-ids',
        key: sourceOf(alert),
        windowMs: 24 * 3600_000,
        severity: 'low',
      });
      out.push(c);
    }
    return out;
  }

  beforeEach(() => {
    tmp = tempDir();
    store = new SqliteCaseStore(join(tmp.dir, 'store.db'));
    index = new IocIndex({ defaultAllowlists: false });
  });
  afterEach(() => {
    store.close();
    tmp.cleanup();
  });

  it('raises the open case holding a newly listed indicator and leaves the others alone', async () => {
    const cases = await openCases(3);
    const target = cases[1];
    const ip = target.artifacts[0].value;
    index.replaceFeed('intel/c2.txt', [ind('ipv4', ip, { confidence: 90, attack: ['T1071'] })]);

    const result = await retroHunt(store, lookup, { by: 'soar-hunt' });
    assert.equal(result.scanned, 3);
    assert.deepEqual(
      result.raised.map((r) => r.case.id),
      [target.id],
    );
    const raised = await store.get(target.id);
    assert.ok(raised);
    const artifact = raised.artifacts.find((a) => a.value === ip);
    assert.deepEqual(
      { ioc: artifact?.ioc, verdict: artifact?.verdict, feed: artifact?.sources.includes('ioc:intel/c2.txt') },
      { ioc: true, verdict: 'malicious', feed: true },
    );
    assert.equal(raised.severity, 'high', 'a malicious hit raises the case to high');
    assert.ok(raised.ttps.includes('T1071'), "the feed's techniques join the TTPs");
    const hunt = raised.timeline.filter((t) => t.kind === 'hunt');
    assert.equal(hunt.length, 1);
    assert.match(
      hunt[0].message,
      new RegExp(`ipv4 ${ip.replace(/\./g, '\\.')} is listed in feed intel/c2\\.txt: malicious`),
    );
    assert.equal(hunt[0].by, 'soar-hunt');
    assert.ok(
      raised.timeline.some(
        (t) => t.kind === 'severity' && t.message === `severity raised from ${target.severity} to high`,
      ),
    );
    for (const other of [cases[0], cases[2]]) {
      assert.deepEqual(await store.get(other.id), other, 'a case without news is not touched');
    }
  });

  it('raises nothing the second time over the same indicators', async () => {
    const [c] = await openCases(1);
    index.replaceFeed('intel', [ind('ipv4', c.artifacts[0].value)]);
    assert.equal((await retroHunt(store, lookup)).raised.length, 1);
    const again = await retroHunt(store, lookup);
    assert.deepEqual({ scanned: again.scanned, raised: again.raised.length }, { scanned: 1, raised: 0 });
  });

  it('skips resolved and closed cases', async () => {
    const cases = await openCases(2);
    await store.update(cases[0].id, (c) => void (c.status = 'resolved'));
    await store.update(cases[1].id, (c) => void (c.status = 'closed'));
    index.replaceFeed('intel', [ind('ipv4', cases[0].artifacts[0].value), ind('ipv4', cases[1].artifacts[0].value)]);
    assert.deepEqual(await retroHunt(store, lookup), { scanned: 0, raised: [] });
  });

  it('pages through every open case', async () => {
    const cases = await openCases(7);
    index.replaceFeed(
      'intel',
      cases.map((c) => ind('ipv4', c.artifacts[0].value)),
    );
    const result = await retroHunt(store, lookup, { pageSize: 2 });
    assert.equal(result.scanned, 7);
    assert.deepEqual(result.raised.map((r) => r.case.id).sort(), cases.map((c) => c.id).sort());
  });

  /** The store, with an analyst closing the newest open case each time the hunt reads a page (`every`) or once. */
  function closingWhileReading(every: boolean): CaseStore & { closed: string[] } {
    const closed: string[] = [];
    return {
      closed,
      group: (alert, options) => store.group(alert, options),
      get: (id) => store.get(id),
      update: (id, change, now) => store.update(id, change, now),
      alertsOf: (id, page) => store.alertsOf(id, page),
      metrics: (now) => store.metrics(now),
      forgetAlertsBefore: (cutoff, chunks) => store.forgetAlertsBefore(cutoff, chunks),
      onBackgroundError: (listener) => store.onBackgroundError(listener),
      close: () => store.close(),
      async query(query: CaseQuery) {
        const page = await store.query(query);
        if (every || closed.length === 0) {
          const [newest] = (await store.query({ status: ['new', 'in-progress'], limit: 1, offset: 0 })).items;
          if (newest) {
            await store.update(newest.id, (c) => void (c.status = 'closed'));
            closed.push(newest.id);
          }
        }
        return page;
      },
    };
  }

  it('skips no case when one is closed while the hunt reads the first page', async () => {
    const cases = await openCases(7);
    index.replaceFeed(
      'intel',
      cases.map((c) => ind('ipv4', c.artifacts[0].value)),
    );
    const wrapper = closingWhileReading(false);
    const result = await retroHunt(wrapper, lookup, { pageSize: 2 });
    assert.equal(wrapper.closed.length, 1);
    const raised = new Set(result.raised.map((r) => r.case.id));
    for (const c of cases) {
      if (!wrapper.closed.includes(c.id)) assert.ok(raised.has(c.id), `case ${c.id} was skipped`);
    }
    assert.equal(result.scanned, 7, 'the closed case was read before it closed');
  });

  it('skips no case when cases keep closing on every page read', async () => {
    const cases = await openCases(9);
    index.replaceFeed(
      'intel',
      cases.map((c) => ind('ipv4', c.artifacts[0].value)),
    );
    const wrapper = closingWhileReading(true);
    const result = await retroHunt(wrapper, lookup, { pageSize: 3 });
    assert.ok(wrapper.closed.length > 2, 'several cases closed during the hunt');
    assert.deepEqual(
      result.raised.map((r) => r.case.id).sort(),
      cases.map((c) => c.id).sort(),
      'each case was read while open, none skipped',
    );
    assert.equal(new Set(result.raised.map((r) => r.case.id)).size, result.raised.length, 'none raised twice');
  });

  it('raises a suspicious hit to medium only, and never lowers a severity', async () => {
    const [low, critical] = await openCases(2);
    await store.update(low.id, (c) => void (c.severity = 'low'));
    await store.update(critical.id, (c) => void (c.severity = 'critical'));
    index.replaceFeed('weak', [
      ind('ipv4', low.artifacts[0].value, { confidence: 50 }),
      ind('ipv4', critical.artifacts[0].value, { confidence: 90 }),
    ]);
    const result = await retroHunt(store, lookup);
    const severity = new Map(result.raised.map((r) => [r.case.id, r.case.severity]));
    assert.equal(severity.get(low.id), 'medium');
    assert.equal(severity.get(critical.id), 'critical');
  });

  it('keeps the timeline short when many artifacts match at once', async () => {
    const [c] = await openCases(1);
    await store.update(c.id, (stored) => {
      for (let i = 1; i <= 15; i++) {
        stored.artifacts.push({ ...stored.artifacts[0], value: `45.155.205.${i}` });
      }
    });
    index.replaceFeed(
      'intel',
      Array.from({ length: 15 }, (_, i) => ind('ipv4', `45.155.205.${i + 1}`)),
    );
    const [raised] = (await retroHunt(store, lookup)).raised;
    assert.equal(raised.hits.length, 15);
    const entries = raised.case.timeline.filter((t) => t.kind === 'hunt');
    assert.equal(entries.length, MAX_HIT_ENTRIES);
    assert.equal(entries.at(-1)?.message, 'retro-hunt: 6 more artifacts matched');
  });

  it('stops when aborted', async () => {
    await openCases(1);
    const aborter = new AbortController();
    aborter.abort(new Error('node closed'));
    await assert.rejects(retroHunt(store, lookup, { signal: aborter.signal }), /node closed/);
  });
});
