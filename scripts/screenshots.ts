/**
 * `npm run screenshots`: renders the editor with the default flow into docs/ for the README. Starts the app on a
 * fresh data dir, posts sample alerts, logs in with Debian's chromium (playwright-core) and takes the picture.
 */
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startApp } from '../test/helpers/app';
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
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 800 } });
    await page.goto(app.url);
    await page.fill('#node-dialog-login-username', 'admin');
    await page.fill('#node-dialog-login-password', env.SOAR_ADMIN_PASSWORD);
    await page.click('.ui-dialog-buttonset button:has-text("Login"), #node-dialog-login-submit');
    await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 30_000 });

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
