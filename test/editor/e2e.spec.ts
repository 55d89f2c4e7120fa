/**
 * The product as an analyst meets it, in a real browser: `npm start` on an empty data dir, the editor login, the SOAR
 * palette, a node's edit dialog, an alert posted to the HTTP API becoming a case in the SOAR sidebar, and a response
 * action that waits for an analyst being approved there and carried out by the lab device.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { launchChromium, openEditor, requireChromium } from '../helpers/browser';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const suricata = JSON.parse(
  readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8').split('\n')[0],
) as { src_ip: string };
const env = { SOAR_ADMIN_PASSWORD: 'e2e-test-password', SOAR_INTAKE_TOKEN: 'e2e-test-token' };

interface CaseView {
  id: string;
  alerts: string[];
  actions: { action: string; target: string; device: string; status: string; detail?: string }[];
}

/** A STIX indicator for the alert's source address, confident enough for a `malicious` verdict. */
function dropFeed(dataDir: string, address: string) {
  mkdirSync(join(dataDir, 'feeds'));
  const feed = join(dataDir, 'feeds', 'c2.json');
  const indicator = {
    type: 'indicator',
    spec_version: '2.1',
    id: 'indicator--6d9c5c1e-2f0b-4b7e-9a51-0c3f4f1d2e3a',
    created: '2026-01-01T00:00:00.000Z',
    modified: '2026-01-01T00:00:00.000Z',
    pattern_type: 'stix',
    pattern: `[ipv4-addr:value = '${address}']`,
    valid_from: '2026-01-01T00:00:00.000Z',
    confidence: 90,
  };
  writeFileSync(feed, JSON.stringify({ type: 'bundle', id: 'bundle--e2e', objects: [indicator] }));
  const past = new Date(Date.now() - 60_000); // settled: the folder watcher reads files that stopped changing
  utimesSync(feed, past, past);
}

