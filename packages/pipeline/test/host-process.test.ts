// The BUILT command and library inside host processes that are not a bare `node`: loader hooks registered before
// the loader's own (`node --import` of an OpenTelemetry/Sentry-style register, tsx by the host), a wrapped global
// fetch, --enable-source-maps, a CommonJS preload in NODE_OPTIONS, a host program run by the tsx CLI, --disable-warning.
// Each spawn gets exactly the variables listed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import semver from 'semver';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, collectOutput, PACKAGE_DIR, query, sandbox, stats, tempDir, type CliResult } from './helpers.js';
import { ensureBuilt } from '../../create-snapengage-pipeline/test/helpers.js';

const BIN = join(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');

/** The built CLI under `node <nodeArgs>`, killed after `timeoutMs` (a hang is a failure here, not a slow test). */
function runBuilt(nodeArgs: string[], args: string[], options: { env: Record<string, string>; cwd: string; timeoutMs?: number }): Promise<CliResult> {
  const child = spawn(process.execPath, [...nodeArgs, BIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs ?? 30_000, killSignal: 'SIGKILL' });
  return collectOutput(child);
}

/**
 * A host program: `node <nodeArgs> <file>` in `cwd`, in its own process group, which is SIGKILLed after `timeoutMs`
 * (the tsx CLI runs the program in a child node: killing the parent alone would leave a hung child behind).
 */
function runHost(nodeArgs: string[], options: { env: Record<string, string>; cwd: string; timeoutMs: number }): Promise<CliResult> {
  const child = spawn(process.execPath, nodeArgs, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), options.timeoutMs);
  return collectOutput(child).finally(() => clearTimeout(timer));
}

/** stderr without the progress lines the CLI draws there when it is not a terminal: errors and warnings only. */
const messageLines = (stderr: string) => stderr.split('\n').filter((line) => line !== '' && !line.startsWith('[progress'));

