/**
 * A small, safe child-process helper for device adapters: runs one program with an argument array (never through a
 * shell), optionally feeds it stdin, bounds its run time and its output, and reports failures with the program's own
 * stderr so that the message is one a person can act on.
 */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Written to the program's stdin, which is then closed (stdin is closed at once when absent). */
  input?: string;
  /** Kills the program (SIGKILL) after this many milliseconds. Default 10 000. */
  timeoutMs?: number;
  /** Kills the program when aborted. */
  signal?: AbortSignal;
  /** Bytes kept of stdout and of stderr each; the rest is dropped. Default 4 MiB. */
  maxOutputBytes?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Why a program failed: it could not start, was killed (timeout, abort) or exited with a non-zero status. */
export class ExecError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly stdout: string,
    /** `ENOENT` when the program was not found, `ETIMEDOUT`, `ABORT_ERR`, or the spawn error code. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ExecError';
  }
}

/** Runs `file` with `args` and resolves with its output when it exits with status 0; rejects with an ExecError else. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const limit = options.maxOutputBytes ?? 4 * 1024 * 1024;
  const command = [file, ...args].join(' ');
  return new Promise<RunResult>((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new ExecError(`${file}: aborted before it started`, command, null, '', '', 'ABORT_ERR'));
      return;
    }
    const child = spawn(file, [...args], { stdio: ['pipe', 'pipe', 'pipe'], shell: false, windowsHide: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let killedFor: 'ETIMEDOUT' | 'ABORT_ERR' | undefined;
    let settled = false;

    const kill = (why: 'ETIMEDOUT' | 'ABORT_ERR') => {
      if (settled || killedFor) return;
      killedFor = why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('ETIMEDOUT'), timeoutMs);
    const onAbort = () => kill('ABORT_ERR');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = () => {
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    child.stdout.on('data', (chunk: Buffer) => {
      if (outLen < limit) out.push(chunk.subarray(0, limit - outLen));
      outLen += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errLen < limit) err.push(chunk.subarray(0, limit - errLen));
      errLen += chunk.length;
    });
    // A program that exits without reading its stdin makes the write fail with EPIPE: its exit status tells why.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');

    child.on('error', (e: NodeJS.ErrnoException) => {
      if (settled) return;
      finish();
      const reason = e.code === 'ENOENT' ? `${file}: program not found` : `${file}: ${e.message}`;
      reject(new ExecError(reason, command, null, '', '', e.code));
    });
    child.on('close', (exitCode, signal) => {
      if (settled) return;
      finish();
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      if (killedFor === 'ETIMEDOUT') {
        reject(new ExecError(`${file}: no answer within ${timeoutMs} ms`, command, null, stderr, stdout, killedFor));
      } else if (killedFor === 'ABORT_ERR') {
        reject(new ExecError(`${file}: aborted`, command, null, stderr, stdout, killedFor));
      } else if (exitCode !== 0) {
        const text = stderr.trim() || stdout.trim() || (signal ? `killed by ${signal}` : `exit status ${exitCode}`);
        reject(new ExecError(`${file}: ${text}`, command, exitCode, stderr, stdout));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}
