import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  exportPlaybook,
  scanInstalledTypes,
  validatePackage,
  type FlowNode,
  type PlaybookPackage,
} from '../../../../lib/playbooks/package';

const ROOT = join(__dirname, '..', '..', '..', '..');
const flows = JSON.parse(readFileSync(join(ROOT, 'flows', 'default.json'), 'utf8')) as FlowNode[];
const pkg = exportPlaybook(flows, 'soar.tab.intake', { index: scanInstalledTypes() }).pkg;
const changed = (change: (p: PlaybookPackage) => void) => {
  const copy = structuredClone(pkg);
  change(copy);
  return validatePackage(copy);
};

describe('playbook packages: validate', () => {
  it('accepts an exported package', () => {
    assert.deepEqual(validatePackage(pkg), { valid: true, errors: [], warnings: [], codeNodes: [] });
  });

  it('says what is wrong with the shape, naming the field', () => {
    const result = changed((p) => {
      (p.playbook as { id: unknown }).id = 'has spaces';
      p.playbook.attack = ['phishing'];
      (p.requires as { capabilities: unknown }).capabilities = 'block-ip';
    });
    assert.equal(result.valid, false);
    assert.ok(
      result.errors.some((e) => /^playbook\.id must match pattern/.test(e)),
      result.errors.join('\n'),
    );
    assert.ok(result.errors.some((e) => /^playbook\.attack\.0 must match pattern/.test(e)));
    assert.ok(result.errors.some((e) => /^requires\.capabilities must be array/.test(e)));
  });

  it('finds what a schema cannot: the root not first, duplicate ids, nodes on a tab outside the package', () => {
    const result = changed((p) => {
      p.flow.reverse();
      p.flow.push({ ...p.flow[0] });
      p.flow.push({ id: 'stray', type: 'debug', z: 'elsewhere' });
    });
    assert.equal(result.valid, false);
    assert.ok(
      result.errors.some((e) => /^flow\[0\] must be the tab node/.test(e)),
      result.errors.join('\n'),
    );
    assert.ok(result.errors.some((e) => /is used twice/.test(e)));
    assert.ok(result.errors.includes('node stray (debug) is on elsewhere, which is not in the package'));
  });

  it('refuses a package from a newer format, saying to update', () => {
    const result = changed((p) => {
      p.formatVersion = 2;
    });
    assert.match(
      result.errors[0],
      /format version 2; this node-red-contrib-soar reads 1: update node-red-contrib-soar/,
    );
  });

  it('warns about wires to nodes that are not in the package', () => {
    const result = changed((p) => {
      (p.flow.find((n) => n.type === 'soar-rule')!.wires as string[][])[0].push('gone');
    });
    assert.equal(result.valid, true);
    assert.match(result.warnings[0], /is wired to gone, which is not in the package/);
  });
});
