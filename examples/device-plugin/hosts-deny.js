'use strict';
/**
 * node-red-contrib-soar-device-example: a device plug-in for node-red-contrib-soar.
 *
 * Licensed under the Apache License 2.0, see the repository LICENSE.
 *
 * The `hosts-deny` device type keeps a plain-text blocklist file: one IP address or CIDR per line, under a comment
 * header. `block-ip` adds the target to the file, `unblock-ip` removes it. Every change rewrites the whole file
 * atomically (a temporary file in the same directory, flushed to disk, then renamed over the old one), so whatever
 * reads the file — a fail2ban-style jail, a firewall script that loads it into an ipset, an nginx `deny` include
 * generated from it, a cron job — never sees half a file.
 *
 * No dependencies: addresses are checked with `net.isIP` and re-printed in canonical form with the WHATWG URL
 * parser, so nothing but a well-formed address or network ever reaches the file.
 */
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const net = require('node:net');
const path = require('node:path');
const crypto = require('node:crypto');
const { URL } = require('node:url');

const PLUGIN_ID = 'soar-device-hosts-deny';
const TYPE_ID = 'hosts-deny';

/** Changes to one file, one after the other (two devices may share a file, or one device may get two actions). */
const queues = new Map();
function serialised(file, task) {
  const previous = queues.get(file) || Promise.resolve();
  const next = previous.then(task, task);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(file, settled);
  settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}

/** The eight 16-bit groups of a canonical IPv6 address (as the URL parser prints it: no dotted quad). */
function ipv6Groups(canonical) {
  const [head, tail] = canonical.includes('::') ? canonical.split('::') : [canonical, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16));
}

