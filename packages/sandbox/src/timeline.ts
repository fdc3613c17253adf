import { hashUnit } from './random.js';

// Each widget's generated cases sit on a monotonic timeline: case k's creation time is a pure function of k
// (a slot of equal width plus a seeded jitter inside the slot). Times strictly increase with k, so a date
// range maps to an index range by binary search and nothing per case is stored.

const DAY_MS = 86_400_000;

export class Timeline {
  /** Width of one slot in milliseconds, at least 1 so that times strictly increase. */
  private readonly slot: number;

  constructor(
    readonly startMs: number,
    endMs: number,
    readonly count: number,
    private readonly key: number,
    private readonly widgetIndex: number,
  ) {
    this.slot = count === 0 ? 1 : Math.max(1, Math.floor((endMs - startMs) / count));
  }

  /** Creation time (epoch ms) of case k, 0 <= k < count. */
  timeAt(k: number): number {
    const jitter = Math.floor(hashUnit(this.key, 0x71e, this.widgetIndex, k) * this.slot);
    return this.startMs + k * this.slot + jitter;
  }

  /** The smallest k whose time is >= t (count when there is none). */
  firstAtOrAfter(t: number): number {
    let low = 0;
    let high = this.count;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.timeAt(middle) < t) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Splits `total` cases over `widgets` widgets with weights 1, 1/2, 1/3, … (the first widget is the busiest). */
export function casesPerWidget(total: number, widgets: number): number[] {
  const weights = Array.from({ length: widgets }, (_, i) => 1 / (i + 1));
  const sum = weights.reduce((a, b) => a + b, 0);
  const counts = weights.map((w) => Math.floor((total * w) / sum));
  let rest = total - counts.reduce((a, b) => a + b, 0);
  for (let i = 0; rest > 0; i = (i + 1) % widgets, rest--) counts[i] = (counts[i] ?? 0) + 1;
  return counts;
}

/** Midnight UTC of the first day of data: `days` calendar days ending with the UTC day of `nowMs`. */
export function firstDayStart(nowMs: number, days: number): number {
  return Math.floor(nowMs / DAY_MS) * DAY_MS - (days - 1) * DAY_MS;
}
