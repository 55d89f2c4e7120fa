/**
 * The playbook library (examples/playbooks/): every file is a flow Node-RED can import and run, and every playbook
 * does what its description says when real sample alerts go through it in Node-RED (the test helper), with the lab
 * device standing in for the firewall, EDR and DNS firewall.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import { labJournal, type LabRecord } from '../../lib/devices/types/lab';
import { acquireIocLibrary, releaseIocLibrary } from '../../lib/ioc/library';
import { playbookIdentity, playbookSlug, type FlowTab } from '../../lib/playbooks/identity';
import { storeFile } from '../../lib/settings';
import { alertsBySource, honeypotAlerts, sourceOf } from '../lib/hunt/helpers';
import { adminToken, startApp } from '../helpers/app';
import { captureHttpNode, helper, listenHttpNode } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const root = join(__dirname, '..', '..');
const dir = join(root, 'examples', 'playbooks');
const samples = join(root, 'test', 'fixtures', 'samples');
const TOKEN = 'playbook-test-intake-token-0123456789';

type FlowNode = Record<string, unknown> & { id: string; type: string; z?: string; wires?: string[][] };

/** Our node modules, as package.json registers them (loaded from source). */
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  'node-red': { nodes: Record<string, string> };
};
const OUR_TYPES = Object.keys(pkg['node-red'].nodes);
/* eslint-disable @typescript-eslint/no-require-imports */
const ourModules = OUR_TYPES.map((type) => require(join(root, 'nodes', type, `${type}.ts`)));
/** The core nodes the playbooks may use, and their modules. */
const CORE: Record<string, unknown> = {
  switch: require('@node-red/nodes/core/function/10-switch.js'),
  change: require('@node-red/nodes/core/function/15-change.js'),
  comment: require('@node-red/nodes/core/common/90-comment.js'),
  debug: require('@node-red/nodes/core/common/21-debug.js'),
  inject: require('@node-red/nodes/core/common/20-inject.js'),
};
/* eslint-enable @typescript-eslint/no-require-imports */
const MODULES = [...ourModules, ...new Set(Object.values(CORE)), captureHttpNode];

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const flowOf = (file: string): FlowNode[] => JSON.parse(readFileSync(join(dir, file), 'utf8')) as FlowNode[];
const tabOf = (flow: FlowNode[]) => flow.find((n) => n.type === 'tab') as FlowNode & FlowTab;
const envOf = (flow: FlowNode[], name: string) =>
  (tabOf(flow).env ?? []).find((e) => e.name === name)?.value as string | undefined;

