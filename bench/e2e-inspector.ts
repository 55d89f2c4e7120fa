/**
 * bench/e2e's window into the app process: the V8 inspector (the app runs with `--inspect=127.0.0.1:0`), for its
 * heap after a full collection and for a CPU profile under load. Nothing is added to the product for this.
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

export interface Memory {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
}

/** One line of the profile summary: a function and the share of samples spent in its own code. */
export interface HotFunction {
  name: string;
  where: string;
  selfPercent: number;
}

/** A place in the code a profile's samples are grouped under, with its share (e.g. "Express + body parsing"). */
export interface Area {
  area: string;
  selfPercent: number;
}

export interface ProfileSummary {
  samples: number;
  top: HotFunction[];
  areas: Area[];
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where a script belongs, by its path: the product, Node-RED, Express and its parsers, the drivers, Node itself. */
function areaOf(url: string, name: string): string {
  if (name === '(garbage collector)') return 'garbage collection';
  if (name === '(idle)' || name === '(program)') return `V8 ${name} (native work, e.g. SQLite, I/O)`;
  if (url === '') return 'native / builtins';
  if (url.startsWith('node:')) return 'Node core (http, streams, timers)';
  const lib = /\/dist\/(lib|nodes|plugins)\/([^/]+)/.exec(url);
  if (lib && !url.includes('node_modules')) return `product: ${lib[1]}/${lib[2]}`;
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/g;
  let last: string | undefined;
  for (let m = module.exec(url); m; m = module.exec(url)) last = m[1];
  if (!last) return 'other';
  if (last.startsWith('@node-red/') || last === 'node-red') return `Node-RED (${last})`;
  if (['express', 'body-parser', 'raw-body', 'router', 'send', 'etag', 'finalhandler'].includes(last)) {
    return `Express + body parsing (${last})`;
  }
  return `module ${last}`;
}

/** Event-loop delay percentiles and maximum, in ms. */
export interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

export class Inspector {
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const reply = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
      const waiting = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id as number);
      if (reply.error) waiting.reject(new Error(`inspector: ${reply.error.message}`));
      else waiting.resolve(reply.result);
    });
    socket.on('close', () => {
      for (const { reject } of this.pending.values()) reject(new Error('inspector connection closed'));
      this.pending.clear();
    });
  }

  /** Connects to the app whose output holds Node's "Debugger listening on ws://…" line. */
  static async connect(appOutput: string): Promise<Inspector> {
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(appOutput)?.[1];
    if (!url) throw new Error('the app was not started with --inspect: no "Debugger listening on" line in its output');
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    return new Inspector(socket);
  }

  call<T>(method: string, params: object = {}): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** `process.memoryUsage()` of the app after a full garbage collection (what is really held). */
  async memory(): Promise<Memory> {
    await this.call('HeapProfiler.collectGarbage');
    const { result } = await this.call<{ result: { value: string } }>('Runtime.evaluate', {
      expression: 'JSON.stringify(process.memoryUsage())',
      returnByValue: true,
    });
    return JSON.parse(result.value) as Memory;
  }

  /**
   * The app's event-loop delay while `load` runs (perf_hooks' histogram, 1 ms resolution), in ms: how long work
   * that was ready had to wait for the loop, which a long synchronous task or a garbage collection pause shows.
   */
  async loopDelay<T>(load: () => Promise<T>): Promise<{ result: T; delay: LoopDelay }> {
    await this.call('Runtime.evaluate', {
      expression: `globalThis.__soarBenchLoop = process.getBuiltinModule('node:perf_hooks').monitorEventLoopDelay({ resolution: 1 }); globalThis.__soarBenchLoop.enable(); 0`,
    });
    try {
      const result = await load();
      const { result: read } = await this.call<{ result: { value: string } }>('Runtime.evaluate', {
        expression: `(() => { const h = globalThis.__soarBenchLoop; h.disable(); return JSON.stringify({ p50: h.percentile(50) / 1e6, p99: h.percentile(99) / 1e6, max: h.max / 1e6 }); })()`,
        returnByValue: true,
      });
      return { result, delay: JSON.parse(read.value) as LoopDelay };
    } finally {
      await this.call('Runtime.evaluate', {
        expression: 'globalThis.__soarBenchLoop?.disable(); delete globalThis.__soarBenchLoop',
      });
    }
  }

  /** Samples the app's CPU while `load` runs (1 ms interval) and sums self time by function and by area. */
  async profile(load: () => Promise<unknown>, topN = 20, keep?: string): Promise<ProfileSummary> {
    await this.call('Profiler.enable');
    await this.call('Profiler.setSamplingInterval', { interval: 1000 });
    await this.call('Profiler.start');
    // The profiler is stopped even when the load fails, then the failure goes on.
    const failure = await load().then(
      () => undefined,
      (err: unknown) => err ?? new Error('the load failed'),
    );
    const stopped = await this.call<{ profile: { nodes: ProfileNode[] } }>('Profiler.stop');
    await this.call('Profiler.disable');
    if (failure) throw failure;
    // The whole profile, for Chrome DevTools or a closer look (E2E_PROFILE_DIR).
    if (keep) writeFileSync(keep, JSON.stringify(stopped.profile));
    const nodes = stopped.profile.nodes;
    const samples = nodes.reduce((n, p) => n + (p.hitCount ?? 0), 0);
    const percent = (hits: number) => Math.round((hits / Math.max(samples, 1)) * 1000) / 10;
    const byFunction = new Map<string, { name: string; where: string; hits: number }>();
    const byArea = new Map<string, number>();
    for (const p of nodes) {
      const hits = p.hitCount ?? 0;
      if (hits === 0) continue;
      const { functionName, url, lineNumber } = p.callFrame;
      const name = functionName || '(anonymous)';
      const short = url
        .replace(/^.*node_modules\//, '')
        .replace(/^.*\/dist\//, 'dist/')
        .replace(/^file:\/\//, '');
      const where = url ? `${short}:${lineNumber + 1}` : '';
      const key = `${name}\n${where}`;
      const entry = byFunction.get(key) ?? { name, where, hits: 0 };
      entry.hits += hits;
      byFunction.set(key, entry);
      const area = areaOf(url, name);
      byArea.set(area, (byArea.get(area) ?? 0) + hits);
    }
    return {
      samples,
      top: [...byFunction.values()]
        .sort((a, b) => b.hits - a.hits)
        .slice(0, topN)
        .map((f) => ({ name: f.name, where: f.where, selfPercent: percent(f.hits) })),
      areas: [...byArea].sort((a, b) => b[1] - a[1]).map(([area, hits]) => ({ area, selfPercent: percent(hits) })),
    };
  }

  close(): void {
    this.socket.close();
  }
}
