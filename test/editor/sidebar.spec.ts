import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openEditor, requireChromium } from '../helpers/browser';
import { adminToken, type RunningApp } from '../helpers/app';
import { startAppWithUsers } from '../helpers/sidebar-app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const ROOT = join(__dirname, '..', '..');
const fixture = (...p: string[]) => join(ROOT, 'test', 'fixtures', 'samples', ...p);
const env = { SOAR_INTAKE_TOKEN: 'sidebar-e2e-token', SOAR_ADMIN_PASSWORD: 'sidebar-e2e-password' };
const VIEWER = { username: 'viewer', password: 'viewer-password', permissions: 'read' };
/** Can open the editor but has no soar.* permission. */
const OUTSIDER = {
  username: 'outsider',
  password: 'outsider-password',
  permissions: [
    'settings.read',
    'flows.read',
    'nodes.read',
    'plugins.read',
    'context.read',
    'library.read',
    // the editor's comms socket
    'status.read',
  ],
};

type SuricataRecord = Record<string, unknown> & { src_ip: string };
const records = readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as SuricataRecord);
/** Two alerts of the sample from two attackers: one for the analyst, one for the read-only user. */
const suricata = records[0];
const second = records.find((r) => r.src_ip !== suricata.src_ip)!;

/**
 * The default flow, with the lab firewall asking for an analyst's approval before it blocks an address, and a
 * STIX feed that lists the attacker of the Suricata sample: its alert opens a case, the playbook decides to block,
 * and soar-approval holds the request.
 */
function prepareDataDir(dir: string): void {
  const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as Record<string, unknown>[];
  const lab = flows.find((n) => n.id === 'soar.device.lab');
  assert.ok(lab, 'the default flow has the lab device');
  lab.approval = 'block-ip,isolate-host';
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(flows));
  mkdirSync(join(dir, 'feeds'));
  const feed = join(dir, 'feeds', 'c2.json');
  writeFileSync(
    feed,
    JSON.stringify({
      type: 'bundle',
      id: 'bundle--1',
      objects: [suricata, second].map((r, i) => ({
        type: 'indicator',
        spec_version: '2.1',
        id: `indicator--0f6f1f6e-5c3a-4a8e-9d7e-3b7c2d1e0a1${i}`,
        created: '2026-01-01T00:00:00.000Z',
        modified: '2026-01-01T00:00:00.000Z',
        pattern_type: 'stix',
        pattern: `[ipv4-addr:value = '${r.src_ip}']`,
        valid_from: '2026-01-01T00:00:00.000Z',
        confidence: 90,
      })),
    }),
  );
  const past = new Date(Date.now() - 60_000);
  utimesSync(feed, past, past);
}

async function login(browser: Browser, url: string, username: string, password: string): Promise<Page> {
  const page = await openEditor(browser, url, username, password, { width: 1400, height: 850 });
  // The SOAR tab is in the sidebar's menu; show it as a user does from there.
  await page.waitForFunction(() => (window as unknown as SidebarWindow).RED.sidebar.containsTab('soar'), null, {
    timeout: 20_000,
  });
  await page.evaluate(() => (window as unknown as SidebarWindow).RED.sidebar.show('soar'));
  return page;
}

type SidebarWindow = { RED: { sidebar: { show: (id: string) => void; containsTab: (id: string) => boolean } } };

