import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import feedNode from '../../nodes/soar-ioc-feed/soar-ioc-feed';
import huntNode from '../../nodes/soar-hunt/soar-hunt';
import { acquireCaseStore, releaseCaseStore, type Case } from '../../lib/cases';
import type { HuntHit } from '../../lib/hunt';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
import { until } from '../helpers/wait';
import { alertsBySource, sourceOf } from '../lib/hunt/helpers';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

type Out = { case: Case; caseId: string; payload: HuntHit[]; hunt: { scanned: number; raised: number } };

const flow = (hunt: object = {}) => [
  { id: 'tab', type: 'tab' },
  {
    id: 'feednode',
    z: 'tab',
    type: 'soar-ioc-feed',
    name: 'intel',
    feed: 'intel',
    source: 'directory',
    location: 'intel',
    confidence: '90',
    refreshMinutes: '0',
    wires: [['hunt']],
  },
  { id: 'hunt', z: 'tab', type: 'soar-hunt', name: '', wires: [['raised']], ...hunt },
  { id: 'raised', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

describe('soar-hunt', function () {
  let tmp: ReturnType<typeof tempDir>;
  let raised: Out[];
  let cases: Case[];

  /** Three open cases (honeypot alerts from three sources), in the store the nodes use. */
  async function openCases(): Promise<Case[]> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      const out: Case[] = [];
      for (const alert of alertsBySource().slice(0, 3)) {
        const key = sourceOf(alert);
        out.push((await store.group(alert, { type: 'network-ids', key, windowMs: 86_400_000 })).case);
      }
      return out;
    } finally {
      releaseCaseStore(file);
    }
  }

  /** A feed file in the folder, old enough to be read at once (files still being written wait 1.5 s). */
  function feedFile(name: string, lines: string[]): void {
    const dir = join(tmp.dir, 'intel');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, name);
    writeFileSync(path, lines.join('\n') + '\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(path, past, past);
  }

  async function load(hunt: object = {}): Promise<void> {
    await helper.load([feedNode, huntNode, catchNode], flow(hunt) as never);
    helper.getNode('raised').on('input', (m: object) => raised.push(m as Out));
  }

  async function stored(id: string): Promise<Case | undefined> {
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    try {
      return await store.get(id);
    } finally {
      releaseCaseStore(file);
    }
  }

  beforeEach(async () => {
    tmp = tempDir();
    raised = [];
    helper.settings({ userDir: tmp.dir } as never);
    await helper.startServer();
    cases = await openCases();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('raises the open case holding an indicator the feed brings, and sends it with the hits', async () => {
    const ip = cases[2].artifacts[0].value; // the source address of its alert
    feedFile('c2.txt', [ip]);
    await load();
    await until(() => raised.length === 1);
    const [out] = raised;
    assert.equal(out.case.id, cases[2].id);
    assert.equal(out.caseId, cases[2].id);
    assert.deepEqual(out.hunt, { scanned: 3, raised: 1 });
    assert.deepEqual(
      out.payload.map((h) => [h.artifact.value, h.verdict, h.feeds]),
      [[ip, 'malicious', ['intel/c2.txt']]],
    );
    const c = await stored(cases[2].id);
    assert.equal(c?.severity, 'high');
    assert.equal(c?.artifacts.find((a) => a.value === ip)?.ioc, true);
    assert.ok(c?.timeline.some((t) => t.kind === 'hunt' && t.message.includes('intel/c2.txt')));
    for (const other of cases.slice(0, 2)) assert.deepEqual(await stored(other.id), other);
    const status = (helper.getNode('hunt') as unknown as { status: { lastCall?: { args: [{ text: string }] } } })
      .status;
    assert.match(status.lastCall?.args[0].text ?? '', /^3 cases scanned · 1 raised · \d\d:\d\d$/);
  });

  it('raises nothing when the feed refreshes without news, and nothing twice for the same indicators', async () => {
    feedFile('c2.txt', [cases[0].artifacts[0].value]);
    await load();
    await until(() => raised.length === 1);
    // A manual refresh of an unchanged folder reports changed: false: no hunt.
    (helper.getNode('feednode') as unknown as { receive: (m: object) => void }).receive({});
    // Any other trigger hunts with every feed: the case already knows the indicator.
    (helper.getNode('hunt') as unknown as { receive: (m: object) => void }).receive({ payload: Date.now() });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(raised.length, 1);
  });

  it('counts only the feeds the report names, unless told to use every feed', async () => {
    feedFile('old.txt', [cases[1].artifacts[0].value]);
    await load();
    await until(() => raised.length === 1);
    raised.length = 0;
    const report = { feed: 'elsewhere', changed: true, accepted: 1, rejected: 0, errors: [], indicators: 1 };
    // Reset the case's knowledge so that the old feed's indicator is news again.
    const file = storeFile(undefined, tmp.dir);
    const store = acquireCaseStore(file);
    await store.update(cases[1].id, (c) => {
      c.artifacts[0].ioc = false;
      c.artifacts[0].sources = ['suricata'];
      delete c.artifacts[0].verdict;
    });
    releaseCaseStore(file);
    const hunt = helper.getNode('hunt') as unknown as { receive: (m: object) => void };
    hunt.receive({ payload: report });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(raised.length, 0, 'a report of another feed finds nothing in intel/old.txt');
    hunt.receive({ payload: 'hunt now' });
    await until(() => raised.length === 1);
    assert.equal(raised[0].case.id, cases[1].id);
  });
});
