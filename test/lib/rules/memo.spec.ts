import assert from 'node:assert/strict';
import fc from 'fast-check';
import jsonata from 'jsonata';
import {
  CONTEXT_DEFAULTS,
  MAX_MEMO_ENTRIES,
  MAX_MEMO_KEY_LENGTH,
  MEMO_GIVE_UP_AFTER,
  memoize,
  memoStats,
  readsOf,
} from '../../../lib/rules/memo';
import { suricataPost } from './alerts';

const reads = (expression: string) => readsOf(jsonata(expression).ast());

/** The default flow's rule conditions and grouping keys (flows/default.json). */
const DEFAULT_FLOW_EXPRESSIONS = [
  '$count(attack[$substringBefore($ & ".", ".") = "T1110"]) > 0 or $contains($lowercase(title), "brute force")',
  '$count(attack[$substringBefore($ & ".", ".") = "T1566"]) > 0 or $contains($lowercase(title & " " & rule.category), "phish")',
  'source = "suricata"',
  '$contains($lowercase(title & " " & rule.category), "malware") or $contains($lowercase(title & " " & rule.category), "trojan")',
  'host.name ? host.name : (observables[role = "destination"])[0].value',
  '$string(rule.id) & "|" & (observables[role = "source"])[0].value',
];

describe('readsOf (which JSONata expressions are pure functions of a few fields)', () => {
  it('finds the root paths and variables an expression reads', () => {
    assert.deepEqual(reads('source = "suricata"'), { paths: [['source']], variables: [] });
    assert.deepEqual(reads('$contains($lowercase(title & " " & rule.category), "phish")'), {
      paths: [['title'], ['rule', 'category']],
      variables: [],
    });
    // A filter reads the whole array it filters; later steps only parts of it.
    assert.deepEqual(reads('$string(rule.id) & "|" & (observables[role = "source"])[0].value'), {
      paths: [['observables'], ['rule', 'id']],
      variables: [],
    });
    assert.deepEqual(reads('a.b.c[0].d'), { paths: [['a', 'b', 'c']], variables: [] });
    // A path that reads a field whole covers one that reads part of it.
    assert.deepEqual(reads('rule.id = "1" and $exists(rule)'), { paths: [['rule']], variables: [] });
    assert.deepEqual(reads('"vip" in $tags and severity = "high"'), { paths: [['severity']], variables: ['tags'] });
    assert.deepEqual(reads('rule.* and attack.**.x'), { paths: [['rule'], ['attack']], variables: [] });
  });

  it('proves every grouping key and rule condition of the default flow pure', () => {
    for (const expression of DEFAULT_FLOW_EXPRESSIONS) assert.ok(reads(expression), expression);
  });

  it('gives up on expressions whose result may depend on more than the fields they name', () => {
    for (const expression of [
      '$', // the whole input
      '$$.title', // the root, from anywhere
      'attack[$$.severity = "high"]',
      '*', // every field
      '**.value',
      'observables.%.title', // parent
      '$string()', // the context as the argument
      '$contains("brute")',
      '$substring(1, 2)',
      '$now() > "2026"',
      '$millis() % 2 = 0',
      '$random() > 0.5',
      '$shuffle(attack)',
      '$eval("title")',
      '$map(attack, function($a) { $a })', // lambdas
      '($x := title; $x)', // bindings
      'attack ~> $count', // chains
      'observables^(value)', // sorting
      'observables{role: value}', // grouping
      'observables#$i', // positional binding
      'observables@$o', // context binding
      'title ~> |$|{}|', // transform
      '$unknown(title)',
    ]) {
      assert.equal(reads(expression), undefined, expression);
    }
  });

  it('knows which built-ins take the input for a left-out first argument, as jsonata itself declares them', async () => {
    const declared: Record<string, [number, boolean]> = {};
    const builtins = [
      ...'sum count max min average string substring substringBefore substringAfter'.split(' '),
      ...'lowercase uppercase length trim pad match contains replace split join formatNumber formatBase'.split(' '),
      ...'formatInteger parseInteger number floor ceil round abs sqrt power boolean not map zip filter'.split(' '),
      ...'single reduce sift keys lookup append exists spread merge reverse each error assert type sort'.split(' '),
      ...'distinct base64encode base64decode encodeUrlComponent encodeUrl decodeUrlComponent decodeUrl'.split(' '),
      ...'toMillis fromMillis clone'.split(' '),
    ];
    for (const name of builtins) {
      const fn = (await jsonata(`$${name}`).evaluate({})) as { signature?: { definition: string } };
      const definition = fn.signature?.definition ?? '';
      if (!definition.includes('-')) continue;
      // Parameters are the top-level type letters and (alternatives) of the signature's argument part.
      const params = definition.slice(1, definition.lastIndexOf(':'));
      let depth = 0;
      let count = 0;
      for (const ch of params) {
        if (ch === '<' || ch === '(') depth += 1;
        else if (ch === '>' || ch === ')') depth -= 1;
        if (depth === (ch === '(' ? 1 : 0) && /[a-z(]/.test(ch)) count += 1;
      }
      declared[name] = [count, params.startsWith('x')];
    }
    assert.deepEqual(CONTEXT_DEFAULTS, declared);
  });
});

describe('memoize (JSONata results remembered for inputs already seen)', () => {
  // Values drawn from a few so that inputs repeat, in whole or in part, as alerts do.
  const text = fc.constantFrom('Brute force on ssh', 'ET MALWARE Trojan beacon', 'Phishing link', 'x', '', 'T1110');
  const observable = fc.record({
    type: fc.constantFrom('ipv4', 'domain'),
    value: fc.constantFrom('10.0.0.1', '10.0.0.2', 'evil.example'),
    role: fc.constantFrom('source', 'destination'),
  });
  const input = fc.record(
    {
      title: text,
      source: fc.constantFrom('suricata', 'wazuh', 42, null),
      severity: fc.constantFrom('high', 'low'),
      attack: fc.array(fc.constantFrom('T1110', 'T1110.001', 'T1566', 'T1059'), { maxLength: 3 }),
      rule: fc.oneof(fc.record({ id: fc.constantFrom('1', 2, '3'), category: text }), fc.constant([{ id: '9' }])),
      host: fc.record({ name: fc.constantFrom('web-1', 'db-1') }, { requiredKeys: [] }),
      observables: fc.array(observable, { maxLength: 3 }),
    },
    { requiredKeys: ['title'] },
  );
  const tags = fc.array(fc.constantFrom('vip', 'lab'), { maxLength: 2 });

  it('gives the same results and errors as evaluating every time', async () => {
    const expressions = [
      ...DEFAULT_FLOW_EXPRESSIONS,
      '"vip" in $tags or severity = "high"',
      '$string(rule.id)',
      '$lowercase(title)',
      'rule.category',
      '$count(observables) + $count(attack)',
      '$substring(title, 1, 3)',
      'source & ""', // a number or null source: a result or an error
      '$number(title)', // an error for most titles
      '$exists(host.name)',
      '$contains(title, /force/i)',
      '[attack, title]', // an array result: never kept
      '$string()', // the whole input, as text: never remembered
    ];
    const pairs = expressions.map((text) => ({ text, memo: memoize(jsonata(text)), plain: jsonata(text) }));
    const outcome = async (run: () => Promise<unknown>) => {
      try {
        return { value: await run() };
      } catch (error) {
        return { error: (error as { code?: string }).code ?? String(error) };
      }
    };
    await fc.assert(
      fc.asyncProperty(input, tags, async (alert, tagList) => {
        for (const { text, memo, plain } of pairs) {
          const remembered = await outcome(() => memo.evaluate(alert, { tags: tagList }));
          const evaluated = await outcome(() => plain.evaluate(alert, { tags: tagList }));
          assert.deepEqual(remembered, evaluated, `${text} on ${JSON.stringify(alert)} with $tags ${tagList}`);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('answers an input seen before from the memo, and a changed field it reads with a new evaluation', async () => {
    const condition = memoize(jsonata('$contains($lowercase(title), "http")'));
    assert.equal(condition.memoized, true);
    const alert = suricataPost();
    const first = await condition.evaluate(alert);
    const before = memoStats().hits;
    assert.equal(await condition.evaluate({ ...alert, id: 'another alert' }), first);
    assert.equal(memoStats().hits, before + 1);
    assert.equal(await condition.evaluate({ ...alert, title: 'HTTP beacon' }), true);
    assert.equal(memoStats().hits, before + 1);
  });

  it('hands every caller an object result of its own', async () => {
    const expression = memoize(jsonata('{"title": title}'));
    const a = (await expression.evaluate({ title: 'x' })) as { title: string };
    a.title = 'changed by a caller';
    assert.deepEqual({ ...((await expression.evaluate({ title: 'x' })) as object) }, { title: 'x' });
  });

  it('does not keep a key longer than the limit (a large field read whole)', async () => {
    const expression = memoize(jsonata('$length(title)'));
    const long = { title: 'a'.repeat(MAX_MEMO_KEY_LENGTH) };
    assert.equal(await expression.evaluate(long), MAX_MEMO_KEY_LENGTH);
    const before = memoStats().hits;
    assert.equal(await expression.evaluate(long), MAX_MEMO_KEY_LENGTH);
    assert.equal(memoStats().hits, before);
  });

  it('stops building keys for an expression whose keys are too long time after time', async () => {
    const expression = memoize(jsonata('$exists(raw)'));
    const large = (n: number) => ({ raw: { message: 'x'.repeat(MAX_MEMO_KEY_LENGTH), n } });
    for (let n = 0; n < MEMO_GIVE_UP_AFTER - 1; n++) assert.equal(await expression.evaluate(large(n)), true);
    assert.equal(expression.memoized, true, 'a short key in between starts the count again');
    await expression.evaluate({ raw: 'short' });
    for (let n = 0; n < MEMO_GIVE_UP_AFTER - 1; n++) await expression.evaluate(large(n));
    assert.equal(expression.memoized, true);
    await expression.evaluate(large(-1));
    assert.equal(expression.memoized, false);
    const before = memoStats().entries;
    assert.equal(await expression.evaluate({ raw: 'short' }), true, 'still evaluated');
    assert.equal(await expression.evaluate({}), false);
    assert.equal(memoStats().entries, before, 'nothing more kept');
  });

  it('evaluates an expression it cannot prove pure every time', async () => {
    const expression = memoize(jsonata('$millis()'));
    assert.equal(expression.memoized, false);
    const first = (await expression.evaluate({})) as number;
    await new Promise((resolve) => setTimeout(resolve, 5));
    assert.ok(((await expression.evaluate({})) as number) > first);
  });

  it('holds at most MAX_MEMO_ENTRIES results', async () => {
    const expression = memoize(jsonata('$string(n)'));
    for (let n = 0; n < MAX_MEMO_ENTRIES + 100; n++) await expression.evaluate({ n });
    assert.equal(memoStats().entries, MAX_MEMO_ENTRIES);
    // The oldest went first: the newest are still answered from the memo.
    const before = memoStats().hits;
    assert.equal(await expression.evaluate({ n: MAX_MEMO_ENTRIES + 99 }), String(MAX_MEMO_ENTRIES + 99));
    assert.equal(memoStats().hits, before + 1);
  });
});
