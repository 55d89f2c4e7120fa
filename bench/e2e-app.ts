/**
 * bench/e2e's app: the product as `npm start` runs it (settings.js, the default flow), in a child process with its
 * own data dir, intake token and admin password, the V8 inspector on (for heap figures and a CPU profile), and an
 * IOC feed in `<data dir>/feeds/`. What it has done is read back through its admin API, as a user would.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, startApp, type RunningApp } from '../test/helpers/app';
import { tempDir } from '../test/helpers/tmp';
import { Inspector } from './e2e-inspector';
import { iocFeed, keyAddress } from './e2e-load';

const ROOT = join(__dirname, '..');
export const TOKEN = 'bench-e2e-intake-token';
const PASSWORD = 'bench-e2e-admin-password';

interface CaseItem {
  id: string;
  updated: string;
  alertCount: number;
  alerts: string[];
  timeline: { at: string; kind?: string }[];
}

export interface BenchApp {
  /** `…/api/alerts` */
  alertsUrl: string;
  pid: number;
  inspector: Inspector;
  /** Every case (paged through the admin API). */
  cases(): Promise<CaseItem[]>;
  /** Alerts counted into cases so far, and the latest case update (ms). */
  processed(): Promise<{ alerts: number; cases: number; lastUpdate: number }>;
  /** Resident set size from /proc (what the kernel charges the process). */
  rss(): number;
  stop(): Promise<void>;
}

/**
 * CPU seconds (user + system) process `pid` has used, from /proc: the cost of the work whatever else the machine
 * runs, where throughput on a shared machine is only what it was given.
 */
export function cpuSeconds(pid: number): number {
  // Fields after the command name (which may hold spaces): state is the 1st, utime the 12th, stime the 13th.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/** The first error line of a failed start, for "not available (…)". */
export function startFailure(err: unknown): string {
  const text = (err as Error).message ?? String(err);
  const line = /^\s*(?:\w*Error|error)[:\]]\s*(.+)$/m.exec(text)?.[1] ?? text.split('\n')[0];
  return line.trim().slice(0, 300);
}

/** The default flow as shipped, except for the intake's per-client rate limit (load from one client is the test). */
function benchFlows(): object[] {
  const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as Record<string, unknown>[];
  for (const n of flows) if (n.id === 'soar.alert-in') Object.assign(n, { rateLimit: 0, burst: 0 });
  return flows;
}

/**
 * Starts the app (SQLite in its data dir, or PostgreSQL at `storeUrl`; `env` added to its environment) and waits until
 * its IOC feed is loaded.
 */
export async function startBenchApp(storeUrl?: string, env: Record<string, string> = {}): Promise<BenchApp> {
  const tmp = tempDir('soar-bench-e2e-');
  let app: RunningApp | undefined;
  let inspector: Inspector | undefined;
  try {
    writeFileSync(join(tmp.dir, 'flows.json'), JSON.stringify(benchFlows()));
    mkdirSync(join(tmp.dir, 'feeds'));
    writeFileSync(join(tmp.dir, 'feeds', 'bench-c2.json'), iocFeed());
    app = await startApp(tmp.dir, {
      SOAR_INTAKE_TOKEN: TOKEN,
      SOAR_ADMIN_PASSWORD: PASSWORD,
      NODE_OPTIONS: '--inspect=127.0.0.1:0',
      ...(storeUrl ? { SOAR_STORE_URL: storeUrl } : {}),
      ...env,
    });
    const running = app;
    inspector = await Inspector.connect(running.output());
    const token = await adminToken(running.url, 'admin', PASSWORD);
    const get = async <T>(path: string): Promise<T> => {
      const res = await fetch(running.url + path, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const cases = async () => {
      const all: CaseItem[] = [];
      for (let offset = 0; ; offset += 500) {
        const page = await get<{ total: number; items: CaseItem[] }>(`/soar/cases?limit=500&offset=${offset}`);
        all.push(...page.items);
        if (page.items.length === 0 || all.length >= page.total) return all;
      }
    };
    // The feed is read at start, in the background: load before it is in would match nothing.
    for (const end = Date.now() + 30_000; ;) {
      const hit = await get<{ verdict?: string }>(`/soar/iocs/lookup?value=${keyAddress(0)}`);
      if (hit.verdict === 'malicious') break;
      if (Date.now() > end) throw new Error(`the bench IOC feed did not load in 30 s: ${JSON.stringify(hit)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const pid = running.proc.pid as number;
    return {
      alertsUrl: `${running.url}/api/alerts`,
      pid,
      inspector,
      cases,
      async processed() {
        const all = await cases();
        return {
          alerts: all.reduce((n, c) => n + c.alertCount, 0),
          cases: all.length,
          lastUpdate: Math.max(0, ...all.map((c) => Date.parse(c.updated))),
        };
      },
      rss() {
        const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
        return Number(kb) * 1024;
      },
      async stop() {
        inspector?.close();
        await running.stop();
        tmp.cleanup();
      },
    };
  } catch (err) {
    inspector?.close();
    await app?.stop();
    tmp.cleanup();
    throw err;
  }
}

/**
 * Waits until `target` alerts are in cases (counted from the cases' alertCount), polling the API; gives up when the
 * count has not moved for `quietMs`. Returns the count reached and when the last case update happened.
 */
export async function drain(
  app: BenchApp,
  target: number,
  quietMs = 30_000,
): Promise<{ alerts: number; lastUpdate: number; complete: boolean }> {
  let last = await app.processed();
  let movedAt = Date.now();
  while (last.alerts < target && Date.now() - movedAt < quietMs) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await app.processed();
    if (now.alerts !== last.alerts) movedAt = Date.now();
    last = now;
  }
  return { alerts: last.alerts, lastUpdate: last.lastUpdate, complete: last.alerts >= target };
}
