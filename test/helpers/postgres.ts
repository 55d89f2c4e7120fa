/**
 * A real PostgreSQL server for tests: a fresh cluster in a temporary directory, listening on 127.0.0.1 on a free
 * port, stopped and removed by `stop()`. Uses Debian's `postgresql` package (`.ci/run` installs it). PostgreSQL
 * refuses to run as root, so under root the cluster is created and run as the `postgres` user the package makes.
 *
 * One cluster serves a whole spec file; each test takes its own database (`createDatabase`) so tests stay apart.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';

export interface PostgresServer {
  /** `postgres://soar@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** A new, empty database; its URL. */
  createDatabase(name?: string): Promise<string>;
  /** Stops the server (fast shutdown); `start()` brings it back on the same port with the same data. */
  stopServer(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes the cluster. */
  stop(): Promise<void>;
}

/** The directory holding initdb and pg_ctl: the newest under /usr/lib/postgresql, else the PATH. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions.length > 0) return join(root, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  return which.status === 0 ? join(which.stdout.trim(), '..') : undefined;
}

/** Why a PostgreSQL server cannot be started here, or undefined when it can. */
export function postgresUnavailableReason(): string | undefined {
  const bin = binDir();
  if (!bin) return 'PostgreSQL is not installed (no initdb; `.ci/run` installs Debian’s postgresql)';
  if (process.getuid?.() === 0 && !postgresUser()) return 'running as root and there is no `postgres` user';
  return undefined;
}

function postgresUser(): { uid: number; gid: number } | undefined {
  const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (id.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function runAs(
  user: { uid: number; gid: number } | undefined,
  program: string,
  args: string[],
  timeoutMs = 60_000,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user ? { uid: user.uid, gid: user.gid } : {}),
      env: { ...process.env, LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${program} ${args.join(' ')} exited with ${code}:\n${output}`));
    });
  });
}

/** Initialises and starts a cluster; the caller must `stop()` it (in an `after` hook). */
export async function startPostgres(): Promise<PostgresServer> {
  const reason = postgresUnavailableReason();
  if (reason) throw new Error(reason);
  const bin = binDir() as string;
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  const root = mkdtempSync(join(tmpdir(), 'soar-pg-'));
  const data = join(root, 'data');
  const socketDir = join(root, 'run');
  if (user) chownSync(root, user.uid, user.gid);
  chmodSync(root, 0o700);
  const port = await freePort();
  const superuser = 'soar';

  // Durability settings off (fsync): a test cluster is thrown away; a crash test of the server itself would turn them on.
  await runAs(user, join(bin, 'initdb'), ['-D', data, '-U', superuser, '--auth=trust', '-E', 'UTF8', '--no-sync']);
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    [
      `listen_addresses = '127.0.0.1'`,
      `port = ${port}`,
      `unix_socket_directories = '${socketDir}'`,
      `fsync = off`,
      `synchronous_commit = off`,
      `full_page_writes = off`,
      `max_connections = 200`,
      `shared_buffers = 64MB`,
      '',
    ].join('\n'),
  );
  if (user) chownSync(join(data, 'postgresql.auto.conf'), user.uid, user.gid);
  await runAs(user, 'mkdir', ['-p', socketDir]);

  const pgctl = (args: string[]) => runAs(user, join(bin, 'pg_ctl'), ['-D', data, '-s', ...args]);
  const start = () => pgctl(['-w', '-t', '60', '-l', join(root, 'server.log'), 'start']);
  const stopServer = () => pgctl(['-w', '-t', '60', '-m', 'fast', 'stop']);
  await start();

  const url = `postgres://${superuser}@127.0.0.1:${port}/postgres`;
  let databases = 0;
  let stopped = false;
  return {
    url,
    port,
    async createDatabase(name = `t${process.pid}_${++databases}`) {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
      } finally {
        await client.end();
      }
      return `postgres://${superuser}@127.0.0.1:${port}/${name}`;
    },
    stopServer,
    start,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await pgctl(['-w', '-t', '30', '-m', 'immediate', 'stop']);
      } catch {
        // Already stopped (a test stopped the server): the directory goes anyway.
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/**
 * A store location of its own on the database at `databaseUrl`: a new schema (milliseconds, where a database takes
 * most of a second). The URL sets the connection's search_path, so every table a store makes, its migrations'
 * included, lands in that schema.
 */
export async function schemaUrl(databaseUrl: string, name: string): Promise<string> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${name.replace(/"/g, '')}"`);
  } finally {
    await client.end();
  }
  return `${databaseUrl}?options=${encodeURIComponent(`-c search_path=${name}`)}`;
}

/** The same store seen by another Node-RED instance: a URL of its own gives it a pool of its own. */
export const asInstance = (url: string, name: string): string =>
  `${url}${url.includes('?') ? '&' : '?'}application_name=${encodeURIComponent(name)}`;
