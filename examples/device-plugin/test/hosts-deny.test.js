'use strict';
/* global AbortController */
/**
 * Tests of the hosts-deny device type, with nothing but Node.js: `npm test` (or `node --test`) in this folder.
 *
 * Licensed under the Apache License 2.0, see the repository LICENSE.
 */
const { describe, it, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const plugin = require('../hosts-deny.js');
const { deviceType, canonicalAddress } = plugin;

const CAPABILITIES = [
  'block-ip',
  'unblock-ip',
  'isolate-host',
  'release-host',
  'quarantine-file',
  'release-file',
  'sinkhole-domain',
  'unsinkhole-domain',
  'collect-host-context',
];

const ip = (value) => ({ kind: 'ip', value });

/** The addresses in a blocklist file (what a consumer reads: lines that are neither blank nor comments). */
const entries = (file) =>
  fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('hosts-deny plug-in registration', () => {
  it('registers one soar-device-type plug-in whose definition carries the device type', () => {
    const calls = [];
    const RED = { plugins: { registerPlugin: (id, definition) => calls.push({ id, definition }) } };
    plugin(RED);
    assert.equal(calls.length, 1);
    assert.equal(calls[0].id, 'soar-device-hosts-deny');
    assert.equal(calls[0].definition.type, 'soar-device-type');
    assert.equal(calls[0].definition.deviceType, deviceType);
  });

  it('declares what a device type must provide: id, label, known capabilities, schemas, a factory', () => {
    assert.match(deviceType.id, /^[a-z][a-z0-9-]{0,63}$/);
    assert.equal(deviceType.id, 'hosts-deny');
    assert.ok(typeof deviceType.label === 'string' && deviceType.label.trim() !== '');
    assert.deepEqual(deviceType.capabilities, ['block-ip', 'unblock-ip']);
    for (const c of deviceType.capabilities) assert.ok(CAPABILITIES.includes(c), c);
    assert.equal(deviceType.settingsSchema.type, 'object');
    assert.equal(deviceType.settingsSchema.additionalProperties, false);
    assert.deepEqual(deviceType.settingsSchema.required, ['file']);
    assert.deepEqual(Object.keys(deviceType.settingsSchema.properties), ['file', 'comment']);
    assert.deepEqual(deviceType.credentialsSchema, { type: 'object', additionalProperties: false, properties: {} });
    assert.equal(typeof deviceType.create, 'function');
    // The schemas are plain JSON: they survive the trip to the editor.
    assert.deepEqual(JSON.parse(JSON.stringify(deviceType.settingsSchema)), deviceType.settingsSchema);
  });

  it('refuses a relative file path when creating a device', () => {
    assert.throws(() => deviceType.create({ file: 'blocklist.txt' }, {}, context()), /absolute path/);
  });
});

describe('canonical addresses', () => {
  it('accepts IPv4, IPv6 and CIDRs and prints them canonically', () => {
    assert.equal(canonicalAddress(' 203.0.113.50 '), '203.0.113.50');
    assert.equal(canonicalAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(canonicalAddress('198.51.100.77/24'), '198.51.100.0/24');
    assert.equal(canonicalAddress('2001:db8::abcd/32'), '2001:db8::/32');
    assert.equal(canonicalAddress('::ffff:192.0.2.1'), '192.0.2.1');
  });

  it('rejects anything else', () => {
    for (const bad of [
      '',
      'example.com',
      '1.2.3',
      '01.2.3.4',
      '256.1.1.1',
      '1.2.3.4/33',
      '2001:db8::/129',
      'fe80::1%eth0',
      '1.2.3.4\n5.6.7.8',
      '1.2.3.4; rm -rf /',
      42,
    ]) {
      assert.throws(() => canonicalAddress(bad), TypeError, JSON.stringify(bad));
    }
  });
});

function context() {
  const logs = [];
  return { name: 'test blocklist', log: (level, message) => logs.push({ level, message }), logs };
}

describe('a hosts-deny device', () => {
  let dir;
  let file;
  let device;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hosts-deny-test-'));
    file = path.join(dir, 'blocklist.txt');
    device = deviceType.create({ file, comment: 'read by the edge firewall script' }, {}, context());
  });
  afterEach(() => {
    fs.chmodSync(dir, 0o700);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('blocks: writes the address into a new file under a comment header', async () => {
    const result = await device.execute('block-ip', ip('203.0.113.50'), {});
    assert.match(result.detail, /added 203\.0\.113\.50/);
    assert.equal(result.ref, '203.0.113.50');
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^# Blocklist kept by node-red-contrib-soar, device "test blocklist"/);
    assert.match(text, /^# read by the edge firewall script$/m);
    assert.deepEqual(entries(file), ['203.0.113.50']);
    assert.ok(text.endsWith('203.0.113.50\n'));
  });

  it('keeps one line per address, in canonical form, and unblocks', async () => {
    await device.execute('block-ip', ip('203.0.113.50'), {});
    await device.execute('block-ip', ip('2001:DB8::0:1'), {});
    await device.execute('block-ip', ip('198.51.100.9/24'), {});
    assert.deepEqual(entries(file), ['203.0.113.50', '2001:db8::1', '198.51.100.0/24']);
    const result = await device.execute('unblock-ip', ip('2001:db8::1'), {});
    assert.match(result.detail, /removed 2001:db8::1/);
    assert.deepEqual(entries(file), ['203.0.113.50', '198.51.100.0/24']);
  });

  it('is idempotent: blocking twice lists the address once, unblocking what is not listed changes nothing', async () => {
    await device.execute('block-ip', ip('203.0.113.50'), {});
    const before = fs.readFileSync(file, 'utf8');
    const again = await device.execute('block-ip', ip('203.0.113.50'), {});
    assert.match(again.detail, /already lists 203\.0\.113\.50/);
    assert.equal(fs.readFileSync(file, 'utf8'), before, 'the file is not rewritten');
    const absent = await device.execute('unblock-ip', ip('192.0.2.1'), {});
    assert.match(absent.detail, /does not list 192\.0\.2\.1/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  it('reverts: a block is undone by removing the address, an unblock by adding it back', async () => {
    const result = await device.execute('block-ip', ip('203.0.113.50'), {});
    await device.revert('block-ip', ip('203.0.113.50'), result, {});
    assert.deepEqual(entries(file), []);
    await device.revert('unblock-ip', ip('203.0.113.50'), { detail: '' }, {});
    assert.deepEqual(entries(file), ['203.0.113.50']);
  });

  it('keeps entries written by hand and matches them in any notation', async () => {
    fs.writeFileSync(file, '# my list\n192.0.2.7\n2001:0db8::0005\n\n', { mode: 0o640 });
    await device.execute('block-ip', ip('203.0.113.50'), {});
    assert.deepEqual(entries(file), ['192.0.2.7', '2001:0db8::0005', '203.0.113.50']);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');
    await device.execute('unblock-ip', ip('2001:db8::5'), {});
    assert.deepEqual(entries(file), ['192.0.2.7', '203.0.113.50']);
  });

  it('rewrites atomically: no temporary file is left behind, and concurrent changes are all kept', async () => {
    const addresses = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
    await Promise.all(addresses.map((a) => device.execute('block-ip', ip(a), {})));
    assert.deepEqual(entries(file).sort(), [...addresses].sort());
    assert.deepEqual(fs.readdirSync(dir), ['blocklist.txt']);
  });

  it('follows a symbolic link to the real file instead of replacing the link', async () => {
    const real = path.join(dir, 'real.txt');
    fs.writeFileSync(real, '');
    const link = path.join(dir, 'link.txt');
    fs.symlinkSync(real, link);
    const linked = deviceType.create({ file: link }, {}, context());
    await linked.execute('block-ip', ip('203.0.113.50'), {});
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.deepEqual(entries(real), ['203.0.113.50']);
  });

  it('rejects invalid targets without touching the file', async () => {
    await device.execute('block-ip', ip('203.0.113.50'), {});
    const before = fs.readFileSync(file, 'utf8');
    await assert.rejects(device.execute('block-ip', ip('not-an-address'), {}), /not an IPv4\/IPv6 address or CIDR/);
    await assert.rejects(device.execute('block-ip', ip('203.0.113.51\n0.0.0.0/0'), {}), /not an IPv4\/IPv6/);
    await assert.rejects(device.execute('block-ip', { kind: 'domain', value: 'example.com' }, {}), /only block IP/);
    await assert.rejects(device.execute('isolate-host', ip('203.0.113.50'), {}), /not supported/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  it('does nothing once the action is aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(device.execute('block-ip', ip('203.0.113.50'), { signal: controller.signal }), /aborted/);
    assert.equal(fs.existsSync(file), false);
  });

  it('reports ok with the number of blocked entries while the directory is writable', async () => {
    let health = await device.health();
    assert.equal(health.status, 'ok');
    assert.match(health.reason, /0 entries blocked/);
    assert.ok(!Number.isNaN(Date.parse(health.checkedAt)));
    await device.execute('block-ip', ip('203.0.113.50'), {});
    await device.execute('block-ip', ip('203.0.113.51'), {});
    health = await device.health();
    assert.equal(health.status, 'ok');
    assert.match(health.reason, /2 entries blocked/);
  });

  it('reports down when the directory is missing or not writable', async () => {
    const missing = deviceType.create({ file: path.join(dir, 'nope', 'list.txt') }, {}, context());
    const health = await missing.health();
    assert.equal(health.status, 'down');
    assert.match(health.reason, /cannot write to .*nope: ENOENT/);
    if (process.getuid && process.getuid() !== 0) {
      // root may write anywhere: only meaningful for an ordinary user
      fs.chmodSync(dir, 0o500);
      const readOnly = await device.health();
      assert.equal(readOnly.status, 'down');
      assert.match(readOnly.reason, /EACCES/);
    }
  });
});
