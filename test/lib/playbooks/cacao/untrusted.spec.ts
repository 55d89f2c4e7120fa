import assert from 'node:assert/strict';
import { cacaoToFlow, CacaoError, EXTENSION_ID, validateCacao, type FlowNode } from '../../../../lib/playbooks/cacao';
import { MAX_STEPS } from '../../../../lib/playbooks/cacao/limits';

const ACTION = 'action--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a12';

/** A valid playbook whose one action step carries our extension (the reviewer's reproduction). */
function withExtension(ext: unknown): Record<string, unknown> & { workflow: Record<string, Record<string, unknown>> } {
  return {
    type: 'playbook',
    spec_version: 'cacao-2.0',
    id: 'playbook--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a1a',
    name: 'x',
    created_by: 'identity--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a1b',
    created: '2024-01-01T00:00:00Z',
    modified: '2024-01-01T00:00:00Z',
    workflow_start: 'start--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a11',
    workflow: {
      'start--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a11': { type: 'start', on_completion: ACTION },
      [ACTION]: {
        type: 'action',
        name: 'innocent',
        commands: [{ type: 'manual', command: 'look' }],
        on_completion: 'end--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a13',
        step_extensions: { [EXTENSION_ID]: ext },
      },
      'end--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a13': { type: 'end' },
    },
  };
}

function imported(ext: unknown, options?: { trusted?: boolean }): { node: FlowNode; warnings: string[] } {
  const { nodes, warnings } = cacaoToFlow(withExtension(ext), options);
  const node = nodes.find((n) => String(n.info).includes(`CACAO step \`${ACTION}\``));
  assert.ok(node, 'the step became a node');
  return { node, warnings };
}

/** The lines of a function body that are not comments. */
function code(node: FlowNode): string[] {
  return String(node.func)
    .split(/\r\n|[\n\r\u2028\u2029]/)
    .filter((line) => !line.startsWith('//'));
}

function refusedWith(doc: unknown, reason: RegExp): void {
  assert.throws(
    () => cacaoToFlow(doc),
    (error: unknown) => {
      assert.ok(error instanceof CacaoError, `a CacaoError, not ${String(error)}`);
      assert.ok(
        error.reasons.some((r) => reason.test(r)),
        `expected a reason matching ${String(reason)}, got:\n${error.reasons.join('\n')}`,
      );
      return true;
    },
  );
}

describe('CACAO 2.0 import of a document nobody vouches for', function () {
  const EVIL_FUNCTION = {
    role: 'node',
    node_type: 'function',
    config: {
      func: 'return msg;',
      initialize: "require('child_process').execSync('id > /tmp/pwned')",
      libs: [{ var: 'cp', module: 'child_process' }],
    },
    outputs: 1,
  };

  it('turns a function node with initialize code and libs into a placeholder that runs nothing', function () {
    const { node, warnings } = imported(EVIL_FUNCTION);
    assert.equal(node.type, 'function');
    assert.deepEqual(code(node), ['return msg;']);
    assert.equal(node.initialize, '');
    assert.equal(node.finalize, '');
    assert.deepEqual(node.libs, []);
    assert.match(String(node.info), /execSync/, 'the analyst can read what the document asked for');
    assert.equal(node.wires!.length, 1);
    assert.ok(
      warnings.some((w) => /"innocent" \(action--.*\): a "function" node is not restored/.test(w)),
      warnings.join('\n'),
    );
  });

  it('turns a file node that would overwrite settings.js into a placeholder', function () {
    const { node } = imported({
      role: 'node',
      node_type: 'file',
      config: { filename: '/root/.node-red/settings.js', appendNewline: false, overwriteFile: 'true' },
      outputs: 1,
    });
    assert.equal(node.type, 'function');
    assert.equal(node.filename, undefined);
    assert.equal(node.overwriteFile, undefined);
    assert.deepEqual(code(node), ['return msg;']);
  });

  it('turns an inject node that fires on its own into a placeholder', function () {
    const { node } = imported({ role: 'node', node_type: 'inject', config: { once: true, repeat: '1' }, outputs: 1 });
    assert.equal(node.type, 'function');
    assert.equal(node.once, undefined);
    assert.equal(node.repeat, undefined);
  });

  it('restores an inert node without code, commands, files, URLs, once or credentials', function () {
    const { node, warnings } = imported({
      role: 'node',
      node_type: 'change',
      config: {
        name: 'set',
        rules: [{ t: 'set', p: 'topic', pt: 'msg', to: 'x', tot: 'str' }],
        func: 'process.exit()',
        url: 'http://169.254.169.254/',
        filename: '/etc/passwd',
        once: true,
        credentials: { password: 'p' },
        libs: [],
      },
      outputs: 1,
    });
    assert.equal(node.type, 'change');
    assert.deepEqual(node.rules, [{ t: 'set', p: 'topic', pt: 'msg', to: 'x', tot: 'str' }]);
    for (const key of ['func', 'url', 'filename', 'once', 'credentials']) assert.equal(node[key], undefined, key);
    assert.deepEqual(node.libs, [], 'an empty value is harmless and kept');
    assert.ok(
      warnings.some((w) =>
        /"func", "url", "filename", "once", "credentials" of the "change" node not restored/.test(w),
      ),
      warnings.join('\n'),
    );
  });

  it('never takes a number of outputs from the configuration', function () {
    const { node } = imported({
      role: 'node',
      node_type: 'switch',
      config: { outputs: 100000, rules: [] },
      outputs: 2,
    });
    assert.equal(node.outputs, 2);
    assert.equal(node.wires!.length, 2);
  });

  it('restores everything, code included, only when the caller trusts the document', function () {
    const { node, warnings } = imported(EVIL_FUNCTION, { trusted: true });
    assert.equal(node.initialize, EVIL_FUNCTION.config.initialize);
    assert.deepEqual(node.libs, EVIL_FUNCTION.config.libs);
    assert.ok(warnings.some((w) => /restores a node of type "function"/.test(w)));
    const withCredentials = imported(
      { role: 'node', node_type: 'debug', config: { credentials: { password: 'p' } }, outputs: 0 },
      { trusted: true },
    );
    assert.equal(withCredentials.node.credentials, undefined, 'credentials never come from a document');
  });
});

