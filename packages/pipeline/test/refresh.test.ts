// `--refresh` / runPipeline's `refresh`: a resource reloaded from the start date as if never loaded, its old tables,
// columns and state replaced in the same transaction as the new rows. Real sandbox over loopback, real DuckDB files.
// A refresh that fails, or is killed with SIGKILL, must leave the old data and state exactly as they were.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline, showDataset, type PipelineConfig } from '../src/index.js';
import { planPipeline } from '../src/plan.js';
import { moveStartDatesForRefresh } from '../src/refresh-plan.js';
import type { SourceRecord } from '../src/config.js';
import { admin, expectMatchesTruth, query, runCli, sandbox, spawnCli, stats, tempDir, truth, withQueries } from './helpers.js';

const DATASET = 'snapengage_data';
let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 400, widgets: 2, days: 6 });
  tmp = tempDir('refresh-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

/**
 * The first load, as an older config made it: every list kept as JSON (maxNestingDepth 0), chat_duration sent as text
 * (a variant column) and an undeclared column.
 */
const OLD_CONFIG: PipelineConfig = definePipeline({
  resources: { logs: { maxNestingDepth: 0, steps: [{ map: (r: SourceRecord) => ({ ...r, chat_duration: 'long', extra_field: 'x' }) }] } },
  rateLimit: { requestsPerSecond: 0 },
});
/** A later config whose map adds an undeclared list: a child table the spec never had. */
const LIST_CONFIG: PipelineConfig = definePipeline({
  resources: { logs: { steps: [{ map: (r: SourceRecord) => ({ ...r, extra_list: [{ a: 1 }] }) }] } },
  rateLimit: { requestsPerSecond: 0 },
});
const CURRENT_CONFIG: PipelineConfig = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

/** Everything a refresh may replace: every table's columns with types and row count, the registry and the state. */
/**
 * A refresh of logs, then of chat_poll alone, for the first widget only is refused before any request, naming the
 * other widget (and `naming`), with the file as it was. Returns that one-widget env and the widget left out.
 */
async function expectRefreshOfEachRefusedForOneWidget(path: string, config: PipelineConfig, options: { naming?: string } = {}): Promise<{ env: Record<string, string>; left: string }> {
  const before = await snapshot(path);
  const [kept, left] = box.env.SNAPENGAGE_WIDGET_ID!.split(',') as [string, string];
  const env = { ...box.env, SNAPENGAGE_WIDGET_ID: kept };
  for (const resources of [['logs'], ['chat_poll']] as const) {
    const requests = (await stats(box)).requests;
    const refused = runPipeline(config, { env, destination: { path }, resources: [...resources], refresh: true });
    await expect(refused).rejects.toThrow(`${resources[0]} holds records of widget ${left}`);
    if (options.naming) await expect(refused).rejects.toThrow(options.naming);
    expect((await stats(box)).requests, 'requests made').toBe(requests);
    expect(await snapshot(path)).toBe(before);
  }
  return { env, left };
}

async function snapshot(path: string): Promise<string> {
  return withQueries(path, async (run) => {
    const columns = await run(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = '${DATASET}' ORDER BY table_name, column_name`);
    const tables = [...new Set(columns.map((c) => String(c.table_name)))].filter((t) => t !== '_pipeline_loads');
    const counts: Record<string, unknown> = {};
    for (const t of tables) counts[t] = (await run(`SELECT count(*)::INTEGER AS n, count(DISTINCT ${t.startsWith('_pipeline') ? 'rowid' : '_load_id'})::INTEGER AS loads FROM ${DATASET}."${t}"`))[0];
    const state = await run(`SELECT resource, CAST(state AS VARCHAR) AS state, load_id FROM ${DATASET}._pipeline_state ORDER BY resource`);
    const registry = await run(`SELECT table_name, column_name, data_type FROM ${DATASET}._pipeline_columns ORDER BY ALL`);
    return JSON.stringify({ columns, counts, state, registry });
  });
}

const tableNames = async (path: string) => (await query(path, `SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}' ORDER BY 1`)).map((r) => String(r.table_name));
const columnsOf = async (path: string, table: string) =>
  Object.fromEntries((await query(path, `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${DATASET}' AND table_name = '${table}'`)).map((r) => [r.column_name, r.data_type]));
const logsState = async (path: string) => (await query(path, `SELECT CAST(state AS VARCHAR) AS state, load_id FROM ${DATASET}._pipeline_state WHERE resource = 'logs'`))[0];

describe('refresh after a spec, depth and type change', () => {
  it('re-creates the tables with current types and depth, reloads every case and resets the state, in one commit', async () => {
    const path = join(tmp.dir, 'changed.duckdb');
    const first = await runPipeline(OLD_CONFIG, { env: box.env, destination: { path } });
    expect(await columnsOf(path, 'logs')).toMatchObject({ chat_duration: 'BIGINT', chat_duration__v_text: 'VARCHAR', extra_field: 'VARCHAR', transcripts: 'JSON' });
    // A case lost from the table (outside any lookback): only a reload from the start date brings it back.
    await query(path, `DELETE FROM ${DATASET}.logs WHERE id = (SELECT min(id) FROM ${DATASET}.logs)`, 'READ_WRITE');

    // A plain run keeps what is stored (the JSON column, the variants): that is what refresh is for.
    await runPipeline(LIST_CONFIG, { env: box.env, destination: { path } });
    expect(await columnsOf(path, 'logs')).toHaveProperty('transcripts', 'JSON');
    expect(await tableNames(path)).toContain('logs__extra_list');
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}._pipeline_comments WHERE table_name = 'logs__extra_list'`)).not.toEqual([{ n: 0 }]);

    const info = await runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path }, refresh: true });
    const startDate = box.env.SNAPENGAGE_START_DATE!;
    expect(info.notes.refreshed).toEqual({ logs: { replacedTables: ['logs', 'logs__extra_list'], readFrom: startDate } });
    expect(info.toString()).toContain(`Refreshed logs: loaded from ${startDate} as if never loaded, replacing its tables logs, logs__extra_list and its incremental state`);

    const tables = await tableNames(path);
    expect(tables).not.toContain('logs__extra_list');
    expect(tables).toContain('logs__transcripts');
    const logs = await columnsOf(path, 'logs');
    expect(logs.chat_duration).toBe('BIGINT');
    for (const gone of ['chat_duration__v_text', 'extra_field', 'transcripts']) expect(logs, gone).not.toHaveProperty(gone);
    // The registry describes only the new tables.
    const registered = await query(path, `SELECT DISTINCT table_name FROM ${DATASET}._pipeline_columns WHERE table_name LIKE 'logs%' ORDER BY 1`);
    expect(registered.map((r) => r.table_name)).not.toContain('logs__extra_list');
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}._pipeline_columns WHERE column_name IN ('extra_field', 'chat_duration__v_text')`)).toEqual([{ n: 0 }]);

    // The loader's table and column comments are on the new tables too: the refresh forgot the ones it had recorded
    // for the dropped tables (_pipeline_comments), so the commit writes them again.
    const comments = await query(path, `SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND table_name IN ('logs', 'logs__transcripts') ORDER BY 1`);
    expect(comments.map((c) => [c.table_name, typeof c.comment === 'string' && c.comment.length > 0])).toEqual([['logs', true], ['logs__transcripts', true]]);
    const idComment = await query(path, `SELECT comment FROM duckdb_columns() WHERE schema_name = '${DATASET}' AND table_name = 'logs' AND column_name = 'id'`);
    expect(String(idComment[0]?.comment ?? '')).not.toBe('');
    // … and those of a table the refresh dropped for good are forgotten (INCREMENTAL.md, "Refresh").
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}._pipeline_comments WHERE table_name = 'logs__extra_list'`)).toEqual([{ n: 0 }]);
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
    // Every row is the refresh's, and the state is its alone (this run's windows, its load id).
    expect(await query(path, `SELECT DISTINCT _load_id FROM ${DATASET}.logs`)).toEqual([{ _load_id: info.loadId }]);
    const state = await logsState(path);
    expect(state?.load_id).toBe(info.loadId);
    expect(JSON.parse(String(state?.state))).toEqual({ windows: info.notes.incremental!.logs });
    // The history stays.
    const loads = await query(path, `SELECT load_id FROM ${DATASET}._pipeline_loads WHERE resource = 'logs' AND status = 'loaded' ORDER BY load_id`);
    expect(loads.map((l) => l.load_id)).toHaveLength(3);
    expect(loads[0]!.load_id).toBe(first.loadId);
  });

  it('leaves the old data and state exactly as they were when the refresh fails', async () => {
    const path = join(tmp.dir, 'failed.duckdb');
    await runPipeline(OLD_CONFIG, { env: box.env, destination: { path } });
    const before = await snapshot(path);
    await admin(box, 'faults', { faults: '500=1' });
    try {
      await expect(runPipeline({ ...CURRENT_CONFIG, connection: { maxRetries: 0 } }, { env: box.env, destination: { path }, refresh: true })).rejects.toThrow();
    } finally {
      await admin(box, 'faults', { faults: '' });
    }
    expect(await snapshot(path)).toBe(before);
  });

  it('reloads a resource whose root table was dropped with its children left, which a plain run refuses', async () => {
    const path = join(tmp.dir, 'stranded.duckdb');
    await runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path } });
    await query(path, `DROP TABLE ${DATASET}.logs`, 'READ_WRITE');
    await expect(runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path } })).rejects.toThrow(/run with --refresh --resources logs/);
    const info = await runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path }, refresh: true });
    expect(info.notes.refreshed?.logs?.replacedTables).toContain('logs__transcripts');
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
    // The refresh did load it: the lines a plain run prints for a stranded table (it will not load) would be false.
    const text = info.toString();
    expect(text).toMatch(/Refreshed logs: loaded from \d{4}-\d{2}-\d{2} as if never loaded, replacing its tables logs__[^]*; logs had been dropped or renamed since the last run/);
    expect(text).not.toContain('Dropped since the last run');
  });
});

describe('a refresh after a table was renamed away', () => {
  it('says the table was gone before it and left as it is, not that the resource was never stored or loads next time', async () => {
    const path = join(tmp.dir, 'renamed.duckdb');
    const config = definePipeline({ resources: { users: true }, rateLimit: { requestsPerSecond: 0 } });
    const first = await runPipeline(config, { env: box.env, destination: { path } });
    await query(path, `ALTER TABLE ${DATASET}.users RENAME TO users_before`, 'READ_WRITE');
    const info = await runPipeline(config, { env: box.env, destination: { path }, resources: ['users'], refresh: true });
    expect(info.notes.refreshed).toEqual({ users: { replacedTables: [] } });
    const text = info.toString();
    expect(text).toContain("Refreshed users: loaded as if never loaded; users had been dropped or renamed since the last run, so there was nothing left to replace (a table renamed away is left as it is, no longer the loader's)");
    expect(text).not.toContain('nothing of it was stored before');
    expect(text).not.toContain('its next load starts over');
    // The renamed table keeps the first load's rows; users holds this refresh's.
    expect(await query(path, `SELECT DISTINCT _load_id FROM ${DATASET}.users_before`)).toEqual([{ _load_id: first.loadId }]);
    expect(await query(path, `SELECT DISTINCT _load_id FROM ${DATASET}.users`)).toEqual([{ _load_id: info.loadId }]);
  });
});

describe('a lookback that reached before the first day loaded', () => {
  // A first load from today, then a rerun whose lookback (2 days) reads the two days before it: those days' cases are
  // stored, and the window's first day must say so, or a refresh from it drops them and no run reads them again.
  it('counts those days as loaded: a refresh reads them again', async () => {
    const path = join(tmp.dir, 'lookback-before-first-day.duckdb');
    const today = new Date().toISOString().slice(0, 10);
    const twoDaysAgo = new Date(Date.parse(today) - 2 * 86_400_000).toISOString().slice(0, 10);
    const logs = (lookbackDays: number) => definePipeline({ resources: { logs: { incremental: { lookbackDays } } }, rateLimit: { requestsPerSecond: 0 } });
    const env = { ...box.env, SNAPENGAGE_START_DATE: today };
    await runPipeline(logs(1), { env, destination: { path } });
    await runPipeline(logs(2), { env, destination: { path } });
    const stored = await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}.logs WHERE created_at_seconds < epoch(DATE '${today}')`);
    expect(stored[0]!.n, 'cases before today, read by the lookback').toBeGreaterThan(0);
    const windows = JSON.parse(String((await logsState(path))?.state)).windows as Record<string, { firstStart: string }>;
    for (const window of Object.values(windows)) expect(window.firstStart).toBe(twoDaysAgo);
    const before = await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}.logs`);
    const info = await runPipeline(logs(1), { env, destination: { path }, refresh: true });
    expect(info.notes.refreshed?.logs?.readFrom).toBe(twoDaysAgo);
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}.logs`)).toEqual(before);
  });
});

