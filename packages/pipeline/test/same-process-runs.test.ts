// Two pipeline runs of one process on one file. DuckDB's lock is an OS lock held per process, so it does not refuse
// the second: both resolved, and the file kept only one run's commit (the second instance checkpointed over the
// first's). And a run refused because the file is locked must not delete it as "created by this run".
import { linkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { openDataset } from '../src/dataset.js';
import type { PipelineConfig } from '../src/config.js';
import { runPipeline } from '../src/run.js';
import { DestinationError } from '../src/index.js';
import { sandbox, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('two-runs-');
});
afterAll(() => tmp.cleanup());

describe('two pipeline runs of one process on one file', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await sandbox({ cases: 50, widgets: 1, days: 3 });
  });
  afterAll(async () => box?.close());

  it('the second is refused instead of losing the first one\'s commit', async () => {
    const path = join(tmp.dir, 'two-runs.duckdb');
    const config = (resource: 'widgets' | 'users') => ({ resources: { [resource]: true }, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb' as const, path } });
    const results = await Promise.allSettled([runPipeline(config('widgets'), { env: box.env }), runPipeline(config('users'), { env: box.env })]);
    const done = results.filter((r) => r.status === 'fulfilled').map((r) => Object.keys(r.value.rowCounts));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
    expect(refused.map((e) => e.message)).toEqual([expect.stringMatching(/is being loaded by a pipeline run in this process: run the pipelines one after the other/)]);
    // An app (a scheduler) tells "another run holds the file, try later" from a broken file by the public type alone.
    const lock = refused[0];
    expect(lock).toBeInstanceOf(DestinationError);
    if (lock instanceof DestinationError) expect([lock.code, lock.path]).toEqual(['locked', path]);
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      const tables = (await ds.tables()).map((t) => t.name);
      // Before the fix both runs resolved, and the file kept only one of them.
      for (const written of done.flat()) expect(tables).toContain(written);
    } finally {
      await ds.close();
    }
  });

  it('a second path to the file (a hard link) is the same file: refused as one run of this process is', async () => {
    const [path, link] = [join(tmp.dir, 'linked.duckdb'), join(tmp.dir, 'link.duckdb')];
    const config = (p: string, resource: 'widgets' | 'users') => ({ resources: { [resource]: true }, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb' as const, path: p } });
    await runPipeline(config(path, 'widgets'), { env: box.env });
    linkSync(path, link);
    // Keyed by path, both resolved and the file kept one of them (users was lost), as with one path before.
    const results = await Promise.allSettled([runPipeline(config(path, 'widgets'), { env: box.env }), runPipeline(config(link, 'users'), { env: box.env })]);
    expect(results.map((r) => (r.status === 'rejected' ? (r.reason as Error).message : 'loaded'))).toEqual([
      'loaded', expect.stringMatching(/link\.duckdb is being loaded by a pipeline run in this process/),
    ]);
  });

  it('two runs into :memory: at once each keep their own staging and both load everything', async () => {
    const big = await sandbox({ cases: 900, widgets: 1, days: 3 });
    const config: PipelineConfig = { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb', path: ':memory:' } };
    // The first run is held after four pages (a batch of rows staged), while the second runs from start to end.
    let requests = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const held = new Promise<void>((resolve) => (reached = resolve));
    const first = runPipeline({ ...config, concurrency: 1 }, {
      env: big.env,
      fetch: async (request) => {
        if (++requests === 5) {
          reached();
          await gate;
        }
        return globalThis.fetch(request);
      },
    });
    first.catch(() => undefined);
    await held;
    try {
      const second = await runPipeline(config, { env: big.env });
      release();
      // Sharing one staging directory, the second run's start and end deleted the first one's staged rows.
      expect((await first).rowCounts.logs).toBe(900);
      expect(second.rowCounts.logs).toBe(900);
    } finally {
      release();
      await first.catch(() => undefined);
      await big.close();
    }
  });
});
