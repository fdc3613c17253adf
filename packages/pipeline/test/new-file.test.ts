// A new DuckDB file appears at its path whole (new-file.ts). DuckDB creates the file and then writes its header; a
// SIGKILL in between left a file without one, which every later run refused as "not a valid DuckDB database file"
// until the user deleted it (seen once in crash.test.ts, a kill landing in the first commit).
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Sandbox } from 'snapengage-sandbox';
import { createDatabaseFile, NEW_DATABASE_DRAFT } from '../src/destination/new-file.js';
import { DuckDBDestination, duckdbSettings } from '../src/destination/index.js';
import { runPipeline } from '../src/index.js';
import { expectMatchesTruth, query, sandbox, spawnCli, tempDir, truth } from './helpers.js';

const devOf = (path: string) => (existsSync(path) ? statSync(path).dev : undefined);

const DATASET = 'snapengage_data';
const hasDuckDBHeader = (path: string) => readFileSync(path).subarray(8, 12).toString('latin1') === 'DUCK';
const tableCount = async (path: string) => Number((await query(path, 'SELECT count(*) AS n FROM duckdb_tables()'))[0]?.n);

describe('a new DuckDB file', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;

  beforeAll(async () => {
    umask = process.umask(0o022);
    box = await sandbox({ cases: 40, widgets: 1, days: 3 });
    tmp = tempDir();
    writeFileSync(join(tmp.dir, 'fast.mjs'), `export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
  });
  afterAll(async () => {
    process.umask(umask);
    await box?.close();
    tmp?.cleanup();
  });

  it('is made under a draft name in staging: a SIGKILL while DuckDB makes it leaves no file at the path, and the next run is exact', async () => {
    const path = join(tmp.dir, 'killed.duckdb');
    const draft = join(`${path}.staging`, NEW_DATABASE_DRAFT);
    const child = spawnCli(['run', '--resources', 'logs', '--duckdb', path, '--config', 'fast.mjs'], { env: box.env, cwd: tmp.dir });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let sawDraft = false;
    // Bounded: 20,000 polls of ~1 ms, far more than a run of 40 cases takes.
    for (let i = 0; i < 20_000 && child.exitCode === null && !sawDraft; i++) {
      sawDraft = existsSync(draft);
      if (!sawDraft) await new Promise((r) => setTimeout(r, 1));
    }
    child.kill('SIGKILL');
    await exited;
    expect(sawDraft, 'the draft of the new file appeared in the staging directory').toBe(true);
    // Killed while the draft existed: before its link (no file), or just after it (a whole, empty database).
    if (existsSync(path)) {
      expect(hasDuckDBHeader(path)).toBe(true);
      expect(await tableCount(path)).toBe(0);
    }
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, DATASET, await truth(box))).toEqual([]);
    expect(existsSync(draft)).toBe(false);
  });

  it('createDatabaseFile: an empty, owner-only database at the path, from a draft that a kill left behind or none', async () => {
    const staging = join(tmp.dir, 'unit.staging');
    mkdirSync(staging);
    // What a kill inside DuckDBInstance.create leaves: a draft without a header (and its WAL).
    writeFileSync(join(staging, NEW_DATABASE_DRAFT), '');
    writeFileSync(join(staging, `${NEW_DATABASE_DRAFT}.wal`), 'x');
    const path = join(tmp.dir, 'unit.duckdb');
    await createDatabaseFile(path, staging, duckdbSettings());
    expect(hasDuckDBHeader(path)).toBe(true);
    expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
    expect(await tableCount(path)).toBe(0);
    expect([existsSync(join(staging, NEW_DATABASE_DRAFT)), existsSync(join(staging, `${NEW_DATABASE_DRAFT}.wal`))]).toEqual([false, false]);
  });

  it("createDatabaseFile: a deleted file's WAL left beside the path is not replayed into the new file", async () => {
    // A database whose last transaction is only in its WAL (no checkpoint at close), then deleted without the WAL:
    // DuckDB creating a file at the path dropped such a WAL; opening the linked draft replayed it (table t came back).
    const old = join(tmp.dir, 'old.duckdb');
    const instance = await DuckDBInstance.create(old);
    const conn = await instance.connect();
    await conn.run('PRAGMA disable_checkpoint_on_shutdown; CREATE TABLE t AS SELECT 1 AS x');
    conn.closeSync();
    instance.closeSync();
    const path = join(tmp.dir, 'after-wal.duckdb');
    renameSync(`${old}.wal`, `${path}.wal`);
    const staging = join(tmp.dir, 'after-wal.staging');
    mkdirSync(staging);
    await createDatabaseFile(path, staging, duckdbSettings());
    expect(await tableCount(path)).toBe(0);
    expect(existsSync(`${path}.wal`)).toBe(false);
  });

  it('createDatabaseFile leaves a file made at the path meanwhile as it is', async () => {
    const staging = join(tmp.dir, 'other.staging');
    mkdirSync(staging);
    const path = join(tmp.dir, 'other.duckdb');
    writeFileSync(path, 'made by another program');
    await createDatabaseFile(path, staging, duckdbSettings());
    expect(readFileSync(path, 'utf8')).toBe('made by another program');
    expect(existsSync(join(staging, NEW_DATABASE_DRAFT))).toBe(false);
  });

  it('createDatabaseFile makes the file with the settings it is given: its storage version is fixed then', async () => {
    // The loader's settings ask for v1.0.0, which this DuckDB also makes by default; 'latest' tells a draft made
    // with the settings from one made without them (the header's version number: 64 for v1.0.0, higher after).
    const staging = join(tmp.dir, 'latest.staging');
    mkdirSync(staging);
    const path = join(tmp.dir, 'latest.duckdb');
    await createDatabaseFile(path, staging, { ...duckdbSettings(), storage_compatibility_version: 'latest' });
    expect(readFileSync(path).readBigUInt64LE(12)).toBeGreaterThan(64n);
  });

  it("createDatabaseFile on a database already at the path says 'found' and leaves it and its WAL whole", async () => {
    // The last transaction only in the WAL (no checkpoint at close): removing the WAL, as is done for a new file's
    // path, would lose table t. 'found', not 'deferred': the caller must not chmod nor, on a failure, remove it.
    const path = join(tmp.dir, 'kept.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    await conn.run('PRAGMA disable_checkpoint_on_shutdown; CREATE TABLE t AS SELECT 1 AS x');
    conn.closeSync();
    instance.closeSync();
    const wal = readFileSync(`${path}.wal`);
    const staging = join(tmp.dir, 'kept.staging');
    mkdirSync(staging);
    expect(await createDatabaseFile(path, staging, duckdbSettings())).toBe('found');
    expect(readFileSync(`${path}.wal`).equals(wal)).toBe(true);
    expect(await tableCount(path)).toBe(1);
  });

  it("createDatabaseFile on a symbolic link to a file not made yet: 'deferred', and the run that makes the file through it makes it owner-only and its own", async () => {
    mkdirSync(join(tmp.dir, 'target-dir'));
    const target = join(tmp.dir, 'target-dir', 'linked.duckdb');
    const path = join(tmp.dir, 'linked.duckdb');
    symlinkSync(target, path);
    const staging = join(tmp.dir, 'linked.staging');
    mkdirSync(staging);
    // Not 'found': nothing is there but the user's link, and DuckDB makes the file through it at the commit.
    expect(await createDatabaseFile(path, staging, duckdbSettings())).toBe('deferred');
    expect([lstatSync(path).isSymbolicLink(), existsSync(target), existsSync(join(staging, NEW_DATABASE_DRAFT))]).toEqual([true, false, false]);
    const destination = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
    await destination.reconnect();
    expect([destination.createdFile, (statSync(target).mode & 0o777).toString(8)]).toEqual([true, '600']);
    await destination.close();
  });

  // A custom stagingDir on another file system (here /dev/shm, a tmpfs, when the temporary directory is not one).
  const otherFs = devOf('/dev/shm') !== undefined && devOf('/dev/shm') !== devOf(tmpdir());
  it.skipIf(!otherFs)("createDatabaseFile with its staging directory on another file system: 'deferred' (no link across), nothing left", async () => {
    const staging = mkdtempSync(join('/dev/shm', 'snapengage-new-file-'));
    try {
      const path = join(tmp.dir, 'exdev.duckdb');
      expect(await createDatabaseFile(path, staging, duckdbSettings())).toBe('deferred');
      expect([existsSync(path), existsSync(join(staging, NEW_DATABASE_DRAFT))]).toEqual([false, false]);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  });
});