describe('a start date later than the first day loaded', () => {
  // The default start date moves (30 days before the run), and a start date moved later forgets nothing in a plain
  // run: a refresh from it alone would drop every case stored before it, and read none of them again.
  it('refreshes from the first day the stored windows say was loaded, for a resource and for a child alone', async () => {
    const path = join(tmp.dir, 'later-start.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(both, { env: box.env, destination: { path } });
    const firstDay = box.env.SNAPENGAGE_START_DATE!;
    const cases = await truth(box);
    const later = new Date(Date.parse(firstDay) + 3 * 86_400_000).toISOString().slice(0, 10);
    expect(cases.some((c) => Number(c.created_at_seconds) * 1000 < Date.parse(later)), 'cases before the later start date').toBe(true);
    const env = { ...box.env, SNAPENGAGE_START_DATE: later };

    const child = await runPipeline(both, { env, destination: { path }, resources: ['chat_poll'], refresh: true });
    expect(Object.keys(child.notes.refreshed ?? {})).toEqual(['chat_poll']);
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}.chat_poll`)).toEqual([{ n: cases.length }]);

    expect(child.notes.refreshed?.chat_poll?.readFrom).toBe(firstDay);
    expect(child.toString()).toContain(`Refreshed chat_poll: loaded from ${firstDay} as if never loaded, replacing its tables chat_poll`);
    const info = await runPipeline(both, { env, destination: { path }, resources: ['logs'], refresh: true });
    expect(info.notes.refreshed?.logs?.replacedTables).toContain('logs');
    // The day it read from, not the start date it was given.
    expect(info.notes.refreshed?.logs?.readFrom).toBe(firstDay);
    expect(info.toString()).toContain(`Refreshed logs: loaded from ${firstDay} as if never loaded, replacing its tables logs`);
    expect(await expectMatchesTruth(path, DATASET, cases)).toEqual([]);
    // The refreshed state keeps that first day, so the next refresh reads from it again.
    const windows = JSON.parse(String((await logsState(path))?.state)).windows as Record<string, { firstStart: string }>;
    for (const window of Object.values(windows)) expect(window.firstStart).toBe(firstDay);
  });
});

// Found by run-sequences-property.test.ts: a refresh replaces the resource's tables and state with what it reads,
// so one run for fewer widgets than were loaded (SNAPENGAGE_WIDGET_ID narrowed) dropped the others' cases and windows
// without a word, though a refresh "never drops cases it does not read again".
describe('a refresh for fewer widgets than were loaded', () => {
  it('is refused before any request, naming the widgets and SNAPENGAGE_WIDGET_ID, for a resource and a child alone', async () => {
    const path = join(tmp.dir, 'fewer-widgets.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(both, { env: box.env, destination: { path } });
    await expectRefreshOfEachRefusedForOneWidget(path, both, { naming: 'SNAPENGAGE_WIDGET_ID' });
    // With every widget it loaded, the refresh runs.
    await runPipeline(both, { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
  });

  it('is not refused for a resource that replaces its tables: every run keeps only the widgets it reads', async () => {
    const path = join(tmp.dir, 'fewer-widgets-replace.duckdb');
    const replaced = definePipeline({ resources: { logs: { writeDisposition: 'replace' } }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(replaced, { env: box.env, destination: { path } });
    const [kept] = box.env.SNAPENGAGE_WIDGET_ID!.split(',') as [string];
    const env = { ...box.env, SNAPENGAGE_WIDGET_ID: kept };
    // A refresh drops the other widget's cases no more than the plain run (which a replace resource is) does.
    await runPipeline(replaced, { env, destination: { path }, refresh: true });
    const widgets = await query(path, `SELECT DISTINCT widget_id FROM ${DATASET}.logs`);
    expect(widgets.map((r) => r.widget_id)).toEqual([kept]);
    await runPipeline(replaced, { env: box.env, destination: { path } });
    await runPipeline(replaced, { env, destination: { path } });
    expect((await query(path, `SELECT DISTINCT widget_id FROM ${DATASET}.logs`)).map((r) => r.widget_id)).toEqual([kept]);
  });
});

// Found by run-sequences-property.test.ts: a --limit-pages sample commits rows but no window, so the two checks above,
// which read the stored windows, missed its rows: a refresh after a sample dropped them without a word. A sample now
// stores the widgets it read and the first day it read for each (`sampled`, beside its empty `windows`).
describe('a refresh after a --limit-pages sample', () => {
  it('is refused for fewer widgets than the sample read, for a resource and a child alone', async () => {
    const path = join(tmp.dir, 'sample-fewer-widgets.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(both, { env: box.env, destination: { path }, limitPages: 1 });
    const { env, left } = await expectRefreshOfEachRefusedForOneWidget(path, both);
    // A full load carries what the sample read forward (its rows stay), so the refusal holds after it too.
    await runPipeline(both, { env: box.env, destination: { path } });
    await expect(runPipeline(both, { env, destination: { path }, resources: ['logs'], refresh: true })).rejects.toThrow(`logs holds records of widget ${left}`);
    // `show` says so below the windows, for the resource and the child.
    const sampledLine = (label: string) => new RegExp(`\\n {2}${label} {2}${left} {2}sampled from \\d{4}-\\d{2}-\\d{2} \\(--limit-pages\\)(\\n|$)`);
    const shown = await showDataset({ path, dataset: DATASET });
    expect(shown).toMatch(sampledLine('logs'));
    expect(shown).toMatch(sampledLine('chat_poll {2}\\(via logs\\)'));
    // With every widget, the refresh runs, and its state no longer holds the sample's entry.
    await runPipeline(both, { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    expect(JSON.parse(String((await logsState(path))?.state)).sampled).toBeUndefined();
    expect(await showDataset({ path, dataset: DATASET })).not.toMatch(sampledLine('logs'));
  });

  it('reads from the first day the sample read when the start date moved later since', async () => {
    const small = await sandbox({ cases: 4, widgets: 1, days: 2 });
    try {
      const path = join(tmp.dir, 'sample-later-start.duckdb');
      const logs = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
      const start = small.env.SNAPENGAGE_START_DATE!;
      const earlier = new Date(Date.parse(start) - 3 * 86_400_000).toISOString().slice(0, 10);
      const at = Date.parse(start) - 2 * 86_400_000 + 3_600_000;
      await admin(small, 'cases', { widgetId: small.credentials.widgetIds[0], cases: [{ created_at_date: at, created_at_seconds: at / 1000, created_at_milliseconds: at }] });
      await runPipeline(logs, { env: { ...small.env, SNAPENGAGE_START_DATE: earlier }, destination: { path }, limitPages: 1 });
      const cases = await truth(small);
      expect(await expectMatchesTruth(path, DATASET, cases), 'the sample holds every case, the one before the start date too').toEqual([]);
      const info = await runPipeline(logs, { env: small.env, destination: { path }, refresh: true });
      expect(info.notes.refreshed?.logs?.readFrom).toBe(earlier);
      expect(await expectMatchesTruth(path, DATASET, cases)).toEqual([]);
    } finally {
      await small.close();
    }
  });
});

describe('a refresh with the clock set back before the last day loaded', () => {
  // Found by run-sequences-property.test.ts: a run, the clock set back 10 hours over midnight, a refresh. It read up to
  // its own today and replaced the tables, dropping the cases of the day after, which no run read again.
  it('is refused before any request, naming the day loaded and today, for a resource and a child alone', async () => {
    const path = join(tmp.dir, 'clock-back.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(both, { env: box.env, destination: { path } });
    const before = await snapshot(path);
    const lastEnd = new Date().toISOString().slice(0, 10);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 86_400_000 });
    try {
      const today = new Date().toISOString().slice(0, 10);
      for (const resources of [['logs'], ['chat_poll']] as const) {
        const requests = (await stats(box)).requests;
        const refused = runPipeline(both, { env: box.env, destination: { path }, resources: [...resources], refresh: true });
        await expect(refused).rejects.toThrow(`${resources[0]} has loaded up to ${lastEnd}, after today (${today} UTC)`);
        expect((await stats(box)).requests, 'requests made').toBe(requests);
        expect(await snapshot(path)).toBe(before);
      }
    } finally {
      vi.useRealTimers();
    }
    // With the clock right again, the refresh runs.
    await runPipeline(both, { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
  });

  // Found by run-sequences-property.test.ts (SEED=3): a sample, the clock set back 10 hours over midnight, a refresh.
  // A sample stores rows but no window, so only the load's own day said how far the file got.
  it('is refused after a --limit-pages sample too, which stored rows but no window', async () => {
    const path = join(tmp.dir, 'clock-back-sample.duckdb');
    const logs = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(logs, { env: box.env, destination: { path }, limitPages: 1 });
    expect(JSON.parse(String((await logsState(path))?.state)).windows).toEqual({});
    const before = await snapshot(path);
    const loadDay = new Date().toISOString().slice(0, 10);
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - 86_400_000 });
    try {
      const requests = (await stats(box)).requests;
      await expect(runPipeline(logs, { env: box.env, destination: { path }, refresh: true })).rejects.toThrow(`logs has loaded up to ${loadDay}, after today (${new Date().toISOString().slice(0, 10)} UTC)`);
      expect((await stats(box)).requests, 'requests made').toBe(requests);
      expect(await snapshot(path)).toBe(before);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a refresh under a second pipeline name on the same dataset', () => {
  // Found by run-sequences-property.test.ts: a run, then a refresh of logs under another pipelineName for one widget.
  // It replaced the tables, dropping the other widget's cases, while the first pipeline's state still counted them.
  it('is refused before any request, naming the other pipeline name', async () => {
    const path = join(tmp.dir, 'two-pipelines.duckdb');
    const config = (pipelineName: string) => definePipeline({ pipelineName, resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(config('first_pipeline'), { env: box.env, destination: { path } });
    const before = await snapshot(path);
    const requests = (await stats(box)).requests;
    const refused = runPipeline(config('second_pipeline'), { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    await expect(refused).rejects.toThrow('logs holds records loaded under pipelineName first_pipeline too');
    expect((await stats(box)).requests, 'requests made').toBe(requests);
    expect(await snapshot(path)).toBe(before);
    // Under the pipeline name that loaded it, the refresh runs.
    await runPipeline(config('first_pipeline'), { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
  });
});

describe('the first day a refresh reads', () => {
  const plansWith = (startDate: string) => planPipeline(definePipeline({ resources: { logs: { incremental: { startDate } }, chat_poll: true } }), box.env).resources;
  const logsStart = (plans: ReturnType<typeof plansWith>) => plans.find((p) => p.name === 'logs')!.incremental!.startDate;
  it('is the earliest stored firstStart of a refreshed resource or child, never one the plan would refuse', () => {
    const windows = (...days: string[]) => ({ windows: Object.fromEntries(days.map((d, i) => [`w${i}`, { lastEnd: '2026-01-01', firstStart: d }])) });
    let plans = plansWith('2025-06-01');
    moveStartDatesForRefresh(plans, new Map<string, unknown>([['logs', windows('2025-03-01', '2025-02-01')], ['chat_poll', { parents: { logs: windows('2025-01-15') } }]]));
    expect(logsStart(plans)).toBe('2025-01-15');
    plans = plansWith('2025-06-01');
    moveStartDatesForRefresh(plans, new Map([['logs', windows('0024-01-01', '2025-07-01', 'x')]]));
    expect(logsStart(plans)).toBe('2025-06-01');
  });
});

describe('child resources', () => {
  it('refreshes only the resources selected: a child alone re-polls every case, its parent alone leaves it', async () => {
    const path = join(tmp.dir, 'children.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    const first = await runPipeline(both, { env: box.env, destination: { path } });
    const cases = (await truth(box)).length;
    const loadIds = async (table: string) => (await query(path, `SELECT DISTINCT _load_id FROM ${DATASET}.${table} ORDER BY 1`)).map((r) => r._load_id);
    const stateOf = async (resource: string) => (await query(path, `SELECT load_id FROM ${DATASET}._pipeline_state WHERE resource = '${resource}'`))[0]?.load_id;

    const child = await runPipeline(both, { env: box.env, destination: { path }, resources: ['chat_poll'], refresh: true });
    expect(Object.keys(child.notes.refreshed ?? {})).toEqual(['chat_poll']);
    expect(await loadIds('logs')).toEqual([first.loadId]); // the parent was read to drive it, not loaded
    expect(await stateOf('logs')).toBe(first.loadId);
    expect(await loadIds('chat_poll')).toEqual([child.loadId]);
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM ${DATASET}.chat_poll`)).toEqual([{ n: cases }]);

    const parent = await runPipeline(both, { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
    expect(Object.keys(parent.notes.refreshed ?? {})).toEqual(['logs']);
    expect(await loadIds('logs')).toEqual([parent.loadId]);
    expect(await loadIds('chat_poll')).toEqual([child.loadId]);
    expect(await stateOf('chat_poll')).toBe(child.loadId);
  });
});

