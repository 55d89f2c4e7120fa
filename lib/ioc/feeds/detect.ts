/**
 * One entry point for feed content whose format is given or must be recognised (a file dropped into the feeds
 * folder, a download, a message payload): STIX 2.x JSON, MISP event JSON, CSV (abuse.ch layouts recognised by
 * their column names, or a layout given), FireHOL sets and plain lists.
 */
import { CSV_PRESETS, parseCsvFeed, parseFireholList, parsePlainList, type CsvLayout } from './lists';
import { parseMispEvent } from './misp';
import type { FeedParseOptions, FeedParseReport } from './report';
import { parseStixBundle, parseStixBundleText } from './stix';

export const FEED_FORMATS = ['auto', 'stix', 'misp', 'csv', 'firehol', 'plain'] as const;
export type FeedFormat = (typeof FEED_FORMATS)[number];
export type CsvPresetName = keyof typeof CSV_PRESETS;

export interface FeedContentOptions extends FeedParseOptions {
  /** Default `auto`. */
  format?: FeedFormat;
  /** A file name or URL path: its extension helps `auto` (`.netset`, `.ipset`, `.csv`, `.json`). */
  name?: string;
  /** For CSV: a preset name or a layout; default: recognised from the column names. */
  csv?: CsvPresetName | CsvLayout;
}

export interface FeedContentReport extends FeedParseReport {
  /** The format the content was read as (never `auto`). */
  format: Exclude<FeedFormat, 'auto'>;
  /** For CSV: the preset used, when one was. */
  csvPreset?: CsvPresetName;
  /** For MISP: attributes kept as context, not indicators (`to_ids` false). */
  context?: number;
}

/** Thrown when content cannot be read at all (not JSON of a known shape, CSV of unknown columns…). */
export class FeedFormatError extends Error {}

type Json = Record<string, unknown>;

function isStix(data: unknown): boolean {
  if (Array.isArray(data)) return data.length > 0 && data.every((o) => isStixObject(o));
  if (data === null || typeof data !== 'object') return false;
  const o = data as Json;
  return o.type === 'bundle' || Array.isArray(o.objects) || isStixObject(o);
}

function isStixObject(o: unknown): boolean {
  return (
    o !== null && typeof o === 'object' && typeof (o as Json).type === 'string' && /--/.test(String((o as Json).id))
  );
}

function isMisp(data: unknown): boolean {
  if (Array.isArray(data)) return data.length > 0 && data.every(isMisp);
  if (data === null || typeof data !== 'object') return false;
  const o = data as Json;
  return (o.Event !== null && typeof o.Event === 'object') || Array.isArray(o.response) || Array.isArray(o.Attribute);
}

/** A MISP feed's `manifest.json`: uuid → event summary. It names events; it holds no indicators. */
export function isMispManifest(data: unknown): boolean {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) return false;
  const entries = Object.entries(data as Json);
  return (
    entries.length > 0 &&
    entries.every(
      ([k, v]) => /^[0-9a-f-]{36}$/i.test(k) && v !== null && typeof v === 'object' && 'info' in (v as Json),
    )
  );
}

