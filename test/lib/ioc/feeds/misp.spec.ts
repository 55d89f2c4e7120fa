import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IocIndex } from '../../../../lib/ioc';
import { mispManifestEntries, mispManifestEventUuids, parseMispEvent } from '../../../../lib/ioc/feeds/misp';

const DIR = join(__dirname, '../../../fixtures/samples/misp');

function load(path: string): unknown {
  return JSON.parse(readFileSync(join(DIR, path), 'utf8'));
}

type Attr = { type: string; to_ids: boolean; value: string };

/** Independent count of what each event should give. */
function expected(doc: unknown): { indicators: number; context: number; unsupported: number } {
  const d = doc as { Event?: unknown };
  const event = (d.Event ?? d) as { Attribute?: Attr[]; Object?: { Attribute?: Attr[] }[] };
  const attrs = [...(event.Attribute ?? []), ...(event.Object ?? []).flatMap((o) => o.Attribute ?? [])];
  const mapped = ['ip-src', 'ip-dst', 'domain', 'hostname', 'url', 'md5', 'sha1', 'sha256', 'email-src', 'email-dst'];
  let indicators = 0;
  let unsupported = 0;
  for (const a of attrs.filter((x) => x.to_ids)) {
    const n = a.type.split('|').filter((t) => mapped.includes(t)).length;
    indicators += n;
    if (n === 0) unsupported++;
  }
  return { indicators, unsupported, context: attrs.filter((x) => !x.to_ids).length };
}

describe('ioc/feeds/misp', () => {
  const files = [
    ...readdirSync(join(DIR, 'feed'))
      .filter((f) => f.endsWith('.json') && f !== 'manifest.json')
      .map((f) => `feed/${f}`),
    'pymisp-misp_event-unwrapped.json',
  ];

  for (const file of files) {
    it(`parses ${file}`, () => {
      const doc = load(file);
      const r = parseMispEvent(doc);
      assert.deepEqual(r.errors, []);
      assert.deepEqual(
        { indicators: r.indicators.length, context: r.context, unsupported: r.unsupported },
        expected(doc),
      );
      const idx = new IocIndex({ defaultAllowlists: false });
      const loaded = idx.replaceFeed('misp', r.indicators);
      assert.equal(loaded.accepted + loaded.rejected, r.indicators.length);
    });
  }

  it('reads event tags for TLP, tags and types of a real event', () => {
    const r = parseMispEvent(load('feed/57c4445b-c548-4654-af0b-4be3950d210f.json'));
    assert.ok(r.indicators.length > 0);
    for (const ind of r.indicators) {
      assert.equal(ind.tlp, 'clear');
      assert.ok(ind.tags.includes('circl:incident-classification="malware"'));
      assert.ok(!ind.tags.some((t) => t.startsWith('tlp:')));
    }
    assert.deepEqual([...new Set(r.indicators.map((i) => i.type))].sort(), ['md5', 'sha1', 'sha256']);
    const ips = parseMispEvent(load('feed/5a0ac036-6fbc-4855-83af-422b950d210f.json'));
    assert.ok(ips.indicators.some((i) => i.type === 'ipv4'));
  });

  it('maps composite, object and tagged attributes', () => {
    const r = parseMispEvent(
      {
        Event: {
          uuid: 'e',
          Tag: [{ name: 'tlp:green' }, { name: 'misp-galaxy:mitre-attack-pattern="Phishing - T1566"' }],
          Attribute: [
            { type: 'ip-dst|port', value: '198.51.100.7|443', to_ids: true, first_seen: '2026-01-01T00:00:00Z' },
            { type: 'ip-src', value: '2001:db8::1', to_ids: '1' },
            { type: 'ip-src', value: '203.0.113.0/24', to_ids: true },
            { type: 'email-src', value: 'a@evil.example', to_ids: true, Tag: [{ name: 'tlp:red' }, { name: 'x' }] },
            { type: 'domain|ip', value: 'evil.example|192.0.2.1', to_ids: true },
            { type: 'filename', value: 'a.exe', to_ids: true },
            { type: 'url', value: 'http://evil.example/', to_ids: true, deleted: true },
            { type: 'link', value: 'http://blog.example/', to_ids: false },
            { type: 'md5' },
          ],
          Object: [
            {
              name: 'file',
              Attribute: [{ type: 'filename|sha256', value: `b.exe|${'a'.repeat(64)}`, to_ids: true }],
            },
          ],
        },
      },
      { feed: 'm', confidence: 70 },
    );
    assert.deepEqual(
      r.indicators.map((i) => `${i.type}:${i.value}:${i.tlp}`),
      [
        'ipv4:198.51.100.7:green',
        'ipv6:2001:db8::1:green',
        'cidr:203.0.113.0/24:green',
        'email:a@evil.example:red',
        'domain:evil.example:green',
        'ipv4:192.0.2.1:green',
        `sha256:${'a'.repeat(64)}:green`,
      ],
    );
    assert.deepEqual(r.indicators[0].attack, ['T1566']);
    assert.equal(r.indicators[0].firstSeen, '2026-01-01T00:00:00.000Z');
    assert.equal(r.indicators[0].confidence, 70);
    assert.equal(r.indicators[0].feed, 'm');
    assert.deepEqual(r.indicators[3].tags, ['x']);
    assert.equal(r.unsupported, 1);
    assert.equal(r.context, 2);
    assert.deepEqual(r.errors, [{ index: 8, reason: 'attribute without a string type and value' }]);
    assert.equal(new IocIndex({ defaultAllowlists: false }).replaceFeed('m', r.indicators).rejected, 0);
  });

  it('lists the events of a feed manifest', () => {
    const manifest = load('feed/manifest.json');
    const uuids = mispManifestEventUuids(manifest);
    const onDisk = readdirSync(join(DIR, 'feed'))
      .filter((f) => /^[0-9a-f-]{36}\.json$/.test(f))
      .map((f) => f.slice(0, -5));
    assert.deepEqual([...uuids].sort(), onDisk.sort());
    const first = mispManifestEntries(manifest).find((e) => e.uuid === '57c4445b-c548-4654-af0b-4be3950d210f');
    assert.equal(first?.tlp, 'clear');
    assert.equal(first?.info, 'Ransomware - Xorist');
    assert.equal(first?.timestamp, new Date(1472541011000).toISOString());
    assert.deepEqual(mispManifestEventUuids(null), []);
  });

  it('reports input that is not MISP', () => {
    assert.equal(parseMispEvent('nope').errors.length, 1);
  });
});
