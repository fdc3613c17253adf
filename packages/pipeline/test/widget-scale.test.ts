// Organisations with many widgets and long histories: what a first load and a daily rerun cost in requests, and what
// the load info, show and errors say when there are hundreds of widget windows. Real sandbox over loopback, real files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { expectMatchesTruth, sandbox, stats, tempDir, truth } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('many widgets, two years of history', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  const widgets = 40;

  beforeAll(async () => {
    // Cases per widget fall off as 1/rank (the sandbox's split): widget 1 has ~700, most have a few dozen.
    box = await sandbox({ cases: 3000, widgets, days: 730 });
    tmp = tempDir();
    path = `${tmp.dir}/scale.duckdb`;
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a first load does not ask for every 7-day slice of every quiet widget (was 105 requests a widget)', async () => {
    const before = (await stats(box)).requests;
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    const requests = (await stats(box)).requests - before;
    expect(info.rowCounts.logs).toBe(3000);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
    // 3,000 cases are 30 full pages; slicing every window cut 2 years into 105 requests per widget: 4,200.
    expect(requests).toBeLessThan(widgets * 8);
    console.log(`first load of ${widgets} widgets over 730 days: ${requests} requests`);
  });

  it('a daily rerun asks once per widget', async () => {
    const before = (await stats(box)).requests;
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect((await stats(box)).requests - before).toBe(widgets);
    expect(info.rowCounts.logs).toBe(0);
  });
});
