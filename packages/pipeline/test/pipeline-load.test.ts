// runPipeline against the sandbox over loopback into real DuckDB files: equality with the truth, reruns without
// duplicates, per-widget incremental state, late survey results merged, child resources fanned out per case.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline, LoadInfo, showDataset, type ProgressSnapshot } from '../src/index.js';
import { admin, expectMatchesTruth, query, sandbox, stats, tempDir, truth, type TruthCase } from './helpers.js';

const addDaysUtc = (day: string, n: number) => new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('logs into DuckDB', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;

  beforeAll(async () => {
    box = await sandbox({ cases: 2000, widgets: 2, days: 20 });
    tmp = tempDir();
    path = `${tmp.dir}/load.duckdb`;
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('loads exactly the truth, and prints dlt-like load info', async () => {
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info).toBeInstanceOf(LoadInfo);
    const text = info.toString();
    expect(text).toMatch(/^Pipeline snapengage_pipeline load step completed in \d+\.\d\d seconds$/m);
    expect(text).toContain('1 load package(s) were loaded to destination duckdb and into dataset snapengage_data');
    expect(text).toMatch(/The duckdb destination used duckdb:\/.*load\.duckdb location to store data/);
    expect(text).toMatch(/Load package \d+\.\d+ is LOADED and contains no failed jobs/);
    expect(info.rowCounts.logs).toBe(2000);
    expect(info.rowCounts.logs__transcripts).toBeGreaterThan(0);

    const cases = await truth(box);
    expect(cases).toHaveLength(2000);
    expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
  });

  it('the truth comparison notices a change in any field, nested object, list column or child row', async () => {
    const copy = structuredClone(await truth(box));
    const used = new Set<TruthCase>();
    /** A case no other mutation touched, so every expected problem can be told apart. */
    const pick = (test: (c: TruthCase) => boolean = () => true) => {
      const found = copy.find((c) => !used.has(c) && test(c))!;
      used.add(found);
      return found;
    };
    const details = (c: TruthCase) => c.requester_details as { name?: string; emails?: string[] };
    const expected: RegExp[] = [];
    pick().browser = 'Netscape 4';
    expected.push(/browser: want "Netscape 4"/);
    const bool = pick((c) => typeof c.proactive_chat === 'boolean');
    bool.proactive_chat = !bool.proactive_chat;
    expected.push(new RegExp(`${bool.id} proactive_chat: want ${String(bool.proactive_chat)}`));
    details(pick((c) => typeof details(c)?.name === 'string')).name = 'Nobody';
    expected.push(/requester_details\.name: want "Nobody"/);
    details(pick((c) => (details(c)?.emails?.length ?? 0) > 0)).emails!.push('x@example.com');
    expected.push(/requester_details\.emails: want \[.*"x@example\.com"\]/);
    (pick((c) => Array.isArray(c.labels) && c.labels.length > 1).labels as unknown[]).reverse();
    expected.push(/labels\[0\]\.(name|value): want/);
    pick((c) => (c.transcripts?.length ?? 0) > 1).transcripts![1]!.alias = 'Ghost';
    expected.push(/transcripts\[1\]\.alias: want "Ghost"/);
    pick((c) => (c.transcripts?.length ?? 0) > 1).transcripts!.pop();
    expected.push(/transcripts: want \d+ rows in logs__transcripts, got \d+/);
    delete pick((c) => typeof c.city === 'string').city;
    expected.push(/logs\.city is .*the truth has no such field/);

    const problems = (await expectMatchesTruth(path, 'snapengage_data', copy)).join('\n');
    for (const pattern of expected) expect(problems).toMatch(pattern);
  });

  it('keeps one window per widget in the state', async () => {
    const [row] = await query(path, `SELECT * FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
    const state = JSON.parse(String(row?.state)) as { windows: Record<string, { lastEnd: string }> };
    const widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    expect(Object.keys(state.windows).sort()).toEqual([...widgets].sort());
    const today = new Date().toISOString().slice(0, 10);
    for (const widget of widgets) expect(state.windows[widget]?.lastEnd).toBe(today);
  });

  it('reruns without duplicates and re-reads only the lookback window', async () => {
    const before = (await stats(box)).requests;
    const windows: string[] = [];
    const info = await runPipeline(config, {
      env: box.env,
      destination: { path },
      onRequest: (event) => {
        const url = new URL(event.url);
        if (!url.searchParams.has('next')) windows.push(`${url.searchParams.get('widgetId')} ${url.searchParams.get('start')}..${url.searchParams.get('end')}`);
      },
    });
    const requests = (await stats(box)).requests - before;
    // 20 days of 2000 cases; the lookback window (yesterday and today) is a small fraction of the pages.
    expect(requests).toBeLessThan(10);
    // 2 widgets for 4 request slots: each widget's two days are requested as two one-day slices, side by side.
    const today = new Date().toISOString().slice(0, 10);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    // No end-day check (end-day-check.ts): that is for a resource's first load, not for every rerun.
    expect(windows.sort()).toEqual(
      box.env.SNAPENGAGE_WIDGET_ID!.split(',').flatMap((w) => [`${w} ${today}..${today}`, `${w} ${yesterday}..${yesterday}`]).sort(),
    );
    expect(info.rowCounts.logs ?? 0).toBeLessThan(2000);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('picks up new cases and late survey results on the next run', async () => {
    const [widget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    await admin(box, 'cases', {
      widgetId: widget,
      cases: [
        { description: 'new case one', transcripts: [{ message: 'hello' }, { message: 'bye' }] },
        { description: 'new case two' },
      ],
    });
    const recent = (await truth(box)).filter((c) => Number(c.created_at_seconds) * 1000 > Date.now() - 86_400_000).slice(0, 3);
    expect(recent.length).toBeGreaterThan(0);
    await admin(box, 'surveys', { updates: recent.map((c, i) => ({ caseId: c.id, survey_score: 90 + i, survey_comments: `late ${i}` })) });

    await runPipeline(config, { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(cases).toHaveLength(2002);
    expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
    const scores = await query(path, `SELECT id, survey_score, survey_comments FROM snapengage_data.logs WHERE survey_comments LIKE 'late %' ORDER BY id`);
    expect(scores).toHaveLength(recent.length);
  });

  it('a run for some widgets keeps the windows of the others', async () => {
    const widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    const readWindows = async () => {
      const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
      return (JSON.parse(String(row?.state)) as { windows: Record<string, { lastEnd: string }> }).windows;
    };
    const before = await readWindows();
    expect(Object.keys(before).sort()).toEqual([...widgets].sort());
    await runPipeline(config, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: widgets[0]! }, destination: { path } });
    expect(await readWindows()).toEqual(before);
  });

  it('re-creates a child table the user dropped, filling it from this load on', async () => {
    await query(path, 'DROP TABLE snapengage_data.logs__labels', 'READ_WRITE');
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info.toString()).toContain('Dropped since the last run: logs__labels. Re-created as logs loads from now on (to reload all of logs, drop all its tables)');
    // The re-read lookback records are stored without labels now, so they count as changed and get them back.
    expect(info.rowCounts.logs__labels).toBeGreaterThan(0);
    const again = await runPipeline(config, { env: box.env, destination: { path } });
    expect(again.toString()).not.toContain('Dropped');
  });

  it('refuses a resource whose root table was dropped while its child tables remain; reloads it once all are gone', async () => {
    await query(path, 'DROP TABLE snapengage_data.logs', 'READ_WRITE');
    const blocked = await runPipeline(config, { env: box.env, destination: { path } }).catch((e: unknown) => e as Error);
    expect(String(blocked)).toMatch(/loading logs: table "snapengage_data"\."logs" in .* was dropped, but the tables below it \(logs__\w+(, logs__\w+)*\) remain, with rows that hang under its rows: to reload logs, run with --refresh --resources logs \(runPipeline's refresh: true\), or drop them too \(DROP TABLE "snapengage_data"\."logs__\w+";/);
    const children = await query(path, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'snapengage_data' AND table_name LIKE 'logs\\_\\_%' ESCAPE '\\'`);
    expect(children.length).toBeGreaterThan(0);
    await query(path, children.map((t) => `DROP TABLE snapengage_data."${String(t.table_name)}";`).join(' '), 'READ_WRITE');
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info.toString()).toMatch(/Dropped since the last run: logs, logs__\w+.*\. The state of logs was reset: its next load starts over/);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('replace on the incremental logs reloads the whole window each run instead of keeping only the lookback', async () => {
    const other = `${tmp.dir}/replace.duckdb`;
    const replace = definePipeline({ resources: { logs: { writeDisposition: 'replace' } }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(replace, { env: box.env, destination: { path: other } });
    const second = await runPipeline(replace, { env: box.env, destination: { path: other } });
    const cases = await truth(box);
    expect(second.rowCounts.logs).toBe(cases.length);
    expect(await expectMatchesTruth(other, 'snapengage_data', cases)).toEqual([]);
  });

  it('says when merged records had no primary-key value, and still does not duplicate them on a rerun', async () => {
    const other = `${tmp.dir}/keyless.duckdb`;
    // A map step lets an unknown key field through the plan check; no record has it.
    const keyless = definePipeline({ resources: { logs: { primaryKey: ['case_id'], steps: [{ map: (r) => r }] } }, rateLimit: { requestsPerSecond: 0 } });
    const first = await runPipeline(keyless, { env: box.env, destination: { path: other } });
    const cases = await truth(box);
    expect(first.toString()).toContain(`Merged by content, no primary-key value: logs ${cases.length} (check resources.<name>.primaryKey`);
    await runPipeline(keyless, { env: box.env, destination: { path: other } });
    expect(await expectMatchesTruth(other, 'snapengage_data', cases)).toEqual([]);
  });

  it('names the row to fix when the stored state is not what a run wrote', async () => {
    const other = `${tmp.dir}/bad-state.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path: other }, limitPages: 1 });
    await query(other, `DELETE FROM snapengage_data._pipeline_state; INSERT INTO snapengage_data._pipeline_state VALUES ('snapengage_pipeline', 'logs', '{"windows":{"w":{"lastEnd":"26/11/2026"}}}', 'x', now()::TIMESTAMP)`, 'READ_WRITE');
    await expect(runPipeline(config, { env: box.env, destination: { path: other } })).rejects.toThrow(
      /incremental state stored for logs \(table _pipeline_state of the dataset, resource 'logs'\) has windows\["w"\]\.lastEnd = "26\/11\/2026", not a date YYYY-MM-DD: fix the row, or delete it/,
    );
  });

  it('with limit-pages samples pages and leaves the state alone', async () => {
    const other = `${tmp.dir}/sample.duckdb`;
    const info = await runPipeline(config, { env: box.env, destination: { path: other }, limitPages: 1 });
    expect(info.rowCounts.logs).toBe(200); // 1 page of 100 per widget
    expect(info.toString()).toContain('--limit-pages 1');
    // Which resources the sample actually cut short (the API linked more pages), and how to load the rest.
    expect(info.notes.sampledCutShort).toEqual({ logs: 2 });
    expect(info.toString()).toMatch(
      /^Sampled with --limit-pages 1: logs stopped early in 2 request sequences \(the API linked more pages\); incremental state was not advanced: run without --limit-pages to load the rest$/m,
    );
    // No window advanced; only the widgets and first day it read, for a later refresh (INCREMENTAL.md, Refreshing).
    const [row] = await query(other, `SELECT CAST(state AS VARCHAR) AS state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
    const firstDays = Object.fromEntries(box.credentials.widgetIds.map((id) => [id, { firstStart: box.env.SNAPENGAGE_START_DATE }]));
    expect(JSON.parse(String(row?.state))).toEqual({ windows: {}, sampled: firstDays });
  });

  it('a --limit-pages larger than 32 bits (any safe integer is accepted) is recorded, not a failed commit', async () => {
    // With an INTEGER column the run extracted everything, then failed its commit on "Conversion Error: … INT32".
    const other = `${tmp.dir}/sample-huge.duckdb`;
    const info = await runPipeline(config, { env: box.env, destination: { path: other }, limitPages: 3_000_000_000 });
    // Every case (the limit never reached); earlier tests of this file add cases to the shared sandbox.
    expect(info.rowCounts.logs).toBe((await truth(box)).length);
    expect(await query(other, `SELECT DISTINCT CAST(limit_pages AS VARCHAR) AS n FROM snapengage_data._pipeline_loads`)).toEqual([{ n: '3000000000' }]);
    const { openDataset } = await import('../src/index.js');
    const ds = await openDataset({ path: other, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads()).map((l) => l.limitPages)).toEqual([3_000_000_000]);
    } finally {
      await ds.close();
    }
  });

  it('a --limit-pages sample that fails is marked as a sample in its failed load row too', async () => {
    // The failed row's limit_pages was NULL, which reads as a failed full load (NORMALIZATION.md: NULL for a full load).
    const other = `${tmp.dir}/sample-failed.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path: other }, limitPages: 1 });
    const failed = await runPipeline(config, { env: { ...box.env, SNAPENGAGE_API_TOKEN: 'wrong' }, destination: { path: other }, limitPages: 3 })
      .then(() => undefined, (e: unknown) => e);
    expect(String(failed)).toContain('401');
    expect(await query(other, `SELECT status, CAST(limit_pages AS INTEGER) AS n FROM snapengage_data._pipeline_loads ORDER BY load_id`))
      .toEqual([{ status: 'loaded', n: 1 }, { status: 'failed', n: 3 }]);
  });

  it('a --limit-pages sample says so in _pipeline_loads, loads() and show, and the next full run completes it', async () => {
    // A sample's load row read like any full load's ("loaded", its row counts), so days later `show` gave no hint
    // that the table held a sample and that the state had not moved.
    const other = `${tmp.dir}/sample-marked.duckdb`;
    const sample = await runPipeline(config, { env: box.env, destination: { path: other }, limitPages: 2 });
    const full = await runPipeline(config, { env: box.env, destination: { path: other } });
    const loads = await query(other, `SELECT load_id, CAST(limit_pages AS INTEGER) AS limit_pages FROM snapengage_data._pipeline_loads WHERE resource = 'logs' ORDER BY load_id`);
    expect(loads).toEqual([{ load_id: sample.loadId, limit_pages: 2 }, { load_id: full.loadId, limit_pages: null }]);
    const { openDataset } = await import('../src/index.js');
    const ds = await openDataset({ path: other, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads()).map((l) => [l.loadId, l.limitPages])).toEqual([[full.loadId, null], [sample.loadId, 2]]);
    } finally {
      await ds.close();
    }
    const shown = (await showDataset({ path: other, dataset: 'snapengage_data' })).split('\n');
    expect(shown.find((l) => l.includes(sample.loadId))).toMatch(/ loaded .* sampled \(--limit-pages 2, incremental state not advanced\)$/);
    expect(shown.find((l) => l.includes(full.loadId))).not.toContain('sampled');
    expect(await expectMatchesTruth(other, 'snapengage_data', await truth(box))).toEqual([]);
    // A file of a loader before the column reads as full loads (the dataset API opens it read-only, so cannot add it).
    // The load lines only: the incremental state still lists the days the sample read (kept until a refresh).
    await query(other, 'ALTER TABLE snapengage_data._pipeline_loads DROP COLUMN limit_pages', 'READ_WRITE');
    const after = await showDataset({ path: other, dataset: 'snapengage_data' });
    expect(after.slice(after.indexOf('Last loads'), after.indexOf('Incremental state'))).not.toContain('sampled');
    expect(after.slice(after.indexOf('Incremental state'))).toContain('sampled from');
  });
});

describe('child resources', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 60, widgets: 2, days: 5 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('fans chat_poll and visitor_typing out per case, extracting logs without loading it', async () => {
    const path = `${tmp.dir}/children.duckdb`;
    const progress: ProgressSnapshot[] = [];
    const info = await runPipeline(
      { resources: { chat_poll: true, visitor_typing: true }, concurrency: 4, rateLimit: { requestsPerSecond: 0 } },
      { env: box.env, destination: { path }, progress: (s) => progress.push(structuredClone(s)) },
    );
    const cases = await truth(box);
    expect(info.rowCounts.chat_poll).toBe(cases.length);
    expect(info.rowCounts.visitor_typing).toBe(cases.length);
    expect(info.rowCounts.logs).toBeUndefined();
    expect(info.toString()).toContain('Extracted to drive child resources, not loaded: logs');
    // The catalog's addFields key `widgetId` lands as the snake_case column `widget_id`.
    const typing = await query(path, `SELECT DISTINCT widget_id AS w FROM snapengage_data.visitor_typing`);
    expect(typing.map((r) => r.w).sort()).toEqual(box.env.SNAPENGAGE_WIDGET_ID!.split(',').sort());
    // logs is done before its children: from its last page on, its rate stays what it was (it used to keep falling).
    // Its last page is the one that brings its final page count: a widget's empty last page may come after every
    // record is in.
    const logs = progress.map((s) => s.resources.find((r) => r.name === 'logs')!);
    const done = logs.findIndex((r) => r.pages === logs.at(-1)!.pages);
    expect(logs[done]!.records).toBe(cases.length);
    expect(done).toBeGreaterThanOrEqual(0);
    expect(done).toBeLessThan(logs.length - 1);
    expect(new Set(logs.slice(done).map((r) => r.recordsPerSecond)).size).toBe(1);
    expect(logs[done]!.recordsPerSecond).toBeGreaterThan(0);
  });

  it('an empty page after the last records (a slice with no cases) does not change the finished rate', async () => {
    // Slices before the sandbox's first day hold no cases; their empty pages are held back until every record is in.
    // A window no longer than sliceDays is not asked for whole first (extract.ts, readRange): it is cut for the 8 slots.
    const env = { ...box.env, SNAPENGAGE_START_DATE: addDaysUtc(box.env.SNAPENGAGE_START_DATE!, -3) };
    const before = box.env.SNAPENGAGE_START_DATE!;
    const progress: ProgressSnapshot[] = [];
    // The empty slices are answered once the progress has every record in (a condition, not a guessed delay): they
    // hold only a few of the 8 slots, so the slices with the cases go on. Bounded: a run that never gets them all in
    // fails here instead of waiting for the test's timeout.
    let allIn!: () => void;
    const recordsIn = new Promise<void>((resolve) => (allIn = resolve));
    let held = 0;
    const fetchLate = async (request: Request) => {
      const end = new URL(request.url).searchParams.get('end');
      if (end !== null && end < before) {
        held++;
        let timer: NodeJS.Timeout | undefined;
        const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the records never all came in while the empty slices waited')), 20_000)));
        await Promise.race([recordsIn, stuck]).finally(() => clearTimeout(timer));
      }
      return fetch(request);
    };
    const onProgress = (s: ProgressSnapshot) => {
      progress.push(structuredClone(s));
      if (s.resources.find((r) => r.name === 'logs')?.records === 60) allIn();
    };
    await runPipeline(
      { resources: { logs: { incremental: { sliceDays: 30 } } }, concurrency: 8, rateLimit: { requestsPerSecond: 0 } },
      { env, destination: { path: `${tmp.dir}/empty-slices.duckdb` }, progress: onProgress, fetch: fetchLate },
    );
    const logs = progress.map((s) => s.resources.find((r) => r.name === 'logs')!);
    const done = logs.findIndex((r) => r.records === 60);
    expect(done).toBeGreaterThanOrEqual(0);
    expect(held).toBeGreaterThan(0);
    expect(logs.at(-1)!.pages).toBeGreaterThan(logs[done]!.pages); // the empty pages did come last
    expect(new Set(logs.slice(done).map((r) => r.recordsPerSecond)).size).toBe(1);
  });

  it('remembers the logs windows that drove the children: a rerun polls only the lookback window\'s cases', async () => {
    const path = `${tmp.dir}/children-rerun.duckdb`;
    const config = definePipeline({ resources: { chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    const polls = (urls: string[]) => urls.filter((u) => u.includes('/chat/poll/')).length;
    const first: string[] = [];
    await runPipeline(config, { env: box.env, destination: { path }, onRequest: (e) => first.push(e.url) });
    const cases = await truth(box);
    expect(polls(first)).toBe(cases.length);
    const second: string[] = [];
    const info = await runPipeline(config, { env: box.env, destination: { path }, onRequest: (e) => second.push(e.url) });
    // The lookback window is yesterday and today (UTC days).
    const since = Date.parse(`${new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)}T00:00:00Z`) / 1000;
    const recent = cases.filter((c) => Number(c.created_at_seconds) >= since).length;
    expect(recent).toBeLessThan(cases.length);
    expect(polls(second)).toBe(recent);
    expect(info.unchangedRecords.chat_poll).toBe(recent);
    const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'chat_poll'`);
    const windows = (JSON.parse(String(row?.state)) as { parents: { logs: { windows: Record<string, unknown> } } }).parents.logs.windows;
    expect(Object.keys(windows).sort()).toEqual(box.env.SNAPENGAGE_WIDGET_ID!.split(',').sort());
    // No logs state: logs was only extracted, so a later run that loads logs still reads its whole history.
    expect(await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`)).toEqual([]);
    const shown = await showDataset({ path, dataset: 'snapengage_data' });
    for (const widget of Object.keys(windows)) expect(shown).toMatch(new RegExp(`chat_poll  \\(via logs\\)  ${widget}  lastEnd \\d{4}-\\d{2}-\\d{2}`));
  });

  it('gives a child selected after its parent was loaded the parent\'s whole history', async () => {
    const path = `${tmp.dir}/child-later.duckdb`;
    // No rate limit, as in the other tests here: chat_poll polls each case, 6 s a run at the default 10/s.
    const rateLimit = { requestsPerSecond: 0 };
    await runPipeline({ resources: { logs: true }, rateLimit }, { env: box.env, destination: { path } });
    const info = await runPipeline({ resources: { logs: true, chat_poll: true }, rateLimit }, { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(info.rowCounts.chat_poll).toBe(cases.length);
    // Both consumers now have every widget's window: the next run reads the lookback window only.
    const again = await runPipeline({ resources: { logs: true, chat_poll: true }, rateLimit }, { env: box.env, destination: { path } });
    expect(again.unchangedRecords.chat_poll ?? 0).toBeLessThan(cases.length);
  });

  it('drives a child added later through the whole history without appending an appended parent again', async () => {
    const path = `${tmp.dir}/append-parent.duckdb`;
    const logs = { writeDisposition: 'append' as const, incremental: { lookbackDays: 0 } };
    const first = await runPipeline({ resources: { logs }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(first.rowCounts.logs).toBe(cases.length);
    const today = new Date().toISOString().slice(0, 10);
    const todays = cases.filter((c) => new Date(Number(c.created_at_seconds) * 1000).toISOString().slice(0, 10) === today).length;
    const second = await runPipeline({ resources: { logs, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    // The child gets every case; the appended parent only re-reads its own window (today, with no lookback), and
    // appends none of it again: those cases are stored.
    expect(second.rowCounts.chat_poll).toBe(cases.length);
    expect(second.toJSON().alreadyStoredRecords?.logs ?? 0).toBe(todays);
    expect(second.rowCounts.logs ?? 0).toBe(0);
  });

  it('drives each child from its own point: an appended child is not loaded again when a sibling needs history', async () => {
    const path = `${tmp.dir}/siblings.duckdb`;
    const cases = await truth(box);
    const run = (resources: Parameters<typeof definePipeline>[0]['resources']) =>
      runPipeline({ resources, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    await run({ logs: true, visitor_typing: { writeDisposition: 'append' } });
    // chat_poll is new: it needs the whole history; visitor_typing (appended) and logs only their own windows.
    const second = await run({ logs: true, visitor_typing: { writeDisposition: 'append' }, chat_poll: true });
    expect(second.rowCounts.chat_poll).toBe(cases.length);
    // visitor_typing re-reads only its own lookback window's cases, and appends none of them again.
    const reread = second.toJSON().alreadyStoredRecords?.visitor_typing ?? 0;
    expect(reread).toBeGreaterThan(0);
    expect(reread).toBeLessThan(cases.length);
    expect(second.rowCounts.visitor_typing ?? 0).toBe(0);
    const typing = await query(path, `SELECT count(*) AS n, count(DISTINCT case_id) AS d FROM snapengage_data.visitor_typing`);
    expect(typing).toEqual([{ n: String(cases.length), d: String(cases.length) }]);
  });

  it('with limit-pages samples one sequence per widget even when consumers resume at different points', async () => {
    const path = `${tmp.dir}/sample-children.duckdb`;
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    const urls: string[] = [];
    const info = await runPipeline(
      { resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } },
      { env: box.env, destination: { path }, limitPages: 1, onRequest: (e) => urls.push(e.url) },
    );
    expect(urls.filter((u) => u.includes('/logs?'))).toHaveLength(box.env.SNAPENGAGE_WIDGET_ID!.split(',').length);
    expect(info.rowCounts.chat_poll).toBeGreaterThan(0);
  });

  it('drives a child whose state an older version left empty through the whole history, once', async () => {
    const path = `${tmp.dir}/legacy-child.duckdb`;
    const config = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(config, { env: box.env, destination: { path } });
    // What an older version committed for a child: an empty state.
    await query(path, `UPDATE snapengage_data._pipeline_state SET state = NULL WHERE resource = 'chat_poll'`, 'READ_WRITE');
    const polls: string[] = [];
    await runPipeline(config, { env: box.env, destination: { path }, onRequest: (e) => e.url.includes('/chat/poll/') && polls.push(e.url) });
    // Nothing says how far it got (an older version wrote null after a --limit-pages sample too): all cases.
    const cases = await truth(box);
    expect(polls.length).toBe(cases.length);
    const again: string[] = [];
    await runPipeline(config, { env: box.env, destination: { path }, onRequest: (e) => e.url.includes('/chat/poll/') && again.push(e.url) });
    expect(again.length).toBeLessThan(cases.length);
  });

  it('applies filter and map steps in order, and fetches children only for the records a filter keeps', async () => {
    const path = `${tmp.dir}/steps.duckdb`;
    const cases = await truth(box);
    const keep = new Set(cases.filter((_, i) => i % 3 === 0).map((c) => c.id));
    const polled: string[] = [];
    const info = await runPipeline(
      definePipeline({
        resources: {
          logs: {
            steps: [
              { filter: (r) => keep.has(String(r.id)) },
              // A map that renames the key field, editing the record in place: the child requests still use the
              // case id as the API sent it.
              {
                map: (r) => {
                  const record = r as Record<string, unknown>;
                  record.case_id = record.id;
                  delete record.id;
                  record.tag = 'kept';
                  return record;
                },
              },
            ],
            primaryKey: ['case_id'],
          },
          chat_poll: true,
        },
        rateLimit: { requestsPerSecond: 0 },
      }),
      { env: box.env, destination: { path }, onRequest: (e) => polled.push(e.url) },
    );
    expect(info.rowCounts.logs).toBe(keep.size);
    expect(info.rowCounts.chat_poll).toBe(keep.size);
    expect(polled.filter((u) => u.includes('/chat/poll/')).map((u) => u.split('/chat/poll/')[1]!.split('?')[0]).sort()).toEqual([...keep].sort());
    const rows = await query(path, `SELECT case_id, tag FROM snapengage_data.logs ORDER BY case_id`);
    expect(rows).toEqual([...keep].sort().map((id) => ({ case_id: id, tag: 'kept' })));
  });

  it('names the step that threw or returned no record', async () => {
    const run = (step: { map: (r: never) => unknown } | { filter: (r: never) => boolean }) =>
      runPipeline({ resources: { logs: { steps: [{ filter: () => true }, step as never] } }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path: `${tmp.dir}/bad-step.duckdb` } });
    await expect(run({ filter: () => { throw new Error('boom'); } })).rejects.toThrow('resources.logs.steps[1] threw: boom');
    await expect(run({ map: () => undefined })).rejects.toThrow('resources.logs.steps[1] (map) returned undefined: a map step must return the record as an object');
  });

  it('loads widgets and chat_availability once per widget', async () => {
    const path = `${tmp.dir}/widgets.duckdb`;
    const info = await runPipeline({ resources: { widgets: true, chat_availability: true, users: true } }, { env: box.env, destination: { path } });
    expect(info.rowCounts.widgets).toBe(2);
    expect(info.rowCounts.chat_availability).toBe(2);
    expect(info.rowCounts.users).toBe(1);
    const shown = await showDataset({ path, dataset: 'snapengage_data' });
    expect(shown).toMatch(/^ {2}users {2}1 row$/m);
    expect(shown).toMatch(/^ {2}widgets {2}2 rows$/m);
  });

  it('keys widgets by the widget id asked for, even when the response has no uuid (that field is inferred)', async () => {
    const path = `${tmp.dir}/widgets-no-uuid.duckdb`;
    const withoutUuid = async (request: Request): Promise<Response> => {
      const response = await globalThis.fetch(request);
      if (!new URL(request.url).pathname.endsWith('/widget.json') || !response.ok) return response;
      const { uuid: _dropped, ...rest } = (await response.json()) as Record<string, unknown>;
      return new Response(JSON.stringify(rest), { status: 200, headers: { 'content-type': 'application/json' } });
    };
    await runPipeline({ resources: { widgets: true } }, { env: box.env, destination: { path }, fetch: withoutUuid });
    const rows = await query(path, 'SELECT uuid, name FROM snapengage_data.widgets ORDER BY uuid');
    expect(rows.map((r) => r.uuid)).toEqual(box.env.SNAPENGAGE_WIDGET_ID!.split(',').sort());
    expect(rows.every((r) => typeof r.name === 'string')).toBe(true);
  });
});

describe('a replace keeps no window for rows it deleted', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 400, widgets: 2, days: 10 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  const merge = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
  const replace = definePipeline({ resources: { logs: { writeDisposition: 'replace' } }, rateLimit: { requestsPerSecond: 0 } });

  it('a replace for some widgets drops the windows of the others, so a later merge reloads their history', async () => {
    const path = `${tmp.dir}/subset.duckdb`;
    const [w1] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    await runPipeline(merge, { env: box.env, destination: { path } });
    // The replace empties logs and reloads w1 only: w2's rows are gone, so its window must go too.
    await runPipeline(replace, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: w1! }, destination: { path } });
    const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
    expect(Object.keys((JSON.parse(String(row?.state)) as { windows: object }).windows)).toEqual([w1]);
    await runPipeline(merge, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('a --limit-pages sample of a replace leaves no window, so the next merge is complete', async () => {
    const path = `${tmp.dir}/sample.duckdb`;
    await runPipeline(merge, { env: box.env, destination: { path } });
    const sample = await runPipeline(replace, { env: box.env, destination: { path }, limitPages: 1 });
    expect(sample.rowCounts.logs).toBe(200); // the table now holds one page per widget
    await runPipeline(merge, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('a child that replaces (a sample, or some widgets) keeps no parent window for the polls it deleted', async () => {
    const path = `${tmp.dir}/child.duckdb`;
    const [w1] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    const poll = (writeDisposition: 'merge' | 'replace') => definePipeline({ resources: { chat_poll: { writeDisposition } }, rateLimit: { requestsPerSecond: 0 } });
    const cases = await truth(box);
    const polled = async () => Number((await query(path, `SELECT count(DISTINCT case_id) AS n FROM snapengage_data.chat_poll`))[0]?.n);
    await runPipeline(poll('merge'), { env: box.env, destination: { path } });
    await runPipeline(poll('replace'), { env: box.env, destination: { path }, limitPages: 1 });
    await runPipeline(poll('merge'), { env: box.env, destination: { path } });
    expect(await polled()).toBe(cases.length);
    await runPipeline(poll('replace'), { env: { ...box.env, SNAPENGAGE_WIDGET_ID: w1! }, destination: { path } });
    await runPipeline(poll('merge'), { env: box.env, destination: { path } });
    expect(await polled()).toBe(cases.length);
  });
});

describe('an append of a date window', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 400, widgets: 2, days: 10 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('does not append again the records its rerun reads again (lookback days), and still appends new ones', async () => {
    const path = `${tmp.dir}/append.duckdb`;
    const append = definePipeline({
      resources: { logs: { writeDisposition: 'append', incremental: { lookbackDays: 3 } }, chat_poll: { writeDisposition: 'append' } },
      rateLimit: { requestsPerSecond: 0 },
    });
    await runPipeline(append, { env: box.env, destination: { path } });
    const [widget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    await admin(box, 'cases', { widgetId: widget, cases: [{ description: 'appended later', transcripts: [{ message: 'hi' }] }] });
    const again = await runPipeline(append, { env: box.env, destination: { path } });
    // lookbackDays 0 still reads the last day again: nothing a rerun reads may be stored twice.
    await runPipeline({ ...append, resources: { ...append.resources, logs: { writeDisposition: 'append', incremental: { lookbackDays: 0 } } } }, { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(again.rowCounts.logs).toBe(1);
    expect(again.rowCounts.chat_poll).toBe(1);
    expect(again.toString()).toMatch(/Read again, primary key already stored \(not appended again\): (chat_poll \d+, logs \d+|logs \d+, chat_poll \d+)/);
    expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
    const polls = await query(path, `SELECT count(*) AS n, count(DISTINCT case_id) AS d FROM snapengage_data.chat_poll`);
    expect(polls).toEqual([{ n: String(cases.length), d: String(cases.length) }]);
  });

  it('appends a key read twice in one run once, as two runs reading it would (first load and rerun alike)', async () => {
    const path = `${tmp.dir}/append-twice.duckdb`;
    const append = definePipeline({ resources: { logs: { writeDisposition: 'append' } }, rateLimit: { requestsPerSecond: 0 } });
    const [widget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    const now = Math.floor(Date.now() / 1000);
    // The API answers the same case twice in one window (the sandbox serves injected cases that share an id).
    const twice = (id: string) => admin(box, 'cases', { widgetId: widget, cases: [0, 1].map((n) => ({ id, created_at_seconds: now, description: `copy ${n}`, transcripts: [{ message: `m${n}` }] })) });
    try {
      await twice('twice-first-load');
      const first = await runPipeline(append, { env: box.env, destination: { path } });
      await twice('twice-rerun');
      const again = await runPipeline(append, { env: box.env, destination: { path } });
      const rows = await query(path, `SELECT id, count(*) AS n FROM snapengage_data.logs WHERE id LIKE 'twice-%' GROUP BY id ORDER BY id`);
      expect(rows).toEqual([{ id: 'twice-first-load', n: '1' }, { id: 'twice-rerun', n: '1' }]);
      const [all] = await query(path, 'SELECT count(*) AS n, count(DISTINCT id) AS d FROM snapengage_data.logs');
      expect(all?.n).toBe(all?.d);
      // Each record left out with its children; the load info counts it.
      const [orphans] = await query(path, 'SELECT count(*) AS n FROM snapengage_data.logs__transcripts t ANTI JOIN snapengage_data.logs l ON t._parent_id = l._row_id');
      expect(orphans?.n).toBe('0');
      const [transcripts] = await query(path, `SELECT count(*) AS n FROM snapengage_data.logs__transcripts t JOIN snapengage_data.logs l ON t._parent_id = l._row_id WHERE l.id LIKE 'twice-%'`);
      expect(transcripts?.n).toBe('2');
      expect(first.rowCounts.logs).toBe((await truth(box)).length - 3);
      expect(again.rowCounts.logs).toBe(1);
    } finally {
      await admin(box, 'reset', {});
    }
  });
});
