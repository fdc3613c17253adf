// The model of run-sequences-property.test.ts: what the dataset must hold after each run (INCREMENTAL.md), how a
// complete, sampled, failed or killed run changes it, and the check of a DuckDB file against it.
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { expectMatchesTruth, withQueries, type Run, type TruthCase } from '../helpers.js';
import { kept, mapped, servedId, type SequenceConfig } from './steps.js';

export const DATASET = 'snapengage_data';
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
// A fixed calendar, so a seed replays the same days; the sandbox's generated cases end here.
export const START_MS = Date.parse('2026-03-10T08:00:00Z');
export const START_DATE = day(START_MS - 6 * DAY);

export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
export const dayStart = (ms: number) => Date.parse(`${day(ms)}T00:00:00Z`);
const minusDays = (isoDay: string, days: number) => day(Date.parse(`${isoDay}T00:00:00Z`) - days * DAY);
const createdMs = (c: TruthCase) => Number(c.created_at_seconds) * 1000;

interface Window {
  lastEnd: string;
  firstStart: string;
  lastValue?: number;
}

type Child = 'chat_poll' | 'visitor_typing';
/** The resources with date windows (a child keeps the `logs` windows that drove it). */
export type Windowed = 'logs' | Child;
export type Resource = Windowed | 'chat_availability';
const RESOURCES: Resource[] = ['logs', 'chat_poll', 'visitor_typing', 'chat_availability'];
const CHILDREN: Child[] = ['chat_poll', 'visitor_typing'];
export const RESOURCE_SETS: Resource[][] = [
  ['logs'], ['logs'], ['logs', 'chat_poll'], ['chat_poll'], ['logs', 'visitor_typing', 'chat_availability'], ['visitor_typing'], ['chat_availability', 'chat_poll'],
];
/** Two pipeline names loading one dataset (INCREMENTAL.md, "Changing the config between runs": state per pipeline name). */
export const PIPELINES = ['snapengage_pipeline', 'second_pipeline'];

/**
 * What the dataset must hold: each case as the run that last read it got it, the cases polled by each child, and
 * each pipeline's windows per resource and widget (a child keeps the `logs` windows that drove it: INCREMENTAL.md,
 * Child resources), and how many `chat_availability` rows its appends hold (a row per run and widget).
 */
export interface Model {
  nowMs: number;
  selected: string[];
  startDate: string;
  pipeline: number;
  config: SequenceConfig;
  /** By stored `id` (a rekeying map stores a case under another), each as the map step returned it. */
  expected: Map<string, TruthCase>;
  polled: Record<Child, Map<string, string>>; // case id → widget
  windows: Array<Record<Windowed, Map<string, Window>>>; // per pipeline
  /**
   * Per pipeline, resource and widget: the first day a `--limit-pages` sample read (its state's `sampled`, kept until a
   * refresh or a replace; INCREMENTAL.md, Refreshing): the refresh checks count these widgets and days too.
   */
  sampled: Array<Record<Windowed, Map<string, string>>>;
  completeLoads: Array<Record<Resource, number>>; // per pipeline
  availabilityRows: number;
  /**
   * The day, by its run's clock, of the newest run that committed a load of each resource under any pipeline name,
   * samples too: a refresh whose clock is set back before it is refused (INCREMENTAL.md, Refreshing).
   */
  lastLoadDay: Partial<Record<Resource, string>>;
}

export function emptyModel(nowMs: number, widgets: string[], config: SequenceConfig): Model {
  return {
    nowMs,
    selected: [...widgets],
    startDate: START_DATE,
    pipeline: 0,
    config,
    expected: new Map(),
    polled: { chat_poll: new Map(), visitor_typing: new Map() },
    windows: PIPELINES.map(() => ({ logs: new Map(), chat_poll: new Map(), visitor_typing: new Map() })),
    sampled: PIPELINES.map(() => ({ logs: new Map(), chat_poll: new Map(), visitor_typing: new Map() })),
    completeLoads: PIPELINES.map(() => ({ logs: 0, chat_poll: 0, visitor_typing: 0, chat_availability: 0 })),
    availabilityRows: 0,
    lastLoadDay: {},
  };
}

export interface Real {
  box: Sandbox;
  path: string;
  configFile: string;
  widgets: string[];
  log: string[];
}

