/**
 * Loads feed content into an IOC index with the outcome of `parseFeedContent` + `replaceFeed`, but a STIX bundle
 * text is read a chunk of objects at a time and each batch of indicators indexed at once (`IocIndex.beginFeed`),
 * swapped in whole at the end. A million-indicator bundle then never exists as a million indicator objects: each
 * batch is garbage as soon as it is indexed (the garbage collector would otherwise trace them again and again), and
 * the event loop gets a turn every few milliseconds instead of being blocked for seconds.
 *
 * Bundles whose objects change indicators read before them (marking definitions, `indicates` relationships), other
 * formats, and a build overtaken by another change of the index are loaded whole, as before.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { FeedFormatError, parseFeedContent, type FeedContentOptions, type FeedContentReport } from './feeds/detect';
import { arrayChunks } from './feeds/json-split';
import { StixObjectReader } from './feeds/stix';
import { IndexChangedError, type IocIndex, type ReplaceFeedGroupsResult } from './ioc-index';

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
  try {
    return { report, result: build.commit() };
  } catch (err) {
    if (err instanceof IndexChangedError) return whole();
    throw err;
  }
}
