import assert from 'node:assert/strict';
import { eventTime, toIsoTime } from '../../../lib/alert/time';

describe('alert times', () => {
  it('converts ISO 8601 with an offset to UTC, with or without a colon in the offset', () => {
    assert.equal(toIsoTime('2017-04-07T22:24:37.251547+0100'), '2017-04-07T21:24:37.251Z');
    assert.equal(toIsoTime('2022-05-11T12:29:19.905-06:00'), '2022-05-11T18:29:19.905Z');
    assert.equal(toIsoTime('2020-07-20T18:21:53.6158361Z'), '2020-07-20T18:21:53.615Z');
  });

  it('reads a time without a zone as UTC', () => {
    assert.equal(toIsoTime('2019-01-02T03:50:11.315110'), '2019-01-02T03:50:11.315Z');
    assert.equal(toIsoTime('2019-01-02 03:50'), '2019-01-02T03:50:00.000Z');
  });

  it('reads epoch seconds and milliseconds by magnitude, as numbers or strings', () => {
    assert.equal(toIsoTime(1739539623), '2025-02-14T13:27:03.000Z');
    assert.equal(toIsoTime('1483557272'), '2017-01-04T19:14:32.000Z');
    assert.equal(toIsoTime(1447295092377), '2015-11-12T02:24:52.377Z');
    assert.equal(toIsoTime('1689867325810'), '2023-07-20T15:35:25.810Z');
  });

  it('rejects impossible dates and things that are not times', () => {
    for (const v of [
      '2023-02-31T00:00:00Z',
      '2023-13-01T00:00:00Z',
      '2023-01-01T24:00:00Z',
      'yesterday',
      '',
      null,
      {},
      NaN,
      -5,
    ]) {
      assert.equal(toIsoTime(v), undefined, String(v));
    }
  });

  it('uses the first valid candidate and falls back to the received time', () => {
    const received = '2024-01-01T00:00:00.000Z';
    assert.equal(eventTime(received, undefined, 'garbage', '2020-01-01T00:00:00Z'), '2020-01-01T00:00:00.000Z');
    assert.equal(eventTime(received, 'garbage'), received);
  });
});
