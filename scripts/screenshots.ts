/**
 * `npm run screenshots`: renders the editor with the default flow (docs/editor.png) and the SOAR sidebar with a case
 * open (docs/sidebar.png) for the README. Starts the app on a fresh data dir, posts sample alerts, logs in with
 * Debian's chromium (playwright-core) and takes the pictures.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApp } from '../test/helpers/app';
import { launchChromium, openEditor } from '../test/helpers/browser';
import { tempDir } from '../test/helpers/tmp';

const ROOT = join(__dirname, '..');
const env = { SOAR_ADMIN_PASSWORD: 'screenshot-password', SOAR_INTAKE_TOKEN: 'screenshot-token' };

async function main() {
  const tmp = tempDir('soar-shot-');
  // A feed in the data dir's feeds/ folder, for the feed node's status and an IOC match.
  const samples = join(ROOT, 'test', 'fixtures', 'samples');
  mkdirSync(join(tmp.dir, 'feeds'));
  copyFileSync(
    join(samples, 'threat-intel-feeds', 'abusech-feodotracker-ipblocklist-2024-04-04.csv'),
    join(tmp.dir, 'feeds', 'feodo-ipblocklist.csv'),
  );
  const app = await startApp(tmp.dir, env);
  const browser = await launchChromium();
  try {
    const page = await openEditor(browser, app.url, 'admin', env.SOAR_ADMIN_PASSWORD);

    const bodies = [
      readFileSync(join(samples, 'suricata-eve', 'suricata-docs-flow-1676750115612680.ndjson'), 'utf8').split('\n')[0],
      readFileSync(join(samples, 'wazuh', 'wazuh-4x-alert-sshd-5712-bruteforce.json'), 'utf8'),
      '{"message": "a record no parser knows"}',
    ];
    for (const body of bodies) {
      await fetch(`${app.url}/api/alerts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
        body,
      });
    }
    await page.evaluate(() =>
      (window as unknown as { RED: { sidebar: { show: (id: string) => void } } }).RED.sidebar.show('debug'),
    );
    await page.waitForSelector('.red-ui-debug-msg', { state: 'visible', timeout: 10_000 });
    await page.waitForTimeout(1500); // node status refreshes once a second
    await page.screenshot({ path: join(ROOT, 'docs', 'editor.png') });
    console.log('wrote docs/editor.png');

    // The SOAR sidebar: the cases the alerts opened, and the first one open with its artifacts and timeline.
    await page.evaluate(() =>
      (window as unknown as { RED: { sidebar: { show: (id: string) => void } } }).RED.sidebar.show('soar'),
    );
    // Wider, so the case's tables read well: drag the sidebar's edge to the left.
    const edge = (await page.locator('#red-ui-sidebar-separator').boundingBox())!;
    await page.mouse.move(edge.x + edge.width / 2, edge.y + edge.height / 2);
    await page.mouse.down();
    await page.mouse.move(edge.x - 220, edge.y + edge.height / 2, { steps: 5 });
    await page.mouse.up();
    await page.click('button.soar-show-cases');
    await page.locator('.soar-case-row').first().click();
    await page.waitForSelector('.soar-case-details h4', { state: 'visible', timeout: 10_000 });
    await page.screenshot({ path: join(ROOT, 'docs', 'sidebar.png') });
    console.log('wrote docs/sidebar.png');
  } finally {
    await browser.close();
    await app.stop();
    tmp.cleanup();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