const earlier = (a: string, b: string) => (a < b ? a : b);

/**
 * The days a complete run reads for a widget with this stored window (INCREMENTAL.md, Windows and Backfill): from
 * `lastEnd − lookbackDays` to today; a `lastEnd` after today (the clock was set back) resumes from the day of the
 * newest record loaded, or today if earlier, minus the lookback, and from the start date (no lookback) without a
 * newest record (windows.ts resumeDay); a start date before `firstStart` adds the days in between.
 */
function daysRead(m: Model, before: Window | undefined, from: string): Array<[string, string]> {
  const today = day(m.nowMs);
  if (!before) return [[from, today]];
  const ahead = before.lastEnd > today;
  const resume = !ahead ? minusDays(before.lastEnd, m.config.lookbackDays)
    : before.lastValue === undefined ? m.startDate
    : minusDays(earlier(day(before.lastValue * 1000), today), m.config.lookbackDays);
  const ranges: Array<[string, string]> = [[resume, today]];
  if (m.startDate < before.firstStart) ranges.push([m.startDate, minusDays(before.firstStart, 1)]);
  return ranges;
}

/**
 * The first day a refresh of these resources reads: the start date, or the first day the stored windows of any of
 * them loaded if earlier (INCREMENTAL.md, Refreshing; they share the one `logs` date window, whose first day the load
 * info gives as `readFrom`, so a child refreshed with `logs` reads from `logs`'s first day too).
 */
export function refreshStart(m: Model, resources: Resource[]): string {
  const windowed = resources.filter((resource): resource is Windowed => resource !== 'chat_availability');
  const windows = windowed.flatMap((resource) => [...m.windows[m.pipeline]![resource].values()].map((w) => w.firstStart));
  const sampled = windowed.flatMap((resource) => [...m.sampled[m.pipeline]![resource].values()]);
  return [...windows, ...sampled].reduce(earlier, m.startDate);
}

/** The widgets whose rows a resource holds by the model: those of its windows and those a sample read. */
export function heldWidgets(m: Model, resource: Windowed): string[] {
  return [...m.windows[m.pipeline]![resource].keys(), ...m.sampled[m.pipeline]![resource].keys()];
}

/**
 * The first day a sample of `resources` reads for a widget (extract.ts, as resume.ts resumes it): the start date
 * unless every windowed resource sampled holds a window for it; then the earliest `lastEnd` of them minus the
 * lookback (a `lastEnd` after today: with one resource, from its newest record's day or today, else the start
 * date), and with one resource the start date when it is before that window's `firstStart` (a backfill).
 */
function sampleReadFrom(m: Model, resources: Windowed[], widget: string): string {
  const today = day(m.nowMs);
  const stored = resources.map((r) => (r === 'logs' && m.config.writeDisposition === 'replace' ? undefined : m.windows[m.pipeline]![r].get(widget)));
  if (stored.some((w) => w === undefined)) return m.startDate;
  const windows = stored as Window[];
  const one = windows.length === 1 ? windows[0]! : undefined;
  const lastEnd = windows.map((w) => w.lastEnd).reduce(earlier);
  if (lastEnd > today && one?.lastValue === undefined) return m.startDate;
  const resume = minusDays(lastEnd <= today ? lastEnd : earlier(day(one!.lastValue! * 1000), today), m.config.lookbackDays);
  return one && m.startDate < one.firstStart ? earlier(m.startDate, resume) : resume;
}

/**
 * The model's effect of a resource's complete (not sampled) commit for the selected widgets, given the truth it read;
 * `refreshFrom` (refreshStart, taken before the run) for a refresh.
 */
function noteLoad(m: Model, resource: Resource): void {
  const today = day(m.nowMs);
  if ((m.lastLoadDay[resource] ?? '') < today) m.lastLoadDay[resource] = today;
}

