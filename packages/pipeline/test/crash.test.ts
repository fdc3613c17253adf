// kill -9 in the middle of a load, at several points — before the first page, mid-extraction, once every page was served
// (so the kill lands in the flush or the commit), and after the commit — the next run must be exact, and no row in
// any data table may belong to a load that did not finish (each resource commits data, state and load row at once).
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { NEW_DATABASE_DRAFT } from '../src/destination/new-file.js';
import { runPipeline } from '../src/index.js';
import { expectMatchesTruth, query, sandbox, spawnCli, stats, tempDir, truth, withQueries } from './helpers.js';

const DATASET = 'snapengage_data';

/** Polls `condition` every few ms, at most `attempts` times; true once it held. */
async function waitFor(condition: () => boolean | Promise<boolean>, attempts = 2000, everyMs = 5): Promise<boolean> {
  for (let i = 0; i < attempts; i++) {
    if (await condition()) return true;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return false;
}

/** Rows of every data table whose `_load_id` is not a load recorded as 'loaded'; per table, only non-zero counts. */
async function orphanRows(path: string): Promise<Record<string, number>> {
  if (!existsSync(path)) return {}; // the kill came before DuckDB created the file
  // One connection for every table: opening the file per table cost ~20 ms each.
  return withQueries(path, async (run) => {
    const tables = (await run(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}'`)).map((r) => String(r.table_name));
    const data = tables.filter((t) => !t.startsWith('_pipeline_'));
    if (data.length > 0) expect(tables).toContain('_pipeline_loads'); // data without bookkeeping would itself be the bug
    const orphans: Record<string, number> = {};
    for (const table of data) {
      const [row] = await run(
        `SELECT count(*) AS n FROM ${DATASET}."${table}"
          WHERE _load_id IS NULL OR _load_id NOT IN (SELECT load_id FROM ${DATASET}._pipeline_loads WHERE status = 'loaded')`,
      );
      if (Number(row?.n) !== 0) orphans[table] = Number(row?.n);
    }
    return orphans;
  });
}

async function loadedLoads(path: string): Promise<number> {
  const [row] = await query(path, `SELECT count(*) AS n FROM ${DATASET}._pipeline_loads WHERE status = 'loaded'`);
  return Number(row?.n);
}

describe('SIGKILL mid-load', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 3000, widgets: 2, days: 10 });
    tmp = tempDir();
    // Without a rate limit the late kill points are reached quickly; the early ones keep the default limit so that
    // "after N requests" stays close to N.
    writeFileSync(join(tmp.dir, 'fast.mjs'), `export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('leaves no partial load behind, before, during and after the commit, and the next run is exact', async () => {
    const path = join(tmp.dir, 'crash.duckdb');
    const staging = `${path}.staging`;
    // Writers' directories only: the staging directory also holds the run lock (run.lock, and its drafts while taken)
    // and, while a first commit makes the file, its draft.
    const stagedWriters = () => (existsSync(staging) ? readdirSync(staging).filter((entry) => !entry.startsWith('run.lock') && !entry.startsWith(NEW_DATABASE_DRAFT)) : []);

    // How many requests a full first load takes, measured on a separate file.
    const before = (await stats(box)).requests;
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path: join(tmp.dir, 'reference.duckdb') } });
    const allPages = (await stats(box)).requests - before;
    expect(allPages).toBeGreaterThan(20);

    const rounds: Array<{ name: string; fast: boolean; killWhen: (base: number) => Promise<boolean> }> = [
      { name: 'after the first request', fast: false, killWhen: (base) => waitFor(async () => (await stats(box)).requests - base >= 1) },
      { name: 'mid-extraction', fast: false, killWhen: (base) => waitFor(async () => (await stats(box)).requests - base >= 8) },
      // Every page served: the loader is writing its last batches or inside the commit transaction.
      // Not an exact count: a first load also makes the end-day check, whose pages vary with the record it asks for
      // again (end-day-check.ts). So: nearly every page served, then no new request for 30 ms (extraction is over).
      {
        name: 'flushing or committing',
        fast: true,
        killWhen: async (base) => {
          let last = -1;
          let quiet = 0;
          return waitFor(async () => {
            const served = (await stats(box)).requests - base;
            quiet = served === last ? quiet + 1 : 0;
            last = served;
            return served >= allPages - 8 && quiet >= 6;
          });
        },
      },
      {
        // The writer's staging directory appears during extraction and is removed right after its transaction ended.
        name: 'after the commit',
        fast: true,
        killWhen: async () => {
          // Staging left by the killed round is deleted when the run opens the file: wait for this run's own writer.
          const leftover = new Set(stagedWriters());
          let own: string | undefined;
          const appeared = await waitFor(() => (own = stagedWriters().find((d) => !leftover.has(d))) !== undefined);
          return appeared && (await waitFor(() => !stagedWriters().includes(own!), 4000));
        },
      },
    ];
    for (const round of rounds) {
      const base = (await stats(box)).requests;
      const args = ['run', '--resources', 'logs', '--duckdb', path, ...(round.fast ? ['--config', 'fast.mjs'] : [])];
      const child = spawnCli(args, { env: box.env, cwd: tmp.dir });
      let exitedOnItsOwn = false;
      const exited = new Promise<void>((resolve) => child.on('exit', () => ((exitedOnItsOwn = true), resolve())));
      const reached = await round.killWhen(base);
      const exitedBeforeKill = exitedOnItsOwn;
      child.kill('SIGKILL');
      await exited;
      expect(reached, round.name).toBe(true);
      expect(await orphanRows(path), round.name).toEqual({});
      if (round.name === 'after the commit') {
        // The commit really happened in one of the rounds, so the orphan check above looked at committed data too.
        expect(await loadedLoads(path)).toBeGreaterThan(0);
        expect(Number((await query(path, `SELECT count(*) AS n FROM ${DATASET}.logs`))[0]?.n)).toBeGreaterThan(0);
      } else {
        expect(exitedBeforeKill, `${round.name}: the run finished before the kill`).toBe(false);
      }
    }
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(await orphanRows(path)).toEqual({});
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
  });
});
