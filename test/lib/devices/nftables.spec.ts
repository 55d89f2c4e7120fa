import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import Ajv from 'ajv';
import type { DeviceAdapter, DeviceContext } from '../../../lib/devices/model';
import {
  buildEnsureScript,
  nftablesDeviceType,
  parseNftElement,
  resolveNftSettings,
  type NftSettings,
} from '../../../lib/devices/types/nftables';
import {
  connectVeth,
  createNetns,
  destroyNetns,
  netnsUnavailableReason,
  nsExec,
  randomTag,
  startProber,
  startTcpServer,
  stopProcess,
  type Prober,
} from '../../helpers/netns';

const context: DeviceContext = { name: 'test-fw', log: () => undefined };

describe('nftables device type (settings and targets, no root needed)', function () {
  it('declares its id, label, capabilities and ajv-compatible schemas', function () {
    assert.equal(nftablesDeviceType.id, 'nftables');
    assert.equal(nftablesDeviceType.label, 'nftables firewall');
    assert.deepEqual(nftablesDeviceType.capabilities, ['block-ip', 'unblock-ip', 'isolate-host', 'release-host']);
    const ajv = new Ajv({ allErrors: true, strict: true, useDefaults: true });
    const validate = ajv.compile(nftablesDeviceType.settingsSchema);
    const settings: Record<string, unknown> = { namespace: 'victim-1', isolationAllow: ['10.0.0.1'] };
    assert.equal(validate(settings), true, JSON.stringify(validate.errors));
    assert.equal(settings.table, 'soar');
    assert.equal(settings.nftPath, 'nft');
    assert.deepEqual(settings.hooks, ['input', 'forward', 'output']);
    for (const bad of [
      { namespace: 'a b' },
      { namespace: '../x' },
      { namespace: 'x'.repeat(65) },
      { table: 'soar; flush ruleset' },
      { hooks: ['prerouting'] },
      { unknown: 1 },
    ]) {
      assert.equal(validate(bad), false, JSON.stringify(bad));
    }
    assert.equal(ajv.compile(nftablesDeviceType.credentialsSchema)({}), true);
  });

  it('refuses bad settings when the device is created', function () {
    assert.throws(() => nftablesDeviceType.create({ namespace: 'a;b' }, {}, context), /namespace/);
    assert.throws(() => nftablesDeviceType.create({ table: '1x' }, {}, context), /table/);
    assert.throws(() => nftablesDeviceType.create({ isolationAllow: ['example.com'] }, {}, context), /isolationAllow/);
    assert.throws(() => nftablesDeviceType.create({ hooks: [] }, {}, context), /hooks/);
  });

  it('canonicalises addresses and CIDRs and rejects anything else', function () {
    assert.equal(parseNftElement('10.1.2.3').text, '10.1.2.3');
    assert.equal(parseNftElement(' 10.1.2.3/24 ').text, '10.1.2.0/24');
    assert.equal(parseNftElement('10.1.2.3/32').text, '10.1.2.3');
    assert.equal(parseNftElement('2001:DB8:0:0::1').text, '2001:db8::1');
    assert.equal(parseNftElement('2001:db8::1/48').text, '2001:db8::/48');
    assert.equal(parseNftElement('::ffff:192.0.2.7').text, '192.0.2.7');
    for (const bad of [
      '',
      'example.com',
      '10.0.0.1; flush ruleset',
      '10.0.0.1 }',
      '127.1',
      '0x7f.0.0.1',
      '10.0.0.256',
      '1.2.3.4/33',
      '1.2.3.4/',
      '0.0.0.0/0',
      '::/0',
      'fe80::1%eth0',
      '1:2:3',
    ]) {
      assert.throws(() => parseNftElement(bad), /address or CIDR|prefix length|every address/, bad);
    }
  });

  it('builds a ruleset that only ever names its own table', function () {
    const script = buildEnsureScript(
      resolveNftSettings({ table: 'mine', isolationAllow: ['192.0.2.1', '2001:db8::1'] }),
    );
    for (const line of script.trim().split('\n')) assert.match(line, /^(add|delete|flush) \w+ inet mine( |$)/, line);
    assert.match(script, /add element inet mine allow4 \{ 192\.0\.2\.1 \}/);
    assert.match(script, /add element inet mine allow6 \{ 2001:db8::1 \}/);
  });
});