describe('host processes, built CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let noopHook: string;
  let bareEnv: Record<string, string>;

  beforeAll(async () => {
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
    box = await sandbox({ cases: 20, widgets: 1, days: 2 });
    tmp = tempDir('sepipe-host-');
    // What an APM's `--import …/register` does first: register its ESM hooks (here passing everything through).
    noopHook = join(tmp.dir, 'hook.mjs');
    writeFileSync(noopHook, [
      "import { register } from 'node:module';",
      "register('data:text/javascript,export async function resolve(s, c, next) { return next(s, c); }', import.meta.url);",
      '',
    ].join('\n'));
    bareEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', SNAPENGAGE_DUCKDB_THREADS: '2', ...box.env };
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  function project(name: string): string {
    const dir = join(tmp.dir, name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src', 'pipeline.ts'), "const users: boolean = true;\nexport default { resources: { users } };\n");
    return dir;
  }

  // Where tsx would cache: $TMPDIR/tsx-<uid>.
  const tsxCacheDir = (tmpdir: string) => join(tmpdir, `tsx-${process.geteuid ? process.geteuid() : userInfo().username}`);

  // The hooks thread copies process.env when the host's hook starts it, before the loader sets TSX_DISABLE_CACHE for
  // tsx: tsx there caches in $TMPDIR. A TMPDIR under a file failed the config load (ENOTDIR); one under /proc hung
  // with a core at 100 % (node's recursive mkdir retries ENOENT there forever).
  const unusableTmpdirs: Array<[string, (dir: string) => string]> = [
    ['under a regular file', (dir) => (writeFileSync(join(dir, 'a-file'), ''), join(dir, 'a-file', 'tmp'))],
    // A regular file where tsx's directory goes: tsx's mkdir failed the load (EEXIST).
    ['holding a regular file named tsx-<uid>', (dir) => (mkdirSync(join(dir, 'tmp')), writeFileSync(tsxCacheDir(join(dir, 'tmp')), ''), join(dir, 'tmp'))],
    ...(process.platform === 'linux' ? [['under /proc', () => '/proc/snapengage-no-such-dir'] as [string, (dir: string) => string]] : []),
  ];
  it.each(unusableTmpdirs)('a TypeScript config loads under a host --import hook with TMPDIR %s', async (name, tmpdirFor) => {
    const dir = project(`hooked-${name.replace(/\W+/g, '-')}`);
    const run = await runBuilt(['--import', noopHook], ['run'], { env: { ...bareEnv, TMPDIR: tmpdirFor(dir) }, cwd: dir, timeoutMs: 20_000 });
    expect(run.signal, 'killed after 20 s: the config load hung').toBeNull();
    // Errors and warnings, not the progress lines.
    expect(run.stderr).not.toMatch(/snapengage-pipeline:|Warning|Error/);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is LOADED');
    expect(await query(join(dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
  }, 30_000);

  // The tests spawned the CLI from its source under `node --import tsx` until they spawned the built one: this is the
  // one left where the host loaded tsx itself (OPERATIONS.md, "In an instrumented or TypeScript host"), whose
  // settings the loader keeps: with an unwritable TMPDIR, the documented TSX_DISABLE_CACHE=1.
  it.each([
    ['its TMPDIR', false],
    ['an unwritable TMPDIR and TSX_DISABLE_CACHE=1', true],
  ] as const)('a TypeScript config loads under the host\'s own tsx (node --import tsx) with %s', async (name, unwritableTmpdir) => {
    const dir = project(`host-tsx-${name.replace(/\W+/g, '-')}`);
    const tsx = pathToFileURL(join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
    const env: Record<string, string> = { ...bareEnv, TMPDIR: tmp.dir };
    if (unwritableTmpdir) {
      writeFileSync(join(dir, 'a-file'), '');
      Object.assign(env, { TMPDIR: join(dir, 'a-file', 'tmp'), TSX_DISABLE_CACHE: '1' });
    }
    const run = await runBuilt(['--import', tsx], ['run'], { env, cwd: dir, timeoutMs: 20_000 });
    expect(run.signal, 'killed after 20 s').toBeNull();
    expect(run.stderr).not.toMatch(/snapengage-pipeline:|Warning|Error/);
    expect(run.code).toBe(0);
    expect(await query(join(dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
  }, 30_000);

  // The probe (tsx-cache.ts) turns the cache off in that thread only where $TMPDIR cannot hold it, and leaves a
  // user's own TSX_DISABLE_CACHE as it is (OPERATIONS.md "In an instrumented or TypeScript host"). Where tsx hooks
  // in the main thread (module.registerHooks; tsx's own version table: Node 22.22.3+, 24.11.1+, 25.1+) there is no
  // such thread for tsx: it reads the loader's TSX_DISABLE_CACHE and caches nothing, as without a host hook.
  const tsxHooksInThread = semver.satisfies(process.versions.node, '^22.22.3 || ^24.11.1 || ^25.1.0 || >=26');
  it(`under a host --import hook with a usable TMPDIR, tsx ${tsxHooksInThread ? 'caches nothing (in-thread hooks)' : 'caches in $TMPDIR/tsx-<uid> as it would without the loader'}`, async () => {
    const dir = project('hooked-usable-tmpdir');
    const tmpdir = join(dir, 'tmp');
    mkdirSync(tmpdir);
    const run = await runBuilt(['--import', noopHook], ['run'], { env: { ...bareEnv, TMPDIR: tmpdir }, cwd: dir, timeoutMs: 20_000 });
    expect([run.code, run.signal]).toEqual([0, null]);
    // (The probe still runs in the host's hooks thread there and may leave the directory, empty.)
    if (tsxHooksInThread) expect(existsSync(tsxCacheDir(tmpdir)) ? readdirSync(tsxCacheDir(tmpdir)) : [], 'tsx cached the config though the loader turned its cache off').toEqual([]);
    else expect(readdirSync(tsxCacheDir(tmpdir)).length, 'tsx cached the config there').toBeGreaterThan(0);
  }, 30_000);
  it('under a host --import hook with TSX_DISABLE_CACHE=1, nothing is written to $TMPDIR for tsx', async () => {
    const dir = project('hooked-cache-disabled');
    const tmpdir = join(dir, 'tmp');
    mkdirSync(tmpdir);
    const run = await runBuilt(['--import', noopHook], ['run'], { env: { ...bareEnv, TMPDIR: tmpdir, TSX_DISABLE_CACHE: '1' }, cwd: dir, timeoutMs: 20_000 });
    expect([run.code, run.signal]).toEqual([0, null]);
    expect(existsSync(tsxCacheDir(tmpdir)), 'the probe created the cache directory the user turned off').toBe(false);
  }, 30_000);

  /** A project whose own program imports the loader by its package name, as an app that installed it would. */
  function hostProject(name: string, files: Record<string, string>): string {
    const dir = project(name);
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(PACKAGE_DIR, join(dir, 'node_modules', 'snapengage-pipeline'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
    return dir;
  }

  // `tsx app.ts`: the tsx CLI (node_modules/.bin/tsx runs dist/cli.mjs) starts the host program in a child node with
  // tsx's hooks; the program loads the TypeScript config through the loader's own tsx and runs it.
  it('a host program run by the tsx CLI (tsx app.ts) loads a TypeScript config and runs it', async () => {
    const dir = hostProject('tsx-cli-app', {
      'app.ts': [
        "import { loadPipelineConfig, runPipeline, type LoadInfo } from 'snapengage-pipeline';",
        'const { config, file } = await loadPipelineConfig(undefined, process.env);',
        'const info: LoadInfo = await runPipeline(config);',
        "console.log(JSON.stringify({ file, users: info.rowCounts['users'] }));",
        '',
      ].join('\n'),
    });
    const tsxCli = join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'cli.mjs');
    const run = await runHost([tsxCli, 'app.ts'], { env: { ...bareEnv, TMPDIR: tmp.dir }, cwd: dir, timeoutMs: 20_000 });
    expect(run.signal, 'killed after 20 s').toBeNull();
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ file: join(dir, 'src', 'pipeline.ts'), users: 1 });
    expect(await query(join(dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
  }, 30_000);

  // A CommonJS preload (`NODE_OPTIONS=--require …`, how older APM agents and dotenv-style setups attach): not a hook
  // flag, so the loader's tsx runs as it does in a bare node.
  it('the built CLI runs a TypeScript config with a CommonJS preload in NODE_OPTIONS', async () => {
    const dir = project('require-preload');
    const preload = join(dir, 'preload.cjs');
    writeFileSync(preload, "require('node:fs').writeFileSync(require('node:path').join(process.cwd(), 'preloaded'), String(process.pid));\n");
    const run = await runBuilt([], ['run'], { env: { ...bareEnv, TMPDIR: tmp.dir, NODE_OPTIONS: `--require ${preload}` }, cwd: dir, timeoutMs: 20_000 });
    expect(run.signal, 'killed after 20 s').toBeNull();
    expect(messageLines(run.stderr)).toEqual([]);
    expect(run.code).toBe(0);
    expect(existsSync(join(dir, 'preloaded')), 'the preload ran').toBe(true);
    expect(await query(join(dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
  }, 30_000);

  // --enable-source-maps maps stack traces through dist/*.js.map: a failure must still print one line, no stack.
  it.each([
    ['a config error', "export default { resources: { nope: true } };\n", {}, /^snapengage-pipeline: Unknown resource "nope" in the pipeline config; valid resources: .*users/],
    ['a refused credential (HTTP 401)', undefined, { SNAPENGAGE_PROVISIONING_KEY: 'refused-key-0123456789' }, /^snapengage-pipeline: Extracting users failed: .*HTTP 401.*check SNAPENGAGE_PROVISIONING_KEY/],
  ] as const)('under --enable-source-maps, %s prints one snapengage-pipeline: line and no stack', async (name, configText, envOverride, expected) => {
    const dir = project(`source-maps-${name.replace(/\W+/g, '-')}`);
    if (configText !== undefined) writeFileSync(join(dir, 'src', 'pipeline.ts'), configText);
    const run = await runBuilt(['--enable-source-maps'], ['run'], { env: { ...bareEnv, TMPDIR: tmp.dir, ...envOverride }, cwd: dir, timeoutMs: 20_000 });
    expect(run.signal, 'killed after 20 s').toBeNull();
    expect(run.code).toBe(1);
    const lines = messageLines(run.stderr);
    expect(lines, run.stderr).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stderr).not.toContain('refused-key-0123456789');
  }, 30_000);

  // --disable-warning=<code> silences the loader's own process warnings by their code, the built CLI runs under it,
  // and without the flag the same program does print the warning (so the silence is the flag's doing).
  it('--disable-warning=SNAPENGAGE_CALLBACK_THREW silences the loader\'s warning; the run loads its rows', async () => {
    const dir = hostProject('disable-warning', {
      'app.mjs': [
        "import { definePipeline, runPipeline } from 'snapengage-pipeline';",
        "const onRequest = () => { throw new Error('observer broke'); };",
        '// A file per run: a second run into the same one finds the user unchanged and writes no row.',
        'const info = await runPipeline(definePipeline({ resources: { users: true } }), { onRequest, destination: { path: process.argv[2] } });',
        "console.log(info.rowCounts['users']);",
        '',
      ].join('\n'),
    });
    const env = { ...bareEnv, TMPDIR: tmp.dir };
    const warned = await runHost(['app.mjs', 'warned.duckdb'], { env, cwd: dir, timeoutMs: 20_000 });
    expect([warned.code, warned.signal, warned.stdout]).toEqual([0, null, '1\n']);
    expect(warned.stderr).toMatch(/\[SNAPENGAGE_CALLBACK_THREW\] Warning: the onRequest callback threw \(observer broke\)/);
    const silenced = await runHost(['--disable-warning=SNAPENGAGE_CALLBACK_THREW', 'app.mjs', 'silenced.duckdb'], { env, cwd: dir, timeoutMs: 20_000 });
    expect([silenced.code, silenced.signal, silenced.stdout, silenced.stderr]).toEqual([0, null, '1\n', '']);

    const cli = project('disable-warning-cli');
    const run = await runBuilt(['--disable-warning=ExperimentalWarning'], ['run'], { env, cwd: cli, timeoutMs: 20_000 });
    expect([run.code, run.signal]).toEqual([0, null]);
    expect(messageLines(run.stderr)).toEqual([]);
    expect(await query(join(cli, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
  }, 40_000);
});

describe('a global fetch the host wrapped after importing the loader (APM, msw-style interceptors)', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  const original = globalThis.fetch;
  beforeAll(async () => {
    box = await sandbox({ cases: 60, widgets: 1, days: 2 });
    tmp = tempDir('sepipe-wrapped-');
  });
  afterEach(async () => {
    globalThis.fetch = original;
    await admin(box, 'faults', { faults: '' });
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  /** What an interceptor does: rebuild the Request from (input, init), record it, then call the fetch it replaced. */
  function wrapFetch(): string[] {
    const seen: string[] = [];
    globalThis.fetch = async (input, init) => {
      const request = new Request(input, init);
      seen.push(new URL(request.url).pathname);
      return original(request);
    };
    return seen;
  }

  it('carries every request, its retries and its per-attempt timeouts', async () => {
    const seen = wrapFetch();
    // Every 5th request slower than the timeout, others fail with 500 or a reset: each retried through the wrapper
    // (after a short backoff: what is tested is that every attempt goes through it, not how long each waits).
    await admin(box, 'faults', { faults: '500=0.15,reset=0.1,slow=0.15,slowMs=1500' });
    const info = await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, connection: { timeoutMs: 500, maxRetries: 8, retryBaseDelayMs: 20 } }), {
      env: box.env,
      destination: { path: join(tmp.dir, 'wrapped.duckdb') },
    });
    expect(info.hasFailedJobs).toBe(false);
    const served = await stats(box);
    expect(Object.values(served.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    // Each request the sandbox answered went through the wrapper (the fetch is looked up per call, not at import).
    expect(seen.filter((path) => !path.startsWith('/__sandbox')).length).toBe(served.requests);
    expect(await query(join(tmp.dir, 'wrapped.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual([{ n: 60 }]);
  }, 60_000);

  it('aborts through the wrapper: the signal reaches the request it rebuilt', async () => {
    const seen = wrapFetch();
    await admin(box, 'faults', { faults: 'slow=1,slowMs=5000' });
    const controller = new AbortController();
    const started = Date.now();
    const run = runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), {
      env: box.env,
      destination: { path: join(tmp.dir, 'aborted.duckdb') },
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 300);
    await expect(run).rejects.toMatchObject({ name: 'AbortedError' });
    expect(Date.now() - started).toBeLessThan(3000);
    // The request the abort cancelled was the wrapper's (the admin call above went through it too: not counted).
    expect(seen.filter((path) => !path.startsWith('/__sandbox')).length).toBeGreaterThan(0);
  }, 30_000);
});
