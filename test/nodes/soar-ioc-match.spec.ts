import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NextFunction, Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import iocMatchNode from '../../nodes/soar-ioc-match/soar-ioc-match';
import caseNode from '../../nodes/soar-case/soar-case';
import { normalize, type Alert } from '../../lib/alert';
import type { Case } from '../../lib/cases';
import { acquireIocLibrary, releaseIocLibrary, type Indicator } from '../../lib/ioc';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const samples = join(__dirname, '..', 'fixtures', 'samples', 'suricata-eve');

/** Suricata "ET SCAN Potential SSH Scan": source 8.42.77.171, destination 138.68.3.71. */
function honeypotAlert(): Alert {
  const records = JSON.parse(readFileSync(join(samples, 'fhassanabad-honeypot-2018-alerts.json'), 'utf8'));
  const result = normalize(records[0]);
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

/** Suricata's documented alert: source 192.168.2.14, destination 209.53.113.5. */
function docsAlert(): Alert {
  const line = readFileSync(join(samples, 'suricata-docs-alert-2017-example.ndjson'), 'utf8').split('\n')[0];
  const result = normalize(JSON.parse(line));
  if (!result.ok) throw new Error(result.reason);
  return result.alert;
}

function ind(type: Indicator['type'], value: string, extra: Partial<Indicator> = {}): Indicator {
  return { type, value, confidence: 80, tlp: 'amber', tags: [], attack: [], ...extra };
}

const flow = (config: object = {}) => [
  { id: 'tab', type: 'tab' },
  { id: 'ioc', z: 'tab', type: 'soar-ioc-match', name: '', ...config, wires: [['match'], ['nomatch']] },
  { id: 'match', z: 'tab', type: 'helper' },
  { id: 'nomatch', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

type Out = { port: 'match' | 'nomatch'; payload: Alert };

/** The answer the test waits for: Node-RED nodes keep 'input' listeners, so they are added once per flow. */
let pending: { resolve: (m: Out) => void; reject: (e: Error) => void } | undefined;

function listen() {
  for (const port of ['match', 'nomatch'] as const) {
    helper
      .getNode(port)
      .on('input', (m: object) => pending?.resolve({ port, payload: (m as { payload: Alert }).payload }));
  }
  helper
    .getNode('caught')
    .on('input', (m: object) => pending?.reject(new Error((m as { error: { message: string } }).error.message)));
}

function through(payload: unknown): Promise<Out> {
  return new Promise((resolve, reject) => {
    pending = { resolve, reject };
    (helper.getNode('ioc') as unknown as { receive: (m: object) => void }).receive({ payload });
  });
}

function lastStatus(id: string): { fill?: string; text?: string } {
  const spy = helper.getNode(id).status as unknown as { lastCall: { args: [{ fill?: string; text?: string }] } };
  return spy.lastCall.args[0];
}

describe('soar-ioc-match', () => {
  let tmp: ReturnType<typeof tempDir>;
  let file: string;

  /** Seeds the library the node will share (same store file, same default allowlists). */
  function seed(indicators: Indicator[], allow: Indicator[] = []) {
    const library = acquireIocLibrary(file);
    try {
      library.replaceFeed('test-feed', indicators);
      if (allow.length > 0) library.replaceFeed('test-allow', allow, { allow: true });
    } finally {
      releaseIocLibrary(file, 60_000);
    }
  }

  async function start(config: object = {}, nodes: unknown[] = [iocMatchNode, catchNode], extra: object[] = []) {
    await helper.load(nodes as never, [...flow(config), ...extra] as never);
    listen();
  }

  beforeEach(async () => {
    tmp = tempDir();
    file = storeFile(undefined, tmp.dir);
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    pending = undefined;
    tmp.cleanup();
  });

  it('sends an alert with a listed address out of "match", with matches and a malicious verdict', async () => {
    seed([
      ind('ipv4', '8.42.77.171', {
        confidence: 90,
        tags: ['scanner'],
        attack: ['T1046'],
        lastSeen: '2026-01-01T00:00:00Z',
      }),
      ind('domain', 'unrelated.test-c2.net'),
    ]);
    await start();
    const out = await through(honeypotAlert());
    assert.equal(out.port, 'match');
    assert.equal(out.payload.verdict, 'malicious');
    assert.deepEqual(out.payload.matches, [
      {
        observable: { type: 'ipv4', value: '8.42.77.171', role: 'source' },
        indicator: { type: 'ipv4', value: '8.42.77.171' },
        via: 'exact',
        confidence: 90,
        verdict: 'malicious',
        sources: [
          {
            feed: 'test-feed',
            confidence: 90,
            tlp: 'amber',
            tags: ['scanner'],
            attack: ['T1046'],
            lastSeen: '2026-01-01T00:00:00.000Z',
          },
        ],
      },
    ]);
    assert.deepEqual(out.payload.attack, ['T1046'], 'the ATT&CK ids of the match are added');
  });

  it('calls a match below the malicious confidence suspicious, and follows the configured thresholds', async () => {
    seed([ind('cidr', '138.68.0.0/16', { confidence: 60, attack: ['T1071'] })]);
    await start({ maliciousConfidence: '60', minConfidence: 0, addAttack: false });
    const out = await through(honeypotAlert());
    assert.equal(out.port, 'match');
    assert.equal(out.payload.verdict, 'malicious', 'maliciousConfidence 60');
    assert.deepEqual(
      out.payload.matches!.map((m) => [m.observable.value, m.indicator.value, m.via]),
      [['138.68.3.71', '138.68.0.0/16', 'cidr']],
    );
    assert.deepEqual(out.payload.attack, [], 'addAttack off');
  });

  it('uses the default thresholds: confidence 60 from one feed is suspicious', async () => {
    seed([ind('cidr', '138.68.0.0/16', { confidence: 60 })]);
    await start();
    const out = await through(honeypotAlert());
    assert.equal(out.payload.verdict, 'suspicious');
    assert.equal(out.payload.matches![0].verdict, 'suspicious');
  });

  it('ignores feeds below the minimum confidence', async () => {
    seed([ind('ipv4', '8.42.77.171', { confidence: 20 })]);
    await start({ minConfidence: 30 });
    const out = await through(honeypotAlert());
    assert.equal(out.port, 'nomatch');
    assert.equal(out.payload.verdict, 'unknown');
  });

  it('sends an alert without listed observables out of "no match" with verdict unknown and no matches', async () => {
    seed([ind('ipv4', '8.42.77.171')]);
    await start();
    const out = await through(docsAlert());
    assert.equal(out.port, 'nomatch');
    assert.equal(out.payload.verdict, 'unknown');
    assert.deepEqual(out.payload.matches, []);
  });

  it('does not match allowlisted values, listed or not', async () => {
    seed([ind('ipv4', '8.8.8.8'), ind('ipv4', '138.68.3.71')], [ind('cidr', '138.68.0.0/16')]);
    await start();
    const alert = honeypotAlert();
    alert.observables = [
      { type: 'ipv4', value: '8.8.8.8', role: 'destination' },
      { type: 'ipv4', value: '138.68.3.71', role: 'destination' },
    ];
    const out = await through(alert);
    assert.equal(out.port, 'nomatch', '8.8.8.8 is a default allowlisted public resolver; 138.68.3.71 allowlisted');
    assert.deepEqual(out.payload.matches, []);
  });

  it('reports a payload that is not an alert to Catch nodes and turns the status red', async () => {
    seed([ind('ipv4', '8.42.77.171')]);
    await start();
    assert.match(lastStatus('ioc').text ?? '', /^0 matched · 1 indicators$/);
    await assert.rejects(through({ hello: 1 }), /msg\.payload is not an alert \(use soar-normalize first\)/);
    assert.equal(lastStatus('ioc').fill, 'red');
    const out = await through(honeypotAlert());
    assert.equal(out.port, 'match', 'the next alert goes through');
  });

  it('shows the indicator count of the library with thousands separators', async () => {
    const many: Indicator[] = [];
    for (let i = 0; i < 1200; i++) many.push(ind('ipv4', `45.${(i >> 8) & 255}.${i & 255}.1`));
    seed(many);
    await start();
    assert.deepEqual(lastStatus('ioc'), { fill: 'green', shape: 'dot', text: '0 matched · 1,200 indicators' });
  });

  it('answers GET /soar/iocs/lookup with the verdict and matches of one value', async () => {
    seed([
      ind('ipv4', '8.42.77.171', { confidence: 55 }),
      ind('domain', 'bad-cdn.xyz', { confidence: 90 }),
      ind('sha256', 'a'.repeat(64), { confidence: 10 }),
    ]);
    await start();
    const hit = await helper.request().get('/soar/iocs/lookup').query({ value: '8.42.77.171' }).expect(200);
    assert.deepEqual(hit.body, {
      value: '8.42.77.171',
      type: 'ipv4',
      verdict: 'suspicious',
      matches: [
        {
          observable: { type: 'ipv4', value: '8.42.77.171', role: 'related' },
          indicator: { type: 'ipv4', value: '8.42.77.171' },
          via: 'exact',
          confidence: 55,
          verdict: 'suspicious',
          sources: [{ feed: 'test-feed', confidence: 55, tlp: 'amber', tags: [], attack: [] }],
        },
      ],
    });
    const url = await helper
      .request()
      .get('/soar/iocs/lookup')
      .query({ value: 'HTTPS://WWW.Bad-CDN.xyz/payload.exe' })
      .expect(200);
    assert.deepEqual(
      [url.body.type, url.body.value, url.body.verdict, url.body.matches[0].via],
      ['url', 'https://www.bad-cdn.xyz/payload.exe', 'malicious', 'url-host'],
    );
    const hash = await helper
      .request()
      .get('/soar/iocs/lookup')
      .query({ value: 'A'.repeat(64) })
      .expect(200);
    assert.deepEqual([hash.body.type, hash.body.verdict], ['sha256', 'suspicious']);
    const host = await helper
      .request()
      .get('/soar/iocs/lookup')
      .query({ value: 'cdn.bad-cdn.xyz', type: 'hostname' })
      .expect(200);
    assert.deepEqual([host.body.type, host.body.verdict], ['hostname', 'malicious']);

    const miss = await helper.request().get('/soar/iocs/lookup').query({ value: '203.0.113.9' }).expect(200);
    assert.deepEqual(miss.body, { value: '203.0.113.9', type: 'ipv4', verdict: 'unknown', matches: [] });
  });

  it('answers 400 to a missing, overlong, unrecognisable or invalid value, or an unknown type', async () => {
    seed([]);
    await start();
    const bad = async (query: Record<string, string>, message: RegExp) => {
      const res = await helper.request().get('/soar/iocs/lookup').query(query).expect(400);
      assert.match(res.body.error, message);
    };
    await bad({}, /give the value to look up/);
    await bad({ value: '' }, /give the value to look up/);
    await bad({ value: `http://x.example/${'a'.repeat(2040)}` }, /longer than 2048 characters/);
    await bad({ value: 'not a value!' }, /cannot tell what "not a value!" is: give \?type=/);
    await bad({ value: '999.1.1.1', type: 'ipv4' }, /"999\.1\.1\.1" is not a valid ipv4/);
    await bad({ value: '1.2.3.4', type: 'ip' }, /type must be one of ipv4, ipv6/);
    const twice = await helper.request().get('/soar/iocs/lookup?value=1.2.3.4&value=5.6.7.8').expect(400);
    assert.match(twice.body.error, /give the value/);
  });

  it('answers GET /soar/iocs/stats with the library counts', async () => {
    seed([ind('ipv4', '8.42.77.171'), ind('domain', 'bad-cdn.xyz')]);
    await start();
    const res = await helper.request().get('/soar/iocs/stats').expect(200);
    assert.equal(res.body.indicators, 2);
    const feed = res.body.feeds.find((f: { feed: string }) => f.feed === 'test-feed');
    assert.equal(feed.indicators, 2);
    assert.ok(res.body.allowed > 0, 'the default allowlists are loaded');
  });

  it('guards both routes with the soar.read permission', async () => {
    seed([ind('ipv4', '8.42.77.171')]);
    const asked: string[] = [];
    const granted = new Set<string>();
    // The test helper's RED.auth lets everything through: this one checks the permission the route asks for.
    const guarded = (RED: NodeAPI) => {
      const red = Object.create(RED) as NodeAPI;
      Object.defineProperty(red, 'auth', {
        value: {
          needsPermission: (permission: string) => {
            asked.push(permission);
            return (_req: Request, res: Response, next: NextFunction) =>
              granted.has(permission) ? next() : res.status(401).json({ error: 'unauthorised' });
          },
        },
      });
      return iocMatchNode(red);
    };
    await start({}, [guarded, catchNode]);
    assert.deepEqual(asked, ['soar.read', 'soar.read']);
    await helper.request().get('/soar/iocs/lookup').query({ value: '8.42.77.171' }).expect(401);
    await helper.request().get('/soar/iocs/stats').expect(401);
    granted.add('soar.write');
    await helper.request().get('/soar/iocs/lookup').query({ value: '8.42.77.171' }).expect(401);
    granted.add('soar.read');
    const res = await helper.request().get('/soar/iocs/lookup').query({ value: '8.42.77.171' }).expect(200);
    assert.equal(res.body.verdict, 'malicious');
    await helper.request().get('/soar/iocs/stats').expect(200);
  });

  it('hands matches on to soar-case: the matched observable becomes an IOC artifact with its verdict', async () => {
    seed([ind('ipv4', '8.42.77.171', { confidence: 95 }), ind('cidr', '138.68.0.0/16', { confidence: 40 })]);
    await helper.load(
      [iocMatchNode, caseNode, catchNode] as never,
      [
        { id: 'tab', type: 'tab' },
        { id: 'ioc', z: 'tab', type: 'soar-ioc-match', wires: [['cases'], ['cases']] },
        { id: 'cases', z: 'tab', type: 'soar-case', operation: 'group', caseType: '', wires: [['out']] },
        { id: 'out', z: 'tab', type: 'helper' },
        { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
        { id: 'caught', z: 'tab', type: 'helper' },
      ] as never,
    );
    const result = new Promise<Case>((resolve, reject) => {
      helper.getNode('out').on('input', (m: object) => resolve((m as { case: Case }).case));
      helper
        .getNode('caught')
        .on('input', (m: object) => reject(new Error((m as { error: { message: string } }).error.message)));
    });
    (helper.getNode('ioc') as unknown as { receive: (m: object) => void }).receive({ payload: honeypotAlert() });
    const c = await result;
    const byValue = new Map(c.artifacts.map((a) => [a.value, a]));
    assert.deepEqual(
      [byValue.get('8.42.77.171')?.ioc, byValue.get('8.42.77.171')?.verdict, byValue.get('8.42.77.171')?.sources],
      [true, 'malicious', ['suricata', 'ioc:test-feed']],
    );
    assert.deepEqual([byValue.get('138.68.3.71')?.ioc, byValue.get('138.68.3.71')?.verdict], [true, 'suspicious']);
    assert.equal(c.artifacts.length, 2);
  });
});