describe('a refresh whose later commit fails', () => {
  it('names the refresh still to run, not a plain rerun, and leaves the failed resource as it was', async () => {
    const path = join(tmp.dir, 'partial.duckdb');
    const both = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(both, { env: box.env, destination: { path } });
    // Children commit first; a view where a table of logs was makes the logs commit fail after chat_poll's.
    await query(path, `DROP TABLE ${DATASET}.logs__labels; CREATE VIEW ${DATASET}.logs__labels AS SELECT 1 AS x`, 'READ_WRITE');
    const before = await query(path, `SELECT count(*)::INTEGER AS n, min(_load_id) AS load FROM ${DATASET}.logs`);
    const error = await runPipeline(both, { env: box.env, destination: { path }, refresh: true }).then(() => undefined, (e: unknown) => e as Error & { committedResources: string[] });
    expect(error?.committedResources).toEqual(['chat_poll']);
    // A plain rerun would load logs incrementally into its old tables: the refresh of logs would not happen.
    expect(error?.message).toContain('chat_poll of this run was committed before it (refreshed); to refresh the rest, run with --refresh --resources logs');
    expect(error?.message).not.toContain('a rerun loads the rest');
    expect(await query(path, `SELECT count(*)::INTEGER AS n, min(_load_id) AS load FROM ${DATASET}.logs`)).toEqual(before);
  });
});

