// What `refresh` (`--refresh`) changes in a run before its extraction: which resources it may reload, from which day,
// and the stored states it resumes from. The commit side (tables, registry and state replaced in the commit's transaction) is
// destination/refresh.ts.
import type { Env } from './env.js';
import { listItemNoun } from './cursor.js';
import { eachParams } from './each-params.js';
import { ConfigError } from './errors.js';
import { fanOutParams, partitionKey } from './page-records.js';
import { pluralNoun } from './plural-noun.js';
import { dateWindowReading, EARLIEST_START, isIsoDate, todayUtc, type ResourcePlan } from './plan.js';
import { sampledDays, type WindowState } from './windows.js';

/** The part of a child's state this reads: the windows of the parents that drove it. */
type ChildState = { parents?: Record<string, WindowState> };

/**
 * What a refresh refuses before any request: a sample (`limitPages`) that would replace the full load, and a bare
 * refresh of a history (refuseRefreshOfHistories).
 */
export function refuseRefreshOptions(plans: readonly ResourcePlan[], limitPages: number | undefined, resourcesNamed: boolean): void {
  if (limitPages !== undefined) {
    throw new ConfigError(`refresh with limitPages would replace ${plans.filter((p) => p.load).map((p) => p.name).join(', ')} with a sample of ${limitPages} page(s) per request sequence: drop one of the two options, or sample into another DuckDB file (destination.path)`);
  }
  if (!resourcesNamed) refuseRefreshOfHistories(plans);
}

/**
 * The stored state of each resource, by name, for the run to resume from. With `refresh`, a resource the run loads
 * starts as if never loaded (its stored state is replaced at its commit), but not from a start date later than the
 * first day it loaded (moveStartDatesForRefresh, which this applies to the plans). `now`: the run's clock (run.ts).
 */
export async function readStatesToResume(destination: StateReader, plans: readonly ResourcePlan[], refresh: boolean, env: Env, now: Date): Promise<Map<string, unknown>> {
  const stored = new Map<string, unknown>();
  const refreshed = new Map<string, unknown>();
  for (const p of plans) {
    const state = await destination.readState(p.name);
    if (state !== undefined) (refresh && p.load ? refreshed : stored).set(p.name, state);
  }
  if (refresh) {
    await refuseRefreshOfOtherPipelines(destination, plans);
    refuseRefreshDroppingWidgets(plans, refreshed, env);
    await refuseRefreshWithClockSetBack(destination, plans, refreshed, todayUtc(now));
    moveStartDatesForRefresh(plans, refreshed);
  }
  return stored;
}

type StateReader = {
  readState(resource: string): Promise<unknown>;
  otherPipelinesWithState?(resource: string): Promise<string[]>;
  lastLoadDay?(resource: string): Promise<string | undefined>;
};

/**
 * The tables belong to the dataset, the state to a pipeline name: a refresh under one name would drop the records
 * another name loaded while that name's state still counts them as loaded (its next runs would not read them again).
 * Refused before any request. Not for a resource that replaces its tables: every run of it keeps only what it reads.
 */
async function refuseRefreshOfOtherPipelines(destination: StateReader, plans: readonly ResourcePlan[]): Promise<void> {
  if (!destination.otherPipelinesWithState) return;
  for (const plan of plans.filter((p) => p.load && p.writeDisposition !== 'replace')) {
    const others = await destination.otherPipelinesWithState(plan.name);
    if (others.length === 0) continue;
    throw new ConfigError(
      `${plan.name} holds records loaded under pipelineName ${others.join(', ')} too: a refresh replaces the tables of ${plan.name}, so it would drop ` +
        `them while the state of ${others.join(', ')} still counts them as loaded. Refresh under that pipelineName, or load each pipelineName into a dataset ` +
        `of its own (destination.dataset) (INCREMENTAL.md, "Refreshing a resource")`,
    );
  }
}

