// windows.ts on its own: where a widget's window resumes, how a moved start date is backfilled, how consumers'
// parts are split into ranges, and how a range is cut into slices and probe pieces. Each case here pins a rule that
// hand mutation testing (round 6) found no other test to check: the end-to-end runs read the same days either way.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { consumerRanges, dayCount, probePieces, resumeDay, sliceWindow, storedWindows, windowParts, type WindowState } from '../src/windows.js';

const cursor = (lastValueAt: string) => ({ cursorField: 'created_at_seconds', lastValue: 0, lastValueAt });

describe('resumeDay', () => {
  const [startDate, today] = ['2025-01-01', '2025-03-10'];

  it('starts at the start date without a window, and lookbackDays before a lastEnd up to today', () => {
    expect(resumeDay(undefined, 2, startDate, today)).toBe(startDate);
    expect(resumeDay({ lastEnd: '2025-03-05' }, 2, startDate, today)).toBe('2025-03-03');
    // A lastEnd of today is not "ahead": the newest record's day is not used even when it is earlier.
    expect(resumeDay({ lastEnd: today, ...cursor('2025-02-01T10:00:00.000Z') }, 2, startDate, today)).toBe('2025-03-08');
  });

  it('resumes a lastEnd after today (a clock that was ahead) from the newest record loaded, or today, minus the lookback', () => {
    expect(resumeDay({ lastEnd: '2025-03-20', ...cursor('2025-03-01T10:00:00.000Z') }, 2, startDate, today)).toBe('2025-02-27');
    expect(resumeDay({ lastEnd: '2025-03-20', ...cursor('2025-03-15T10:00:00.000Z') }, 2, startDate, today)).toBe('2025-03-08');
    // No newest record: nothing says which real day the run ahead was on, so from the start date (extract-review.test.ts).
    expect(resumeDay({ lastEnd: '2025-03-20' }, 2, startDate, today)).toBe(startDate);
    expect(resumeDay({ lastEnd: '2025-03-20', ...cursor('not a time') }, 0, startDate, today)).toBe(startDate);
  });
});

describe('storedWindows', () => {
  it('refuses a windows value that is an array, naming the table and the fix', () => {
    expect(() => storedWindows({ windows: [] }, 'logs')).toThrow(ConfigError);
    expect(() => storedWindows({ windows: [{ lastEnd: '2025-01-01' }] }, 'logs')).toThrow(/_pipeline_state .* has no "windows" object: fix the row, or delete it/);
  });
});

describe('windowParts', () => {
  it('a backfill merged with the resume part starts at the resume point when the lookback reaches before the start date', () => {
    // Start date moved from 2025-01-15 to 2025-01-10; the lookback resumes at 2025-01-05: those days are read again.
    expect(windowParts({ lastEnd: '2025-01-15', firstStart: '2025-01-15' }, '2025-01-05', '2025-01-31', '2025-01-10')).toEqual([{ start: '2025-01-05', end: '2025-01-31' }]);
  });
});

describe('consumerRanges', () => {
  const parts = (ranges: Record<string, Array<{ start: string; end: string }>>) => (windows: WindowState['windows']) => ranges[windows.w!.lastEnd]!;
  const names = (ranges: ReturnType<typeof consumerRanges>) => ranges.map((r) => [r.start, r.end, [...(r.consumers ?? [])].sort()]);

  it('includes a consumer whose part is a single day at a range\'s start', () => {
    const partsOf = parts({ a: [{ start: '2025-01-01', end: '2025-01-31' }], b: [{ start: '2025-01-31', end: '2025-01-31' }] });
    expect(names(consumerRanges({}, { logs: { w: { lastEnd: 'a' } }, chat_poll: { w: { lastEnd: 'b' } } }, partsOf))).toEqual([
      ['2025-01-01', '2025-01-30', ['logs']],
      ['2025-01-31', '2025-01-31', ['chat_poll', 'logs']],
    ]);
  });

  it('keeps the gap between two parts unread, also when the same consumers take part on both sides', () => {
    const partsOf = parts({ a: [{ start: '2025-01-01', end: '2025-01-05' }, { start: '2025-01-20', end: '2025-01-31' }] });
    expect(names(consumerRanges({}, { logs: { w: { lastEnd: 'a' } }, chat_poll: { w: { lastEnd: 'a' } } }, partsOf))).toEqual([
      ['2025-01-01', '2025-01-05', ['chat_poll', 'logs']],
      ['2025-01-20', '2025-01-31', ['chat_poll', 'logs']],
    ]);
  });
});

describe('sliceWindow and probePieces', () => {
  it('gives at least minSlices slices when the window has that many days', () => {
    // 5 days for 4 slots: slices of 1 day (5 slices), not of 2 (3 slices, a slot idle).
    expect(sliceWindow('2025-01-01', '2025-01-05', 7, 4)).toHaveLength(5);
    expect(sliceWindow('2025-01-01', '2025-01-10', 7, 4).length).toBeGreaterThanOrEqual(4);
  });

  it('cuts a 2-year window into 11 pieces of 72 days with 7-day slices (the example windows.ts gives)', () => {
    const pieces = probePieces('2023-01-01', '2024-12-30', 7);
    expect(dayCount('2023-01-01', '2024-12-30')).toBe(730);
    expect(pieces).toHaveLength(11);
    expect(pieces.slice(0, -1).map((p) => dayCount(p.start, p.end))).toEqual(Array(10).fill(72));
    expect(pieces.at(-1)).toEqual({ start: '2024-12-21', end: '2024-12-30' });
  });
});
