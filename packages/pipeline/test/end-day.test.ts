// The Logs API's `end` day: the docs do not say whether it is returned ("the ISO8601 date to stop returning logs
// from"); inclusive is inferred. Against a sandbox that reads it as exclusive, a run used to commit every window with
// its slices' last days (and the one-day slices of a short window) missing, without a word. Now a widget's first load
// asks once for the two days ending on the day of a record it was given, and fails, naming incremental.endDay, when the record
// does not come back; with endDay 'exclusive' the loader asks for the day after and loads exactly the truth.
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { witnessOf } from '../src/end-day-check.js';
import { planPipeline } from '../src/plan.js';
import { admin, expectMatchesTruth, query, sandbox, tempDir, truth } from './helpers.js';

const DATASET = 'snapengage_data';
// 20 days of two widgets read in two 10-day pieces of two 5-day slices each (no two-day slice: the check's request
// is the only one of two days), so many requests end on a day with cases.
const inclusive = definePipeline({ resources: { logs: { incremental: { sliceDays: 5 } } }, concurrency: 2, rateLimit: { requestsPerSecond: 0 } });
const exclusive = definePipeline({ resources: { logs: { incremental: { sliceDays: 5, endDay: 'exclusive' } } }, concurrency: 2, rateLimit: { requestsPerSecond: 0 } });

let box: Sandbox | undefined;
let box2: Sandbox | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await box?.close();
  await box2?.close();
  box2 = undefined;
  tmp?.cleanup();
  box = undefined;
  tmp = undefined;
});

/** The Logs API requests a run sent (each once), by its fetch. */
function spy(): { sent: URL[]; fetch: (request: Request) => Promise<Response> } {
  const sent: URL[] = [];
  return { sent, fetch: (request: Request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith('/logs')) sent.push(url);
    return globalThis.fetch(request);
  } };
}

const twoDays = (u: URL) => Date.parse(u.searchParams.get('end')!) - Date.parse(u.searchParams.get('start')!) === 86_400_000;

describe('the end day of a Logs API request', () => {
  it('an API that reads end as exclusive fails the run with one line naming incremental.endDay, and nothing is committed', async () => {
    box = await sandbox({ cases: 1200, widgets: 2, days: 20, endDay: 'exclusive' });
    tmp = tempDir();
    const path = `${tmp.dir}/end-day.duckdb`;
    const run = runPipeline(inclusive, { env: box.env, destination: { path } });
    await expect(run).rejects.toThrow(/asked for start=\d{4}-\d{2}-\d{2} end=\d{4}-\d{2}-\d{2} \(SNAPENGAGE_WIDGET_ID item \d of 2, [^)]+\) did not return the record id "[^"]+" .* set resources\.logs\.incremental\.endDay: 'exclusive' in src\/pipeline\.ts and run again$/);
    const tables = await query(path, `SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}' AND table_name = 'logs'`).catch(() => []);
    expect(tables).toEqual([]);
  });

  it("with endDay 'exclusive' the same API gives exactly the truth, asked for one day past each slice", async () => {
    box = await sandbox({ cases: 1200, widgets: 2, days: 20, endDay: 'exclusive' });
    tmp = tempDir();
    const path = `${tmp.dir}/end-day.duckdb`;
    const { sent, fetch } = spy();
    const info = await runPipeline(exclusive, { env: box.env, destination: { path }, fetch });
    const cases = await truth(box);
    expect(info.rowCounts.logs).toBe(cases.length);
    expect(await expectMatchesTruth(path, DATASET, cases)).toEqual([]);
    // No two-day request: the check is for the inclusive reading only (with exclusive, a 5-day slice asks for 6).
    expect(sent.filter((u) => u.searchParams.has('start') && twoDays(u))).toEqual([]);
  });

  it('a record missing from the check with the day after too (deleted meanwhile, say) is no evidence: no error', async () => {
    box = await sandbox({ cases: 1200, widgets: 2, days: 20, endDay: 'exclusive' });
    tmp = tempDir();
    const path = `${tmp.dir}/end-day.duckdb`;
    const [first, second] = box.credentials.widgetIds;
    const checks: string[] = [];
    // The check's requests (two or three days; the slices are 5) asked for the other widget: the record is in neither.
    const fetch = (request: Request) => {
      const url = new URL(request.url);
      const days = (Date.parse(url.searchParams.get('end') ?? '') - Date.parse(url.searchParams.get('start') ?? '')) / 86_400_000;
      if (url.pathname.endsWith('/logs') && (days === 1 || days === 2)) {
        checks.push(`${url.searchParams.get('start')}..${url.searchParams.get('end')}`);
        url.searchParams.set('widgetId', url.searchParams.get('widgetId') === first ? second! : first!);
        return globalThis.fetch(new Request(url, request));
      }
      return globalThis.fetch(request);
    };
    await runPipeline(inclusive, { env: box.env, destination: { path }, fetch });
    expect(checks).toHaveLength(2);
  });

  it('an API that reads end as inclusive passes the check, at the cost of one request', async () => {
    box = await sandbox({ cases: 1200, widgets: 2, days: 20 });
    tmp = tempDir();
    const path = `${tmp.dir}/end-day.duckdb`;
    const { sent, fetch } = spy();
    const info = await runPipeline(inclusive, { env: box.env, destination: { path }, fetch });
    const cases = await truth(box);
    expect(info.rowCounts.logs).toBe(cases.length);
    expect(await expectMatchesTruth(path, DATASET, cases)).toEqual([]);
    expect(sent.filter((u) => u.searchParams.has('start') && twoDays(u))).toHaveLength(1);
    // A rerun (the state stored) asks for its lookback only: no first page twice, none before yesterday. The check
    // would ask again for a widget's yesterday..today, or for the day before yesterday.
    const rerun = spy();
    await runPipeline(inclusive, { env: box.env, destination: { path }, fetch: rerun.fetch });
    const firstPages = rerun.sent.filter((u) => u.searchParams.has('start')).map((u) => u.search);
    expect(firstPages.length).toBeGreaterThan(0);
    expect(new Set(firstPages).size).toBe(firstPages.length);
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    expect(rerun.sent.filter((u) => u.searchParams.has('start') && u.searchParams.get('start')! < yesterday)).toEqual([]);
  });

  /** A sandbox whose only cases come at these UTC hours, one a day over the last four days. */
  async function casesAt(hours: number[]): Promise<Sandbox> {
    const b = await sandbox({ cases: 0, widgets: 1, days: 5, endDay: 'exclusive' });
    const today = Date.parse(new Date().toISOString().slice(0, 10));
    const cases = [1, 2, 3, 4].flatMap((daysAgo) => hours.map((hour) => ({ created_at_date: today - daysAgo * 86_400_000 + hour * 3_600_000 })));
    await admin(b, 'cases', { widgetId: b.credentials.widgetIds[0], cases });
    return b;
  }

  it('a record from the small hours (UTC) is asked for: any before 10:00 UTC holds whatever zone the API read', async () => {
    // A widget of American evening chats: none between 09:00 and 11:00 UTC, which the check asked for before.
    box = await casesAt([3]);
    tmp = tempDir();
    await expect(runPipeline(inclusive, { env: box.env, destination: { path: `${tmp.dir}/small-hours.duckdb` } })).rejects.toThrow(/set resources\.logs\.incremental\.endDay: 'exclusive'/);
  });

  it('a first load with no record the check can ask for says, in the load info, that the end day went unchecked', async () => {
    box = await casesAt([14, 20]);
    tmp = tempDir();
    const info = await runPipeline(inclusive, { env: box.env, destination: { path: `${tmp.dir}/unchecked.duckdb` } });
    expect(info.notes.endDayUnchecked).toEqual(['logs']);
    expect(info.toString()).toContain("Not checked: whether the API returns the end day of logs's date windows (no record of its first load was created before 10:00 UTC");
    // A load the check was made for says nothing of it.
    box2 = await sandbox({ cases: 300, widgets: 1, days: 5 });
    const checked = await runPipeline(inclusive, { env: box2.env, destination: { path: `${tmp.dir}/checked.duckdb` } });
    expect(checked.notes.endDayUnchecked).toEqual([]);
    expect(checked.toString()).not.toContain('Not checked');
  });
});