/** The editor definition of one of our node types: its `defaults` keys and the config node types they reference. */
function editorDefaults(type: string): { keys: string[]; refs: Record<string, string> } {
  const html = readFileSync(join(root, 'nodes', type, `${type}.html`), 'utf8');
  const start = html.indexOf('{', html.indexOf('defaults:'));
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  let i = start;
  for (; i < html.length; i++) {
    const ch = html[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      // skip a string literal
      for (i++; i < html.length && html[i] !== ch; i++) if (html[i] === '\\') i++;
      expectKey = false;
    } else if ('{(['.includes(ch)) {
      depth++;
      expectKey = depth === 1;
    } else if ('})]'.includes(ch)) {
      depth--;
      if (depth === 0) break;
    } else if (ch === ',' && depth === 1) {
      expectKey = true;
    } else if (expectKey && /[A-Za-z_$]/.test(ch)) {
      const m = /^([A-Za-z_$][\w$]*)\s*:/.exec(html.slice(i));
      if (m) keys.push(m[1]);
      expectKey = false;
    }
  }
  const refs: Record<string, string> = {};
  for (const m of html.slice(start, i).matchAll(/(\w+):\s*\{\s*value:\s*'[^']*',\s*type:\s*'([\w-]+)'/g)) {
    refs[m[1]] = m[2];
  }
  return { keys, refs };
}

describe('playbook library (examples/playbooks)', function () {
  describe('every file is a flow Node-RED imports as one playbook', () => {
    it('has at least the five playbooks of the library', () => {
      assert.ok(files.length >= 5, `${files.length} files`);
      assert.deepEqual(
        files.map((f) => envOf(flowOf(f), 'SOAR_PLAYBOOK_ID')).sort(),
        [
          'malware-host-isolate',
          'perimeter-ioc-block',
          'phishing-url-sinkhole',
          'retro-hunt-open-cases',
          'ssh-brute-force-block',
        ].sort(),
      );
    });

    for (const file of files) {
      describe(file, () => {
        const flow = flowOf(file);
        const tab = tabOf(flow);
        const byId = new Map(flow.map((n) => [n.id, n]));

        it('is one tab with a name, a description with the ATT&CK techniques, and the playbook identity', () => {
          assert.equal(flow.filter((n) => n.type === 'tab').length, 1);
          assert.ok(typeof tab.label === 'string' && tab.label.trim() !== '');
          const info = String(tab.info ?? '');
          for (const heading of ['When to use it', 'ATT&CK', 'Configure']) assert.ok(info.includes(heading), heading);
          const identity = playbookIdentity(tab);
          assert.equal(identity.version, '1.0.0');
          assert.equal(identity.id, playbookSlug(identity.id), 'the id is a stable slug');
          assert.equal(file, `${identity.id}.json`, 'the file is named after the playbook id');
          const attack = envOf(flow, 'SOAR_PLAYBOOK_ATTACK') ?? '';
          assert.match(attack, /^T\d{4}(\.\d{3})?(,T\d{4}(\.\d{3})?)*$/);
          for (const t of attack.split(',')) assert.ok(info.includes(t), `the description names ${t}`);
        });

        it('uses only our nodes and the core nodes, each of ours with every property its editor defines', () => {
          for (const n of flow) {
            if (n.type === 'tab') continue;
            assert.ok(OUR_TYPES.includes(n.type) || n.type in CORE, `${n.id}: unknown type ${n.type}`);
            if (!OUR_TYPES.includes(n.type)) continue;
            const { keys, refs } = editorDefaults(n.type);
            for (const key of keys) assert.ok(key in n, `${n.id} (${n.type}) has no ${key}`);
            for (const [key, type] of Object.entries(refs)) {
              const ref = n[key];
              if (ref === '' || ref === undefined) continue;
              assert.equal(byId.get(ref as string)?.type, type, `${n.id}.${key} references a ${type}`);
            }
          }
        });

        it('has every node on the tab, laid out, and every wire leading to a node of the tab', () => {
          for (const n of flow) {
            if (n.type === 'tab') continue;
            assert.equal(n.z, tab.id, `${n.id} is on the tab`);
            if (!('wires' in n) && n.type !== 'comment') continue; // config nodes
            assert.ok(Number.isFinite(n.x) && Number.isFinite(n.y), `${n.id} has a position`);
            for (const port of n.wires ?? []) {
              for (const target of port) {
                const t = byId.get(target);
                assert.ok(t && 'wires' in t, `${n.id} → ${target} leads to a node of the flow`);
              }
            }
            if (n.type === 'switch') assert.equal(n.wires?.length, (n.rules as unknown[]).length, `${n.id} ports`);
          }
        });

        it('acts through a lab device only, with a comment saying to replace it', () => {
          const devices = flow.filter((n) => n.type === 'soar-device');
          assert.ok(devices.length > 0);
          for (const d of devices) assert.equal(d.deviceType, 'lab');
          assert.ok(
            flow.some((n) => n.type === 'comment' && /replace it with your real device/i.test(String(n.info))),
            'a comment explains the lab device',
          );
        });
      });
    }

    it('has ids unique across the library, none equal to a node type', () => {
      const seen = new Map<string, string>();
      const types = new Set([...OUR_TYPES, ...Object.keys(CORE), 'tab', 'group']);
      for (const file of files) {
        for (const n of flowOf(file)) {
          assert.ok(!seen.has(n.id), `${n.id} in ${file} and ${seen.get(n.id)}`);
          assert.ok(!types.has(n.id), `${n.id} is a node type`);
          seen.set(n.id, file);
        }
      }
    });
  });

  it("is offered in the app's Import > Examples, each playbook as its file", async function () {
    this.timeout(60_000);
    const tmp = tempDir('soar-app-');
    const password = 'examples-test-password-0123';
    const app = await startApp(tmp.dir, { SOAR_ADMIN_PASSWORD: password });
    try {
      const headers = { authorization: `Bearer ${await adminToken(app.url, 'admin', password)}` };
      const get = async (path: string) => {
        const res = await fetch(`${app.url}/library/examples/flows/${path}`, { headers });
        assert.equal(res.status, 200, path);
        return res.json();
      };
      assert.ok(((await get('')) as string[]).includes('node-red-contrib-soar'));
      const listed = (await get('node-red-contrib-soar/playbooks/')) as { fn: string }[];
      assert.deepEqual(
        listed.map((f) => `${f.fn}.json`),
        files,
      );
      assert.deepEqual(
        await get('node-red-contrib-soar/playbooks/perimeter-ioc-block'),
        flowOf('perimeter-ioc-block.json'),
      );
    } finally {
      await app.stop();
      tmp.cleanup();
    }
  });

  describe('running in Node-RED', function () {
    let tmp: ReturnType<typeof tempDir>;
    let server: Awaited<ReturnType<typeof listenHttpNode>> | undefined;
    let started: string;

    const file = () => storeFile(undefined, tmp.dir);

    async function load(flow: FlowNode[]): Promise<void> {
      const credentials = Object.fromEntries(
        flow.filter((n) => n.type === 'soar-alert-in').map((n) => [n.id, { token: TOKEN }]),
      );
      await helper.load(MODULES as never, flow as never, credentials);
      server = await listenHttpNode();
    }

    async function post(path: string, records: unknown[]): Promise<{ accepted: number }> {
      const res = await fetch(`${server?.url}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/x-ndjson' },
        body: records.map((r) => JSON.stringify(r)).join('\n'),
      });
      assert.equal(res.status, 202, await res.clone().text());
      return (await res.json()) as { accepted: number };
    }

    /** A feed file in the data dir's folder, old enough to be read at once (fresh files wait 1.5 s). */
    function feedFile(folder: string, name: string, lines: string[]): void {
      const path = join(tmp.dir, folder);
      mkdirSync(path, { recursive: true });
      writeFileSync(join(path, name), lines.join('\n') + '\n');
      const past = new Date(Date.now() - 60_000);
      utimesSync(join(path, name), past, past);
    }

    /** Waits until the IOC library lists the value (the feed node loads its folder at deploy). */
    async function listed(type: 'ipv4' | 'domain', value: string): Promise<void> {
      const library = acquireIocLibrary(file());
      try {
        await until(() => library.index.lookup(type, value).length > 0);
      } finally {
        releaseIocLibrary(file(), 0);
      }
    }

    async function withStore<T>(fn: (store: ReturnType<typeof acquireCaseStore>) => Promise<T>): Promise<T> {
      const store = acquireCaseStore(file());
      try {
        return await fn(store);
      } finally {
        releaseCaseStore(file());
      }
    }

    const openCases = (type: string) =>
      withStore(async (s) => (await s.query({ type: [type], limit: 50, offset: 0 })).items);

    /** What the lab devices were asked since the test started (the journal is bounded: by time, not by index). */
    const journal = (filter: Partial<LabRecord> = {}): LabRecord[] =>
      labJournal.filter(
        (r) => r.at >= started && Object.entries(filter).every(([k, v]) => r[k as keyof LabRecord] === v),
      );

    beforeEach(async () => {
      tmp = tempDir();
      started = new Date().toISOString();
      helper.settings({ userDir: tmp.dir, soar: {} } as never);
      await helper.startServer();
    });
    afterEach(async () => {
      await server?.close();
      server = undefined;
      await helper.unload();
      await helper.stopServer();
      tmp.cleanup();
    });

    it('perimeter IOC hit: blocks the listed Suricata source for 24 h at the device in scope, and nothing else', async () => {
      const honeypot = honeypotAlerts().map((a) => a.raw);
      const attacker = sourceOf(honeypotAlerts()[0]);
      feedFile('playbook-iocs/perimeter', 'attackers.txt', [attacker]);
      await load(flowOf('perimeter-ioc-block.json'));
      await listed('ipv4', attacker);
      const fromAttacker = honeypot.filter((r) => (r as { src_ip: string }).src_ip === attacker).slice(0, 3);
      const docs = readFileSync(join(samples, 'suricata-eve', 'suricata-docs-alert-2017-example.ndjson'), 'utf8');
      const unlisted = JSON.parse(docs.trim().split('\n')[0]);
      const before = Date.now();
      assert.equal((await post('/playbooks/perimeter-ioc', [...fromAttacker, unlisted])).accepted, 4);

      const [block] = await until(() => {
        const found = journal({ call: 'execute', action: 'block-ip' });
        return found.length > 0 && found;
      });
      assert.deepEqual(
        { device: block.device, target: block.target, durationSeconds: block.durationSeconds },
        { device: 'perimeter firewall (lab)', target: attacker, durationSeconds: 86400 },
      );
      const [c] = await until(async () => {
        const cases = await openCases('perimeter-ioc');
        return cases.length === 1 && cases[0].alertCount === 3 && cases[0].actions.length > 0 && cases;
      });
      assert.equal(c.key, `perimeter-ioc:${attacker}`, 'one case per source address');
      const action = c.actions.find((a) => a.status === 'done');
      assert.equal(action?.target, attacker);
      const expiry = Date.parse(action?.expiresAt ?? '') - before;
      assert.ok(Math.abs(expiry - 86_400_000) < 60_000, `expires in ${expiry} ms`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(journal({ action: 'block-ip' }).length, 1, 'blocked once, never the unlisted source');
    });

    it('SSH brute force: blocks the source only once its case reaches the threshold of 5 alerts', async () => {
      const raw = JSON.parse(
        readFileSync(join(samples, 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.ndjson'), 'utf8').trim(),
      );
      const attempt = (n: number) => ({ ...raw, id: `${raw.id}-${n}` });
      const flow = flowOf('ssh-brute-force-block.json');
      assert.equal(envOf(flow, 'SOAR_BLOCK_THRESHOLD'), '5');
      await load(flow);
      await post('/playbooks/ssh-brute-force', [1, 2, 3, 4].map(attempt));
      await until(async () => (await openCases('ssh-brute-force'))[0]?.alertCount === 4);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(journal({ action: 'block-ip' }), [], 'no block below the threshold');

      await post('/playbooks/ssh-brute-force', [attempt(5)]);
      const [block] = await until(() => {
        const found = journal({ call: 'execute', action: 'block-ip' });
        return found.length > 0 && found;
      });
      assert.deepEqual(
        { device: block.device, target: block.target, durationSeconds: block.durationSeconds },
        { device: 'SSH gateway firewall (lab)', target: '172.17.1.1', durationSeconds: 3600 },
      );
      const [c] = await until(async () => {
        const cases = await openCases('ssh-brute-force');
        return cases[0]?.actions.length > 0 && cases;
      });
      assert.equal(c.alertCount, 5);
      assert.equal(c.key, 'ssh-brute-force:172.17.1.1');
      assert.deepEqual(
        c.actions.map((a) => [a.action, a.target, a.status]),
        [['block-ip', '172.17.1.1', 'done']],
      );
    });

    it('malware on a host: collects host context, and isolates the host only once an analyst approves', async () => {
      const findings = readFileSync(join(samples, 'wazuh', 'wazuh-5x-findings-malware-detection.ndjson'), 'utf8')
        .trim()
        .split('\n')
        .slice(0, 2)
        .map((l) => JSON.parse(l));
      await load(flowOf('malware-host-isolate.json'));
      await post('/playbooks/malware-host', findings);

      type Pending = { id: string; summary: string; caseId: string };
      const [pending] = await until(async () => {
        const items = (await helper.request().get('/soar/approvals').expect(200)).body.items as Pending[];
        return items.length > 0 && items;
      });
      assert.match(pending.summary, /^Isolate wazuh-endpoint-linux \(malware, case /);
      await until(async () => (await openCases('malware-host'))[0]?.alertCount === 2);
      await new Promise((r) => setTimeout(r, 200));
      const items = (await helper.request().get('/soar/approvals').expect(200)).body.items as Pending[];
      assert.equal(items.length, 1, 'the second finding joins the case without asking again');
      assert.deepEqual(
        journal({ action: 'collect-host-context' }).map((r) => [r.device, r.target]),
        [['EDR (lab)', 'wazuh-endpoint-linux']],
      );
      assert.deepEqual(journal({ action: 'isolate-host' }), [], 'not isolated before the approval');

      await helper
        .request()
        .post(`/soar/approvals/${pending.id}`)
        .send({ decision: 'approve', comment: 'confirmed with the host owner' })
        .expect(200);
      const [isolation] = await until(() => {
        const found = journal({ call: 'execute', action: 'isolate-host' });
        return found.length > 0 && found;
      });
      assert.deepEqual([isolation.device, isolation.target], ['EDR (lab)', 'wazuh-endpoint-linux']);
      const c = await until(async () => {
        const [found] = await openCases('malware-host');
        return found?.actions.some((a) => a.action === 'isolate-host' && a.status === 'done') && found;
      });
      assert.equal(c.id, pending.caseId);
      assert.ok(c.timeline.some((t) => /approve/i.test(t.message) && /confirmed with the host owner/.test(t.message)));
    });

    it('phishing URL: sinkholes the listed domain and blocks its URL, with the reputation providers off', async () => {
      const wrccdc = JSON.parse(
        readFileSync(join(samples, 'suricata-eve', 'fhassanabad-wrccdc-2017-alerts.json'), 'utf8'),
      ) as { alert?: { signature?: string }; http?: { hostname?: string } }[];
      const record = wrccdc.find((r) => r.http?.hostname === 'www.r57c99.com');
      assert.ok(record, 'the sample holds the r57c99 alert');
      const unlisted = wrccdc.find((r) => r.http?.hostname === 'www.whatismyip.com');
      feedFile('playbook-iocs/phishing', 'phishing-domains.txt', ['www.r57c99.com']);
      await load(flowOf('phishing-url-sinkhole.json'));
      await listed('domain', 'www.r57c99.com');
      await post('/playbooks/phishing-url', [record, unlisted]);

      const actions = await until(() => {
        const found = journal({ call: 'execute' }).filter((r) => r.action !== 'collect-host-context');
        return found.length >= 2 && found;
      });
      assert.deepEqual(actions.map((r) => [r.action, r.target, r.device, r.durationSeconds]).sort(), [
        ['block-url', 'http://www.r57c99.com/1490393041-r57txt.html', 'DNS firewall / web proxy (lab)', 604800],
        ['sinkhole-domain', 'www.r57c99.com', 'DNS firewall / web proxy (lab)', 604800],
      ]);
      const cases = await until(async () => {
        const found = await openCases('phishing');
        return found.length === 2 && found.some((c) => c.actions.length === 2) && found;
      });
      const phish = cases.find((c) => c.key === 'phishing:www.r57c99.com');
      assert.deepEqual(phish?.actions.map((a) => [a.action, a.status]).sort(), [
        ['block-url', 'done'],
        ['sinkhole-domain', 'done'],
      ]);
      assert.deepEqual(
        cases.find((c) => c.key === 'phishing:www.whatismyip.com')?.actions,
        [],
        'an unlisted domain: a case only',
      );
    });

    it('retro-hunt: raises and blocks the open case holding the new indicator, not the others', async () => {
      const [hit, quiet, closed] = alertsBySource();
      const cases = await withStore(async (store) => {
        const out: Case[] = [];
        for (const alert of [hit, quiet, closed]) {
          const key = sourceOf(alert);
          out.push((await store.group(alert, { type: 'network-ids', key, windowMs: 86_400_000 })).case);
        }
        out[2] = await store.update(out[2].id, (c) => void (c.status = 'closed'));
        return out;
      });
      feedFile('playbook-iocs/retro-hunt', 'c2.txt', [sourceOf(hit), sourceOf(closed)]);
      await load(flowOf('retro-hunt-open-cases.json'));

      const [block] = await until(() => {
        const found = journal({ call: 'execute', action: 'block-ip' });
        return found.length > 0 && found;
      });
      assert.deepEqual(
        [block.device, block.target, block.durationSeconds],
        ['perimeter firewall (lab)', sourceOf(hit), 86400],
      );
      const raised = await until(() =>
        withStore(async (s) => {
          const c = await s.get(cases[0].id);
          return c !== undefined && c.actions.length > 0 && c;
        }),
      );
      assert.equal(raised.severity, 'high');
      assert.ok(raised.timeline.some((t) => t.kind === 'hunt' && t.message.includes('retro-hunt-iocs/c2.txt')));
      assert.deepEqual(
        raised.actions.map((a) => [a.action, a.target, a.status]),
        [['block-ip', sourceOf(hit), 'done']],
      );
      await new Promise((r) => setTimeout(r, 200));
      await withStore(async (s) => {
        assert.deepEqual(await s.get(cases[1].id), cases[1], 'a case without the indicator is untouched');
        assert.deepEqual(await s.get(cases[2].id), cases[2], 'a closed case is not hunted');
      });
      assert.equal(journal({ action: 'block-ip' }).length, 1);
    });

    it('runs all the playbooks side by side, as a user who imports the whole library gets them', async () => {
      const all = files.flatMap(flowOf);
      await load(all);
      for (const n of all) {
        if (n.type === 'tab') continue;
        assert.ok(helper.getNode(n.id), `${n.id} (${n.type}) started`);
      }
      for (const path of ['perimeter-ioc', 'ssh-brute-force', 'malware-host', 'phishing-url']) {
        const res = await fetch(`${server?.url}/playbooks/${path}`, { method: 'POST', body: '{}' });
        assert.equal(res.status, 401, `${path} is served and asks for the token`);
      }
    });
  });
});
