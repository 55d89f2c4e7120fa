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

type SidebarWindow = {
  RED: {
    sidebar: { show: (id: string) => void; containsTab: (id: string) => boolean };
    comms: { subscribe: (topic: string, callback: () => void) => void };
    menu: { setSelected: (id: string, state: boolean) => void };
  };
};

describe('the SOAR sidebar in the editor (chromium)', function () {
  // Each test takes seconds; the budget is for a loaded CI machine, where one step may wait up to until()'s 10 s.
  this.timeout(60_000);
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
    // The app's start (up to 30 s) plus three editors loading at once (up to 60 s each, in parallel) on a loaded
    // machine: a budget that holds there; the normal path takes a few seconds.
    this.timeout(180_000);
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
    // Loaded first (the list said so), then empty: a count of 0 before the list loads would prove nothing.
    await page.locator('.soar-section-cases .soar-message', { hasText: 'No cases match.' }).waitFor();
    assert.equal(await page.locator('.soar-case-row').count(), 0, 'no case yet');

    // The case appears without a reload.
    const posted = await postAlert(suricata);
    assert.equal(posted.status, 202);
    const alertId = ((await posted.json()) as { ids: string[] }).ids[0];
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
    // Its alerts: the newest the case lists, then all the store knows, with when each was grouped.
    await view.locator('.soar-case-alerts tr.soar-alert', { hasText: alertId }).waitFor();
    assert.match(await view.locator('.soar-case-alerts').innerText(), /newest 1 of 1/);
    await view.locator('button.soar-case-list-alerts').click();
    await view.locator('.soar-case-alerts-count', { hasText: '1 of 1 listed' }).waitFor();
    assert.match(await view.locator('.soar-case-alerts tr.soar-alert').innerText(), new RegExp(`${alertId}\\s+\\d+s`));
    await view.locator('button.soar-case-list-alerts').waitFor({ state: 'hidden' });

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
    const comment = approval.locator('input.soar-approval-comment');
    await comment.fill('confirmed attacker');
    // A refresh (as an alert storm makes, twice a second) keeps the row, its typed comment and its focus.
    await approval.evaluate((row) => ((row as unknown as { marked: boolean }).marked = true));
    // Re-read the list as a live notice does (trigger: a click would move the focus), until it is rendered: the
    // first change the answer makes in the section.
    await page.evaluate(
      () =>
        new Promise<void>((rendered) => {
          const section = document.querySelector('.soar-section-approvals')!;
          new MutationObserver((_records, observer) => {
            observer.disconnect();
            rendered();
          }).observe(section, { childList: true, subtree: true, characterData: true });
          (window as unknown as { $: (s: string) => { trigger: (e: string) => void } })
            .$('button.soar-show-approvals')
            .trigger('click');
        }),
    );
    assert.equal(
      await approval.evaluate((row) => (row as unknown as { marked?: boolean }).marked),
      true,
      'the same row',
    );
    assert.equal(await comment.inputValue(), 'confirmed attacker');
    assert.equal(await comment.evaluate((e) => e === document.activeElement), true, 'still focused');
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
    type Devices = { items: { name: string; checkedAt: string | null }[] };
    const checkedAt = async () =>
      (await api<Devices>('/soar/devices')).items.find((d) => d.name === 'lab firewall')?.checkedAt;
    const before = await checkedAt();
    await device.locator('button.soar-device-check').click();
    // The check happened (the device was asked again), and the button is back for the next one.
    await until(async () => (await checkedAt()) !== before);
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
    await outsider.locator('.soar-section-cases .soar-denied').waitFor(); // loaded, and refused
    assert.equal(await outsider.locator('.soar-case-row').count(), 0);
    await outsider.click('button.soar-show-approvals');
    await outsider.locator('.soar-section-approvals .soar-denied').waitFor();
    assert.equal(await outsider.locator('.soar-approval-row').count(), 0);
  });

  it('shows hostile alert content as text: no element is made from it, no script runs', async () => {
    const page = pages.admin;
    const HOSTILE = '<img src=x onerror="window.__xss=1">';
    // Any img made anywhere in the page from now on is recorded, even one removed at once.
    await page.evaluate(() => {
      const w = window as unknown as { __imgs: string[] };
      w.__imgs = [];
      new MutationObserver((records) => {
        for (const r of records) {
          for (const n of r.addedNodes) {
            if (!(n instanceof Element)) continue;
            for (const img of [n, ...n.querySelectorAll('img')].filter((e) => e.tagName === 'IMG')) {
              w.__imgs.push(img.outerHTML);
            }
          }
        }
      }).observe(document, { childList: true, subtree: true });
    });
    const hostile = {
      ...suricata,
      src_ip: '198.51.100.7', // not in the feed: no approval, just a case
      flow_id: 424242,
      host: HOSTILE,
      alert: { ...(suricata.alert as object), signature_id: 9_999_999, signature: HOSTILE, category: HOSTILE },
    };

    await page.click('button.soar-show-cases');
    const back = page.locator('.soar-case-view button.soar-case-back');
    if (await back.isVisible()) await back.click(); // the first test left a case open
    await page.locator('.soar-case-row').first().waitFor();

    // The alert comes while the sidebar is collapsed: the change is told, not shown; opening the sidebar reads it.
    await page.evaluate(() => {
      const w = window as unknown as SidebarWindow & { __told: number };
      w.__told = 0;
      w.RED.comms.subscribe('soar/cases', () => w.__told++);
      w.RED.menu.setSelected('menu-item-sidebar', false);
    });
    await page.locator('.soar-sidebar').waitFor({ state: 'hidden' });
    assert.equal((await postAlert(hostile)).status, 202);
    await page.waitForFunction(() => (window as unknown as { __told: number }).__told > 0);
    assert.equal(await page.locator('.soar-case-row', { hasText: HOSTILE }).count(), 0, 'not read while collapsed');
    await page.evaluate(() => (window as unknown as SidebarWindow).RED.menu.setSelected('menu-item-sidebar', true));
    const row = page.locator('.soar-case-row', { hasText: HOSTILE });
    await row.waitFor({ timeout: 10_000 });
    assert.equal(await row.getAttribute('title'), HOSTILE, 'the tooltip is the title, as text');
    assert.match(await row.innerText(), /<img src=x onerror="window\.__xss=1">/);
    await row.click();
    const view = page.locator('.soar-case-view');
    await view.locator('.soar-case-title', { hasText: HOSTILE }).waitFor();
    await view.locator('.soar-timeline-entry', { hasText: `suricata alert: ${HOSTILE}` }).waitFor();

    const sidebar = page.locator('.soar-sidebar');
    assert.equal(await sidebar.locator('img').count(), 0, 'no img in the sidebar');
    const seen = await page.evaluate(() => {
      const w = window as unknown as { __imgs: string[]; __xss?: unknown };
      return { imgs: w.__imgs.filter((h) => h.includes('onerror')), xss: w.__xss };
    });
    assert.deepEqual(seen, { imgs: [], xss: undefined }, 'no img was made from the alert, no handler ran');
    await back.click();
  });
});
