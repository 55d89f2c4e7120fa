import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteCaseStore, validatePatch } from '../../../lib/cases';
import { tempDir } from '../../helpers/tmp';
import { caseStoreConformance } from './case-store.conformance';

caseStoreConformance('SqliteCaseStore', async () => {
  const tmp = tempDir();
  const file = join(tmp.dir, 'store.db');
  let store = new SqliteCaseStore(file);
  return {
    store,
    async reopen() {
      store.close();
      return (store = new SqliteCaseStore(file));
    },
    async dispose() {
      store.close();
      tmp.cleanup();
    },
  };
});

describe('case patches', () => {
  it('validates a patch before anything is written', () => {
    assert.deepEqual(validatePatch({ status: 'resolved', note: 'fp' }), { status: 'resolved', note: 'fp' });
    assert.throws(() => validatePatch({ status: 'done' }), /invalid status "done"/);
    assert.throws(() => validatePatch({ owner: 'x' }), /unknown field "owner"/);
    assert.throws(() => validatePatch({}), /nothing to update/);
    assert.throws(() => validatePatch([]), /expected an object/);
  });
});