describe('nftables device in a network namespace (real traffic)', function () {
  this.timeout(20_000);
  const tag = randomTag();
  const r = 1 + (parseInt(tag.slice(0, 2), 16) % 250);
  const attackerNs = `soar-t-${tag}-att`;
  const victimNs = `soar-t-${tag}-vic`;
  const attacker = `10.99.${r}.1`;
  const victim = `10.99.${r}.2`;
  const soarHost = `10.99.${r}.3`; // allowlisted for isolated hosts, on the attacker side
  const attacker6 = `fd00:99:${r.toString(16)}::1`;
  const victim6 = `fd00:99:${r.toString(16)}::2`;
  const soarHost6 = `fd00:99:${r.toString(16)}::3`;
  const port = 18000 + r;
  const servers: ChildProcess[] = [];
  const probers: { attacker?: Prober; victim?: Prober } = {};
  const created: string[] = [];
  let device: DeviceAdapter;
  const settings: NftSettings = { namespace: victimNs, isolationAllow: [soarHost, soarHost6] };

  /** attacker namespace → victim server */
  const inbound = (host = victim, from?: string) =>
    probers.attacker!.reachable(host, port, { localAddress: from ?? (host.includes(':') ? attacker6 : attacker) });
  /** victim namespace → attacker-side server */
  const outbound = (host: string) => probers.victim!.reachable(host, port);
  const listSoar = async () => (await nsExec(victimNs, ['nft', 'list', 'table', 'inet', 'soar'])).stdout;

  before(async function () {
    const reason = netnsUnavailableReason();
    if (reason) {
      console.log(`      skipping the nftables namespace tests: ${reason}`);
      this.skip();
    }
    for (const ns of [attackerNs, victimNs]) {
      created.push(ns);
      await createNetns(ns);
    }
    await connectVeth(
      {
        ns: attackerNs,
        dev: `sa${tag}`,
        addresses: [`${attacker}/24`, `${soarHost}/24`, `${attacker6}/64`, `${soarHost6}/64`],
      },
      { ns: victimNs, dev: `sv${tag}`, addresses: [`${victim}/24`, `${victim6}/64`] },
    );
    servers.push(await startTcpServer(victimNs, port), await startTcpServer(attackerNs, port));
    probers.attacker = await startProber(attackerNs);
    servers.push(probers.attacker.process);
    probers.victim = await startProber(victimNs);
    servers.push(probers.victim.process);
    // A table that is not the device's: it must survive everything the device does.
    await nsExec(victimNs, ['nft', '-f', '-'], {
      input: 'add table inet other\nadd chain inet other keep { type filter hook input priority 10; policy accept; }\n',
    });
    // Bounded wait for the link (IPv6 neighbour discovery, routes) before the tests rely on it.
    const deadline = Date.now() + 4000;
    while (!((await inbound()) && (await inbound(victim6))) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    device = nftablesDeviceType.create(settings, {}, context);
  });

  after(async function () {
    await Promise.all(servers.map((s) => stopProcess(s)));
    await Promise.all(created.map((ns) => destroyNetns(ns)));
  });

  it('reaches the victim over IPv4 and IPv6 before anything is blocked', async function () {
    assert.equal(await inbound(), true, 'attacker → victim (IPv4)');
    assert.equal(await inbound(victim6), true, 'attacker → victim (IPv6)');
  });

  it('health creates its table and reports ok with counts', async function () {
    const health = await device.health();
    assert.equal(health.status, 'ok', health.reason);
    assert.match(health.reason ?? '', /0 blocked .*0 isolated/);
    assert.match(await listSoar(), /set blocked4[\s\S]*flags interval,timeout/);
  });

  it('block-ip drops the attacker (IPv4) and unblock-ip lets it through again', async function () {
    const result = await device.execute('block-ip', { kind: 'ip', value: attacker }, { reason: 'case 1: brute force' });
    assert.match(result.detail, new RegExp(`blocked ${attacker.replace(/\./g, '\\.')}`));
    const seen = await Promise.all([inbound(), inbound(victim, soarHost), inbound(victim6)]);
    assert.deepEqual(seen, [false, true, true], 'blocked attacker, another address, attacker over IPv6');
    const undone = await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {});
    assert.match(undone.detail, /unblocked/);
    assert.equal(await inbound(), true, 'unblocked attacker cannot reach the victim');
  });

  it('block-ip and unblock-ip are idempotent', async function () {
    await device.execute('block-ip', { kind: 'ip', value: attacker }, {});
    await device.execute('block-ip', { kind: 'ip', value: attacker }, {});
    const health = await device.health();
    assert.match(health.reason ?? '', /1 blocked \(1 IPv4, 0 IPv6\)/);
    assert.match((await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {})).detail, /unblocked/);
    assert.match((await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {})).detail, /was not blocked/);
    assert.equal(await inbound(), true);
  });

  it('a block with durationSeconds is expired by the kernel', async function () {
    const result = await device.execute('block-ip', { kind: 'ip', value: attacker }, { durationSeconds: 2 });
    assert.match(result.detail, /for 2 s/);
    const started = Date.now();
    assert.match(await listSoar(), /timeout 2s/);
    assert.equal(await inbound(), false, 'not blocked at first');
    let reachable = false;
    while (!reachable && Date.now() - started < 6000) {
      reachable = await inbound();
      if (!reachable) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(reachable, true, 'still blocked 6 s after a 2 s block');
    assert.ok(Date.now() - started >= 1500, `expired after ${Date.now() - started} ms only`);
    assert.match((await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {})).detail, /was not blocked/);
  });

  it('blocks IPv6 addresses, and revert undoes the block', async function () {
    const result = await device.execute('block-ip', { kind: 'ip', value: attacker6.toUpperCase() }, {});
    assert.equal(result.ref, `blocked6 ${attacker6}`);
    const seen = await Promise.all([inbound(victim6), inbound(victim6, soarHost6), inbound()]);
    assert.deepEqual(seen, [false, true, true], 'blocked IPv6 attacker, another IPv6 address, attacker over IPv4');
    const undone = await device.revert('block-ip', { kind: 'ip', value: attacker6 }, result, {});
    assert.match(undone.detail, /unblocked/);
    assert.equal(await inbound(victim6), true);
  });

  it('blocks CIDRs (host bits cleared) and reports an address inside one as already blocked', async function () {
    const result = await device.execute('block-ip', { kind: 'ip', value: `${attacker}/31` }, {});
    assert.equal(result.ref, `blocked4 10.99.${r}.0/31`);
    assert.equal(await inbound(), false);
    const inside = await device.execute('block-ip', { kind: 'ip', value: attacker }, {});
    assert.match(inside.detail, /already blocked within/);
    const notAlone = await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {});
    assert.match(notAlone.detail, /was not blocked \(it overlaps blocked .*\/31, which stays\)/);
    await device.execute('unblock-ip', { kind: 'ip', value: `10.99.${r}.0/31` }, {});
    assert.equal(await inbound(), true);
  });

  it('isolate-host cuts the host off except for the allowlist, release-host restores it', async function () {
    const result = await device.execute('isolate-host', { kind: 'ip', value: victim }, {});
    assert.match(result.detail, /isolated/);
    const [fromAttacker, fromSoar, toAttacker, toSoar] = await Promise.all([
      inbound(victim),
      inbound(victim, soarHost),
      outbound(attacker),
      outbound(soarHost),
    ]);
    assert.deepEqual(
      { fromAttacker, fromSoar, toAttacker, toSoar },
      { fromAttacker: false, fromSoar: true, toAttacker: false, toSoar: true },
    );
    assert.match((await device.health()).reason ?? '', /1 isolated \(1 IPv4, 0 IPv6\)/);
    assert.match((await device.execute('release-host', { kind: 'ip', value: victim }, {})).detail, /released/);
    assert.match((await device.execute('release-host', { kind: 'ip', value: victim }, {})).detail, /was not isolated/);
    assert.equal(await inbound(victim), true);
    assert.equal(await outbound(attacker), true);
  });

  it('isolates IPv6 hosts too', async function () {
    await device.execute('isolate-host', { kind: 'host', value: victim6 }, {});
    const seen = await Promise.all([inbound(victim6), inbound(victim6, soarHost6), outbound(attacker6)]);
    assert.deepEqual(seen, [false, true, false], 'from attacker, from SOAR host, to attacker');
    await device.execute('release-host', { kind: 'ip', value: victim6 }, {});
    assert.equal(await inbound(victim6), true);
  });

  it('recreates its table when it was deleted behind its back, and never touches other tables', async function () {
    await nsExec(victimNs, ['nft', 'delete', 'table', 'inet', 'soar']);
    await device.execute('block-ip', { kind: 'ip', value: attacker }, {});
    assert.equal(await inbound(), false);
    await device.execute('unblock-ip', { kind: 'ip', value: attacker }, {});
    const tables = (await nsExec(victimNs, ['nft', 'list', 'tables'])).stdout;
    assert.match(tables, /table inet other/);
    assert.match((await nsExec(victimNs, ['nft', 'list', 'table', 'inet', 'other'])).stdout, /chain keep/);
  });

  it('rejects invalid targets and durations with a clear error, before running nft', async function () {
    const before = await listSoar();
    const cases: [Parameters<DeviceAdapter['execute']>, RegExp][] = [
      [['block-ip', { kind: 'ip', value: 'not-an-ip' }, {}], /not an IPv4\/IPv6 address/],
      [['block-ip', { kind: 'ip', value: `${attacker} } ; flush ruleset` }, {}], /not an IPv4\/IPv6 address/],
      [['block-ip', { kind: 'ip', value: '0.0.0.0/0' }, {}], /every address/],
      [['block-ip', { kind: 'domain', value: 'evil.example' }, {}], /IP addresses, not on a domain/],
      [['isolate-host', { kind: 'host', value: 'web-1.corp' }, {}], /resolve the host name/],
      [['block-ip', { kind: 'ip', value: attacker }, { durationSeconds: -1 }], /positive number/],
      [['block-ip', { kind: 'ip', value: attacker }, { durationSeconds: 10 * 365 * 86400 }], /365 days/],
      [['quarantine-file', { kind: 'file', value: 'x' }, {}], /cannot quarantine-file/],
    ];
    for (const [args, message] of cases) {
      await assert.rejects(device.execute(...args), message, JSON.stringify(args));
    }
    assert.equal(await listSoar(), before);
  });

  it('health is down, with the reason, for a missing namespace or a missing nft', async function () {
    const noNs = nftablesDeviceType.create({ namespace: `soar-t-${tag}-none` }, {}, context);
    const h1 = await noNs.health();
    assert.equal(h1.status, 'down');
    assert.match(h1.reason ?? '', /Cannot open network namespace/);
    const noNft = nftablesDeviceType.create({ namespace: victimNs, nftPath: '/nonexistent/nft' }, {}, context);
    const h2 = await noNft.health();
    assert.equal(h2.status, 'down');
    assert.match(h2.reason ?? '', /nonexistent\/nft/);
    await assert.rejects(
      noNs.execute('block-ip', { kind: 'ip', value: attacker }, {}),
      /Cannot open network namespace/,
    );
  });
});
