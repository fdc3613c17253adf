// What a monitor reads from `run --json` (OPERATIONS.md "Load info as JSON"), through the BUILT command against the
// sandbox: a failed run's load id to join with `_pipeline_loads`, lists cut as the text cuts them, and a document at
// whatever moment a signal comes: before the command's modules have loaded, or a second one during the commit.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { LoadInfo } from '../src/load-info.js';
import { DestinationError } from '../src/destination/errors.js';
import { documentLine, failedDocument, loadedDocument } from '../src/run-document.js';
import { PACKAGE_DIR, admin, query, sandbox, spawnBuilt, tempDir, truth, type CliResult } from './helpers.js';

function outcome(child: ChildProcess, onStderr?: (stderr: string) => void): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    onStderr?.(stderr);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

/** stdout as the one JSON document it must be: exactly one line. */
function document(stdout: string): Record<string, any> {
  const lines = stdout.split('\n').filter((l) => l !== '');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, any>;
}

let tmp: ReturnType<typeof tempDir>;
/**
 * `--resources logs` without the default 10 requests/s (in tmp.dir, the runs' cwd): for the runs that load thousands
 * of cases only to have a long run or a full file, where the limiter's wait was most of their time.
 */
const LOGS_FAST = 'logs-fast.mjs';
beforeAll(() => {
  if (!existsSync(join(PACKAGE_DIR, 'dist', 'cli.js'))) throw new Error('run `npm run build` first: these tests spawn the built CLI');
  tmp = tempDir('sepipe-run-document-');
  writeFileSync(join(tmp.dir, LOGS_FAST), 'export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } };\n');
});
afterAll(() => tmp?.cleanup());

describe('run --json, built CLI', () => {
  let box: Sandbox;
  beforeAll(async () => {
    box = await sandbox({ cases: 60, widgets: 1, days: 3 });
  });
  afterAll(async () => {
    await box?.close();
  });
  const run = (args: string[], env: Record<string, string> = box.env) => outcome(spawnBuilt(['run', '--json', ...args], { env, cwd: tmp.dir }));

  it("a failed run's document has its loadId, the load_id of the failed rows it left; a run refused before has null", async () => {
    const db = join(tmp.dir, 'failed.duckdb');
    expect((await run(['--resources', 'widgets', '--duckdb', db])).code).toBe(0);
    const failed = await run(['--resources', 'logs', '--duckdb', db], { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token' });
    expect(failed.code).toBe(1);
    const doc = document(failed.stdout);
    expect(doc).toMatchObject({ status: 'FAILED', committedResources: [], error: { name: 'ExtractError', resource: 'logs' } });
    expect(doc.loadId).toMatch(/^\d+\.\d+$/);
    const rows = await query(db, `SELECT resource, status FROM snapengage_data._pipeline_loads WHERE load_id = '${doc.loadId}'`);
    expect(rows).toEqual([{ resource: 'logs', status: 'failed' }]);

    const refused = await run(['--resources', 'logz']);
    expect(refused.code).toBe(2);
    expect(document(refused.stdout)).toMatchObject({ status: 'FAILED', loadId: null, error: { name: 'UsageError' } });
  }, 60_000);

  it('lists new columns as the text does, the first 12, and counts the rest in notListed', async () => {
    const db = join(tmp.dir, 'wide.duckdb');
    expect((await run(['--resources', 'logs', '--duckdb', db])).code).toBe(0);
    const fields = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`undeclared_${String(i).padStart(2, '0')}`, i]));
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!.split(',')[0], cases: [fields] });
    const wide = await run(['--resources', 'logs', '--duckdb', db]);
    expect(wide.code).toBe(0);
    const changes = document(wide.stdout).schemaChanges.logs;
    expect(changes.newColumns).toHaveLength(12);
    expect(changes.notListed).toEqual({ newColumns: 28 });
    const columns = await query(db, "SELECT count(*) AS n FROM duckdb_columns() WHERE table_name = 'logs' AND column_name LIKE 'undeclared_%'");
    expect(Number(columns[0]!.n)).toBe(40);
  }, 60_000);

  it('a usage error is a FAILED document whatever the command, --json being given; --help and --version stay text', async () => {
    for (const args of [['show', '--json'], ['--json'], ['lod', '--json']]) {
      const refused = await outcome(spawnBuilt(args, { env: box.env, cwd: tmp.dir }));
      expect(refused.code, args.join(' ')).toBe(2);
      expect(document(refused.stdout), args.join(' ')).toMatchObject({ status: 'FAILED', error: { name: 'UsageError', exitCode: 2 } });
    }
    const help = await run(['--help']);
    expect([help.code, help.stdout]).toEqual([0, expect.stringMatching(/^Usage:/)]);
  }, 60_000);
});

