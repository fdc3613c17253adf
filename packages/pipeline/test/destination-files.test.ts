// What the CLI says when --duckdb points at a file that is not a sound DuckDB database of this loader (another
// program's, damaged, of another DuckDB storage version), and that such a file is left exactly as it was.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { randomBytes } from 'node:crypto';
import { duckdbVersion } from '../src/duckdb.js';
import { BUILT_CLI, query, runCli, sandbox, spawnCli, stats, tempDir, truth } from './helpers.js';

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress'));

/** Root may write a read-only file: as root, the CLI runs as nobody (setpriv), else as the user it is. */
const asRoot = process.getuid?.() === 0;
const canDropPrivileges = !asRoot || spawnSync('setpriv', ['--version']).status === 0;

/** The built CLI (as runCli) as the user of canDropPrivileges. */
function runCliUnprivileged(args: string[], env: Record<string, string>, cwd: string): Promise<{ code: number | null; stderr: string }> {
  const node = [process.execPath, BUILT_CLI, ...args];
  const [command, ...rest] = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  // Not spawnSync: the sandbox answers from this process's event loop.
  const child = spawn(command!, rest, { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

/**
 * A copy of a DuckDB file whose main header claims another storage version, with the header's checksum made right
 * again (DuckDB's Checksum: 5381 XOR each little-endian 64-bit word × 0xbf58476d1ce4e5b9, over bytes 8–4095), so that
 * DuckDB reads the version instead of refusing a damaged header.
 */
function withStorageVersion(from: string, to: string, version: number): void {
  const bytes = readFileSync(from);
  bytes.writeBigUInt64LE(BigInt(version), 12);
  let sum = 5381n;
  for (let at = 8; at < 4096; at += 8) sum ^= BigInt.asUintN(64, bytes.readBigUInt64LE(at) * 0xbf58476d1ce4e5b9n);
  bytes.writeBigUInt64LE(sum, 0);
  writeFileSync(to, bytes);
}

describe('--duckdb at a file that is not a sound DuckDB database', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  /** A file one run loaded (logs), copied by each test before it damages its copy. */
  let good: string;

  beforeAll(async () => {
    box = await sandbox({ cases: 120, widgets: 1, days: 3 });
    tmp = tempDir();
    good = join(tmp.dir, 'good.duckdb');
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', good], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it("another program's file (SQLite, CSV) or an empty one is refused before any request and left as it was", async () => {
    // DuckDB opened a SQLite file by downloading its sqlite extension (a request to extensions.duckdb.org; offline:
    // "Failed to download extension", online: the run's tables written into the SQLite file), and a .csv file as an
    // in-memory database with a view over it: the run extracted everything, then failed with a Catalog Error.
    const files: Array<[string, Buffer, RegExp]> = [
      ['app.sqlite', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080)]), /app\.sqlite is a SQLite database: point --duckdb/],
      ['export.csv', Buffer.from('id,name\n1,a\n'), /export\.csv is not a DuckDB database: point --duckdb/],
      // What a kill while DuckDB created a file left before new-file.ts: DuckDB refused it ("not a valid DuckDB
      // database file") with no hint that it held nothing.
      ['killed.duckdb', Buffer.alloc(0), /killed\.duckdb holds no data \(an empty file; a run killed while DuckDB was creating it leaves one\): delete it, then run again/],
      ['zeros.duckdb', Buffer.alloc(4096), /zeros\.duckdb holds no data \(only zero bytes; .*\): delete it, then run again/],
    ];
    for (const [name, bytes, message] of files) {
      const path = join(tmp.dir, name);
      writeFileSync(path, bytes);
      const requests = (await stats(box)).requests;
      const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      expect(run.code).toBe(1);
      expect(errorLines(run.stderr)).toEqual([expect.stringMatching(message)]);
      expect((await stats(box)).requests).toBe(requests);
      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(existsSync(`${path}.staging`) || existsSync(`${path}.wal`)).toBe(false);
    }
  });

  it.skipIf(spawnSync('mkfifo', ['--version']).status !== 0)('a FIFO (or a device) is refused at once, by run and by show: they waited for a writer forever', async () => {
    const path = join(tmp.dir, 'pipe.duckdb');
    expect(spawnSync('mkfifo', [path]).status).toBe(0);
    for (const args of [['run', '--resources', 'logs', '--duckdb', path], ['show', '--duckdb', path]]) {
      const child = spawnCli(args, { env: box.env, cwd: tmp.dir });
      // Killed if it hangs as before, so that no process is left behind.
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      clearTimeout(timer);
      expect([args[0], code]).toEqual([args[0], 1]);
      expect(errorLines(stderr)).toEqual([expect.stringMatching(/pipe\.duckdb is not a regular file \(a device, a FIFO or a socket\): (point|pass) /)]);
    }
  }, 60_000);

  it('a file a run creates is in DuckDB storage version v1.0.0, which DuckDB 1.0 and later read (QUERYING.md#other-duckdb-versions)', async () => {
    // A guard for updates of @duckdb/node-api: the tag names the oldest DuckDB the docs promise the file to.
    expect(await query(good, `SELECT tags FROM duckdb_databases() WHERE database_name = 'good'`)).toEqual([{ tags: [{ key: 'storage_version', value: 'v1.0.0+' }] }]);
    expect(readFileSync(good).readBigUInt64LE(12)).toBe(64n);
  });

  it('a damaged DuckDB file (cut short) or one of another DuckDB storage version: one line saying which, with the fix', async () => {
    const cases: Array<[string, (path: string) => void, RegExp, RegExp]> = [
      // Before: "… IO Error: Could not read enough bytes from file …: see the DuckDB message; the database is unchanged"
      ['cut.duckdb', (path) => (copyFileSync(good, path), truncateSync(path, Math.floor(readFileSync(good).length / 2))),
        /DuckDB file \S+cut\.duckdb is damaged \(IO Error: Could not read enough bytes/, /: restore it from a backup, or load into a new file/],
      // Before: "… was written by a newer DuckDB than the one of this snapengage-pipeline can read (IO Error: …
      // version number 200, but we can only read versions between 64 and 68.)": neither DuckDB release named, and
      // no fix when no snapengage-pipeline with a newer DuckDB exists yet.
      ['newer.duckdb', (path) => withStorageVersion(good, path, 200),
        new RegExp(`newer\\.duckdb was written by a DuckDB newer than ${duckdbVersion().replaceAll('.', '\\.')}, the one of this snapengage-pipeline \\(the file's storage format is 200; ${duckdbVersion().replaceAll('.', '\\.')} reads 64 to \\d+\\)`),
        /: upgrade snapengage-pipeline \(npm install snapengage-pipeline@latest\) if its DuckDB reads the file, or copy it with the DuckDB that wrote it into storage version v1\.0\.0.*: ATTACH '[^']+newer\.duckdb' AS src \(READ_ONLY\); ATTACH '[^']+newer-v1\.duckdb' AS dst \(STORAGE_VERSION 'v1\.0\.0'\); COPY FROM DATABASE src TO dst;$/m],
      ['older.duckdb', (path) => withStorageVersion(good, path, 39),
        /older\.duckdb was written by an older DuckDB than the one of this snapengage-pipeline can read/, /: open it with the DuckDB that wrote it and EXPORT DATABASE/],
    ];
    for (const [name, make, what, fix] of cases) {
      const path = join(tmp.dir, name);
      make(path);
      const bytes = readFileSync(path);
      const requests = (await stats(box)).requests;
      const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      const show = await runCli(['show', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      for (const [command, result] of [['run', run], ['show', show]] as const) {
        expect([command, result.code]).toEqual([command, 1]);
        expect(errorLines(result.stderr)).toEqual([expect.stringMatching(what)]);
        expect(result.stderr).toMatch(fix);
        expect(result.stderr).not.toContain('see the DuckDB message');
      }
      expect((await stats(box)).requests).toBe(requests);
      expect(readFileSync(path).equals(bytes)).toBe(true);
    }
    // The copy the hint gives, run as written by a DuckDB that reads the file (this one, on a file it reads in place
    // of the newer one): the loader runs on in the copy, its state kept (no page read again from the start).
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'newer.duckdb')], { env: box.env, cwd: tmp.dir });
    const sql = /: (ATTACH .*COPY FROM DATABASE src TO dst;)$/m.exec(run.stderr)?.[1] ?? '';
    copyFileSync(good, join(tmp.dir, 'newer.duckdb'));
    await query(':memory:', sql, 'READ_WRITE');
    const copy = join(tmp.dir, 'newer-v1.duckdb');
    expect(await query(copy, `SELECT tags FROM duckdb_databases() WHERE database_name = 'newer-v1'`)).toEqual([{ tags: [{ key: 'storage_version', value: 'v1.0.0+' }] }]);
    const state = 'SELECT * FROM snapengage_data._pipeline_state ORDER BY ALL';
    expect(await query(copy, state)).toEqual(await query(good, state));
    const rerun = await runCli(['run', '--resources', 'logs', '--duckdb', copy], { env: box.env, cwd: tmp.dir });
    expect(rerun.code).toBe(0);
    expect(await query(copy, 'SELECT count(*)::INT AS n FROM snapengage_data.logs')).toEqual(await query(good, 'SELECT count(*)::INT AS n FROM snapengage_data.logs'));
    expect(await query(copy, `SELECT count(*)::INT AS n FROM snapengage_data._pipeline_loads WHERE status = 'loaded'`)).toEqual([{ n: 2 }]);
  });

  it('a block damaged inside the file (read with the state) is named as damage, not as a file locked by another process', async () => {
    const path = join(tmp.dir, 'damaged.duckdb');
    copyFileSync(good, path);
    // A state too big to share its block, so that the damage hits only what is read after the file opened.
    const pad = randomBytes(150_000).toString('hex');
    await query(path, `UPDATE snapengage_data._pipeline_state SET state = json_object('windows', json(CAST(state AS VARCHAR))->'windows', 'pad', '${pad}')`, 'READ_WRITE');
    const bytes = readFileSync(path);
    const at = bytes.indexOf(Buffer.from(pad.slice(100_000, 100_040)));
    expect(at).toBeGreaterThan(0);
    bytes.fill(0x41, at, at + 64);
    writeFileSync(path, bytes);

    // Before: "DuckDB file … is locked by another process: close it (another pipeline run, a DuckDB shell) and retry"
    // ("block" in DuckDB's message matched /lock/), and show: "unexpected error: IO Error: Corrupt database file: …".
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/DuckDB file \S+damaged\.duckdb is damaged \(IO Error: Corrupt database file: .*\): restore it from a backup/)]);
    expect(run.stderr).not.toMatch(/locked/);
    const show = await runCli(['show', '--duckdb', path], { env: box.env, cwd: tmp.dir });
    expect(show.code).toBe(1);
    expect(errorLines(show.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: reading dataset snapengage_data: DuckDB file \S+damaged\.duckdb is damaged \(IO Error: Corrupt database file: .*\): restore it from a backup/)]);
  });

  it('a directory is named as a directory, with a file path to pass instead', async () => {
    const path = join(tmp.dir, 'data');
    mkdirSync(path);
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    // Before: "cannot write …/data (Is a directory): choose a destination path in a writable directory", of a writable one.
    expect(errorLines(run.stderr)).toEqual([
      `snapengage-pipeline: opening the destination: ${path} is a directory, not a DuckDB file: pass a file path, such as ${join(path, 'snapengage.duckdb')} (--duckdb or destination.path)`,
    ]);
    // Named with a trailing slash, an existing directory is still said to be one (mutation file-kind.ts K1: every
    // trailing slash refused as 'ends with a slash', survived).
    const slashed = await runCli(['run', '--resources', 'logs', '--duckdb', `${path}/`], { env: box.env, cwd: tmp.dir });
    expect(slashed.code).toBe(1);
    expect(errorLines(slashed.stderr)).toEqual([expect.stringMatching(/: opening the destination: \S+ is a directory, not a DuckDB file: /)]);
  });

  it('a path ending with a slash is refused as a directory, before any request: it made a file of that name', async () => {
    const given = `${join(tmp.dir, 'loads')}/`;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', given], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(errorLines(run.stderr)).toEqual([
      `snapengage-pipeline: opening the destination: ${given} ends with a slash, as a directory does, not a DuckDB file: pass a file path, such as ${join(tmp.dir, 'loads', 'snapengage.duckdb')} (--duckdb or destination.path)`,
    ]);
    expect(existsSync(join(tmp.dir, 'loads'))).toBe(false);
  });

  it('a path starting with ~ (not expanded: quoted, --duckdb=~/…, a config) is refused before any request, with the full path to write', async () => {
    const before = (await stats(box)).requests;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb=~/loads/x.duckdb'], { env: { ...box.env, HOME: tmp.dir }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    // Before: exit 0, the data in a new directory named "~" of the working directory.
    expect(errorLines(run.stderr)).toEqual([
      `snapengage-pipeline: destination.path (--duckdb) "~/loads/x.duckdb" would name "~" in ${tmp.dir}: ~ is expanded only by a shell (not in a config, a quoted word or --duckdb=~/…): write the full path, such as ${join(tmp.dir, 'loads', 'x.duckdb')}`,
    ]);
    expect(existsSync(join(tmp.dir, '~'))).toBe(false);
    expect((await stats(box)).requests).toBe(before);
    // show: it said "No DuckDB file at ~/x.duckdb: load it first", of a file that may well be in HOME.
    const show = await runCli(['show', '--duckdb', '~/x.duckdb'], { env: { HOME: tmp.dir }, cwd: tmp.dir });
    expect(show.code).toBe(1);
    expect(errorLines(show.stderr)).toEqual([
      `snapengage-pipeline: No DuckDB file at ~/x.duckdb: ~ is expanded only by a shell (not in a config, a quoted word or --duckdb=~/…): write the full path, such as ${join(tmp.dir, 'x.duckdb')}`,
    ]);
  });

  it('a directory whose path has a "?" is refused before any request: DuckDB puts its log before the "?"', async () => {
    const dir = join(tmp.dir, 'what?now');
    mkdirSync(dir);
    const path = join(dir, 'q.duckdb');
    const before = (await stats(box)).requests;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    // Before: every page extracted, then at the commit "Cannot open file "…/what.wal?now/q.duckdb": No such file or directory".
    expect(errorLines(run.stderr)).toEqual([
      `snapengage-pipeline: destination.path (--duckdb) ${path} is in a directory whose path has a "?": DuckDB would write its log to ${join(tmp.dir, 'what.wal?now', 'q.duckdb')}, which does not exist, and every commit would fail; keep the DuckDB file in a directory without "?"`,
    ]);
    expect((await stats(box)).requests).toBe(before);
    // A "?" in the file's own name is fine: the log goes beside it.
    const named = await runCli(['run', '--resources', 'logs', '--duckdb', 'what?.duckdb'], { env: box.env, cwd: tmp.dir });
    expect(errorLines(named.stderr)).toEqual([]);
    expect(named.code).toBe(0);
  });

  it('a file name too long once the loader adds .staging: one line saying so, not a bug to report', async () => {
    // 250 bytes: DuckDB could make the file, but not "<name>.staging" (258 > 255).
    const path = join(tmp.dir, `${'n'.repeat(243)}.duckdb`);
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    // Before: "ENAMETOOLONG: name too long, stat '…': the database is unchanged; if a map step of your config made these
    // records, check what it returns, else please report this with the message".
    expect(errorLines(run.stderr)).toEqual([
      `snapengage-pipeline: opening the destination: the path ${path} is too long for the file system (ENAMETOOLONG): choose a shorter destination path (--duckdb or destination.path): the loader also writes the file's name with .staging/… and .wal added beside it, so keep the name well under 255 bytes and the whole path well under the system's limit (4096 bytes on Linux, 1024 on macOS)`,
    ]);
    expect(existsSync(path)).toBe(false);
  });

  it.skipIf(!canDropPrivileges)('a read-only file in a writable directory: the hint says to check its permissions, not only to go elsewhere', async () => {
    const dir = join(tmp.dir, 'shared');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    chmodSync(tmp.dir, 0o755);
    const path = join(dir, 'read-only.duckdb');
    copyFileSync(good, path);
    chmodSync(path, 0o444);
    const bytes = readFileSync(path);
    const run = await runCliUnprivileged(['run', '--resources', 'logs', '--duckdb', path], box.env, dir);
    expect(run.code).toBe(1);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(
      new RegExp(`^snapengage-pipeline: opening the destination: cannot write \\S+read-only\\.duckdb \\(.*Permission denied\\): check that this user may write \\S+read-only\\.duckdb and its directory \\(the loader also writes read-only\\.duckdb\\.wal and read-only\\.duckdb\\.staging beside it\\), or choose`),
    )]);
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect(existsSync(`${path}.staging`)).toBe(false);
  });

  it('a symbolic link made before the first run (to a directory not made yet): the run creates the file it points at and keeps the link', async () => {
    const target = join(tmp.dir, 'big-disk', 'loads', 'linked.duckdb');
    const link = join(tmp.dir, 'linked.duckdb');
    symlinkSync(target, link);
    // Before: the run extracted, DuckDB could not create the file in the missing directory ("Cannot open file …: No
    // such file or directory: see the DuckDB message"), and the failed run removed the user's link as a file it made.
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', link], { env: box.env, cwd: tmp.dir });
    expect(errorLines(run.stderr)).toEqual([]);
    expect(run.code).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    const [row] = await query(target, 'SELECT count(*) AS n FROM snapengage_data.logs');
    expect(Number(row?.n)).toBe((await truth(box)).length);
  });

  it(':memory: from the CLI: the run says it keeps nothing; show says it has no file to read', async () => {
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', ':memory:'], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    // Before: only the load info, "LOADED" into a database that was gone when the command exited.
    expect(errorLines(run.stderr)).toEqual([
      'snapengage-pipeline: note: --duckdb :memory: keeps nothing: the data and the incremental state are gone when this command exits (a dry run); pass a file path to keep them',
    ]);
    expect(run.stdout).toContain('is LOADED');
    const show = await runCli(['show', '--duckdb', ':memory:'], { env: box.env, cwd: tmp.dir });
    expect(show.code).toBe(1);
    // Before: "No DuckDB file at :memory:: load it first (…)", which no run could do.
    expect(errorLines(show.stderr)).toEqual([
      'snapengage-pipeline: show reads a DuckDB file: :memory: is a database only inside the process that loaded it, gone once that exits: pass --duckdb <file>',
    ]);
  });
});

