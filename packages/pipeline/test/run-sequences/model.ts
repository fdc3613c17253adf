// The model of run-sequences-property.test.ts: what the dataset must hold after each run (INCREMENTAL.md), how a
// complete, sampled, failed or killed run changes it, and the check of a DuckDB file against it.
import { existsSync } from 'node:fs';
import { expect } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { expectMatchesTruth, query, type TruthCase } from '../helpers.js';

export const DATASET = 'snapengage_data';
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
export const LOOKBACK_DAYS = 1;
// A fixed calendar, so a seed replays the same days; the sandbox's generated cases end here.
export const START_MS = Date.parse('2026-03-10T08:00:00Z');
export const START_DATE = day(START_MS - 6 * DAY);

export function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
export const dayStart = (ms: number) => Date.parse(`${day(ms)}T00:00:00Z`);
export const minusDays = (isoDay: string, days: number) => day(Date.parse(`${isoDay}T00:00:00Z`) - days * DAY);
export const createdMs = (c: TruthCase) => Number(c.created_at_seconds) * 1000;

export interface Window {
  lastEnd: string;
  lastValue?: number;
}

export type Resource = 'logs' | 'chat_poll';
export const RESOURCE_SETS: Resource[][] = [['logs'], ['logs'], ['logs', 'chat_poll'], ['chat_poll']];

/**
 * What the dataset must hold: each case as the run that last read it got it, the cases polled by `chat_poll`, and each
 * resource's windows per widget (`chat_poll` keeps the `logs` windows that drove it: INCREMENTAL.md, Child resources).
 */
export interface Model {
  nowMs: number;
  selected: string[];
  expected: Map<string, TruthCase>;
  polled: Map<string, string>; // case id → widget
  windows: Record<Resource, Map<string, Window>>;
  completeLoads: Record<Resource, number>;
}

export interface Real {
  box: Sandbox;
  path: string;
  configFile: string;
  widgets: string[];
  log: string[];
}

/** The model's effect of a resource's complete (not sampled) commit for the selected widgets, given the truth it read. */
export function applyCommit(m: Model, resource: Resource, served: TruthCase[], refresh: boolean): void {
  const today = day(m.nowMs);
  const windows = m.windows[resource];
  for (const widget of m.selected) {
    const before = refresh ? undefined : windows.get(widget);
    const from = before ? minusDays(before.lastEnd, LOOKBACK_DAYS) : START_DATE;
    let newest = before?.lastValue;
    for (const c of served) {
      if (c.widget_id !== widget || day(createdMs(c)) < from || day(createdMs(c)) > today) continue;
      if (resource === 'logs') m.expected.set(c.id, c);
      else m.polled.set(c.id, widget);
      newest = Math.max(newest ?? 0, Number(c.created_at_seconds));
    }
    windows.set(widget, { lastEnd: today, ...(newest === undefined ? {} : { lastValue: newest }) });
  }
  // A refresh replaces the resource's tables and state with what this run read (INCREMENTAL.md, Refreshing): every
  // case of the selected widgets from the start date, which the loop took. One for fewer widgets than the resource
  // holds is refused (RunLoader), so nothing else goes.
  m.completeLoads[resource]++;
}

/** Complete loads per resource in the file now. */
export async function completeLoads(r: Real): Promise<Record<Resource, number>> {
  const counts: Record<Resource, number> = { logs: 0, chat_poll: 0 };
  if (!(await hasDataset(r))) return counts;
  for (const row of await query(r.path, `SELECT resource, count(*) AS n FROM ${DATASET}._pipeline_loads WHERE status = 'loaded' AND limit_pages IS NULL GROUP BY resource`)) {
    counts[row.resource as Resource] = Number(row.n);
  }
  return counts;
}

/**
 * After a run that failed or was killed: each resource committed all (its load row, data and windows at once) or
 * nothing, so the model takes the run for those whose complete loads grew by one.
 */
export async function applyWhatCommitted(m: Model, r: Real, resources: Resource[], served: TruthCase[], refresh: boolean): Promise<Resource[]> {
  const counts = await completeLoads(r);
  const committed = resources.filter((resource) => counts[resource] === m.completeLoads[resource] + 1);
  for (const resource of committed) applyCommit(m, resource, served, refresh);
  return committed;
}

// As text: the stored BIGINT comes back as a string (getRowObjectsJson).
export const surveyOf = (c: Record<string, unknown> | undefined) => JSON.stringify([c?.survey_score ?? null, c?.survey_comments ?? null].map((v) => (v === null ? v : String(v))));

/**
 * A sample's rows: each stored case is either as the model had it or as served now (then the model takes it); a
 * sampled `chat_poll` polls some of the cases in its windows (the model takes those it finds).
 */
