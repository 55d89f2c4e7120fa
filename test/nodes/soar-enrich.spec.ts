import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import enrichNode from '../../nodes/soar-enrich/soar-enrich';
import providerNode from '../../nodes/soar-enrich-provider/soar-enrich-provider';
import deviceNode from '../../nodes/soar-device/soar-device';
import { alertId } from '../../lib/alert/id';
import type { Alert } from '../../lib/alert/model';
import { validateAlert } from '../../lib/alert/schema';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import type { EnrichError, Enrichment } from '../../lib/enrich/model';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

const fixtures = join(__dirname, '..', 'fixtures', 'enrich', 'abuseipdb');
const BAD = readFileSync(join(fixtures, 'bad.json'), 'utf8');
const CLEAN = readFileSync(join(fixtures, 'clean.json'), 'utf8');

const BAD_IP = '203.0.113.7';
const CLEAN_IP = '198.51.100.53';
/** The fake AbuseIPDB answers 500 for this one. */
const BROKEN_IP = '192.0.2.50';
const KEY = 'abuseipdb-test-key-0123456789';

/** A local server answering like AbuseIPDB's check endpoint, counting the requests per address. */
async function fakeAbuseIpdb() {
  const requests: { ip: string; key: string | undefined }[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const ip = url.searchParams.get('ipAddress') ?? '';
    requests.push({ ip, key: req.headers.key as string | undefined });
    if (url.pathname !== '/api/v2/check' || req.headers.key !== KEY) {
      res.writeHead(401, { 'content-type': 'application/json' });
      return void res.end('{"errors":[{"detail":"Authentication failed."}]}');
    }
    if (ip === BROKEN_IP) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      return void res.end('internal error');
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(ip === BAD_IP ? BAD : CLEAN);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function alertWith(...ips: string[]): Alert {
  const ref = `test-${Math.random()}`;
  const now = new Date().toISOString();
  const alert: Alert = {
    id: alertId('suricata', ref),
    source: 'suricata',
    sourceRef: ref,
    time: now,
    received: now,
    title: 'ET SCAN Potential SSH Scan',
    severity: 'medium',
    rule: { id: '2001219', name: 'ET SCAN Potential SSH Scan', category: 'Attempted Information Leak' },
    observables: [
      ...ips.map((value) => ({ type: 'ipv4' as const, value, role: 'source' as const })),
      { type: 'user', value: 'root', role: 'target' },
    ],
    attack: [],
    raw: {},
  };
  const valid = validateAlert(alert);
  assert.ok(valid.valid, valid.valid ? '' : valid.errors);
  return alert;
}

type Out = {
  payload: Alert & { enrichments?: Enrichment[] };
  enrichments: Enrichment[];
  enrichmentErrors: EnrichError[];
  case?: Case;
};

describe('soar-enrich with soar-enrich-provider', function () {
  let tmp: ReturnType<typeof tempDir>;
  let server: Awaited<ReturnType<typeof fakeAbuseIpdb>>;
  let outputs: { port: string; msg: Out }[];
  let waiters: (() => void)[];

  const abuseipdb = (extra: object = {}) => ({
    id: 'abuse',
    type: 'soar-enrich-provider',
    name: 'abuseipdb',
    provider: 'abuseipdb',
    baseUrl: server.url,
    perMinute: 0,
    burst: 1,
    timeoutSeconds: 5,
    retries: 0,
    ...extra,
  });
  const virustotal = {
    id: 'vt',
    type: 'soar-enrich-provider',
    name: 'virustotal',
    provider: 'virustotal',
    baseUrl: '',
    perMinute: '',
    burst: '',
    timeoutSeconds: 10,
  };

  async function load(enrich: object, configs: object[], credentials: object = { abuse: { apiKey: KEY } }) {
    const flow = [
      { id: 'tab', type: 'tab' },
      ...configs,
      {
        id: 'enrich',
        z: 'tab',
        type: 'soar-enrich',
        name: '',
        provider1: 'abuse',
        types: 'ipv4,ipv6,domain,url,md5,sha1,sha256',
        only: 'all',
        maxObservables: 10,
        wires: [['out']],
        ...enrich,
      },
      { id: 'out', z: 'tab', type: 'helper' },
      { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', z: 'tab', type: 'helper' },
    ];
    await helper.load([providerNode, enrichNode, deviceNode, catchNode], flow as never, credentials as never);
    for (const port of ['out', 'caught']) {
      helper.getNode(port).on('input', (m: object) => {
        outputs.push({ port, msg: m as Out });
        waiters.splice(0).forEach((w) => w());
      });
    }
  }
  async function next(): Promise<{ port: string; msg: Out }> {
    const deadline = Date.now() + 10_000;
    while (outputs.length === 0) {
      if (Date.now() > deadline) throw new Error('timed out waiting for an output');
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return outputs.shift() as { port: string; msg: Out };
  }
  const send = (msg: object) => (helper.getNode('enrich') as unknown as { receive: (m: object) => void }).receive(msg);
  function lastStatus(): { fill?: string; shape?: string; text?: string } {
    const spy = helper.getNode('enrich').status as unknown as {
      lastCall: { args: [{ fill?: string; shape?: string; text?: string }] } | null;
    };
    return spy.lastCall?.args[0] ?? {};
  }

  /** A case in the store with an IOC artifact, as soar-case hands it on. */
  async function caseWith(ip: string, verdict: 'malicious' | 'suspicious'): Promise<Case> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const alert = alertWith(ip, '10.0.0.5');
      alert.matches = [
        {
          observable: { type: 'ipv4', value: ip, role: 'source' },
          indicator: { type: 'ipv4', value: ip },
          via: 'exact',
          confidence: 60,
          verdict,
          sources: [{ feed: 'feodo', confidence: 60, tlp: 'amber', tags: [], attack: [] }],
        },
      ];
      alert.verdict = verdict;
      const { case: c } = await store.group(alert, { type: 'scan', key: 'scan', windowMs: 3_600_000 });
      return c;
    } finally {
      releaseCaseStore(file);
    }
  }
  async function stored(id: string): Promise<Case | undefined> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      return await store.get(id);
    } finally {
      releaseCaseStore(file);
    }
  }

  beforeEach(async () => {
    tmp = tempDir();
    server = await fakeAbuseIpdb();
    outputs = [];
    waiters = [];
    helper.settings({ userDir: tmp.dir } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    await server.close();
    tmp.cleanup();
  });

  it("writes the provider's verdict, score, reason and link onto msg.payload.enrichments", async () => {
    await load({}, [abuseipdb()]);
    send({ payload: alertWith(BAD_IP) });
    const { port, msg } = await next();
    assert.equal(port, 'out');
    assert.equal(msg.payload.enrichments?.length, 1);
    const [e] = msg.payload.enrichments ?? [];
    assert.equal(e.provider, 'abuseipdb');
    assert.deepEqual(e.observable, { type: 'ipv4', value: BAD_IP });
    assert.equal(e.verdict, 'malicious');
    assert.equal(e.score, 100);
    assert.match(e.reason, /reported 153 times by 37 users, confidence 100 %/);
    assert.equal(e.link, `https://www.abuseipdb.com/check/${BAD_IP}`);
    assert.equal((e.raw as { data: { totalReports: number } }).data.totalReports, 153);
    assert.deepEqual(msg.enrichments, msg.payload.enrichments);
    assert.deepEqual(msg.enrichmentErrors, []);
    assert.deepEqual(server.requests, [{ ip: BAD_IP, key: KEY }]);
    assert.equal(lastStatus().fill, 'green');
    assert.equal(lastStatus().text, '1 enriched');
  });

  it('serves the second identical message from the cache (the provider is asked once)', async () => {
    await load({}, [abuseipdb()]);
    send({ payload: alertWith(BAD_IP, CLEAN_IP) });
    const first = await next();
    send({ payload: alertWith(BAD_IP, CLEAN_IP) });
    const second = await next();
    assert.deepEqual(
      second.msg.payload.enrichments?.map((e) => [e.observable.value, e.verdict]),
      [
        [BAD_IP, 'malicious'],
        [CLEAN_IP, 'harmless'],
      ],
    );
    assert.deepEqual(
      second.msg.payload.enrichments?.map((e) => e.at),
      first.msg.payload.enrichments?.map((e) => e.at),
    );
    assert.deepEqual(server.requests.map((r) => r.ip).sort(), [CLEAN_IP, BAD_IP].sort());
  });

  it('keeps the cache in the store across a redeploy', async () => {
    await load({}, [abuseipdb()]);
    send({ payload: alertWith(BAD_IP) });
    await next();
    await helper.unload();
    await load({}, [abuseipdb()]);
    send({ payload: alertWith(BAD_IP) });
    const { msg } = await next();
    assert.equal(msg.payload.enrichments?.[0]?.verdict, 'malicious');
    assert.equal(server.requests.length, 1);
  });

  it('skips a provider without an API key and says so in the status', async () => {
    await load({ provider1: 'vt' }, [virustotal], {});
    const status = await (async () => {
      for (let i = 0; i < 50 && !lastStatus().text; i++) await new Promise((r) => setTimeout(r, 10));
      return lastStatus();
    })();
    assert.deepEqual(status, { fill: 'grey', shape: 'ring', text: 'virustotal: no API key' });
    send({ payload: alertWith(BAD_IP) });
    const { port, msg } = await next();
    assert.equal(port, 'out');
    assert.deepEqual(msg.payload.enrichments, []);
    assert.deepEqual(msg.enrichmentErrors, []);
    assert.deepEqual(lastStatus(), { fill: 'grey', shape: 'ring', text: 'virustotal: no API key' });
  });

  it('still asks the providers that have a key, and names the skipped one in the status', async () => {
    await load({ provider2: 'vt' }, [abuseipdb(), virustotal]);
    send({ payload: alertWith(BAD_IP) });
    const { msg } = await next();
    assert.deepEqual(
      msg.payload.enrichments?.map((e) => e.provider),
      ['abuseipdb'],
    );
    assert.equal(lastStatus().text, '1 enriched · virustotal: no API key');
  });

  it('writes a provider error (500) onto msg.enrichmentErrors and the flow goes on', async () => {
    await load({}, [abuseipdb()]);
    send({ payload: alertWith(BROKEN_IP, BAD_IP) });
    const { port, msg } = await next();
    assert.equal(port, 'out');
    assert.deepEqual(
      msg.payload.enrichments?.map((e) => e.observable.value),
      [BAD_IP],
    );
    assert.equal(msg.enrichmentErrors.length, 1);
    const [error] = msg.enrichmentErrors;
    assert.equal(error.provider, 'abuseipdb');
    assert.deepEqual(error.observable, { type: 'ipv4', value: BROKEN_IP });
    assert.equal(error.status, 500);
    assert.match(error.error, /AbuseIPDB: provider error 500/);
    assert.ok(!error.error.includes(KEY));
    assert.deepEqual(lastStatus(), { fill: 'yellow', shape: 'ring', text: '1 enriched · 1 error' });
    // Errors are not cached: the next message asks again.
    send({ payload: alertWith(BROKEN_IP) });
    await next();
    assert.equal(server.requests.filter((r) => r.ip === BROKEN_IP).length, 2);
    assert.equal(outputs.length, 0);
  });

  it("puts the verdict onto the case's artifact with a timeline entry, durably, and hands on the stored case", async () => {
    await load({}, [abuseipdb()]);
    const c = await caseWith(BAD_IP, 'suspicious');
    send({ payload: alertWith(BAD_IP), case: c });
    const { port, msg } = await next();
    assert.equal(port, 'out');

    const after = await stored(c.id);
    assert.ok(after);
    const artifact = after.artifacts.find((a) => a.type === 'ipv4' && a.value === BAD_IP);
    assert.ok(artifact);
    assert.equal(artifact.verdict, 'malicious');
    assert.ok(artifact.sources.includes('enrich:abuseipdb'));
    assert.ok(artifact.sources.includes('ioc:feodo'));
    const entry = after.timeline.find((t) => t.kind === 'enrichment');
    assert.ok(entry);
    assert.match(entry.message, /^AbuseIPDB: 203\.0\.113\.7 malicious \(reported 153 times by 37 users/);
    // The other artifact (a private address): AbuseIPDB's clean answer, "harmless" from its whitelist.
    const other = after.artifacts.find((a) => a.value === '10.0.0.5');
    assert.equal(other?.verdict, 'harmless');
    assert.deepEqual(msg.case, after);
    // The IOC artifact was looked up first.
    assert.equal(server.requests[0].ip, BAD_IP);
  });

  it('never lets a harmless answer clear a malicious IOC verdict on the case', async () => {
    await load({}, [abuseipdb()]);
    const c = await caseWith(CLEAN_IP, 'malicious');
    send({ case: c });
    const { port } = await next();
    assert.equal(port, 'out');
    const after = await stored(c.id);
    const artifact = after?.artifacts.find((a) => a.value === CLEAN_IP);
    assert.equal(artifact?.verdict, 'malicious');
    assert.ok(artifact?.sources.includes('enrich:abuseipdb'));
  });

  it('enriches a case given only msg.caseId, limited to IOC artifacts with only = ioc', async () => {
    await load({ only: 'ioc' }, [abuseipdb()]);
    const c = await caseWith(BAD_IP, 'suspicious');
    send({ caseId: c.id });
    const { msg } = await next();
    assert.deepEqual(
      msg.enrichments.map((e) => e.observable.value),
      [BAD_IP],
    );
    assert.deepEqual(
      server.requests.map((r) => r.ip),
      [BAD_IP],
    );
    assert.equal(msg.case?.artifacts.find((a) => a.value === BAD_IP)?.verdict, 'malicious');
    assert.equal((await stored(c.id))?.artifacts.find((a) => a.value === BAD_IP)?.verdict, 'malicious');
  });

  it('reports a payload that is not an alert, without a case, with done(err) for Catch', async () => {
    await load({}, [abuseipdb()]);
    send({ payload: 'hello' });
    const { port, msg } = await next();
    assert.equal(port, 'caught');
    assert.match((msg as unknown as { error: { message: string } }).error.message, /msg\.payload is not an alert/);
    assert.equal(lastStatus().fill, 'red');
    assert.equal(server.requests.length, 0);
  });

  it('lists the providers with their quota and default limits for the editor (GET /soar/enrich/providers)', async () => {
    await load({}, [abuseipdb()]);
    const res = await helper.request().get('/soar/enrich/providers').expect(200);
    const items = res.body.items as {
      id: string;
      quota: string;
      perMinute: number;
      burst: number;
      needsKey: boolean;
    }[];
    assert.deepEqual(
      items.map((p) => p.id),
      ['abuseipdb', 'virustotal', 'greynoise', 'shodan', 'urlhaus', 'threatfox', 'rdap'],
    );
    const vt = items.find((p) => p.id === 'virustotal');
    assert.match(vt?.quota ?? '', /4 requests a minute/);
    assert.deepEqual([vt?.perMinute, vt?.burst, vt?.needsKey], [3, 1, true]);
    assert.equal(items.find((p) => p.id === 'rdap')?.needsKey, false);
  });

  it("adds the host context of the device managing the alert's host (collect-host-context)", async () => {
    const edr = {
      id: 'edr',
      type: 'soar-device',
      name: 'lab edr',
      deviceType: 'lab',
      cidrs: '',
      hosts: '*.corp.example',
      tags: '',
      settings: '{}',
      actionsPerMinute: 0,
      approval: '',
      healthSeconds: 0,
    };
    await load({ hostContext: true }, [abuseipdb(), edr]);
    const alert = { ...alertWith(BAD_IP), host: { name: 'ws-7.corp.example' } };
    send({ payload: alert });
    const { port, msg } = await next();
    assert.equal(port, 'out');
    // The host is not one of the alert's observables: its context is in msg.enrichments (every answer).
    const context = msg.enrichments?.find((e) => e.provider === 'device:lab edr');
    assert.ok(context, 'the device answered');
    assert.deepEqual(context.observable, { type: 'hostname', value: 'ws-7.corp.example' });
    assert.equal(context.verdict, 'unknown');
    assert.match(context.reason, /lab device lab edr: collect-host-context ws-7\.corp\.example/);
    assert.ok(validateAlert(msg.payload).valid, 'the enriched alert stays valid');
    send({ payload: { ...alertWith(BAD_IP), host: { name: 'db-1.other.example' } } });
    const other = await next();
    assert.equal(
      other.msg.enrichments?.some((e) => e.provider.startsWith('device:')),
      false,
      'no device manages that host: no context',
    );
  });

  it('takes an alert already enriched by another soar-enrich node', async () => {
    await load({}, [abuseipdb()]);
    const alert = alertWith(BAD_IP) as Alert & { enrichments: Enrichment[] };
    alert.enrichments = [];
    send({ payload: alert });
    const { port, msg } = await next();
    assert.equal(port, 'out');
    assert.equal(msg.payload.enrichments?.length, 1);
  });
});
