import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkDeviceType } from '../../lib/devices/registry';
import type { DeviceType } from '../../lib/devices/model';
import { adminToken, startApp, type RunningApp } from '../helpers/app';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';

const run = promisify(execFile);
const ROOT = join(__dirname, '..', '..');
const EXAMPLE = join(ROOT, 'examples', 'device-plugin');
const PACKAGE = 'node-red-contrib-soar-device-example';

describe('examples/device-plugin (a third-party device plug-in package)', function () {
  this.timeout(60_000);

  it('passes its own tests (node --test, no dependencies)', async () => {
    const pkg = JSON.parse(readFileSync(join(EXAMPLE, 'package.json'), 'utf8'));
    assert.equal(pkg.name, PACKAGE);
    assert.deepEqual(pkg.dependencies ?? {}, {});
    assert.deepEqual(pkg.devDependencies ?? {}, {});
    assert.deepEqual(pkg['node-red'].plugins, { 'soar-device-hosts-deny': 'hosts-deny.js' });
    assert.ok(pkg.keywords.includes('node-red') && pkg.keywords.includes('soar-device'));
    const { stdout } = await run(process.execPath, ['--test', join(EXAMPLE, 'test')], { cwd: EXAMPLE });
    assert.match(stdout, /\bpass [1-9]\d*\b/);
    assert.match(stdout, /\bfail 0\b/);
  });

  it("declares a device type that passes the registry's checks, with settings validated by its schema", () => {
    // The package as Node-RED loads it: plain CommonJS, no types.
    const { deviceType } = createRequire(__filename)(join(EXAMPLE, 'hosts-deny.js')) as { deviceType: DeviceType };
    const checked = checkDeviceType(deviceType);
    assert.equal(checked.type.id, 'hosts-deny');
    assert.equal(checked.validateSettings({ file: '/var/lib/soar/blocklist.txt', comment: 'edge' }), true);
    assert.equal(checked.validateSettings({}), false, 'file is required');
    assert.equal(checked.validateSettings({ file: 'relative.txt' }), false);
    assert.equal(checked.validateSettings({ file: '/x', comment: 'two\nlines' }), false);
    assert.equal(checked.validateSettings({ file: '/x', mode: 'nginx' }), false, 'no other settings');
    assert.equal(checked.validateCredentials({}), true);
    assert.equal(checked.validateCredentials({ token: 'x' }), false);
  });

  describe('installed into a Node-RED user dir', () => {
    let tmp: ReturnType<typeof tempDir>;
    let app: RunningApp | undefined;
    const env = { SOAR_ADMIN_PASSWORD: 'plugin-test-password', SOAR_INTAKE_TOKEN: 'plugin-test-token' };

    before(async () => {
      tmp = tempDir('soar-plugin-');
      // As a user would: `cd <data dir> && npm install /path/to/device-plugin` (a folder: npm links it).
      writeFileSync(join(tmp.dir, 'package.json'), JSON.stringify({ name: 'soar-data', private: true }) + '\n');
      await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', EXAMPLE], {
        cwd: tmp.dir,
      });
      const data = JSON.parse(readFileSync(join(tmp.dir, 'package.json'), 'utf8'));
      assert.match(data.dependencies[PACKAGE], /^file:/);
      assert.ok(lstatSync(join(tmp.dir, 'node_modules', PACKAGE)).isSymbolicLink());
      app = await startApp(tmp.dir, env);
    });
    after(async () => {
      await app?.stop();
      tmp?.cleanup();
    });

    it('lists hosts-deny next to the built-in device types', async () => {
      const running = app!;
      const token = await adminToken(running.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      const res = await fetch(`${running.url}/soar/device-types`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const { items } = (await res.json()) as { items: { id: string; capabilities: string[] }[] };
      const ids = items.map((t) => t.id);
      for (const id of ['lab', 'nftables', 'rest', 'hosts-deny']) assert.ok(ids.includes(id), `${id} in ${ids}`);
      assert.deepEqual(items.find((t) => t.id === 'hosts-deny')?.capabilities, ['block-ip', 'unblock-ip']);
      assert.doesNotMatch(running.output(), /device plug-in .*hosts-deny/, 'no warning about the plug-in');
      // It came from the package installed in the user dir (not from this repository's folder).
      const plugins = await fetch(`${running.url}/plugins`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
      const list = (await plugins.json()) as { id: string; module: string; plugins: { type: string }[] }[];
      const entry = list.find((p) => p.module === PACKAGE);
      assert.equal(entry?.id, `${PACKAGE}/soar-device-hosts-deny`);
      assert.deepEqual(
        entry?.plugins.map((p) => p.type),
        ['soar-device-type'],
      );
    });

    it('blocks an address by writing it to the blocklist file, from a deployed flow', async () => {
      const running = app!;
      const token = await adminToken(running.url, 'admin', env.SOAR_ADMIN_PASSWORD);
      const auth = { authorization: `Bearer ${token}` };
      const listDir = join(tmp.dir, 'lists');
      mkdirSync(listDir);
      const file = join(listDir, 'blocklist.txt');
      const flow = [
        { id: 'plugin.tab', type: 'tab', label: 'device plug-in' },
        {
          id: 'plugin.device',
          type: 'soar-device',
          name: 'edge blocklist',
          deviceType: 'hosts-deny',
          cidrs: '0.0.0.0/0',
          hosts: '',
          tags: '',
          settings: JSON.stringify({ file, comment: 'read by the edge firewall' }),
          actionsPerMinute: 10,
          approval: '',
          healthSeconds: 0,
        },
        {
          id: 'plugin.inject',
          type: 'inject',
          z: 'plugin.tab',
          name: 'once',
          props: [],
          repeat: '',
          once: true,
          onceDelay: 0.1,
          wires: [['plugin.respond']],
        },
        {
          id: 'plugin.respond',
          type: 'soar-respond',
          z: 'plugin.tab',
          name: 'block 203.0.113.50',
          action: 'block-ip',
          targetSource: 'fixed',
          targetKind: 'ip',
          target: '203.0.113.50',
          minVerdict: 'malicious',
          mode: 'most-specific',
          dryRun: false,
          duration: '',
          wires: [[], [], []],
        },
      ];
      const deployed = await fetch(`${running.url}/flows`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
        body: JSON.stringify(flow),
      });
      assert.equal(deployed.status, 204, await deployed.text());

      const text = await until(() => {
        const t = existsSync(file) && readFileSync(file, 'utf8');
        return t && t.includes('203.0.113.50') ? t : undefined;
      }).catch((err: Error) => {
        throw new Error(`${err.message}: the blocklist file was not written\n${running.output()}`);
      });
      assert.deepEqual(
        text.split('\n').filter((l) => l !== '' && !l.startsWith('#')),
        ['203.0.113.50'],
      );
      assert.match(text, /^# read by the edge firewall$/m);

      const health = await fetch(`${running.url}/soar/devices/plugin.device/health`, { method: 'POST', headers: auth });
      assert.equal(health.status, 200);
      const devices = (await (await fetch(`${running.url}/soar/devices`, { headers: auth })).json()) as {
        items: { id: string; type: string; health: { status: string; reason?: string } | null }[];
      };
      const device = devices.items.find((d) => d.id === 'plugin.device');
      assert.equal(device?.type, 'hosts-deny');
      assert.equal(device?.health?.status, 'ok');
      assert.match(device?.health?.reason ?? '', /1 entries blocked/);
    });
  });
});
