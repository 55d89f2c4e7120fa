/**
 * PostgreSQL `text` cannot hold U+0000 (SQLite can): a NUL in an alert's id, title or grouping key would fail the
 * whole statement, and with it every alert of the batch. Such a character becomes U+FFFD (the replacement
 * character) in what is written as text; JSON text is unaffected (JSON.stringify escapes it).
 */
export function pgText(value: string): string {
  return value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value;
}
