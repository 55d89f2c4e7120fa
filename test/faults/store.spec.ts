import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, allCases, type RunningApp, startApp } from '../helpers/app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

/**
 * The embedded store goes away for a few seconds under a steady stream of alerts into the real app (default flow):
 * another process holds SQLite's write lock on one of its databases for longer than a busy wait. The intake must keep
 * answering, promptly (202, or 503 with a reason: never a crash, never a frozen process), and once the lock is gone
 * every alert acknowledged with 202 must end up in exactly one case, without a restart.
 */

const ROOT = join(__dirname, '..', '..');
const suricata = readFileSync(
  join(ROOT, 'test', 'fixtures', 'samples', 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'),
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

const env = { SOAR_INTAKE_TOKEN: 'store-fault-token', SOAR_ADMIN_PASSWORD: 'store-fault-password' };
/** Longer than better-sqlite3's default busy timeout (5 s), so a writer that waits that long still gives up. */
const LOCK_MS = 6_000;
/**
 * The slowest intake answer allowed from the moment the lock is taken: a busy wait of seconds on the event loop
 * (better-sqlite3 waits synchronously) freezes the whole process, intake included.
 */
const MAX_ANSWER_MS = 3_000;

/** Alert `n`: a real Suricata alert with its own flow id and source address, so its own case. */
function alert(n: number): Record<string, unknown> {
  const base = suricata[n % suricata.length];
  return { ...base, flow_id: 3_000_000 + n, src_ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
}

/**
 * Another process that takes the write lock of a SQLite database (BEGIN EXCLUSIVE, which WAL mode grants once no
 * other writer holds it) and keeps it for `ms`. Resolves once the lock is held; `released` once it is let go.
 */
async function holdWriteLock(file: string, ms: number): Promise<{ child: ChildProcess; released: Promise<void> }> {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN EXCLUSIVE');
    process.stdout.write('locked\\n');
    setTimeout(() => { db.exec('ROLLBACK'); db.close(); process.stdout.write('released\\n'); }, ${ms});
  `;
  const child = spawn(process.execPath, ['-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const seen = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => (out.includes(text) ? resolve() : undefined);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        check();
      });
      child.once('exit', (code) => (out.includes(text) ? resolve() : reject(new Error(`lock holder exited ${code}`))));
      check();
    });
  const locked = seen('locked');
  const released = seen('released');
  await locked;
  return { child, released };
}

interface Answer {
  status: number;
  body: string;
  sentAt: number;
  at: number;
}

describe('store faults: the embedded store unavailable for a few seconds under a steady stream of alerts', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;
  let holder: ChildProcess | undefined;

  beforeEach(() => {
    tmp = tempDir('soar-store-fault-');
    const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as Record<string, unknown>[];
    // Durability, not the rate limit, is under test.
    for (const n of flows) if (n.id === 'soar.alert-in') Object.assign(n, { rateLimit: 100_000, burst: 100_000 });
    writeFileSync(join(tmp.dir, 'flows.json'), JSON.stringify(flows));
  });
  afterEach(async () => {
    holder?.kill('SIGKILL');
    await app?.stop();
    app = undefined;
    tmp.cleanup();
  });

  /** Posts alerts from `clients` loops until `stop()`; every answer is kept. */
  function stream(url: string, clients = 2) {
    const answers: Answer[] = [];
    const acknowledged = new Set<string>();
    let n = 0;
    let stopped = false;
    const client = async () => {
      while (!stopped) {
        const sentAt = Date.now();
        const res = await fetch(`${url}/api/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(alert(n++)),
        });
        const body = await res.text();
        answers.push({ status: res.status, body, sentAt, at: Date.now() });
        if (res.status === 202) for (const id of (JSON.parse(body) as { ids: string[] }).ids) acknowledged.add(id);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const running = Promise.all(Array.from({ length: clients }, client));
    return {
      answers,
      acknowledged,
      stop: async () => {
        stopped = true;
        await running;
      },
    };
  }

  async function expectEveryAcknowledgedAlertInOneCase(url: string, acknowledged: Set<string>, ms: number) {
    const token = await adminToken(url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const cases = await until(async () => {
      const all = await allCases(url, token);
      const inCases = new Set(all.flatMap((c) => c.alerts));
      return [...acknowledged].every((id) => inCases.has(id)) && all;
    }, ms).catch(async (err: Error) => {
      const inCases = new Set((await allCases(url, token)).flatMap((c) => c.alerts));
      const missing = [...acknowledged].filter((id) => !inCases.has(id));
      throw new Error(`${missing.length} of ${acknowledged.size} acknowledged alerts in no case: ${err.message}`);
    });
    const owners = new Map<string, number>();
    for (const c of cases) for (const id of c.alerts) owners.set(id, (owners.get(id) ?? 0) + 1);
    assert.deepEqual(
      [...owners].filter(([, count]) => count > 1),
      [],
      'alerts in more than one case',
    );
    assert.deepEqual(
      cases.filter((c) => c.alertCount !== c.alerts.length).map((c) => c.id),
      [],
      'an alert counted twice',
    );
  }

  /**
   * Streams alerts into a fresh app, locks `file` (a database of the data dir) for `lockMs` from another process,
   * streams on for a second after the lock is gone; returns what the clients saw.
   */
  async function streamThroughLock(file: string, lockMs: number) {
    app = await startApp(tmp.dir, env);
    const traffic = stream(app.url);
    await until(() => traffic.acknowledged.size >= 20, 10_000);
    const lock = await holdWriteLock(join(tmp.dir, file), lockMs);
    holder = lock.child;
    const lockedAt = Date.now();
    await lock.released;
    const releasedAt = Date.now();
    await new Promise((r) => setTimeout(r, 1000));
    await traffic.stop();
    assert.equal(app.proc.exitCode, null, 'the app is still running');
    const during = traffic.answers.filter((a) => a.at >= lockedAt && a.at < releasedAt);
    const after = traffic.answers.filter((a) => a.sentAt >= releasedAt);
    const unexpected = traffic.answers.filter((a) => a.status !== 202 && a.status !== 503);
    assert.deepEqual(unexpected, [], 'only 202 and 503 answers');
    for (const a of traffic.answers.filter((x) => x.status === 503)) {
      assert.match((JSON.parse(a.body) as { error: string }).error, /\S/, 'a 503 says why');
    }
    assert.ok(
      after.length > 0 && after.every((a) => a.status === 202),
      'once the lock is gone, alerts are accepted again',
    );
    const slowest = Math.max(...traffic.answers.filter((a) => a.at >= lockedAt).map((a) => a.at - a.sentAt));
    return { ...traffic, during, slowest };
  }

  it(`case store (soar-store.db) write-locked by another process for ${LOCK_MS / 1000} s: the intake keeps answering 202, and every 202 alert ends in exactly one case without a restart`, async () => {
    const seen = await streamThroughLock('soar-store.db', LOCK_MS);
    assert.ok(app);
    // Nothing acknowledged may wait for a restart: the grouping must be retried once the store is back.
    await expectEveryAcknowledgedAlertInOneCase(app.url, seen.acknowledged, 10_000);
    // Nor may a later step lose its write (a decision, an action) to the lock: every write waits for the store.
    const errors = app
      .output()
      .split('\n')
      .filter((line) => line.includes('[error]'));
    assert.deepEqual(errors, [], 'no node failed while the store was locked');
    // The journal is a file of its own, so a locked case store must not stop the intake. (A long busy wait would:
    // better-sqlite3 waits on the event loop, which freezes the whole process.)
    assert.ok(seen.during.length >= 10, `${seen.during.length} answers while the store was locked`);
    assert.ok(
      seen.during.every((a) => a.status === 202),
      'the intake accepts alerts while the case store is locked',
    );
    assert.ok(seen.slowest < MAX_ANSWER_MS, `an answer took ${seen.slowest} ms while the store was locked`);
  });

  it(`intake journal (soar-intake.db) write-locked by another process for ${LOCK_MS / 1000} s: 503 with a reason meanwhile, never a lost 202`, async () => {
    const seen = await streamThroughLock('soar-intake.db', LOCK_MS);
    assert.ok(app);
    assert.ok(seen.slowest < MAX_ANSWER_MS, `an answer took ${seen.slowest} ms while the journal was locked`);
    const refused = seen.during.filter((a) => a.status === 503);
    assert.ok(refused.length > 0, 'alerts that cannot be journaled are refused');
    assert.match(refused[0].body, /could not be stored; nothing was accepted, retry later/);
    await expectEveryAcknowledgedAlertInOneCase(app.url, seen.acknowledged, 10_000);
  });
});
