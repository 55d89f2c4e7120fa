import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, allCases, type RunningApp, startApp } from '../helpers/app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const ROOT = join(__dirname, '..', '..');
const suricata = readFileSync(
  join(ROOT, 'test', 'fixtures', 'samples', 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'),
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

const env = { SOAR_INTAKE_TOKEN: 'crash-test-token', SOAR_ADMIN_PASSWORD: 'crash-test-password' };
const CYCLES = 3;

/** Alert `n`: a real Suricata alert with its own flow id and its own source address, so its own case. */
function alert(n: number): Record<string, unknown> {
  const base = suricata[n % suricata.length];
  return { ...base, flow_id: 2_000_000 + n, src_ip: `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}` };
}

describe('crashes under a steady stream of alerts', function () {
  this.timeout(180_000);
  let tmp: ReturnType<typeof tempDir>;
  let app: RunningApp | undefined;

  before(() => {
    tmp = tempDir('soar-crash-');
    const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as Record<string, unknown>[];
    // Durability, not the rate limit, is under test: four clients must not meet a 429.
    for (const n of flows) if (n.id === 'soar.alert-in') Object.assign(n, { rateLimit: 100_000, burst: 100_000 });
    writeFileSync(join(tmp.dir, 'flows.json'), JSON.stringify(flows));
  });
  after(async () => {
    await app?.stop();
    tmp.cleanup();
  });

  it(`puts every alert acknowledged with 202 into exactly one case, SIGKILLed at random moments ${CYCLES} times`, async () => {
    const acknowledged = new Set<string>();
    let sent = 0;
    // How many alerts the restarts replayed: none would mean no kill found work in progress, and the test proved nothing.
    let replayed = 0;
    const replaysIn = (output: string) =>
      [...output.matchAll(/replayed (\d+) journaled alert/g)].reduce((n, m) => n + Number(m[1]), 0);
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      const running = await startApp(tmp.dir, env);
      app = running;
      const killAfter = acknowledged.size + 40 + Math.floor(Math.random() * 80);
      let killed = false;
      const client = async () => {
        while (!killed) {
          const n = sent++;
          try {
            const res = await fetch(`${running.url}/api/alerts`, {
              method: 'POST',
              headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
              body: JSON.stringify(alert(n)),
            });
            const body = await res.text();
            if (res.status !== 202) throw new Error(`unexpected ${res.status}: ${body}`);
            for (const id of (JSON.parse(body) as { ids: string[] }).ids) acknowledged.add(id);
            if (acknowledged.size >= killAfter && !killed) {
              killed = true;
              running.proc.kill('SIGKILL');
            }
          } catch (err) {
            // Requests in flight when the process dies fail; only what was acknowledged counts.
            if (!killed) throw err;
          }
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      await new Promise<void>((resolve) =>
        running.proc.exitCode !== null || running.proc.signalCode !== null
          ? resolve()
          : running.proc.once('exit', () => resolve()),
      );
      replayed += replaysIn(running.output());
      app = undefined;
    }

    // A last start replays what was journaled and not yet processed; then every acknowledged alert is in a case.
    app = await startApp(tmp.dir, env);
    const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
    const url = app.url;
    const cases = await until(async () => {
      const all = await allCases(url, token);
      const inCases = new Set(all.flatMap((c) => c.alerts));
      return [...acknowledged].every((id) => inCases.has(id)) && all;
    }, 60_000).catch(async (err: Error) => {
      const inCases = new Set((await allCases(url, token)).flatMap((c) => c.alerts));
      const missing = [...acknowledged].filter((id) => !inCases.has(id));
      throw new Error(`${missing.length} of ${acknowledged.size} acknowledged alerts in no case: ${err.message}`);
    });

    // Each alert has its own source, so its own case: one case per alert, counted once even when it was replayed.
    const owners = new Map<string, number>();
    for (const c of cases) for (const id of c.alerts) owners.set(id, (owners.get(id) ?? 0) + 1);
    const twice = [...owners].filter(([, n]) => n > 1).map(([id]) => id);
    assert.deepEqual(twice, [], 'alerts in more than one case');
    const counted = cases.filter((c) => c.alerts.some((id) => acknowledged.has(id)));
    assert.deepEqual(
      counted.filter((c) => c.alertCount !== c.alerts.length).map((c) => [c.id, c.alertCount, c.alerts]),
      [],
      'an alert counted twice in its case',
    );
    assert.ok(acknowledged.size >= CYCLES * 40, `${acknowledged.size} alerts acknowledged`);
    replayed += replaysIn(app.output());
    assert.ok(replayed > 0, 'no restart replayed an alert: the kills never caught alerts in flight');
  });
});
