import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportPlaybook,
  scanInstalledTypes,
  validatePackage,
  type FlowNode,
  type PlaybookPackage,
} from '../../lib/playbooks/package';
import { chromium, type Browser, type Page } from 'playwright-core';
import { adminToken, type RunningApp } from '../helpers/app';
import { startAppWithUsers } from '../helpers/sidebar-app';
import { tempDir } from '../helpers/tmp';
import { COMMAND, hostilePackage, INITIALIZE } from '../lib/playbooks/package/hostile-package';

const ROOT = join(__dirname, '..', '..');
const PASSWORD = 'playbook-test-password';
const SECRET = 'enrich-key-must-not-leave';
const CRED_ENV = 'tab-cred-env-must-not-leave';
/** Reads cases (soar.read) but not flows: must not get the flows' code through an export. */
const CASE_READER = { username: 'cases', password: 'cases-password', permissions: ['soar.read'] };

/** The plugin in the running product (npm start): its admin routes, and the SOAR_LIBRARY_DIR library source. */
describe('soar-playbooks plugin (in the app)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp;
  let token: string;
  let libraryPackage: PlaybookPackage;

  const api = (path: string, init: RequestInit = {}, auth = true) =>
    fetch(`${app.url}${path}`, {
      ...init,
      headers: {
        'content-type': 'application/json',
        ...(auth ? { authorization: `Bearer ${token}` } : {}),
        ...(init.headers as Record<string, string> | undefined),
      },
    });
  const post = (path: string, body: unknown, auth = true) =>
    api(path, { method: 'POST', body: JSON.stringify(body) }, auth);

  before(async () => {
    tmp = tempDir('soar-playbooks-app-');
    const dataDir = join(tmp.dir, 'data');
    const libraryDir = join(tmp.dir, 'library');
    mkdirSync(join(libraryDir, 'network'), { recursive: true });
    const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];
    libraryPackage = exportPlaybook(flows, 'soar.tab.intake', { index: scanInstalledTypes() }).pkg;
    writeFileSync(join(libraryDir, 'network', 'alerts-to-cases.playbook.json'), JSON.stringify(libraryPackage));
    writeFileSync(join(libraryDir, 'helpful.playbook.json'), JSON.stringify(hostilePackage('1.0.0', 'helpful-triage')));
    mkdirSync(dataDir, { recursive: true });
    app = await startAppWithUsers(dataDir, { SOAR_ADMIN_PASSWORD: PASSWORD, SOAR_LIBRARY_DIR: libraryDir }, [
      CASE_READER,
    ]);
    token = await adminToken(app.url, 'admin', PASSWORD);

    // Deploy, through the admin API, a flow whose nodes hold secrets in credentials and a credential env variable.
    const deployed: FlowNode[] = [
      ...flows,
      {
        id: 'pb.tab',
        type: 'tab',
        label: 'Reputation check',
        env: [
          { name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '2.1.0' },
          { name: 'VENDOR_TOKEN', type: 'cred', value: CRED_ENV },
        ],
      },
      {
        id: 'pb.enrich',
        type: 'soar-enrich',
        z: 'pb.tab',
        provider1: 'pb.provider',
        types: 'ipv4',
        x: 200,
        y: 80,
        wires: [[]],
      },
      {
        id: 'pb.provider',
        type: 'soar-enrich-provider',
        name: 'AbuseIPDB',
        provider: 'abuseipdb',
        credentials: { apiKey: SECRET },
      },
    ];
    const res = await post('/flows', deployed);
    assert.equal(res.status, 204, await res.text());
    await app.waitFor(/Started flows[\s\S]*Started flows/);
  });
  after(async () => {
    await app?.stop();
    tmp?.cleanup();
  });

  it('exports a deployed tab as a package without its secrets', async () => {
    const res = await post('/soar/playbooks/export', { id: 'pb.tab' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { package: PlaybookPackage; fileName: string; removed: string[] };
    assert.equal(body.fileName, 'reputation-check-2.1.0.playbook.json');
    assert.equal(validatePackage(body.package).valid, true);
    assert.deepEqual(
      body.package.flow.map((n) => n.id),
      ['pb.tab', 'pb.enrich', 'pb.provider'],
    );
    const text = JSON.stringify(body);
    assert.ok(!text.includes(SECRET) && !text.includes(CRED_ENV), 'no secret in the answer');
    assert.deepEqual(body.package.requires.nodes['soar-enrich'].module, 'node-red-contrib-soar');
  });

  it('answers 404 for a tab that is not deployed and 401 without a login', async () => {
    const missing = await post('/soar/playbooks/export', { id: 'nope' });
    assert.equal(missing.status, 404);
    assert.match(((await missing.json()) as { error: string }).error, /no tab or subflow "nope"/);
    assert.equal((await post('/soar/playbooks/export', { id: 'pb.tab' }, false)).status, 401);
    assert.equal((await post('/soar/playbooks/validate', libraryPackage, false)).status, 401);
  });

  it('exports only to a user who may read the flows (an export carries their code), not with soar.read alone', async () => {
    // Node-RED grants a token only for a scope the user has: this user asks for soar.read.
    const login = await fetch(`${app.url}/auth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_id: 'node-red-admin',
        grant_type: 'password',
        scope: 'soar.read',
        username: CASE_READER.username,
        password: CASE_READER.password,
      }),
    });
    assert.equal(login.status, 200, await login.clone().text());
    const caseToken = ((await login.json()) as { access_token: string }).access_token;
    const res = await fetch(`${app.url}/soar/playbooks/export`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caseToken}` },
      body: JSON.stringify({ id: 'pb.tab' }),
    });
    assert.equal(res.status, 401);
    const cases = await fetch(`${app.url}/soar/playbooks/validate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${caseToken}` },
      body: JSON.stringify(libraryPackage),
    });
    assert.equal(cases.status, 200, 'validating needs soar.read only');
  });

  it('validate lists the code a package carries and offers it without code unless trusted', async () => {
    const check = (await (
      await post('/soar/playbooks/validate', hostilePackage('1.0.0', 'helpful-triage'))
    ).json()) as {
      valid: boolean;
      codeNodes: { id: string; type: string; code: Record<string, unknown> }[];
      package: PlaybookPackage;
      trustedPackage: PlaybookPackage;
    };
    assert.equal(check.valid, true);
    assert.deepEqual(
      check.codeNodes.map((n) => n.type),
      ['inject', 'function', 'exec'],
    );
    assert.equal(check.codeNodes[2].code.command, COMMAND);
    const runnable = JSON.stringify(check.package.flow.map((n) => ({ ...n, info: '' })));
    assert.ok(!runnable.includes(JSON.stringify(COMMAND)) && !runnable.includes(JSON.stringify(INITIALIZE)));
    assert.ok(!check.package.flow.some((n) => n.id === 'soar.device.lab'), 'no id of this installation to reuse');
    assert.equal(check.trustedPackage.flow.find((n) => n.type === 'exec')?.command, COMMAND);

    const update = hostilePackage('9.0.0');
    const changes = (await (await post('/soar/playbooks/validate', update)).json()) as {
      existing: { nodeId: string };
      changes: { typesAdded: string[]; typesRemoved: string[] };
    };
    assert.equal(changes.existing.nodeId, 'soar.tab.intake');
    assert.ok(changes.changes.typesAdded.includes('exec ×1'));
    assert.ok(changes.changes.typesRemoved.includes('soar-rule ×1'));
  });

  it('validates a package against the installation: the installed version, what is missing', async () => {
    const same = (await (await post('/soar/playbooks/validate', libraryPackage)).json()) as {
      valid: boolean;
      missing: string[];
      warnings: string[];
      existing: { nodeId: string; version: string; newer: boolean } | null;
    };
    assert.equal(same.valid, true);
    assert.deepEqual(same.missing, []);
    assert.deepEqual(same.warnings, [], 'the lab device of the default flow can block-ip');
    assert.deepEqual(
      { nodeId: same.existing?.nodeId, version: same.existing?.version, newer: same.existing?.newer },
      { nodeId: 'soar.tab.intake', version: '0.0.0', newer: false },
    );

    const newer = structuredClone(libraryPackage);
    newer.playbook.version = '0.1.0';
    newer.flow.push({ id: 'tk', type: 'ticket', z: newer.flow[0].id });
    newer.requires.nodes.ticket = { module: 'node-red-contrib-ticket', version: '1.0.0' };
    const check = (await (await post('/soar/playbooks/validate', newer)).json()) as typeof same;
    assert.equal(check.existing?.newer, true);
    assert.match(
      check.missing[0],
      /^needs node-red-contrib-ticket 1\.0\.0 \(not installed; it provides "ticket"\): npm install/,
    );

    const invalid = (await (
      await post('/soar/playbooks/validate', [{ id: 'x', type: 'tab' }])
    ).json()) as typeof same & {
      errors: string[];
    };
    assert.equal(invalid.valid, false);
    assert.match(invalid.errors[0], /flow export/);
  });

  it('offers SOAR_LIBRARY_DIR in the Import dialog as a read-only library of flows', async () => {
    const settings = (await (await api('/settings')).json()) as {
      libraries: { id: string; label: string; readOnly?: boolean }[];
    };
    const library = settings.libraries.find((l) => l.id === 'soar-library');
    assert.deepEqual(
      { label: library?.label, readOnly: library?.readOnly },
      { label: 'SOAR playbooks', readOnly: true },
    );
    assert.deepEqual(await (await api('/library/soar-library/flows/')).json(), [
      'network',
      { fn: 'helpful.playbook.json', name: 'Helpful triage', version: '1.0.0' },
    ]);
    // Not trusted (no SOAR_LIBRARY_TRUSTED): a package with code is served with placeholders.
    const helpful = (await (await api('/library/soar-library/flows/helpful.playbook.json')).json()) as FlowNode[];
    assert.ok(!helpful.some((n) => n.type === 'exec' || n.once === true));
    assert.ok(!JSON.stringify(helpful.map((n) => ({ ...n, info: '' }))).includes(JSON.stringify(COMMAND)));
    const listing = (await (await api('/library/soar-library/flows/network/')).json()) as {
      fn: string;
      name: string;
    }[];
    assert.deepEqual(
      listing.map((e) => [e.fn, e.name]),
      [['alerts-to-cases.playbook.json', 'SOAR: alerts to cases']],
    );
    const entry = await api('/library/soar-library/flows/network/alerts-to-cases.playbook.json');
    assert.equal(entry.status, 200);
    assert.deepEqual(await entry.json(), libraryPackage.flow, 'the package imports as its flow');
    const save = await api('/library/soar-library/flows/new', { method: 'POST', body: '[]' });
    assert.notEqual(save.status, 204, 'the library is read-only');
  });

  it('exports a tab as CACAO 2.0 and takes a CACAO playbook back as a package to import', async () => {
    const res = await post('/soar/playbooks/export', { id: 'soar.tab.intake', format: 'cacao' });
    assert.equal(res.status, 200);
    const exported = (await res.json()) as { package: { spec_version: string }; fileName: string };
    assert.equal(exported.package.spec_version, 'cacao-2.0');
    assert.equal(exported.fileName, 'soar-alerts-to-cases-0.0.0.cacao.json');

    const check = (await (await post('/soar/playbooks/validate', exported.package)).json()) as {
      valid: boolean;
      format: string;
      package: PlaybookPackage;
      existing: { nodeId: string } | null;
    };
    assert.equal(check.valid, true);
    assert.equal(check.format, 'cacao');
    assert.equal(check.package.flow[0].type, 'tab');
    assert.equal(validatePackage(check.package).valid, true);
    assert.equal(check.existing?.nodeId, 'soar.tab.intake', 'the same playbook id: the editor offers an update');
  });

  it('serves its editor script with the playbook menu actions', async () => {
    const res = await api('/plugins', { headers: { accept: 'text/html' } });
    const html = await res.text();
    assert.match(html, /soar:export-playbook/);
    assert.match(html, /soar\/playbooks\/validate/);
  });

  describe('in the editor (chromium)', () => {
    let browser: Browser;
    let page: Page;

    type Workspace = { id: string; label: string; env?: { name: string; value: string }[] };
    type EditorRed = {
      actions: { invoke: (name: string) => void };
      nodes: {
        eachWorkspace: (cb: (ws: Workspace) => void) => void;
        filterNodes: (filter: { z: string }) => { name?: string; type: string }[];
      };
    };
    const workspaces = () =>
      page.evaluate(() => {
        const out: { id: string; label: string; env?: { name: string; value: string }[] }[] = [];
        (window as unknown as { RED: EditorRed }).RED.nodes.eachWorkspace((ws) =>
          out.push({ id: ws.id, label: ws.label, env: ws.env }),
        );
        return out;
      });
    const nodesOn = (z: string) =>
      page.evaluate((id) => (window as unknown as { RED: EditorRed }).RED.nodes.filterNodes({ z: id }), z);
    const invoke = (action: string) =>
      page.evaluate((a) => (window as unknown as { RED: EditorRed }).RED.actions.invoke(a), action);

    /** Deploys the editor's flows and waits for the runtime's `count`th "Started flows" since the app started. */
    async function deployAll(count: number): Promise<void> {
      await invoke('core:deploy-flows');
      const confirm = page.locator('.red-ui-notification button:has-text("Confirm deploy")');
      await confirm.waitFor({ timeout: 10_000 });
      await confirm.click();
      await app.waitFor(new RegExp(Array(count).fill('Started flows').join('[\\s\\S]*')));
    }

    async function importFile(file: string): Promise<void> {
      const chooser = page.waitForEvent('filechooser');
      await invoke('soar:import-playbook');
      await (await chooser).setFiles(file);
    }

    before(async () => {
      browser = await chromium.launch({
        executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
      });
      page = await browser.newPage({ viewport: { width: 1400, height: 800 }, acceptDownloads: true });
      await page.goto(app.url);
      await page.fill('#node-dialog-login-username', 'admin');
      await page.fill('#node-dialog-login-password', PASSWORD);
      await page.click('.ui-dialog-buttonset button:has-text("Login"), #node-dialog-login-submit');
      await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 30_000 });
    });
    after(async () => {
      await browser?.close();
    });

    it('has the playbook entries in the main menu', async () => {
      for (const id of [
        'menu-item-soar-playbook-export',
        'menu-item-soar-playbook-export-cacao',
        'menu-item-soar-playbook-import',
      ]) {
        assert.equal(await page.locator(`#${id}`).count(), 1, id);
      }
    });

    it('downloads the current tab as <id>-<version>.playbook.json', async () => {
      const download = page.waitForEvent('download');
      await invoke('soar:export-playbook');
      const file = await download;
      assert.equal(file.suggestedFilename(), 'soar-alerts-to-cases-0.0.0.playbook.json');
      const pkg = JSON.parse(readFileSync((await file.path())!, 'utf8')) as PlaybookPackage;
      assert.equal(validatePackage(pkg).valid, true);
      assert.equal(pkg.flow[0].id, 'soar.tab.intake');
    });

    it('imports a new playbook as a new tab with new ids', async () => {
      const copy = structuredClone(libraryPackage);
      copy.playbook.id = 'alerts-to-cases-copy';
      copy.flow[0].label = 'Alerts to cases (copy)';
      copy.flow[0].env = [{ name: 'SOAR_PLAYBOOK_ID', type: 'str', value: 'alerts-to-cases-copy' }];
      const file = join(tmp.dir, 'copy.playbook.json');
      writeFileSync(file, JSON.stringify(copy));
      await importFile(file);
      await page.waitForFunction(() => {
        let found = false;
        (window as unknown as { RED: EditorRed }).RED.nodes.eachWorkspace((ws) => {
          found ||= ws.label === 'Alerts to cases (copy)';
        });
        return found;
      });
      const tab = (await workspaces()).find((w) => w.label === 'Alerts to cases (copy)')!;
      assert.notEqual(tab.id, 'soar.tab.intake');
      const onTab = await nodesOn(tab.id);
      assert.equal(onTab.length, copy.flow.filter((n) => n.z === copy.flow[0].id).length);
    });

    it('imports a playbook with code as placeholders by default, after showing the code', async () => {
      const file = join(tmp.dir, 'helpful.playbook.json');
      writeFileSync(file, JSON.stringify(hostilePackage('1.0.0', 'helpful-triage')));
      await importFile(file);
      const dialog = page.locator('.red-ui-notification:has-text("This playbook carries code")');
      await dialog.waitFor({ timeout: 10_000 });
      const shown = await dialog.locator('.soar-playbook-code').innerText();
      assert.ok(shown.includes('child_process') && shown.includes('evil.example'), 'the code is shown');
      await dialog.locator('button:has-text("Import with placeholders")').click();
      await page.waitForFunction(() => {
        let found = false;
        (window as unknown as { RED: EditorRed }).RED.nodes.eachWorkspace((ws) => {
          found ||= ws.label === 'Helpful triage';
        });
        return found;
      });
      const tab = (await workspaces()).find((w) => w.label === 'Helpful triage')!;
      const onTab = (await nodesOn(tab.id)) as unknown as FlowNode[];
      assert.equal(onTab.length, 6);
      assert.ok(!onTab.some((n) => n.type === 'exec' || n.type === 'inject'));
      const code = await page.evaluate(
        (id) =>
          (
            window as unknown as { RED: { nodes: { filterNodes: (f: { z: string }) => Record<string, unknown>[] } } }
          ).RED.nodes
            .filterNodes({ z: id })
            .map((n) => [n.func, n.initialize, n.command].join('|'))
            .join('\n'),
        tab.id,
      );
      assert.ok(!code.includes('child_process') && !code.includes('evil.example'), code);
    });

    it('updates without trust as a new flow, so no credential of the installed one passes to the package', async () => {
      const newer = hostilePackage('1.1.0', 'helpful-triage');
      const file = join(tmp.dir, 'helpful-1.1.0.playbook.json');
      writeFileSync(file, JSON.stringify(newer));
      const before = (await workspaces()).find((w) => w.label === 'Helpful triage')!;
      // Deployed first: the update is found by the playbook id of a deployed tab.
      await deployAll(3);
      await importFile(file);
      await page.locator('.red-ui-notification button:has-text("Import with placeholders")').click();
      const update = page.locator('.red-ui-notification:has-text("Update playbook")');
      await update.waitFor({ timeout: 10_000 });
      const text = await update.innerText();
      assert.match(text, /Credentials are not carried over/);
      assert.match(text, /exec "lookup"/);
      await update.locator('button:has-text("Update")').last().click();
      await page.waitForFunction((oldId) => {
        let gone = true;
        (window as unknown as { RED: EditorRed }).RED.nodes.eachWorkspace((ws) => {
          if (ws.id === oldId) gone = false;
        });
        return gone;
      }, before.id);
      const tabs = (await workspaces()).filter((w) => w.label === 'Helpful triage');
      assert.equal(tabs.length, 1);
      assert.notEqual(tabs[0].id, before.id);
      assert.ok(tabs[0].env?.some((e) => e.name === 'SOAR_PLAYBOOK_VERSION' && e.value === '1.1.0'));
    });

    it('asks before updating an installed playbook, then (trusted) replaces the tab content and keeps its id', async () => {
      const newer = structuredClone(libraryPackage);
      newer.playbook.version = '0.2.0';
      newer.flow[0].env = [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '0.2.0' }];
      newer.flow.find((n) => n.type === 'soar-rule')!.name = 'classify v0.2';
      const file = join(tmp.dir, 'newer.playbook.json');
      writeFileSync(file, JSON.stringify(newer));
      const before = (await nodesOn('soar.tab.intake')).length;
      const update = page.locator('#soar-playbook-update-trusted');
      // The update dialog of the test before may still be fading out.
      await update.waitFor({ state: 'detached', timeout: 10_000 });
      await importFile(file);
      await update.waitFor({ timeout: 10_000 });
      await update.click();
      await page.waitForFunction(() =>
        (window as unknown as { RED: EditorRed }).RED.nodes
          .filterNodes({ z: 'soar.tab.intake' })
          .some((n) => n.name === 'classify v0.2'),
      );
      const onTab = await nodesOn('soar.tab.intake');
      assert.equal(onTab.length, before, 'the old nodes were replaced, not kept beside the new ones');
      const tab = (await workspaces()).find((w) => w.id === 'soar.tab.intake')!;
      assert.deepEqual(tab.env, [{ name: 'SOAR_PLAYBOOK_VERSION', type: 'str', value: '0.2.0' }]);

      // Deployed, the runtime runs the update under the same tab id.
      // (The Reputation check tab deployed in `before` lacks settings the editor wants: it asks to confirm.)
      await deployAll(4);
      const deployed = (await (await api('/flows')).json()) as FlowNode[];
      const rule = deployed.find((n) => n.type === 'soar-rule' && n.z === 'soar.tab.intake');
      assert.equal(rule?.name, 'classify v0.2');
    });
  });
});
