/**
 * Hostile input against the real intake (soar-alert-in behind a real HTTP listener, then soar-normalize):
 * thousands of generated bodies — broken JSON, huge numbers, deep nesting, prototype-pollution keys, invalid UTF-8,
 * wrong types, enormous strings. The process never dies, every answer is a 2xx or a 4xx with a reason, nothing
 * pollutes Object.prototype, and the good alerts of a mixed batch all get through.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import alertInNode from '../../nodes/soar-alert-in/soar-alert-in';
import { intakeNode } from '../helpers/intake-node';
import normalizeNode from '../../nodes/soar-normalize/soar-normalize';
import { captureHttpNode, helper, listenHttpNode } from '../helpers/nodered';
import { tempDir } from '../helpers/tmp';

const TOKEN = 'fuzz-intake-token-0123456789';
const honeypot = readFileSync(
  join(__dirname, '..', 'fixtures', 'samples', 'suricata-eve', 'fhassanabad-honeypot-2018-alerts.ndjson'),
  'utf8',
)
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as Record<string, unknown>);

const POLLUTING_KEYS = ['__proto__', 'constructor', 'prototype'];

/** JSON text that JSON.stringify cannot make: `__proto__` as an own key, nested. */
const pollution = fc
  .tuple(fc.constantFrom(...POLLUTING_KEYS), fc.constantFrom('polluted', 'isAdmin', 'toString', 'hasOwnProperty'))
  .map(
    ([key, prop]) =>
      `{"event_type":"alert","src_ip":"198.51.100.7","${key}":{"${prop}":true,"prototype":{"${prop}":1}},"alert":{"${key}":{"${prop}":"x"},"signature":"t"}}`,
  );

