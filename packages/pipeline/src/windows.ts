// Incremental date windows: the state's shape and checks, and how a window is cut into request slices.
import type { CursorState } from './cursor.js';
import { ConfigError } from './errors.js';
import { addDays, isIsoDate } from './plan.js';

/**
 * Per-partition incremental state: one window end per fan-out key (e.g. per widget), not one shared cursor, with the
 * newest `cursorField` value seen in that partition's records when there was a usable one (cursor.ts), and the
 * first day loaded (`firstStart`: the start date, or an earlier one a run was given later and backfilled).
 */
export interface WindowState {
  windows: Record<string, { lastEnd: string; firstStart?: string } & Partial<CursorState>>;
}

/**
 * Per widget, the first day a `--limit-pages` sample read. A sample stores rows but advances no window, so without
 * this a refresh (refresh-plan.ts), which must not drop rows it does not read again, saw neither the widgets nor the
 * days of the sample's rows. Kept by the full loads after it (their windows say nothing of the sample's days) until a
 * refresh or a replace drops those rows. Beside `windows` (present, if empty), so a loader before it reads such a
 * state as one of windows alone, as it read a sample's null: no new DATASET_FORMAT (destination/system-tables.ts).
 */
export type SampledDays = Record<string, { firstStart: string }>;

/**
 * The `sampled` days of a stored state (or of a child's `parents.logs`); an entry without a date is left out (a
 * hand-edited state: it would refuse the run for a field only the refresh checks read).
 */
export function sampledDays(state: unknown): SampledDays {
  const sampled = (state as { sampled?: unknown } | null | undefined)?.sampled;
  if (typeof sampled !== 'object' || sampled === null || Array.isArray(sampled)) return {};
  return Object.fromEntries(Object.entries(sampled).filter(([, entry]) => {
    const day = (entry as { firstStart?: unknown } | null)?.firstStart;
    return typeof day === 'string' && isIsoDate(day);
  }));
}

/**
 * The windows of a resource's committed state (or of the part at `path`, e.g. a child's `parents.logs`), checked:
 * the state is a JSON value in the user's database.
 */
export function storedWindows(state: unknown, resource: string, path = ''): WindowState['windows'] {
  if (state === null || state === undefined) return {};
  const windows = (state as Partial<WindowState>).windows;
  const where = `The incremental state stored for ${resource} (table _pipeline_state of the dataset, resource '${resource}')`;
  const fix = `fix the row, or delete it to reload ${resource} from the start date`;
  if (typeof windows !== 'object' || windows === null || Array.isArray(windows)) {
    throw new ConfigError(`${where} has no "${path}windows" object: ${fix}`);
  }
  for (const [key, window] of Object.entries(windows)) {
    const lastEnd = (window as { lastEnd?: unknown } | null)?.lastEnd;
    if (typeof lastEnd !== 'string' || !isIsoDate(lastEnd)) {
      throw new ConfigError(`${where} has ${path}windows[${JSON.stringify(key)}].lastEnd = ${JSON.stringify(lastEnd)}, not a date YYYY-MM-DD: ${fix}`);
    }
  }
  return windows as WindowState['windows'];
}

/**
 * The first day a widget's next window reads: `lookbackDays` before the stored `lastEnd`, or the start date when there
 * is none. A `lastEnd` after `today` was committed by a run whose clock was ahead (set right since): that run read the
 * API only up to the real time it ran, so what came after is not loaded, and resuming at today would skip it for good
 * with a lookback of 0 (or a gap longer than the lookback). Such a window resumes from the day of the newest record it
 * loaded (`lastValueAt`, an instant the API really had) or today, whichever is earlier, minus the lookback. Without a
 * newest record (a widget that had no case yet) nothing says on which real day that run was, so it resumes from the
 * start date: resuming at today lost the widget's first cases, those between that run and today's lookback.
 */
export function resumeDay(window: WindowState['windows'][string] | undefined, lookbackDays: number, startDate: string, today: string): string {
  const lastEnd = window?.lastEnd;
  if (!lastEnd) return startDate;
  if (lastEnd <= today) return addDays(lastEnd, -lookbackDays);
  const newest = typeof window.lastValueAt === 'string' ? window.lastValueAt.slice(0, 10) : '';
  if (!isIsoDate(newest)) return startDate;
  return addDays(newest < today ? newest : today, -lookbackDays);
}

/** A day range of a window to read, with the consumers that take part in it (undefined: all of them). */
export type Slice = { start: string; end: string; consumers?: ReadonlySet<string> | undefined };