describe('the editor in a browser (end to end)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir> | undefined;
  let app: RunningApp | undefined;
  let browser: Browser | undefined;
  let page: Page;
  let token: string;
  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(app!.url + path, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
    });
    assert.ok(res.ok, `${path}: ${res.status} ${await res.clone().text()}`);
    return (res.status === 204 ? undefined : await res.json()) as T;
  };

  before(async function () {
    // The app's start (up to 30 s) plus the editor's load (up to 60 s) on a loaded CI machine; a few seconds normally.
    this.timeout(180_000);
    requireChromium(this);
    tmp = tempDir('soar-e2e-');
    dropFeed(tmp.dir, suricata.src_ip);
    app = await startApp(tmp.dir, env);
    token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    // The lab firewall asks for an analyst's approval before blocking an address: the default flow with that one
    // change, deployed through the admin API before the editor opens (so the editor loads it as it is).
    const flows = await api<{ id: string; approval?: string }[]>('/flows');
    const device = flows.find((n) => n.id === 'soar.device.lab')!;
    device.approval = 'isolate-host,block-ip';
    await api('/flows', {
      method: 'POST',
      headers: { 'node-red-deployment-type': 'nodes' },
      body: JSON.stringify(flows),
    });
    browser = await launchChromium();
    page = await openEditor(browser, app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
  });

  after(async () => {
    await browser?.close();
    await app?.stop();
    tmp?.cleanup();
  });

  it('shows the SOAR nodes in their palette category and a node of the default flow in its edit dialog', async () => {
    const category = page.locator('#red-ui-palette-container-SOAR');
    await category.waitFor();
    assert.equal(await page.locator('#red-ui-palette-header-SOAR').innerText(), 'SOAR');
    const paletteTypes = await category
      .locator('.red-ui-palette-node')
      .evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-palette-type')));
    for (const type of ['soar-alert-in', 'soar-normalize', 'soar-rule', 'soar-case', 'soar-respond', 'soar-approval']) {
      assert.ok(paletteTypes.includes(type), `${type} in the SOAR palette: ${paletteTypes.join()}`);
    }
    assert.ok(!paletteTypes.includes('soar-device'), 'config nodes are not in the palette');

    // Double-click "block malicious IOCs" (soar-respond) in the default flow: its dialog shows its settings.
    await page.locator('[id="soar.respond"]').dblclick();
    const tray = page.locator('.red-ui-tray').last();
    await tray.locator('#node-input-action').waitFor();
    assert.equal(await tray.locator('#node-input-name').inputValue(), 'block malicious IOCs');
    assert.equal(await tray.locator('#node-input-action').inputValue(), 'block-ip');
    assert.equal(await tray.locator('#node-input-duration').inputValue(), '3600');
    assert.match(await tray.locator('label[for="node-input-duration"]').innerText(), /Revert after/);
    await tray.locator('#node-dialog-cancel').click();
    await tray.waitFor({ state: 'detached' });
  });

  // Needs the SOAR sidebar (plugins/soar-sidebar): tab `soar`, rows `.soar-case-row` and `.soar-approval-row`.
  it('SIDEBAR: shows the case of a posted alert, and carries out a response once an analyst approves it', async () => {
    await until(async () => {
      const found = await api<{ verdict: string }>(`/soar/iocs/lookup?value=${suricata.src_ip}`);
      return found.verdict === 'malicious';
    });

    const posted = await fetch(`${app!.url}/api/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(suricata),
    });
    assert.equal(posted.status, 202);
    const alertId = ((await posted.json()) as { ids: string[] }).ids[0];

    // The case appears in the sidebar.
    await page.evaluate(() =>
      (window as unknown as { RED: { sidebar: { show: (id: string) => void } } }).RED.sidebar.show('soar'),
    );
    await page.locator('button.soar-show-cases').click();
    const theCase = await until(async () => {
      const list = await api<{ items: CaseView[] }>('/soar/cases?type=network-ids');
      return list.items.find((c) => c.alerts.includes(alertId));
    });
    const row = page.locator(`.soar-case-row[data-id="${theCase.id}"]`);
    await row.waitFor();
    assert.match(await row.innerText(), /network-ids/);

    // The block waits for an analyst: approve it in the sidebar, with a comment.
    await page.locator('button.soar-show-approvals').click();
    const approvalRow = page.locator('.soar-approval-row').filter({ hasText: suricata.src_ip });
    await approvalRow.waitFor();
    assert.match(await approvalRow.innerText(), new RegExp(`block-ip ${suricata.src_ip.replace(/\./g, '\\.')}`));
    await approvalRow.locator('input.soar-approval-comment').fill('known C2 address, block it');
    await approvalRow.locator('button.soar-approve').click();
    await approvalRow.waitFor({ state: 'detached' });

    // Done: the case's actions show it, in the sidebar too, and the lab device recorded it in the audit log.
    const done = await until(async () => {
      const c = await api<CaseView>(`/soar/cases/${encodeURIComponent(theCase.id)}`);
      return c.actions.some((a) => a.status === 'done') ? c : undefined;
    });
    assert.deepEqual(
      done.actions.filter((a) => a.status === 'done').map((a) => [a.action, a.target, a.device]),
      [['block-ip', suricata.src_ip, 'lab firewall']],
    );
    await page.locator('button.soar-show-cases').click();
    await page.locator(`.soar-case-row[data-id="${theCase.id}"]`).click();
    await page.locator('tr.soar-action', { hasText: 'done' }).waitFor();
    assert.match(await page.locator('tr.soar-action', { hasText: 'done' }).innerText(), /block-ip[\s\S]*lab firewall/);

    const audit = readFileSync(join(tmp!.dir, 'soar-audit.jsonl'), 'utf8').trim().split('\n');
    const record = audit
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.action === 'block-ip' && r.outcome === 'done');
    assert.ok(record, `a block-ip done in the audit log: ${audit.join('\n')}`);
    assert.equal(record.target, suricata.src_ip);
    assert.match(JSON.stringify(record), /lab device lab firewall: block-ip/);
    assert.match(JSON.stringify(record), /known C2 address, block it/);
  });

  // Last: it leaves two nodes invalid in the editor (never deployed).
  it('marks a node invalid in the editor, before deploy, for a bad JSONata condition and a bad duration', async () => {
    const invalid = (id: string) =>
      page.evaluate(
        (nodeId) =>
          (window as unknown as { RED: { nodes: { node: (id: string) => { valid: boolean } } } }).RED.nodes.node(nodeId)
            .valid === false,
        id,
      );
    const triangle = (id: string) => page.locator(`[id="${id}"] .red-ui-flow-node-error:not(.hide)`);
    // Drawn and validated first (the editor validates a node before it draws it): no triangle before then proves
    // nothing.
    for (const id of ['soar.respond', 'soar.rule']) {
      await page.locator(`[id="${id}"] .red-ui-flow-node-error`).waitFor({ state: 'attached' });
      assert.equal(await invalid(id), false, `${id} valid as deployed`);
      assert.equal(await triangle(id).count(), 0, `${id}: no triangle as deployed`);
    }

    // soar-respond: "revert after" takes whole seconds.
    await page.locator('[id="soar.respond"]').dblclick();
    let tray = page.locator('.red-ui-tray').last();
    await tray.locator('#node-input-duration').fill('an hour');
    await tray.locator('#node-input-duration').press('Tab'); // the editor validates on change
    await tray.locator('#node-input-duration.input-error').waitFor();
    await tray.locator('#node-dialog-ok').click();
    await tray.waitFor({ state: 'detached' });
    await triangle('soar.respond').waitFor();
    assert.equal(await invalid('soar.respond'), true);

    // soar-rule: the first rule's condition with a JSONata syntax error.
    await page.locator('[id="soar.rule"]').dblclick();
    tray = page.locator('.red-ui-tray').last();
    const condition = tray
      .locator('.red-ui-editableList-item-content')
      .first()
      .locator('input.red-ui-typedInput-input');
    await condition.fill('$count(attack[');
    await tray.locator('#node-dialog-ok').click();
    await tray.waitFor({ state: 'detached' });
    await triangle('soar.rule').waitFor();
    assert.equal(await invalid('soar.rule'), true);
    const tooltip = await page.evaluate(
      () =>
        (
          window as unknown as { RED: { nodes: { node: (id: string) => { validationErrors?: string[] } } } }
        ).RED.nodes.node('soar.rule').validationErrors ?? [],
    );
    assert.ok(tooltip.length > 0, 'the editor says which setting is wrong');

    // Deploying asks first, listing what is not properly configured.
    await page.locator('#red-ui-header-button-deploy').click();
    const confirm = page.locator('.red-ui-notification', { hasText: 'not properly configured' });
    await confirm.waitFor();
    const listed = await confirm.locator('.red-ui-deploy-dialog-confirm-list li').allInnerTexts();
    assert.deepEqual(listed.sort(), [
      '[SOAR: alerts to cases] block malicious IOCs (soar-respond)',
      '[SOAR: alerts to cases] classify (soar-rule)',
    ]);
    await confirm.locator('button', { hasText: 'Cancel' }).click();
    await confirm.waitFor({ state: 'detached' });
  });
});
