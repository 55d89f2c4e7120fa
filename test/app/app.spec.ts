import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const suricata = readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

interface SuricataRecord {
  src_ip: string;
  alert: { signature_id: number; signature: string; category: string };
}

function postAlert(url: string, token: string, body: unknown) {
  return fetch(`${url}/api/alerts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** What the intake journal holds: every alert id it accepted, and the alerts still pending (not yet processed). */
function journal(dataDir: string): { seen: Set<string>; pending: Set<string> } {
  const db = new Database(join(dataDir, 'soar-intake.db'), { readonly: true });
  try {
    const ids = (sql: string) => new Set((db.prepare(sql).all() as { alert_id: string }[]).map((r) => r.alert_id));
    return { seen: ids('SELECT alert_id FROM seen'), pending: ids('SELECT alert_id FROM intake') };
  } finally {
    db.close();
  }
}

describe('npm start (the product as an app)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;

  beforeEach(() => {
    tmp = tempDir('soar-app-');
  });
  afterEach(async () => {
    await app?.stop();
    app = undefined;
    tmp.cleanup();
  });

  it('secures a first start on an empty data dir, deploys the default flow and takes an alert', async () => {
    app = await startApp(tmp.dir);
    const out = app.output();
    const password = /Editor login:\s+admin \/ (\S+)/.exec(out)?.[1];
    const intakeToken = /Alert intake token:\s+(\S+)/.exec(out)?.[1];
    assert.ok(password && intakeToken, `secrets printed on first start:\n${out}`);

    // Secrets are kept 0600, the password only as a bcrypt hash.
    const secretsFile = join(tmp.dir, 'soar-secrets.json');
    assert.equal(statSync(secretsFile).mode & 0o777, 0o600);
    const stored = readFileSync(secretsFile, 'utf8');
    assert.ok(!stored.includes(password), 'the password itself is not stored');
    assert.match(JSON.parse(stored).adminPasswordHash, /^\$2[aby]\$10\$/);

    // The editor's admin API needs a login.
    for (const route of ['/flows', '/nodes', '/settings/user', '/context/global']) {
      assert.equal((await fetch(app.url + route)).status, 401, route);
    }
    const token = await adminToken(app.url, 'admin', password);
    const flows = await fetch(`${app.url}/flows`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(flows.status, 200);
    const types = ((await flows.json()) as { type: string }[]).map((n) => n.type);
    const expectedTypes = [
      'soar-alert-in',
      'soar-normalize',
      'soar-ioc-feed',
      'soar-ioc-match',
      'soar-rule',
      'soar-case',
    ];
    for (const type of [...expectedTypes, 'soar-case-type']) {
      assert.ok(types.includes(type), `${type} in the default flow: ${types.join()}`);
    }
    await assert.rejects(adminToken(app.url, 'admin', 'wrong-password'));

    // A sample alert is accepted, normalised and marked processed by the default flow.
    assert.equal((await postAlert(app.url, 'wrong', suricata[0])).status, 401);
    // The raw body reaches the intake untouched by the editor's body parser, so an HMAC signature verifies.
    const signedBody = JSON.stringify(suricata[2]);
    const signed = await fetch(`${app.url}/api/alerts`, {
      method: 'POST',
      headers: {
        'x-soar-signature': 'sha256=' + createHmac('sha256', intakeToken).update(signedBody).digest('hex'),
        'content-type': 'application/json',
      },
      body: signedBody,
    });
    assert.equal(signed.status, 202);
    const res = await postAlert(app.url, intakeToken, suricata[0]);
    assert.equal(res.status, 202);
    const { ids } = (await res.json()) as { ids: string[] };
    await until(() => {
      const { seen, pending } = journal(tmp.dir);
      return seen.has(ids[0]) && !pending.has(ids[0]);
    });
    // ... and grouped into a network IDS case, which the case API shows to a logged-in analyst only.
    assert.equal((await fetch(`${app.url}/soar/cases`)).status, 401);
    const running = app;
    const cases = await until(async () => {
      const page = (await (
        await fetch(`${running.url}/soar/cases?type=network-ids`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { total: number; items: { alerts: string[] }[] };
      return page.total === 2 ? page : undefined; // two Suricata alerts, two signatures
    });
    assert.ok(cases.items.some((c) => c.alerts.includes(ids[0])));
  });

  it('matches alerts against a feed file dropped into <data dir>/feeds/ and marks the case artifact as an IOC', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'ioc-test-token', SOAR_ADMIN_PASSWORD: 'ioc-test-password' };
    const scanner = (suricata[0] as unknown as SuricataRecord).src_ip;
    mkdirSync(join(tmp.dir, 'feeds'), { recursive: true });
    const feedFile = join(tmp.dir, 'feeds', 'scanners.txt');
    writeFileSync(feedFile, `# SSH scanners\n${scanner}\n`);
    const past = new Date(Date.now() - 60_000);
    utimesSync(feedFile, past, past);
    app = await startApp(tmp.dir, env);
    const running = app;
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const auth = { headers: { authorization: `Bearer ${token}` } };

    const lookup = await until(async () => {
      const res = await fetch(`${running.url}/soar/iocs/lookup?value=${scanner}`, auth);
      const body = (await res.json()) as { verdict: string; matches: { sources: { feed: string }[] }[] };
      return body.verdict !== 'unknown' ? body : undefined;
    });
    assert.equal(lookup.verdict, 'suspicious');
    assert.equal(lookup.matches[0].sources[0].feed, 'feeds/scanners.txt');

    const res = await postAlert(app.url, env.SOAR_INTAKE_TOKEN, suricata[0]);
    assert.equal(res.status, 202);
    const { ids } = (await res.json()) as { ids: string[] };
    const found = await until(async () => {
      const page = (await (await fetch(`${running.url}/soar/cases?type=network-ids`, auth)).json()) as {
        items: { alerts: string[]; artifacts: { type: string; value: string; ioc: boolean; verdict?: string }[] }[];
      };
      return page.items.find((c) => c.alerts.includes(ids[0]));
    });
    const artifact = found.artifacts.find((a) => a.value === scanner);
    assert.equal(artifact?.ioc, true);
    assert.equal(artifact?.verdict, 'suspicious');
  });

  it('blocks the malicious IOC of a case on the lab device and records the action in the case and the audit log', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'respond-test-token', SOAR_ADMIN_PASSWORD: 'respond-test-password' };
    const attacker = (suricata[0] as unknown as SuricataRecord).src_ip;
    mkdirSync(join(tmp.dir, 'feeds'), { recursive: true });
    const feedFile = join(tmp.dir, 'feeds', 'c2.json');
    const indicator = {
      type: 'indicator',
      spec_version: '2.1',
      id: 'indicator--0f6f1f6e-5c3a-4a8e-9d7e-3b7c2d1e0a11',
      created: '2026-01-01T00:00:00.000Z',
      modified: '2026-01-01T00:00:00.000Z',
      pattern_type: 'stix',
      pattern: `[ipv4-addr:value = '${attacker}']`,
      valid_from: '2026-01-01T00:00:00.000Z',
      confidence: 90,
    };
    writeFileSync(feedFile, JSON.stringify({ type: 'bundle', id: 'bundle--1', objects: [indicator] }));
    const past = new Date(Date.now() - 60_000);
    utimesSync(feedFile, past, past);
    app = await startApp(tmp.dir, env);
    const running = app;
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const auth = { headers: { authorization: `Bearer ${token}` } };
    await until(async () => {
      const res = await fetch(`${running.url}/soar/iocs/lookup?value=${attacker}`, auth);
      return ((await res.json()) as { verdict: string }).verdict === 'malicious';
    });

    const res = await postAlert(app.url, env.SOAR_INTAKE_TOKEN, suricata[0]);
    const { ids } = (await res.json()) as { ids: string[] };
    const found = await until(async () => {
      const page = (await (await fetch(`${running.url}/soar/cases?type=network-ids`, auth)).json()) as {
        items: { alerts: string[]; actions: { action: string; target: string; device: string; status: string }[] }[];
      };
      const c = page.items.find((x) => x.alerts.includes(ids[0]));
      return c && c.actions.length > 0 ? c : undefined;
    });
    assert.deepEqual(
      found.actions.map((a) => [a.action, a.target, a.device, a.status]),
      [['block-ip', attacker, 'lab firewall', 'done']],
    );
    const devices = (await (await fetch(`${running.url}/soar/devices`, auth)).json()) as {
      items: { name: string; type: string }[];
    };
    assert.deepEqual(
      devices.items.map((d) => [d.name, d.type]),
      [['lab firewall', 'lab']],
    );
    const audit = readFileSync(join(tmp.dir, 'soar-audit.jsonl'), 'utf8').trim().split('\n');
    assert.equal(audit.length, 1);
    assert.match(audit[0], new RegExp(`"action":"block-ip".*"target":"${attacker.replace(/\./g, '\\.')}"`));
  });

  it('keeps the user flows and prints no secret on later starts; takes secrets from the environment', async () => {
    const env = { SOAR_ADMIN_PASSWORD: 'correct horse battery staple', SOAR_INTAKE_TOKEN: 'env-intake-token-123' };
    app = await startApp(tmp.dir, env);
    assert.doesNotMatch(app.output(), /Editor login|Alert intake token/);
    await app.stop();

    const flowFile = join(tmp.dir, 'flows.json');
    const flows = JSON.parse(readFileSync(flowFile, 'utf8'));
    flows.push({ id: 'user.comment', type: 'comment', z: flows[0].id, name: 'mine', wires: [] });
    writeFileSync(flowFile, JSON.stringify(flows));

    app = await startApp(tmp.dir, env);
    assert.doesNotMatch(app.output(), /Editor login|Alert intake token/);
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const deployed = (await (
      await fetch(`${app.url}/flows`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as {
      id: string;
    }[];
    assert.ok(
      deployed.some((n) => n.id === 'user.comment'),
      'the user flow survives a restart',
    );
    assert.equal((await postAlert(app.url, env.SOAR_INTAKE_TOKEN, suricata[1])).status, 202);
  });

  it('puts the Wazuh brute-force alert and 200 more for its source posted at once into one brute-force case', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'case-test-token', SOAR_ADMIN_PASSWORD: 'case-test-password' };
    app = await startApp(tmp.dir, env);
    const wazuh = JSON.parse(readFileSync(fixture('wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8'));
    const posts = [wazuh, ...Array.from({ length: 200 }, (_, i) => ({ ...wazuh, id: `${wazuh.id}-${i}` }))].map((a) =>
      postAlert(app!.url, env.SOAR_INTAKE_TOKEN, a),
    );
    assert.deepEqual(new Set((await Promise.all(posts)).map((r) => r.status)), new Set([202]));
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const brute = await until(async () => {
      const page = (await (
        await fetch(`${app!.url}/soar/cases?type=brute-force`, { headers: { authorization: `Bearer ${token}` } })
      ).json()) as { total: number; items: { alertCount: number; ttps: string[]; severity: string }[] };
      return page.total === 1 && page.items[0].alertCount === 201 ? page.items[0] : undefined;
    });
    assert.deepEqual(brute.ttps, ['T1110']);
    assert.equal(brute.severity, 'high', 'the brute-force case type starts high');
  });

  it('records no playbook run with SOAR_RUN_TRACKING=false, and one per alert without it', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'runs-test-token', SOAR_ADMIN_PASSWORD: 'runs-test-password' };
    /** Runs recorded for one alert by an app on a fresh data dir: in the run store, and on the alert's case. */
    const runsOfOneAlert = async (dataDir: string, tracking: boolean) => {
      const extra: Record<string, string> = tracking ? {} : { SOAR_RUN_TRACKING: 'false' };
      const running = (app = await startApp(dataDir, { ...env, ...extra }));
      const token = await adminToken(running.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      const get = async <T>(path: string) =>
        (await (await fetch(running.url + path, { headers: { authorization: `Bearer ${token}` } })).json()) as T;
      const runs = async () => (await get<{ total: number }>('/soar/runs')).total;
      assert.equal((await postAlert(running.url, env.SOAR_INTAKE_TOKEN, suricata[1])).status, 202);
      // The flow's last write to the case: soar-decide's decision; the run ends as its message goes on.
      await until(async () => {
        const page = await get<{ items: { timeline: { kind: string }[] }[] }>('/soar/cases');
        return page.items[0]?.timeline.some((t) => t.kind === 'decision');
      });
      // Reading the runs writes those that finished, and puts them on their cases.
      if (tracking) await until(async () => (await runs()) > 0);
      else await new Promise((resolve) => setTimeout(resolve, 1_500));
      const recorded = await runs();
      const [c] = (await get<{ items: { runs: unknown[] }[] }>('/soar/cases')).items;
      await running.stop();
      app = undefined;
      return [recorded, c.runs.length];
    };
    assert.deepEqual(await runsOfOneAlert(tmp.dir, false), [0, 0]);
    const other = tempDir('soar-app-');
    try {
      assert.deepEqual(await runsOfOneAlert(other.dir, true), [1, 1]);
    } finally {
      other.cleanup();
    }
  });

  it('groups the real Suricata sets into one network IDS case per signature and source address', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'ids-test-token', SOAR_ADMIN_PASSWORD: 'ids-test-password' };
    app = await startApp(tmp.dir, env);
    const sets = [
      'fhassanabad-wrccdc-2017-alerts.json',
      'fhassanabad-first-org-conf-2015-alerts.json',
      'fhassanabad-honeypot-2018-alerts.json',
    ].map((f) => JSON.parse(readFileSync(fixture('suricata-eve', f), 'utf8')) as SuricataRecord[]);
    // Expected, from the raw records: the default rules send brute-force and phishing signatures elsewhere; every
    // other Suricata alert is network IDS, one case per (signature id, source address).
    const ids = sets.flat().filter((r) => !/brute force|phish/i.test(`${r.alert.signature} ${r.alert.category}`));
    const expected = new Set(ids.map((r) => `${r.alert.signature_id}|${r.src_ip}`)).size;
    for (const set of sets) assert.equal((await postAlert(app.url, env.SOAR_INTAKE_TOKEN, set)).status, 202);
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const running = app;
    let total = -1;
    await until(async () => {
      const page = (await (
        await fetch(`${running.url}/soar/cases?type=network-ids&limit=1`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).json()) as { total: number };
      total = page.total;
      return total === expected;
    }).catch(() => assert.equal(total, expected));
  });

  it('loses no acknowledged alert when killed with SIGKILL right after a 202', async () => {
    const env = { SOAR_INTAKE_TOKEN: 'kill-test-token', SOAR_ADMIN_PASSWORD: 'kill-test-password' };
    // The default flow cut after soar-normalize, so nothing marks alerts processed: every acknowledged alert stays
    // pending and must be replayed.
    const flows = JSON.parse(readFileSync(join(__dirname, '..', '..', 'flows', 'default.json'), 'utf8')) as {
      id: string;
      wires?: string[][];
    }[];
    for (const n of flows) if (n.id === 'soar.normalize') n.wires = [[], []];
    // The test is about durability, not the rate limit: four clients must not meet a 429.
    for (const n of flows as { id: string; rateLimit?: number; burst?: number }[]) {
      if (n.id === 'soar.alert-in') Object.assign(n, { rateLimit: 100_000, burst: 100_000 });
    }
    writeFileSync(join(tmp.dir, 'flows.json'), JSON.stringify(flows));
    app = await startApp(tmp.dir, env);
    const running = app;
    const acknowledged: string[] = [];
    let sent = 0;
    let killed = false;
    const killAfter = 150 + Math.floor(Math.random() * 100);

    // Four clients post distinct alerts until the app is killed right after the killAfter-th 202.
    const client = async () => {
      while (!killed) {
        const alert = { ...suricata[sent % suricata.length], flow_id: 1_000_000 + sent };
        sent += 1;
        try {
          const res = await postAlert(running.url, env.SOAR_INTAKE_TOKEN, alert);
          if (res.status !== 202) throw new Error(`unexpected ${res.status}`);
          acknowledged.push(...((await res.json()) as { ids: string[] }).ids);
          if (acknowledged.length >= killAfter && !killed) {
            killed = true;
            running.proc.kill('SIGKILL');
          }
        } catch (err) {
          if (!killed) throw err;
        }
      }
    };
    await Promise.all([client(), client(), client(), client()]);
    await new Promise<void>((resolve) =>
      running.proc.exitCode !== null || running.proc.signalCode
        ? resolve()
        : running.proc.once('exit', () => resolve()),
    );
    app = undefined;

    const afterKill = journal(tmp.dir);
    const lost = acknowledged.filter((id) => !afterKill.pending.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged alerts lost`);

    // After a restart every one of them is emitted again.
    app = await startApp(tmp.dir, env);
    await app.waitFor(`replayed ${afterKill.pending.size} journaled alert(s) not yet processed`);
    assert.ok(afterKill.pending.size >= acknowledged.length);
  });
});