describe('an appended resource without a date window', () => {
  it('is refreshed only when named: its rows are a history of earlier runs that no request reads again', async () => {
    const path = join(tmp.dir, 'history.duckdb');
    const config = definePipeline({ resources: { logs: true, chat_availability: { writeDisposition: 'append' } }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(config, { env: box.env, destination: { path } });
    await runPipeline(config, { env: box.env, destination: { path } });
    const history = async () => (await query(path, `SELECT count(DISTINCT _load_id)::INTEGER AS loads FROM ${DATASET}.chat_availability`))[0];
    expect(await history()).toEqual({ loads: 2 });
    const before = (await stats(box)).requests;
    await expect(runPipeline(config, { env: box.env, destination: { path }, refresh: true })).rejects.toThrow(
      /refresh would replace the history of chat_availability \(appended, no date window: the API serves only its present state\)[^]*resources/,
    );
    expect((await stats(box)).requests).toBe(before);
    expect(await history()).toEqual({ loads: 2 });
    // The others refreshed, the history kept; named, it is replaced on purpose.
    await runPipeline(config, { env: box.env, destination: { path }, refresh: true, resources: ['logs'] });
    expect(await history()).toEqual({ loads: 2 });
    await runPipeline(config, { env: box.env, destination: { path }, refresh: true, resources: ['chat_availability'] });
    expect(await history()).toEqual({ loads: 1 });
    // A merged resource without a date window (widgets) holds no history, only the present state: refreshed bare.
    const widgets = definePipeline({ resources: { widgets: true }, rateLimit: { requestsPerSecond: 0 } });
    await expect(runPipeline(widgets, { env: box.env, destination: { path }, refresh: true })).resolves.toBeDefined();
  });
});

describe('the CLI', () => {
  it('says in --json what it refreshed, also a resource never loaded before, and refuses a sample', async () => {
    const path = join(tmp.dir, 'cli.duckdb');
    const args = ['run', '--resources', 'logs', '--duckdb', path, '--refresh', '--json'];
    const first = await runCli(args, { env: box.env, cwd: tmp.dir });
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).refreshed).toEqual({ logs: { replacedTables: [], readFrom: box.env.SNAPENGAGE_START_DATE } });
    const stored = (await tableNames(path)).filter((t) => t.startsWith('logs'));
    expect(stored).toContain('logs__transcripts');
    const second = await runCli(args, { env: box.env, cwd: tmp.dir });
    expect([...JSON.parse(second.stdout).refreshed.logs.replacedTables].sort()).toEqual(stored);

    const sample = await runCli([...args, '--limit-pages', '1'], { env: box.env, cwd: tmp.dir });
    expect(sample.code).toBe(2);
    expect(sample.stderr).toContain('--refresh with --limit-pages would replace the full load');
    // From code, a ConfigError naming both options, before any request.
    const before = (await stats(box)).requests;
    await expect(runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path }, refresh: true, limitPages: 1 })).rejects.toThrow(
      /refresh with limitPages would replace logs with a sample of 1 page\(s\)/,
    );
    expect((await stats(box)).requests).toBe(before);
    // In memory there is nothing stored to replace: a first load.
    const memory = await runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path: ':memory:' }, refresh: true });
    expect(memory.notes.refreshed).toEqual({ logs: { replacedTables: [], readFrom: box.env.SNAPENGAGE_START_DATE } });
    expect(memory.toString()).toContain('Refreshed logs: nothing of it was stored before, so this was its first load');
  });

  it('a refresh killed with SIGKILL during extraction or inside its commit leaves the old data and state as they were', async () => {
    const path = join(tmp.dir, 'killed.duckdb');
    await runPipeline(OLD_CONFIG, { env: box.env, destination: { path } });
    const before = await snapshot(path);
    // Mid-extraction (the second request), and inside the commit's transaction: --verbose prints the schema step once
    // the old tables are dropped and the new ones created, before the rows and the COMMIT.
    const rounds = [
      { name: 'mid-extraction', reached: async (base: number) => (await stats(box)).requests - base >= 2 },
      { name: 'inside the commit', reached: async (_base: number, stderr: string) => stderr.includes('load logs: schema') },
    ];
    for (const round of rounds) {
      const base = (await stats(box)).requests;
      const child = spawnCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh', '--verbose'], { env: box.env, cwd: tmp.dir });
      let stderr = '';
      let stdout = '';
      let killed = false;
      const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
      child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr!.on('data', (d: Buffer) => {
        stderr += d.toString();
        // At once, from the data event: a poll would let a small commit finish first.
        if (!killed && round.name === 'inside the commit' && stderr.includes('load logs: schema')) (killed = true), child.kill('SIGKILL');
      });
      for (let i = 0; i < 5000 && !killed && child.exitCode === null && !(await round.reached(base, stderr)); i++) await new Promise((r) => setTimeout(r, 2));
      if (!killed) (killed = true), child.kill('SIGKILL');
      await done;
      expect(stdout, `${round.name}: the refresh finished before the kill`).not.toContain('LOADED');
      expect(await round.reached(base, stderr), round.name).toBe(true);
      expect(await snapshot(path), round.name).toBe(before);
    }
    // The next run says what the killed one was: a plain run loads logs into its old tables, it does not refresh it.
    const next = await runPipeline(CURRENT_CONFIG, { env: box.env, destination: { path } });
    expect(next.toString()).toContain('it was a refresh of logs, which this run does not finish: run with --refresh --resources logs');
    expect(next.notes.interruptedRun?.refresh).toEqual(['logs']);
  });
});