export async function applySample(m: Model, r: Real, served: TruthCase[], resources: Resource[]): Promise<void> {
  if (!(await hasDataset(r))) return;
  const byId = new Map(served.map((c) => [c.id, c]));
  const selected = (c: TruthCase | undefined) => c !== undefined && m.selected.includes(String(c.widget_id));
  if (resources.includes('logs')) {
    for (const row of await query(r.path, `SELECT id, survey_score, survey_comments FROM ${DATASET}.logs`)) {
      const id = String(row.id);
      const now = byId.get(id);
      if (m.expected.has(id) && surveyOf(row) === surveyOf(m.expected.get(id))) continue;
      const fits = selected(now) && surveyOf(row) === surveyOf(now);
      expect(fits, `sampled row ${id} (${surveyOf(row)}) is neither as loaded before nor as served (${surveyOf(now)})`).toBe(true);
      m.expected.set(id, now!);
    }
  }
  if (resources.includes('chat_poll') && (await tableExists(r, 'chat_poll'))) {
    for (const row of await query(r.path, `SELECT case_id FROM ${DATASET}.chat_poll`)) {
      const id = String(row.case_id);
      if (m.polled.has(id)) continue;
      expect(selected(byId.get(id)), `sampled chat_poll ${id}: a case of a selected widget`).toBe(true);
      m.polled.set(id, String(byId.get(id)!.widget_id));
    }
  }
}

/** The dataset against the model: rows, windows, loads, and no row of an unfinished load. */
export async function checkDataset(m: Model, r: Real): Promise<void> {
  const where = r.log.join(' → ');
  if (!(await hasDataset(r))) {
    expect(m.expected.size + m.polled.size, `${where}: no dataset, yet cases expected`).toBe(0);
    return;
  }
  if (await tableExists(r, 'logs')) expect(await expectMatchesTruth(r.path, DATASET, [...m.expected.values()]), where).toEqual([]);
  else expect(m.expected.size, `${where}: no logs table, yet cases expected`).toBe(0);
  for (const resource of ['logs', 'chat_poll'] as const) {
    const [stateRow] = await query(r.path, `SELECT state FROM ${DATASET}._pipeline_state WHERE resource = '${resource}'`);
    // A sample stores no window (its state row, if any, holds none); a child keeps the windows of its parent.
    const state = stateRow ? (JSON.parse(String(stateRow.state)) as { windows?: Record<string, Window>; parents?: { logs?: { windows?: Record<string, Window> } } } | null) : null;
    const windows = (resource === 'logs' ? state?.windows : state?.parents?.logs?.windows) ?? {};
    const got = Object.fromEntries(Object.entries(windows).map(([w, v]) => [w, { lastEnd: v.lastEnd, lastValue: v.lastValue }]));
    const want = Object.fromEntries([...m.windows[resource]].map(([w, v]) => [w, { lastEnd: v.lastEnd, lastValue: v.lastValue }]));
    expect(got, `${where}: ${resource} windows`).toEqual(want);
  }
  const polled = (await tableExists(r, 'chat_poll')) ? await query(r.path, `SELECT case_id FROM ${DATASET}.chat_poll ORDER BY case_id`) : [];
  expect(polled.map((p) => String(p.case_id)), `${where}: cases polled, each once`).toEqual([...m.polled.keys()].sort());
  const loads = await query(r.path, `SELECT resource, status, limit_pages FROM ${DATASET}._pipeline_loads`);
  for (const resource of ['logs', 'chat_poll'] as const) {
    expect(loads.filter((l) => l.resource === resource && l.status === 'loaded' && l.limit_pages === null).length, `${where}: complete loads of ${resource}`).toBe(m.completeLoads[resource]);
  }
  const tables = await query(r.path, `SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}' AND (table_name LIKE 'logs%' OR table_name LIKE 'chat_poll%')`);
  for (const { table_name: table } of tables) {
    const [orphans] = await query(r.path, `SELECT count(*) AS n FROM ${DATASET}."${String(table)}"
      WHERE _load_id NOT IN (SELECT load_id FROM ${DATASET}._pipeline_loads WHERE status = 'loaded')`);
    expect(Number(orphans!.n), `${where}: rows of ${String(table)} from a load not loaded`).toBe(0);
  }
}

/**
 * Whether the file holds the dataset: a run creates the file at its first commit, so one killed inside that commit
 * leaves a DuckDB file without the dataset's schema (nothing committed, as the model expects).
 */
export async function hasDataset(r: Real): Promise<boolean> {
  if (!existsSync(r.path)) return false;
  return (await query(r.path, `SELECT 1 FROM information_schema.schemata WHERE schema_name = '${DATASET}'`)).length > 0;
}

export async function tableExists(r: Real, table: string): Promise<boolean> {
  const rows = await query(r.path, `SELECT 1 FROM information_schema.tables WHERE table_schema = '${DATASET}' AND table_name = '${table}'`);
  return rows.length > 0;
}
