// Small loads of unusual shape at DuckDB's default memory limit (192MB): what a commit holds must not grow with the
// number of tables and columns a load touches, or with a single long value, beyond what the data needs.
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, sandbox, tempDir, truth } from './helpers.js';

const config = { resources: { logs: true as const }, rateLimit: { requestsPerSecond: 0 } };

describe('load memory at the default limit', () => {
  let box: Sandbox | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterEach(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  async function setup(cases: Array<Record<string, unknown>>): Promise<string> {
    box = await sandbox({ cases: 5, widgets: 1, days: 2 });
    tmp = tempDir();
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases });
    return `${tmp.dir}/memory.duckdb`;
  }

  it('re-merges records spread over 40 child tables (the compare step read every stored table in one statement)', async () => {
    const lists = (i: number) => Object.fromEntries(Array.from({ length: 40 }, (_, t) => [`list${t}`, [{ n: i, t }]]));
    const path = await setup(Array.from({ length: 50 }, (_, i) => ({ id: `many-tables-${i}`, ...lists(i) })));
    await runPipeline(config, { env: box!.env, destination: { path } });
    const rerun = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(rerun.unchangedRecords.logs).toBe(55);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
  });

  it('creates 150 child tables of 4 columns in one load (one registry INSERT per table and column held ~0.2 MB each until COMMIT)', async () => {
    const lists = Object.fromEntries(Array.from({ length: 150 }, (_, t) => [`list${t}`, [{ a: t, b: `b${t}`, c: true, d: 1.5 }]]));
    const path = await setup([{ id: 'many-new-tables', ...lists }]);
    const info = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(info.rowCounts.logs).toBe(6);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
  });

  it('loads one case of 150,000 transcript entries and finds it unchanged on a rerun (staged as one line, the commit ran out of memory from ~130,000)', async () => {
    const entry = (i: number) => ({
      id: i % 2 ? 'wc:sam@sandbox.example.com' : '', date: 1795744797024 + i, date_seconds: 1795744797, date_milliseconds: 1795744797024 + i,
      alias: i % 2 ? 'Sam' : '', message: `message number ${i} of a long chat`, translations: '',
    });
    const path = await setup([{ id: 'long-chat', transcripts: Array.from({ length: 150_000 }, (_, i) => entry(i)) }]);
    const info = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(info.rowCounts.logs__transcripts).toBeGreaterThan(150_000);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
    const rerun = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(rerun.unchangedRecords.logs).toBe(6);
  });

  it('loads a 25 MB string (read_json was sized at 4 bytes per character, two buffers per thread)', async () => {
    const path = await setup([{ id: 'long', description: 'x'.repeat(25 * 1024 * 1024) }]);
    const info = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(info.rowCounts.logs).toBe(6);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
  });

  it('loads a 32 MB chat message and merges it again (two threads each held two buffers of its line: out of memory)', async () => {
    const message = 'y'.repeat(32 * 1024 * 1024);
    const path = await setup([{ id: 'long-message', transcripts: [{ id: '', date: 1795744797024, alias: '', message }] }]);
    const info = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(info.rowCounts.logs__transcripts).toBeGreaterThan(1);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
    const rerun = await runPipeline(config, { env: box!.env, destination: { path } });
    expect(rerun.unchangedRecords.logs).toBe(6);
  });

  it('appends a case with a 36 MB value and skips it on a rerun (finding stored keys read its line with two threads: out of memory)', async () => {
    const path = await setup([{ id: 'long-append', description: 'x'.repeat(36 * 1024 * 1024) }]);
    const appends = { ...config, resources: { logs: { writeDisposition: 'append' as const } } };
    expect((await runPipeline(appends, { env: box!.env, destination: { path } })).rowCounts.logs).toBe(6);
    // The lookback reads every case again: each is stored already, so none is appended.
    expect((await runPipeline(appends, { env: box!.env, destination: { path } })).rowCounts.logs).toBe(0);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box!))).toEqual([]);
  });
});
