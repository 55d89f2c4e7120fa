import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IocIndex, type Indicator } from '../../../../lib/ioc';
import {
  CSV_PRESETS,
  fireholHeader,
  guessIndicatorType,
  parseCsvFeed,
  parseFireholList,
  parsePlainList,
  splitCsvLine,
} from '../../../../lib/ioc/feeds/lists';

const DIR = join(__dirname, '../../../fixtures/samples/threat-intel-feeds');

function read(name: string): string {
  return readFileSync(join(DIR, name), 'utf8');
}

/** Independent count: non-blank lines that are not `#` comments. */
function dataLines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'));
}

function loadsCleanly(indicators: Indicator[], feed = 'f'): void {
  const r = new IocIndex({ defaultAllowlists: false }).replaceFeed(feed, indicators);
  assert.equal(r.rejected, 0, JSON.stringify(r.errors));
}

describe('ioc/feeds/lists', () => {
  it('guesses indicator types', () => {
    const cases: [string, string | undefined][] = [
      ['192.0.2.1', 'ipv4'],
      ['192.0.2.0/24', 'cidr'],
      ['2001:db8::1', 'ipv6'],
      ['2001:db8::/32', 'cidr'],
      ['http://evil.example/x', 'url'],
      ['evil.example', 'domain'],
      ['a@evil.example', 'email'],
      ['d41d8cd98f00b204e9800998ecf8427e', 'md5'],
      ['da39a3ee5e6b4b0d3255bfef95601890afd80709', 'sha1'],
      ['e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256'],
      ['999.1.1.1', undefined],
      ['not a value', undefined],
      ['1.2.3.4/40', undefined],
    ];
    for (const [value, type] of cases) assert.equal(guessIndicatorType(value), type, value);
  });

  it('parses a plain IP list (ThreatFox IPs)', () => {
    const text = read('threatfox-ioc-ips-first1000.txt');
    const r = parsePlainList(text, { feed: 'threatfox' });
    assert.equal(r.indicators.length, dataLines(text).length);
    assert.equal(r.unsupported, 0);
    assert.ok(r.indicators.every((i) => i.type === 'ipv4' && i.feed === 'threatfox'));
    loadsCleanly(r.indicators, 'threatfox');
  });

  it('parses a plain domain list between # START / # END', () => {
    const text = read('intelmq-fixture-abusech-feodo-domains-2016.txt');
    const r = parsePlainList(text);
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}`),
      dataLines(text).map((l) => `domain:${l.trim()}`),
    );
  });

  for (const file of ['firehol-format-feodo.ipset', 'firehol-format-feodo_badips.ipset']) {
    it(`parses the FireHOL list ${file}`, () => {
      const text = read(file);
      const r = parseFireholList(text, { tags: ['feodo'] });
      assert.equal(r.indicators.length, dataLines(text).length);
      assert.equal(r.unsupported, 0);
      assert.deepEqual(r.indicators[0].tags, ['feodo']);
      const header = fireholHeader(text);
      assert.equal(header.Maintainer, 'Abuse.ch');
      if (header.Entries !== undefined) assert.match(header.Entries, new RegExp(`${r.indicators.length}`));
      loadsCleanly(r.indicators);
    });
  }

  it('counts what a plain or FireHOL list cannot use and handles inline comments', () => {
    const r = parseFireholList('# x\n10.0.0.0/8 ; private\n198.51.100.1 # c2\nevil.example\n\n2001:db8::/48\n');
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}`),
      ['cidr:10.0.0.0/8', 'ipv4:198.51.100.1', 'cidr:2001:db8::/48'],
    );
    assert.equal(r.unsupported, 1);
    const forced = parsePlainList('Evil.Example\n1.2.3.4:8080\n???\n', { type: 'domain' });
    assert.deepEqual(
      forced.indicators.map((i) => `${i.type}:${i.value}`),
      ['domain:Evil.Example', 'domain:1.2.3.4', 'domain:???'],
    );
    assert.equal(parsePlainList('???\n').unsupported, 1);
    assert.deepEqual(
      parsePlainList('http://evil.example/a#b;c\nevil.example;x\n').indicators.map((i) => i.value),
      ['http://evil.example/a#b;c', 'evil.example'],
    );
  });

  it('parses the current Feodo Tracker CSV (header line)', () => {
    const text = read('abusech-feodotracker-ipblocklist-2024-04-04.csv');
    const r = parseCsvFeed(text, CSV_PRESETS.feodoTracker);
    assert.deepEqual(r.errors, []);
    assert.equal(r.indicators.length, dataLines(text).length - 1);
    assert.match(text, new RegExp(`# END ${r.indicators.length} entries`));
    assert.deepEqual(r.indicators[0], {
      type: 'ipv4',
      value: '192.9.135.73',
      confidence: 50,
      tlp: 'amber',
      tags: ['Pikabot'],
      attack: [],
      firstSeen: '2023-05-23T17:51:44.000Z',
      lastSeen: '2024-04-01T00:00:00.000Z',
    });
    loadsCleanly(r.indicators);
  });

  it('parses the 2019 Feodo Tracker CSV (header in a comment)', () => {
    const text = read('intelmq-fixture-abusech-feodo-ipblocklist-2019.csv');
    const r = parseCsvFeed(text, CSV_PRESETS.feodoTracker);
    assert.deepEqual(r.errors, []);
    assert.equal(r.indicators.length, dataLines(text).length);
    assert.equal(r.indicators[0].value, '110.93.230.101');
    assert.deepEqual(r.indicators[0].tags, ['Heodo']);
  });

  it('parses the URLhaus TLD CSV', () => {
    const text = read('intelmq-fixture-abusech-urlhaus-tld-feed-2019.csv');
    const r = parseCsvFeed(text, CSV_PRESETS.urlhaus, { tlp: 'clear' });
    assert.deepEqual(r.errors, []);
    assert.equal(r.indicators.length, dataLines(text).length);
    assert.equal(r.indicators[0].type, 'url');
    assert.equal(r.indicators[0].value, 'http://marconuenlist.ch/verif.accounts.docs.net/');
    assert.deepEqual(r.indicators[0].tags, ['malware_download']);
    assert.equal(r.indicators[0].firstSeen, '2019-02-13T00:34:42.000Z');
    loadsCleanly(r.indicators);
  });

  it('parses a ThreatFox CSV export with a type column (synthetic, documented layout)', () => {
    const text = [
      '# ThreatFox IOCs: CSV export',
      '# "first_seen_utc","ioc_id","ioc_value","ioc_type","threat_type","fk_malware","malware_alias","malware_printable","last_seen_utc","confidence_level","reference","tags","anonymous","reporter"',
      '"2024-04-01 10:00:00", "1", "198.51.100.9:443", "ip:port", "botnet_cc", "win.cobalt", "", "Cobalt Strike", "", "75", "", "c2,cs", "0", "x"',
      '"2024-04-01 10:00:00", "2", "evil.example", "domain", "payload_delivery", "", "", "Unknown", "", "100", "", "None", "0", "x"',
      '"2024-04-01 10:00:00", "3", "d41d8cd98f00b204e9800998ecf8427e", "md5_hash", "payload", "", "", "Emotet", "", "50", "", "", "0", "x"',
      '"2024-04-01 10:00:00", "4", "abc", "sha3_384_hash", "payload", "", "", "Emotet", "", "50", "", "", "0", "x"',
      '"2024-04-01 10:00:00", "5", "", "url", "payload", "", "", "Emotet", "", "50", "", "", "0", "x"',
      '"2024-04-01 10:00:00", "6, "broken',
      '# Number of entries: 6',
    ].join('\n');
    const r = parseCsvFeed(text, CSV_PRESETS.threatFox);
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}:${i.confidence}:${i.tags.join('|')}`),
      [
        'ipv4:198.51.100.9:75:botnet_cc|Cobalt Strike|c2|cs',
        'domain:evil.example:100:payload_delivery|Unknown',
        'md5:d41d8cd98f00b204e9800998ecf8427e:50:payload|Emotet',
      ],
    );
    assert.equal(r.unsupported, 1);
    assert.deepEqual(
      r.errors.map((e) => e.index),
      [6, 7],
    );
    loadsCleanly(r.indicators);
  });

  it('takes numeric columns, other delimiters and no header', () => {
    const r = parseCsvFeed('# comment\nevil.example;2024-01-02;phishing\n192.0.2.5;;\n', {
      value: 0,
      firstSeen: 1,
      tags: [2],
      delimiter: ';',
      header: 'none',
    });
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}:${i.firstSeen ?? ''}:${i.tags.join('|')}`),
      ['domain:evil.example:2024-01-02T00:00:00.000Z:phishing', 'ipv4:192.0.2.5::'],
    );
    const missing = parseCsvFeed('a,b\n1,2\n', { value: 'url', header: 'line' });
    assert.equal(missing.indicators.length, 0);
    assert.equal(missing.errors.length, 1);
  });

  it('splits CSV lines with quotes', () => {
    assert.deepEqual(splitCsvLine('"a,b","c""d", e ,'), ['a,b', 'c"d', 'e', '']);
    assert.throws(() => splitCsvLine('"a'));
  });

  describe('splitCsvLine with quotes (the indexOf path)', () => {
    it('splits like RFC 4180 and keeps the odd cases of the character loop', () => {
      assert.deepEqual(splitCsvLine('a,"b,c",d'), ['a', 'b,c', 'd']);
      assert.deepEqual(splitCsvLine('"a""b",c'), ['a"b', 'c']);
      assert.deepEqual(splitCsvLine('x"y,z'), ['x"y', 'z']);
      assert.deepEqual(splitCsvLine('"ab"cd,e'), ['abcd', 'e']);
      assert.deepEqual(splitCsvLine(' "q" ,r'), ['q', 'r']);
      assert.deepEqual(splitCsvLine('"",""'), ['', '']);
      assert.deepEqual(splitCsvLine('a;;"b;;c";;d', ';;'), ['a', 'b;;c', 'd']);
      assert.deepEqual(splitCsvLine('a\tb\t c ', '\t'), ['a', 'b', 'c']);
      assert.throws(() => splitCsvLine('a,"b'), /unterminated/);
    });

    it('reads CRLF lines; rows with the same tag cell share one frozen tag list', () => {
      const text = 'ioc,tags\r\n1.2.3.4,"x,y"\r\n5.6.7.8,"x,y"\r\n';
      const r = parseCsvFeed(text, { value: 'ioc', type: 'ipv4', tags: ['tags'] });
      assert.deepEqual(
        r.indicators.map((i) => [i.value, i.tags]),
        [
          ['1.2.3.4', ['x', 'y']],
          ['5.6.7.8', ['x', 'y']],
        ],
      );
      assert.equal(r.indicators[0].tags, r.indicators[1].tags);
      assert.ok(Object.isFrozen(r.indicators[0].tags), 'a shared list cannot be changed through one row');
    });
  });
});
