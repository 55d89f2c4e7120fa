import assert from 'node:assert/strict';
import { triggerFeeds } from '../../../lib/hunt';

describe('triggerFeeds (which feeds a soar-ioc-feed report names)', () => {
  const report = { accepted: 1, rejected: 0, unsupported: 0, errors: [], indicators: 1, durationMs: 3 };

  it('names the changed files of a folder feed', () => {
    const folder = {
      ...report,
      feed: 'feeds',
      changed: true,
      files: [
        { ...report, feed: 'feeds/c2.txt', changed: true },
        { ...report, feed: 'feeds/old.csv', changed: false },
      ],
      removed: [],
    };
    assert.deepEqual(triggerFeeds(folder), { feeds: ['feeds/c2.txt'], nothingNew: false });
  });

  it('says nothing is new for an unchanged refresh, a folder that only lost files, and a retraction', () => {
    assert.deepEqual(triggerFeeds({ ...report, feed: 'abuse', changed: false }), { feeds: [], nothingNew: true });
    assert.deepEqual(triggerFeeds({ ...report, feed: 'feeds', changed: true, files: [], removed: ['feeds/x'] }), {
      feeds: [],
      nothingNew: true,
    });
    assert.deepEqual(triggerFeeds({ feed: 'abuse', removed: ['abuse'] }), { feeds: [], nothingNew: true });
  });

  it('names a single feed that changed', () => {
    assert.deepEqual(triggerFeeds({ ...report, feed: 'feodo', changed: true }), {
      feeds: ['feodo'],
      nothingNew: false,
    });
  });

  it('hunts with every feed for any other trigger', () => {
    assert.deepEqual(triggerFeeds(1764324000000), { nothingNew: false });
    assert.deepEqual(triggerFeeds({ hello: 'world' }), { nothingNew: false });
    assert.deepEqual(triggerFeeds(undefined), { nothingNew: false });
  });
});
