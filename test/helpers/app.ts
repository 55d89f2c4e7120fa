import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');

export interface RunningApp {
  url: string;
  proc: ChildProcess;
  output: () => string;
  /** Waits until the output contains `text`. */
  waitFor: (text: string | RegExp, ms?: number) => Promise<string>;
  stop: () => Promise<void>;
}

/**
 * Starts the product as `npm start` does (Node-RED with settings.js and the same V8 flags) on a free port of 127.0.0.1, in a child
 * process, and resolves once flows have started. `settingsFile` replaces settings.js (e.g. one that loads it and adds users).
 */
export async function startApp(
  dataDir: string,
  env: Record<string, string> = {},
  settingsFile = join(ROOT, 'settings.js'),
): Promise<RunningApp> {
  const proc = spawn(
    process.execPath,
    ['--max-semi-space-size=64', require.resolve('node-red/red.js'), '--settings', settingsFile],
    {
      cwd: ROOT,
      env: { ...process.env, SOAR_DATA_DIR: dataDir, PORT: '0', SOAR_HOST: '127.0.0.1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  let exited = false;
  proc.on('exit', () => {
    exited = true;
    for (const l of listeners) l();
  });

  const waitFor = (text: string | RegExp, ms = 30_000) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const match = typeof text === 'string' ? (out.includes(text) ? text : null) : text.exec(out)?.[0];
        if (match) {
          cleanup();
          resolve(match);
        } else if (exited) {
          cleanup();
          reject(new Error(`app exited before printing ${text}:\n${out}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out waiting for ${text}:\n${out}`));
      }, ms);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });

  const running = await waitFor(/Server now running at http:\/\/127\.0\.0\.1:\d+\//);
  await waitFor('Started flows');
  const url = running.replace('Server now running at ', '').replace(/\/$/, '');
  return {
    url,
    proc,
    output: () => out,
    waitFor,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

/** Logs in to the admin API as Node-RED documents it and returns the access token. */
export async function adminToken(url: string, username: string, password: string): Promise<string> {
  const res = await fetch(`${url}/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: 'node-red-admin', grant_type: 'password', scope: '*', username, password }),
  });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** What the tests read of a case from `GET /soar/cases`. */
export interface CaseSummary {
  id: string;
  type: string;
  alertCount: number;
  alerts: string[];
}

/** GET of the admin API (a login with read permission), page by page until `total` items are read. */
async function allPages<T>(url: string, token: string, path: string): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += 200) {
    const res = await fetch(`${url}${path}?limit=200&offset=${offset}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as { total: number; items: T[] };
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}

/**
 * Every case the app holds, with the ids of all its alerts in `alerts`: a case lists only its newest, so those of a
 * bigger one are read from its alert links (`GET /soar/cases/:id/alerts`). An alert counted twice in a case shows
 * as an `alertCount` above `alerts.length`.
 */
export async function allCases(url: string, token: string): Promise<CaseSummary[]> {
  const cases = await allPages<CaseSummary>(url, token, '/soar/cases');
  for (const c of cases) {
    if (c.alertCount <= c.alerts.length) continue;
    const links = await allPages<{ id: string }>(url, token, `/soar/cases/${encodeURIComponent(c.id)}/alerts`);
    c.alerts = links.map((a) => a.id);
  }
  return cases;
}