export function applyCommit(m: Model, resource: Resource, served: TruthCase[], refreshFrom?: string): void {
  noteLoad(m, resource);
  const refresh = refreshFrom !== undefined;
  const loads = m.completeLoads[m.pipeline]!;
  loads[resource]++;
  if (resource === 'chat_availability') {
    // Appended, no date window: a row per run and widget; a refresh (naming it) replaces the history.
    m.availabilityRows = (refresh ? 0 : m.availabilityRows) + m.selected.length;
    return;
  }
  const today = day(m.nowMs);
  const stored = m.windows[m.pipeline]![resource];
  // A replace keeps only what the run reads, from the start date, and only its windows (INCREMENTAL.md, replace).
  const replace = resource === 'logs' && m.config.writeDisposition === 'replace';
  const windows = refresh || replace ? new Map<string, Window>() : stored;
  // A refresh or a replace drops what samples stored, and their days with it; a plain run keeps them.
  if (refresh || replace) m.sampled[m.pipeline]![resource] = new Map();
  const read = new Map<string, TruthCase>();
  for (const widget of m.selected) {
    const before = refresh || replace ? undefined : stored.get(widget);
    const ranges = daysRead(m, before, refreshFrom ?? m.startDate);
    let newest = before?.lastValue;
    for (const c of served) {
      const created = day(createdMs(c));
      if (c.widget_id !== widget || !ranges.some(([from, to]) => created >= from && created <= to)) continue;
      newest = Math.max(newest ?? 0, Number(c.created_at_seconds)); // before the steps: how fresh the API's data is
      if (resource === 'logs' || kept(m.config, c)) read.set(c.id, c); // a child polls the cases logs's filter keeps
    }
    // The first day loaded: the start date, or a day a range read before it (a lookback reaching before a recent first
    // load, a refresh from an earlier first day), or the stored one if earlier (INCREMENTAL.md, Backfill).
    const readFrom = ranges.reduce((from, [start]) => earlier(from, start), m.startDate);
    const firstStart = before ? earlier(before.firstStart, readFrom) : readFrom;
    windows.set(widget, { lastEnd: today, firstStart, ...(newest === undefined ? {} : { lastValue: newest }) });
  }
  m.windows[m.pipeline]![resource] = windows;
  const keptNow = [...read.values()].filter((c) => kept(m.config, c)).map((c) => mapped(m.config, c));
  if (resource === 'logs') {
    if (refresh && !replace) {
      // "A refresh never drops cases it does not read again" (INCREMENTAL.md, Refreshing): only those the steps drop now.
      const dropped = [...m.expected.keys()].filter((id) => !read.has(servedId(id)));
      expect(dropped, `a refresh of logs dropped cases it did not read again`).toEqual([]);
    }
    if (refresh || replace) m.expected.clear();
    // Merge stores each record under its key (a re-read one replaces the stored one); append only keys not stored
    // yet, so a stored record is no longer updated (INCREMENTAL.md, "Changing the config between runs").
    for (const c of keptNow) if (m.config.writeDisposition !== 'append' || !m.expected.has(c.id)) m.expected.set(c.id, c);
  } else {
    if (refresh) m.polled[resource].clear();
    for (const c of read.values()) m.polled[resource].set(c.id, String(c.widget_id));
  }
}

/** Complete loads per resource of the model's pipeline in the file now. */
async function completeLoads(m: Model, r: Real): Promise<Record<Resource, number>> {
  const counts: Record<Resource, number> = { logs: 0, chat_poll: 0, visitor_typing: 0, chat_availability: 0 };
  if (!existsSync(r.path)) return counts;
  return withQueries(r.path, async (query) => {
    if (!(await holdsDataset(query))) return counts;
    for (const row of await query(`SELECT resource, count(*) AS n FROM ${DATASET}._pipeline_loads
      WHERE status = 'loaded' AND limit_pages IS NULL AND pipeline_name = '${PIPELINES[m.pipeline]}' GROUP BY resource`)) {
      counts[row.resource as Resource] = Number(row.n);
    }
    return counts;
  });
}

/**
 * After a run that failed or was killed: each resource committed all (its load row, data and windows at once) or
 * nothing, so the model takes the run for those whose complete loads grew by one.
 */
export async function applyWhatCommitted(m: Model, r: Real, resources: Resource[], served: TruthCase[]): Promise<Resource[]> {
  const counts = await completeLoads(m, r);
  const committed = resources.filter((resource) => counts[resource] === m.completeLoads[m.pipeline]![resource] + 1);
  for (const resource of committed) applyCommit(m, resource, served);
  return committed;
}

/**
 * A sample's rows: each stored case the sample wrote (its `_load_id`: a record stored exactly as it arrives again is
 * not rewritten, INCREMENTAL.md) is as served now, kept and mapped (the model takes it), any other as the model had it; a
 * sampled child polls some of the cases in its windows (the model takes those it finds); a sampled append of
 * `chat_availability` (one page per widget) appends a row per widget.
 */
