// Adversarial review of the extract path: what a run reads, and what its committed windows then say was read. Each
// case here is one where a run reported success while the API held records that neither it nor any later run reads.
// Faked calendar (Date only; timers stay real), so the loader's "today" and the sandbox's "now" move together.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, sandbox, tempDir, truth } from './helpers.js';

const at = (iso: string) => Date.parse(iso);
const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('a clock that ran ahead for a run, on widgets that had no case yet', () => {
  const start = at('2025-12-20T06:00:00Z');
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let widgets: string[];
  let n = 0;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    // No case at all: the windows keep no newest record (lastValueAt), the one thing that said how far a run ahead got.
    box = await sandbox({ cases: 0, widgets: 2, days: 3, now: start });
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

  async function runAt(iso: string, lookbackDays?: number) {
    vi.setSystemTime(at(iso));
    const env = { ...box.env, SNAPENGAGE_START_DATE: '2025-12-18' };
    const withLookback = lookbackDays === undefined ? config : definePipeline({ ...config, resources: { logs: { incremental: { lookbackDays } } } });
    return runPipeline(withLookback, { env, destination: { path: `${tmp.dir}/db${n}.duckdb` } });
  }
  async function created(widgetId: string, instant: string) {
    if (Date.now() < at(instant)) vi.setSystemTime(at(instant) + 1000);
    await admin(box, 'cases', { widgetId, cases: [{ created_at_date: at(instant) }] });
  }

  it('the next right run reads the cases that came after the run ahead, though more days than the lookback passed', async () => {
    n++;
    const [w1] = widgets as [string, string];
    await runAt('2025-12-27T06:00:00Z');
    await runAt('2026-06-27T06:00:00Z'); // the clock half a year ahead, at the real 2025-12-27T06:00
    await created(w1, '2025-12-27T08:00:00Z'); // the widget's first case, after that run
    const info = await runAt('2025-12-29T06:00:00Z'); // two days later: the lookback (1) reaches back to 12-28 only
    expect(await expectMatchesTruth(`${tmp.dir}/db${n}.duckdb`, 'snapengage_data', await truth(box))).toEqual([]);
    expect(info.rowCounts.logs).toBe(1);
  });

  it('… and with lookbackDays 0 on the very next day', async () => {
    n++;
    const [w1] = widgets as [string, string];
    await runAt('2025-12-27T06:00:00Z', 0);
    await runAt('2026-06-27T06:00:00Z', 0);
    await created(w1, '2025-12-27T08:00:00Z');
    await runAt('2025-12-28T06:00:00Z', 0);
    expect(await expectMatchesTruth(`${tmp.dir}/db${n}.duckdb`, 'snapengage_data', await truth(box))).toEqual([]);
  });
});

describe('an API that reads end as exclusive, on a widget whose first load had no case', () => {
  const start = at('2025-12-20T06:00:00Z');
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    box = await sandbox({ cases: 0, widgets: 1, days: 3, now: start, endDay: 'exclusive' });
    tmp = tempDir();
  });
  afterAll(async () => {
    vi.useRealTimers();
    await box?.close();
    tmp?.cleanup();
  });

  it('a daily rerun is not read in one-day slices until the end-day check was made, and fails naming endDay', async () => {
    const [widget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',') as [string];
    const path = `${tmp.dir}/exclusive.duckdb`;
    const runAt = (iso: string) => {
      vi.setSystemTime(at(iso));
      return runPipeline(config, { env: { ...box.env, SNAPENGAGE_START_DATE: '2025-12-18' }, destination: { path } });
    };
    // A new widget: its first load has no case, so no record to ask for again (no check made, nothing to note).
    expect((await runAt('2025-12-27T06:00:00Z')).rowCounts.logs).toBe(0);
    for (const iso of ['2025-12-27T08:00:00Z', '2025-12-28T03:00:00Z', '2025-12-28T09:00:00Z']) {
      vi.setSystemTime(at(iso) + 1000);
      await admin(box, 'cases', { widgetId: widget, cases: [{ created_at_date: at(iso) }] });
    }
    // Before: the rerun's two days (lookback 1), fewer widgets than request slots, were read as two one-day requests,
    // each answered with nothing by this API; the run succeeded with 0 rows, and so did every later one.
    await expect(runAt('2025-12-29T12:00:00Z')).rejects.toThrow(/set resources\.logs\.incremental\.endDay: 'exclusive' in src\/pipeline\.ts and run again with --refresh --resources logs, which reads them again$/);
    const exclusive = definePipeline({ ...config, resources: { logs: { incremental: { endDay: 'exclusive' } } } });
    vi.setSystemTime(at('2025-12-29T12:00:00Z'));
    await runPipeline(exclusive, { env: { ...box.env, SNAPENGAGE_START_DATE: '2025-12-18' }, destination: { path }, refresh: true });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('a first load of a few days, read in one-day slices that got nothing: the rerun\'s refusal says to reload, and the reload loads every case', async () => {
    await admin(box, 'reset', {});
    const [widget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',') as [string];
    const path = `${tmp.dir}/short-first-load.duckdb`;
    const env = { ...box.env, SNAPENGAGE_START_DATE: '2026-01-08' };
    for (const iso of ['2026-01-08T05:00:00Z', '2026-01-09T04:00:00Z', '2026-01-10T07:00:00Z']) {
      vi.setSystemTime(at(iso) + 1000);
      await admin(box, 'cases', { widgetId: widget, cases: [{ created_at_date: at(iso) }] });
    }
    // The first load's days (Jan 8–10), one request slot each, are asked for one day at a time: this API answers
    // each with nothing, so the load has no record to check with and commits its windows as read.
    vi.setSystemTime(at('2026-01-10T12:00:00Z'));
    expect((await runPipeline(config, { env, destination: { path } })).rowCounts.logs).toBe(0);
    // The rerun's two days hold the Jan 10 case: the check finds the reading. "Run again" (endDay alone) would resume
    // after Jan 8 and 9, which the first load missed: the message says to reload.
    vi.setSystemTime(at('2026-01-11T12:00:00Z'));
    await expect(runPipeline(config, { env, destination: { path } })).rejects.toThrow(/earlier loads of this widget read their days the same way .* run again with --refresh --resources logs, which reads them again$/);
    const exclusive = definePipeline({ ...config, resources: { logs: { incremental: { endDay: 'exclusive' } } } });
    await runPipeline(exclusive, { env, destination: { path }, refresh: true });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
    expect(await truth(box)).toHaveLength(3);
  });
});
