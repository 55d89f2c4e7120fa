/** Loads the alert-like sample records from test/fixtures/samples (never from outside the repository). */
import fs from 'node:fs';
import path from 'node:path';

export const SAMPLES_DIR = path.resolve(__dirname, '../../fixtures/samples');

export interface SampleRecord {
  /** `<folder>/<file>#<index>` for assertion messages. */
  name: string;
  folder: string;
  file: string;
  index: number;
  record: unknown;
}

/** The object an Azure REST API example documents (`responses["200"].body`), else the document itself. */
function unwrapAzureExample(document: unknown): unknown {
  const body = (document as { responses?: { 200?: { body?: unknown } } } | null)?.responses?.[200]?.body;
  return body ?? document;
}

/** The records of one sample file: a JSON array is many records, NDJSON one per line, other JSON one. */
export function readRecords(folder: string, file: string): SampleRecord[] {
  const text = fs.readFileSync(path.join(SAMPLES_DIR, folder, file), 'utf8');
  let records: unknown[];
  if (file.endsWith('.ndjson')) {
    records = text
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as unknown);
  } else {
    const document = unwrapAzureExample(JSON.parse(text) as unknown);
    records = Array.isArray(document) ? document : [document];
  }
  return records.map((record, index) => ({ name: `${folder}/${file}#${index}`, folder, file, index, record }));
}

/** The sample folders that hold alerts (the others hold threat intelligence). */
export const ALERT_FOLDERS = ['ecs', 'ocsf', 'suricata-eve', 'wazuh', 'webhooks'];

/** Every record of every JSON/NDJSON file of the alert sample folders, folder by folder. */
export function allSampleRecords(): SampleRecord[] {
  const out: SampleRecord[] = [];
  for (const folder of ALERT_FOLDERS) {
    const dir = path.join(SAMPLES_DIR, folder);
    for (const file of fs.readdirSync(dir).sort()) {
      if (file.endsWith('.json') || file.endsWith('.ndjson')) out.push(...readRecords(folder, file));
    }
  }
  return out;
}

/** The one record of a single-record sample file. */
export function sampleRecord(folder: string, file: string, index = 0): unknown {
  return readRecords(folder, file)[index].record;
}
