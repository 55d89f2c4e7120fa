/**
 * `npm run bench`: runs the benchmarks (or those named on the command line) and prints one table.
 * BENCH_DURATION (seconds per load run, default 10) and BENCH_PAIRS (interleaved bare/product pairs, default 2).
 */
import type { Row } from './measure';
import { benchCases } from './cases';
import { benchE2e } from './e2e';
import { benchEnrich } from './enrich';
import { benchIntake } from './intake';
import { benchIocLibrary } from './ioc-library';
import { benchIocs } from './iocs';
import { benchRespond } from './respond';
import { benchRuns } from './runs';

const benches: Record<string, () => Promise<Row[]>> = {
  intake: benchIntake,
  cases: benchCases,
  iocs: benchIocs,
  'ioc-library': benchIocLibrary,
  respond: benchRespond,
  runs: benchRuns,
  enrich: benchEnrich,
  e2e: benchE2e,
};

async function main() {
  const wanted = process.argv.slice(2);
  const names = wanted.length ? wanted : Object.keys(benches);
  const rows: { bench: string; case: string; value: string; note: string }[] = [];
  for (const name of names) {
    const bench = benches[name];
    if (!bench) throw new Error(`unknown benchmark "${name}"; known: ${Object.keys(benches).join(', ')}`);
    console.error(`running bench/${name} ...`);
    for (const row of await bench()) rows.push({ bench: name, ...row });
  }
  console.table(rows);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
