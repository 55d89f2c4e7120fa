import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { splitJsonArrayMember } from '../../../../lib/ioc/feeds/json-split';
import { parseStixBundle, parseStixBundleText } from '../../../../lib/ioc/feeds/stix';

const DIR = join(__dirname, '../../../fixtures/samples/stix');

function elements(text: string, member = 'objects'): unknown[] | undefined {
  const split = splitJsonArrayMember(text, member);
  return split && Array.from({ length: split.count }, (_, i) => split.element(i));
}

describe('splitJsonArrayMember', () => {
  it('reads the other members and each element of the array, whatever the spacing and member order', () => {
    const text =
      ' {\n "objects" : [ {"a":{"b":[1,{"c":"}]"}]}} ,\t[2,3],"x\\"}",-1.5e3,true,null ] , "type":"bundle","n":7 }\n';
    const split = splitJsonArrayMember(text, 'objects');
    assert.ok(split);
    assert.deepEqual(split.fields, { type: 'bundle', n: 7 });
    assert.equal(split.count, 6);
    assert.deepEqual(
      Array.from({ length: split.count }, (_, i) => split.element(i)),
      (JSON.parse(text) as { objects: unknown[] }).objects,
    );
  });

  it('reads strings ending in escaped backslashes and quotes', () => {
    const text = String.raw`{"objects":[{"p":"a\\"},{"p":"b\\\"c"},"\\\\"]}`;
    assert.deepEqual(elements(text), (JSON.parse(text) as { objects: unknown[] }).objects);
  });

  it('reads an empty array', () => {
    assert.deepEqual(elements('{"type":"bundle","objects":[]}'), []);
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
      '',
    ]) {
      assert.equal(splitJsonArrayMember(text, 'objects'), undefined, text);
    }
  });

  it('reports an element that is not JSON when it is read', () => {
    const split = splitJsonArrayMember('{"objects":[{"a":1},{"a":01}]}', 'objects');
    assert.ok(split);
    assert.deepEqual(split.element(0), { a: 1 });
    assert.throws(() => split.element(1), SyntaxError);
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
