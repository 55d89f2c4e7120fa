import assert from 'node:assert/strict';

/**
 * A strict reading of the Prometheus text format 0.0.4: every line is a HELP, a TYPE, or a sample of the family
 * last declared (a summary's `_sum`/`_count` included) with well-formed labels and a float value; every family has
 * HELP then TYPE once; no sample repeats the same labels.
 */
export function assertPrometheusText(text: string): void {
  assert.ok(text.endsWith('\n'), 'ends with a newline');
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const label = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const sample = new RegExp(
    `^(${name})(?:\\{(${label}(?:,${label})*)?\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`,
  );
  const declared = new Map<string, string>();
  const seen = new Set<string>();
  let current: { name: string; type: string } | undefined;
  let helped: string | undefined;
  for (const line of text.slice(0, -1).split('\n')) {
    let m;
    if ((m = new RegExp(`^# HELP (${name}) .+$`).exec(line))) {
      assert.ok(!declared.has(m[1]), `family ${m[1]} declared once`);
      helped = m[1];
    } else if ((m = new RegExp(`^# TYPE (${name}) (counter|gauge|summary|histogram|untyped)$`).exec(line))) {
      assert.equal(m[1], helped, `TYPE ${m[1]} follows its HELP`);
      declared.set(m[1], m[2]);
      current = { name: m[1], type: m[2] };
    } else if ((m = sample.exec(line))) {
      assert.ok(current, `sample before any TYPE: ${line}`);
      const allowed =
        current.type === 'summary' ? [current.name, `${current.name}_sum`, `${current.name}_count`] : [current.name];
      assert.ok(allowed.includes(m[1]), `sample ${m[1]} belongs to family ${current.name}`);
      if (current.type === 'summary' && m[1] === current.name) assert.match(m[2] ?? '', /quantile="0\.95"/);
      const key = `${m[1]}{${m[2] ?? ''}}`;
      assert.ok(!seen.has(key), `sample repeated: ${key}`);
      seen.add(key);
    } else {
      assert.fail(`not a valid exposition line: ${JSON.stringify(line)}`);
    }
  }
}
