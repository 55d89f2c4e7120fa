import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { AuditLog } from '../../../lib/audit';
import type { Artifact } from '../../../lib/cases';
import { DeviceFleet } from '../../../lib/devices/fleet';
import { CAPABILITIES, UNDO } from '../../../lib/devices/model';
import { checkDeviceType } from '../../../lib/devices/registry';
import { labDeviceType, labJournal } from '../../../lib/devices/types/lab';
import { nftablesDeviceType } from '../../../lib/devices/types/nftables';
import { restDeviceType } from '../../../lib/devices/types/rest';
import { ResponseEngine, selectionTarget } from '../../../lib/response/engine';
import { ProtectedAssets } from '../../../lib/response/protected';
import { SqliteResponseStore } from '../../../lib/response/sqlite-response-store';
import { targetFromMessage, targetsFromArtifacts } from '../../../lib/response/targets';
import { FakeApi, reply } from '../../helpers/fake-api';
import { tempDir } from '../../helpers/tmp';

const URL_1 = 'http://www.r57c99.com/1490393041-r57txt.html';
const at = '2026-11-28T10:00:00.000Z';
const artifact = (type: Artifact['type'], value: string, verdict = 'malicious'): Artifact => ({
  type,
  value,
  ioc: true,
  verdict,
  sources: ['suricata', 'ioc:phishing'],
  firstSeen: at,
  lastSeen: at,
  count: 1,
});