describe('a signal during the commit', () => {
  it('is answered at once: the commit finishes (exit 0, the load info), and stderr says why it did not stop', async () => {
    const box = await sandbox({ cases: 4000, widgets: 1, days: 3 });
    const tmp = tempDir();
    try {
      const db = join(tmp.dir, 'signal.duckdb');
      // Without the default 10 requests/s: the 4,000 cases are there for a long commit, and extracting them needs no wait.
      writeFileSync(join(tmp.dir, 'logs-fast.mjs'), 'export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n');
      const child = spawnCli(['run', '--config', 'logs-fast.mjs', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
      let stderr = '';
      let stdout = '';
      let signalled = false;
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // The commit's first step: from here on the run finishes its commit whatever comes.
        if (!signalled && /^load logs: /m.test(stderr)) {
          signalled = true;
          child.kill('SIGINT');
        }
      });
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(signalled).toBe(true);
      expect(code).toBe(0);
      // Before: nothing said until the load info, so Ctrl-C looked ignored (and a second one killed the commit).
      expect(stderr).toContain('snapengage-pipeline: SIGINT during the commit: finishing it first, so that no resource is left half loaded\n');
      expect(stdout).toContain('is LOADED');
      const [row] = await query(db, 'SELECT count(*) AS n FROM snapengage_data.logs');
      expect(Number(row?.n)).toBe((await truth(box)).length);
    } finally {
      await box.close();
      tmp.cleanup();
    }
  }, 60_000);
});