/** Nesting deeper than anything legitimate. */
const deep = fc.integer({ min: 100, max: 20_000 }).map((d) => `${'['.repeat(d)}1${']'.repeat(d)}`);
const deepObject = fc.integer({ min: 100, max: 5_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`);

/** Numbers no double holds, and other odd literals. */
const oddNumbers = fc
  .constantFrom('1e400', '-1e400', '123456789012345678901234567890', '-0', '0.0000000000000000000001e-400', '1E+99999')
  .map((n) => `{"event_type":"alert","flow_id":${n},"severity":${n},"src_port":${n},"alert":{"severity":${n}}}`);

/** A real alert with its fields given the wrong types. */
const wrongTypes = fc
  .record({
    src_ip: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string()), fc.object()),
    alert: fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.array(fc.integer())),
    timestamp: fc.oneof(fc.integer(), fc.string(), fc.object()),
    event_type: fc.oneof(fc.constant('alert'), fc.integer()),
  })
  .map((fields) => JSON.stringify({ ...honeypot[0], ...fields }));

/** Bytes that are not UTF-8. */
const invalidUtf8 = fc
  .uint8Array({ minLength: 1, maxLength: 64 })
  .map((bytes) =>
    Buffer.concat([
      Buffer.from('{"event_type":"alert","alert":{"signature":"'),
      Buffer.from([0xff, 0xfe, 0xc3, ...bytes]),
      Buffer.from('"}}'),
    ]),
  );

const enormous = fc
  .integer({ min: 100_000, max: 2_000_000 })
  .map((n) => JSON.stringify({ ...honeypot[1], alert: { signature: 'x'.repeat(n) } }));

const body: fc.Arbitrary<string | Buffer> = fc.oneof(
  { arbitrary: fc.string(), weight: 2 },
  { arbitrary: fc.string({ unit: 'binary' }), weight: 2 },
  { arbitrary: fc.json(), weight: 3 },
  { arbitrary: fc.json().map((j) => j.slice(0, Math.max(0, j.length - 1))), weight: 2 },
  { arbitrary: fc.array(fc.json(), { maxLength: 20 }).map((lines) => lines.join('\n')), weight: 2 },
  { arbitrary: pollution, weight: 2 },
  { arbitrary: deep, weight: 1 },
  { arbitrary: deepObject, weight: 1 },
  { arbitrary: oddNumbers, weight: 1 },
  { arbitrary: wrongTypes, weight: 2 },
  { arbitrary: invalidUtf8, weight: 1 },
  { arbitrary: enormous, weight: 1 },
);

describe('soar-alert-in under hostile input (property-based)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let server: Awaited<ReturnType<typeof listenHttpNode>>;
  const normalized: Record<string, unknown>[] = [];

  before(async () => {
    tmp = tempDir();
    helper.settings({ userDir: tmp.dir });
    await helper.startServer();
    const flow = [
      { id: 'tab', type: 'tab' },
      intakeNode(['norm'], { duplicateWindowMin: 0 }),
      { id: 'norm', z: 'tab', type: 'soar-normalize', source: 'auto', wires: [['ok'], ['unrecognised']] },
      { id: 'ok', z: 'tab', type: 'helper' },
      { id: 'unrecognised', z: 'tab', type: 'helper' },
    ];
    await helper.load([alertInNode, normalizeNode, captureHttpNode], flow, { in: { token: TOKEN } });
    helper
      .getNode('ok')
      .on('input', (msg: object) => normalized.push((msg as { payload: Record<string, unknown> }).payload));
    server = await listenHttpNode();
  });
  after(async () => {
    await server?.close();
    await helper.unload();
    await helper.stopServer();
    tmp.cleanup();
  });

  async function post(content: string | Buffer, contentType = 'application/json') {
    const res = await fetch(`${server.url}/alerts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType },
      body: typeof content === 'string' ? content : new Uint8Array(content),
    });
    return { status: res.status, text: await res.text() };
  }

  /** A 2xx, or a 4xx that says why (one `error`, or the rejected records' errors). */
  function assertAnswered(status: number, text: string): void {
    assert.ok((status >= 200 && status < 300) || (status >= 400 && status < 500), `status ${status}: ${text}`);
    const answer = JSON.parse(text) as { error?: unknown; errors?: { error?: unknown }[]; accepted?: number };
    if (status >= 400) {
      const reasons = typeof answer.error === 'string' ? [answer.error] : (answer.errors ?? []).map((e) => e.error);
      assert.ok(reasons.length > 0 && reasons.every((r) => typeof r === 'string' && r.length > 0), text);
    }
  }

  it('answers every generated body with a 2xx or a 4xx and a reason, and pollutes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(body, fc.constantFrom('application/json', 'application/x-ndjson'), async (content, type) => {
        const { status, text } = await post(content, type);
        assertAnswered(status, text);
      }),
      { numRuns: 1500 },
    );
    for (const key of ['polluted', 'isAdmin']) {
      assert.equal((Object.prototype as Record<string, unknown>)[key], undefined, `Object.prototype.${key}`);
    }
    assert.equal(typeof ({} as { toString: unknown }).toString, 'function');
    // Still serving: a genuine alert goes through.
    const again = await post(JSON.stringify({ ...honeypot[2], flow_id: 99_999_999 }));
    assert.equal(again.status, 202, again.text);
  });

  it('accepts every good alert of a batch mixed with junk, and normalises each', async () => {
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constant('good'), fc.jsonValue(), fc.string()), { minLength: 1, maxLength: 30 }),
        async (mix) => {
          const good = new Set<number>();
          const batch = mix.map((item) => {
            if (item !== 'good') return item;
            const flowId = 500_000_000 + serial++;
            good.add(flowId);
            return { ...honeypot[flowId % honeypot.length], flow_id: flowId };
          });
          const before = normalized.length;
          const { status, text } = await post(JSON.stringify(batch));
          assertAnswered(status, text);
          if (good.size === 0) return;
          assert.equal(status, 202, text);
          const answer = JSON.parse(text) as { accepted: number };
          assert.ok(answer.accepted >= good.size, text);
          const deadline = Date.now() + 5_000;
          const seen = () =>
            new Set(
              normalized
                .slice(before)
                .map((a) => ((a.raw as Record<string, unknown> | undefined)?.flow_id as number) ?? -1),
            );
          while ([...good].some((id) => !seen().has(id)) && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 5));
          }
          assert.deepEqual(
            [...good].filter((id) => !seen().has(id)),
            [],
            'good alerts that did not come out normalised',
          );
        },
      ),
      { numRuns: 200 },
    );
  });
});
