import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { forEachArrayElement } from '../../../../lib/ioc/feeds/json-split';
import { parseStixBundle, parseStixBundleText } from '../../../../lib/ioc/feeds/stix';

const DIR = join(__dirname, '../../../fixtures/samples/stix');

/** The elements and other members as read, or undefined when the text is left to a whole parse. */
function read(text: string, member = 'objects'): { elements: unknown[]; fields: Record<string, unknown> } | undefined {
  const elements: unknown[] = [];
  const fields = forEachArrayElement(text, member, (element, index) => {
    assert.equal(index, elements.length, 'indexes count up from 0');
    elements.push(element);
  });
  return fields && { elements, fields };
}

describe('forEachArrayElement', () => {
  it('reads the other members and each element of the array, whatever the spacing and member order', () => {
    const text =
      ' {\n "objects" : [ {"a":{"b":[1,{"c":"}]"}]}} ,\t[2,3],"x\\"}",-1.5e3,true,null ] , "type":"bundle","n":7 }\n';
    assert.deepEqual(read(text), {
      elements: (JSON.parse(text) as { objects: unknown[] }).objects,
      fields: { type: 'bundle', n: 7 },
    });
  });

  it('reads strings ending in escaped backslashes and quotes', () => {
    const text = String.raw`{"objects":[{"p":"a\\"},{"p":"b\\\"c"},"\\\\"]}`;
    assert.deepEqual(read(text)?.elements, (JSON.parse(text) as { objects: unknown[] }).objects);
  });

  it('reads an empty array', () => {
    assert.deepEqual(read('{"type":"bundle","objects":[]}'), { elements: [], fields: { type: 'bundle' } });
  });

  it('reads large arrays in chunks, also when strings and nested objects are full of "},"', () => {
    // Elements whose text holds many `}` followed by `,` (in strings, and closing nested objects): each is a wrong
    // guess of a chunk's end that must fail to parse, and beyond a few wrong guesses the exact reading takes over.
    const tricky = (i: number) => ({
      type: 'indicator',
      id: `indicator--${i}`,
      note: '},{"x":1},'.repeat(i % 100 === 0 ? 4_000 : 3),
      nested: [{ a: { b: i } }, { c: '}]' }],
      pattern: `[ipv4-addr:value = '198.51.100.${i % 256}']`,
    });
    for (const spacing of [undefined, 1]) {
      const objects = Array.from({ length: 3_000 }, (_, i) => tricky(i));
      const text = JSON.stringify({ type: 'bundle', objects, id: 'bundle--1' }, null, spacing);
      assert.ok(text.length > 200_000, 'many chunks');
      assert.deepEqual(read(text), { elements: objects, fields: { type: 'bundle', id: 'bundle--1' } });
    }
  });

  it('leaves every other shape to a whole parse', () => {
    for (const text of [
      '[{"type":"indicator"}]',
      '{"type":"bundle"}',
      '{}',
      '{"objects":{"a":1}}',
      '{"objects":[1],"objects":[2]}',
      '{"objects":[1] "x":2}',
      '{"objects":[1,]}',
      '{"objects":[1]} trailing',
      '{"objects":[{"a":"unterminated}]}',
      '{"objects":[1],"x":tru}',
      `{"objects":[${'{"a":1},'.repeat(10_000)}{"a":2}],"x":tru}`,
      `{"objects":[${'{"a":1},'.repeat(10_000)}{"a":2}] trailing`,
      '',
    ]) {
      assert.equal(read(text), undefined, text.slice(0, 60));
    }
  });

  it('throws a SyntaxError for an element that is not JSON', () => {
    assert.throws(() => read('{"objects":[{"a":1},{"a":01}]}'), SyntaxError);
    assert.throws(() => read(`{"objects":[${'{"a":1},'.repeat(10_000)}{"a":01},{"a":3}]}`), SyntaxError);
  });
});

describe('parseStixBundleText', () => {
  it('gives for every sample bundle, as written and minified, what parsing the whole bundle gives', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.json'));
    assert.ok(files.length >= 10);
    let read = 0;
    for (const file of files) {
      const text = readFileSync(join(DIR, file), 'utf8');
      const whole = parseStixBundle(JSON.parse(text), { confidence: 60 });
      for (const form of [text, JSON.stringify(JSON.parse(text))]) {
        const report = parseStixBundleText(form, { confidence: 60 });
        if (report === undefined) {
          // Not a bundle-shaped object (the TAXII data file): read whole by the callers.
          assert.equal(Array.isArray((JSON.parse(text) as { objects?: unknown }).objects), false, file);
          continue;
        }
        read++;
        assert.deepEqual(report, whole, file);
      }
    }
    assert.ok(read >= 20, `${read} bundles read one object at a time`);
  });

  it('applies TLP marking definitions and indicates relationships that come after the indicator', () => {
    const text = JSON.stringify({
      type: 'bundle',
      id: 'bundle--1',
      objects: [
        {
          type: 'indicator',
          id: 'indicator--1',
          pattern: "[ipv4-addr:value = '203.0.113.9' OR ipv4-addr:value = '203.0.113.10']",
          pattern_type: 'stix',
          valid_from: '2024-01-01T00:00:00Z',
          object_marking_refs: ['marking-definition--custom-red'],
          external_references: [{ source_name: 'mitre-attack', external_id: 'T1071' }],
        },
        {
          type: 'relationship',
          relationship_type: 'indicates',
          source_ref: 'indicator--1',
          target_ref: 'attack-pattern--1',
        },
        {
          type: 'attack-pattern',
          id: 'attack-pattern--1',
          external_references: [{ source_name: 'mitre-attack', external_id: 'T1566.002' }],
        },
        {
          type: 'marking-definition',
          id: 'marking-definition--custom-red',
          definition_type: 'tlp',
          definition: { tlp: 'red' },
        },
      ],
    });
    const report = parseStixBundleText(text);
    assert.ok(report);
    assert.deepEqual(
      report.indicators.map((i) => [i.value, i.tlp, i.attack]),
      [
        ['203.0.113.9', 'red', ['T1071', 'T1566.002']],
        ['203.0.113.10', 'red', ['T1071', 'T1566.002']],
      ],
    );
    assert.notEqual(report.indicators[0].attack, report.indicators[1].attack);
    assert.deepEqual(report, parseStixBundle(JSON.parse(text)));
  });
});