/**
 * The built CLI with `args`, one module of the command (version.js) held back by a loader hook until the test releases
 * it: `signalWhileLoading` sends the signal exactly while the command's modules load, after the entry caught the
 * signals (cli.ts) and before the command could install its own handlers or release them. The module is released 1 s
 * after the signal, time for the idle main thread to take it (a fixed 3 s hold made each of these tests take 3 s).
 */
function spawnHoldingModules(name: string, args: string[]) {
  const loading = join(tmp.dir, `${name}-modules-loading`);
  const release = join(tmp.dir, `${name}-modules-release`);
  const hooks = join(tmp.dir, `${name}-hold-modules.mjs`);
  writeFileSync(hooks, [
    "import { existsSync, writeFileSync } from 'node:fs';",
    'export async function load(url, context, next) {',
    "  if (url.endsWith('/dist/version.js')) {",
    `    writeFileSync(${JSON.stringify(loading)}, '');`,
    // Bounded: released by the test, or after 30 s.
    `    for (let i = 0; i < 3000 && !existsSync(${JSON.stringify(release)}); i++) await new Promise((resolve) => setTimeout(resolve, 10));`,
    '  }',
    '  return next(url, context);',
    '}',
    '',
  ].join('\n'));
  const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(pathToFileURL(hooks).href)})`;
  const child = spawnBuilt(args, { cwd: tmp.dir, nodeArgs: ['--import', register] });
  const closed = outcome(child);
  return {
    async signalWhileLoading(signal: NodeJS.Signals): Promise<CliResult> {
      for (let i = 0; i < 200 && !existsSync(loading); i++) await sleep(50); // bounded: 10 s
      expect(existsSync(loading)).toBe(true);
      child.kill(signal);
      await sleep(1000);
      writeFileSync(release, '');
      return closed;
    },
  };
}

describe('run --json and signals, built CLI', () => {
  it('a SIGTERM while the command\'s modules load still ends in the FAILED document, exit 143', async () => {
    // The handlers used to be installed only after the modules had loaded: the signal killed the process, no output.
    const db = join(tmp.dir, 'early.duckdb');
    const result = await spawnHoldingModules('run', ['run', '--json', '--resources', 'widgets', '--duckdb', db]).signalWhileLoading('SIGTERM');
    expect([result.code, result.signal]).toEqual([143, null]);
    expect(result.stderr).toBe('snapengage-pipeline: Run cancelled before it started (SIGTERM); nothing of this run was committed\n');
    expect(document(result.stdout)).toMatchObject({ status: 'FAILED', loadId: null, committedResources: [], error: { name: 'AbortedError', exitCode: 143 } });
    expect(existsSync(db)).toBe(false);
  }, 60_000);

  // show and --help do not stop on the run's AbortSignal: they release the entry's handlers, and a signal caught
  // before that must still end them, exit 143 with no output, as it would have without handlers. It was ignored:
  // `show` went on to print the dataset and `--help` the usage, exit 0, as if no one had asked them to stop.
  it.each([
    ['show', ['show', '--duckdb', 'never-created.duckdb']],
    ['help', ['--help']],
    ['run --help', ['run', '--help']],
    // Help is not a run: with --json it is text (OPERATIONS.md), and a signal before it ends it as it ends --help.
    ['run --json --help', ['run', '--json', '--help']],
    ['run --json --version', ['run', '--json', '--version']],
  ])('a SIGTERM while the modules of %s load ends it: exit 143, nothing printed', async (name, args) => {
    const result = await spawnHoldingModules(name, args).signalWhileLoading('SIGTERM');
    expect([result.code, result.signal, result.stdout, result.stderr]).toEqual([143, null, '', '']);
    expect(existsSync(join(tmp.dir, 'never-created.duckdb'))).toBe(false);
  }, 60_000);

  // A usage error follows from the arguments alone, and with --json its FAILED document is promised whatever the
  // command. A signal while the modules loaded ended these with 143 and no document, the command being released first.
  it.each([
    ['show --json', ['show', '--json']],
    ['a missing command', ['--json']],
    ['a mistyped command', ['lod', '--json']],
  ])('%s is refused as a FAILED document even after an early SIGTERM, exit 2', async (name, args) => {
    const result = await spawnHoldingModules(name.replace(/\W+/g, '-'), args).signalWhileLoading('SIGTERM');
    expect([result.code, result.signal]).toEqual([2, null]);
    expect(document(result.stdout)).toMatchObject({ status: 'FAILED', error: { name: 'UsageError', exitCode: 2 } });
  }, 60_000);

  it('a second SIGINT while extracting leaves no run lock nor staged rows, and the next run does not report it as killed', async () => {
    // process.exit on the second signal skipped the lock's release: run.lock and the staged rows (customer data) stayed,
    // and the next run said "The previous run on this file did not finish …: it was killed or crashed (exit 137 …)".
    const box = await sandbox({ cases: 3000, widgets: 1, days: 30, faults: 'latencyMs=200' });
    try {
      const db = join(tmp.dir, 'second-signal-extracting.duckdb');
      let signalled = 0;
      const child = spawnBuilt(['run', '--json', '--resources', 'logs', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
      const result = await outcome(child, (stderr) => {
        // Some pages are staged by the third request's answer (its rows in <db>.staging/).
        if (signalled === 0 && (stderr.match(/GET .*logs.* 200/g) ?? []).length >= 3) {
          signalled = 1;
          child.kill('SIGINT');
          setTimeout(() => child.kill('SIGINT'), 20);
        }
      });
      expect(signalled).toBe(1);
      expect([result.code, result.signal]).toEqual([130, null]);
      expect(document(result.stdout)).toMatchObject({ status: 'FAILED', error: { exitCode: 130 } });
      expect(existsSync(`${db}.staging`)).toBe(false);

      // The next run loads all 3,000 cases: without the latency and the default 10 requests/s, which are there only to
      // make the first run slow enough to signal (4.7 → ~1.6 s).
      await admin(box, 'faults', { faults: '' });
      const next = await outcome(spawnBuilt(['run', '--json', '--config', LOGS_FAST, '--duckdb', db], { env: box.env, cwd: tmp.dir }));
      expect(next.code).toBe(0);
      expect(document(next.stdout).interruptedRun).toBeUndefined();
    } finally {
      await box.close();
    }
  }, 60_000);

  it('a second SIGINT during the commit stops it at once, with a FAILED document naming what was committed and the killed run before it, exit 130', async () => {
    const box = await sandbox({ cases: 4000, widgets: 1, days: 3 });
    try {
      const db = join(tmp.dir, 'second-signal.duckdb');
      // The lock of a run killed before this one: this run takes it over, and must say so however it ends. A second
      // signal's document left it out, and this run's exit releases the lock: no later run could say it either.
      mkdirSync(`${db}.staging`);
      const gone = spawnSync(process.execPath, ['-e', '']).pid;
      const killedAt = '2026-11-27T07:00:00.000Z';
      writeFileSync(join(`${db}.staging`, 'run.lock'), JSON.stringify({ pid: gone, host: hostname(), startedAt: killedAt, token: 'killed-run' }));
      let signalled = 0;
      // Without the rate limit: the 4,000 cases are there for a long commit, and extracting them needs no wait.
      const child = spawnBuilt(['run', '--json', '--config', LOGS_FAST, '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
      const result = await outcome(child, (stderr) => {
        // The commit's first step: the first signal lets the commit finish; the second, once that is said, stops it.
        if (signalled === 0 && /^load logs: /m.test(stderr)) {
          signalled = 1;
          child.kill('SIGINT');
        } else if (signalled === 1 && stderr.includes('SIGINT during the commit: finishing it first')) {
          signalled = 2;
          child.kill('SIGINT');
        }
      });
      expect(signalled).toBe(2);
      // Before: the second signal killed the process (code null, signal SIGINT), no line and no document.
      expect([result.code, result.signal]).toEqual([130, null]);
      const doc = document(result.stdout);
      expect(doc).toMatchObject({ status: 'FAILED', error: { name: 'AbortedError', exitCode: 130, message: expect.stringMatching(/^SIGINT again during the commit: stopped before it finished/) } });
      expect(doc.loadId).toMatch(/^\d+\.\d+$/);
      expect(result.stderr).toContain(`snapengage-pipeline: ${doc.error.message}\n`);
      expect(doc.interruptedRun).toEqual({ pid: gone, host: hostname(), startedAt: killedAt });
      expect(result.stderr).toContain(`snapengage-pipeline: note: The previous run on this file did not finish (PID ${gone} on ${hostname()}, started ${killedAt})`);
      // What the document says was committed is what the file holds: the commit cut short was rolled back.
      const loaded = await query(db, `SELECT resource FROM snapengage_data._pipeline_loads WHERE load_id = '${doc.loadId}' AND status = 'loaded'`);
      expect(loaded.map((r) => r.resource)).toEqual(doc.committedResources);
      const tables = await query(db, "SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'logs'");
      if (doc.committedResources.length === 0) expect(Number(tables[0]!.n)).toBe(0);
      else expect(Number((await query(db, 'SELECT count(*) AS n FROM snapengage_data.logs'))[0]!.n)).toBe((await truth(box)).length);
    } finally {
      await box.close();
    }
  }, 60_000);
});

describe('the --json documents, built from their parts', () => {
  it('a LOADED document commits only the resources loaded, not a parent extracted to drive its child', () => {
    const resources = [{ name: 'logs', loaded: false, requests: 1, pages: 1, records: 3 }, { name: 'chat_poll', loaded: true, requests: 3, pages: 3, records: 9 }];
    const info = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), { chat_poll: 9 }, {}, resources);
    expect(loadedDocument(info)).toMatchObject({ status: 'LOADED', committedResources: ['chat_poll'], rowCounts: { chat_poll: 9 } });
  });

  it("a FAILED document carries a destination error's code, for code to tell a locked file from a corrupt one", () => {
    const error = new DestinationError('opening db.duckdb: locked', 'locked', 'retry later', 'db.duckdb');
    const document = failedDocument({ error, message: error.message, exitCode: 1, startedAt: new Date(0) });
    expect(document).toMatchObject({ status: 'FAILED', loadId: null, committedResources: [], error: { message: error.message, exitCode: 1, code: 'locked' } });
  });

  it('masks secrets in keys as in values (a widget id or table name is a key there)', () => {
    const line = documentLine({ rowCounts: { 'tbl-SECRET': 1 }, note: 'has SECRET' }, (text) => text.replaceAll('SECRET', '***'));
    expect(line).toBe('{"rowCounts":{"tbl-***":1},"note":"has ***"}');
  });
});
