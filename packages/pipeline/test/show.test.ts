// `show` after many loads (bounded by loads, not by resource lines), with failed loads, empty and child tables and
// variant columns; and `show` while another process is loading the file.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { showDataset } from '../src/show.js';
import { runCli, sandbox, spawnCli, tempDir, thingsResource } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('show-');
});
afterAll(() => tmp.cleanup());

describe('show', () => {
  it('lists the last loads with every resource line of each, says how many are left out, and shows failures', async () => {
    const path = join(tmp.dir, 'many.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const other = { ...thingsResource, name: 'others' };
    for (let i = 0; i < 12; i++) {
      const loadId = newLoadId();
      for (const resource of [thingsResource, other]) {
        const writer = dest.createResourceWriter({ loadId, resource, writeDisposition: i === 11 ? 'replace' : 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
        // Load 3 sends a text where `count` is an integer (a variant column); the last load replaces with nothing.
        if (i < 11) await writer.write([{ id: `r${i}`, count: i === 3 ? 'many' : i, items: [{ k: String(i) }] }]);
        await writer.commit({ windows: { w1: { lastEnd: `2026-01-${String(i + 1).padStart(2, '0')}` } } });
      }
    }
    await dest.recordFailedLoad(newLoadId(), 'things', 'HTTP 500 from the API', new Date(Date.now() - 1500));
    await dest.close();

    const out = await showDataset({ path, dataset: 'data' });
    const section = out.slice(out.indexOf('Last loads'), out.indexOf('Incremental state')).trim().split('\n');
    expect(section[0]).toBe('Last loads (5 of 13)');
    // 5 loads: the failed one (one resource) and four with two resources each, then the note.
    expect(section).toHaveLength(1 + 1 + 4 * 2 + 1);
    expect(section[1]).toMatch(/^ {2}\d+\.\d+ {2}things +failed +\d+\.\d\d s {2}\S+Z {2}  error: HTTP 500 from the API$/);
    expect(section.at(-1)).toBe('  … 8 earlier loads not shown (openDataset(…).loads(n) lists more)');
    const loadIds = section.slice(2, -1).map((line) => line.trim().split(/\s+/)[0]);
    expect(new Set(loadIds).size).toBe(4);

    expect(out).toMatch(/\n {2}things {2}0 rows\n {4}id VARCHAR, count BIGINT, never VARCHAR, _row_id VARCHAR, _load_id VARCHAR, count__v_text VARCHAR\n/);
    expect(out).toMatch(/\n {2}things__items {2}0 rows\n {4}k VARCHAR, _row_id VARCHAR, _parent_id VARCHAR, _root_id VARCHAR, _list_idx BIGINT, _load_id VARCHAR\n/);
    expect(out).toMatch(/\n {2}things {2}w1 {2}lastEnd 2026-01-12$/);
  });

  it('while another process loads the file: one line naming its PID, exit 1; afterwards the load is listed', async () => {
    const box: Sandbox = await sandbox({ cases: 200, widgets: 2, days: 4 });
    try {
      const db = join(tmp.dir, 'busy.duckdb');
      // One request a second, one per day and widget: the run holds the file for ~8 s.
      writeFileSync(join(tmp.dir, 'slow.mjs'), 'export default { resources: { logs: { incremental: { sliceDays: 1 } } }, rateLimit: { requestsPerSecond: 1 } };\n');
      const run = spawnCli(['run', '--duckdb', db, '--config', 'slow.mjs'], { env: box.env, cwd: tmp.dir });
      let runErr = '';
      run.stderr?.on('data', (chunk: Buffer) => (runErr += chunk.toString()));
      const finished = new Promise<number | null>((resolve) => run.on('close', (code) => resolve(code)));
      for (let i = 0; i < 200 && !existsSync(db); i++) await new Promise((r) => setTimeout(r, 50));
      expect(existsSync(db), runErr).toBe(true);

      const busy = await runCli(['show', '--duckdb', db], { cwd: tmp.dir });
      expect(busy.code).toBe(1);
      expect(busy.stdout).toBe('');
      expect(busy.stderr.trim().split('\n')).toEqual([
        `snapengage-pipeline: opening the dataset: DuckDB file ${db} is locked by another process (PID ${run.pid}): wait for the other program using it to finish (another pipeline run) or close it (the DuckDB CLI, a notebook), then retry`,
      ]);

      expect(run.exitCode).toBe(null); // still loading when show ran
      expect(await finished).toBe(0);
      const after = await runCli(['show', '--duckdb', db], { cwd: tmp.dir });
      expect(after.code).toBe(0);
      expect(after.stdout).toMatch(/Last loads \(1\)\n {2}\d+\.\d+ {2}logs +loaded/);
    } finally {
      await box.close();
    }
  }, 60_000);
});
