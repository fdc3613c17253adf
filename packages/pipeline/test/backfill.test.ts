// A start date moved earlier after the first runs: the days between it and the first day loaded are read once
// (a backfill), for the parent and for a child it drives; a start date moved later forgets nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline, showDataset } from '../src/index.js';
import { expectMatchesTruth, query, sandbox, tempDir, truth, type TruthCase } from './helpers.js';

const today = () => new Date().toISOString().slice(0, 10);
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const createdDay = (c: TruthCase) => new Date(Number(c.created_at_seconds) * 1000).toISOString().slice(0, 10);

async function windowsOf(path: string, resource: string): Promise<Record<string, { lastEnd: string; firstStart?: string }>> {
  const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = '${resource}'`);
  const state = JSON.parse(String(row?.state)) as { windows?: Record<string, { lastEnd: string; firstStart?: string }>; parents?: { logs: { windows: Record<string, { lastEnd: string; firstStart?: string }> } } };
  return state.windows ?? state.parents!.logs.windows;
}

describe('a start date moved earlier', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let all: TruthCase[];

  beforeAll(async () => {
    box = await sandbox({ cases: 400, widgets: 2, days: 20 });
    tmp = tempDir();
    all = await truth(box);
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('backfills logs from the new start date to the first day loaded, once', async () => {
    const path = `${tmp.dir}/logs.duckdb`;
    const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
    const recent = daysAgo(5);
    await runPipeline(config, { env: { ...box.env, SNAPENGAGE_START_DATE: recent }, destination: { path } });
    const firstPart = all.filter((c) => createdDay(c) >= recent);
    expect(firstPart.length).toBeGreaterThan(0);
    expect(firstPart.length).toBeLessThan(all.length);
    expect(await expectMatchesTruth(path, 'snapengage_data', firstPart)).toEqual([]);
    for (const window of Object.values(await windowsOf(path, 'logs'))) expect(window.firstStart).toBe(recent);

    const earlier = daysAgo(25);
    const requested: string[] = [];
    const info = await runPipeline(config, {
      env: { ...box.env, SNAPENGAGE_START_DATE: earlier },
      destination: { path },
      onRequest: (event) => {
        const url = new URL(event.url);
        if (!url.searchParams.has('next')) requested.push(`${url.searchParams.get('start')}..${url.searchParams.get('end')}`);
      },
    });
    // Every case once: the backfilled days and the ones loaded before.
    expect(await expectMatchesTruth(path, 'snapengage_data', all)).toEqual([]);
    // The backfill starts at the new start date and stops before the first day loaded; the rest is the lookback.
    expect(requested.some((r) => r.startsWith(`${earlier}..`))).toBe(true);
    expect(requested.every((r) => r.split('..')[1]! < recent || r.split('..')[0]! >= daysAgo(6))).toBe(true);
    for (const window of Object.values(await windowsOf(path, 'logs'))) expect(window.firstStart).toBe(earlier);
    expect(info.toString()).toContain(`from ${earlier}`);
    expect(await showDataset({ path, dataset: 'snapengage_data' })).toMatch(new RegExp(`lastEnd ${today()}.*  from ${earlier}`));

    // Back to the later start date: nothing older is read again, and the first day loaded stays the earlier one.
    requested.length = 0;
    await runPipeline(config, {
      env: { ...box.env, SNAPENGAGE_START_DATE: recent },
      destination: { path },
      onRequest: (event) => {
        const url = new URL(event.url);
        if (!url.searchParams.has('next')) requested.push(url.searchParams.get('start')!);
      },
    });
    expect(requested.every((start) => start >= daysAgo(2))).toBe(true);
    for (const window of Object.values(await windowsOf(path, 'logs'))) expect(window.firstStart).toBe(earlier);
    expect(await expectMatchesTruth(path, 'snapengage_data', all)).toEqual([]);
  });

  it('backfills a child (chat_poll) driven by logs, each case once', async () => {
    const path = `${tmp.dir}/poll.duckdb`;
    const config = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
    const recent = daysAgo(5);
    await runPipeline(config, { env: { ...box.env, SNAPENGAGE_START_DATE: recent }, destination: { path } });
    const earlier = daysAgo(25);
    await runPipeline(config, { env: { ...box.env, SNAPENGAGE_START_DATE: earlier }, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', all)).toEqual([]);
    const [polls] = await query(path, 'SELECT count(*) AS n, count(DISTINCT case_id) AS distinct_cases FROM snapengage_data.chat_poll');
    expect(Number(polls?.n)).toBe(all.length);
    expect(Number(polls?.distinct_cases)).toBe(all.length);
    for (const window of Object.values(await windowsOf(path, 'chat_poll'))) expect(window.firstStart).toBe(earlier);
  });
});
