// Scheduled runs over weeks of a faked calendar (Date only; timers stay real): the loader's "today" and the sandbox's
// "now" move together, cases are injected as the days pass, and after each scenario the dataset equals the truth.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, otherProcess, query, sandbox, tempDir, truth } from './helpers.js';

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);
const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('runs over a faked calendar', () => {
  const start = at('2025-12-20T06:00:00Z');
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let widgets: string[];
  let n = 0;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    box = await sandbox({ cases: 40, widgets: 2, days: 3, now: start });
    widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    tmp = tempDir();
  });
  afterEach(async () => {
    await admin(box, 'reset', {});
    vi.setSystemTime(start);
  });
  afterAll(async () => {
    vi.useRealTimers();
    await box?.close();
    tmp?.cleanup();
  });

  /** Cases created at these instants (the clock is set past each one first, as the API would only then know it). */
  async function created(widgetId: string, ...instants: string[]) {
    for (const instant of instants) {
      if (Date.now() < at(instant)) vi.setSystemTime(at(instant) + 1000);
      await admin(box, 'cases', { widgetId, cases: [{ created_at_date: at(instant) }] });
    }
  }
  async function runAt(iso: string, widgetIds = widgets, lookbackDays?: number) {
    vi.setSystemTime(at(iso));
    const env = { ...box.env, SNAPENGAGE_WIDGET_ID: widgetIds.join(','), SNAPENGAGE_START_DATE: '2025-12-18' };
    const withLookback = lookbackDays === undefined ? config : definePipeline({ ...config, resources: { logs: { incremental: { lookbackDays } } } });
    return runPipeline(withLookback, { env, destination: { path: `${tmp.dir}/db${n}.duckdb` } });
  }
  const matches = async () => expectMatchesTruth(`${tmp.dir}/db${n}.duckdb`, 'snapengage_data', await truth(box));
  async function lastEnds(): Promise<Record<string, string>> {
    const [row] = await query(`${tmp.dir}/db${n}.duckdb`, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
    const windows = (JSON.parse(String(row!.state)) as { windows: Record<string, { lastEnd: string }> }).windows;
    return Object.fromEntries(Object.entries(windows).map(([k, w]) => [k, w.lastEnd]));
  }

  it('daily across a year boundary, with a day of no cases and cases on either side of midnight', async () => {
    n++;
    const [w1, w2] = widgets as [string, string];
    await runAt('2025-12-30T23:59:30Z');
    await created(w1, '2025-12-30T23:59:50Z', '2025-12-31T00:00:00Z', '2025-12-31T12:00:00Z');
    await runAt('2025-12-31T23:59:59Z');
    // w2 has no case from here on; w1 one at the first instant of the year and one just before it.
    await created(w1, '2026-01-01T00:00:00Z');
    await admin(box, 'cases', { widgetId: w1, cases: [{ created_at_date: at('2025-12-31T23:59:59.500Z') }] });
    await runAt('2026-01-01T06:00:00Z');
    await runAt('2026-01-02T06:00:00Z');
    await created(w2, '2026-01-02T23:00:00Z');
    await runAt('2026-01-03T06:00:00Z');
    expect(await matches()).toEqual([]);
    expect(await lastEnds()).toEqual({ [w1]: '2026-01-03', [w2]: '2026-01-03' });
  });

  it('a week without runs is caught up exactly', async () => {
    n++;
    await runAt('2025-12-21T06:00:00Z');
    for (let day = 0; day < 9; day++) await created(widgets[day % 2]!, new Date(at('2025-12-21T10:00:00Z') + day * DAY).toISOString());
    await runAt('2025-12-30T06:00:00Z');
    expect(await matches()).toEqual([]);
  });

  it('a widget added later gets its history from the start date; one left out for a while catches up', async () => {
    n++;
    const [w1, w2] = widgets as [string, string];
    await created(w2, '2025-12-20T08:00:00Z');
    await runAt('2025-12-21T06:00:00Z', [w1]);
    await created(w2, '2025-12-22T08:00:00Z');
    await runAt('2025-12-23T06:00:00Z', [w1, w2]);
    expect(await matches()).toEqual([]);
    // w1 left out of the list for a week, then back.
    await created(w1, '2025-12-24T08:00:00Z', '2025-12-28T08:00:00Z');
    await runAt('2025-12-26T06:00:00Z', [w2]);
    await runAt('2025-12-30T06:00:00Z', [w2, w1]);
    expect(await matches()).toEqual([]);
  });

  it('a clock set back for a run, then right again, loses nothing', async () => {
    n++;
    const [w1] = widgets as [string, string];
    await runAt('2025-12-28T06:00:00Z');
    await runAt('2025-12-24T06:00:00Z');
    await created(w1, '2025-12-28T08:00:00Z');
    await runAt('2025-12-29T06:00:00Z');
    expect(await matches()).toEqual([]);
  });

  it('a clock that ran ahead for a run: the next run with the right clock still reads what came after it', async () => {
    n++;
    const [w1] = widgets as [string, string];
    await runAt('2025-12-27T06:00:00Z');
    await runAt('2026-06-27T06:00:00Z'); // the clock a half year ahead, at the real 2025-12-27T06:00
    await created(w1, '2025-12-27T08:00:00Z');
    await runAt('2025-12-28T06:00:00Z');
    expect(await matches()).toEqual([]);
    expect(Object.values(await lastEnds())).toEqual(['2025-12-28', '2025-12-28']);
  });

  it('a run that waits past midnight UTC reads every widget up to the day it started, the day it planned with', async () => {
    n++;
    const path = `${tmp.dir}/db${n}.duckdb`;
    await runAt('2025-12-29T06:00:00Z');
    // Another program has the file open as the next run starts at 23:59:59; midnight passes while the run waits for it.
    const holder = await otherProcess(path);
    let released: Promise<void> | undefined;
    vi.setSystemTime(at('2025-12-30T23:59:59Z'));
    const env = { ...box.env, SNAPENGAGE_START_DATE: '2025-12-18' };
    try {
      await runPipeline(config, {
        env,
        destination: { path },
        onLockWait: () => {
          vi.setSystemTime(at('2025-12-31T00:00:30Z'));
          released = holder.release();
        },
      });
    } finally {
      await (released ?? holder.release());
    }
    expect(released).toBeDefined(); // the run did wait
    // Before, the plan's day was the 30th and the windows' end was read after the wait: the 31st.
    expect(await lastEnds()).toEqual({ [widgets[0]!]: '2025-12-30', [widgets[1]!]: '2025-12-30' });
    expect(await matches()).toEqual([]);
  });

  it('a refresh that waits past midnight UTC checks the clock against the day it started, the day it planned with', async () => {
    // Mutations run.ts N1 / refresh-plan.ts R1 (the clock check reading its own "today" after the wait, survived): the
    // file loaded up to the 31st, the clock set back to the 30th; the refresh planned windows ending the 30th, then
    // waited for a lock past midnight, checked against the 31st, passed, and dropped the 31st's records.
    n++;
    const path = `${tmp.dir}/db${n}.duckdb`;
    await runAt('2025-12-31T06:00:00Z');
    expect(Object.values(await lastEnds())).toEqual(['2025-12-31', '2025-12-31']);
    const holder = await otherProcess(path);
    let released: Promise<void> | undefined;
    vi.setSystemTime(at('2025-12-30T23:59:59Z'));
    const env = { ...box.env, SNAPENGAGE_START_DATE: '2025-12-18' };
    let error: unknown;
    try {
      await runPipeline(config, {
        env,
        refresh: true,
        destination: { path },
        onLockWait: () => {
          vi.setSystemTime(at('2025-12-31T00:00:30Z'));
          released = holder.release();
        },
      }).catch((e: unknown) => (error = e));
    } finally {
      await (released ?? holder.release());
    }
    expect(released).toBeDefined(); // the run did wait
    expect((error as Error | undefined)?.message).toMatch(/^logs has loaded up to 2025-12-31, after today \(2025-12-30 UTC\) by this machine's clock/);
    expect(Object.values(await lastEnds())).toEqual(['2025-12-31', '2025-12-31']);
    expect(await matches()).toEqual([]);
  });

  it('… also without a lookback, where resuming at today would skip that day for good', async () => {
    n++;
    const [w1] = widgets as [string, string];
    await runAt('2025-12-27T06:00:00Z', widgets, 0);
    await runAt('2026-06-27T06:00:00Z', widgets, 0);
    await created(w1, '2025-12-27T08:00:00Z');
    await runAt('2025-12-28T06:00:00Z', widgets, 0);
    await runAt('2025-12-29T06:00:00Z', widgets, 0);
    expect(await matches()).toEqual([]);
  });
});
