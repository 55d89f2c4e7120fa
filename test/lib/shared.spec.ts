import assert from 'node:assert/strict';
import { SharedResources } from '../../lib/shared';

describe('SharedResources', () => {
  it('opens once per key, counts users and closes after the last one', () => {
    const closed: string[] = [];
    const shared = new SharedResources<{ name: string }>((r) => closed.push(r.name));
    let opened = 0;
    const open = () => ({ name: `r${++opened}` });
    const a = shared.acquire('k', open);
    assert.equal(shared.acquire('k', open), a);
    assert.equal(opened, 1);
    shared.release('k');
    assert.deepEqual(closed, []);
    shared.release('k');
    assert.deepEqual(closed, ['r1']);
    assert.equal(shared.peek('k'), undefined);
    shared.release('k'); // one release too many changes nothing
    assert.notEqual(shared.acquire('k', open), a, 'opened anew');
  });

  it('keeps a released resource through the grace period when it is taken again', async () => {
    const closed: string[] = [];
    const shared = new SharedResources<string>((r) => closed.push(r));
    shared.acquire('k', () => 'x');
    shared.release('k', 20);
    assert.equal(
      shared.acquire('k', () => 'y'),
      'x',
    );
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(closed, []);
    shared.release('k', 20);
    await new Promise((r) => setTimeout(r, 40));
    assert.deepEqual(closed, ['x']);
  });
});
