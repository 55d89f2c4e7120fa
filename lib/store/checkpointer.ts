import type Database from 'better-sqlite3';
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';

/**
 * Checkpoints a WAL database from a worker thread. SQLite's automatic checkpoint runs inside the commit that crosses
 * its threshold: on the event loop (better-sqlite3 is synchronous), copying the WAL into the database and syncing it,
 * tens to hundreds of milliseconds in which no request is answered. While a checkpointer runs, the connection it is
 * given never checkpoints (`wal_autocheckpoint = 0`); the worker's own connection checkpoints in the background every
 * `intervalMs`, in PASSIVE mode (it never waits for, nor holds up, a reader or writer). Should the worker fail, the
 * connection checkpoints by itself again, as it did before; likewise once the checkpointer is stopped.
 *
 * The WAL file is bounded. SQLite starts the log over only when a write begins after a checkpoint has copied all of
 * it; under a steady stream of commits a background checkpoint never catches up (each finds new frames), so the log
 * grew without end (hundreds of MB in seconds under load), and the first commit after the stream stopped truncated it
 * (`journal_size_limit`) on the event loop for a tenth of a second. Once the log passes `restartBytes`, the worker
 * follows its PASSIVE checkpoint with a RESTART one: that holds writers off while it copies the frames written since
 * and syncs the files (16 to 40 ms measured under 800 alerts/s, which a commit waits for in its busy handler, on the
 * event loop; starting over past 192 MB instead of 48 did not lower the request-to-decision p99 clearly enough, in ten
 * noisy rounds each, to pay four times the disk) and has the next write start the log over. It waits at most
 * RESTART_WAIT_MS for a reader (another process's backup, say) and otherwise tries again RESTART_BACKOFF_MS later, so
 * that writers never wait long behind it, nor often.
 */

/** What one background checkpoint did: frames in the WAL, frames copied into the database. */
export interface CheckpointResult {
  log: number;
  checkpointed: number;
  /** A RESTART checkpoint: the next write starts the log over. */
  restarted?: true;
}

export interface CheckpointerOptions {
  /** Time between two checkpoints (default 200 ms). */
  intervalMs?: number;
  /** Size of the WAL past which a checkpoint starts it over (default DEFAULT_RESTART_BYTES). */
  restartBytes?: number;
}

/**
 * The WAL file size its connections cut a grown log back to when it starts over (`journal_size_limit`), and the size
 * past which the checkpointer starts it over: below the limit, so that in steady use nothing is cut on the event loop.
 */
export const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;
export const DEFAULT_RESTART_BYTES = 48 * 1024 * 1024;

/** How long a RESTART checkpoint waits for the writer and readers, and how long after giving up it tries again. */
export const RESTART_WAIT_MS = 20;
export const RESTART_BACKOFF_MS = 5_000;

// Plain JavaScript run by the worker (`eval`), so that it needs no build step and runs under the test runner too.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
// better-sqlite3's errors reach the parent thread as their code alone: a plain Error keeps the message.
const plain = (err) => new Error((err && err.code ? err.code + ': ' : '') + (err && err.message));
let db;
let frameBytes;
let restartAfter = 0;
try {
  db = new Database(workerData.file, { fileMustExist: true, timeout: workerData.restartWaitMs });
  frameBytes = db.pragma('page_size', { simple: true }) + 24;
} catch (err) {
  throw plain(err);
}
const timer = setInterval(() => {
  try {
    const [result] = db.pragma('wal_checkpoint(PASSIVE)');
    if (result.checkpointed > 0) parentPort.postMessage(result);
    if (result.log * frameBytes > workerData.restartBytes && Date.now() >= restartAfter) {
      const [restart] = db.pragma('wal_checkpoint(RESTART)');
      if (restart.busy === 0) parentPort.postMessage({ ...restart, restarted: true });
      // The writer or a reader held on past the wait (writers waited as long): the log grows until a later try.
      else restartAfter = Date.now() + workerData.restartBackoffMs;
    }
  } catch (err) {
    // SQLITE_BUSY: another checkpoint is under way; the next tick tries again.
    if (!/^SQLITE_BUSY/.test(String(err && err.code))) throw plain(err);
  }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export class WalCheckpointer extends EventEmitter<{ checkpoint: [CheckpointResult]; error: [Error] }> {
  private readonly worker: Worker;
  private readonly autocheckpoint: number;
  private readonly exited: Promise<void>;
  private stopped = false;

  /** `db` is the connection to relieve; `file` its database file (the worker opens its own connection). */
  constructor(
    private readonly db: Database.Database,
    file: string,
    options: CheckpointerOptions = {},
  ) {
    super();
    this.autocheckpoint = db.pragma('wal_autocheckpoint', { simple: true }) as number;
    db.pragma('wal_autocheckpoint = 0');
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: {
        file,
        module: require.resolve('better-sqlite3'),
        intervalMs: options.intervalMs ?? 200,
        restartBytes: options.restartBytes ?? DEFAULT_RESTART_BYTES,
        restartWaitMs: RESTART_WAIT_MS,
        restartBackoffMs: RESTART_BACKOFF_MS,
      },
    });
    this.worker.on('message', (result: CheckpointResult) => this.emit('checkpoint', result));
    this.worker.on('error', (err) => {
      this.restore();
      // Once stopped, the connection may be closed and its folder gone: what the worker then meets is no news.
      if (this.stopped) return;
      if (this.listenerCount('error') > 0) this.emit('error', new Error(`WAL checkpoints of ${file}: ${err.message}`));
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    // A background helper must not keep the process alive (after the listeners: a 'message' listener refs it again).
    this.worker.unref();
  }

  /** Stops the worker (resolved once it has closed its connection); the connection checkpoints by itself again. */
  stop(): Promise<void> {
    this.stopped = true;
    this.restore();
    this.worker.postMessage('stop');
    return this.exited;
  }

  private restore(): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${this.autocheckpoint}`);
  }
}
