import { strict as assert } from 'node:assert';
import { parseIds, rowsToGroups } from '../../../lib/ioc/ioc-store';

describe('lib/ioc/ioc-store (stored rows back as groups)', () => {
  it('reads comma-separated metadata ids, and anything but a decimal number as -1 (no record)', () => {
    assert.deepEqual([...parseIds('0,12,3')], [0, 12, 3]);
    assert.deepEqual([...parseIds('1,,x2,07,-4,1234567890')], [1, -1, -1, 7, -1, -1]);
    assert.deepEqual([...parseIds('5')], [5]);
  });

  it('gives records with equal tag and ATT&CK lists one array each, and keeps unequal ones apart', () => {
    const metas = [
      { confidence: 50, tlp: 'clear', tags: ['c2', 'emotet'], attack: ['T1071.001'] },
      { confidence: 60, tlp: 'clear', tags: ['c2', 'emotet'], attack: ['T1071.001'] },
      { confidence: 70, tlp: 'clear', tags: ['c2'], attack: [] },
      { confidence: 80, tlp: 'clear', tags: ['c2\nemotet'], attack: [] },
      { confidence: 90, tlp: 'clear', tags: ['c2'], attack: [] },
    ];
    const [group] = rowsToGroups(JSON.stringify(metas), [
      {
        type: 'domain',
        meta: 0,
        ioc_values: 'a.example\nb.example\nc.example\nd.example\ne.example',
        refs: null,
        meta_ids: '0,1,2,3,4',
      },
    ]);
    const read = group.metas!;
    assert.deepEqual(read, metas);
    assert.equal(read[0].tags, read[1].tags);
    assert.equal(read[0].attack, read[1].attack);
    assert.notEqual(read[0].tags, read[2].tags);
    assert.notEqual(read[3].tags, read[0].tags);
    assert.equal(read[4].tags, read[2].tags);
    assert.deepEqual([...(group.metaIds as Int32Array)], [0, 1, 2, 3, 4]);
  });
});
