import { spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

/**
 * Runs a writer script (TypeScript, through tsx) with `args`; it prints one acknowledgement per line once a write is
 * durable. The child is SIGKILLed after `acks` acknowledgements; resolves with every acknowledgement it printed.
 */
export function runUntilKilled(script: string, args: string[], acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', 'tsx/cjs', script, ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let killed = false;
    const complete = (text: string): string[] => text.split('\n').slice(0, -1); // the last piece is unfinished
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      if (!killed && complete(out).length >= acks) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer ended with code ${code}, signal ${signal}: ${err}`));
      else resolve(complete(out).map(Number));
    });
  });
}
