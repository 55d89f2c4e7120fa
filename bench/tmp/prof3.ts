import { readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
const line = readFileSync(
  '/work/main/test/fixtures/samples/suricata-eve/suricata-docs-flow-1676750115612680.ndjson',
  'utf8',
).split('\n')[0];
const N = 40000;
const lines = Array.from({ length: N }, (_, i) => line.replace(/1676750115612680/g, String(i)));
const ids = lines.map((_, i) => 'suricata-' + createHash('sha256').update(String(i)).digest('hex').slice(0, 32));
function run(label: string, ckpt: number, schema: string, mark: string) {
  for (const f of ['/tmp/p3.db', '/tmp/p3.db-wal', '/tmp/p3.db-shm']) rmSync(f, { force: true });
  const db = new Database('/tmp/p3.db');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${ckpt}`);
  db.exec(schema);
  const ins = db.prepare('INSERT INTO intake (alert_id, node, received, body) VALUES (?, ?, ?, ?)');
  const sel = db.prepare('SELECT 1 FROM intake WHERE alert_id = ? AND received >= ? LIMIT 1');
  const upd = db.prepare(mark);
  const tx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++) {
      sel.get(ids[i], 0);
      ins.run(ids[i], 'node1', Date.now(), lines[i]);
    }
  });
  const utx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++)
      mark.startsWith('UPDATE') ? upd.run(1, i + 1) : mark.startsWith('INSERT') ? upd.run(i + 1, 1) : upd.run(i + 1);
  });
  let a = 0n,
    m = 0n;
  for (let b = 0; b < N / 500; b++) {
    const s = process.hrtime.bigint();
    tx(b * 500);
    const s2 = process.hrtime.bigint();
    utx(b * 500);
    m += process.hrtime.bigint() - s2;
    a += s2 - s;
  }
  console.log(
    label.padEnd(40),
    'append',
    (Number(a) / 1e3 / N).toFixed(2),
    'µs  mark',
    (Number(m) / 1e3 / N).toFixed(2),
    'µs',
  );
  db.close();
}
const base = `CREATE TABLE intake (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, node TEXT NOT NULL, received INTEGER NOT NULL, body TEXT NOT NULL, processed INTEGER);
  CREATE INDEX intake_alert ON intake (alert_id, received);`;
for (const ck of [1000, 10000]) {
  run(
    `A update+partial idx ck${ck}`,
    ck,
    base + 'CREATE INDEX intake_pending ON intake (node, seq) WHERE processed IS NULL;',
    'UPDATE intake SET processed = ? WHERE seq = ? AND processed IS NULL',
  );
  run(
    `A2 update no pending idx ck${ck}`,
    ck,
    base,
    'UPDATE intake SET processed = ? WHERE seq = ? AND processed IS NULL',
  );
  run(
    `B processed table ck${ck}`,
    ck,
    base + 'CREATE TABLE processed (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL);',
    'INSERT OR IGNORE INTO processed (seq, at) VALUES (?, ?)',
  );
  run(`C delete ck${ck}`, ck, base, 'DELETE FROM intake WHERE seq = ?');
}
function runD(label: string, ck: number, withIdx: boolean) {
  for (const f of ['/tmp/p3.db', '/tmp/p3.db-wal', '/tmp/p3.db-shm']) rmSync(f, { force: true });
  const db = new Database('/tmp/p3.db');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma(`wal_autocheckpoint = ${ck}`);
  db.exec(`CREATE TABLE seen (alert_id TEXT PRIMARY KEY, received INTEGER NOT NULL) WITHOUT ROWID;
    ${withIdx ? 'CREATE INDEX seen_received ON seen (received);' : ''}
    CREATE TABLE intake (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, node TEXT NOT NULL, received INTEGER NOT NULL, body TEXT NOT NULL);`);
  const seen = db.prepare(
    'INSERT INTO seen (alert_id, received) VALUES (?, ?) ON CONFLICT (alert_id) DO UPDATE SET received = excluded.received WHERE seen.received < ?',
  );
  const ins = db.prepare('INSERT INTO intake (alert_id, node, received, body) VALUES (?, ?, ?, ?)');
  const del = db.prepare('DELETE FROM intake WHERE seq = ?');
  const tx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++) {
      const now = Date.now();
      if (seen.run(ids[i], now, now - 3600000).changes) ins.run(ids[i], 'node1', now, lines[i]);
    }
  });
  const utx = db.transaction((from: number) => {
    for (let i = from; i < from + 500; i++) del.run(i + 1);
  });
  let a = 0n,
    m = 0n;
  for (let b = 0; b < N / 500; b++) {
    const s = process.hrtime.bigint();
    tx(b * 500);
    const s2 = process.hrtime.bigint();
    utx(b * 500);
    m += process.hrtime.bigint() - s2;
    a += s2 - s;
  }
  console.log(
    label.padEnd(40),
    'append',
    (Number(a) / 1e3 / N).toFixed(2),
    'µs  mark',
    (Number(m) / 1e3 / N).toFixed(2),
    'µs',
  );
  db.close();
}
runD('D seen+delete idx ck1000', 1000, true);
runD('D seen+delete noidx ck1000', 1000, false);
runD('D seen+delete idx ck10000', 10000, true);
