import { AuditLog } from '../../../lib/audit';

/** Appends to the audit log at argv[2] forever, printing each acknowledged seq; the kill test SIGKILLs it. */
const audit = AuditLog.open(process.argv[2]);
for (;;) {
  const { seq } = audit.append({
    kind: 'action',
    action: 'block-ip',
    target: '203.0.113.7',
    detail: { pad: 'x'.repeat(300) },
  });
  process.stdout.write(`${seq}\n`);
}
