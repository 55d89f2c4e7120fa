import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..');
const NODE_FLAGS = ['--max-semi-space-size=64'];

export interface BenchServer {
  url: string;
  proc: ChildProcess;
  stop: () => Promise<void>;
}

/**
 * Runs Node-RED in a child process with `flow`, this package loaded from its folder, no admin auth (a benchmark
 * on 127.0.0.1 only) and quiet logging, so that the load generator and the server each have a core.
 */
export async function startNodeRed(
  dir: string,
  flow: object[],
  env: Record<string, string> = {},
): Promise<BenchServer> {
  writeFileSync(join(dir, 'flows.json'), JSON.stringify(flow));
  const settings = JSON.stringify({
    userDir: dir,
    flowFile: 'flows.json',
    nodesDir: [ROOT],
    uiHost: '127.0.0.1',
    uiPort: 0,
    httpNodeRoot: '/api',
    credentialSecret: false,
    soar: { dataDir: dir },
    telemetry: { enabled: false },
    diagnostics: { enabled: false },
    logging: { console: { level: 'info', metrics: false, audit: false } },
  });
  // As the product's settings.js does: /api requests skip the admin app (and its JSON body parser).
  writeFileSync(
    join(dir, 'settings.js'),
    `module.exports = Object.assign(${settings}, {
      httpAdminMiddleware: (req, _res, next) =>
        req.path.toLowerCase().startsWith('/api/') ? next('router') : next(),
    });`,
  );
  // The same V8 flags as `npm start` (a young generation large enough for alert bursts), for both flows.
  const proc = spawn(
    process.execPath,
    [...NODE_FLAGS, require.resolve('node-red/red.js'), '--settings', join(dir, 'settings.js')],
    {
      cwd: dir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const port = /Server now running at http:\/\/127\.0\.0\.1:(\d+)\//.exec(out)?.[1];
      if (port && out.includes('Started flows')) resolve(`http://127.0.0.1:${port}`);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', () => reject(new Error(`Node-RED exited:\n${out}`)));
  });
  proc.stdout!.resume();
  proc.stderr!.resume();
  return {
    url,
    proc,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}
