import { join } from 'node:path';
import { AUDIT_FILE_NAME } from './audit-log';
import { verifyAuditLog, type VerifyOptions } from './verify';

/**
 * `npm run audit:verify [-- [--anchor SEQ:HASH] [file]]` (or `node dist/lib/audit/verify-cli.js …`): checks the
 * audit log's hash chain. The file defaults to `$SOAR_DATA_DIR/soar-audit.jsonl`, or `./.soar/soar-audit.jsonl`.
 *
 * Exit status: 0 and `audit log OK: N entries` when every entry is sound and linked; 1 and the first bad line with
 * the reason when not; 2 when the file is missing or cannot be read, or the arguments are wrong.
 */

const USAGE = 'usage: audit-verify [--anchor SEQ:HASH] [file]';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export function defaultAuditFile(env: NodeJS.ProcessEnv): string {
  return join(env.SOAR_DATA_DIR || '.soar', AUDIT_FILE_NAME);
}

/** Runs the command with `args` (without node and the script) and returns its exit status. */
export function main(args: string[], env: NodeJS.ProcessEnv, io: CliIo): number {
  let file: string | undefined;
  const options: VerifyOptions = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') {
      io.out(USAGE);
      return 0;
    }
    if (arg === '--anchor') {
      const match = /^(\d+):([0-9a-f]{64})$/.exec(args[++i] ?? '');
      if (!match) {
        io.err(`--anchor takes SEQ:HASH (a seq and the 64 hex digits of its hash)\n${USAGE}`);
        return 2;
      }
      options.anchor = { seq: Number(match[1]), hash: match[2] };
    } else if (arg.startsWith('-') || file !== undefined) {
      io.err(`unexpected argument ${arg}\n${USAGE}`);
      return 2;
    } else {
      file = arg;
    }
  }
  file ??= defaultAuditFile(env);
  let result;
  try {
    result = verifyAuditLog(file, options);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    io.err(
      code === 'ENOENT'
        ? `audit log not found: ${file}`
        : `cannot read the audit log ${file}: ${(err as Error).message}`,
    );
    return 2;
  }
  if (result.ok) {
    const head = result.head ? ` (last: seq ${result.head.seq}, hash ${result.head.hash})` : '';
    io.out(`audit log OK: ${result.entries} entries${head}`);
    return 0;
  }
  const bad = result.firstBad!;
  io.out(`audit log BROKEN: ${file} line ${bad.line}: ${bad.reason}`);
  io.out(`${result.entries} entries before it are sound`);
  return 1;
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2), process.env, {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
}
