/**
 * The audit log: an append-only, hash-chained record of every response action's outcome and every approval
 * decision, kept in `<data dir>/soar-audit.jsonl` (mode 0600).
 *
 * Format: UTF-8, one JSON object per line, each line ended by `\n`. A line is
 *
 *   {"seq":1,"at":"2025-01-02T03:04:05.678Z","prev":"000…000","kind":"action","actor":"playbook:block",
 *    "caseId":"C-12","action":"block-ip","target":"203.0.113.9","device":"fw-edge","outcome":"success",
 *    "detail":{"rule":"soar-17"},"hash":"5f1c…"}
 *
 * (on one line, without the spaces) with these members:
 * - `seq`: 1 for the first entry, then one more for each, without gaps;
 * - `at`: when the entry was appended, ISO 8601 UTC with milliseconds;
 * - `prev`: the `hash` of the previous entry; 64 zeros (`GENESIS`) for the first;
 * - `kind` (`action`, `approval`, `audit` for the log's own repairs, …) and the optional `actor`, `caseId`, `action`,
 *   `target`, `device`, `outcome` (strings) and `detail` (any JSON);
 * - `hash`: hex SHA-256 of the canonical JSON (RFC 8785 style, see canonical.ts: keys sorted, no whitespace) of the
 *   whole object without `hash`.
 *
 * Since `prev` is the previous `hash`, and the hash covers `prev`, each entry vouches for every entry before it.
 * The members are written in the order above, each value in canonical JSON, so a line's text is a function of its
 * content and the verifier also rejects a line whose bytes were changed without changing its meaning.
 *
 * Verify with `npm run audit:verify` (`node dist/lib/audit/verify-cli.js [--anchor SEQ:HASH] [file]`; the default
 * file is `$SOAR_DATA_DIR/soar-audit.jsonl`, else `./.soar/soar-audit.jsonl`): exit 0 and `audit log OK: N entries`,
 * exit 1 with the first bad line and the reason, exit 2 when the file is missing. It finds an edited, removed,
 * inserted or reordered entry and a cut-off last line. What a chain alone cannot show is whole entries cut from the
 * end, or everything rewritten from some entry on with freshly computed hashes: for that, keep an entry's seq and
 * hash elsewhere (`AuditLog.head`, or the `last:` the command prints) and pass it as `--anchor`.
 *
 * Durability: `append` writes the line and fdatasyncs it before returning, so an acknowledged entry survives a
 * crash or power loss. On open, a last line cut short by a crash is completed (a whole entry that lacks only its
 * newline) or truncated and recorded as an `audit`/`repair` entry; a damaged last complete line stops the open.
 *
 * Concurrency: one writer per file. `append` is synchronous, so appends in a process never interleave; share one
 * instance per file with `acquireAuditLog`/`releaseAuditLog` (a second `AuditLog.open` of the same file in the
 * process is refused). Several processes appending to the same file are not supported: an append that finds the
 * file changed by someone else refuses to write.
 */

export {
  AUDIT_FILE_NAME,
  AuditLog,
  AuditLogError,
  acquireAuditLog,
  auditFile,
  releaseAuditLog,
  type AuditLogOptions,
} from './audit-log';
export { canonicalJson, toJsonValue, type JsonValue } from './canonical';
export { GENESIS, recordHash, recordLine, type AuditEntry, type AuditRecord } from './record';
export { verifyAuditLog, type VerifyOptions, type VerifyResult } from './verify';