describe('the SOAR sidebar in the editor (chromium)', function () {
  // Generous for a loaded machine: loading the three editors is most of the time.
  this.timeout(90_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp;
  let browser: Browser;
  let headers: { authorization: string };
  const pages: Record<'admin' | 'viewer' | 'outsider', Page> = {} as never;

  const api = async <T>(path: string): Promise<T> =>
    (await (await fetch(`${app.url}${path}`, { headers })).json()) as T;
  const postAlert = (alert: unknown) =>
    fetch(`${app.url}/api/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(alert),
    });

  before(async function () {
    requireChromium(this);
    tmp = tempDir('soar-sidebar-e2e-');
    prepareDataDir(tmp.dir);
    app = await startAppWithUsers(tmp.dir, env, [VIEWER, OUTSIDER]);
    headers = { authorization: `Bearer ${await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD)}` };
    // Three editors at once: none of them is a background window to be slowed down.
    browser = await launchChromium([
      '--disable-renderer-backgrounding',
      '--disable-background-timer-throttling',
      '--disable-backgrounding-occluded-windows',
    ]);
    // Loading the editor takes seconds (its code editor): the three users log in at once.
    [pages.admin, pages.viewer, pages.outsider] = await Promise.all([
      login(browser, app.url, 'admin', env.SOAR_ADMIN_PASSWORD),
      login(browser, app.url, VIEWER.username, VIEWER.password),
      login(browser, app.url, OUTSIDER.username, OUTSIDER.password),
      // The feed is loaded before the alert comes.
      until(
        async () =>
          (await api<{ verdict: string }>(`/soar/iocs/lookup?value=${suricata.src_ip}`)).verdict === 'malicious',
      ),
    ]);
  });
  after(async () => {
    await browser?.close();
    await app?.stop();
    tmp?.cleanup();
  });

  it('shows a case live, edits it, approves its response, and shows devices and metrics', async () => {
    const page = pages.admin;
    await page.waitForSelector('.soar-section-cases', { state: 'visible' });
    assert.equal(await page.locator('.soar-case-row').count(), 0, 'no case yet');

    // The case appears without a reload.
    assert.equal((await postAlert(suricata)).status, 202);
    const row = page.locator('.soar-case-row').first();
    await row.waitFor({ timeout: 10_000 });
    const caseId = await row.getAttribute('data-id');
    assert.match(caseId ?? '', /^CASE-\d+$/);

    // Its view: the IOC verdict is highlighted, the ATT&CK and timeline sections are there.
    await row.click();
    const view = page.locator('.soar-case-view');
    await view.waitFor({ state: 'visible' });
    await view.locator('tr.soar-verdict-malicious', { hasText: suricata.src_ip }).waitFor({ timeout: 10_000 });
    await view.locator('h4', { hasText: 'ATT&CK techniques' }).waitFor();

    await view.locator('textarea.soar-case-note').fill('looked at the honeypot logs');
    await view.locator('button.soar-case-add-note').click();
    await view.locator('.soar-timeline-entry', { hasText: 'looked at the honeypot logs' }).waitFor();
    await view.locator('select.soar-case-status').selectOption('in-progress');
    await view.locator('button.soar-case-save').click();
    await view.locator('.soar-case-result', { hasText: 'Saved.' }).waitFor();
    const edited = await api<{ status: string; timeline: { kind: string; message: string; by?: string }[] }>(
      `/soar/cases/${caseId}`,
    );
    assert.equal(edited.status, 'in-progress');
    assert.ok(
      edited.timeline.some((t) => t.message.includes('looked at the honeypot logs') && t.by === 'admin'),
      'the note is in the case, by the logged-in user',
    );

    // The response waits for an approval: approve it from the sidebar.
    await page.click('button.soar-show-approvals');
    const approval = page.locator('.soar-approval-row').first();
    await approval.waitFor({ timeout: 10_000 });
    const approvalId = await approval.getAttribute('data-id');
    assert.match(await approval.innerText(), new RegExp(`block-ip ${suricata.src_ip.replace(/\./g, '\\.')}`));
    await approval.locator('input.soar-approval-comment').fill('confirmed attacker');
    await approval.locator('button.soar-approve').click();
    await page.locator(`.soar-approval-row[data-id="${approvalId}"]`).waitFor({ state: 'detached' });
    const acted = await until(async () => {
      const c = await api<{ actions: { action: string; target: string; status: string }[] }>(`/soar/cases/${caseId}`);
      return c.actions.find((a) => a.action === 'block-ip' && a.status === 'done');
    });
    assert.equal(acted.target, suricata.src_ip);

    await page.click('button.soar-show-devices');
    const device = page.locator('.soar-device-row', { hasText: 'lab firewall' });
    await device.locator('.soar-status-ok').waitFor();
    await device.locator('button.soar-device-check').click();
    await page.locator('.soar-device-row button.soar-device-check:enabled').waitFor();
    await page.click('button.soar-show-metrics');
    await page.locator('.soar-metrics .soar-metrics-intake', { hasText: 'accepted' }).waitFor();
    assert.match(await page.locator('.soar-metrics').innerText(), /network-ids/);
  });

  it('lets a read-only user see an approval but not decide it; a user without soar.read sees no data', async () => {
    const viewer = pages.viewer;
    await viewer.click('button.soar-show-approvals');
    await viewer.locator('.soar-section-approvals .soar-message', { hasText: 'No approvals' }).waitFor();
    // A second attacker's alert asks for another approval: it shows up live for the viewer too.
    assert.equal((await postAlert(second)).status, 202);
    const row = viewer.locator('.soar-approval-row').first();
    await row.waitFor({ timeout: 10_000 });
    const id = await row.getAttribute('data-id');
    assert.equal(await row.locator('button.soar-approve').isDisabled(), true);
    assert.equal(await row.locator('button.soar-deny').isDisabled(), true);
    // The guarded API refuses the viewer's decision whatever the page does.
    const res = await viewer.evaluate(async (approvalId) => {
      // The editor's own jQuery, which sends the viewer's token.
      const $ = (window as unknown as { $: { ajax: (o: object) => PromiseLike<unknown> } }).$;
      try {
        await $.ajax({
          url: 'soar/approvals/' + approvalId,
          method: 'POST',
          contentType: 'application/json',
          data: JSON.stringify({ decision: 'approve' }),
        });
        return 200;
      } catch (xhr) {
        return (xhr as { status: number }).status;
      }
    }, id);
    assert.equal(res, 401, 'Node-RED answers a missing permission with 401');
    const pending = await api<{ items: { id: string }[] }>('/soar/approvals');
    assert.deepEqual(
      pending.items.map((a) => a.id),
      [id],
      'still pending',
    );

    await viewer.click('button.soar-show-devices');
    await viewer.locator('.soar-device-row').waitFor();
    assert.equal(await viewer.locator('button.soar-device-check').count(), 0, 'no health check without soar.write');

    const outsider = pages.outsider;
    await outsider.locator('.soar-section-cases .soar-denied').waitFor();
    assert.equal(await outsider.locator('.soar-case-row').count(), 0);
    await outsider.click('button.soar-show-approvals');
    await outsider.locator('.soar-section-approvals .soar-denied').waitFor();
    assert.equal(await outsider.locator('.soar-approval-row').count(), 0);
  });
});
