/**
 * Loads feed content into an IOC index with the outcome of `parseFeedContent` + `replaceFeed`, but a STIX bundle
 * text is read a chunk of objects at a time, and a CSV text a batch of rows at a time, and each batch of indicators
 * indexed at once (`IocIndex.beginFeed`), swapped in whole at the end. A million-indicator feed then never exists as
 * a million indicator objects: each batch is garbage as soon as it is indexed (the garbage collector would otherwise
 * trace them again and again), and the event loop gets a turn every few milliseconds instead of being blocked for
 * seconds.
 *
 * Bundles whose objects change indicators read before them (marking definitions, `indicates` relationships), other
 * formats, and a build overtaken by another change of the index are loaded whole, as before.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  csvLayout,
  FeedFormatError,
  firstNonSpace,
  parseFeedContent,
  textFormat,
  type FeedContentOptions,
  type FeedContentReport,
} from './feeds/detect';
import { arrayChunks } from './feeds/json-split';
import { readCsvFeed } from './feeds/lists';
import { StixObjectReader } from './feeds/stix';
import { IndexChangedError, type FeedBuild, type IocIndex, type ReplaceFeedGroupsResult } from './ioc-index';

/** What the parse report says besides the indicators. */
export type FeedReportSummary = Omit<FeedContentReport, 'indicators'>;

export interface FeedContentLoadOptions extends FeedContentOptions {
  /** The feed is an allowlist. */
  allow?: boolean;
  /** Also return the accepted indicators as groups (to save them). */
  keepGroups?: boolean;
  /**
   * Sees the parse report and how many indicators it gave before anything is replaced; throwing refuses the load
   * (the feed keeps what it had).
   */
  check?: (report: FeedReportSummary, indicators: number) => void;
}

export interface FeedContentLoad {
  report: FeedReportSummary;
  result: ReplaceFeedGroupsResult;
}

/** Objects read between two batches handed to the index. */
const BATCH = 16_384;
/** Longest stretch of work before the event loop gets a turn. */
const TURN_MS = 20;

export async function loadFeedContent(
  index: IocIndex,
  feed: string,
  content: string | Buffer | object,
  options: FeedContentLoadOptions = {},
): Promise<FeedContentLoad> {
  const { allow, keepGroups, check, ...parse } = options;
  let text = Buffer.isBuffer(content) ? content.toString('utf8') : typeof content === 'string' ? content : undefined;
  if (text?.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const whole = (): FeedContentLoad => {
    const { indicators, ...report } = parseFeedContent(text ?? content, parse);
    check?.(report, indicators.length);
    return { report, result: index.replaceFeed(feed, indicators, { allow, keepGroups }) };
  };
  const format = parse.format ?? 'auto';
  if (text !== undefined && isCsv(text, parse)) {
    const { layout, preset } = csvLayout(text, parse.csv);
    const { feed: feedOption, confidence, tlp, tags } = parse;
    const build = index.beginFeed(feed, { allow, keepGroups });
    const rows = readCsvFeed(text, layout, { feed: feedOption, confidence, tlp, tags }, BATCH);
    let read = 0;
    let turn = Date.now();
    for (;;) {
      const step = rows.next();
      if (step.done) {
        const report: FeedReportSummary = { format: 'csv', ...(preset ? { csvPreset: preset } : {}), ...step.value };
        check?.(report, read);
        return commitOrWhole(build, report, whole);
      }
      read += step.value.length;
      build.addIndicators(step.value);
      if (Date.now() - turn >= TURN_MS) {
        await nextTurn();
        turn = Date.now();
      }
    }
  }
  if (
    text === undefined ||
    (format !== 'auto' && format !== 'stix') ||
    !/^\s*\{/.test(text.slice(0, 256)) ||
    // Cross references: read whole (the quick check only spares a useless pass; the reader has the last word).
    text.includes('"relationship"') ||
    text.includes('"marking-definition"')
  ) {
    return whole();
  }

  const { feed: feedOption, confidence, tlp, tags } = parse;
  const reader = new StixObjectReader({ feed: feedOption, confidence, tlp, tags });
  const build = index.beginFeed(feed, { allow, keepGroups });
  const chunks = arrayChunks(text, 'objects');
  let fields: Record<string, unknown> | undefined;
  let objects = 0;
  let parsed = 0;
  let pending = 0;
  let turn = Date.now();
  try {
    for (;;) {
      const step = chunks.next();
      if (step.done) {
        fields = step.value;
        break;
      }
      for (const object of step.value) reader.read(object, objects++);
      pending += step.value.length;
      if (pending >= BATCH) {
        pending = 0;
        const batch = reader.takeIndicators();
        parsed += batch.length;
        build.addIndicators(batch);
      }
      if (Date.now() - turn >= TURN_MS) {
        await nextTurn();
        turn = Date.now();
      }
    }
  } catch (err) {
    // As parseFeedContent words it.
    if (err instanceof SyntaxError) throw new FeedFormatError(`not JSON: ${err.message}`);
    throw err;
  }
  if (fields === undefined || reader.hasCrossReferences()) return whole();
  const last = reader.takeIndicators();
  build.addIndicators(last);
  const { indicators: _none, ...summary } = reader.report();
  const report: FeedReportSummary = { format: 'stix', ...summary };
  check?.(report, parsed + last.length);
  return commitOrWhole(build, report, whole);
}

/** Whether content `parseFeedContent` would read as CSV (not JSON; given as CSV, or recognised as it). */
function isCsv(text: string, options: FeedContentOptions): boolean {
  const format = options.format ?? 'auto';
  if (format === 'csv') return true;
  if (format !== 'auto') return false;
  const start = firstNonSpace(text);
  return start !== '{' && start !== '[' && textFormat(text, options.name, options.csv) === 'csv';
}

/** The build swapped in, or, when another change of the index overtook it, the feed loaded whole. */
function commitOrWhole(build: FeedBuild, report: FeedReportSummary, whole: () => FeedContentLoad): FeedContentLoad {
  try {
    return { report, result: build.commit() };
  } catch (err) {
    if (err instanceof IndexChangedError) return whole();
    throw err;
  }
}
