/**
 * Child process for context-kill.spec.ts: opens the context store on argv[2] and writes forever, printing `<i>\n` to
 * stdout after each `set` has returned (the acknowledgement). The writes cycle through the three write paths:
 * - `i % 3 === 0`: a top-level key, `global` / `k<i>` = `{ i, pad }` (one statement);
 * - `i % 3 === 1`: a nested path, `n1:f1` / `n<i>.deep[0].v` = `i` (read-modify-write transaction);
 * - `i % 3 === 2`: array keys, `f1` / [`a<i>`, `b<i>.x`] = [`i`, `i`] (one transaction for both).
 */
import { SqliteContextStore } from '../../../lib/store/context-store';

export const PAD = 'x'.repeat(64);

export function writeNumber(store: SqliteContextStore, i: number): void {
  if (i % 3 === 0) store.set('global', `k${i}`, { i, pad: PAD });
  else if (i % 3 === 1) store.set('n1:f1', `n${i}.deep[0].v`, i);
  else store.set('f1', [`a${i}`, `b${i}.x`], [i, i]);
}

/** What the store holds for an acknowledged `i`, read back the way it was written. */
export function readNumber(store: SqliteContextStore, i: number): unknown {
  if (i % 3 === 0) return store.get('global', `k${i}`);
  if (i % 3 === 1) return store.get('n1:f1', `n${i}.deep[0].v`);
  return store.get('f1', [`a${i}`, `b${i}.x`]);
}

export function expectedNumber(i: number): unknown {
  if (i % 3 === 0) return { i, pad: PAD };
  if (i % 3 === 1) return i;
  return [i, i];
}

async function main(file: string): Promise<void> {
  const store = new SqliteContextStore({ file, synchronous: 'normal' });
  await store.open();
  for (let i = 0; i < 10_000_000; i++) {
    writeNumber(store, i);
    await new Promise<void>((resolve, reject) =>
      process.stdout.write(`${i}\n`, (err) => (err ? reject(err) : resolve())),
    );
  }
  await store.close();
}

if (require.main === module) {
  main(process.argv[2]).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
