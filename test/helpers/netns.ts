/**
 * Network namespace helpers for tests that need real traffic (root only): create and destroy namespaces, join them
 * with veth pairs, run commands inside them, and probe TCP reachability with tiny Node programs started inside them
 * (no ping or nc needed).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { run, type RunResult } from '../../lib/devices/exec';

/** Why namespace tests cannot run here, or undefined when they can. */
export function netnsUnavailableReason(programs: string[] = ['ip', 'nft']): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'not running as root';
  for (const program of programs) {
    const probe = spawnSync(program, program === 'ip' ? ['-V'] : ['--version'], { stdio: 'ignore', timeout: 5000 });
    if (probe.error) return `${program} is not installed (${probe.error.message})`;
  }
  return undefined;
}

/** A short random tag for names (namespaces, veth interfaces). */
export function randomTag(bytes = 3): string {
  return randomBytes(bytes).toString('hex');
}

/** Runs `ip …` (argument array, no shell). */
export function ip(args: string[], timeoutMs = 5000): Promise<RunResult> {
  return run('ip', args, { timeoutMs });
}

/** Runs a program inside namespace `ns`. */
export function nsExec(ns: string, argv: string[], options: { input?: string; timeoutMs?: number } = {}) {
  return run('ip', ['netns', 'exec', ns, ...argv], { input: options.input, timeoutMs: options.timeoutMs ?? 5000 });
}

export async function createNetns(name: string): Promise<void> {
  await ip(['netns', 'add', name]);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a namespace (its veth ends go with it); never throws. */
export async function destroyNetns(name: string): Promise<void> {
  await ip(['netns', 'del', name]).catch(() => undefined);
}

export interface VethEnd {
  ns: string;
  dev: string;
  /** Addresses with prefix (`10.99.1.1/24`, `fd00:99:1::1/64`). IPv6 ones are added with `nodad`. */
  addresses: string[];
}

/** Joins two namespaces with a veth pair, addresses both ends and brings them up. */
export async function connectVeth(a: VethEnd, b: VethEnd): Promise<void> {
  await ip(['-n', a.ns, 'link', 'add', a.dev, 'type', 'veth', 'peer', 'name', b.dev, 'netns', b.ns]);
  for (const end of [a, b]) {
    for (const address of end.addresses) {
      const v6 = address.includes(':');
      await ip(['-n', end.ns, ...(v6 ? ['-6'] : []), 'addr', 'add', address, 'dev', end.dev, ...(v6 ? ['nodad'] : [])]);
    }
    await ip(['-n', end.ns, 'link', 'set', end.dev, 'up']);
  }
}

const SERVER = `
const net = require('net');
const server = net.createServer((s) => { s.on('error', () => {}); s.end('ok'); });
server.listen({ host: '::', port: Number(process.argv[1]), ipv6Only: false }, () => process.stdout.write('ready\\n'));
`;

const PROBE = `
const net = require('net');
const [host, port, localAddress, timeout] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port), localAddress: localAddress || undefined });
const fail = () => { s.destroy(); process.exit(1); };
s.setTimeout(Number(timeout), fail);
s.on('error', fail);
let data = '';
s.on('data', (d) => { data += d; });
s.on('end', () => process.exit(data === 'ok' ? 0 : 1));
`;

const PROBER = `
const net = require('net');
const rl = require('readline').createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const { id, host, port, localAddress, timeout } = JSON.parse(line);
  const s = net.connect({ host, port, localAddress: localAddress || undefined });
  let done = false;
  const answer = (ok) => {
    if (done) return;
    done = true;
    s.destroy();
    process.stdout.write(JSON.stringify({ id, ok }) + '\\n');
  };
  let data = '';
  s.setTimeout(timeout, () => answer(false));
  s.on('error', () => answer(false));
  s.on('data', (d) => { data += d; });
  s.on('end', () => answer(data === 'ok'));
});
process.stdout.write('ready\\n');
`;

/** A long-lived process inside a namespace that makes TCP probes on request (no process start per probe). */
export interface Prober {
  /** Whether a connection to `host`:`port` gets the server's `ok` within `timeoutMs` (default 400). */
  reachable(host: string, port: number, options?: { localAddress?: string; timeoutMs?: number }): Promise<boolean>;
  process: ChildProcess;
}

export async function startProber(ns: string, timeoutMs = 5000): Promise<Prober> {
  const child = await startReady(ns, PROBER, [], timeoutMs, ['pipe', 'pipe', 'pipe']);
  const waiting = new Map<number, (ok: boolean) => void>();
  let next = 0;
  let buffered = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('{')) continue;
      const { id, ok } = JSON.parse(line) as { id: number; ok: boolean };
      waiting.get(id)?.(ok);
      waiting.delete(id);
    }
  });
  child.on('exit', () => {
    for (const resolve of waiting.values()) resolve(false);
    waiting.clear();
  });
  return {
    process: child,
    reachable(host, port, options = {}) {
      const probeTimeout = options.timeoutMs ?? 400;
      const id = next++;
      return new Promise<boolean>((resolve) => {
        // Bounded even if the prober misbehaves.
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(false);
        }, probeTimeout + 3000);
        waiting.set(id, (ok) => {
          clearTimeout(timer);
          resolve(ok);
        });
        child.stdin?.write(
          JSON.stringify({ id, host, port, localAddress: options.localAddress, timeout: probeTimeout }) + '\n',
        );
      });
    },
  };
}

/** Starts a TCP server inside `ns` (all addresses, v4 and v6) that answers `ok` and closes; resolves once listening. */
export function startTcpServer(ns: string, port: number, timeoutMs = 5000): Promise<ChildProcess> {
  return startReady(ns, SERVER, [String(port)], timeoutMs, ['ignore', 'pipe', 'pipe']);
}

/** Starts `node -e script …args` inside `ns`; resolves once it prints `ready`. */
function startReady(
  ns: string,
  script: string,
  args: string[],
  timeoutMs: number,
  stdio: ['ignore' | 'pipe', 'pipe', 'pipe'],
): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], { stdio });
  return new Promise((resolve, reject) => {
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`process in ${ns} not ready within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const onData = (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`process in ${ns} exited (${code}): ${stderr}`));
    });
  });
}

/** Stops a process started by startTcpServer; resolves when it is gone (bounded). */
export function stopProcess(child: ChildProcess | undefined, timeoutMs = 2000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGKILL');
  });
}

/**
 * Whether a TCP connection from namespace `ns` to `host`:`port` (optionally from `localAddress`) gets the server's
 * `ok` within `timeoutMs`. Dropped packets show as a timeout.
 */
export async function tcpReachable(
  ns: string,
  host: string,
  port: number,
  options: { localAddress?: string; timeoutMs?: number } = {},
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? 400;
  try {
    await nsExec(
      ns,
      [process.execPath, '-e', PROBE, host, String(port), options.localAddress ?? '', String(timeoutMs)],
      {
        timeoutMs: timeoutMs + 5000,
      },
    );
    return true;
  } catch {
    return false;
  }
}
