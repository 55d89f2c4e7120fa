import assert from 'node:assert/strict';
import { compareVersions, isSemver } from '../../../../lib/playbooks/package';

describe('playbook packages: versions', () => {
  it('orders versions as semver does, pre-releases before their release', () => {
    const sorted = [
      '0.0.0',
      '0.9.0',
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-beta',
      '1.0.0-rc.1',
      '1.0.0',
      '1.2.0',
      '1.10.0',
      '2.0.0',
    ];
    for (let i = 0; i < sorted.length - 1; i++) {
      assert.equal(compareVersions(sorted[i], sorted[i + 1]), -1, `${sorted[i]} < ${sorted[i + 1]}`);
      assert.equal(compareVersions(sorted[i + 1], sorted[i]), 1);
    }
    assert.equal(compareVersions('1.2.3+build.5', '1.2.3'), 0);
  });

  it('refuses what is not a version', () => {
    assert.equal(isSemver('v1.0'), false);
    assert.throws(() => compareVersions('1.0', '1.0.0'), /not a semantic version: "1\.0"/);
  });
});
