import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApp, type RunningApp } from './app';

const ROOT = join(__dirname, '..', '..');

export interface ExtraUser {
  username: string;
  password: string;
  /** Node-RED permissions: 'read', '*', or a list such as ['flows.read']. */
  permissions: string | string[];
}

/**
 * Starts the product with the project's settings.js plus more editor users (settings.js has one admin user): a small
 * settings file in the data dir loads settings.js and adds them.
 */
export async function startAppWithUsers(
  dataDir: string,
  env: Record<string, string>,
  users: ExtraUser[],
): Promise<RunningApp> {
  const settingsFile = join(dataDir, 'settings-with-users.js');
  writeFileSync(
    settingsFile,
    [
      `const bcrypt = require(${JSON.stringify(require.resolve('bcryptjs'))});`,
      `const settings = require(${JSON.stringify(join(ROOT, 'settings.js'))});`,
      `for (const u of ${JSON.stringify(users)}) {`,
      `  settings.adminAuth.users.push({ username: u.username, password: bcrypt.hashSync(u.password, 4), permissions: u.permissions });`,
      `}`,
      `module.exports = settings;`,
    ].join('\n'),
  );
  return startApp(dataDir, env, settingsFile);
}