/** An IPv6 address in RFC 5952 form (lower case, longest run of zero groups as `::`). */
function canonicalIpv6(address) {
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/**
 * The canonical form of an IPv4/IPv6 address or CIDR, or throws a TypeError that says what is wrong.
 * A CIDR's host bits are cleared (`10.1.2.3/8` → `10.0.0.0/8`); an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`)
 * becomes the IPv4 address it maps.
 */
function canonicalAddress(input) {
  if (typeof input !== 'string') throw new TypeError('the target must be an IP address or CIDR (a string)');
  const text = input.trim();
  const match = /^([0-9A-Fa-f:.]{2,45})(?:\/(\d{1,3}))?$/.exec(text);
  const version = match ? net.isIP(match[1]) : 0;
  if (!match || version === 0) throw new TypeError(`${JSON.stringify(input)} is not an IPv4/IPv6 address or CIDR`);
  const bits = version === 4 ? 32 : 128;
  const prefix = match[2] === undefined ? undefined : Number(match[2]);
  if (prefix !== undefined && (prefix > bits || (match[2].length > 1 && match[2][0] === '0'))) {
    throw new TypeError(`${JSON.stringify(input)}: the prefix length must be a whole number from 0 to ${bits}`);
  }
  if (version === 4) {
    const octets = match[1].split('.').map(Number);
    if (prefix === undefined) return octets.join('.');
    const value = octets.reduce((n, o) => n * 256 + o, 0);
    const size = 2 ** (32 - prefix);
    const network = value - (value % size);
    return `${[24, 16, 8, 0].map((s) => Math.floor(network / 2 ** s) % 256).join('.')}/${prefix}`;
  }
  let groups = ipv6Groups(canonicalIpv6(match[1]));
  if (prefix === undefined) {
    const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
    return mapped
      ? `${groups[6] >> 8}.${groups[6] & 255}.${groups[7] >> 8}.${groups[7] & 255}`
      : canonicalIpv6(match[1]);
  }
  groups = groups.map((g, i) => {
    const keep = Math.min(16, Math.max(0, prefix - i * 16));
    return keep === 0 ? 0 : g & ((0xffff << (16 - keep)) & 0xffff);
  });
  return `${canonicalIpv6(groups.map((g) => g.toString(16)).join(':'))}/${prefix}`;
}

/** An entry of the file as found there, compared in canonical form when it is an address. */
function entryKey(line) {
  try {
    return canonicalAddress(line);
  } catch {
    return line;
  }
}

/** The entries of a blocklist file (comments and blank lines dropped, hand-written entries kept as written). */
async function readEntries(file) {
  let text;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    if (err.code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** Replaces the file with `entries` under a comment header: temp file in the same directory, fsync, rename. */
async function writeEntries(file, entries, header) {
  const dir = path.dirname(file);
  let mode = 0o644;
  try {
    mode = (await fsp.stat(file)).mode & 0o7777;
  } catch {
    // a new file
  }
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(6).toString('hex')}.tmp`);
  const body = `${header.map((h) => `# ${h}`.trimEnd()).join('\n')}\n${entries.map((e) => `${e}\n`).join('')}`;
  const handle = await fsp.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(body, 'utf8');
    await handle.chmod(mode); // the umask may have narrowed it
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.unlink(tmp).catch(() => undefined);
    throw err;
  }
  // Make the rename itself durable (best effort: not every file system lets a directory be opened and synced).
  try {
    const d = await fsp.open(dir, 'r');
    await d.sync().finally(() => d.close());
  } catch {
    // ignored
  }
}

/** The device type, as node-red-contrib-soar's `soar-device` config node finds it (see README.md). */
const deviceType = {
  id: TYPE_ID,
  label: 'hosts.deny-style blocklist file (one address per line)',
  capabilities: ['block-ip', 'unblock-ip'],
  settingsSchema: {
    type: 'object',
    additionalProperties: false,
    required: ['file'],
    properties: {
      file: {
        type: 'string',
        pattern: '^/',
        minLength: 2,
        maxLength: 4096,
        title: 'Blocklist file',
        description: 'Absolute path of the file the device owns and rewrites (created on the first block).',
      },
      comment: {
        type: 'string',
        pattern: '^[^\\r\\n]*$',
        maxLength: 200,
        title: 'Header comment',
        description: 'One line written into the comment header of the file (who reads it, why).',
      },
    },
  },
  credentialsSchema: { type: 'object', additionalProperties: false, properties: {} },

  create(settings, _credentials, context) {
    if (typeof settings.file !== 'string' || !path.isAbsolute(settings.file)) {
      throw new Error('settings.file must be an absolute path');
    }
    const configured = path.normalize(settings.file);
    const name = context.name;
    const header = [
      `Blocklist kept by node-red-contrib-soar, device "${name}" (${TYPE_ID}).`,
      'One IPv4/IPv6 address or CIDR per line. The whole file is rewritten on every change.',
      ...(settings.comment ? [settings.comment] : []),
    ];

    /** The file itself: a symbolic link is followed, so the rename replaces its target, not the link. */
    const realFile = async () => {
      try {
        return await fsp.realpath(configured);
      } catch {
        return configured;
      }
    };

    const change = (add, target, options) => {
      if (!target || target.kind !== 'ip') {
        return Promise.reject(
          new Error(`${TYPE_ID} ${name}: can only block IP addresses, not ${target && target.kind}`),
        );
      }
      let value;
      try {
        value = canonicalAddress(target.value);
      } catch (err) {
        return Promise.reject(new Error(`${TYPE_ID} ${name}: ${err.message}`));
      }
      const signal = options && options.signal;
      return realFile().then((file) =>
        serialised(file, async () => {
          if (signal && signal.aborted) throw new Error(`${TYPE_ID} ${name}: aborted`);
          const entries = await readEntries(file);
          const present = entries.some((e) => entryKey(e) === value);
          if (add === present) {
            const already = add ? 'already lists' : 'does not list';
            return { detail: `${file} ${already} ${value} (${entries.length} entries; unchanged)`, ref: value };
          }
          const next = add ? [...entries, value] : entries.filter((e) => entryKey(e) !== value);
          await writeEntries(file, next, [...header, `Updated ${new Date().toISOString()}.`]);
          const verb = add ? 'added' : 'removed';
          context.log('info', `${verb} ${value} ${add ? 'to' : 'from'} ${file}`);
          return { detail: `${verb} ${value} ${add ? 'to' : 'from'} ${file} (${next.length} entries)`, ref: value };
        }),
      );
    };

    const unsupported = (action) =>
      Promise.reject(
        new Error(`${TYPE_ID} ${name}: ${JSON.stringify(action)} is not supported (block-ip, unblock-ip)`),
      );

    return {
      async health() {
        const checkedAt = new Date().toISOString();
        const file = await realFile();
        const dir = path.dirname(file);
        try {
          const stat = await fsp.stat(dir);
          if (!stat.isDirectory()) return { status: 'down', checkedAt, reason: `${dir} is not a directory` };
          await fsp.access(dir, fs.constants.W_OK | fs.constants.X_OK);
        } catch (err) {
          return { status: 'down', checkedAt, reason: `cannot write to ${dir}: ${err.code || err.message}` };
        }
        try {
          const stat = await fsp.stat(file);
          if (!stat.isFile()) return { status: 'down', checkedAt, reason: `${file} is not a regular file` };
        } catch (err) {
          if (err.code === 'ENOENT') {
            return { status: 'ok', checkedAt, reason: `${file} does not exist yet: 0 entries blocked` };
          }
          return { status: 'down', checkedAt, reason: `cannot read ${file}: ${err.code || err.message}` };
        }
        try {
          const entries = await readEntries(file);
          return { status: 'ok', checkedAt, reason: `${file}: ${entries.length} entries blocked` };
        } catch (err) {
          return { status: 'down', checkedAt, reason: `cannot read ${file}: ${err.code || err.message}` };
        }
      },
      execute(action, target, options) {
        if (action === 'block-ip') return change(true, target, options);
        if (action === 'unblock-ip') return change(false, target, options);
        return unsupported(action);
      },
      revert(action, target, _result, options) {
        if (action === 'block-ip') return change(false, target, options);
        if (action === 'unblock-ip') return change(true, target, options);
        return unsupported(action);
      },
    };
  },
};

/** Node-RED calls this when it loads the plug-in (before any node, so devices find the type). */
module.exports = function (RED) {
  RED.plugins.registerPlugin(PLUGIN_ID, { type: 'soar-device-type', deviceType });
};
module.exports.deviceType = deviceType;
module.exports.canonicalAddress = canonicalAddress;
