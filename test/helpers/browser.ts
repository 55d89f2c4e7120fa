/**
 * Debian's chromium driven by playwright-core, for the tests that look at the editor as an analyst does. The browser
 * is the system one (`apt-get install chromium`, which .ci/run does): playwright's own downloads are not reachable.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Skips the calling suite when chromium is missing on a developer's machine, with the reason; under CI=true the
 * browser is part of the environment, so a missing one is a failure rather than a silent skip.
 */
export function requireChromium(ctx: Mocha.Context): void {
  if (existsSync(CHROMIUM)) return;
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.log(`    (skipped: no browser at ${CHROMIUM}; apt-get install chromium, or set CHROMIUM_PATH)`);
  ctx.skip();
}

/** Headless chromium without a sandbox (tests run as root), the GPU, or any call home; `extraArgs` added. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      ...extraArgs,
    ],
  });
}

/** Opens the editor at `url` and logs in through its login dialog; resolves once the workspace shows the flow. */
export async function openEditor(
  browser: Browser,
  url: string,
  username: string,
  password: string,
  viewport = { width: 1400, height: 800 },
): Promise<Page> {
  const page = await browser.newPage({ viewport });
  await page.goto(url);
  await page.fill('#node-dialog-login-username', username);
  await page.fill('#node-dialog-login-password', password);
  await page.click('.ui-dialog-buttonset button:has-text("Login"), #node-dialog-login-submit');
  await page.waitForSelector('#red-ui-workspace-chart .red-ui-flow-node', { timeout: 60_000 });
  return page;
}