/**
 * A refresh replaces a resource's tables and state with what it reads, so a run for fewer widgets than its stored
 * windows and `--limit-pages` samples hold (SNAPENGAGE_WIDGET_ID narrowed since) would drop the others' records and read none of them again:
 * refused before any request. Windows are kept per fan-out key (extract.ts): the widget, for logs and its children.
 * Not for a resource that replaces its tables: every run of it keeps only the widgets it reads, refresh or not.
 */
function refuseRefreshDroppingWidgets(plans: readonly ResourcePlan[], refreshed: ReadonlyMap<string, unknown>, env: Env): void {
  for (const { plan, reading, windows } of refreshedWindows(plans, refreshed)) {
    const read = new Set(fanOutParams(reading, env).map((params) => partitionKey(reading, params)));
    const dropped = windowKeys(windows).filter((key) => !read.has(key));
    if (dropped.length === 0) continue;
    const lists = eachParams(reading.resource).map((param) => param.env);
    const shown = dropped.length > 5 ? `${dropped.slice(0, 5).join(', ')} and ${dropped.length - 5} more` : dropped.join(', ');
    // The spec's noun for one value of the list (`widget`), as show and the widget errors name it.
    const item = listItemNoun(reading.name);
    const [noun, them, their] = dropped.length === 1 ? [item, 'it', 'its'] : [pluralNoun(item), 'them', 'their'];
    const listedIn = lists.join(', ') || 'the environment';
    throw new ConfigError(
      `${plan.name} holds records of ${noun} ${shown}, which ${listedIn} no longer lists: a refresh replaces the tables and state of ${plan.name} ` +
        `with what it reads, so it would drop ${their} records and read none of them again. Add ${them} to ${listedIn} to reload ${them} too; ` +
        `to drop ${their} records for good, drop the tables of ${plan.name} by hand and run again (INCREMENTAL.md, "Dropped tables")`,
    );
  }
}

/**
 * A refresh reads up to today by the run's clock and replaces the resource's tables, so with the clock set back
 * before the last day a stored window loaded (`lastEnd` after today), or a load of the resource was made (a
 * `--limit-pages` sample stores rows but no window), it would drop the records of the days after today and read none
 * of them again (a plain run keeps them: INCREMENTAL.md, Windows): refused before any request. Not for a resource
 * that replaces its tables: every run of it keeps only what it reads up to today.
 */
async function refuseRefreshWithClockSetBack(destination: StateReader, plans: readonly ResourcePlan[], refreshed: ReadonlyMap<string, unknown>, today: string): Promise<void> {
  for (const { plan, windows } of refreshedWindows(plans, refreshed)) {
    const lastEnds = Object.values(windowsOf(windows))
      .map((window) => (window as { lastEnd?: unknown } | null)?.lastEnd)
      .filter((day): day is string => typeof day === 'string' && isIsoDate(day));
    const loadDay = await destination.lastLoadDay?.(plan.name);
    const latest = [...lastEnds, ...(loadDay === undefined ? [] : [loadDay])].sort().at(-1);
    if (latest === undefined || latest <= today) continue;
    throw new ConfigError(
      `${plan.name} has loaded up to ${latest}, after today (${today} UTC) by this machine's clock: a refresh reads up to today and replaces ` +
        `the tables and state of ${plan.name}, so it would drop the records after ${today} and read none of them again. Check the clock, ` +
        `or refresh on or after ${latest}; a run without --refresh keeps them (INCREMENTAL.md, "Refreshing a resource")`,
    );
  }
}

/**
 * Each refreshed resource read by date window that keeps what earlier runs loaded (not a replace one: it keeps only
 * what each run reads), with the resource whose date window reads it (itself, or logs for chat_poll) and the stored
 * windows of that window (none without a stored state: a sample's rows may still be there, lastLoadDay).
 */
function refreshedWindows(plans: readonly ResourcePlan[], refreshed: ReadonlyMap<string, unknown>): Array<{ plan: ResourcePlan; reading: ResourcePlan; windows: unknown }> {
  return plans.flatMap((plan) => {
    const reading = plan.load && plan.writeDisposition !== 'replace' ? dateWindowReading(plan, plans) : undefined;
    if (reading === undefined) return [];
    const state = refreshed.get(plan.name);
    return [{ plan, reading, windows: reading === plan ? state : (state as ChildState | null | undefined)?.parents?.[reading.name] }];
  });
}

