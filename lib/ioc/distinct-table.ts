/**
 * A set of items keyed by a caller's 32-bit hash and compared with a caller's equality, in open addressing over
 * typed arrays. A feed load keeps one such set of its distinct metadata records: up to a million per feed, where a
 * `Map` keyed by a hash (and holding what each entry was made from) cost more time than the rest of the load.
 */
export class DistinctTable<T> {
  private readonly items: T[] = [];
  private itemHashes = new Int32Array(1024);
  /** Per bucket: the item's index + 1, or 0 when empty. Always at most half full. */
  private buckets = new Int32Array(2048);

  constructor(private readonly same: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  /** The item held at an index `intern` gave. */
  item(index: number): T {
    return this.items[index];
  }

  /**
   * The index of the held item equal to `item` (with the same `hash`), or of `item` (or, given `keep`, of what it
   * makes of `item`: a probe object reused by the caller is copied only when new), which is held from now on.
   */
  intern(hash: number, item: T, keep?: (item: T) => T): number {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    for (let b = hash & mask; ; b = (b + 1) & mask) {
      const at = buckets[b];
      if (at === 0) break;
      if (this.itemHashes[at - 1] === hash && this.same(this.items[at - 1], item)) return at - 1;
    }
    const index = this.items.push(keep === undefined ? item : keep(item)) - 1;
    if (index === this.itemHashes.length) {
      const grown = new Int32Array(index * 2);
      grown.set(this.itemHashes);
      this.itemHashes = grown;
    }
    this.itemHashes[index] = hash;
    if (2 * this.items.length > buckets.length) this.rehash(buckets.length * 2);
    else this.place(index);
    return index;
  }

  private place(index: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let b = this.itemHashes[index] & mask;
    while (buckets[b] !== 0) b = (b + 1) & mask;
    buckets[b] = index + 1;
  }

  private rehash(size: number): void {
    this.buckets = new Int32Array(size);
    for (let i = 0; i < this.items.length; i++) this.place(i);
  }
}
