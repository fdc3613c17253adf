// A run keeps the DuckDB file closed while it extracts: other programs can read the dataset meanwhile, a second run is
// refused by the run lock, a program that still has the file open at the commit is waited for, and a dataset changed
// under the run is not loaded over. Each run here is held mid-extraction by a gate in front of the real fetch
// (every request still goes to the sandbox over loopback), so the moments are exact, not timed.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DestinationError } from '../src/destination/index.js';
import { openDataset } from '../src/dataset.js';
import { showDataset } from '../src/show.js';
import { runPipeline, type RunOptions } from '../src/run.js';
import type { PipelineConfig } from '../src/config.js';
import { expectMatchesTruth, gatedRun, otherProcess, query, refusingUrl, runCli, sandbox, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 80, widgets: 2, days: 4 });
  tmp = tempDir('read-while-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const config = (path: string): PipelineConfig => ({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb', path } });
const gated = (path: string, options: RunOptions = {}) => gatedRun(config(path), { env: box.env, ...options });

describe('reading the dataset while a run extracts', () => {
  it('show and other processes read the last commit, a second run is refused, and the first run loads exactly', async () => {
    const db = join(tmp.dir, 'busy.duckdb');
    await runPipeline(config(db), { env: box.env });
    const before = await query(db, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs');

    const first = gated(db);
    await first.extracting;
    const shown = await runCli(['show', '--duckdb', db]);
    expect(shown.stderr).toBe('');
    expect(shown.code).toBe(0);
    expect(shown.stdout.split('\n')[1]).toMatch(
      new RegExp(`^A pipeline run \\(PID ${process.pid}, started \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\) is loading into this file; its rows show here once it commits\\.$`),
    );
    expect(shown.stdout).toMatch(/Last loads \(1\)\n {2}\d+\.\d+ {2}logs +loaded/);
    expect(await query(db, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual(before);

    // --json: the README's exit codes say a run refused so has error.code "locked" in its FAILED document.
    const second = await runCli(['run', '--duckdb', db, '--json'], { env: box.env });
    expect(second.code).toBe(1);
    expect(JSON.parse(second.stdout)).toMatchObject({ status: 'FAILED', loadId: null, error: { code: 'locked', exitCode: 1 } });
    expect(second.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        new RegExp(`^snapengage-pipeline: opening the destination: DuckDB file \\S+busy\\.duckdb is being loaded by another pipeline run \\(PID ${process.pid}, started \\S+\\): wait for that run to finish, then retry; if it is gone, delete \\S+busy\\.duckdb\\.staging/run\\.lock$`),
      ),
    ]);

    first.release();
    const info = await first.run;
    expect(info.loadId).toMatch(/^\d+\.\d+$/);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
    expect(existsSync(`${db}.staging`)).toBe(false);
    const loads = await query(db, `SELECT status, count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads GROUP BY status`);
    expect(loads).toEqual([{ status: 'loaded', n: 2 }]); // the refused run recorded nothing
  }, 60_000);

  it('show called in the process whose run is extracting says so', async () => {
    const db = join(tmp.dir, 'show-here.duckdb');
    await runPipeline(config(db), { env: box.env });
    const first = gated(db);
    await first.extracting;
    let shown: string;
    try {
      shown = await showDataset({ path: db, dataset: 'snapengage_data' });
    } finally {
      first.release();
      await first.run;
    }
    expect(shown.split('\n')[1]).toMatch(/^A pipeline run \(in this process, started \S+Z\) is loading into this file; its rows show here once it commits\.$/);
    // Once it has finished, nothing is said.
    expect((await showDataset({ path: db, dataset: 'snapengage_data' })).split('\n')[1]).toBe('');
  }, 60_000);

  it('a program that has the file open at the commit is waited for, and the run then commits', async () => {
    const db = join(tmp.dir, 'wait.duckdb');
    await runPipeline(config(db), { env: box.env });
    const waits: string[] = [];
    const first = gated(db, { onLockWait: (message) => waits.push(message) });
    await first.extracting;
    const holder = await otherProcess(db);
    try {
      first.release();
      // The run finishes extracting, then waits for the holder (bounded: 400 × 50 ms).
      for (let i = 0; i < 400 && waits.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(waits).toEqual([`DuckDB file ${db} is in use (PID ${holder.pid}); waiting up to 60 s for it to be closed`]);
    } finally {
      await holder.release();
    }
    const info = await first.run;
    expect(await query(db, `SELECT load_id FROM snapengage_data._pipeline_loads ORDER BY load_id DESC LIMIT 1`)).toEqual([{ load_id: info.loadId }]);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a dataset of this process may be open while the run extracts; the commit waits for its close()', async () => {
    const db = join(tmp.dir, 'same-process.duckdb');
    await runPipeline(config(db), { env: box.env });
    const waits: string[] = [];
    const first = gated(db, { onLockWait: (message) => waits.push(message) });
    await first.extracting;
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect((await ds.tables()).map((t) => t.name)).toContain('logs');
      first.release();
      for (let i = 0; i < 400 && waits.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(waits).toEqual([`DuckDB file ${db} is in use (this process); waiting up to 60 s for it to be closed`]);
    } finally {
      await ds.close();
    }
    await first.run;
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a dataset of this process still open when the wait ends: the hint says to close() it, not to close another program', async () => {
    const db = join(tmp.dir, 'same-process-give-up.duckdb');
    await runPipeline(config(db), { env: box.env });
    const first = gated(db, { env: { ...box.env, SNAPENGAGE_DUCKDB_LOCK_WAIT: '1' } });
    await first.extracting;
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    let error: unknown;
    try {
      first.release();
      error = await first.run.then(() => undefined, (e: unknown) => e);
    } finally {
      await ds.close();
    }
    expect((error as DestinationError).code).toBe('locked');
    expect((error as Error).message).toBe(
      `committing: DuckDB file ${db} is open in this process through openDataset(), still after 1 s; nothing of this run was loaded: close() that dataset before the run commits (or raise SNAPENGAGE_DUCKDB_LOCK_WAIT, seconds), then retry`,
    );
    expect(await query(db, `SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads WHERE status = 'loaded'`)).toEqual([{ n: 1 }]);
  }, 60_000);

  it('gives up after SNAPENGAGE_DUCKDB_LOCK_WAIT seconds with one line, and nothing of the run is loaded', async () => {
    const db = join(tmp.dir, 'give-up.duckdb');
    await runPipeline(config(db), { env: box.env });
    const stateBefore = await query(db, 'SELECT CAST(state AS VARCHAR) AS s, load_id FROM snapengage_data._pipeline_state');
    const first = gated(db, { env: { ...box.env, SNAPENGAGE_DUCKDB_LOCK_WAIT: '1' } });
    await first.extracting;
    const holder = await otherProcess(db);
    let error: unknown;
    try {
      first.release();
      error = await first.run.then(() => undefined, (e: unknown) => e);
    } finally {
      await holder.release();
    }
    expect((error as DestinationError).code).toBe('locked');
    expect((error as Error).message).toBe(
      // At the commit: it says so, and that what the run extracted was not loaded.
      `committing: DuckDB file ${db} is locked by another process (PID ${holder.pid}), still after 1 s; nothing of this run was loaded: close the program that has it open (the DuckDB CLI, a notebook, a dashboard) or raise SNAPENGAGE_DUCKDB_LOCK_WAIT (seconds), then retry`,
    );
    expect(await query(db, 'SELECT CAST(state AS VARCHAR) AS s, load_id FROM snapengage_data._pipeline_state')).toEqual(stateBefore);
    expect(await query(db, `SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads WHERE status = 'loaded'`)).toEqual([{ n: 1 }]);
    expect(existsSync(`${db}.staging`)).toBe(false);
  }, 60_000);

  it('a dataset another program changed during the extraction is not loaded over; the next run loads it', async () => {
    const db = join(tmp.dir, 'changed.duckdb');
    await runPipeline(config(db), { env: box.env });
    const first = gated(db);
    await first.extracting;
    // The file is closed while the run extracts, so this process can write it like any other program.
    const other = await DuckDBInstance.create(db);
    const conn = await other.connect();
    await conn.run('ALTER TABLE snapengage_data.logs ADD COLUMN my_note VARCHAR');
    conn.closeSync();
    other.closeSync();
    first.release();
    const error = await first.run.then(() => undefined, (e: unknown) => e);
    expect((error as DestinationError).code).toBe('changed');
    expect((error as Error).message).toBe(
      `committing: dataset snapengage_data in ${db} was changed by another program while this run was extracting (its tables, columns, incremental state or loads); nothing of this run was loaded: run the pipeline again`,
    );
    expect(await query(db, `SELECT status, count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads GROUP BY status ORDER BY status`)).toEqual([
      { status: 'failed', n: 1 },
      { status: 'loaded', n: 1 },
    ]);
    await runPipeline(config(db), { env: box.env });
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a run on a new file creates it only to commit: a failure before leaves no file and no staging', async () => {
    const db = join(tmp.dir, 'new.duckdb');
    const first = gated(db);
    await first.extracting;
    expect(existsSync(db)).toBe(false);
    expect(readdirSync(`${db}.staging`)).toEqual(['run.lock']);
    first.release();
    await first.run;
    expect(existsSync(`${db}.staging`)).toBe(false);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);

    const failing = join(tmp.dir, 'failing.duckdb');
    const env = { ...box.env, SNAPENGAGE_BASE_URL: await refusingUrl() };
    const error = await runPipeline({ ...config(failing), connection: { maxRetries: 0 } }, { env }).then(() => undefined, (e: unknown) => e);
    expect(String(error)).toMatch(/cannot reach/);
    expect(existsSync(failing)).toBe(false);
    expect(existsSync(`${failing}.staging`)).toBe(false);
  }, 60_000);
});
