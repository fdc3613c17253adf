import { hashInts, mix32 } from './random.js';

// Case ids are UUID-shaped strings that *encode* where a case comes from (generated or injected, widget
// index, case index), encrypted with a seed-keyed Feistel network so they look random. Decoding an id is
// how the poll endpoint finds any of a million generated cases without an id → case map in memory.

export const CASE_KIND_GENERATED = 0;
export const CASE_KIND_INJECTED = 1;

export interface DecodedCaseId {
  kind: number;
  widgetIndex: number;
  index: number;
}

const ROUNDS = 4;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function hex8(value: number): string {
  return (value >>> 0).toString(16).padStart(8, '0');
}

function hex4(value: number): string {
  return (value & 0xffff).toString(16).padStart(4, '0');
}

export class CaseIdCodec {
  private readonly roundKeys: number[];
  private readonly tagKey: number;

  constructor(key: number) {
    this.roundKeys = Array.from({ length: ROUNDS }, (_, round) => hashInts(key, 0xfe15e1, round));
    this.tagKey = hashInts(key, 0x7a9);
  }

  encode(kind: number, widgetIndex: number, index: number): string {
    let high = ((kind & 0xffff) << 16 | (widgetIndex & 0xffff)) >>> 0;
    let low = index >>> 0;
    for (const key of this.roundKeys) {
      const nextLow = (high ^ mix32(low ^ key)) >>> 0;
      high = low;
      low = nextLow;
    }
    const [tagA, tagB] = this.tags(high, low);
    const b = ((tagA & 0xffff0fff) | 0x00004000) >>> 0;
    const c = ((tagB & 0x3fffffff) | 0x80000000) >>> 0;
    return `${hex8(high)}-${hex4(b >>> 16)}-${hex4(b)}-${hex4(c >>> 16)}-${hex4(c)}${hex8(low)}`;
  }

  /** Returns undefined for anything this codec did not produce (wrong seed, random UUID, junk). */
  decode(id: string): DecodedCaseId | undefined {
    if (!UUID_PATTERN.test(id)) return undefined;
    let high = parseInt(id.slice(0, 8), 16) >>> 0;
    const b = parseInt(id.slice(9, 13) + id.slice(14, 18), 16) >>> 0;
    const c = parseInt(id.slice(19, 23) + id.slice(24, 28), 16) >>> 0;
    let low = parseInt(id.slice(28, 36), 16) >>> 0;
    const [tagA, tagB] = this.tags(high, low);
    if ((((tagA & 0xffff0fff) | 0x00004000) >>> 0) !== b) return undefined;
    if ((((tagB & 0x3fffffff) | 0x80000000) >>> 0) !== c) return undefined;
    for (let round = ROUNDS - 1; round >= 0; round--) {
      const key = this.roundKeys[round] ?? 0;
      const previousHigh = (low ^ mix32(high ^ key)) >>> 0;
      low = high;
      high = previousHigh;
    }
    return { kind: high >>> 16, widgetIndex: high & 0xffff, index: low };
  }

  private tags(high: number, low: number): [number, number] {
    const tagA = mix32(high ^ mix32(low ^ this.tagKey));
    return [tagA, mix32(tagA ^ this.tagKey ^ 0x51)];
  }
}