export async function applySample(m: Model, r: Real, served: TruthCase[], resources: Resource[]): Promise<void> {
  // One read-only connection for all its questions (nothing writes the file meanwhile).
  if (existsSync(r.path)) await withQueries(r.path, (query) => applySampleWith(query, m, r, served, resources));
}

async function applySampleWith(query: Run, m: Model, r: Real, served: TruthCase[], resources: Resource[]): Promise<void> {
  if (!(await holdsDataset(query))) return;
  for (const resource of resources) noteLoad(m, resource);
  const windowed = resources.filter((resource): resource is Windowed => resource !== 'chat_availability');
  for (const resource of windowed) {
    // A replace keeps only what this sample read (INCREMENTAL.md, replace); otherwise the earlier day per widget.
    if (resource === 'logs' && m.config.writeDisposition === 'replace') m.sampled[m.pipeline]!.logs = new Map();
    const days = m.sampled[m.pipeline]![resource];
    for (const widget of m.selected) {
      const from = sampleReadFrom(m, windowed, widget);
      days.set(widget, earlier(days.get(widget) ?? from, from));
    }
  }
  const byId = new Map(served.map((c) => [c.id, c]));
  const selected = (c: TruthCase | undefined) => c !== undefined && m.selected.includes(String(c.widget_id));
  if (resources.includes('logs') && (await tableExists(query, 'logs'))) {
    // A replace keeps only what the sample read, and no windows (INCREMENTAL.md, replace).
    const replace = m.config.writeDisposition === 'replace';
    const before = m.expected;
    if (replace) (m.expected = new Map()), (m.windows[m.pipeline]!.logs = new Map());
    const [sampleLoad] = await query(`SELECT load_id FROM ${DATASET}._pipeline_loads
      WHERE resource = 'logs' AND status = 'loaded' AND limit_pages IS NOT NULL ORDER BY load_id DESC LIMIT 1`);
    for (const row of await query(`SELECT id, _load_id FROM ${DATASET}.logs`)) {
      const id = String(row.id);
      const now = byId.get(servedId(id));
      if (!replace && row._load_id !== sampleLoad?.load_id) {
        expect(before.has(id), `${r.log.join(' → ')}: logs ${id}, stored by an earlier load, is not in the model`).toBe(true);
        continue;
      }
      const asServed = now === undefined ? undefined : mapped(m.config, now);
      // Its content is checked against the served case by checkDataset, as the model takes it here.
      expect(selected(now) && asServed!.id === id && kept(m.config, now!), `sampled row ${id}: a case of a selected widget, kept and mapped`).toBe(true);
      m.expected.set(id, asServed!);
    }
  }
  for (const child of CHILDREN) {
    if (!resources.includes(child) || !(await tableExists(query, child))) continue;
    for (const row of await query(`SELECT case_id FROM ${DATASET}.${child}`)) {
      const id = String(row.case_id);
      if (m.polled[child].has(id)) continue;
      expect(selected(byId.get(id)), `sampled ${child} ${id}: a case of a selected widget`).toBe(true);
      m.polled[child].set(id, String(byId.get(id)!.widget_id));
    }
  }
  if (resources.includes('chat_availability')) m.availabilityRows += m.selected.length;
}

/** The dataset against the model: rows, windows, loads, and no row of an unfinished load. */
export async function checkDataset(m: Model, r: Real): Promise<void> {
  // One read-only connection for every question below (a check asks some thirty; opening the file costs more than most).
  if (existsSync(r.path)) await withQueries(r.path, (query) => checkDatasetWith(query, m, r));
  else checkNoDataset(m, r);
}

function checkNoDataset(m: Model, r: Real): void {
  expect(m.expected.size + m.polled.chat_poll.size + m.polled.visitor_typing.size + m.availabilityRows, `${r.log.join(' → ')}: no dataset, yet rows expected`).toBe(0);
}

