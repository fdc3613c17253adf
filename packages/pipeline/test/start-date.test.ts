// start-date.ts on its own: the hint after "must be a date YYYY-MM-DD, got …" (INCREMENTAL.md, "Windows"). The
// planning path is in plan.test.ts ("start date"); these pin the bounds and calendar edges it does not reach.
import { describe, expect, it } from 'vitest';
import { startDateHint } from '../src/start-date.js';

const bounds = { today: '2026-11-27', earliest: '1970-01-01' };

describe('startDateHint', () => {
  it('offers today and the earliest day themselves: only a day after today or before the earliest is refused', () => {
    expect(startDateHint('2026-11-27T10:00:00Z', bounds)).toBe('a day is enough, not a time: windows are whole UTC days, and that instant falls on 2026-11-27 in UTC; use 2026-11-27');
    expect(startDateHint('1970-01-01T05:00:00Z', bounds)).toBe('a day is enough, not a time: windows are whole UTC days, and that instant falls on 1970-01-01 in UTC; use 1970-01-01');
    expect(startDateHint('2026-11-28T00:00:00Z', bounds)).toMatch(/falls on 2026-11-28 in UTC, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
    expect(startDateHint('1969-12-31T23:59:59Z', bounds)).toMatch(/falls on 1969-12-31 in UTC, before 1970-01-01: no case is that old; check the year$/);
  });

  it('names a month 00 or a day 00 as missing from the calendar, not as a day to use', () => {
    expect(startDateHint(' 2025-00-10 ', bounds)).toBe('there is no such month');
    expect(startDateHint('2025-00-10T10:00:00Z', bounds)).toBe('there is no such month');
    expect(startDateHint(' 2025-01-00', bounds)).toBe('there is no such day: 2025-01 has 31 days');
    expect(startDateHint('2025-01-00T10:00:00Z', bounds)).toBe('there is no such day: 2025-01 has 31 days');
    // The last day of a month is a day.
    expect(startDateHint(' 2025-01-31', bounds)).toBe('without the spaces around it: 2025-01-31');
  });

  it('calls an invalid Date invalid instead of offering a day', () => {
    expect(startDateHint(new Date(Number.NaN), bounds)).toBe('an invalid Date');
    expect(startDateHint(new Date('2025-01-01T00:00:00Z'), bounds)).toMatch(/^a Date object, not a day: write the day as text, e.g. '2025-01-01'/);
  });

  it('names the day a year-first date written another way stands for: unpadded, basic YYYYMMDD, slashes or dots', () => {
    expect(startDateHint('2025-2-3', bounds)).toBe('the day 2025-02-03 in another form; use 2025-02-03');
    expect(startDateHint('20250203', bounds)).toBe('the day 2025-02-03 in another form; use 2025-02-03');
    expect(startDateHint('2025/02/03', bounds)).toBe('the day 2025-02-03 in another form; use 2025-02-03');
    expect(startDateHint(' 2024.2.29 ', bounds)).toBe('the day 2024-02-29 in another form; use 2024-02-29');
    // A day the calendar lacks, or one the run would refuse next, is not offered.
    expect(startDateHint('2025-2-29', bounds)).toBe('there is no such day: 2025-02 has 28 days');
    expect(startDateHint('20251301', bounds)).toBe('there is no such month');
    expect(startDateHint('2999/1/1', bounds)).toBe('the day 2999-01-01 in another form, after today (2026-11-27 UTC): use the first day to load, in the past');
    // Day or month first, or separators mixed: two readings, or none; no day is guessed.
    expect(startDateHint('03/02/2025', bounds)).toBe('use the first day to load, e.g. 2025-01-31 (a whole UTC day)');
    expect(startDateHint('2025-02/03', bounds)).toBe('use the first day to load, e.g. 2025-01-31 (a whole UTC day)');
  });

  it('reads a value inside quotes (docker compose\'s list form keeps them; a copied day may have typographic ones)', () => {
    expect(startDateHint('"2025-02-03"', bounds)).toBe('without the quotes around it: 2025-02-03');
    expect(startDateHint('\u201c2025-02-03\u201d', bounds)).toBe('without the quotes around it: 2025-02-03');
    expect(startDateHint("' 2025-02-03'", bounds)).toBe('without the quotes around it: 2025-02-03');
    expect(startDateHint('"2999-01-01"', bounds)).toBe('quotes around 2999-01-01, after today (2026-11-27 UTC): use the first day to load, in the past');
    // What they hold is read as it would be without them.
    expect(startDateHint('"2025-2-3"', bounds)).toBe('the day 2025-02-03 in another form; use 2025-02-03');
    expect(startDateHint('"2025-02-30"', bounds)).toBe('there is no such day: 2025-02 has 28 days');
    expect(startDateHint('"garbage"', bounds)).toBe('use the first day to load, e.g. 2025-01-31 (a whole UTC day)');
  });
});
