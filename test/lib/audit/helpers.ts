import { readFileSync, writeFileSync } from 'node:fs';
import { AuditLog } from '../../../lib/audit';

/** Writes `n` varied entries to a fresh log at `file` and closes it. */
export function writeEntries(file: string, n: number): void {
  const log = AuditLog.open(file);
  try {
    for (let i = 1; i <= n; i++) {
      log.append({
        kind: i % 2 ? 'action' : 'approval',
        actor: i % 2 ? 'playbook:contain' : 'alice',
        caseId: `C-${i}`,
        action: 'block-ip',
        target: `203.0.113.${i}`,
        outcome: i % 2 ? 'success' : 'approved',
        detail: { n: i, comment: `entry ${i}` },
      });
    }
  } finally {
    log.close();
  }
}

/** The log's lines, without the final newline's empty piece. */
export function readLines(file: string): string[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.pop();
  return lines;
}

export function writeLines(file: string, lines: string[]): void {
  writeFileSync(file, lines.map((line) => `${line}\n`).join(''));
}
