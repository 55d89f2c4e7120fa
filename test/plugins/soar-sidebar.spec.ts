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
import { SqliteResponseStore } from '../../lib/response/sqlite-response-store';
import { CoalescingPublisher } from '../../plugins/soar-sidebar/coalesce';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { connectComms, type CommsClient } from '../helpers/sidebar-comms';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);

describe('soar-sidebar plugin (runtime side)', function () {
  describe('CoalescingPublisher', () => {
    it('publishes a burst of a thousand changes as one bare signal per topic: no id, no status', async () => {
      const published: { topic: string; data: unknown }[] = [];
      const publisher = new CoalescingPublisher((topic, data) => published.push({ topic, data }), 20);
      for (let i = 0; i < 1000; i++) publisher.add('case');
      publisher.add('approval');
      publisher.add('approval');
      await until(() => published.length === 2);
      assert.deepEqual(published, [
        { topic: 'soar/cases', data: { changed: true } },
        { topic: 'soar/approvals', data: { changed: true } },
      ]);
    });

    it('drops what is pending when stopped', async () => {
      const published: unknown[] = [];
      const publisher = new CoalescingPublisher((_t, data) => published.push(data), 10);
      publisher.add('device');
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

    it('an approval when it is asked for and when it is decided, once', async () => {
      const db = new Database(join(tmp.dir, 'store.db'));
      try {
        const store = new SqliteResponseStore(db);
        const created = new Date().toISOString();
        await store.addApproval({
          id: 'ap1',
          node: 'n1',
          created,
          expiresAt: Date.now() + 60_000,
          summary: 's',
          request: {},
        });
        assert.equal(await store.decide('ap1', 'approved', 'alice'), true);
        assert.equal(await store.decide('ap1', 'denied', 'bob'), false);
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
    let headers: { authorization: string };

    before(async () => {
      tmp = tempDir('soar-sidebar-');
      app = await startApp(tmp.dir, env);
      const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      headers = { authorization: `Bearer ${token}` };
      comms = await connectComms(app.url, token);
    });
    after(async () => {
      comms?.close();
      await app?.stop();
      tmp?.cleanup();
    });

    it('tells the editors through RED.comms that cases changed when an alert opens one, naming nothing', async () => {
      assert.equal((await post(app.url, wazuh)).status, 202);
      const message = await comms.waitFor('soar/cases');
      // Every editor connection receives it, with or without soar.read: no id, no status, no content.
      assert.deepEqual(message.data, { changed: true });
      const page = (await (await fetch(`${app.url}/soar/cases`, { headers })).json()) as {
        items: { alertCount: number }[];
      };
      assert.equal(page.items[0]?.alertCount, 1, 'the case is there to read through the API');
    });

    it('coalesces a burst: 150 alerts grouped into one case make a few messages, not 150', async () => {
      const since = comms.messages.length;
      const started = Date.now();
      // 150: within the intake's burst allowance (200, the default flow's soar-alert-in), so none is refused 429
      // however fast this machine sends them.
      const posts = Array.from({ length: 150 }, (_, i) => post(app.url, { ...wazuh, id: `${wazuh.id}-burst-${i}` }));
      assert.deepEqual(new Set((await Promise.all(posts)).map((r) => r.status)), new Set([202]));
      const brute = await until(async () => {
        const page = (await (await fetch(`${app.url}/soar/cases?type=brute-force`, { headers })).json()) as {
          items: { id: string; alertCount: number; updated: string }[];
        };
        return page.items[0]?.alertCount === 151 ? page.items[0] : undefined;
      });
      // The last change of the burst is told too (within a flush): a message that left after it was committed.
      const committed = Date.parse(brute.updated);
      await until(() => comms.messages.slice(since).some((m) => m.topic === 'soar/cases' && m.at >= committed), 3000);
      const burst = comms.messages.slice(since).filter((m) => m.topic === 'soar/cases');
      const seconds = (Date.now() - started) / 1000;
      assert.ok(
        burst.length <= Math.ceil(seconds * 2) + 1,
        `${burst.length} soar/cases messages in ${seconds.toFixed(1)} s (at most 2 a second)`,
      );
      assert.ok(burst.length < 30, `${burst.length} messages for 150 alerts`);
      for (const m of burst) assert.deepEqual(m.data, { changed: true });
    });

    it('keeps telling across a full deploy: an analyst change made while the flows restart is pushed', async () => {
      const page = (await (await fetch(`${app.url}/soar/cases?type=brute-force`, { headers })).json()) as {
        items: { id: string }[];
      };
      const current = (await (
        await fetch(`${app.url}/flows`, { headers: { ...headers, 'node-red-api-version': 'v2' } })
      ).json()) as { rev: string; flows: unknown[] };
      const since = comms.messages.length;
      // The change is sent while the deploy stops and restarts the flows (the admin API stays up throughout).
      const deploying = fetch(`${app.url}/flows`, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'node-red-api-version': 'v2',
          'node-red-deployment-type': 'full',
        },
        body: JSON.stringify(current),
      });
      const patched = await fetch(`${app.url}/soar/cases/${page.items[0].id}`, {
        method: 'PATCH',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ note: 'during the deploy' }),
      });
      assert.equal(patched.status, 200, await patched.text());
      const deployed = await deploying;
      assert.equal(deployed.status, 200, await deployed.text());
      const message = await comms.waitFor('soar/cases', undefined, 5000, since);
      assert.deepEqual(message.data, { changed: true });
    });
  });
});
