// An operator's failures, through the BUILT command (bin/snapengage-pipeline.js → dist/, as `npx snapengage-pipeline`
// runs it in cron, CI or a container; `npm run build` first) against real servers on 127.0.0.1: the sandbox, or a
// small HTTP server that misbehaves as a proxy or gateway in front of the API can.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { PACKAGE_DIR, query, sandbox, tempDir, type CliResult } from './helpers.js';
import { ensureBuilt } from '../../create-snapengage-pipeline/test/helpers.js';

const BIN = join(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');

function runBuilt(args: string[], options: { env?: Record<string, string>; cwd: string }): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** stderr without the periodic progress lines. */
const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress'));

/** An HTTP server on 127.0.0.1 answering every request with `answer`; counts requests. */
async function fakeServer(
  answer: (res: import('node:http').ServerResponse, req: import('node:http').IncomingMessage, origin: string) => void,
): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let count = 0;
  const server: Server = createServer((req, res) => {
    count++;
    answer(res, req, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('operator failures, built CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    // The built CLI, rebuilt when its sources (or the client's) are newer: a stale dist/ tested the code before a change.
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
    box = await sandbox({ cases: 200, widgets: 2, days: 20 });
    tmp = tempDir('sepipe-operator-');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it.each([
    ['an empty body', ''],
    ['null', 'null'],
    ['a JSON array', '[]'],
    ['"cases" holding a text', '{"cases":"x"}'],
    ['"cases" holding a number', '{"cases":5}'],
  ])('a 200 logs page with %s fails the run (exit 1, one line) instead of loading nothing and advancing the state', async (_what, body) => {
    const server = await fakeServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    try {
      const db = join(tmp.dir, `empty-body-${Math.random().toString(36).slice(2)}.duckdb`);
      const run = await runBuilt(['run', '--resources', 'logs', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_BASE_URL: server.url }, cwd: tmp.dir });
      expect(run.code).toBe(1);
      const lines = errorLines(run.stderr);
      expect(lines).toHaveLength(1);
      // An empty or null page is refused by the client's iteratePages (a 200 that is not the JSON the spec declares);
      // an array, by the loader's check for "cases".
      expect(lines[0]).toMatch(/^snapengage-pipeline: Extracting logs failed: .*(?:"cases"|\(HTTP 200\).*not the expected JSON).*SNAPENGAGE_BASE_URL/);
      if (body.startsWith('{')) expect(lines[0]).toMatch(/answered with a JSON object whose "cases" is a (?:string|number), not a page with "cases"/);
      expect(run.stdout).toBe('');
      // Nothing committed: no file (no state that would skip these days at the next run).
      expect(existsSync(db)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('a 200 logs page that is an object without "cases" is read as no records (the API may leave out an empty list)', async () => {
    const server = await fakeServer((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
    try {
      const db = join(tmp.dir, 'no-cases.duckdb');
      const run = await runBuilt(['run', '--resources', 'logs', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_BASE_URL: server.url }, cwd: tmp.dir });
      expect(run.stderr).not.toMatch(/failed/);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/is LOADED/);
      expect(run.stdout).toMatch(/^ {2}logs +0$/m);
    } finally {
      await server.close();
    }
  });

  it('a next page that is an object without "cases" fails the run: a next link promised more records', async () => {
    // The first page of every window has one case and a next link; the page it leads to is an object without cases.
    const server = await fakeServer((res, req, origin) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.url?.includes('next=')
        ? '{"status":"ok"}'
        : JSON.stringify({ cases: [{ id: 'c1', created_at_seconds: Math.floor(Date.now() / 1000) }], linkToNextSetOfResults: `${origin}/api/v2/o/logs?next=2` }));
    });
    try {
      const db = join(tmp.dir, 'next-page.duckdb');
      const run = await runBuilt(['run', '--resources', 'logs', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_BASE_URL: server.url }, cwd: tmp.dir });
      expect(run.code).toBe(1);
      expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: Extracting logs failed: GET \/api\/v2\/\{orgId\}\/logs page 2 \(a next link\) answered with a JSON object without that field, not a page with "cases"/)]);
      expect(existsSync(db)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('the first request that fails for good stops the run: the other window slices are not all tried', async () => {
    // A 500 storm (or a server that hangs): every slice failing after its retries made a run take slices × retries.
    const server = await fakeServer((res) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"down"}');
    });
    try {
      const config = join(tmp.dir, 'one-at-a-time.mjs');
      writeFileSync(config, 'export default { resources: { logs: true }, concurrency: 1, rateLimit: { requestsPerSecond: 0 }, connection: { maxRetries: 1, retryBaseDelayMs: 20 } };\n');
      const db = join(tmp.dir, 'storm.duckdb');
      // 2 widgets × a 20-day window in 7-day slices = 6 slices, one at a time.
      const run = await runBuilt(['run', '--config', config, '--duckdb', db], { env: { ...box.env, SNAPENGAGE_BASE_URL: server.url }, cwd: tmp.dir });
      expect(run.code).toBe(1);
      expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: Extracting logs failed: .*HTTP 500.*server error after 1 retry/)]);
      // The failed slice's two attempts, not six slices' twelve.
      expect(server.requests()).toBe(2);
      expect(existsSync(db)).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('a .env saved with a byte order mark (Windows Notepad) still sets its first variable', async () => {
    const dir = join(tmp.dir, 'bom');
    mkdirSync(dir);
    const names = ['SNAPENGAGE_API_TOKEN', ...Object.keys(box.env).filter((name) => name !== 'SNAPENGAGE_API_TOKEN')];
    writeFileSync(join(dir, '.env'), `\uFEFF${names.map((name) => `${name}=${box.env[name]}`).join('\r\n')}\r\n`);
    const run = await runBuilt(['run', '--resources', 'logs'], { cwd: dir });
    expect(errorLines(run.stderr)).toEqual([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is LOADED and contains no failed jobs');
  });

  it('a .env saved as UTF-16 (Windows PowerShell 5.1\'s `>` and Out-File, Notepad\'s "Unicode") sets its variables', async () => {
    const lines = `${Object.entries(box.env).map(([name, value]) => `${name}=${value}`).join('\r\n')}\r\n`;
    const bigEndian = Buffer.from(lines, 'utf16le').swap16();
    for (const [name, bytes] of [['le', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(lines, 'utf16le')])], ['be', Buffer.concat([Buffer.from([0xfe, 0xff]), bigEndian])]] as const) {
      const dir = join(tmp.dir, `utf16${name}`);
      mkdirSync(dir);
      writeFileSync(join(dir, '.env'), bytes);
      const run = await runBuilt(['run', '--resources', 'users'], { cwd: dir });
      expect(errorLines(run.stderr)).toEqual([]);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('is LOADED and contains no failed jobs');
    }
  });

  it('a new database file that cannot be written (file size limit, full disk) is not left behind half-made', async () => {
    const dir = join(tmp.dir, 'fsize');
    mkdirSync(dir);
    writeFileSync(join(dir, '.env'), Object.entries(box.env).map(([name, value]) => `${name}=${value}`).join('\n'));
    // `ulimit -f 4`: files up to 4 KiB, enough for the run lock and the staged rows, not for DuckDB's header blocks.
    const limited = await new Promise<CliResult>((resolve) => {
      const child = spawn('/bin/sh', ['-c', `ulimit -f 4 && exec "${process.execPath}" "${BIN}" run --resources users`], {
        cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    expect(limited.code).toBe(1);
    expect(errorLines(limited.stderr)).toEqual([expect.stringMatching(/reached the largest file size allowed .*raise the file size limit \(ulimit -f/)]);
    // The file, not the draft the first commit makes it as (new-file.ts): a name the user never gave, gone already.
    expect(limited.stderr).not.toContain('.staging');
    // The database is as it was: there was none, and there is none (a partial file made every later run fail with
    // "not a readable DuckDB database").
    expect(existsSync(join(dir, 'snapengage.duckdb'))).toBe(false);
    expect(existsSync(join(dir, 'snapengage.duckdb.wal'))).toBe(false);
    const again = await runBuilt(['run', '--resources', 'users'], { cwd: dir });
    expect(errorLines(again.stderr)).toEqual([]);
    expect(again.code).toBe(0);
  });

  it('stdout on a full disk (/dev/full) is one line and exit 1, saying whether the load was committed', async () => {
    const dir = join(tmp.dir, 'full-stdout');
    mkdirSync(dir);
    const toFull = (args: string[]) => new Promise<CliResult>((resolve) => {
      const out = openSync('/dev/full', 'w');
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env }, stdio: ['ignore', out, 'pipe'],
      });
      closeSync(out);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
    });
    const version = await toFull(['--version']);
    expect(version.code).toBe(1);
    expect(errorLines(version.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: cannot write to standard output \(ENOSPC/)]);
    const run = await toFull(['run', '--resources', 'users']);
    expect(run.code).toBe(1);
    expect(errorLines(run.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: cannot write to standard output \(ENOSPC.*the load itself was committed/)]);
    expect(await query(join(dir, 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);
    // A failure with --json writes its FAILED document to stdout too: its exit code (2, a usage error) is kept.
    const usage = await toFull(['run', '--resources', 'userz', '--json']);
    expect(usage.code).toBe(2);
    expect(errorLines(usage.stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: Unknown resource "userz"/), expect.stringMatching(/^snapengage-pipeline: cannot write to standard output \(ENOSPC/)]);
    expect(version.stderr).toContain('free space where it goes or redirect it elsewhere');
  });

  it('stdout that fails other than by a full disk (EBADF: a descriptor open for reading) is not told to free space', async () => {
    const input = openSync(BIN, 'r');
    try {
      const run = spawnSync(process.execPath, [BIN, '--version'], { stdio: ['ignore', input, 'pipe'], encoding: 'utf8', timeout: 30_000 });
      expect(run.status).toBe(1);
      expect(errorLines(run.stderr)).toEqual(['snapengage-pipeline: cannot write to standard output (EBADF: bad file descriptor, write): redirect it elsewhere']);
    } finally {
      closeSync(input);
    }
  });

  it('stdout whose reader went away (`| head -1`, `| head -c 10`): no line, exit 0, and the run committed all the same', async () => {
    const dir = join(tmp.dir, 'closed-stdout');
    mkdirSync(dir);
    const readerGone = (args: string[]) => new Promise<CliResult>((resolve) => {
      const child = spawn(process.execPath, [BIN, ...args], {
        cwd: dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env }, stdio: ['ignore', 'pipe', 'pipe'],
      });
      // Closed before the CLI has started: its first write already meets a pipe with no reader (EPIPE).
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
    });
    for (const args of [['run', '--resources', 'users', '--json'], ['run', '--resources', 'users']]) {
      const run = await readerGone(args);
      expect([run.code, run.signal], run.stderr).toEqual([0, null]);
      expect(errorLines(run.stderr)).toEqual([]);
    }
    // Both runs loaded: the data is never lost to a closed pipe.
    expect(await query(join(dir, 'snapengage.duckdb'), "SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads WHERE status = 'loaded'")).toEqual([{ n: 2 }]);
    for (const args of [['show'], ['--help']]) {
      const shown = await readerGone(args);
      expect([shown.code, shown.signal, shown.stderr]).toEqual([0, null, '']);
    }
  });

  // SIGHUP: the terminal closing (left to Node's default, the run ended with no line and its staging left).
  // Under nohup too (OPERATIONS.md: it does not keep a run going; Node restores SIGHUP's default, the CLI stops on it).
  it.each([['SIGINT', 130, ''], ['SIGTERM', 143, ''], ['SIGHUP', 129, ''], ['SIGHUP', 129, 'nohup']] as const)('%s while extracting: one line, exit %i, no file left %s', async (signal, exitCode, wrapper) => {
    // A server that never answers: the run is waiting on its first request when the signal comes.
    const server = await fakeServer(() => undefined);
    try {
      const db = join(tmp.dir, `signal-${signal}${wrapper}.duckdb`);
      // nohup execs node, so the child's PID is node's: the signal reaches the CLI, as a hang-up would.
      const command = wrapper === 'nohup' ? ['nohup', process.execPath] : [process.execPath];
      const child = spawn(command[0]!, [...command.slice(1), BIN, 'run', '--resources', 'users', '--duckdb', db], {
        cwd: tmp.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env, SNAPENGAGE_BASE_URL: server.url },
        stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL',
      });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Bounded: 200 × 50 ms.
      for (let i = 0; i < 200 && server.requests() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.requests()).toBeGreaterThan(0);
      child.kill(signal);
      expect(await closed).toBe(exitCode);
      // The signal named: in a scheduler's log, SIGTERM is a stop or a timeout.
      expect(errorLines(stderr)).toEqual([`snapengage-pipeline: Run cancelled while extracting users (${signal}); nothing of this run was committed`]);
      expect(existsSync(db)).toBe(false);
    } finally {
      await server.close();
    }
  }, 40_000);

  it('SIGTERM while extracting into an existing file: its failed load names the signal in _pipeline_loads.error', async () => {
    // A monitoring query over the loads could not tell a scheduler's stop or time limit from a Ctrl-C.
    const db = join(tmp.dir, 'signal-recorded.duckdb');
    const first = await runBuilt(['run', '--resources', 'users', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(first.code).toBe(0);
    const server = await fakeServer(() => undefined);
    try {
      const child = spawn(process.execPath, [BIN, 'run', '--resources', 'users', '--duckdb', db], {
        cwd: tmp.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env, SNAPENGAGE_BASE_URL: server.url },
        stdio: 'ignore', timeout: 30_000, killSignal: 'SIGKILL',
      });
      const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      // Bounded: 200 × 50 ms.
      for (let i = 0; i < 200 && server.requests() === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(server.requests()).toBeGreaterThan(0);
      child.kill('SIGTERM');
      expect(await closed).toBe(143);
      expect(await query(db, `SELECT status, error FROM snapengage_data._pipeline_loads ORDER BY started_at`)).toEqual([
        { status: 'loaded', error: null },
        { status: 'failed', error: 'Run cancelled while extracting users: Interrupted (SIGTERM)' },
      ]);
    } finally {
      await server.close();
    }
  }, 40_000);

  it('https:// against the sandbox (plain http) says to use http://, not to start the sandbox', async () => {
    const env = { ...box.env, SNAPENGAGE_BASE_URL: box.url.replace(/^http:/, 'https:') };
    const run = await runBuilt(['run', '--resources', 'users', '--duckdb', join(tmp.dir, 'tls.duckdb')], { env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    const lines = errorLines(run.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot reach https:\/\/127\.0\.0\.1:\d+ .*: check SNAPENGAGE_BASE_URL: the server there speaks http, not https: use an http:\/\/ URL \(snapengage-sandbox serves http\)$/);
    expect(lines[0]).not.toContain('is the local server');
  });

  it('a base URL on a port fetch blocks (6000) says so at once, not to start the sandbox', async () => {
    // fetch refuses it before connecting; it was retried, then "cannot reach … (fetch failed ← bad port): is the local
    // server (snapengage-sandbox) running?", for a server that may well be up.
    const env = { ...box.env, SNAPENGAGE_BASE_URL: 'http://127.0.0.1:6000' };
    const run = await runBuilt(['run', '--resources', 'users', '--duckdb', join(tmp.dir, 'port.duckdb')], { env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    const lines = errorLines(run.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/: fetch refuses the port of http:\/\/127\.0\.0\.1:6000 \(one of the ports the Fetch standard blocks, such as 6000 and 10080\): serve the API on another port and change SNAPENGAGE_BASE_URL$/);
    expect(run.stderr).not.toMatch(/retry/i);
  });

  it.skipIf(!existsSync('/proc/self'))('a --duckdb path on a file system that cannot hold it (procfs) fails at once, one line (exit 1)', async () => {
    // Node's recursive mkdir spun forever there at full CPU, deaf to SIGTERM; killed after 30 s if it still does.
    const child = spawn(process.execPath, [BIN, 'run', '--resources', 'users', '--duckdb', '/proc/snapengage-test.duckdb'], {
      cwd: tmp.dir, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...box.env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000, killSignal: 'SIGKILL',
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(1);
    expect(errorLines(stderr)).toEqual([expect.stringMatching(/^snapengage-pipeline: opening the destination: cannot write \/proc\/snapengage-test\.duckdb \(ENOENT.*mkdir.*\): choose a destination path in a writable directory/)]);
  }, 40_000);

  it.each([['--duckdb'], ['--dataset'], ['--config']])('an empty %s is a usage error naming the flag (exit 2), for run and show', async (flag) => {
    for (const command of ['run', 'show']) {
      const result = await runBuilt([command, '--resources', 'users', flag, ''].filter((a, i) => command === 'run' || (i !== 1 && i !== 2)), { env: box.env, cwd: tmp.dir });
      expect(result.code).toBe(2);
      expect(errorLines(result.stderr)).toEqual([`snapengage-pipeline: ${flag} needs a value, got an empty one (see --help)`]);
    }
  });
});