/** The day ranges a consumer of a window needs read, given its stored windows (see `windowParts`). */
export type PartsOf = (windows: WindowState['windows']) => Array<{ start: string; end: string }>;

/**
 * What a consumer of a widget's window needs read: from its resume point (`at`) to `end`, and, when the start date
 * was moved before the first day it loaded (`firstStart`), the days between them too (a backfill). Windows stored
 * before `firstStart` was kept have none, so they are not backfilled.
 */
export function windowParts(window: WindowState['windows'][string] | undefined, at: string, end: string, startDate: string): Array<{ start: string; end: string }> {
  const firstStart = window?.firstStart;
  if (typeof firstStart !== 'string' || !isIsoDate(firstStart) || startDate >= firstStart) return [{ start: at, end }];
  const backfillEnd = addDays(firstStart, -1);
  // Overlapping or adjoining the resume part: one range.
  if (backfillEnd >= addDays(at, -1)) return [{ start: startDate < at ? startDate : at, end }];
  return [{ start: startDate, end: backfillEnd }, { start: at, end }];
}

/**
 * The ranges to read for a widget, oldest first. With one consumer (`consumers` undefined), its parts as they are.
 * With several, the window is split wherever one's part begins or ends, and each range lists the consumers whose
 * parts cover it (ranges nobody needs are left out).
 */
export function consumerRanges(
  resumeWindows: WindowState['windows'],
  consumers: Record<string, WindowState['windows']> | undefined,
  partsOf: PartsOf,
): Array<{ start: string; end: string; consumers?: ReadonlySet<string> }> {
  if (consumers === undefined) return partsOf(resumeWindows);
  const parts = Object.entries(consumers).map(([name, windows]) => ({ name, parts: partsOf(windows) }));
  const bounds = [...new Set(parts.flatMap((c) => c.parts.flatMap((p) => [p.start, addDays(p.end, 1)])))].sort();
  const ranges: Array<{ start: string; end: string; consumers: Set<string> }> = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const start = bounds[i]!;
    const names = new Set(parts.filter((c) => c.parts.some((p) => p.start <= start && p.end >= start)).map((c) => c.name));
    if (names.size === 0) continue;
    const last = ranges[ranges.length - 1];
    // Adjoining with the same consumers: one range (fewer, longer slices).
    if (last && addDays(last.end, 1) === start && sameSet(last.consumers, names)) last.end = addDays(bounds[i + 1]!, -1);
    else ranges.push({ start, end: addDays(bounds[i + 1]!, -1), consumers: names });
  }
  return ranges;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/**
 * Inclusive day ranges of at most `days` days covering start..end (YYYY-MM-DD), oldest first; one range when null.
 * Ranges shrink (down to single days) until there are at least `minSlices` of them where the window allows.
 */
export function sliceWindow(start: string, end: string, maxDays: number | null, minSlices = 1): Array<{ start: string; end: string }> {
  if (maxDays === null) return [{ start, end }];
  const windowDays = dayCount(start, end);
  const days = Math.max(1, Math.min(maxDays, Math.floor(windowDays / Math.max(1, minSlices))));
  const slices: Array<{ start: string; end: string }> = [];
  // Bounded: each pass moves `from` forward by `days` (>= 1) until it passes `end`; at most 100 years of days.
  for (let from = start, guard = 0; from <= end && guard < 36_600; guard++) {
    const to = addDays(from, days - 1);
    slices.push({ start: from, end: to < end ? to : end });
    from = addDays(from, days);
  }
  return slices;
}

/** Days in start..end (YYYY-MM-DD, inclusive). */
export function dayCount(start: string, end: string): number {
  return Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000) + 1;
}

/**
 * The pieces a window longer than `sliceDays` is cut into once its probe (its first page, asked for the whole window)
 * linked a next page: ~√(days × sliceDays) days each (a 2-year window in 11 pieces of 72 days, with 7-day slices), so
 * that a busy widget wastes one probe per piece at most (~10 % of its slices), while a widget with a few hundred cases
 * is read in about as many requests as pieces instead of one per slice. Each piece longer than a slice is probed in
 * turn and, if it is busy too, read in slices; a single piece is the window, read in slices at once (extract.ts).
 */
export function probePieces(start: string, end: string, sliceDays: number): Array<{ start: string; end: string }> {
  const days = Math.max(sliceDays, Math.ceil(Math.sqrt(dayCount(start, end) * sliceDays)));
  return sliceWindow(start, end, days);
}
