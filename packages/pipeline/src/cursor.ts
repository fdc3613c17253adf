// The runtime meaning of an incremental resource's `cursorField` (dlt's `last_value`): the newest value of that
// field seen in a widget's records, kept in the widget's window state next to `lastEnd`, never lowered by a later run
// that sees only older records. It changes no request (the window is the date parameters); it says how fresh the
// loaded data is, and a record far outside its requested window says the API did not honour the date parameters.
//
// Values are read tolerantly, one by one: a number is epoch seconds when below 1e11 (1e11 s is the year 5138) and
// epoch milliseconds otherwise (1e11 ms is 1973), so `created_at_seconds` reads right and so would a millisecond
// field; a string of digits reads as that number, a string like `2026-11-26`, `2026-11-26T14:03:11Z` or
// `2026-11-26 14:03:11` as an ISO 8601 date (UTC when it names no offset). Anything else (null, garbage, an instant
// before 2000 or more than a day after the run's clock) is ignored.
import { printable, resources, type LoadableResource } from 'snapengage-client';
import { eachParams } from './each-params.js';
import { isoPartsInstant } from './iso-time.js';
import { isIsoDate } from './plan.js';
import { pluralNoun } from './plural-noun.js';

/** The cursor part of one widget's window state. */
export interface CursorState {
  /** The field the value was read from (the catalog's `incremental.cursorField`). */
  cursorField: string;
  /** The newest value as the record held it. */
  lastValue: number | string;
  /** The same instant in ISO 8601 UTC, for reading. */
  lastValueAt: string;
}

const EARLIEST = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;
const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** The instant (epoch ms) a cursor value stands for, or undefined when it is not a usable one (see the top). */
export function cursorInstant(value: unknown, nowMs: number = Date.now()): number | undefined {
  let ms: number | undefined;
  if (typeof value === 'number') ms = fromNumber(value);
  else if (typeof value === 'string') {
    const text = value.trim();
    if (/^\d{1,16}(\.\d+)?$/.test(text)) ms = fromNumber(Number(text));
    else {
      const match = ISO.exec(text);
      if (match) {
        const [, date, time, zone] = match;
        ms = isoPartsInstant(date!, time ?? '00:00:00', time === undefined ? undefined : zone);
        // Date.parse rolls 2026-02-30 (also with a time) over to March: only a date that is itself is a date.
        if (!isIsoDate(date!)) ms = undefined;
      }
    }
  }
  if (ms === undefined || !Number.isFinite(ms) || ms < EARLIEST || ms > nowMs + DAY_MS) return undefined;
  return ms;
}

function fromNumber(value: number): number | undefined {
  if (!Number.isFinite(value)) return undefined;
  return Math.floor(Math.abs(value) < 1e11 ? value * 1000 : value);
}

