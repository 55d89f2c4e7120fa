import assert from 'node:assert/strict';
import { parseRunQuery, playbookTabs, RunQueryError } from '../../../../lib/playbooks/runs';

describe('playbookTabs', () => {
  it('takes tabs with a SOAR flow node or a SOAR_PLAYBOOK_ID, with their identity and run timeout', () => {
    const tabs = playbookTabs(
      [
        { id: 't1', type: 'tab', label: 'Perimeter IOC hit (Suricata)' },
        { id: 'n1', type: 'soar-case', z: 't1', wires: [[]] },
        {
          id: 't2',
          type: 'tab',
          label: 'Named',
          env: [
            { name: 'SOAR_PLAYBOOK_ID', value: 'named-one' },
            { name: 'SOAR_PLAYBOOK_VERSION', value: '2.1.0' },
            { name: 'SOAR_RUN_TIMEOUT_SECONDS', value: '5' },
          ],
        },
        { id: 't3', type: 'tab', label: 'Only a config node' },
        { id: 'c1', type: 'soar-device', z: 't3' },
        { id: 'n3', type: 'inject', z: 't3', wires: [[]] },
        { id: 'sf', type: 'subflow', name: 'Sub' },
        { id: 'n4', type: 'soar-case', z: 'sf', wires: [[]] },
      ],
      300,
    );
    assert.deepEqual(Object.fromEntries(tabs), {
      t1: { id: 'perimeter-ioc-hit-suricata', version: '0.0.0', flow: 't1', timeoutMs: 300_000 },
      t2: { id: 'named-one', version: '2.1.0', flow: 't2', timeoutMs: 5000 },
    });
  });
});

describe('parseRunQuery', () => {
  it('reads filters and paging, and says what is wrong', () => {
    assert.deepEqual(parseRunQuery({ playbook: 'p', case: 'CASE-1', outcome: 'failure', limit: '5', offset: '10' }), {
      playbook: 'p',
      caseId: 'CASE-1',
      outcome: 'failure',
      limit: 5,
      offset: 10,
    });
    assert.deepEqual(parseRunQuery({}), {
      playbook: undefined,
      caseId: undefined,
      outcome: undefined,
      limit: 50,
      offset: 0,
    });
    assert.throws(() => parseRunQuery({ outcome: 'maybe' }), RunQueryError);
    assert.throws(() => parseRunQuery({ limit: '501' }), /limit must be a whole number 0..500/);
    assert.throws(() => parseRunQuery({ playbook: ['a', 'b'] }), /playbook must be given once/);
  });
});
