import { readFileSync } from 'node:fs';
import sjson from 'secure-json-parse';
import Database from 'better-sqlite3';
import { identify } from '/work/main/lib/alert';
const line = readFileSync(
  '/work/main/test/fixtures/samples/suricata-eve/suricata-docs-flow-1676750115612680.ndjson',
  'utf8',
).split('\n')[0];
let n = 0;
const lines = Array.from({ length: 20000 }, () => line.replace(/1676750115612680/g, String(++n)));
const t = (label: string, f: (l: string, i: number) => void) => {
  const s = process.hrtime.bigint();
  lines.forEach(f);
  const us = Number(process.hrtime.bigint() - s) / 1e3 / lines.length;
  console.log(label.padEnd(30), us.toFixed(2), 'µs');
};
t('JSON.parse', (l) => JSON.parse(l));
t('sjson.parse', (l) => sjson.parse(l, undefined, { protoAction: 'remove', constructorAction: 'remove' }));
const objs = lines.map((l) => JSON.parse(l));
t('identify', (_l, i) => identify(objs[i]));
for (const pragmas of [[], ['cache_size = -65536'], ['cache_size = -65536', 'wal_autocheckpoint = 10000']]) {
  for (const f of ['/tmp/p2.db', '/tmp/p2.db-wal', '/tmp/p2.db-shm']) {
    try {
      require('fs').rmSync(f);
    } catch {}
  }
  const db = new Database('/tmp/p2.db');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  for (const p of pragmas) db.pragma(p);
  db.exec(`CREATE TABLE intake (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, node TEXT NOT NULL, received INTEGER NOT NULL, body TEXT NOT NULL, processed INTEGER);
  CREATE INDEX intake_alert ON intake (alert_id, received); CREATE INDEX intake_pending ON intake (node, seq) WHERE processed IS NULL;`);
  const ins = db.prepare('INSERT INTO intake (alert_id, node, received, body) VALUES (?, ?, ?, ?)');
  const sel = db.prepare('SELECT seq FROM intake WHERE alert_id = ? AND received >= ? LIMIT 1');
  const ids = lines.map(
    (_, i) => 'suricata-' + require('crypto').createHash('sha256').update(String(i)).digest('hex').slice(0, 32),
  );
  const tx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++) {
      sel.get(ids[i], 0);
      ins.run(ids[i], 'node1', Date.now(), lines[i]);
    }
  });
  const s = process.hrtime.bigint();
  for (let b = 0; b < 40; b++) tx(b * 500);
  console.log(
    ('sqlite ' + pragmas.join(',')).padEnd(30),
    (Number(process.hrtime.bigint() - s) / 1e3 / 20000).toFixed(2),
    'µs',
  );
  const upd = db.prepare('UPDATE intake SET processed = ? WHERE seq = ? AND processed IS NULL');
  const utx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++) upd.run(1, i + 1);
  });
  const s2 = process.hrtime.bigint();
  for (let b = 0; b < 40; b++) utx(b * 500);
  console.log('  mark processed'.padEnd(30), (Number(process.hrtime.bigint() - s2) / 1e3 / 20000).toFixed(2), 'µs');
  db.close();
}
