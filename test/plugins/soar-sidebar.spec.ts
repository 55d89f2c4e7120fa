import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { normalize } from '../../lib/alert';
import { SqliteCaseStore } from '../../lib/cases';
import { DeviceFleet } from '../../lib/devices/fleet';
import { checkDeviceType } from '../../lib/devices/registry';
import { labDeviceType } from '../../lib/devices/types/lab';
import { soarEvents, SoarEvents } from '../../lib/events';
import { ResponseStore } from '../../lib/response/response-store';
import { CoalescingPublisher } from '../../plugins/soar-sidebar/coalesce';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { connectComms, type CommsClient } from '../helpers/sidebar-comms';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);

type Batch = { total: number; items: { id: string; status: string; updated?: string }[] };

describe('soar-sidebar plugin (runtime side)', function () {
  describe('CoalescingPublisher', () => {
    it('publishes a burst of a thousand changes as one message per topic, newest status per id first', async () => {
      const published: { topic: string; data: Batch }[] = [];
      const publisher = new CoalescingPublisher((topic, data) => published.push({ topic, data: data as Batch }), 20);
      for (let i = 0; i < 1000; i++) {
        publisher.add('case', { id: `CASE-${i % 300}`, status: i < 700 ? 'new' : 'in-progress', updated: `t${i}` });
      }
      publisher.add('approval', { id: 'a1', status: 'pending' });
      publisher.add('approval', { id: 'a1', status: 'approved' });
      await new Promise((r) => setTimeout(r, 60));
      assert.deepEqual(
        published.map((p) => p.topic),
        ['soar/cases', 'soar/approvals'],
      );
      const cases = published[0].data;
      assert.equal(cases.total, 300, 'each case once');
      assert.equal(cases.items.length, 50, 'at most 50 ids in a message');
      assert.deepEqual(cases.items[0], { id: 'CASE-99', status: 'in-progress', updated: 't999' });
      assert.deepEqual(published[1].data, { total: 1, items: [{ id: 'a1', status: 'approved' }] });
    });

    it('drops what is pending when stopped', async () => {
      const published: unknown[] = [];
      const publisher = new CoalescingPublisher((_t, data) => published.push(data), 10);
      publisher.add('device', { id: 'd1', status: 'down' });
      publisher.stop();
      await new Promise((r) => setTimeout(r, 30));
      assert.deepEqual(published, []);
    });
  });

  describe('soarEvents', () => {
    it('removes a listener with the function on() returns, and survives a listener that throws', () => {
      const events = new SoarEvents();
      const seen: string[] = [];
      events.on('case', () => {
        throw new Error('a broken listener');
      });
      const off = events.on('case', (e) => seen.push(e.id));
      events.emit('case', { id: 'CASE-1', status: 'new', updated: 'now' });
      off();
      events.emit('case', { id: 'CASE-2', status: 'new', updated: 'now' });
      assert.deepEqual(seen, ['CASE-1']);
      assert.equal(events.listenerCount('case'), 1);
      assert.equal(soarEvents.listenerCount('case'), 0, 'nothing listens in this process unless a runtime does');
    });
  });

  describe('the stores tell soarEvents what they committed', () => {
    let tmp: ReturnType<typeof tempDir>;
    const seen: { kind: string; id: string; status: string }[] = [];
    let offs: (() => void)[] = [];
    beforeEach(() => {
      tmp = tempDir('soar-events-');
      seen.length = 0;
      offs = [
        soarEvents.on('case', (e) => seen.push({ kind: 'case', id: e.id, status: e.status })),
        soarEvents.on('approval', (e) => seen.push({ kind: 'approval', id: e.id, status: e.status })),
      ];
    });
    afterEach(() => {
      for (const off of offs) off();
      tmp.cleanup();
    });

    it('a case once per grouping that changed it (not for a duplicate) and once per update', async () => {
      const store = new SqliteCaseStore(join(tmp.dir, 'store.db'));
      try {
        const raw = JSON.parse(readFileSync(fixture('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8'));
        const result = normalize(raw);
        if (!result.ok) throw new Error(result.reason);
        const options = { type: 'brute-force', key: 'k', windowMs: 60_000, severity: 'high' as const, slaMinutes: 0 };
        const first = await store.group(result.alert, options);
        await store.group(result.alert, options); // the same alert again: a duplicate
        await store.update(first.case.id, (c) => {
          c.status = 'in-progress';
        });
        await assert.rejects(store.update('CASE-404', () => undefined));
        assert.deepEqual(seen, [
          { kind: 'case', id: first.case.id, status: 'new' },
          { kind: 'case', id: first.case.id, status: 'in-progress' },
        ]);
      } finally {
        store.close();
      }
    });

    it('an approval when it is asked for and when it is decided, once', () => {
      const db = new Database(join(tmp.dir, 'store.db'));
      try {
        const store = new ResponseStore(db);
        const created = new Date().toISOString();
        store.addApproval({
          id: 'ap1',
          node: 'n1',
          created,
          expiresAt: Date.now() + 60_000,
          summary: 's',
          request: {},
        });
        assert.equal(store.decide('ap1', 'approved', 'alice'), true);
        assert.equal(store.decide('ap1', 'denied', 'bob'), false);
        assert.deepEqual(seen, [
          { kind: 'approval', id: 'ap1', status: 'pending' },
          { kind: 'approval', id: 'ap1', status: 'approved' },
        ]);
      } finally {
        db.close();
      }
    });
  });

  describe('the fleet tells soarEvents when a device health status changes', () => {
    it('once per change of status, not on every check', async () => {
      const fleet = new DeviceFleet();
      const seen: string[] = [];
      const off = soarEvents.on('device', (e) => seen.push(`${e.id}:${e.status}`));
      try {
        const type = checkDeviceType(labDeviceType);
        const config = (down: boolean) => ({
          id: 'lab1',
          name: 'lab',
          scope: { cidrs: ['192.0.2.0/24'], hosts: [], tags: [] },
          settings: { down },
          credentials: {},
          actionsPerMinute: 0,
          approval: [],
        });
        fleet.add(config(false), type, () => undefined);
        await fleet.checkHealth('lab1');
        await fleet.checkHealth('lab1');
        // The same device set down: replaced, so its health starts unknown again, then goes down.
        fleet.add(config(true), type, () => undefined);
        await fleet.checkHealth('lab1');
        await fleet.checkHealth('lab1');
        assert.deepEqual(seen, ['lab1:ok', 'lab1:down']);
      } finally {
        off();
        await fleet.remove('lab1');
      }
    });
  });

  describe('in the app (npm start)', function () {
    this.timeout(30_000);
    const env = { SOAR_INTAKE_TOKEN: 'sidebar-test-token', SOAR_ADMIN_PASSWORD: 'sidebar-test-password' };
    const wazuh = JSON.parse(readFileSync(fixture('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8')) as {
      id: string;
    };
    const post = (url: string, alert: unknown) =>
      fetch(`${url}/api/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify(alert),
      });
    let tmp: ReturnType<typeof tempDir>;
    let app: RunningApp;
    let comms: CommsClient;
    let token: string;

    before(async () => {
      tmp = tempDir('soar-sidebar-');
      app = await startApp(tmp.dir, env);
      token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      comms = await connectComms(app.url, token);
    });
    after(async () => {
      comms?.close();
      await app?.stop();
      tmp?.cleanup();
    });

    it('tells the editors through RED.comms when an alert opens a case: its id and status, no content', async () => {
      assert.equal((await post(app.url, wazuh)).status, 202);
      const message = await comms.waitFor('soar/cases');
      const batch = message.data as Batch;
      assert.equal(batch.total, 1);
      assert.deepEqual(Object.keys(batch.items[0]).sort(), ['id', 'status', 'updated']);
      assert.equal(batch.items[0].status, 'new');
      const res = await fetch(`${app.url}/soar/cases/${batch.items[0].id}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(((await res.json()) as { alertCount: number }).alertCount, 1, 'the case named is the new one');
    });

    it('coalesces a burst: 300 alerts grouped into one case make a few messages, not 300', async () => {
      const since = comms.messages.length;
      const started = Date.now();
      const posts = Array.from({ length: 300 }, (_, i) => post(app.url, { ...wazuh, id: `${wazuh.id}-burst-${i}` }));
      assert.deepEqual(new Set((await Promise.all(posts)).map((r) => r.status)), new Set([202]));
      const headers = { authorization: `Bearer ${token}` };
      const brute = await until(async () => {
        const page = (await (await fetch(`${app.url}/soar/cases?type=brute-force`, { headers })).json()) as {
          items: { id: string; alertCount: number; updated: string }[];
        };
        return page.items[0]?.alertCount === 301 ? page.items[0] : undefined;
      });
      // The last change of the burst is published too (within a flush).
      await comms.waitFor(
        'soar/cases',
        (d) => (d as Batch).items.some((i) => i.updated === brute.updated),
        3000,
        since,
      );
      const burst = comms.messages.slice(since).filter((m) => m.topic === 'soar/cases');
      const seconds = (Date.now() - started) / 1000;
      assert.ok(
        burst.length <= Math.ceil(seconds * 2) + 1,
        `${burst.length} soar/cases messages in ${seconds.toFixed(1)} s (at most 2 a second)`,
      );
      assert.ok(burst.length < 30, `${burst.length} messages for 300 alerts`);
      for (const m of burst) assert.ok((m.data as Batch).items.length <= 50);
    });
  });
});
