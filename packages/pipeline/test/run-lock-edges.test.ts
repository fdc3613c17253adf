// The run lock and the commit's check at their edges: a run cancelled while it waits for the file, a run that fails
// while another program has the file, a file removed or loaded by another run while a run extracts, another path to
// the same file, and a dead holder's PID that now belongs to another process. Runs are held mid-extraction by a gate
// in front of the real fetch (every request still goes to the sandbox over loopback); nothing here is timed.
import { execFile } from 'node:child_process';
import { chownSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBInstance } from '@duckdb/node-api';
import type { DestinationError } from '../src/destination/index.js';
import { acquireRunLock, noHardLinks } from '../src/destination/run-lock.js';
import { AbortedError } from '../src/errors.js';
import { openDataset } from '../src/dataset.js';
import { runPipeline, type RunOptions } from '../src/run.js';
import type { PipelineConfig } from '../src/config.js';
import { expectMatchesTruth, gatedRun, otherProcess, PACKAGE_DIR, query, runCli, sandbox, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 80, widgets: 2, days: 4 });
  tmp = tempDir('run-lock-edges-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const config = (path: string, resources: PipelineConfig['resources'] = { logs: true }): PipelineConfig => ({
  resources, rateLimit: { requestsPerSecond: 0 }, destination: { type: 'duckdb', path },
});
const gated = (cfg: PipelineConfig, options: RunOptions = {}) => gatedRun(cfg, { env: box.env, ...options });

const loads = (db: string) => query(db, `SELECT status, count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads GROUP BY status ORDER BY status`);

