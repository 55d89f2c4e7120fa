import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Node } from 'node-red';
import alertInNode from '../../nodes/soar-alert-in/soar-alert-in';
import { intakeNode } from '../helpers/intake-node';
import { acquireJournal, releaseJournal } from '../../lib/intake/journal';
import { journalFile } from '../../lib/settings';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const catchNode = require('@node-red/nodes/core/common/25-catch.js');
import express from 'express';
import { captureHttpNode, helper, listenHttpNode, nodeRoutes } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'test-intake-token-0123456789';
const fixture = (...p: string[]) => join(__dirname, '..', 'fixtures', 'samples', ...p);
const honeypot = readFileSync(fixture('suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'), 'utf8')
  .split('\n')
  .filter(Boolean);

interface Received {
  payload: Record<string, unknown>;
  intake: { seq: number; alertId: string; received: string };
}

function flow(props: Record<string, unknown> = {}) {
  return [
    { id: 'tab', type: 'tab' },
    intakeNode(['out'], props),
    { id: 'out', z: 'tab', type: 'helper' },
    { id: 'catcher', z: 'tab', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
    { id: 'caught', z: 'tab', type: 'helper' },
  ];
}

describe('soar-alert-in', function () {
  let tmp: ReturnType<typeof tempDir>;
  let server: Awaited<ReturnType<typeof listenHttpNode>>;
  let received: Received[];

  async function start(
    props: Record<string, unknown> = {},
    credentials: Record<string, unknown> = { token: TOKEN },
    before?: Parameters<typeof listenHttpNode>[0],
  ) {
    await helper.load([alertInNode, catchNode, captureHttpNode], flow(props), { in: credentials });
    received = [];
    helper.getNode('out').on('input', (msg: object) => received.push(msg as Received));
    server = await listenHttpNode(before);
  }

  async function stop() {
    await server?.close();
    await helper.unload();
  }

  async function post(body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: JSON.parse(text) };
  }

  /** Waits until `n` messages arrived (messages leave the node asynchronously). */
  async function messages(n: number, ms = 2000): Promise<Received[]> {
    const until = Date.now() + ms;
    while (received.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return received;
  }

  beforeEach(async () => {
    tmp = tempDir();
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
  });
  afterEach(async () => {
    await stop();
    await helper.stopServer();
    delete process.env.SOAR_INTAKE_TOKEN;
    tmp.cleanup();
  });

  it('accepts a Suricata alert with the bearer token and emits it with its journal reference', async () => {
    await start();
    const res = await post(honeypot[0]);
    assert.equal(res.status, 202);
    assert.deepEqual(
      {
        accepted: res.json.accepted,
        duplicates: res.json.duplicates,
        rejected: res.json.rejected,
        errors: res.json.errors,
      },
      { accepted: 1, duplicates: 0, rejected: 0, errors: [] },
    );
    assert.match(res.json.ids[0], /^suricata-[0-9a-f]{32}$/);
    const [msg] = await messages(1);
    assert.deepEqual(msg.payload, JSON.parse(honeypot[0]));
    assert.equal(msg.intake.alertId, res.json.ids[0]);
    assert.equal(typeof msg.intake.seq, 'number');
    assert.ok(!Number.isNaN(Date.parse(msg.intake.received)));
  });

  it('answers 401 to a wrong or missing token and emits nothing', async () => {
    await start();
    const wrong = await post(honeypot[0], { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error, /invalid bearer token/);
    const missing = await fetch(`${server.url}/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: honeypot[0],
    });
    assert.equal(missing.status, 401);
    assert.match((await missing.json()).error, /authentication required/);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(received.length, 0);
  });

  it('does not parse the body of a request that fails authentication', async () => {
    await start();
    const res = await post('{"not json', { authorization: 'Bearer nope' });
    assert.equal(res.status, 401, 'not 400: the body was never looked at');
  });

  it('slows down repeated failed authentications without refusing the genuine sender', async () => {
    await start();
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await post(honeypot[0], { authorization: 'Bearer guess' + i })).status);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(401));
    assert.equal(statuses[11], 429);
    const signed = await post(honeypot[0], { authorization: '', 'x-soar-signature': 'sha256=' + '0'.repeat(64) });
    assert.equal(signed.status, 429, 'a client that keeps failing is refused before its signed body is read');
    assert.equal((await post(honeypot[0])).status, 202, 'the right token still gets through');
  });

  it('prefers the node credential to SOAR_INTAKE_TOKEN', async () => {
    process.env.SOAR_INTAKE_TOKEN = 'env-token';
    await start();
    assert.equal((await post(honeypot[0], { authorization: 'Bearer env-token' })).status, 401);
    assert.equal((await post(honeypot[0])).status, 202);
  });

  it('stops serving its path when it is closed', async () => {
    await start();
    const node = helper.getNode('in');
    await new Promise<void>((resolve) => node.close(false).then(() => resolve()));
    const res = await fetch(`${server.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: honeypot[0],
    });
    assert.equal(res.status, 404);
  });

  it('accepts an HMAC-SHA256 signature of the raw body and refuses a wrong one', async () => {
    await start();
    const signature = 'sha256=' + createHmac('sha256', TOKEN).update(honeypot[1]).digest('hex');
    const ok = await post(honeypot[1], { authorization: '', 'x-soar-signature': signature });
    assert.equal(ok.status, 202);
    const tampered = await post(honeypot[1].replace('"alert"', '"alert" '), {
      authorization: '',
      'x-soar-signature': signature,
    });
    assert.equal(tampered.status, 401);
    assert.match(tampered.json.error, /invalid X-Soar-Signature/);
    assert.equal((await messages(1)).length, 1);
  });

  it('takes the token from SOAR_INTAKE_TOKEN when the node has none', async () => {
    process.env.SOAR_INTAKE_TOKEN = TOKEN;
    await start({}, {});
    assert.equal((await post(honeypot[0])).status, 202);
    assert.equal((await post(honeypot[0], { authorization: 'Bearer other' })).status, 401);
  });

  it('still takes bearer-authenticated JSON when another body parser consumed the body first, and says why HMAC cannot work then', async () => {
    // Node-RED's admin app parses JSON for every path when httpAdminRoot and httpNodeRoot are both "/".
    const app = express();
    app.use(express.json());
    app.use((req, res, next) => nodeRoutes()(req, res, next));
    await start({}, { token: TOKEN }, app);
    const res = await post(honeypot[0]);
    assert.equal(res.status, 202);
    assert.deepEqual((await messages(1))[0].payload, JSON.parse(honeypot[0]));
    const signature = 'sha256=' + createHmac('sha256', TOKEN).update(honeypot[1]).digest('hex');
    const signed = await post(honeypot[1], { authorization: '', 'x-soar-signature': signature });
    assert.equal(signed.status, 401);
    assert.match(signed.json.error, /another body parser consumed the raw body/);
  });

  it('answers 413 over the size limit and 415 for other content types', async () => {
    await start({ maxSizeMb: 0.001 });
    const big = await post(JSON.stringify({ event_type: 'alert', pad: 'x'.repeat(2000) }));
    assert.equal(big.status, 413);
    assert.match(big.json.error, /larger than the limit of 1049 bytes/);
    const text = await post('hello', { 'content-type': 'text/plain' });
    assert.equal(text.status, 415);
    assert.match(text.json.error, /unsupported Content-Type "text\/plain"/);
  });

  it('answers 429 with Retry-After when one client exceeds its rate', async () => {
    await start({ rateLimit: 1, burst: 2 });
    assert.equal((await post(honeypot[0])).status, 202);
    assert.equal((await post(honeypot[1])).status, 202);
    const limited = await post(honeypot[2]);
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '1');
  });

  it('accepts the good lines of an NDJSON batch and lists the broken ones by index', async () => {
    await start();
    const lines = [honeypot[0], '{"event_type": "alert", broken', honeypot[1], '42', '', honeypot[2]];
    const res = await post(lines.join('\n'), { 'content-type': 'application/x-ndjson' });
    assert.equal(res.status, 202);
    assert.equal(res.json.accepted, 3);
    assert.equal(res.json.rejected, 2);
    assert.deepEqual(
      res.json.errors.map((e: { index: number }) => e.index),
      [1, 3],
    );
    assert.match(res.json.errors[0].error, /line 2 is not valid JSON/);
    assert.match(res.json.errors[1].error, /expected a JSON object/);
    const got = await messages(3);
    assert.deepEqual(
      got.map((m) => m.payload),
      [honeypot[0], honeypot[1], honeypot[2]].map((l) => JSON.parse(l)),
    );
  });

  it('refuses more than 10,000 records in one request with 413, and lists at most 100 errors', async () => {
    await start();
    const tooMany = await post('[' + Array(10_001).fill('{"a":1}').join(',') + ']');
    assert.equal(tooMany.status, 413);
    assert.match(tooMany.json.error, /more than 10000 records in one request/);
    const manyBad = await post('[' + [...Array(150).fill('1'), honeypot[0]].join(',') + ']');
    assert.equal(manyBad.status, 202);
    assert.equal(manyBad.json.rejected, 150);
    assert.equal(manyBad.json.errors.length, 100);
    assert.equal(manyBad.json.accepted, 1);
  });

  it('recognises a record no parser knows as a duplicate whatever its formatting', async () => {
    await start();
    assert.equal((await post('{"vendor":"x","n":1}')).json.accepted, 1);
    const again = await post('{ "n": 1, "vendor": "x" }');
    assert.deepEqual([again.json.accepted, again.json.duplicates], [0, 1]);
  });

  it('answers 400 when nothing in the body is valid', async () => {
    await start();
    const res = await post('[1, "two", null]');
    assert.equal(res.status, 400);
    assert.equal(res.json.accepted, 0);
    assert.equal(res.json.rejected, 3);
  });

  it('counts a second delivery of the same alert as a duplicate and does not emit it again', async () => {
    await start();
    const first = await post(honeypot[0]);
    const again = await post(`[${honeypot[0]}, ${honeypot[1]}]`);
    assert.equal(again.status, 202);
    assert.equal(again.json.accepted, 1);
    assert.equal(again.json.duplicates, 1);
    assert.notEqual(again.json.ids[0], first.json.ids[0]);
    await messages(3, 300);
    assert.equal(received.length, 2);
  });

  it('replays journaled alerts that were never marked processed, and not those that were', async () => {
    await start();
    await post([honeypot[0], honeypot[1], honeypot[2]].join('\n'), { 'content-type': 'application/x-ndjson' });
    const first = await messages(3);
    // Mark the first alert processed by wiring its message back into the node.
    const node = helper.getNode('in') as Node & { receive: (msg: object) => void };
    node.receive({ intake: first[0].intake });
    await new Promise((r) => setTimeout(r, 50));
    await stop();

    await start();
    const replayed = await messages(2);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      replayed.map((m) => m.payload),
      [honeypot[1], honeypot[2]].map((l) => JSON.parse(l)),
    );
    assert.deepEqual(
      replayed.map((m) => m.intake.seq),
      first.slice(1).map((m) => m.intake.seq),
    );
  });

  it('replays what was pending at start once, and alerts arriving during the replay once', async () => {
    // Alerts accepted by this node in an earlier life and never processed.
    const file = journalFile(undefined, tmp.dir);
    const journal = acquireJournal(file);
    const pending = honeypot.slice(0, 3).map((line, i) => ({ alertId: `old-${i}`, body: line }));
    await journal.commit('in', pending, Date.now(), 0);
    await start();
    const live = await post(honeypot[5]);
    assert.equal(live.status, 202);
    await messages(4);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(
      received.map((m) => m.intake.alertId).sort(),
      ['old-0', 'old-1', 'old-2', live.json.ids[0]].sort(),
    );
    releaseJournal(file, 0);
  });

  it('reports a mark-processed message without msg.intake to Catch nodes', async () => {
    await start();
    const caught = new Promise<{ error: { message: string } }>((resolve) =>
      helper.getNode('caught').once('input', resolve),
    );
    (helper.getNode('in') as Node & { receive: (msg: object) => void }).receive({ payload: 'x' });
    assert.match((await caught).error.message, /msg\.intake\.seq is missing/);
  });
});
