/**
 * bench/ioc-library: the IOC library's persistence. 1,000,000 indicators in four feeds (those of bench/iocs) are
 * saved in a store file, then the library is opened again as at a restart: the saved feeds are read and loaded into
 * a fresh index. Target: the reload of a million indicators takes seconds (≤ 5 s, like a load from CSV or STIX).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireIocLibrary, releaseIocLibrary } from '../lib/ioc';
import { indicators } from './iocs';
import { median, ms, seconds, type Row } from './measure';

const REPS = 3;
export async function benchIocLibrary(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'soar-bench-ioc-'));
  const file = join(dir, 'soar-store.db');
  try {
    const feeds = indicators();
    const total = [...feeds.values()].reduce((n, list) => n + list.length, 0);
    const library = acquireIocLibrary(file);
    const started = process.hrtime.bigint();
    for (const [name, list] of feeds) library.replaceFeed(name, list);
    const loadAndSave = seconds(started);
    const held = library.index.stats().indicators;
    feeds.clear();
    releaseIocLibrary(file, 0);

    const reloads: number[] = [];
    for (let rep = 0; rep < REPS; rep++) {
      const t = process.hrtime.bigint();
      const again = acquireIocLibrary(file);
      reloads.push(seconds(t));
      if (again.index.stats().indicators !== held) throw new Error('the reloaded library differs from the saved one');
      releaseIocLibrary(file, 0);
    }
    const reload = median(reloads);
    const size = statSync(file).size + (statSync(`${file}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    return [
      {
        case: `save ${total.toLocaleString('en-US')} indicators (4 feeds) into the store, with loading them`,
        value: ms(loadAndSave),
        note: `store file ${(size / 2 ** 20).toFixed(0)} MB`,
      },
      {
        case: `reload ${held.toLocaleString('en-US')} saved indicators at start`,
        value: ms(reload),
        note: `median of ${REPS}; target ≤ 5,000 ms: ${reload <= 5 ? 'met' : 'NOT met'}`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
