import assert from 'node:assert/strict';
import decideNode from '../../nodes/soar-decide/soar-decide';
import { acquireCaseStore, applyPatch, releaseCaseStore, type Case } from '../../lib/cases';
import type { Alert } from '../../lib/alert/model';
import type { Decision } from '../../lib/decide/score';
import type { Enrichment } from '../../lib/enrich/model';
import { storeFile } from '../../lib/settings';
import { helper } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');

type Out = { payload: unknown; decision: Decision; case?: Case; error?: { message: string } };
const PORTS = ['respond', 'escalate', 'dismiss', 'caught'] as const;
type Port = (typeof PORTS)[number];

const flow = (decide: object) => [
  { id: 'tab', type: 'tab' },
  {
    id: 'decide',
    z: 'tab',
    type: 'soar-decide',
    name: '',
    weightIoc: 0.35,
    weightEnrichment: 0.25,
    weightSeverity: 0.15,
    weightAsset: 0.15,
    weightHistory: 0.1,
    respondAt: 70,
    dismissBelow: 20,
    requireEvidence: true,
    assetSource: 'none',
    assetList: '',
    assetExpression: '',
    dismissCases: true,
    wires: [['respond'], ['escalate'], ['dismiss']],
    ...decide,
  },
  { id: 'respond', z: 'tab', type: 'helper' },
  { id: 'escalate', z: 'tab', type: 'helper' },
  { id: 'dismiss', z: 'tab', type: 'helper' },
  { id: 'catcher', z: 'tab', type: 'catch', scope: ['decide'], uncaught: false, wires: [['caught']] },
  { id: 'caught', z: 'tab', type: 'helper' },
];

function alert(extra: Partial<Alert> = {}): Alert {
  const now = new Date().toISOString();
  return {
    id: `suricata:${Math.random()}`,
    source: 'suricata',
    sourceRef: 'x',
    time: now,
    received: now,
    title: 'C2 beacon',
    severity: 'high',
    rule: { id: '1', name: 'C2', category: 'trojan' },
    observables: [{ type: 'ipv4', value: '45.155.205.7', role: 'destination' }],
    attack: [],
    host: { name: 'web-1.corp.example', ip: '10.20.1.5' },
    raw: {},
    ...extra,
  };
}

const maliciousMatch = {
  matches: [
    {
      observable: { type: 'ipv4', value: '45.155.205.7', role: 'destination' },
      indicator: { type: 'ipv4', value: '45.155.205.7' },
      via: 'exact',
      confidence: 90,
      verdict: 'malicious',
      sources: [{ feed: 'feodo', confidence: 90, tlp: 'amber', tags: [], attack: [] }],
    },
  ],
  verdict: 'malicious',
} as Partial<Alert>;

const harmless = (provider: string): Enrichment => ({
  provider,
  observable: { type: 'ipv4', value: '45.155.205.7' },
  verdict: 'harmless',
  score: 0,
  reason: 'no reports',
  at: new Date().toISOString(),
  raw: {},
});

