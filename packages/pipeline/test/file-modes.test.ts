// Files that hold customer data (chat transcripts) are the user's alone when the loader creates them: the staging
// directory 0700 and its NDJSON files 0600, the DuckDB file 0600 on its first creation. Under the usual umask 022
// they were world-readable (0755/0644). A file or directory the user already has keeps its mode.
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { removeDeadTempStaging } from '../src/destination/private-files.js';
import { acquireRunLock } from '../src/destination/run-lock.js';
import type { DuckDBResourceWriter } from '../src/destination/resource-writer.js';
import { runPipeline } from '../src/index.js';
import { runCli, sandbox, tempDir, thingsResource } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe.skipIf(process.platform === 'win32')('modes of the files the loader creates', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;

  beforeAll(async () => {
    // The common default, which made every file world-readable (vitest's pool is forks: umask is the process's own).
    umask = process.umask(0o022);
    box = await sandbox({ cases: 60, widgets: 1, days: 3 });
    tmp = tempDir();
  });
  afterAll(async () => {
    process.umask(umask);
    await box?.close();
    tmp?.cleanup();
  });

  it('a first run over the sandbox creates the DuckDB file 0600; a rerun keeps the mode the user gave it', async () => {
    const path = join(tmp.dir, 'new', 'chats.duckdb');
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(mode(path).toString(8)).toBe('600');
    // The directory it made for the file is not the loader's to close: the user may share it.
    expect(mode(join(tmp.dir, 'new')).toString(8)).toBe('755');
    chmodSync(path, 0o640);
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(mode(path).toString(8)).toBe('640');
  });

  it('stages rows in a 0700 directory, in 0600 files, beside the file and in the temp directory of an in-memory run', async () => {
    for (const path of [join(tmp.dir, 'staged.duckdb'), ':memory:']) {
      const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
      try {
        const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 }) as DuckDBResourceWriter;
        await writer.write([{ id: 'a', count: 1, items: [{ k: 'x' }] }]);
        // Staged files are written out whole before the commit reads them.
        await writer.checkBeforeCommit();
        const dir = writer.stagingDir;
        const files = readdirSync(dir);
        expect(files.length).toBeGreaterThan(0);
        expect({ dir: mode(dir).toString(8), files: files.map((f) => mode(join(dir, f)).toString(8)) }).toEqual({ dir: '700', files: files.map(() => '600') });
        // An in-memory run's, in the temp directory, was made with the umask's mode (0755) as the writers' parent.
        expect(mode(path === ':memory:' ? dirname(dir) : `${path}.staging`).toString(8)).toBe('700');
        await writer.commit(null);
      } finally {
        await dest.close();
      }
    }
  });

  it('the run lock beside the staged rows is 0600 as well', async () => {
    // It was made with the umask's mode (0644), where the staging directory's files are promised 0600.
    const dbPath = join(tmp.dir, 'locked.duckdb');
    const lock = await acquireRunLock(`${dbPath}.staging`, dbPath, 'data');
    try {
      expect(readdirSync(`${dbPath}.staging`)).toEqual(['run.lock']);
      expect(mode(join(`${dbPath}.staging`, 'run.lock')).toString(8)).toBe('600');
    } finally {
      await lock.release();
    }
  });

  it('an in-memory run that exits without closing (an uncaught error) leaves no staged rows in the temp directory', async () => {
    // No later run looks in the temp directory, so what an exit there left stayed for good. The config polls on every
    // turn of the event loop and throws (uncaught: the CLI exits at once) once a writer has its directory there.
    const temp = tempDir('sepipe-temp-');
    // Pages enough that the run goes on for many turns after its first rows are staged.
    const pages = await sandbox({ cases: 600, widgets: 1, days: 3 });
    try {
      writeFileSync(join(tmp.dir, 'crash-staged.mjs'), `import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// A directory being removed meanwhile (the run's close, on libuv's threads) counts as not there.
const entries = (dir) => { try { return readdirSync(dir); } catch { return []; } };
const staged = () => entries(tmpdir()).some((d) => entries(join(tmpdir(), d)).length > 0);
// Unreferenced: a run that ended first exits 0 as it would, and the test says so.
const poll = () => { if (staged()) throw new Error('failed with rows staged'); setImmediate(poll).unref(); };
setImmediate(poll).unref();
export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };
`);
      const run = await runCli(['run', '--config', 'crash-staged.mjs', '--duckdb', ':memory:'], { env: { ...pages.env, TMPDIR: temp.dir } as Record<string, string>, cwd: tmp.dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('unexpected error: failed with rows staged');
      expect(readdirSync(temp.dir)).toEqual([]);
    } finally {
      await pages.close();
      temp.cleanup();
    }
  });

  it('an in-memory run removes the temp staging a SIGKILLed in-memory run left, and nothing else', async () => {
    // A SIGKILL runs no exit handler; before, its staged rows stayed in the temp directory for good.
    const temp = tempDir('sepipe-temp-');
    try {
      const dead = join(temp.dir, 'snapengage-staging-4194305-0badc0de'); // above Linux's largest pid: not running
      const live = join(temp.dir, `snapengage-staging-${process.pid}-0badc0de`); // this test's process: running
      const other = join(temp.dir, 'snapengage-staging-4194305-notours'); // not a name the loader makes
      for (const dir of [dead, live, other]) {
        mkdirSync(join(dir, 'logs-w1'), { recursive: true });
        writeFileSync(join(dir, 'logs-w1', '0.ndjson'), '{"visitor_email":"a@example.com"}\n');
      }
      const run = await runCli(['run', '--duckdb', ':memory:', '--resources', 'widgets'], { env: { ...box.env, TMPDIR: temp.dir } as Record<string, string>, cwd: tmp.dir });
      expect(run.code).toBe(0);
      expect(readdirSync(temp.dir).sort()).toEqual([basename(other), basename(live)].sort());
    } finally {
      temp.cleanup();
    }
  });

  it("removeDeadTempStaging removes only directories named exactly as the loader names them, not a file, a link or another user's", async () => {
    // Mutations private-files.ts T2 (TEMP_STAGING_NAME without its '$'), T3 (any entry, not only a directory) and T4
    // (the owner's uid not compared), each survived the run test above.
    const temp = tempDir('sepipe-dead-');
    try {
      const name = (hex: string) => join(temp.dir, `snapengage-staging-4194305-${hex}`); // above Linux's largest pid
      const dead = name('0badc0de');
      const longer = `${name('0badc0de')}-mine`;
      const file = name('0badc0df');
      const link = name('0badc0e0');
      const target = join(temp.dir, 'linked');
      for (const dir of [dead, longer, target]) mkdirSync(join(dir, 'logs-w1'), { recursive: true });
      writeFileSync(file, 'a user file\n');
      writeFileSync(join(target, 'logs-w1', '0.ndjson'), '{}\n');
      symlinkSync(target, link);
      const kept = [longer, file, link, target];
      // Root can give a directory to another user; only then is another user's directory in the temp directory here.
      if (process.getuid?.() === 0) {
        const theirs = name('0badc0e1');
        mkdirSync(theirs);
        chownSync(theirs, 4242, 4242);
        kept.push(theirs);
      }
      await removeDeadTempStaging(temp.dir);
      expect(readdirSync(temp.dir).sort()).toEqual(kept.map((p) => basename(p)).sort());
      expect(readdirSync(join(target, 'logs-w1'))).toEqual(['0.ndjson']);
      expect(existsSync(join(longer, 'logs-w1'))).toBe(true);
    } finally {
      temp.cleanup();
    }
  });

  it('leaves a staging directory the user made (--staging-dir, an older version) as it is', async () => {
    const stagingDir = join(tmp.dir, 'my-staging');
    mkdirSync(stagingDir, { mode: 0o755 });
    const dest = await DuckDBDestination.open({ path: join(tmp.dir, 'own-staging.duckdb'), dataset: 'data', pipelineName: 'p', stagingDir });
    try {
      expect(mode(stagingDir).toString(8)).toBe('755');
    } finally {
      await dest.close();
    }
  });
});