function extension(name: string | undefined): string {
  const m = /\.([a-z0-9]+)$/i.exec((name ?? '').split(/[?#]/)[0]);
  return m ? m[1].toLowerCase() : '';
}

/** The CSV preset whose value column names a header in the first lines (comment or not), if any. */
export function recogniseCsvPreset(text: string): CsvPresetName | undefined {
  const head = text.slice(0, 16_384).split(/\r?\n/, 200);
  const names = new Set<string>();
  for (const line of head) {
    for (const cell of line.replace(/^#\s*/, '').split(',')) names.add(cell.trim().replace(/^"|"$/g, '').toLowerCase());
  }
  const has = (column: readonly string[]) => column.some((c) => names.has(c.toLowerCase()));
  // ThreatFox and URLhaus name their columns distinctly; Feodo's `dst_ip` last, as other feeds may reuse it.
  for (const preset of ['threatFox', 'urlhaus', 'feodoTracker'] as const) {
    if (has(CSV_PRESETS[preset].value)) return preset;
  }
  return undefined;
}

function looksLikeFirehol(text: string): boolean {
  return /^#\s*ipv[46] hash:(ip|net) ipset/im.test(text.slice(0, 4096));
}

/** The first character that is not white space, without copying the text. */
export function firstNonSpace(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== ' ' && c !== '\n' && c !== '\r' && c !== '\t') return c;
  }
  return undefined;
}

/** The format of a feed text that is not JSON, from its name (extension) and its first lines. */
export function textFormat(
  text: string,
  name: string | undefined,
  csv: FeedContentOptions['csv'],
): 'firehol' | 'csv' | 'plain' {
  const ext = extension(name);
  if (ext === 'netset' || ext === 'ipset' || looksLikeFirehol(text)) return 'firehol';
  if (ext === 'csv' || (csv !== undefined && csv !== null)) return 'csv';
  return recogniseCsvPreset(text) !== undefined ? 'csv' : 'plain';
}

/** The layout a CSV feed is read with: the one given, the preset named, or the preset its column names match. */
export function csvLayout(
  text: string,
  given: FeedContentOptions['csv'],
): { layout: CsvLayout; preset?: CsvPresetName } {
  // A node's configuration may hold null for "none".
  const csv = given ?? undefined;
  const preset = typeof csv === 'string' ? csv : csv === undefined ? recogniseCsvPreset(text) : undefined;
  const layout: CsvLayout | undefined = typeof csv === 'object' ? csv : preset && CSV_PRESETS[preset];
  if (layout === undefined) {
    throw new FeedFormatError(
      `CSV columns not recognised (known layouts: ${Object.keys(CSV_PRESETS).join(', ')}): give the value column`,
    );
  }
  return preset ? { layout, preset } : { layout };
}

/** Parses feed content of a given or recognised format. Throws FeedFormatError when it cannot be read at all. */
export function parseFeedContent(
  content: string | Buffer | object,
  options: FeedContentOptions = {},
): FeedContentReport {
  const { format: wanted = 'auto', name, csv, ...parse } = options;
  let text: string | undefined;
  let data: unknown;
  if (Buffer.isBuffer(content)) text = content.toString('utf8');
  else if (typeof content === 'string') text = content;
  else data = content;
  // Without copying the text (feeds run to hundreds of megabytes): a regex replace or trimStart copies it whole.
  if (text?.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const start = text === undefined ? undefined : firstNonSpace(text);

  const json = (): unknown => {
    if (data !== undefined) return data;
    try {
      return (data = JSON.parse(text as string));
    } catch (err) {
      throw new FeedFormatError(`not JSON: ${(err as Error).message}`);
    }
  };
  let format = wanted;
  if (text !== undefined && (format === 'auto' || format === 'stix') && start === '{') {
    // The common large case, a bundle, read one object at a time; any other JSON is parsed whole below.
    let report: ReturnType<typeof parseStixBundleText>;
    try {
      report = parseStixBundleText(text, parse);
    } catch (err) {
      throw new FeedFormatError(`not JSON: ${(err as Error).message}`);
    }
    if (report !== undefined) return { format: 'stix', ...report };
  }
  if (format === 'auto') {
    if (data !== undefined || start === '{' || start === '[') {
      const value = json();
      if (isStix(value)) format = 'stix';
      else if (isMisp(value)) format = 'misp';
      else if (isMispManifest(value)) {
        throw new FeedFormatError('this is a MISP feed manifest: load the folder or URL that holds it as a MISP feed');
      } else throw new FeedFormatError('JSON that is neither a STIX bundle nor a MISP event');
    } else format = textFormat(text as string, name, csv);
  }
  if (text === undefined && format !== 'stix' && format !== 'misp') {
    throw new FeedFormatError(`${format} content must be text, not a ${Array.isArray(data) ? 'list' : typeof data}`);
  }
  switch (format) {
    case 'stix':
      return { format, ...parseStixBundle(json(), parse) };
    case 'misp':
      return { format, ...parseMispEvent(json(), parse) };
    case 'csv': {
      const { layout, preset } = csvLayout(text as string, csv);
      const report = parseCsvFeed(text as string, layout, parse);
      return preset ? { format, csvPreset: preset, ...report } : { format, ...report };
    }
    case 'firehol':
      return { format, ...parseFireholList(text as string, parse) };
    case 'plain':
      return { format, ...parsePlainList(text as string, parse) };
  }
  throw new FeedFormatError(`unknown feed format ${JSON.stringify(format)}`);
}