async function checkDatasetWith(query: Run, m: Model, r: Real): Promise<void> {
  const where = r.log.join(' → ');
  if (!(await holdsDataset(query))) {
    checkNoDataset(m, r);
    return;
  }
  if (await tableExists(query, 'logs')) expect(await expectMatchesTruth(query, DATASET, [...m.expected.values()]), where).toEqual([]);
  else expect(m.expected.size, `${where}: no logs table, yet cases expected`).toBe(0);
  const loads = await query(`SELECT pipeline_name, resource, status, limit_pages FROM ${DATASET}._pipeline_loads`);
  for (const [p, pipeline] of PIPELINES.entries()) {
    for (const resource of ['logs', ...CHILDREN] as const) {
      const [stateRow] = await query(`SELECT state FROM ${DATASET}._pipeline_state WHERE resource = '${resource}' AND pipeline_name = '${pipeline}'`);
      // A sample stores no window (its state row, if any, holds none); a child keeps the windows of its parent.
      type Stored = { windows?: Record<string, Window>; sampled?: Record<string, { firstStart: string }> };
      const state = stateRow ? (JSON.parse(String(stateRow.state)) as (Stored & { parents?: { logs?: Stored } }) | null) : null;
      const held = resource === 'logs' ? state : state?.parents?.logs;
      const windows = held?.windows ?? {};
      const sampled = Object.fromEntries(Object.entries(held?.sampled ?? {}).map(([w, v]) => [w, v.firstStart]));
      expect(sampled, `${where}: ${pipeline} ${resource} days sampled`).toEqual(Object.fromEntries(m.sampled[p]![resource]));
      const got = Object.fromEntries(Object.entries(windows).map(([w, v]) => [w, { lastEnd: v.lastEnd, firstStart: v.firstStart, lastValue: v.lastValue }]));
      const want = Object.fromEntries([...m.windows[p]![resource]].map(([w, v]) => [w, { lastEnd: v.lastEnd, firstStart: v.firstStart, lastValue: v.lastValue }]));
      expect(got, `${where}: ${pipeline} ${resource} windows`).toEqual(want);
    }
    for (const resource of RESOURCES) {
      const complete = loads.filter((l) => l.pipeline_name === pipeline && l.resource === resource && l.status === 'loaded' && l.limit_pages === null);
      expect(complete.length, `${where}: complete loads of ${resource} by ${pipeline}`).toBe(m.completeLoads[p]![resource]);
    }
  }
  for (const child of CHILDREN) {
    const polled = (await tableExists(query, child)) ? await query(`SELECT case_id FROM ${DATASET}.${child} ORDER BY case_id`) : [];
    expect(polled.map((p) => String(p.case_id)), `${where}: cases polled by ${child}, each once`).toEqual([...m.polled[child].keys()].sort());
  }
  const [availability] = (await tableExists(query, 'chat_availability')) ? await query(`SELECT count(*) AS n FROM ${DATASET}.chat_availability`) : [{ n: 0 }];
  expect(Number(availability!.n), `${where}: chat_availability rows (appended, a row per run and widget)`).toBe(m.availabilityRows);
  const tables = await query(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}' AND NOT starts_with(table_name, '_pipeline')`);
  for (const { table_name: table } of tables) {
    const [orphans] = await query(`SELECT count(*) AS n FROM ${DATASET}."${String(table)}"
      WHERE _load_id NOT IN (SELECT load_id FROM ${DATASET}._pipeline_loads WHERE status = 'loaded')`);
    expect(Number(orphans!.n), `${where}: rows of ${String(table)} from a load not loaded`).toBe(0);
  }
}

/**
 * Whether the file holds the dataset: a run creates the file at its first commit, so one killed inside that commit
 * leaves a DuckDB file without the dataset's schema, or with only some of the system tables (their DDL runs statement
 * by statement, not in one transaction: SEED=13 killed a run between the schema and `_pipeline_loads`). Nothing is
 * committed either way, as the model expects, and `show` says the file holds no dataset yet. `_pipeline_comments`
 * is the DDL's last table (destination/system-tables.ts): with it, every table and column the checks read is there.
 */
export async function hasDataset(r: Real): Promise<boolean> {
  if (!existsSync(r.path)) return false;
  return withQueries(r.path, holdsDataset);
}

const holdsDataset = (query: Run) => tableExists(query, '_pipeline_comments');

async function tableExists(query: Run, table: string): Promise<boolean> {
  const rows = await query(`SELECT 1 FROM information_schema.tables WHERE table_schema = '${DATASET}' AND table_name = '${table}'`);
  return rows.length > 0;
}
