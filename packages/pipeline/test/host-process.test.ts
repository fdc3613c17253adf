// The BUILT command and library inside host processes that are not a bare `node`: loader hooks registered before
// the loader's own (`node --import` of an OpenTelemetry/Sentry-style register, tsx by the host), a wrapped global
// fetch, --enable-source-maps. Each spawn gets exactly the variables listed.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
  // user's own TSX_DISABLE_CACHE as it is (OPERATIONS.md "In an instrumented or TypeScript host").
  it('under a host --import hook with a usable TMPDIR, tsx caches in $TMPDIR/tsx-<uid> as it would without the loader', async () => {
    const dir = project('hooked-usable-tmpdir');
    const tmpdir = join(dir, 'tmp');
    mkdirSync(tmpdir);
    const run = await runBuilt(['--import', noopHook], ['run'], { env: { ...bareEnv, TMPDIR: tmpdir }, cwd: dir, timeoutMs: 20_000 });
    expect([run.code, run.signal]).toEqual([0, null]);
    expect(readdirSync(tsxCacheDir(tmpdir)).length, 'tsx cached the config there').toBeGreaterThan(0);
  }, 30_000);
  it('under a host --import hook with TSX_DISABLE_CACHE=1, nothing is written to $TMPDIR for tsx', async () => {
    const dir = project('hooked-cache-disabled');
    const tmpdir = join(dir, 'tmp');
    mkdirSync(tmpdir);
    const run = await runBuilt(['--import', noopHook], ['run'], { env: { ...bareEnv, TMPDIR: tmpdir, TSX_DISABLE_CACHE: '1' }, cwd: dir, timeoutMs: 20_000 });
    expect([run.code, run.signal]).toEqual([0, null]);
    expect(existsSync(tsxCacheDir(tmpdir)), 'the probe created the cache directory the user turned off').toBe(false);
  }, 30_000);
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
    // Every 5th request slower than the timeout, others fail with 500 or a reset: each retried through the wrapper.
    await admin(box, 'faults', { faults: '500=0.15,reset=0.1,slow=0.15,slowMs=1500' });
    const info = await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, connection: { timeoutMs: 500, maxRetries: 8 } }), {
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