describe('soar-decide', function () {
  let tmp: ReturnType<typeof tempDir>;
  let outputs: { port: Port; msg: Out }[];

  const file = () => storeFile(undefined, tmp.dir);
  async function withStore<T>(work: (store: ReturnType<typeof acquireCaseStore>) => Promise<T>): Promise<T> {
    const store = acquireCaseStore(file());
    try {
      return await work(store);
    } finally {
      releaseCaseStore(file());
    }
  }
  /** A case in the store grouped from `a`, as soar-case hands it on. */
  const caseWith = (a: Alert, key = 'c2:45.155.205.7'): Promise<Case> =>
    withStore(async (store) => (await store.group(a, { type: 'c2', key, windowMs: 3_600_000 })).case);
  const stored = (id: string) => withStore((store) => store.get(id));

  async function load(decide: object = {}): Promise<void> {
    await helper.load([decideNode, catchNode], flow(decide) as never);
    for (const port of PORTS) {
      helper.getNode(port).on('input', (m: object) => outputs.push({ port, msg: m as Out }));
    }
  }
  /** Sends `msg` to the node and waits for the one message it leads to, on whichever port. */
  async function through(msg: object): Promise<{ port: Port; msg: Out }> {
    const before = outputs.length;
    (helper.getNode('decide') as unknown as { receive: (m: object) => void }).receive(msg);
    const deadline = Date.now() + 5000;
    while (outputs.length === before) {
      if (Date.now() > deadline) throw new Error('timed out waiting for soar-decide');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(outputs.length, before + 1, 'one message out');
    return outputs[before];
  }
  const spies = () =>
    helper.getNode('decide') as unknown as {
      status: { lastCall?: { args: [object] } };
      error: { lastCall?: { args: [string] } };
    };

  beforeEach(async () => {
    tmp = tempDir();
    outputs = [];
    helper.settings({ userDir: tmp.dir } as never);
    await helper.startServer();
  });
  afterEach(async () => {
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  it('responds to a malicious match on a case and records why in the case timeline', async () => {
    await load();
    const a = alert(maliciousMatch);
    const c = await caseWith(a);
    const out = await through({ payload: a, case: c });
    assert.equal(out.port, 'respond');
    assert.equal(out.msg.decision.outcome, 'respond');
    assert.ok(out.msg.decision.score >= 70);
    const entry = out.msg.case?.timeline.at(-1);
    assert.equal(entry?.kind, 'decision');
    assert.equal(entry?.by, 'soar-decide');
    assert.match(
      entry!.message,
      /^decision: respond \(score [\d.]+\): ioc 100 \(malicious match 45\.155\.205\.7 in feed feodo\); enrichment no data/,
    );
    const saved = await stored(c.id);
    assert.deepEqual(saved?.timeline.at(-1), entry, 'the entry is in the case store');
    assert.equal(saved?.status, 'new');
    assert.deepEqual(spies().status.lastCall?.args[0], {
      fill: 'red',
      shape: 'dot',
      text: `respond · ${out.msg.decision.score}`,
    });
  });

  it('decides on the case as stored when msg.case is older (another alert made it malicious meanwhile)', async () => {
    await load({ dismissCases: false });
    const first = alert({ severity: 'info', matches: [], verdict: 'unknown' });
    const stale = await caseWith(first, 'c2:stale');
    // A second alert of the same case matched the IOC library after soar-case handed on the first one.
    const current = await caseWith(alert(maliciousMatch), 'c2:stale');
    assert.equal(current.id, stale.id);
    const out = await through({ payload: first, case: stale });
    const ioc = out.msg.decision.factors.find((f) => f.name === 'ioc');
    assert.equal(ioc?.score, 100, 'the malicious artifact of the stored case counts');
    assert.equal(out.msg.case?.alertCount, 2, 'msg.case is the case as stored, with the decision');
    assert.equal(out.msg.case?.timeline.at(-1)?.kind, 'decision');
  });

  it('escalates an alert without a case when the score is between the thresholds', async () => {
    await load();
    const out = await through({ payload: alert({ severity: 'medium' }) });
    assert.equal(out.port, 'escalate');
    assert.equal(out.msg.decision.score, 50);
    assert.equal(out.msg.case, undefined);
    assert.deepEqual(spies().status.lastCall?.args[0], { fill: 'yellow', shape: 'dot', text: 'escalate · 50' });
  });

  it('dismisses a harmless case and resolves it as a false positive with the reason', async () => {
    await load();
    const a = alert({ severity: 'info', matches: [], verdict: 'unknown' });
    const c = await caseWith(a);
    const out = await through({
      payload: { ...a, enrichments: [harmless('virustotal'), harmless('greynoise')] },
      caseId: c.id,
    });
    assert.equal(out.port, 'dismiss');
    assert.equal(out.msg.case?.status, 'resolved');
    const saved = await stored(c.id);
    assert.equal(saved?.status, 'resolved');
    assert.ok(saved?.resolvedAt);
    const kinds = saved!.timeline.slice(-3).map((t) => [t.kind, t.message]);
    assert.equal(kinds[0][0], 'decision');
    assert.match(
      kinds[0][1],
      /^decision: dismiss \(score [\d.]+\): ioc 0 \(no IOC match\); enrichment 0 \(harmless per/,
    );
    assert.deepEqual(kinds[1], ['status', 'status new → resolved']);
    assert.deepEqual(kinds[2], [
      'note',
      `dismissed as false positive: score ${out.msg.decision.score} is below 20 and nothing is malicious`,
    ]);
  });

  it('leaves the case open on dismiss when dismissCases is off', async () => {
    await load({ dismissCases: false });
    const a = alert({ severity: 'info', matches: [], verdict: 'unknown' });
    const c = await caseWith(a);
    const out = await through({ payload: a, case: c });
    assert.equal(out.port, 'dismiss');
    const saved = await stored(c.id);
    assert.equal(saved?.status, 'new');
    assert.equal(saved?.timeline.at(-1)?.kind, 'decision');
  });

  it('never dismisses a case an analyst has taken up, nor one with a malicious answer in msg.enrichments', async () => {
    await load();
    const a = alert({ severity: 'info', matches: [], verdict: 'unknown' });
    const c = await caseWith(a);
    await withStore((store) => store.update(c.id, (x, now) => applyPatch(x, { status: 'in-progress' }, 'ana', now)));
    const taken = await through({ payload: { ...a, enrichments: [harmless('virustotal')] }, caseId: c.id });
    assert.equal(taken.port, 'dismiss');
    assert.equal((await stored(c.id))?.status, 'in-progress', 'an analyst works on it: automation does not resolve it');

    const b = alert({ severity: 'info', matches: [], verdict: 'unknown' });
    const other = await caseWith(b, 'c2:other-host');
    const malicious = { ...harmless('virustotal'), verdict: 'malicious', score: 95, reason: '40/70 engines' };
    const out = await through({
      payload: { ...b, enrichments: [harmless('greynoise')] },
      enrichments: [{ ...malicious, observable: { type: 'domain', value: 'evil-c2.badsite.xyz' } }],
      caseId: other.id,
    });
    assert.notEqual(out.port, 'dismiss', 'a malicious verdict about another artifact of the case counts');
  });

  it('folds a run of alerts deciding the same way into one timeline entry with a count', async () => {
    await load({ dismissCases: false });
    const a = alert({ severity: 'medium', matches: [], verdict: 'unknown' });
    const c = await caseWith(a, 'c2:fold');
    for (let i = 0; i < 3; i++) await through({ payload: a, caseId: c.id });
    const decisions = (await stored(c.id))!.timeline.filter((t) => t.kind === 'decision');
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0].count, 3);
    assert.match(decisions[0].message, /^3 × decision: /);
  });

  it('lowers the history of a case whose key an analyst closed as a false positive before', async () => {
    await load();
    const first = await caseWith(alert());
    await withStore((store) =>
      store.update(first.id, (c, now) =>
        applyPatch(c, { status: 'closed', note: 'false positive: our vulnerability scanner' }, 'alice', now),
      ),
    );
    const a = alert();
    const second = await caseWith(a);
    assert.notEqual(second.id, first.id);
    const out = await through({ payload: a, case: second });
    const history = out.msg.decision.factors.find((f) => f.name === 'history');
    assert.deepEqual(
      [history?.score, history?.reason],
      [10, '1 alert, 1 earlier case for this key closed as false positive'],
    );
  });

  it('reads the history of a key once for its alerts, and again once a case is closed as a false positive', async () => {
    await load();
    const first = await caseWith(alert());
    const historyOf = (out: { msg: Out }) => out.msg.decision.factors.find((f) => f.name === 'history')?.reason;
    const before = historyOf(await through({ payload: alert(), case: first }));
    assert.equal(historyOf(await through({ payload: alert(), case: first })), before);
    await withStore((store) =>
      store.update(first.id, (c, now) =>
        applyPatch(c, { status: 'closed', note: 'false positive: our vulnerability scanner' }, 'alice', now),
      ),
    );
    const a = alert();
    const out = await through({ payload: a, case: await caseWith(a) });
    assert.equal(historyOf(out), '1 alert, 1 earlier case for this key closed as false positive');
  });

  it('scores asset criticality from a list of host patterns and CIDRs', async () => {
    await load({ assetSource: 'list', assetList: '# servers\n*.corp.example=40\n10.20.0.0/16=90' });
    const out = await through({ payload: alert() });
    const asset = out.msg.decision.factors.find((f) => f.name === 'asset');
    assert.deepEqual([asset?.score, asset?.reason], [90, 'criticality 90: 10.20.1.5 matches 10.20.0.0/16']);
  });

  it('scores asset criticality with a JSONata expression on the message', async () => {
    await load({ assetSource: 'jsonata', assetExpression: 'payload.host.name = "dc1.corp.example" ? 100 : 10' });
    const dc = await through({ payload: alert({ host: { name: 'dc1.corp.example' } }) });
    assert.equal(dc.msg.decision.factors.find((f) => f.name === 'asset')?.score, 100);
    const other = await through({ payload: alert() });
    assert.equal(other.msg.decision.factors.find((f) => f.name === 'asset')?.score, 10);
  });

  it('fails a message whose asset expression gives no number from 0 to 100', async () => {
    await load({ assetSource: 'jsonata', assetExpression: '"critical"' });
    const out = await through({ payload: alert() });
    assert.equal(out.port, 'caught');
    assert.match(out.msg.error!.message, /asset criticality expression gave "critical"/);
  });

  it('shows a JSONata syntax error in red at start and fails every message', async () => {
    await load({ assetSource: 'jsonata', assetExpression: 'payload.host.name = ' });
    assert.deepEqual(spies().status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: 'invalid configuration' });
    assert.match(spies().error.lastCall!.args[0], /asset criticality expression has a JSONata syntax error/);
    const out = await through({ payload: alert() });
    assert.equal(out.port, 'caught');
    assert.match(out.msg.error!.message, /soar-decide is misconfigured/);
  });

  it('shows invalid weights and thresholds in red at start', async () => {
    await load({ respondAt: 10, dismissBelow: 30 });
    assert.deepEqual(spies().status.lastCall?.args[0], { fill: 'red', shape: 'ring', text: 'invalid configuration' });
    assert.match(spies().error.lastCall!.args[0], /dismissBelow \(30\) must not be above respondAt \(10\)/);
  });

  it('reports a message with neither an alert nor a case to Catch', async () => {
    await load();
    const out = await through({ payload: 'hello' });
    assert.equal(out.port, 'caught');
    assert.match(out.msg.error!.message, /needs an alert in msg.payload .* or a case/);
    const unknownCase = await through({ caseId: 'no-such-case' });
    assert.equal(unknownCase.port, 'caught');
    assert.match(unknownCase.msg.error!.message, /no case with id "no-such-case"/);
  });
});
