// kill -9 in the middle of a load, at several points: the next run must be exact, and no row may belong to a load
// that did not finish (each resource commits data, state and its load row in one transaction).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { expectMatchesTruth, query, sandbox, spawnCli, stats, tempDir, truth } from './helpers.js';

/** Waits until the sandbox has served `requests` more API requests than `base`, polling (bounded). */
async function waitForRequests(box: Sandbox, base: number, requests: number): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if ((await stats(box)).requests - base >= requests) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return false;
}

describe('SIGKILL mid-load', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 3000, widgets: 2, days: 10 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('leaves no partial load behind and the next run is exact', async () => {
    const path = `${tmp.dir}/crash.duckdb`;
    // Kill points: before the first page, mid-extraction, near the end of the pages (≈ 31 pages at 10 requests/s).
    for (const killAfter of [1, 8, 20, 29]) {
      const base = (await stats(box)).requests;
      const child = spawnCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const reached = await waitForRequests(box, base, killAfter);
      child.kill('SIGKILL');
      await exited;
      expect(reached).toBe(true);
      const orphans = await query(
        path,
        `SELECT count(*) AS n FROM snapengage_data.logs
          WHERE _load_id NOT IN (SELECT load_id FROM snapengage_data._pipeline_loads WHERE status = 'loaded')`,
      ).catch(() => [{ n: 0 }]); // no table yet: the kill came before the first commit
      expect(Number(orphans[0]?.n)).toBe(0);
    }
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });
});