describe('CACAO 2.0 import of a malformed extension', function () {
  const base = `workflow.${ACTION}.step_extensions.${EXTENSION_ID}`;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('refuses a huge number of outputs at once, without allocating them', function () {
    const started = Date.now();
    refusedWith(
      withExtension({ role: 'node', node_type: 'debug', outputs: 3e7 }),
      new RegExp(`^${esc(base)}\\.outputs: must be <= 64`),
    );
    assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
  });

  it('refuses wired that is no list, or names an output the node lacks', function () {
    refusedWith(
      withExtension({ role: 'node', node_type: 'debug', outputs: 1, wired: 5 }),
      new RegExp(`^${esc(base)}\\.wired: must be array`),
    );
    refusedWith(
      withExtension({ role: 'node', node_type: 'debug', outputs: 1, wired: [0, 3] }),
      new RegExp(`^${esc(base)}\\.wired: output 3 of a node with 1 outputs`),
    );
  });

  it('refuses ports that are not a list of labels, one per output', function () {
    refusedWith(
      withExtension({ role: 'node', node_type: 'switch', outputs: 1, ports: 'x' }),
      new RegExp(`^${esc(base)}\\.ports: must be array`),
    );
    refusedWith(
      withExtension({ role: 'node', node_type: 'switch', outputs: 1, ports: ['a', 'b'] }),
      new RegExp(`^${esc(base)}\\.ports: 2 labels for a node with 1 outputs`),
    );
  });

  it('refuses an unknown role, a node type that is no type name, and config that is no object', function () {
    refusedWith(withExtension({ role: 'boss' }), new RegExp(`^${esc(base)}\\.role: must be one of "node"`));
    refusedWith(
      withExtension({ role: 'node', node_type: 'function"); process.exit(', outputs: 1 }),
      new RegExp(`^${esc(base)}\\.node_type: must match pattern`),
    );
    refusedWith(
      withExtension({ role: 'node', node_type: 'debug', outputs: 1, config: 'x' }),
      new RegExp(`^${esc(base)}\\.config: must be object`),
    );
    refusedWith(withExtension({ role: 'node', config: {} }), /must have required property 'node_type'/);
  });

  it('refuses a playbook extension whose id or version is not text', function () {
    const doc = withExtension({ role: 'end' });
    doc.playbook_extensions = { [EXTENSION_ID]: { playbook_id: { $gt: '' }, playbook_version: '1.0.0' } };
    refusedWith(doc, new RegExp(`^playbook_extensions\\.${esc(EXTENSION_ID)}\\.playbook_id: must be string`));
  });
});

describe('CACAO 2.0 document bounds', function () {
  it(`refuses a workflow of more than ${MAX_STEPS} steps with the reason, without checking it`, function () {
    const doc = withExtension({ role: 'end' });
    for (let i = 0; i <= MAX_STEPS; i++) {
      doc.workflow[`end--00000000-0000-4000-8000-${String(i).padStart(12, '0')}`] = { type: 'end' };
    }
    const started = Date.now();
    refusedWith(doc, new RegExp(`^too large: workflow has ${MAX_STEPS + 4} steps; at most ${MAX_STEPS}`));
    assert.ok(Date.now() - started < 1000, `took ${Date.now() - started} ms`);
  });

  it('refuses a string of more than a million characters, naming where it is', function () {
    const doc = withExtension({ role: 'end' });
    doc.description = 'x'.repeat(1_000_001);
    refusedWith(doc, /^too large: description is 1000001 characters long/);
  });

  it('refuses a document nested deeper than any playbook is', function () {
    const doc = withExtension({ role: 'end' });
    let deep: Record<string, unknown> = {};
    doc.x_deep = deep;
    for (let i = 0; i < 100; i++) deep = (deep.a = {}) as Record<string, unknown>;
    refusedWith(doc, /^too large: x_deep(\.a)+ is nested more than 64 levels deep/);
  });

  it('checks a large but acceptable workflow in reasonable time', function () {
    // A chain of steps: the deepest recursion and the slowest "can it finish" pass the checks have.
    const doc = withExtension({ role: 'end' });
    const ids = Array.from(
      { length: 2000 },
      (_, i) => `action--00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    );
    const end = 'end--a3c9c3a9-1111-4c1e-9c6a-5f1a1a1a1a13';
    ids.forEach((id, i) => {
      doc.workflow[id] = {
        type: 'action',
        commands: [{ type: 'manual', command: 'check' }],
        on_completion: ids[i + 1] ?? end,
      };
    });
    (doc.workflow[ACTION] as Record<string, unknown>).on_completion = ids[0];
    const started = Date.now();
    const result = validateCacao(doc);
    assert.deepEqual(result.errors, []);
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});