/** ISO 8601 UTC without a zero millisecond part: `2026-11-26T14:03:11Z`. */
export function isoInstant(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** Records whose cursor value lies more than a day outside the window they were requested for (the first one kept). */
export interface OutOfWindow {
  /** Such records over the whole run, every resource and widget. */
  records: number;
  resource: string;
  partition: string;
  cursorField: string;
  /** The first such record's value, its instant, and the window (inclusive UTC days) it came back for. */
  value: number | string;
  at: string;
  start: string;
  end: string;
}

/** What one incremental resource's request asked for: its fan-out key and its window's first and last day. */
export interface PageWindow {
  resource: string;
  cursorField: string;
  partition: string;
  start?: string | undefined;
  end?: string | undefined;
}

/** Watches the cursor values of a run's incremental records: the newest per resource and partition, and strays. */
export class CursorWatch {
  private readonly newest = new Map<string, { value: number | string; ms: number }>();
  private stray: OutOfWindow | undefined;

  constructor(private readonly nowMs: number = Date.now()) {}

  /** Reads the cursor value of each record of one page (before any step runs: the source's records as they came). */
  see(page: PageWindow, records: ReadonlyArray<Record<string, unknown>>): void {
    const id = `${page.resource}\u0000${page.partition}`;
    const from = page.start === undefined ? NaN : Date.parse(`${page.start}T00:00:00Z`) - DAY_MS;
    const until = page.end === undefined ? NaN : Date.parse(`${page.end}T00:00:00Z`) + 2 * DAY_MS;
    let current = this.newest.get(id);
    for (const record of records) {
      const value = record[page.cursorField];
      const ms = cursorInstant(value, this.nowMs);
      if (ms === undefined) continue;
      if (current === undefined || ms > current.ms) current = { value: value as number | string, ms };
      if (ms < from || ms >= until) {
        if (this.stray) this.stray.records++;
        else this.stray = { records: 1, resource: page.resource, partition: page.partition, cursorField: page.cursorField, value: value as number | string, at: isoInstant(ms), start: page.start!, end: page.end! };
      }
    }
    if (current !== undefined) this.newest.set(id, current);
  }

  /** The newest value seen for a resource's partition, as window state fields; undefined when none was usable. */
  stateOf(resource: string, partition: string, cursorField: string): CursorState | undefined {
    const newest = this.newest.get(`${resource}\u0000${partition}`);
    return newest && { cursorField, lastValue: newest.value, lastValueAt: isoInstant(newest.ms) };
  }

  /** Records that came back far outside their requested window, or undefined when there were none. */
  get outOfWindow(): OutOfWindow | undefined {
    return this.stray && { ...this.stray };
  }
}

/**
 * One widget's cursor state, read tolerantly from a stored window (a JSON value in the user's database): undefined
 * when it has none or it is not usable, so a hand-edited or older row never fails a run.
 */
function storedCursor(window: unknown): (CursorState & { ms: number }) | undefined {
  if (window === null || typeof window !== 'object') return undefined;
  const { cursorField, lastValue } = window as Partial<CursorState>;
  if (typeof cursorField !== 'string' || (typeof lastValue !== 'number' && typeof lastValue !== 'string')) return undefined;
  // No clock bound here: a stored value was checked against the clock of the run that saw it.
  const ms = cursorInstant(lastValue, Number.MAX_SAFE_INTEGER);
  return ms === undefined ? undefined : { cursorField, lastValue, lastValueAt: isoInstant(ms), ms };
}

/**
 * A widget's window after a run: this run's `lastEnd`, and the newer of the stored and this run's cursor values
 * (a rerun that sees only older records, or none, keeps the stored one), and the earlier of the first days loaded.
 * A stored value of another field than `cursorField` (the spec changed it) is dropped.
 */
export function mergeWindow<W extends { lastEnd: string; firstStart?: string }>(stored: W | undefined, fresh: W, cursorField: string | undefined): W {
  const kept = storedCursor(stored);
  const before = kept !== undefined && (cursorField === undefined || kept.cursorField === cursorField) ? kept : undefined;
  const now = storedCursor(fresh);
  const merged = before === undefined || (now !== undefined && now.ms >= before.ms)
    ? fresh
    : { ...fresh, cursorField: before.cursorField, lastValue: before.lastValue, lastValueAt: before.lastValueAt };
  // The first day loaded is the earlier one: a start date moved later does not forget days already loaded.
  const firstStart = [stored?.firstStart, fresh.firstStart].filter((d): d is string => typeof d === 'string' && isIsoDate(d)).sort()[0];
  return firstStart === undefined || firstStart === merged.firstStart ? merged : { ...merged, firstStart };
}

/**
 * `lastEnd 2026-11-26  newest record 2026-11-26T14:03:11Z (created_at_seconds 1795702991)  from 2026-10-28` (the first
 * day loaded); the window as `show` and the load info print it.
 */
function describeWindow(window: unknown): string {
  const lastEnd = (window as { lastEnd?: unknown } | null)?.lastEnd;
  const cursor = storedCursor(window);
  const newest = cursor ? `  newest record ${cursor.lastValueAt} (${cursor.cursorField} ${JSON.stringify(cursor.lastValue)})` : '';
  const firstStart = (window as { firstStart?: unknown } | null)?.firstStart;
  const since = typeof firstStart === 'string' && isIsoDate(firstStart) ? `  from ${firstStart}` : '';
  return `lastEnd ${typeof lastEnd === 'string' ? lastEnd : '-'}${newest}${since}`;
}

/** Windows listed one line each, per resource; past this, a summary (1,000 widgets printed 1,000 lines). */
const WINDOWS_LISTED = 10;
/** Widgets named under a summary: those furthest behind. */
const BEHIND_LISTED = 5;

/**
 * The lines of a resource's windows (`label`: `logs`, or `chat_poll  (via logs)`) in `show` and the load info: one
 * per widget up to WINDOWS_LISTED; beyond, one summary line (the `lastEnd` days, the span of newest records, the first
 * days loaded) and the widgets furthest behind (oldest `lastEnd`, then oldest newest record, then none), so a lagging
 * one stands out.
 */
export function describeWindows(label: string, windows: Readonly<Record<string, unknown>>, item: string): string[] {
  const entries = Object.entries(windows);
  if (entries.length <= WINDOWS_LISTED) return entries.map(([key, window]) => `  ${label}  ${printable(key)}  ${describeWindow(window)}`);
  const day = (window: unknown, field: 'lastEnd' | 'firstStart') => {
    const value = (window as Record<string, unknown> | null)?.[field];
    return typeof value === 'string' && isIsoDate(value) ? value : '-';
  };
  const rows = entries.map(([key, window]) => ({ key, window, lastEnd: day(window, 'lastEnd'), cursor: storedCursor(window) }));
  const withCursor = rows.filter((r) => r.cursor !== undefined).sort((a, b) => a.cursor!.ms - b.cursor!.ms);
  const newest = withCursor.length === 0
    ? ''
    : `  newest record ${withCursor[0]!.cursor!.lastValueAt} to ${withCursor.at(-1)!.cursor!.lastValueAt}${withCursor.length < rows.length ? ` (${rows.length - withCursor.length} with none)` : ''}`;
  const lines = [`  ${label}  ${rows.length} ${pluralNoun(item)}  lastEnd ${tally(rows.map((r) => r.lastEnd))}${newest}  from ${tally(rows.map((r) => day(r.window, 'firstStart')))}`];
  // Furthest behind first: the oldest lastEnd, then the oldest newest record. Widgets with none (counted on the summary
  // line) come after those with one: listed first, a sparse organisation's 173 widgets of 300 that never had a case
  // filled the lines, the same five every day, and a widget whose cases stopped months ago never showed.
  const behind = [...rows].sort((a, b) => (a.lastEnd < b.lastEnd ? -1 : a.lastEnd > b.lastEnd ? 1 : 0) || (a.cursor?.ms ?? Infinity) - (b.cursor?.ms ?? Infinity));
  for (const r of behind.slice(0, BEHIND_LISTED)) lines.push(`  ${label}  ${printable(r.key)}  ${describeWindow(r.window)}`);
  lines.push(`  ${label}  ... ${rows.length - BEHIND_LISTED} more ${pluralNoun(item)} (the furthest behind are above; openDataset(...).state() has every window)`);
  return lines;
}

/**
 * The lines of the days `--limit-pages` samples read (a state's `sampled`, windows.ts), in `show` under the window
 * lines: `  logs  w1  sampled from 2026-11-20 (--limit-pages)`. A full load advances the windows but keeps these (the
 * sample's rows are there), and a refresh reads from them, so without the line a refresh that re-reads days before
 * every window's first day looked unexplained. One line per widget up to WINDOWS_LISTED, beyond that one line.
 */
export function describeSampled(label: string, sampled: Readonly<Record<string, { firstStart: string }>>, item: string): string[] {
  const entries = Object.entries(sampled);
  if (entries.length <= WINDOWS_LISTED) return entries.map(([key, { firstStart }]) => `  ${label}  ${printable(key)}  sampled from ${firstStart} (--limit-pages)`);
  return [`  ${label}  ${entries.length} ${pluralNoun(item)}  sampled from ${tally(entries.map(([, entry]) => entry.firstStart))} (--limit-pages)`];
}

/** `2026-11-27 (298), 2026-11-20 (2)`, newest first, at most 3 values; a single value alone. */
function tally(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  if (counts.size === 1) return values[0]!;
  const sorted = [...counts].sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0)); // plain order, not the locale's
  const shown = sorted.slice(0, 3).map(([v, n]) => `${v} (${n})`);
  return sorted.length > 3 ? `${shown.join(', ')}, ... (${sorted.length - 3} other ${sorted.length - 3 === 1 ? 'day' : 'days'})` : shown.join(', ');
}

/**
 * What one value of the list a resource's windows are keyed by is (the spec's `item` of its each param, `widget`):
 * a child's windows are its parent's. `item` when the spec names none, or the resource is no longer in the catalog.
 */
export function listItemNoun(resourceName: string): string {
  const catalog = resources as unknown as Readonly<Record<string, LoadableResource | undefined>>;
  let resource = catalog[resourceName];
  // Bounded: the generator refuses a cycle of parents, and a chain is never longer than the catalog.
  for (let depth = 0; resource && depth <= Object.keys(catalog).length; depth++) {
    const each = eachParams(resource)[0];
    if (each) return each.item ?? 'item';
    resource = resource.parent === null ? undefined : catalog[resource.parent];
  }
  return 'item';
}