describe('the run lock and the commit check at their edges', () => {
  it('cancelled while it waits for another program to close the file: a cancellation, not a lock error', async () => {
    const db = join(tmp.dir, 'cancel.duckdb');
    await runPipeline(config(db), { env: box.env });
    const controller = new AbortController();
    const waits: string[] = [];
    // Ctrl-C as soon as the run says it waits.
    const first = gated(config(db), { signal: controller.signal, onLockWait: (message) => (waits.push(message), controller.abort()) });
    await first.extracting;
    const holder = await otherProcess(db);
    let error: unknown;
    try {
      first.release();
      error = await first.run.then(() => undefined, (e: unknown) => e);
    } finally {
      await holder.release();
    }
    expect(waits).toHaveLength(1);
    expect(error).toBeInstanceOf(AbortedError);
    expect((error as Error).message).toBe('Run cancelled');
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 1 }]);
    expect(existsSync(`${db}.staging`)).toBe(false);
  }, 60_000);

  it('a run cancelled with a reason keeps the reason in _pipeline_loads.error (a bare abort() as before)', async () => {
    // A query over the loads could not tell a scheduler's time limit (an app's AbortSignal.timeout, the CLI's SIGTERM)
    // from a Ctrl-C: the row said "Run cancelled while extracting logs" for both.
    const db = join(tmp.dir, 'cancel-reason.duckdb');
    await runPipeline(config(db), { env: box.env });
    for (const [reason, error] of [
      [new Error('the nightly job\'s time limit\nsecond line'), 'Run cancelled while extracting logs: the nightly job\'s time limit'],
      [undefined, 'Run cancelled while extracting logs'],
      // A reason given as a string, as abort('…') takes it (mutation A3: only an Error's message kept, survived).
      ['the deploy stopped it', 'Run cancelled while extracting logs: the deploy stopped it'],
      // A reason the message already says is not said twice (mutation A4: the includes check dropped, survived).
      ['Run cancelled', 'Run cancelled while extracting logs'],
    ] as const) {
      const controller = new AbortController();
      const run = gated(config(db), { signal: controller.signal });
      await run.extracting;
      controller.abort(reason);
      run.release();
      expect(await run.run.then(() => undefined, (e: unknown) => e)).toBeInstanceOf(AbortedError);
      expect(await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed' ORDER BY started_at DESC LIMIT 1`)).toEqual([{ error }]);
    }
  }, 60_000);

  it('a run that fails of its own error as it is cancelled keeps that error alone in _pipeline_loads.error', async () => {
    // Mutation run.ts A1 (withAbortReason appending the reason to any error of a cancelled run, survived): the step's
    // own failure was recorded as if the cancel's reason explained it.
    const db = join(tmp.dir, 'fail-then-cancel.duckdb');
    await runPipeline(config(db), { env: box.env });
    const controller = new AbortController();
    const failing = config(db, { logs: { steps: [{ map: () => { controller.abort('the deploy stopped it'); throw new Error('bad record'); } }] } });
    const error = await runPipeline(failing, { env: box.env, signal: controller.signal }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/^resources\.logs\.steps\[0\] threw: bad record /);
    const [row] = await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed' ORDER BY started_at DESC LIMIT 1`);
    expect(row!.error).toBe((error as Error).message);
  }, 60_000);

  it('cancelled while it waits, the file closed meanwhile: still a cancellation, nothing loaded (it used to commit anyway)', async () => {
    // The signal comes after extraction's last check and the file opens at the next attempt: the run went on into the
    // commit with no 'committing' snapshot, so the CLI said nothing and exited 0 after Ctrl-C. A dataset of this process
    // holds the file: its close() lets the file go synchronously, so the abort right after it comes before the next
    // attempt to open (250 ms on), which then succeeds. Exact, not timed.
    const db = join(tmp.dir, 'cancel-then-open.duckdb');
    await runPipeline(config(db), { env: box.env });
    const controller = new AbortController();
    const phases: string[] = [];
    let holder: Awaited<ReturnType<typeof openDataset>> | undefined;
    let released: Promise<void> | undefined;
    const first = gated(config(db), {
      signal: controller.signal,
      progress: (s) => phases.push(s.phase),
      onLockWait: () => (released = holder!.close().then(() => controller.abort())),
    });
    await first.extracting;
    holder = await openDataset({ path: db, dataset: 'snapengage_data' });
    let error: unknown;
    try {
      first.release();
      error = await first.run.then(() => undefined, (e: unknown) => e);
    } finally {
      await holder.close();
    }
    expect(released).toBeDefined();
    expect(error).toBeInstanceOf(AbortedError);
    expect(phases).not.toContain('committing');
    // Recorded as a failed load (the file was open again), nothing of its data.
    expect(await loads(db)).toEqual([{ status: 'failed', n: 1 }, { status: 'loaded', n: 1 }]);
    expect(await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`)).toEqual([{ error: 'Run cancelled' }]);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
    expect(existsSync(`${db}.staging`)).toBe(false);
  }, 60_000);

  it('a run that fails while another program has the file open fails at once: it does not wait to record the failure', async () => {
    const db = join(tmp.dir, 'fail-busy.duckdb');
    await runPipeline(config(db), { env: box.env });
    const waits: string[] = [];
    const env = { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token', SNAPENGAGE_DUCKDB_LOCK_WAIT: '5' };
    const first = gated(config(db), { env, onLockWait: (message) => waits.push(message) });
    await first.extracting;
    const holder = await otherProcess(db);
    let error: unknown;
    try {
      first.release();
      error = await first.run.then(() => undefined, (e: unknown) => e);
    } finally {
      await holder.release();
    }
    expect((error as Error).message).toMatch(/^Extracting logs failed: .*HTTP 401/);
    expect(waits).toEqual([]);
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 1 }]); // the file was busy: no failed row, and no wait for one
    expect(existsSync(`${db}.staging`)).toBe(false);
  }, 60_000);

  it('a file removed while the run extracts is not created again: nothing is loaded and no file is left', async () => {
    const db = join(tmp.dir, 'removed.duckdb');
    await runPipeline(config(db), { env: box.env });
    const first = gated(config(db));
    await first.extracting;
    rmSync(db);
    first.release();
    const error = await first.run.then(() => undefined, (e: unknown) => e);
    expect((error as DestinationError).code).toBe('changed');
    expect((error as Error).message).toBe(
      `committing: DuckDB file ${db} was removed by another program while this run was extracting; nothing of this run was loaded: run the pipeline again (it starts a new file)`,
    );
    expect(existsSync(db)).toBe(false);
    expect(existsSync(`${db}.staging`)).toBe(false);
    await runPipeline(config(db), { env: box.env });
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a view added to the dataset while the run extracts does not stop its commit', async () => {
    const db = join(tmp.dir, 'view.duckdb');
    await runPipeline(config(db), { env: box.env });
    const first = gated(config(db));
    await first.extracting;
    const other = await DuckDBInstance.create(db);
    const conn = await other.connect();
    await conn.run('CREATE VIEW snapengage_data.recent_logs AS SELECT * FROM snapengage_data.logs');
    conn.closeSync();
    other.closeSync();
    first.release();
    await first.run;
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 2 }]);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a load committed by another run meanwhile is caught even when no state changed (an append without incremental state)', async () => {
    // A hard link is another name of the same file that no path resolution can tell: its runs take another run lock,
    // and only the commit's check stands between two loads of the same records.
    const dir = join(tmp.dir, 'append');
    mkdirSync(dir);
    const db = join(dir, 'a.duckdb');
    const resources = { users: { writeDisposition: 'append' as const } };
    writeFileSync(join(dir, 'append.mjs'), `export default ${JSON.stringify({ resources, rateLimit: { requestsPerSecond: 0 } })};\n`);
    await runPipeline(config(db, resources), { env: box.env });
    const users = await query(db, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users');
    linkSync(db, join(dir, 'b.duckdb'));
    const first = gated(config(db, resources));
    await first.extracting;
    const other = await runCli(['run', '--config', 'append.mjs', '--duckdb', 'b.duckdb'], { env: box.env, cwd: dir });
    expect(other.code).toBe(0);
    first.release();
    const error = await first.run.then(() => undefined, (e: unknown) => e);
    expect((error as DestinationError).code).toBe('changed');
    // One load before, one by the other run: not a third.
    expect(await query(db, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 2 * (users[0]!.n as number) }]);
    expect(await loads(db)).toEqual([{ status: 'failed', n: 1 }, { status: 'loaded', n: 2 }]);
  }, 60_000);

  it('a run through a symlink to the file is refused by the run lock of the file it reaches', async () => {
    const db = join(tmp.dir, 'target.duckdb');
    await runPipeline(config(db), { env: box.env });
    const alias = join(tmp.dir, 'alias.duckdb');
    symlinkSync(db, alias);
    const first = gated(config(db));
    await first.extracting;
    const second = await runCli(['run', '--resources', 'logs', '--duckdb', alias], { env: box.env });
    const shown = await runCli(['show', '--duckdb', alias]);
    first.release();
    await first.run;
    expect(second.code).toBe(1);
    expect(second.stderr.trim()).toMatch(
      new RegExp(`^snapengage-pipeline: opening the destination: DuckDB file \\S+alias\\.duckdb is being loaded by another pipeline run \\(PID ${process.pid}, started \\S+\\): wait for that run to finish, then retry; if it is gone, delete \\S+target\\.duckdb\\.staging/run\\.lock$`),
    );
    expect(shown.stdout.split('\n')[1]).toMatch(/^A pipeline run \(PID \d+, started \S+\) is loading into this file/);
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 2 }]);
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it.skipIf(process.platform !== 'linux')('a dead holder whose PID went to a process started after the lock is taken over; a live holder is not', async () => {
    const db = join(tmp.dir, 'reused.duckdb');
    await runPipeline(config(db), { env: box.env });
    const stranger = await otherProcess();
    try {
      mkdirSync(`${db}.staging`);
      const lock = (startedAt: Date) => writeFileSync(`${db}.staging/run.lock`, `${JSON.stringify({ pid: stranger.pid, host: hostname(), startedAt: startedAt.toISOString(), token: 'x' })}\n`);
      lock(new Date()); // taken after that process started: it may be the holder
      const refused = await runPipeline(config(db), { env: box.env }).then(() => undefined, (e: unknown) => e);
      expect((refused as Error).message).toMatch(new RegExp(`is being loaded by another pipeline run \\(PID ${stranger.pid}, started `));
      lock(new Date(Date.now() - 3_600_000)); // taken an hour before that process started: its holder is gone
      await runPipeline(config(db), { env: box.env });
    } finally {
      await stranger.release();
    }
    expect(existsSync(`${db}.staging`)).toBe(false);
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 2 }]);
  }, 60_000);

  it('a lock from another machine is held while its holder touches it, and taken over once it has not for minutes', async () => {
    const db = join(tmp.dir, 'other-host.duckdb');
    await runPipeline(config(db), { env: box.env });
    mkdirSync(`${db}.staging`);
    const lockPath = `${db}.staging/run.lock`;
    writeFileSync(lockPath, `${JSON.stringify({ pid: 4242, host: 'another-machine', startedAt: '2026-01-01T00:00:00.000Z', token: 'x' })}\n`);
    const refused = await runPipeline(config(db), { env: box.env }).then(() => undefined, (e: unknown) => e);
    expect((refused as Error).message).toBe(
      `opening the destination: DuckDB file ${db} is being loaded by another pipeline run (PID 4242 on another-machine, started 2026-01-01T00:00:00.000Z): wait for that run to finish, then retry (a lock from another machine untouched for 3 minutes is taken over); if it is gone, delete ${lockPath}`,
    );
    const tenMinutesAgo = new Date(Date.now() - 600_000);
    utimesSync(lockPath, tenMinutesAgo, tenMinutesAgo);
    await runPipeline(config(db), { env: box.env });
    expect(existsSync(`${db}.staging`)).toBe(false);
    expect(await loads(db)).toEqual([{ status: 'loaded', n: 2 }]);
  }, 60_000);

  it('a run whose lock was removed (an older loader clears the staging directory) or taken over meanwhile loads nothing', async () => {
    const db = join(tmp.dir, 'lock-lost.duckdb');
    await runPipeline(config(db), { env: box.env });
    const lockPath = `${db}.staging/run.lock`;
    const expected = `committing: the run lock ${lockPath} was removed or taken by another run while this run was extracting; nothing of this run was loaded: run the pipeline again, one run at a time (and the same snapengage-pipeline version for every run on this file)`;
    for (const meddle of [
      () => rmSync(`${db}.staging`, { recursive: true, force: true }), // what a loader before the run lock did on opening
      () => writeFileSync(lockPath, `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: 'another run' })}\n`),
    ]) {
      const first = gated(config(db));
      await first.extracting;
      meddle();
      // What the run that holds the lock now stages: the run that lost the lock leaves it alone when it ends.
      const othersStaging = `${db}.staging/${'9'.repeat(10)}.000000-logs-0ther0ne`;
      if (existsSync(lockPath)) mkdirSync(othersStaging);
      first.release();
      const error = await first.run.then(() => undefined, (e: unknown) => e);
      expect((error as DestinationError).code).toBe('changed');
      expect((error as Error).message).toBe(expected);
      if (existsSync(lockPath)) expect(existsSync(othersStaging)).toBe(true);
      rmSync(`${db}.staging`, { recursive: true, force: true }); // the other run's lock and staging of the second case
    }
    expect(await loads(db)).toEqual([{ status: 'failed', n: 2 }, { status: 'loaded', n: 1 }]);
    await runPipeline(config(db), { env: box.env });
    expect(await expectMatchesTruth(db, 'snapengage_data', await truth(box))).toEqual([]);
  }, 60_000);

  it('a file where the staging directory goes is named, with what to do', async () => {
    const db = join(tmp.dir, 'staging-file.duckdb');
    writeFileSync(`${db}.staging`, 'not a directory');
    const error = await runPipeline(config(db), { env: box.env }).then(() => undefined, (e: unknown) => e);
    // Before: "cannot write …staging-file.duckdb (EEXIST …): choose a destination path in a writable directory".
    expect((error as Error).message).toBe(
      `opening the destination: ${db}.staging is a file, where the loader keeps the staging directory of ${db}: move or delete that file, then retry`,
    );
    expect(existsSync(db)).toBe(false);
    rmSync(`${db}.staging`);
  });

  it('a symlink where the staging directory goes is refused, and what it points at is left alone', async () => {
    // Each run empties its staging directory: through a link (one another user made in a shared /tmp, say), that
    // emptied the directory it points at, but for a file named run.lock.
    const db = join(tmp.dir, 'staging-link.duckdb');
    const victim = join(tmp.dir, 'victim');
    mkdirSync(join(victim, 'sub'), { recursive: true });
    writeFileSync(join(victim, 'notes.txt'), 'keep me');
    symlinkSync(victim, `${db}.staging`);
    const error = await runPipeline(config(db), { env: box.env }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toBe(
      `opening the destination: ${db}.staging is a symbolic link, where the loader keeps the staging directory of ${db} (emptied on every run, so never through a link): remove the link, then retry`,
    );
    expect(existsSync(join(victim, 'notes.txt'))).toBe(true);
    expect(existsSync(join(victim, 'sub'))).toBe(true);
    expect(existsSync(db)).toBe(false);
    rmSync(`${db}.staging`);
  });

  it.runIf(process.getuid?.() === 0)("a staging directory another user owns is refused (they could read the staged rows or swap its entries)", async () => {
    const db = join(tmp.dir, 'staging-other-owner.duckdb');
    mkdirSync(`${db}.staging`);
    chownSync(`${db}.staging`, 4242, 4242);
    const error = await runPipeline(config(db), { env: box.env }).then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toBe(
      `opening the destination: ${db}.staging belongs to another user (uid 4242), where the loader keeps the staging directory of ${db}: delete it (the loader makes its own), or keep the DuckDB file in a directory of your own`,
    );
    rmSync(`${db}.staging`, { recursive: true, force: true }); // an empty one the failed open removed (rmdir) already
  });

  it("a lock of this process's own PID on this host is a leftover, taken over at once however recent (a run of this process that never released it)", async () => {
    // This PID is alive (it is this process), and started before the lock: only the PID being this one's tells a
    // leftover from another run. A run of this process still going is refused by its in-process claim (open-files.ts).
    const root = join(tmp.dir, 'own-pid.duckdb.staging');
    mkdirSync(root);
    writeFileSync(join(root, 'run.lock'), `${JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: 'left' })}\n`);
    const lock = await acquireRunLock(root, join(tmp.dir, 'own-pid.duckdb'));
    expect(lock.tookOverFrom).toMatchObject({ pid: process.pid, token: 'left' });
    await lock.release();
    expect(existsSync(root)).toBe(false);
  });

  it("names the other run's dataset only when it is another one: a dataset is the same whatever its case", async () => {
    const root = join(tmp.dir, 'dataset-case.duckdb.staging');
    const db = join(tmp.dir, 'dataset-case.duckdb');
    const stranger = await otherProcess();
    try {
      mkdirSync(root);
      writeFileSync(join(root, 'run.lock'), `${JSON.stringify({ pid: stranger.pid, host: hostname(), startedAt: new Date().toISOString(), token: 'x', dataset: 'Org_A' })}\n`);
      const refusal = (dataset: string) => acquireRunLock(root, db, dataset).then(() => '', (e: unknown) => (e as Error).message);
      // Refused either way; the dataset is named only for another one.
      expect(await refusal('org_a')).toMatch(new RegExp(`another pipeline run \\(PID ${stranger.pid}, started [^)]+\\): wait for that run`));
      expect(await refusal('org_b')).toContain(') into dataset Org_A (one run at a time loads a file, whatever its dataset');
    } finally {
      await stranger.release();
    }
  });

  it("a release after its lock was taken over leaves the new holder's lock and staged entries alone", async () => {
    const root = join(tmp.dir, 'taken.duckdb.staging');
    const lock = await acquireRunLock(root, join(tmp.dir, 'taken.duckdb'));
    // Another run took the lock over meanwhile (this one seemed dead to it) and stages into the directory.
    const theirs = `${JSON.stringify({ pid: 4242, host: 'another-machine', startedAt: new Date().toISOString(), token: 'theirs' })}\n`;
    writeFileSync(join(root, 'run.lock'), theirs);
    mkdirSync(join(root, 'their-writer'));
    await lock.release();
    expect(readFileSync(join(root, 'run.lock'), 'utf8')).toBe(theirs);
    expect(existsSync(join(root, 'their-writer'))).toBe(true);
  });

  it('a process that exits holding its lock (process.exit: the second Ctrl-C, an app) removes it and the staging directory', async () => {
    const root = join(tmp.dir, 'exits.duckdb.staging');
    const module = pathToFileURL(join(PACKAGE_DIR, 'dist', 'destination', 'run-lock.js')).href;
    const script = `const { acquireRunLock } = await import(${JSON.stringify(module)});
      await acquireRunLock(process.argv[1], process.argv[2]);
      await (await import('node:fs/promises')).mkdir(process.argv[1] + '/writer-1');
      process.exit(0);`;
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, root, join(tmp.dir, 'exits.duckdb')], { timeout: 30_000 });
    expect(existsSync(root)).toBe(false);
  });

  it('the holder touches its lock while it runs, which is how another machine sees it alive', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const root = join(tmp.dir, 'touched.duckdb.staging');
      const lock = await acquireRunLock(root, join(tmp.dir, 'touched.duckdb'));
      const lockPath = join(root, 'run.lock');
      const longAgo = new Date(Date.now() - 600_000);
      utimesSync(lockPath, longAgo, longAgo);
      vi.advanceTimersByTime(15_000);
      // The touch is an async utimes: wait for it (bounded).
      for (let i = 0; i < 200 && statSync(lockPath).mtimeMs < Date.now() - 60_000; i++) await new Promise((r) => setTimeout(r, 10));
      expect(statSync(lockPath).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
      await lock.release();
      expect(existsSync(root)).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('a file system without hard links', () => {
  it("takes the run lock without one, also on an exFAT volume of Windows, whose link() fails with EISDIR", () => {
    // Node on Windows reports exFAT's ERROR_INVALID_FUNCTION as EISDIR (nodejs/node#65817): a DuckDB file on a USB
    // drive failed every run with "illegal operation on a directory". Not reproducible on Linux (vfat says EPERM).
    expect(['EPERM', 'ENOTSUP', 'ENOSYS', 'EISDIR'].filter(noHardLinks)).toEqual(['EPERM', 'ENOTSUP', 'ENOSYS', 'EISDIR']);
    // Not these: the lock taken by another run, and our draft cleared by the holder (both mean "taken").
    expect(['EEXIST', 'ENOENT', undefined].some(noHardLinks)).toBe(false);
  });
});
