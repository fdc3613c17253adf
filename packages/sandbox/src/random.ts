// Deterministic randomness. Everything the sandbox invents is a pure function of the seed and a few small
// integers (widget, case index, request number), so nothing per case has to be stored and two sandboxes
// started with the same seed serve the same data.

/** A 32-bit integer finaliser (from "lowbias32"): spreads every input bit over every output bit. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes a list of unsigned 32-bit integers into one. Order matters. */
export function hashInts(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const value of values) h = mix32(h ^ mix32(value >>> 0));
  return h;
}

/** A uniform number in [0, 1) from a list of integers. */
export function hashUnit(...values: number[]): number {
  return hashInts(...values) / 4294967296;
}

/** Folds a seed (any non-negative safe integer, so above 2^32 too) into a 32-bit key. */
export function seedKey(seed: number): number {
  const low = seed % 4294967296;
  const high = Math.floor(seed / 4294967296);
  return hashInts(low, high, 0x5eed);
}

/** Small, fast PRNG (mulberry32). One instance per generated case keeps cases independent of each other. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  uint32(): number {
    return Math.floor(this.next() * 4294967296) >>> 0;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error('pick() from an empty list');
    return item;
  }

  hex(length: number): string {
    let out = '';
    while (out.length < length) out += this.uint32().toString(16).padStart(8, '0');
    return out.slice(0, length);
  }

  /** A random RFC 4122 version-4 UUID (only used for fixtures; case ids come from CaseIdCodec). */
  uuid(): string {
    const h = this.hex(32);
    const variant = ((parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}
