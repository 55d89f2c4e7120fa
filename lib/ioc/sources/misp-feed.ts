/**
 * A MISP feed (the format `misp-feed` exports and MISP instances fetch): `manifest.json` lists the events, each
 * event is `<uuid>.json` next to it. Read from a folder or from a URL, with a few downloads in parallel.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mispManifestEntries } from '../feeds/misp';
import { parseMispEvent } from '../feeds/misp';
import type { FeedParseOptions, FeedParseReport } from '../feeds/report';
import { downloadFeed, type FeedAuth } from './http';

export interface MispFeedOptions extends FeedParseOptions {
  auth?: FeedAuth;
  /** Parallel event downloads. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
}

export interface MispFeedReport extends FeedParseReport {
  events: number;
  /** Attributes kept as context (`to_ids` false). */
  context: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A folder path or an http(s) URL; reads `manifest.json` then every event it lists. */
export async function loadMispFeed(location: string, options: MispFeedOptions = {}): Promise<MispFeedReport> {
  const { auth, concurrency = 4, signal, ...parse } = options;
  const remote = /^https?:\/\//i.test(location);
  const base = remote && !location.endsWith('/') ? `${location}/` : location;
  const read = async (file: string): Promise<string> => {
    if (!remote) return readFile(join(base, file), 'utf8');
    const got = await downloadFeed(new URL(file, base).href, { auth, signal });
    if (!got.modified) throw new Error('unexpected 304');
    return got.body.toString('utf8');
  };
  let manifest: unknown;
  try {
    manifest = JSON.parse(await read('manifest.json'));
  } catch (err) {
    throw new Error(`MISP feed ${location}: manifest.json: ${(err as Error).message}`, { cause: err });
  }
  const entries = mispManifestEntries(manifest);
  const report: MispFeedReport = { indicators: [], unsupported: 0, errors: [], events: 0, context: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const index = next++;
      const { uuid } = entries[index];
      // The uuid becomes a path: only a real uuid may, so a hostile manifest cannot point outside the feed.
      if (!UUID.test(uuid)) {
        report.errors.push({ index, reason: `manifest entry ${JSON.stringify(uuid)} is not an event uuid` });
        continue;
      }
      let event: unknown;
      try {
        event = JSON.parse(await read(`${uuid}.json`));
      } catch (err) {
        report.errors.push({ index, reason: `event ${uuid}: ${(err as Error).message}` });
        continue;
      }
      const r = parseMispEvent(event, parse);
      report.events++;
      report.unsupported += r.unsupported;
      report.context += r.context;
      for (const e of r.errors) report.errors.push({ index, reason: `event ${uuid}: ${e.reason}` });
      for (const ind of r.indicators) report.indicators.push(ind);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, entries.length)) }, worker));
  return report;
}
