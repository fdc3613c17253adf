// Whether the API returns the cases of the `end` day it is asked for. The docs say only "the ISO8601 date to stop
// returning logs from"; inclusive is inferred (the reference's RSCRIPT asks start = end = yesterday). Were it
// exclusive, every request would miss its last day, each window slice's and a daily rerun's one-day slices' whole
// answer, and the windows would advance over those days for good: a silent loss. So a run that loads a widget for the
// first time asks once, per incremental resource, for the two days ending on the day of a record it has just been
// given, and fails (nothing committed) when that record does not come back, naming `incremental.endDay`. Two days,
// not one: an API that reads `end` as exclusive may still answer start = end with that day.
import { cursorInstant, isoInstant } from './cursor.js';
import { ExtractError } from './errors.js';
import type { PageSource } from './extract.js';
import { requestParams, selectPath, windowParams, type Params } from './page-records.js';
import { addDays, type ResourcePlan } from './plan.js';
import type { SourceRecord } from './config.js';
import type { WindowState } from './windows.js';

/** A record to ask for again by its one day: its request parameters (widget), key and creation instant. */
export interface EndDayWitness {
  plan: ResourcePlan;
  params: Params;
  key: unknown[];
  ms: number;
  /** The day range it came back for. */
  start: string;
  end: string;
  /**
   * Whether earlier loads stored windows for its widget (a rerun of a widget they gave no record): they read those
   * days the same way, so the fix is a reload, not just a run again.
   */
  afterEarlierLoads?: boolean;
}

const HOUR_MS = 3_600_000;
// A day with this many pages is not read to the end for the check (inconclusive, no error): 5,000 cases in a day.
const MAX_CHECK_PAGES = 50;

/**
 * Whether a widget still owes the check: no window stored for it (its first load), or stored windows of which none
 * holds a newest record (every load so far gave no record, so none could be asked for again: a widget without cases
 * yet). `consumers`: each consumer's windows, when the window has several (resume.ts). A rerun of such a widget is
 * read without one-day slices (extract.ts): an API that reads `end` as exclusive answers a one-day request with
 * nothing, so a daily rerun in one-day slices got no record to check and loaded nothing, run after run. (A first
 * load keeps its slices: one of a few recent days in one-day slices gets nothing either, and the next run checks.)
 */
export function owesEndDayCheck(windows: WindowState['windows'], consumers: Record<string, WindowState['windows']> | undefined, key: string): boolean {
  if (windows[key] === undefined) return true;
  const stored = consumers === undefined ? [windows[key]] : Object.values(consumers).map((own) => own[key]);
  return !stored.some((window) => typeof window?.lastValueAt === 'string');
}

/**
 * A record fit to be the witness: a value for each key field and a cursor instant before 10:00 UTC, so that an API
 * reading the days in another zone than the `timezone` asked for would still return it for the two days ending on its
 * UTC day: west of UTC (to −12) that instant falls on the same day or the one before, east of it (to +14) before the
 * end of the same day. Any earlier bound only left out records for nothing (a widget of American office hours, whose
 * cases come from 13:00 UTC, has its evening ones before 10:00 UTC).
 */
export function witnessOf(plan: ResourcePlan, params: Params, record: SourceRecord, start: string | undefined, end: string | undefined, nowMs: number): EndDayWitness | undefined {
  const incremental = plan.resource.incremental;
  if (!incremental || start === undefined || end === undefined) return undefined;
  const key = plan.resource.primaryKey.map((field) => record[field]);
  if (key.length === 0 || key.some((v) => typeof v !== 'string' && typeof v !== 'number')) return undefined;
  const ms = cursorInstant(record[incremental.cursorField], nowMs);
  if (ms === undefined) return undefined;
  const hour = Math.floor((ms % 86_400_000) / HOUR_MS);
  const day = isoInstant(ms).slice(0, 10);
  if (hour >= 10 || day < start || day > end) return undefined;
  return { plan, params, key, ms, start, end };
}

/**
 * Asks for the witness's day and the one before; throws an ExtractError when the API answers them without the witness
 * but returns it once the day after is added (exclusive). Missing from both (the case deleted meanwhile, or an API that
 * selects cases by another time than `cursorField`) says nothing about the end day: no error.
 */
export async function checkEndDay(client: PageSource, witness: EndDayWitness, widget: string, signal: AbortSignal): Promise<void> {
  const { plan, ms } = witness;
  const incremental = plan.resource.incremental!;
  const day = isoInstant(ms).slice(0, 10);
  const before = addDays(day, -1);
  if ((await holds(client, witness, before, day, signal)) !== false) return;
  if ((await holds(client, witness, before, addDays(day, 1), signal)) !== true) return;
  const keyText = plan.resource.primaryKey.map((field, i) => `${field} ${JSON.stringify(witness.key[i])}`).join(', ');
  throw new ExtractError(
    `Extracting ${plan.name} failed: GET ${plan.resource.path} asked for ${incremental.startParam}=${before} ${incremental.endParam}=${day}${widget} did not return the record ` +
      `${keyText} (created ${isoInstant(ms)} by ${incremental.cursorField}), which it returned for ${witness.start}..${witness.end} and for ${incremental.endParam}=${addDays(day, 1)}: ` +
      `the API reads ${incremental.endParam} as exclusive, so each request missed its last day. Nothing of this run was committed` +
      (witness.afterEarlierLoads
        ? `, but the earlier loads of this widget read their days the same way (a one-day request got nothing): set resources.${plan.name}.incremental.endDay: 'exclusive' in src/pipeline.ts and run again with --refresh --resources ${plan.name}, which reads them again`
        : `: set resources.${plan.name}.incremental.endDay: 'exclusive' in src/pipeline.ts and run again`),
    plan.name,
    'end_day',
  );
}

/** Whether the API's answer for start..end holds the witness; undefined past MAX_CHECK_PAGES pages (inconclusive). */
async function holds(client: PageSource, witness: EndDayWitness, start: string, end: string, signal: AbortSignal): Promise<boolean | undefined> {
  const { plan, params, key } = witness;
  // The check is made for an inclusive end day only, so the window is asked for as it is.
  const request = requestParams(plan, windowParams(plan, params, start, end));
  const paginator = plan.resource.paginator;
  const pages = client.iteratePages(plan.resource.path, { params: request, signal }, { nextUrlPath: paginator.type === 'next_url' ? paginator.nextUrlPath : null, maxPages: MAX_CHECK_PAGES + 1 });
  let count = 0;
  for await (const page of pages) {
    const selected = selectPath(page.data, plan.resource.dataSelector);
    const records = Array.isArray(selected) ? selected : [];
    if (records.some((r) => r !== null && typeof r === 'object' && plan.resource.primaryKey.every((field, i) => (r as SourceRecord)[field] === key[i]))) return true;
    // A day of thousands of cases is not read to the end: the pages after are not fetched.
    if (++count >= MAX_CHECK_PAGES) return undefined;
  }
  return false;
}
