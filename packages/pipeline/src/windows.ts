// Incremental date windows: the state's shape and checks, and how a window is cut into request slices.
import type { CursorState } from './cursor.js';
import { ConfigError } from './errors.js';
import { addDays, isIsoDate } from './plan.js';

/**
 * Per-partition incremental state: one window end per fan-out key (e.g. per widget), not one shared cursor, with the
 * newest `cursorField` value seen in that partition's records when there was a usable one (cursor.ts).
 */
export interface WindowState {
  windows: Record<string, { lastEnd: string } & Partial<CursorState>>;
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
 * Splits start..end where consumers' parts begin: each range lists the consumers whose resume point is at or before
 * its start. One range for all (consumers undefined) when there is only one consumer.
 */
export function consumerRanges(
  start: string,
  end: string,
  consumers: Record<string, WindowState['windows']> | undefined,
  resumeAt: (windows: WindowState['windows']) => string,
): Array<{ start: string; end: string; consumers?: ReadonlySet<string> }> {
  if (consumers === undefined) return [{ start, end }];
  const from = Object.entries(consumers).map(([name, windows]) => ({ name, at: resumeAt(windows) }));
  const bounds = [...new Set([start, ...from.map((f) => f.at).filter((at) => at > start && at <= end)])].sort();
  return bounds.map((at, i) => ({
    start: at,
    end: i + 1 < bounds.length ? addDays(bounds[i + 1]!, -1) : end,
    consumers: new Set(from.filter((f) => f.at <= at).map((f) => f.name)),
  }));
}

/**
 * Inclusive day ranges of at most `days` days covering start..end (YYYY-MM-DD), oldest first; one range when null.
 * Ranges shrink (down to single days) until there are at least `minSlices` of them where the window allows.
 */
export function sliceWindow(start: string, end: string, maxDays: number | null, minSlices = 1): Array<{ start: string; end: string }> {
  if (maxDays === null) return [{ start, end }];
  const windowDays = Math.round((Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / 86_400_000) + 1;
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