/** The windows of a stored window state, by fan-out key; none when it is no window state (a hand-edited state). */
function windowsOf(state: unknown): Record<string, unknown> {
  const windows = (state as Partial<WindowState> | null | undefined)?.windows;
  return typeof windows === 'object' && windows !== null && !Array.isArray(windows) ? windows : {};
}

/** The widgets whose rows a resource's tables hold: those of its windows and those a `--limit-pages` sample read. */
function windowKeys(state: unknown): string[] {
  return [...new Set([...Object.keys(windowsOf(state)), ...Object.keys(sampledDays(state))])];
}

/**
 * The first day a refresh of `plan` reads (after moveStartDatesForRefresh): the start date of the resource whose date
 * window reads it, itself or one above it (logs for chat_poll); none when no date window does (widgets, users).
 */
export function refreshReadFrom(plan: ResourcePlan, plans: readonly ResourcePlan[]): string | undefined {
  return dateWindowReading(plan, plans)?.incremental?.startDate;
}

/**
 * A bare refresh (no `resources`) of an appended resource that no date window reads again (chat_availability, widgets,
 * users: the API serves only their present state) would replace the history of earlier runs with this run's rows:
 * refused, unless the run names the resources it refreshes.
 */
function refuseRefreshOfHistories(plans: readonly ResourcePlan[]): void {
  const histories = plans.filter((p) => p.load && p.writeDisposition === 'append' && dateWindowReading(p, plans) === undefined).map((p) => p.name);
  if (histories.length === 0) return;
  const others = plans.filter((p) => p.load && !histories.includes(p.name)).map((p) => p.name);
  throw new ConfigError(
    `refresh would replace the history of ${histories.join(', ')} (appended, no date window: the API serves only its present state) with this run's rows: ` +
      `name the resources to refresh (--resources ${others.length > 0 ? others.join(',') : '…'}; runPipeline's resources), and name ${histories.join(', ')} only to replace that history on purpose`,
  );
}

/**
 * With `refresh`: moves the start date of each incremental resource back to the first day (`firstStart`) the stored
 * windows (or samples: windows.ts, SampledDays) of the resources being refreshed say was loaded (its own, or for a child the parent windows that drove it),
 * when that is earlier. The default start date moves (30 days before the run) and a start date moved later forgets
 * nothing in a plain run, so a refresh from it alone would drop every case stored before it and read none of them
 * again. `refreshed` holds those resources' stored states; a state that is no window state (the refresh replaces it)
 * adds no day. Mutates the plans' `incremental`, shared with their parents' `children`.
 */
export function moveStartDatesForRefresh(plans: readonly ResourcePlan[], refreshed: ReadonlyMap<string, unknown>): void {
  for (const plan of plans) {
    if (!plan.incremental) continue;
    const firstDays: string[] = [];
    if (plan.load) firstDays.push(...firstStartsOf(refreshed.get(plan.name)));
    for (const child of plans.filter((c) => c.load && c.resource.parent === plan.name)) {
      firstDays.push(...firstStartsOf((refreshed.get(child.name) as ChildState | null | undefined)?.parents?.[plan.name]));
    }
    const earliest = firstDays.sort()[0];
    if (earliest !== undefined && earliest < plan.incremental.startDate) plan.incremental = { ...plan.incremental, startDate: earliest };
  }
}

/** The first days loaded per widget: by its windows and by the `--limit-pages` samples since the last refresh. */
function firstStartsOf(state: unknown): string[] {
  return [...Object.values(windowsOf(state)), ...Object.values(sampledDays(state))]
    .map((window) => (window as { firstStart?: unknown } | null)?.firstStart)
    // A day the plan would refuse as a start date (a hand-edited state) adds none: its slices were queued at once.
    .filter((day): day is string => typeof day === 'string' && isIsoDate(day) && day >= EARLIEST_START);
}
