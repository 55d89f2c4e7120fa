/** MITRE ATT&CK technique ids gathered from source-specific fields. */

/** A technique (`T1110`) or sub-technique (`T1059.001`) id; tactics (`TA0006`) and anything else do not match. */
export const ATTACK_ID_PATTERN = /^T\d{4}(\.\d{3})?$/;

/**
 * Collects technique ids: each value may be a string or an array of strings (as sources write them); ids are
 * trimmed and upper-cased, invalid ones ignored, duplicates dropped, first-seen order kept.
 */
export class AttackCollector {
  readonly ids: string[] = [];

  add(value: unknown): void {
    if (Array.isArray(value)) {
      for (const v of value) this.addOne(v);
    } else {
      this.addOne(value);
    }
  }

  private addOne(value: unknown): void {
    if (typeof value !== 'string') return;
    const id = value.trim().toUpperCase();
    if (ATTACK_ID_PATTERN.test(id) && !this.ids.includes(id)) this.ids.push(id);
  }
}
