import crypto from 'node:crypto';

/**
 * The intake journal's in-memory index of recently accepted alert ids (id → time of receipt), oldest first, for the
 * duplicate check. A `Map` of the id strings cost about 100 bytes per id on the V8 heap, and every full garbage
 * collection traced them all: at the default cap of 2,000,000 ids, 200 MB and long pauses. This keeps 128 bits of
 * each id's SHA-256 and its time in typed arrays (about 36 bytes per id, outside the traced heap): a ring in
 * insertion order, and an open-addressing index over it.
 *
 * Two ids share a key only if their digests agree in 128 bits: by accident, about once in 10^26 windows of two
 * million ids. A sender who crafted a colliding id gains nothing it does not already have: it can send the very id
 * it wants to suppress.
 */
export class SeenIds {
  /** Per ring slot: four words of the key. */
  private keys: Uint32Array;
  /** Per ring slot: time of receipt (epoch ms), or NaN once the slot was replaced by a newer receipt (dead). */
  private times: Float64Array;
  /** Ring slots in use run from `head` for `used` slots (dead ones included), wrapping at the capacity. */
  private head = 0;
  private used = 0;
  private live = 0;
  /** Per bucket: ring slot + 1, or 0 when empty. Linear probing. */
  private buckets: Int32Array;
  private readonly max: number;
  /** The most ring slots: `max` and room for dead ones, so that compacting the ring frees an eighth of it. */
  private readonly maxSlots: number;

  /** `max`: most ids held (at least 1); past it, the oldest are forgotten. */
  constructor(max: number, initial = 1024) {
    this.max = Math.max(1, Math.floor(max));
    this.maxSlots = this.max + Math.max(1, Math.floor(this.max / 8));
    const slots = Math.min(this.maxSlots, Math.max(1, initial));
    this.keys = new Uint32Array(4 * slots);
    this.times = new Float64Array(slots);
    this.buckets = new Int32Array(bucketCount(slots));
  }

  /** Ids held. */
  get size(): number {
    return this.live;
  }

  /** Bytes of the typed arrays behind the index. */
  get bytes(): number {
    return this.keys.byteLength + this.times.byteLength + this.buckets.byteLength;
  }

  /** The time `id` was last received, if it is held. */
  get(id: string): number | undefined {
    const slot = this.find(keyOf(id));
    return slot === -1 ? undefined : this.times[slot];
  }

  /** Records `id` as received at `received`, as the newest entry (an earlier receipt of it is replaced). */
  set(id: string, received: number): void {
    const key = keyOf(id);
    const old = this.find(key);
    if (old !== -1) {
      this.unindex(old);
      this.times[old] = NaN;
      this.live--;
    } else if (this.live === this.max) {
      this.dropOldestLive();
    }
    if (this.used === this.capacity) this.resize();
    const slot = (this.head + this.used) % this.capacity;
    this.used++;
    this.live++;
    this.keys.set(key, 4 * slot);
    this.times[slot] = received;
    this.index(slot, key[0]);
  }

  /** Forgets every id received before `before` (epoch ms), oldest first; stops at the first newer one. */
  forgetBefore(before: number): void {
    while (this.used > 0) {
      const t = this.times[this.head];
      if (t >= before) return;
      this.dropHead();
    }
  }

  private get capacity(): number {
    return this.times.length;
  }

  /** Removes the oldest ring slot (live or dead). */
  private dropHead(): void {
    const slot = this.head;
    if (!Number.isNaN(this.times[slot])) {
      this.unindex(slot);
      this.live--;
    }
    this.head = (this.head + 1) % this.capacity;
    this.used--;
  }

  /** Removes the oldest live id (and the dead slots before it). */
  private dropOldestLive(): void {
    while (Number.isNaN(this.times[this.head])) this.dropHead();
    this.dropHead();
  }

  private find(key: Uint32Array): number {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    const keys = this.keys;
    for (let b = key[0] & mask; ; b = (b + 1) & mask) {
      const at = buckets[b];
      if (at === 0) return -1;
      const k = 4 * (at - 1);
      if (keys[k] === key[0] && keys[k + 1] === key[1] && keys[k + 2] === key[2] && keys[k + 3] === key[3]) {
        return at - 1;
      }
    }
  }

  private index(slot: number, first: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let b = first & mask;
    while (buckets[b] !== 0) b = (b + 1) & mask;
    buckets[b] = slot + 1;
  }

  /** Takes a slot out of the index, moving later entries of its probe run back (no tombstones). */
  private unindex(slot: number): void {
    const buckets = this.buckets;
    const mask = buckets.length - 1;
    let hole = this.keys[4 * slot] & mask;
    while (buckets[hole] !== slot + 1) hole = (hole + 1) & mask;
    for (let b = (hole + 1) & mask; buckets[b] !== 0; b = (b + 1) & mask) {
      const home = this.keys[4 * (buckets[b] - 1)] & mask;
      // The entry at b moves into the hole when its home is not in the cyclic range (hole, b].
      if (((b - home) & mask) >= ((b - hole) & mask)) {
        buckets[hole] = buckets[b];
        hole = b;
      }
    }
    buckets[hole] = 0;
  }

  /**
   * A full ring: grown by half (up to `maxSlots`; by half rather than doubled, so that a million ids do not hold room
   * for two), or at its largest compacted, the live ids kept in order from slot 0;
   * the index rebuilt. At its largest the ring holds at most `max` live ids, so compacting frees an eighth of it.
   */
  private resize(): void {
    const size = Math.min(this.maxSlots, Math.ceil(1.5 * this.capacity));
    const keys = new Uint32Array(4 * size);
    const times = new Float64Array(size);
    let n = 0;
    for (let i = 0; i < this.used; i++) {
      const slot = (this.head + i) % this.capacity;
      if (Number.isNaN(this.times[slot])) continue;
      keys.set(this.keys.subarray(4 * slot, 4 * slot + 4), 4 * n);
      times[n] = this.times[slot];
      n++;
    }
    this.keys = keys;
    this.times = times;
    this.head = 0;
    this.used = n;
    if (this.buckets.length < bucketCount(size)) this.buckets = new Int32Array(bucketCount(size));
    else this.buckets.fill(0);
    for (let slot = 0; slot < n; slot++) this.index(slot, keys[4 * slot]);
  }
}

/** A power of two at least 1.5 times `slots` (the index at most two thirds full). */
function bucketCount(slots: number): number {
  let n = 2;
  while (n < 1.5 * slots) n *= 2;
  return n;
}

const KEY = new Uint32Array(4);

// crypto.hash (one-shot, about twice as fast as createHash for short inputs) arrived in Node 20.12; older 20.x
// releases fall back to createHash.
const sha256: (data: string) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** The first 128 bits of the id's SHA-256, in a scratch array (valid until the next call). */
function keyOf(id: string): Uint32Array {
  const digest = sha256(id);
  KEY[0] = digest.readUInt32LE(0);
  KEY[1] = digest.readUInt32LE(4);
  KEY[2] = digest.readUInt32LE(8);
  KEY[3] = digest.readUInt32LE(12);
  return KEY;
}
