import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeenIds } from '../../../lib/intake/seen-ids';

/** What SeenIds stands for: a Map in insertion order, a re-received id moved to the end, the oldest dropped past max. */
class MapModel {
  readonly map = new Map<string, number>();
  constructor(private readonly max: number) {}
  set(id: string, received: number): void {
    this.map.delete(id);
    this.map.set(id, received);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  forgetBefore(before: number): void {
    for (const [id, received] of this.map) {
      if (received >= before) break;
      this.map.delete(id);
    }
  }
}

describe('SeenIds', () => {
  it('answers as a Map of id → time of receipt, in order of receipt, over any sequence of receipts and prunes', () => {
    const id = fc.integer({ min: 0, max: 60 }).map((n) => `suricata:${n}`);
    const op = fc.oneof(
      { arbitrary: fc.record({ set: id }), weight: 6 },
      { arbitrary: fc.record({ forget: fc.integer({ min: 0, max: 40 }) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.array(op, { maxLength: 400 }), (max, ops) => {
        const seen = new SeenIds(max, 2);
        const model = new MapModel(max);
        let clock = 0;
        for (const o of ops) {
          if ('set' in o) {
            clock++;
            seen.set(o.set, clock);
            model.set(o.set, clock);
          } else {
            // Receipt times only grow, so "before" is a time in the past.
            const before = clock - o.forget;
            seen.forgetBefore(before);
            model.forgetBefore(before);
          }
          assert.equal(seen.size, model.map.size);
        }
        for (let n = 0; n <= 60; n++) assert.equal(seen.get(`suricata:${n}`), model.map.get(`suricata:${n}`));
      }),
      { numRuns: 300 },
    );
  });

  it('holds half a million ids in typed arrays of about 34 bytes each, finds each of them, and forgets past its cap', () => {
    const count = 500_000;
    const seen = new SeenIds(count);
    for (let i = 0; i < count; i++) seen.set(`suricata:1676750115612680:${i}`, 1_700_000_000_000 + i);
    assert.equal(seen.size, count);
    assert.ok(seen.bytes < 36 * count, `${(seen.bytes / count).toFixed(1)} bytes per id`);
    for (let i = 0; i < count; i += 97) assert.equal(seen.get(`suricata:1676750115612680:${i}`), 1_700_000_000_000 + i);
    assert.equal(seen.get(`suricata:1676750115612680:${count}`), undefined);
    // One more id forgets the oldest.
    seen.set('one more', 1);
    assert.equal(seen.size, count);
    assert.equal(seen.get('suricata:1676750115612680:0'), undefined);
    assert.equal(seen.get('suricata:1676750115612680:1'), 1_700_000_000_001);
  });
});
