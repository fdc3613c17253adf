import { describe, expect, it } from 'vitest';
import { CASE_KIND_GENERATED, CASE_KIND_INJECTED, CaseIdCodec } from '../src/case-ids.js';
import { isKnownTimeZone, nextDay, parseDateParam, startOfDayIn } from '../src/dates.js';
import { seedKey } from '../src/random.js';
import { casesPerWidget, firstDayStart, Timeline } from '../src/timeline.js';

// The pure building blocks: id codec, timeline, date arithmetic.

describe('CaseIdCodec', () => {
  it('round-trips and looks like a v4 UUID', () => {
    const codec = new CaseIdCodec(seedKey(42));
    for (const [kind, widget, index] of [[CASE_KIND_GENERATED, 0, 0], [CASE_KIND_GENERATED, 99, 999_999], [CASE_KIND_INJECTED, 3, 4_000_000_000]] as const) {
      const id = codec.encode(kind, widget, index);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(codec.decode(id)).toEqual({ kind, widgetIndex: widget, index });
    }
  });

  it('refuses ids of another seed and random UUIDs', () => {
    const id = new CaseIdCodec(seedKey(1)).encode(CASE_KIND_GENERATED, 0, 5);
    expect(new CaseIdCodec(seedKey(2)).decode(id)).toBeUndefined();
    expect(new CaseIdCodec(seedKey(1)).decode('a7e91ae8-d4f4-4990-9da6-3b41fe072cc9')).toBeUndefined();
  });

  it('gives distinct ids to neighbouring cases', () => {
    const codec = new CaseIdCodec(seedKey(7));
    const ids = new Set(Array.from({ length: 10_000 }, (_, k) => codec.encode(CASE_KIND_GENERATED, 0, k)));
    expect(ids.size).toBe(10_000);
  });
});

describe('Timeline', () => {
  it('strictly increases and maps times back to indexes', () => {
    const start = Date.UTC(2025, 0, 1);
    const timeline = new Timeline(start, start + 86_400_000, 5000, seedKey(3), 0);
    let previous = -Infinity;
    for (let k = 0; k < 5000; k++) {
      const t = timeline.timeAt(k);
      expect(t).toBeGreaterThan(previous);
      expect(timeline.firstAtOrAfter(t)).toBe(k);
      expect(timeline.firstAtOrAfter(t + 1)).toBe(k + 1);
      previous = t;
    }
    expect(previous).toBeLessThan(start + 86_400_000);
  });

  it('splits cases over widgets, busiest first, adding up exactly', () => {
    expect(casesPerWidget(1_000_000, 3)).toEqual([545455, 272727, 181818]);
    expect(casesPerWidget(5, 10).reduce((a, b) => a + b)).toBe(5);
    expect(firstDayStart(Date.UTC(2025, 0, 31, 15), 90)).toBe(Date.UTC(2024, 10, 3));
  });
});

describe('dates', () => {
  it('reads dates and ISO datetimes, refuses impossible dates', () => {
    expect(parseDateParam('2024-02-29')).toEqual({ year: 2024, month: 2, day: 29 });
    expect(parseDateParam('2024-02-29T23:59:59.999+05:30')).toEqual({ year: 2024, month: 2, day: 29 });
    for (const bad of ['2023-02-29', '2024-13-01', '2024-1-1', 'yesterday', '2024-01-01Tnoon']) expect(parseDateParam(bad)).toBeUndefined();
    expect(nextDay({ year: 2024, month: 12, day: 31 })).toEqual({ year: 2025, month: 1, day: 1 });
  });

  it('finds local midnight across DST changes', () => {
    expect(startOfDayIn({ year: 2025, month: 3, day: 30 }, 'Europe/Paris')).toBe(Date.UTC(2025, 2, 29, 23));
    expect(startOfDayIn({ year: 2025, month: 3, day: 31 }, 'Europe/Paris')).toBe(Date.UTC(2025, 2, 30, 22));
    expect(startOfDayIn({ year: 2025, month: 1, day: 1 }, 'America/Los_Angeles')).toBe(Date.UTC(2025, 0, 1, 8));
    expect(startOfDayIn({ year: 2025, month: 1, day: 1 }, 'Etc/UTC')).toBe(Date.UTC(2025, 0, 1));
  });

  it('starts a day whose midnight does not exist at the end of the gap, and a doubled midnight at its first occurrence', () => {
    // Summer time starts at 00:00 in these zones: the day begins at 01:00 local (java.time's atStartOfDay).
    expect(startOfDayIn({ year: 2024, month: 9, day: 8 }, 'America/Santiago')).toBe(Date.UTC(2024, 8, 8, 4));
    expect(startOfDayIn({ year: 2024, month: 3, day: 10 }, 'America/Havana')).toBe(Date.UTC(2024, 2, 10, 5));
    expect(startOfDayIn({ year: 2018, month: 11, day: 4 }, 'America/Sao_Paulo')).toBe(Date.UTC(2018, 10, 4, 3));
    // The window of the day before ends there too (end is inclusive: it stops at the next day's start).
    expect(startOfDayIn(nextDay({ year: 2024, month: 9, day: 7 }), 'America/Santiago')).toBe(Date.UTC(2024, 8, 8, 4));
    // Clocks set back from 01:00 to 00:00: midnight happens twice, the day starts at the first one.
    expect(startOfDayIn({ year: 2024, month: 11, day: 3 }, 'America/Havana')).toBe(Date.UTC(2024, 10, 3, 4));
    // Clocks set back from 00:00 to 23:00: the previous day's last hour repeats, midnight happens once, after it.
    expect(startOfDayIn({ year: 2019, month: 2, day: 17 }, 'America/Sao_Paulo')).toBe(Date.UTC(2019, 1, 17, 3));
    // Samoa skipped 2011-12-30: that day has no instant, it starts (and ends) where 2011-12-31 starts.
    expect(startOfDayIn({ year: 2011, month: 12, day: 30 }, 'Pacific/Apia')).toBe(Date.UTC(2011, 11, 30, 10));
    expect(startOfDayIn({ year: 2011, month: 12, day: 31 }, 'Pacific/Apia')).toBe(Date.UTC(2011, 11, 30, 10));
  });

  it('answers each zone and date its own start when asked again (the answers are cached)', () => {
    for (let round = 0; round < 2; round++) {
      expect(startOfDayIn({ year: 2025, month: 1, day: 20 }, 'Etc/UTC')).toBe(Date.UTC(2025, 0, 20));
      expect(startOfDayIn({ year: 2025, month: 1, day: 20 }, 'Asia/Tokyo')).toBe(Date.UTC(2025, 0, 19, 15));
      expect(startOfDayIn({ year: 2025, month: 1, day: 21 }, 'Asia/Tokyo')).toBe(Date.UTC(2025, 0, 20, 15));
    }
  });

  it('knows IANA zones only', () => {
    expect(isKnownTimeZone('Asia/Kolkata')).toBe(true);
    expect(isKnownTimeZone('UTC')).toBe(true);
    for (const bad of ['Mars/Base', '+02:00', '', 'Europe/Paris; DROP']) expect(isKnownTimeZone(bad)).toBe(false);
  });
});
