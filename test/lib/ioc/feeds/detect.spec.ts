import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CSV_PRESETS,
  FeedFormatError,
  parseCsvFeed,
  parseFeedContent,
  parseFireholList,
  parseMispEvent,
  parsePlainList,
  parseStixBundle,
  recogniseCsvPreset,
} from '../../../../lib/ioc/feeds';

const SAMPLES = join(__dirname, '../../../fixtures/samples');
const read = (path: string): string => readFileSync(join(SAMPLES, path), 'utf8');

describe('ioc/feeds/detect', () => {
  it('recognises each sample feed file and parses it as its own parser does', () => {
    const cases: [string, string, () => unknown][] = [
      [
        'stix/oasis-indicator-for-c2-ip-address.json',
        'stix',
        () => parseStixBundle(JSON.parse(read('stix/oasis-indicator-for-c2-ip-address.json'))),
      ],
      [
        'misp/feed/5b646415-7b48-40d5-86b4-c0070acd0835.json',
        'misp',
        () => parseMispEvent(JSON.parse(read('misp/feed/5b646415-7b48-40d5-86b4-c0070acd0835.json'))),
      ],
      [
        'threat-intel-feeds/firehol-format-feodo.ipset',
        'firehol',
        () => parseFireholList(read('threat-intel-feeds/firehol-format-feodo.ipset')),
      ],
      [
        'threat-intel-feeds/threatfox-ioc-ips-first1000.txt',
        'plain',
        () => parsePlainList(read('threat-intel-feeds/threatfox-ioc-ips-first1000.txt')),
      ],
      [
        'threat-intel-feeds/intelmq-fixture-abusech-feodo-domains-2016.txt',
        'plain',
        () => parsePlainList(read('threat-intel-feeds/intelmq-fixture-abusech-feodo-domains-2016.txt')),
      ],
      [
        'threat-intel-feeds/abusech-feodotracker-ipblocklist-2024-04-04.csv',
        'csv',
        () =>
          parseCsvFeed(
            read('threat-intel-feeds/abusech-feodotracker-ipblocklist-2024-04-04.csv'),
            CSV_PRESETS.feodoTracker,
          ),
      ],
      [
        'threat-intel-feeds/intelmq-fixture-abusech-urlhaus-tld-feed-2019.csv',
        'csv',
        () =>
          parseCsvFeed(
            read('threat-intel-feeds/intelmq-fixture-abusech-urlhaus-tld-feed-2019.csv'),
            CSV_PRESETS.urlhaus,
          ),
      ],
    ];
    for (const [path, format, direct] of cases) {
      const {
        format: got,
        csvPreset: _preset,
        context: _context,
        ...report
      } = parseFeedContent(read(path), { name: path });
      assert.equal(got, format, path);
      const expected = { ...(direct() as Record<string, unknown>) };
      delete expected.context;
      assert.deepEqual(report, expected, path);
      assert.ok(report.indicators.length > 0, path);
    }
  });

  it('names the abuse.ch CSV layouts from their column names, in header lines and comments', () => {
    assert.equal(
      recogniseCsvPreset(read('threat-intel-feeds/abusech-feodotracker-ipblocklist-2024-04-04.csv')),
      'feodoTracker',
    );
    assert.equal(
      recogniseCsvPreset(read('threat-intel-feeds/intelmq-fixture-abusech-feodo-ipblocklist-2019.csv')),
      'feodoTracker',
    );
    assert.equal(
      recogniseCsvPreset(read('threat-intel-feeds/intelmq-fixture-abusech-urlhaus-tld-feed-2019.csv')),
      'urlhaus',
    );
    assert.equal(
      recogniseCsvPreset(
        '# "first_seen_utc","ioc_id","ioc_value","ioc_type"\n"2024-01-01 00:00:00","1","evil.example","domain"\n',
      ),
      'threatFox',
    );
    assert.equal(recogniseCsvPreset('1.2.3.4\n5.6.7.8\n'), undefined);
  });

  it('reads a parsed object as STIX or MISP and a Buffer as text', () => {
    const bundle = JSON.parse(read('stix/oasis-indicator-for-c2-ip-address.json')) as unknown;
    assert.equal(parseFeedContent(bundle as object).format, 'stix');
    const plain = parseFeedContent(Buffer.from('\uFEFF45.155.205.1\nevil.example\n'));
    assert.equal(plain.format, 'plain');
    assert.deepEqual(
      plain.indicators.map((i) => i.type),
      ['ipv4', 'domain'],
    );
  });

  it('explains what it cannot read', () => {
    assert.throws(() => parseFeedContent('{"hello": 1}'), FeedFormatError);
    assert.throws(() => parseFeedContent('{not json'), /not JSON/);
    assert.throws(() => parseFeedContent(read('misp/feed/manifest.json')), /MISP feed manifest/);
    assert.throws(() => parseFeedContent('a,b\n1,2\n', { name: 'x.csv' }), /CSV columns not recognised/);
    assert.throws(() => parseFeedContent({ a: 1 }, { format: 'plain' }), /must be text/);
  });
});
