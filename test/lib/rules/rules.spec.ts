import assert from 'node:assert/strict';
import type { Alert, Severity } from '../../../lib/alert';
import {
  adjustSeverity,
  applyOutcome,
  compileRules,
  RuleEvaluationError,
  type RuleDefinition,
} from '../../../lib/rules';
import { suricataPost, wazuhBruteForce } from './alerts';

const BRUTE_FORCE: RuleDefinition = { name: 'ssh brute force', condition: 'rule.id = "5712"', caseType: 'ct-ssh' };
const ANY_WAZUH: RuleDefinition = { name: 'any wazuh', condition: 'source = "wazuh"', caseType: 'ct-wazuh' };
const SURICATA: RuleDefinition = { name: 'suricata', condition: 'source = "suricata"' };

describe('compileRules', () => {
  describe('first mode', () => {
    it('applies only the first matching rule and reports it by index and name', async () => {
      const rules = compileRules([SURICATA, BRUTE_FORCE, ANY_WAZUH]);
      const outcome = await rules.evaluate(wazuhBruteForce());
      assert.deepEqual(outcome.matched, [1]);
      assert.deepEqual(outcome.names, ['ssh brute force']);
      assert.equal(outcome.caseType, 'ct-ssh');
      assert.equal(outcome.drop, false);
    });

    it('is the default mode', () => {
      assert.equal(compileRules([]).mode, 'first');
    });
  });

  describe('all mode', () => {
    it('applies every matching rule in order, and the last case type set wins', async () => {
      const rules = compileRules([BRUTE_FORCE, SURICATA, ANY_WAZUH], { mode: 'all' });
      const outcome = await rules.evaluate(wazuhBruteForce());
      assert.deepEqual(outcome.matched, [0, 2]);
      assert.deepEqual(outcome.names, ['ssh brute force', 'any wazuh']);
      assert.equal(outcome.caseType, 'ct-wazuh');
    });

    it('keeps an earlier case type when a later matching rule sets none', async () => {
      const rules = compileRules([BRUTE_FORCE, { name: 'tag it', condition: 'true', tags: ['seen'] }], {
        mode: 'all',
      });
      const outcome = await rules.evaluate(wazuhBruteForce());
      assert.equal(outcome.caseType, 'ct-ssh');
      assert.deepEqual(outcome.tags, ['seen']);
    });

    it('lets a later condition see the severity, ATT&CK ids and tags that earlier rules set', async () => {
      const rules = compileRules(
        [
          { name: 'escalate', condition: 'rule.id = "5712"', severityAction: 'set', severity: 'critical' },
          { name: 'mark', condition: 'true', attack: ['T1110.001'], tags: ['ssh'] },
          { name: 'sees all', condition: 'severity = "critical" and "T1110.001" in attack and "ssh" in $tags' },
        ],
        { mode: 'all' },
      );
      const outcome = await rules.evaluate(wazuhBruteForce());
      assert.deepEqual(outcome.names, ['escalate', 'mark', 'sees all']);
    });
  });

  it('reports no match with no changes when no condition holds', async () => {
    const rules = compileRules([SURICATA, { name: 'never', condition: 'false' }], { mode: 'all' });
    const alert = wazuhBruteForce();
    const outcome = await rules.evaluate(alert);
    assert.deepEqual(outcome, { matched: [], names: [], tags: [], drop: false });
    assert.equal(applyOutcome(alert, outcome), alert, 'nothing to apply: the same alert');
  });

  it('matches by JSONata truthiness ($boolean), not only on true', async () => {
    const alert = wazuhBruteForce();
    const truthy = async (condition: string) =>
      (await compileRules([{ condition }]).evaluate(alert)).matched.length === 1;
    assert.equal(await truthy('title'), true, 'a non-empty string');
    assert.equal(await truthy('observables[role = "source"]'), true, 'a non-empty array');
    assert.equal(await truthy('observables[role = "destination"]'), false, 'nothing');
    assert.equal(await truthy('""'), false, 'an empty string');
    assert.equal(await truthy('0'), false, 'zero');
    assert.equal(await truthy('[]'), false, 'an empty array');
    assert.equal(await truthy('function($x) { $x }'), false, 'a function');
  });

  it('names rules without a name "rule <n>"', () => {
    const rules = compileRules([
      { condition: 'true' },
      { name: '  ', condition: 'true' },
      { name: ' x ', condition: 'true' },
    ]);
    assert.deepEqual(
      rules.rules.map((r) => r.name),
      ['rule 1', 'rule 2', 'x'],
    );
  });

  describe('severity', () => {
    const severityAfter = async (action: 'set' | 'raise' | 'lower', level: Severity, from: Severity) => {
      const alert: Alert = { ...wazuhBruteForce(), severity: from };
      const outcome = await compileRules([{ condition: 'true', severityAction: action, severity: level }]).evaluate(
        alert,
      );
      return applyOutcome(alert, outcome).severity;
    };

    it('sets the severity to the level, up or down', async () => {
      assert.equal(await severityAfter('set', 'critical', 'medium'), 'critical');
      assert.equal(await severityAfter('set', 'low', 'high'), 'low');
    });

    it('raises the severity to the level but never lowers it', async () => {
      assert.equal(await severityAfter('raise', 'high', 'low'), 'high');
      assert.equal(await severityAfter('raise', 'high', 'critical'), 'critical');
    });

    it('lowers the severity to the level but never raises it', async () => {
      assert.equal(await severityAfter('lower', 'low', 'high'), 'low');
      assert.equal(await severityAfter('lower', 'low', 'info'), 'info');
    });

    it('reports a severity only when it changed', async () => {
      const outcome = await compileRules([{ condition: 'true', severityAction: 'raise', severity: 'low' }]).evaluate(
        wazuhBruteForce(),
      );
      assert.equal(outcome.severity, undefined);
      assert.deepEqual(outcome.names, ['rule 1']);
    });

    it('replaces a severity outside the model with the level', () => {
      assert.equal(adjustSeverity('bogus' as Severity, 'raise', 'high'), 'high');
      assert.equal(adjustSeverity(undefined, 'lower', 'low'), 'low');
    });

    it('applies severity actions in order in all mode', async () => {
      const rules = compileRules(
        [
          { condition: 'true', severityAction: 'set', severity: 'critical' },
          { condition: 'true', severityAction: 'lower', severity: 'high' },
          { condition: 'true', severityAction: 'raise', severity: 'medium' },
        ],
        { mode: 'all' },
      );
      assert.equal((await rules.evaluate(wazuhBruteForce())).severity, 'high');
    });

    it('refuses an unknown action or a missing level when compiling', () => {
      assert.throws(
        () => compileRules([{ name: 'bad', condition: 'true', severityAction: 'bump' as 'set', severity: 'high' }]),
        /rule "bad" \(rule 1\): unknown severity action "bump"/,
      );
      assert.throws(
        () => compileRules([{ name: 'bad', condition: 'true', severityAction: 'set', severity: 'urgent' as Severity }]),
        /rule "bad" \(rule 1\): "set severity" needs a level, one of info, low, medium, high, critical/,
      );
    });
  });

  describe('ATT&CK ids', () => {
    it('adds ids after the alert’s own, upper-cased and without duplicates', async () => {
      const alert = wazuhBruteForce();
      assert.deepEqual(alert.attack, ['T1110']);
      const rules = compileRules(
        [
          { condition: 'true', attack: ['t1110.001', 'T1110', 'T1078'] },
          { condition: 'true', attack: 'T1078, T1021.004' },
        ],
        { mode: 'all' },
      );
      const outcome = await rules.evaluate(alert);
      assert.deepEqual(outcome.attack, ['T1110', 'T1110.001', 'T1078', 'T1021.004']);
      assert.deepEqual(applyOutcome(alert, outcome).attack, outcome.attack);
      assert.deepEqual(alert.attack, ['T1110'], 'the input alert is not modified');
    });

    it('reports no ATT&CK change when the alert already has the ids', async () => {
      const outcome = await compileRules([{ condition: 'true', attack: ['T1110'] }]).evaluate(wazuhBruteForce());
      assert.equal(outcome.attack, undefined);
    });

    it('refuses ids that are not technique ids, naming the rule', () => {
      for (const id of ['T11', 'TA0006', 'T1110.1', 'X1110', '1110']) {
        assert.throws(
          () => compileRules([{ condition: 'true' }, { name: 'ssh', condition: 'true', attack: ['T1110', id] }]),
          new RegExp(`rule "ssh" \\(rule 2\\): "${id.replace('.', '\\.')}" is not an ATT&CK technique id`),
          id,
        );
      }
    });
  });

  describe('tags', () => {
    it('reports the tags added, without duplicates or ones the alert already has', async () => {
      const rules = compileRules(
        [
          { condition: 'true', tags: ['ssh', ' brute force ', '', 'ssh'] },
          { condition: 'true', tags: 'ssh, lab , triaged' },
        ],
        { mode: 'all' },
      );
      const outcome = await rules.evaluate(wazuhBruteForce(), { tags: ['triaged'] });
      assert.deepEqual(outcome.tags, ['ssh', 'brute force', 'lab']);
    });

    it('shows the incoming tags to conditions as $tags', async () => {
      const rules = compileRules([{ name: 'known', condition: '"vip" in $tags' }]);
      assert.deepEqual((await rules.evaluate(wazuhBruteForce(), { tags: ['vip'] })).names, ['known']);
      assert.deepEqual((await rules.evaluate(wazuhBruteForce())).names, []);
    });
  });

  describe('drop', () => {
    it('drops the alert and runs no later rule', async () => {
      const rules = compileRules(
        [
          { name: 'tag', condition: 'true', tags: ['seen'] },
          { name: 'noise', condition: 'source = "suricata"', drop: true },
          // Would fail if it ran: the drop stops the evaluation.
          { name: 'broken', condition: '$number("x") > 1' },
        ],
        { mode: 'all' },
      );
      const outcome = await rules.evaluate(suricataPost());
      assert.equal(outcome.drop, true);
      assert.deepEqual(outcome.names, ['tag', 'noise']);
    });

    it('does not drop an alert the drop rule does not match', async () => {
      const outcome = await compileRules([{ condition: 'source = "suricata"', drop: true }]).evaluate(
        wazuhBruteForce(),
      );
      assert.equal(outcome.drop, false);
      assert.deepEqual(outcome.matched, []);
    });
  });

  describe('errors', () => {
    it('refuses a JSONata syntax error when compiling, naming the rule and the position', () => {
      assert.throws(
        () => compileRules([SURICATA, { name: 'half', condition: 'severity = ' }]),
        /^Error: rule "half" \(rule 2\): the condition has a JSONata syntax error S0207 at position 11: Unexpected end of expression$/,
      );
    });

    it('refuses a rule without a condition', () => {
      assert.throws(
        () => compileRules([{ name: 'empty', condition: '  ' }]),
        /rule "empty" \(rule 1\) has no condition/,
      );
    });

    it('refuses an unknown mode', () => {
      assert.throws(() => compileRules([], { mode: 'any' as 'all' }), /unknown rule mode "any"/);
    });

    it('fails the alert with the rule name when a condition throws at run time', async () => {
      const rules = compileRules([SURICATA, { name: 'count', condition: 'rule.id + 1 > 5000' }]);
      await assert.rejects(rules.evaluate(wazuhBruteForce()), (err: unknown) => {
        assert.ok(err instanceof RuleEvaluationError);
        assert.equal(err.ruleName, 'count');
        assert.equal(err.ruleIndex, 1);
        assert.match(
          err.message,
          /^rule "count" \(rule 2\): the condition failed on this alert: JSONata error T2001 at position 9: The left side of the "\+" operator must evaluate to a number$/,
        );
        return true;
      });
    });

    it('fails a runaway recursive condition instead of hanging', async () => {
      const rules = compileRules([{ name: 'loop', condition: '($f := function($n) { $f($n + 1) + 1 }; $f(0))' }]);
      await assert.rejects(
        rules.evaluate(wazuhBruteForce()),
        /rule "loop" \(rule 1\): .*JSONata error D1011.*Stack overflow/,
      );
    });
  });
});