describe('block-url: URLs as response targets', () => {
  it('is a capability with its undo; lab claims it, nftables does not, a REST device when configured', () => {
    assert.ok(CAPABILITIES.includes('block-url') && CAPABILITIES.includes('unblock-url'));
    assert.equal(UNDO['block-url'], 'unblock-url');
    assert.ok(labDeviceType.capabilities.includes('block-url'));
    assert.ok(!nftablesDeviceType.capabilities.includes('block-url'));
    assert.ok(restDeviceType.capabilities.includes('block-url'), 'offered by the type');
    const rest = restDeviceType.create(
      {
        baseUrl: 'http://127.0.0.1:9',
        capabilities: ['block-url'],
        actions: { 'block-url': { method: 'POST', path: '/blocklist', body: '{"url": "{{target}}"}' } },
      },
      {},
      { name: 'proxy', log: () => {} },
    );
    assert.deepEqual(rest.capabilities, ['block-url'], 'configured only for block-url');
  });

  it('takes the URL artifacts of a case for block-url, and only for block-url', () => {
    const artifacts = [
      artifact('domain', 'www.r57c99.com'),
      artifact('url', URL_1),
      artifact('url', 'http://q.xfil.pw/py.py', 'suspicious'),
    ];
    assert.deepEqual(targetsFromArtifacts(artifacts, 'block-url', 'malicious'), [{ kind: 'url', value: URL_1 }]);
    assert.deepEqual(
      targetsFromArtifacts(artifacts, 'block-url', 'suspicious').map((t) => t.value),
      [URL_1, 'http://q.xfil.pw/py.py'],
    );
    assert.deepEqual(targetsFromArtifacts(artifacts, 'sinkhole-domain', 'malicious'), [
      { kind: 'domain', value: 'www.r57c99.com' },
    ]);
    assert.deepEqual(targetsFromArtifacts(artifacts, 'block-ip', 'malicious'), []);
  });

  it('reads a bare URL in msg.target as a url target', () => {
    assert.deepEqual(targetFromMessage(` ${URL_1} `), { kind: 'url', value: URL_1 });
    assert.deepEqual(targetFromMessage('203.0.113.7'), { kind: 'ip', value: '203.0.113.7' });
    assert.deepEqual(targetFromMessage('ws-7.corp.example'), { kind: 'host', value: 'ws-7.corp.example' });
  });

  it('selects devices for a URL by its host', () => {
    assert.deepEqual(selectionTarget({ kind: 'url', value: 'https://Mail.Evil.example./login' }), {
      kind: 'domain',
      value: 'mail.evil.example',
    });
    assert.deepEqual(selectionTarget({ kind: 'url', value: 'http://[::ffff:198.51.100.7]:8080/x', tags: ['dmz'] }), {
      kind: 'ip',
      value: '198.51.100.7',
      tags: ['dmz'],
    });
  });

  describe('through the response engine', () => {
    let tmp: ReturnType<typeof tempDir>;
    let db: Database.Database;
    let audit: AuditLog;
    let fleet: DeviceFleet;
    let engine: ResponseEngine;
    let now: number;
    const api = new FakeApi();

    before(() => api.start());
    after(() => api.stop());
    beforeEach(() => {
      tmp = tempDir();
      db = new Database(join(tmp.dir, 'store.db'));
      audit = AuditLog.open(join(tmp.dir, 'audit.jsonl'));
      fleet = new DeviceFleet();
      now = Date.parse(at);
      const device = (id: string, hosts: string[], type = checkDeviceType(labDeviceType), settings: object = {}) =>
        fleet.add(
          {
            id,
            name: id,
            scope: { cidrs: ['198.51.100.0/24'], hosts, tags: [] },
            settings,
            credentials: {},
            actionsPerMinute: 0,
            approval: [],
            breaker: { threshold: 2, cooldownMs: 60_000 },
          },
          type,
          () => {},
        );
      device('proxy-lab', ['*.r57c99.com']);
      device('proxy-rest', ['*.xfil.pw'], checkDeviceType(restDeviceType), {
        baseUrl: api.url,
        capabilities: ['block-url', 'unblock-url'],
        actions: {
          'block-url': {
            method: 'POST',
            path: '/blocklist',
            body: '{"url": "{{target}}", "kind": "{{kind}}"}',
            ref: 'id',
          },
          'unblock-url': { method: 'DELETE', path: '/blocklist/{{ref}}' },
        },
      });
      engine = new ResponseEngine(
        fleet,
        new SqliteResponseStore(db),
        audit,
        new ProtectedAssets({ hosts: ['intranet.corp.example'] }, false),
        { retry: { attempts: 1, baseMs: 1 }, now: () => now },
      );
      api.requests.length = 0;
    });
    afterEach(() => {
      engine.close();
      audit.close();
      db.close();
      tmp.cleanup();
    });

    it('blocks a URL on the device whose host patterns cover its host, and undoes it at expiry', async () => {
      const mine = () => labJournal.filter((r) => r.device === 'proxy-lab' && r.target === URL_1);
      const before = mine().length;
      const outcome = await engine.respond({
        action: 'block-url',
        target: { kind: 'url', value: URL_1 },
        durationSeconds: 3600,
      });
      assert.equal(outcome.status, 'done', outcome.reason);
      assert.deepEqual(
        outcome.devices.map((d) => [d.deviceName, d.status]),
        [['proxy-lab', 'done']],
      );
      assert.deepEqual(
        mine()
          .slice(before)
          .map((r) => [r.call, r.action, r.target]),
        [['execute', 'block-url', URL_1]],
      );
      now += 3601_000;
      assert.equal(await engine.revertExpired(), 1);
      assert.deepEqual(
        mine()
          .slice(before)
          .map((r) => [r.call, r.action]),
        [
          ['execute', 'block-url'],
          ['revert', 'block-url'],
        ],
      );
    });

    it('sends the URL to a REST device configured for block-url, and unblocks it by the reference it kept', async () => {
      api.handler = (req, res) => reply(res, 200, req.method === 'POST' ? { id: 'b-17' } : {});
      const target = { kind: 'url' as const, value: 'http://q.xfil.pw/py.py' };
      assert.equal((await engine.respond({ action: 'block-url', target })).status, 'done');
      assert.deepEqual(JSON.parse(api.requests[0].body), { url: 'http://q.xfil.pw/py.py', kind: 'url' });
      assert.equal((await engine.respond({ action: 'unblock-url', target })).status, 'done');
      assert.deepEqual(
        api.requests.map((r) => [r.method, r.url]),
        [
          ['POST', '/blocklist'],
          ['DELETE', '/blocklist/b-17'],
        ],
      );
    });

    it('refuses a URL no device covers, a URL that is no URL, and a URL on a protected host', async () => {
      const outside = await engine.respond({
        action: 'block-url',
        target: { kind: 'url', value: 'http://elsewhere.example/' },
      });
      assert.equal(outside.status, 'refused');
      assert.match(outside.reason ?? '', /elsewhere\.example/);
      const bad = await engine.respond({ action: 'block-url', target: { kind: 'url', value: 'not a url' } });
      assert.deepEqual([bad.status, bad.reason], ['refused', '"not a url" is not an absolute URL']);
      const protectedHost = await engine.respond({
        action: 'block-url',
        target: { kind: 'url', value: 'https://intranet.corp.example/phish' },
      });
      assert.equal(protectedHost.status, 'refused');
      assert.match(protectedHost.reason ?? '', /protected asset/);
    });
  });
});