describe('the record the check asks for again (witnessOf)', () => {
  const env = { SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w1' };
  const logs = planPipeline({ resources: { logs: true } }, env).resources.find((p) => p.name === 'logs')!;
  const nowMs = Date.parse('2026-03-01T00:00:00Z');
  const at = (iso: string, id: unknown = 'c1') => ({ id, created_at_seconds: Date.parse(iso) / 1000 });
  const witness = (record: Record<string, unknown>, start = '2026-02-01', end = '2026-02-20') => witnessOf(logs, { widgetId: 'w1' }, record, start, end, nowMs);

  it('is a record created before 10:00 UTC on a day of the window it came back for, with a scalar key', () => {
    expect(witness(at('2026-02-10T09:59:59Z'))).toMatchObject({ key: ['c1'], ms: Date.parse('2026-02-10T09:59:59Z'), start: '2026-02-01', end: '2026-02-20' });
    expect(witness(at('2026-02-10T00:00:00Z', 7))).toMatchObject({ key: [7] });
    // From 10:00 UTC an API reading the days in a zone east of UTC could put it on the next day.
    expect(witness(at('2026-02-10T10:00:00Z'))).toBeUndefined();
    expect(witness(at('2026-02-10T11:30:00Z'))).toBeUndefined();
    // Outside the days it was asked for (the API ignoring the dates): no evidence about the end day.
    expect(witness(at('2026-02-10T09:00:00Z'), '2026-02-11', '2026-02-12')).toBeUndefined();
    expect(witness(at('2026-02-13T09:00:00Z'), '2026-02-11', '2026-02-12')).toBeUndefined();
    // A key the check could not compare: an object, or none.
    expect(witness(at('2026-02-10T09:00:00Z', { a: 1 }))).toBeUndefined();
    expect(witness(at('2026-02-10T09:00:00Z', null))).toBeUndefined();
  });

  // Mutation round 6: each of these rules could be dropped with every end-to-end test of the check still passing.
  it('takes the first and the last day of its window, and nothing without a window, a cursor instant or a key', () => {
    expect(witness(at('2026-02-11T09:00:00Z'), '2026-02-11', '2026-02-12')).toMatchObject({ ms: Date.parse('2026-02-11T09:00:00Z') });
    expect(witness(at('2026-02-12T09:00:00Z'), '2026-02-11', '2026-02-12')).toMatchObject({ ms: Date.parse('2026-02-12T09:00:00Z') });
    // A page read without a window (no start or end day): no day range to say it came back for.
    expect(witnessOf(logs, { widgetId: 'w1' }, at('2026-02-10T09:00:00Z'), undefined, undefined, nowMs)).toBeUndefined();
    expect(witness({ id: 'c1' })).toBeUndefined();
    expect(witness({ id: 'c1', created_at_seconds: 'soon' })).toBeUndefined();
    // No primary key: no record the check could tell from the others.
    const keyless = { ...logs, resource: { ...logs.resource, primaryKey: [] } };
    expect(witnessOf(keyless, { widgetId: 'w1' }, at('2026-02-10T09:00:00Z'), '2026-02-01', '2026-02-20', nowMs)).toBeUndefined();
  });
});
