// The BUILT command as a scheduler starts it (`npm run build` first): cron's bare environment (no HOME, PATH
// only, LANG=C), a container whose temporary directory cannot be written, no TTY. Each spawn gets exactly the
// variables listed, as `env -i` would.
import { spawn, spawnSync } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { PACKAGE_DIR, query, sandbox, stats, tempDir, type CliResult } from './helpers.js';
import { ensureBuilt } from '../../create-snapengage-pipeline/test/helpers.js';

const BIN = join(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');

function runBuilt(args: string[], options: { env: Record<string, string>; cwd: string }): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('scheduled runs, built CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  /**
   * Spawns the built CLI's `run` in a new project whose ES module config awaits `awaitMs` at its top level, and sends
   * SIGTERM once the config has started loading (it writes a file first), so the moment is exact.
   */
  async function signalWhileConfigLoads(name: string, awaitMs: number) {
    const project = join(tmp.dir, name);
    mkdirSync(join(project, 'src'), { recursive: true });
    const loading = join(project, 'loading');
    writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n'); // an ES module config: top-level await
    writeFileSync(join(project, 'src', 'pipeline.ts'), [
      "import { writeFileSync } from 'node:fs';",
      `writeFileSync(${JSON.stringify(loading)}, '');`,
      `await new Promise((resolve) => setTimeout(resolve, ${awaitMs}));`,
      'export default { resources: { users: true } };',
      '',
    ].join('\n'));
    const requestsBefore = (await stats(box)).requests;
    const child = spawn(process.execPath, [BIN, 'run'], {
      cwd: project, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    for (let i = 0; i < 200 && !existsSync(loading); i++) await sleep(50); // bounded: 10 s
    expect(existsSync(loading)).toBe(true);
    child.kill('SIGTERM');
    return { project, closed, requestsBefore, stderrLines: () => stderr.split('\n').filter((l) => l.trim() !== '') };
  }

  beforeAll(async () => {
    // The built CLI, rebuilt when its sources (or the client's) are newer: a stale dist/ tested the code before a change.
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
    box = await sandbox({ cases: 100, widgets: 1, days: 5 });
    tmp = tempDir('sepipe-scheduled-');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a TypeScript config loads where the temporary directory cannot be written (read-only root filesystem)', async () => {
    // tsx cached its transforms in $TMPDIR/tsx-<uid>, and failed the import (so the whole run) when it could not
    // create it. A TMPDIR under a regular file cannot be created by anyone, root included, as /tmp of a container
    // with a read-only root filesystem cannot.
    const project = join(tmp.dir, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'src', 'pipeline.ts'), [
      "const destination: { type: 'duckdb'; path: string; dataset: string } = { type: 'duckdb', path: 'data/snapengage.duckdb', dataset: 'snapengage_data' };",
      'export default { resources: { users: true }, destination };',
      '',
    ].join('\n'));
    const notADirectory = join(tmp.dir, 'tmp-is-a-file');
    writeFileSync(notADirectory, '');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', TMPDIR: join(notADirectory, 'tmp'), ...box.env };

    const run = await runBuilt(['run'], { env, cwd: project });
    expect(run.stderr).not.toMatch(/Cannot load pipeline config/);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is LOADED');
    expect(await query(join(project, 'data', 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);

    const show = await runBuilt(['show'], { env, cwd: project });
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('users  1 row\n');
  }, 60_000);

  it('--config of a project, started from another directory (cron starts in HOME), says where .env and the file are read from', async () => {
    // It said "there is no ~/.env: create it", and with the variables in the crontab loaded everything again into a
    // new ~/snapengage.duckdb, exit 0, not a word of the project beside the config.
    // A space in it: the `cd` the messages suggest must stay one word when pasted (it was split there).
    const project = join(tmp.dir, "elsewhere project's");
    const home = join(tmp.dir, 'elsewhere-home');
    mkdirSync(join(project, 'src'), { recursive: true });
    mkdirSync(home);
    writeFileSync(join(project, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(project, 'src', 'pipeline.ts'), 'export default { resources: { widgets: true } };\n');
    writeFileSync(join(project, '.env'), Object.entries(box.env).map(([k, v]) => `${k}=${v}`).join('\n'));
    const config = join(project, 'src', 'pipeline.ts');
    const bare = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

    const missing = await runBuilt(['run', '--config', config], { env: bare, cwd: home });
    expect(missing.code).toBe(1);
    const lines = missing.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`there is no ${join(home, '.env')}: .env is read from the working directory, not from beside --config; ${join(project, '.env')} is not read: run from ${project} (cd '${project.replace("'", "'\\''")}' && …)`);

    // show, as run: not only "No DuckDB file at snapengage.duckdb", which named neither the project nor the fix.
    const show = await runBuilt(['show', '--config', config], { env: bare, cwd: home });
    expect(show.code).toBe(1);
    expect(show.stderr).toBe(
      `snapengage-pipeline: No DuckDB file at snapengage.duckdb: --config names a file of the project ${project}, but relative paths are read from the working directory ${home}: ` +
        `destination.path snapengage.duckdb is no file there (${join(home, 'snapengage.duckdb')}); to show the project's file, run from ${project} (cd '${project.replace("'", "'\\''")}' && …) or make destination.path absolute\n`,
    );

    const run = await runBuilt(['run', '--config', config], { env: { ...bare, ...box.env }, cwd: home });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`note: --config names a file of the project ${project}, but relative paths are read from the working directory ${home}: destination.path snapengage.duckdb is a new file ${join(home, 'snapengage.duckdb')}, and ${join(project, '.env')} is not read;`);
    // Said of a new file only: a setup used so on purpose, run after run, gets no note each time.
    const again = await runBuilt(['run', '--config', config], { env: { ...bare, ...box.env }, cwd: home });
    expect(again.code).toBe(0);
    expect(again.stderr).not.toContain('note: --config');
    // From the project itself (npm start): nothing to say.
    const fromProject = await runBuilt(['run', '--config', 'src/pipeline.ts'], { env: bare, cwd: project });
    expect(fromProject.code).toBe(0);
    expect(fromProject.stderr).not.toContain('note: --config');
    expect(existsSync(join(project, 'snapengage.duckdb'))).toBe(true);
  }, 60_000);

  it('a low open-file limit (ulimit -n) fails in one line that names it, whichever descriptor runs out first', async () => {
    // Below a run's peak it said "please report this" (staging) or that the run lock was "removed or taken by another
    // run" (alone on the file). The peak used to be left to timing (concurrency 8, answers at loopback speed: 40–51
    // descriptors), so on a loaded machine every limit tried loaded and the test failed. Here the sandbox holds every
    // answer's headers back (latencyMs) while 40 requests are in flight: 40 sockets at once besides the ~25 descriptors
    // of the process, over every limit below whatever the machine's speed; loading the CLI's modules takes ~37 (below
    // that Node fails before the CLI runs). A short hold makes a staged file (or DuckDB's) the one to run out, a hold
    // longer than the client's connect retries (~5 s) a socket (`connect EMFILE`, which said "cannot reach": check
    // SNAPENGAGE_BASE_URL).
    // At 52 sockets run out first (connect EMFILE) and their retries may succeed once answers free descriptors, before
    // a staged file finds none: then the run loads, rightly. Node 20 lost that race in every run tried here, Node 24
    // mostly wins it. Such a run counts only if it was short of descriptors (its retries say so) and loaded everything.
    const many = await sandbox({ cases: 600, widgets: 60, days: 30 });
    try {
      const dir = join(tmp.dir, 'open-files');
      mkdirSync(dir);
      writeFileSync(join(dir, 'pipeline.mjs'), 'export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, concurrency: 40 };\n');
      // A staged file (or DuckDB's) running out: tried at 44, then lower while a run rides it out (under load, Node 24
      // has won the race at 44 too: CI, 2026-11-28); one of them must fail, with the line. Bounded: three limits, all
      // above the ~37 the CLI's modules need.
      // Or DuckDB's WAL as the destination opens (seen under Node 24 in CI): the same one line, from another descriptor.
      const staging = /staging logs: too many open files|Too many open files while using|opening the destination: too many open files \(IO Error: Cannot open file/;
      const cases = [
        { limit: 44, faults: 'latencyMs=300', mayRideOut: true, runsOut: staging, stagingTry: true },
        { limit: 42, faults: 'latencyMs=300', mayRideOut: true, runsOut: staging, stagingTry: true },
        { limit: 40, faults: 'latencyMs=300', mayRideOut: false, runsOut: staging, stagingTry: true },
        { limit: 52, faults: 'latencyMs=300', mayRideOut: true, runsOut: staging, stagingTry: false },
        { limit: 48, faults: 'latencyMs=15000', mayRideOut: false, runsOut: /too many open files: no descriptor was left for a connection to http:\/\/127\.0\.0\.1:\d+ after 4 retries \(fetch failed ← connect EMFILE/, stagingTry: false },
      ];
      let stagingRanOut = false;
      for (const { limit, faults, mayRideOut, runsOut, stagingTry } of cases) {
        if (stagingTry && stagingRanOut) continue;
        await fetch(`${many.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults }) });
        const db = join(dir, `limit-${limit}.duckdb`);
        const script = `ulimit -n ${limit} && exec "$0" "$@"`;
        const child = spawn('/bin/sh', ['-c', script, process.execPath, BIN, 'run', '--config', 'pipeline.mjs', '--duckdb', db, '--json'], {
          cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...many.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL',
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
        const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
        const lines = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress') && !l.startsWith('  '));
        const document = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as { status?: string; rowCounts?: Record<string, number>; retries?: { reasons?: Record<string, number> } };
        if (code === 0 && mayRideOut) {
          expect(lines, stderr).toEqual([]);
          expect(document).toMatchObject({ status: 'LOADED', rowCounts: { logs: 600 } });
          expect(document.retries?.reasons?.network, `ulimit -n ${limit} loaded without running short of descriptors`).toBeGreaterThan(0);
          continue;
        }
        expect(code, `ulimit -n ${limit}, ${faults}: ${stderr}`).toBe(1);
        expect(document.status).toBe('FAILED');
        expect(lines, stderr).toHaveLength(1);
        expect(lines[0]).toMatch(runsOut);
        expect(lines[0]).toContain('raise the open-file limit (ulimit -n 1024');
        expect(lines[0]).not.toMatch(/another run|please report|cannot reach|SNAPENGAGE_BASE_URL/);
        if (stagingTry) stagingRanOut = true;
      }
      expect(stagingRanOut, 'no limit tried made a staged file run out of descriptors').toBe(true);
    } finally {
      await many.close();
    }
  }, 120_000);

  it('the run after one that was killed (a container memory limit\'s SIGKILL) says so', async () => {
    // A kill leaves no line of the loader's: exit 137 and the shell's `Killed`. Its run lock stays, of a process gone.
    const dir = join(tmp.dir, 'after-kill');
    mkdirSync(join(dir, 'snapengage.duckdb.staging'), { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const startedAt = '2026-11-27T06:00:00.000Z';
    writeFileSync(join(dir, 'snapengage.duckdb.staging', 'run.lock'), JSON.stringify({ pid: gone, host: hostname(), startedAt, token: 'killed-run' }));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env };

    const run = await runBuilt(['run', '--resources', 'widgets'], { env, cwd: dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`The previous run on this file did not finish (PID ${gone} on ${hostname()}, started ${startedAt}): it was killed or crashed (exit 137 is a SIGKILL`);
    const json = await runBuilt(['run', '--resources', 'widgets', '--json'], { env, cwd: dir });
    expect(JSON.parse(json.stdout.trim().split('\n').at(-1)!).interruptedRun).toBeUndefined(); // said once, by the run that found it
  }, 60_000);

  it('a run after a killed one that itself fails still says the previous one did not finish (stderr note, FAILED document)', async () => {
    // The failed run releases the lock: had it not said so, the killed run would never be reported.
    const dir = join(tmp.dir, 'after-kill-failed');
    mkdirSync(join(dir, 'snapengage.duckdb.staging'), { recursive: true });
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    const startedAt = '2026-11-27T07:00:00.000Z';
    writeFileSync(join(dir, 'snapengage.duckdb.staging', 'run.lock'), JSON.stringify({ pid: gone, host: hostname(), startedAt, token: 'killed-run', refresh: ['widgets'] }));
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env, SNAPENGAGE_PROVISIONING_KEY: 'wrong-key-5678' };

    const run = await runBuilt(['run', '--resources', 'widgets', '--json'], { env, cwd: dir });
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress'));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      `snapengage-pipeline: note: The previous run on this file did not finish (PID ${gone} on ${hostname()}, started ${startedAt}): it was killed or crashed ` +
        "(exit 137 is a SIGKILL, such as a container memory limit's); what it had not committed was not kept, and is read again by the next run of each resource; " +
        'it was a refresh of widgets, which this run does not finish: run with --refresh --resources widgets (runPipeline\'s refresh: true)',
    );
    expect(lines[1]).toMatch(/^snapengage-pipeline: Extracting widgets failed: .*HTTP 401/);
    const document = JSON.parse(run.stdout.trim());
    expect(document).toMatchObject({ status: 'FAILED', interruptedRun: { pid: gone, host: hostname(), startedAt, refresh: ['widgets'] } });
    expect(run.stdout + run.stderr).not.toContain('wrong-key-5678');
  }, 60_000);

  it('a SIGTERM while the config loads stops the run before it starts: one line, exit 143, nothing written', async () => {
    // Before, the handler came only once the config was loaded (about a second for a TypeScript one). Where Node is
    // PID 1 (a container without an init) the kernel drops a signal that has no handler, so `docker stop` then was
    // lost: the run went on and loaded, to be killed 10 s later. Elsewhere the signal killed the process unlogged.
    // The config waits until the test has sent the signal, so that the moment is exact.
    const run = await signalWhileConfigLoads('slow-config', 1500);
    expect(await run.closed).toEqual({ code: 143, signal: null });
    expect(run.stderrLines()).toEqual(['snapengage-pipeline: Run cancelled before it started (SIGTERM); nothing of this run was committed']);
    expect(existsSync(join(run.project, 'snapengage.duckdb'))).toBe(false);
    expect((await stats(box)).requests).toBe(run.requestsBefore);
  }, 40_000);

  it('a SIGTERM stops a run whose config never finishes loading (a top-level await on a stalled request)', async () => {
    // The signal aborted the run, which looked at it only once the config had loaded: `timeout 60 snapengage-pipeline
    // run` (one SIGTERM) waited for the config, for ever when it never settled.
    // Before, the child still waited for the config when the spawn's timeout killed it (30 s, SIGKILL).
    const run = await signalWhileConfigLoads('stalled-config', 120_000);
    expect(await run.closed).toEqual({ code: 143, signal: null });
    expect(run.stderrLines()).toEqual(['snapengage-pipeline: Run cancelled before it started (SIGTERM); nothing of this run was committed']);
    expect(existsSync(join(run.project, 'snapengage.duckdb'))).toBe(false);
  }, 40_000);

  it('a working directory removed after the shell entered it (a deploy replaced it) is named as such, run and show alike', async () => {
    // Before: "unexpected error: ENOENT: no such file or directory, uv_cwd" (Node's process.cwd()), which named
    // neither the directory nor what to do. spawn() cannot start a child in a missing directory: the shell removes it.
    const dir = join(tmp.dir, 'removed-cwd');
    const file = join(tmp.dir, 'removed-cwd.duckdb');
    mkdirSync(dir);
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env };
    const script = 'cd "$1" && rmdir "$1" && shift && exec "$@"';
    const message = 'The working directory no longer exists (removed or replaced after this process was started in it, such as by a deploy): start the command from the project again (cd into it); .env, src/pipeline.ts and relative paths are read from there';
    for (const args of [['run', '--resources', 'widgets', '--json', '--duckdb', file], ['show', '--duckdb', file]]) {
      const child = spawn('/bin/sh', ['-c', script, 'sh', dir, process.execPath, BIN, ...args], { cwd: tmp.dir, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(existsSync(dir)).toBe(false); // the shell did remove it
      expect(stderr).toBe(`snapengage-pipeline: ${message}\n`);
      expect(code).toBe(1);
      if (args[0] === 'run') expect(JSON.parse(stdout)).toMatchObject({ status: 'FAILED', loadId: null, error: { name: 'ConfigError', message, exitCode: 1 } });
      mkdirSync(dir);
    }
    expect(existsSync(file)).toBe(false);
  }, 60_000);

  it('a .env that is a symbolic link to nothing (a secret not mounted) is named, not read as no .env', async () => {
    // Before: the link was read as no file; the run said "there is no …/.env: create it" of the .env that was there,
    // and with the variables set in the environment it ran on without the file's values (exit 0).
    const project = join(tmp.dir, 'dangling-env');
    mkdirSync(project);
    const target = join(tmp.dir, 'secrets-not-mounted', 'pipeline.env');
    symlinkSync(target, join(project, '.env'));
    const message = `Cannot read ${join(project, '.env')}: it is a symbolic link to ${target}, which does not exist (a secret not mounted, a file moved): restore what it points to, or remove the link`;
    for (const env of [{ PATH: process.env.PATH ?? '/usr/bin:/bin' }, { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env }]) {
      const run = await runBuilt(['run', '--resources', 'widgets', '--json'], { env, cwd: project });
      expect(run.stderr).toBe(`snapengage-pipeline: ${message}\n`);
      expect(run.code).toBe(1);
      expect(JSON.parse(run.stdout)).toMatchObject({ status: 'FAILED', loadId: null, error: { name: 'ConfigError', message } });
    }
    expect(existsSync(join(project, 'snapengage.duckdb'))).toBe(false);
  }, 60_000);

  // As root, and only where another user can run this node and read the package (CI's second Node lives in a 0700
  // temp directory: EACCES spawning it).
  it.runIf(process.getuid?.() === 0 && openToOthers(process.execPath, 0o001) && openToOthers(BIN, 0o004))('a ~ path under a user id with no home (a container\'s --user, HOME unset) is refused as a ~ path', async () => {
    // os.homedir() throws there (no HOME, no /etc/passwd entry), and the refusal, which suggests a full path under the
    // home directory, became "unexpected error: A system error occurred: uv_os_homedir returned ENOENT".
    const message = 'destination.path (--duckdb) "~/x.duckdb" would name "~" in /: ~ is expanded only by a shell (not in a config, a quoted word or --duckdb=~/…): write the full path';
    const child = spawn(process.execPath, [BIN, 'run', '--resources', 'widgets', '--duckdb', '~/x.duckdb', '--json'], {
      cwd: '/', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...box.env }, uid: 54_321, gid: 54_321, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(stderr).toBe(`snapengage-pipeline: ${message}\n`);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ status: 'FAILED', error: { name: 'ConfigError', message } });
  }, 60_000);

  it.runIf(process.getuid?.() === 0 && openToOthers(process.execPath, 0o001) && openToOthers(BIN, 0o004))('a .env the user may not read (a secret owned by another user) is one line saying whose access to give', async () => {
    // Root reads any file, so the run is another uid: a cron job of a service user, the .env left root's and 0600.
    const project = mkdtempSync(join(tmpdir(), 'sepipe-env-access-'));
    try {
      chmodSync(project, 0o755);
      writeFileSync(join(project, '.env'), 'SNAPENGAGE_API_TOKEN=secret-token\n', { mode: 0o600 });
      const file = join(project, '.env');
      const child = spawn(process.execPath, [BIN, 'run', '--resources', 'widgets', '--json'], {
        cwd: project, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/' }, uid: 54_321, gid: 54_321, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL',
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      const message = `Cannot read ${file} (permission denied): run as the user who owns it, or give that user read access (chmod 600 keeps it private)`;
      expect(stderr).toBe(`snapengage-pipeline: ${message}\n`);
      expect(code).toBe(1);
      expect(JSON.parse(stdout)).toMatchObject({ status: 'FAILED', error: { name: 'ConfigError', message } });
      expect(existsSync(join(project, 'snapengage.duckdb'))).toBe(false);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  }, 60_000);
});

/** Whether other users can reach `path` through its directories (search bit) and have `bits` on it (run 0o001, read 0o004). */
function openToOthers(path: string, bits: number): boolean {
  if ((statSync(path).mode & bits) !== bits) return false;
  for (let at = dirname(path); ; at = dirname(at)) {
    if ((statSync(at).mode & 0o001) === 0) return false;
    if (dirname(at) === at) return true;
  }
}
