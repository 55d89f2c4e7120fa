import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminToken, allCases, type RunningApp, startApp } from '../helpers/app';
import { postgresUnavailableReason, startPostgres, type PostgresServer } from '../helpers/postgres';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const ROOT = join(__dirname, '..', '..');
const ALERTS = 2_000;
const KEYS = 20;
const env = { SOAR_INTAKE_TOKEN: 'multi-instance-token', SOAR_ADMIN_PASSWORD: 'multi-instance-password' };

/** One real Suricata alert: every alert below is it with its own flow id (so its own alert id). */
const suricata = readFileSync(
  join(ROOT, 'test', 'fixtures', 'samples', 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'),
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>)
  .find((e) => e.event_type === 'alert') as Record<string, unknown>;

/** Alert `n`: key `n % KEYS` (the network-ids case type groups by rule and source address). */
function alert(n: number): Record<string, unknown> {
  return { ...suricata, flow_id: 3_000_000 + n, src_ip: `10.20.30.${1 + (n % KEYS)}` };
}

describe('two Node-RED instances sharing one PostgreSQL store', function () {
  this.timeout(240_000);
  let pg: PostgresServer | undefined;
  let tmp: ReturnType<typeof tempDir>;
  const apps: RunningApp[] = [];

  before(async function () {
    const reason = postgresUnavailableReason();
    if (reason) {
      if (process.env.CI) throw new Error(reason);
      this.skip();
    }
    pg = await startPostgres();
    const url = await pg.createDatabase('soar_multi');
    tmp = tempDir('soar-multi-');
    const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as Record<string, unknown>[];
    // Sharing, not the rate limit, is under test.
    for (const n of flows) if (n.id === 'soar.alert-in') Object.assign(n, { rateLimit: 100_000, burst: 100_000 });
    for (const name of ['a', 'b']) {
      const dir = join(tmp.dir, name);
      mkdirSync(dir);
      writeFileSync(join(dir, 'flows.json'), JSON.stringify(flows));
    }
    // One after the other: both apply the store's migrations at start (the second finds them done).
    for (const name of ['a', 'b']) apps.push(await startApp(join(tmp.dir, name), { ...env, SOAR_STORE_URL: url }));
  });

  after(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await pg?.stop();
    tmp?.cleanup();
  });

  it(`groups ${ALERTS} alerts for ${KEYS} keys, posted alternately to both, into ${KEYS} cases with exact counts`, async () => {
    const acknowledged = new Set<string>();
    let next = 0;
    const client = async () => {
      for (let n = next++; n < ALERTS; n = next++) {
        const app = apps[n % 2];
        const res = await fetch(`${app.url}/api/alerts`, {
          method: 'POST',
          headers: { authorization: `Bearer ${env.SOAR_INTAKE_TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(alert(n)),
        });
        const body = await res.text();
        assert.equal(res.status, 202, body);
        for (const id of (JSON.parse(body) as { ids: string[] }).ids) acknowledged.add(id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, client));
    assert.equal(acknowledged.size, ALERTS);

    // Both instances show the same cases: one per key, each with every alert of its key exactly once.
    for (const app of apps) {
      const token = await adminToken(app.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      const cases = await until(async () => {
        const all = (await allCases(app.url, token)).filter((c) => c.type === 'network-ids');
        return all.reduce((n, c) => n + c.alerts.length, 0) >= ALERTS && all;
      }, 90_000).catch(async (err: Error) => {
        const all = await allCases(app.url, token);
        throw new Error(
          `${all.reduce((n, c) => n + c.alerts.length, 0)} alerts in ${all.length} cases: ${err.message}`,
        );
      });
      assert.equal(cases.length, KEYS, `${KEYS} cases`);
      for (const c of cases) {
        assert.equal(c.alertCount, ALERTS / KEYS, `case ${c.id}: alertCount`);
        assert.equal(new Set(c.alerts).size, ALERTS / KEYS, `case ${c.id}: distinct alerts`);
      }
      const grouped = new Set(cases.flatMap((c) => c.alerts));
      assert.deepEqual(
        [...acknowledged].filter((id) => !grouped.has(id)),
        [],
        'acknowledged alerts in no case',
      );
    }
  });
});
