// The CLI as users run it (the built command as a child process): run + show, one-line errors with the right exit codes, .env reading
// with the environment taking precedence, --config modules, and no secret in any output.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { otherProcess, PACKAGE_DIR, runCli, sandbox, tempDir, truth, withQueries } from './helpers.js';

const oneLine = (text: string) => text.trim().split('\n').filter((l) => l.trim() !== '');

/** Row count of every table in the default dataset, the state rows and the load rows, in a comparable shape. */
async function snapshotDatabase(path: string) {
  // One connection for every count: opening the file per table cost ~20 ms each.
  return withQueries(path, async (run) => {
    const names = await run(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'snapengage_data' ORDER BY table_name`);
    const tables: Record<string, number> = {};
    for (const { table_name } of names) {
      const [row] = await run(`SELECT count(*) AS n FROM snapengage_data."${String(table_name)}"`);
      if (String(table_name) !== '_pipeline_loads') tables[String(table_name)] = Number(row?.n);
    }
    const state = await run(`SELECT resource, state, load_id FROM snapengage_data._pipeline_state ORDER BY resource`);
    const loads = await run(`SELECT load_id, resource, status, error FROM snapengage_data._pipeline_loads ORDER BY started_at, load_id, resource`);
    return { tables, state, loads };
  });
}

describe('snapengage-pipeline CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    box = await sandbox({ cases: 300, widgets: 2, days: 5 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('run loads logs and prints the load info; show lists tables, loads and state', async () => {
    const db = join(tmp.dir, 'cli.duckdb');
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', db, '--dataset', 'cli_data'], { env: box.env, cwd: tmp.dir });
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('1 load package(s) were loaded to destination duckdb and into dataset cli_data');
    expect(run.stdout).toMatch(/Load package \d+\.\d+ is LOADED and contains no failed jobs/);
    expect(run.stdout).toMatch(new RegExp(`logs\\s+${(await truth(box)).length}`));
    // How fresh the data is, per widget, in the load info too.
    for (const widget of box.env.SNAPENGAGE_WIDGET_ID!.split(',')) expect(run.stdout).toMatch(new RegExp(`^  logs  ${widget}  lastEnd \\S+  newest record \\S+Z`, 'm'));

    const show = await runCli(['show', '--duckdb', db, '--dataset', 'cli_data'], { env: {}, cwd: tmp.dir });
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/logs\s+300 rows/);
    expect(show.stdout).toContain('logs__transcripts');
    expect(show.stdout).toMatch(/id VARCHAR/i);
    expect(show.stdout).toMatch(/\d+\.\d+\s+logs\s+\S+/);
    for (const widget of box.env.SNAPENGAGE_WIDGET_ID!.split(',')) expect(show.stdout).toMatch(new RegExp(`logs\\s+${widget}\\s+lastEnd \\d{4}-\\d{2}-\\d{2}  newest record \\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z \\(created_at_seconds \\d+\\)`));
  });

  it('--verbose logs every request with a redacted URL and no secret', async () => {
    const db = join(tmp.dir, 'verbose.duckdb');
    const run = await runCli(['run', '--resources', 'widgets', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/widget\.json\S* → 200 \d+ ms/);
    // Where the load step's time goes: each commit step with its table, rows and duration.
    const widgets = Number(/widgets\s+(\d+)/.exec(run.stdout)?.[1]);
    expect(widgets).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/^load widgets: schema \d+\.\d\d s$/m);
    expect(run.stderr).toContain(`load widgets: insert widgets ${widgets} rows `);
    expect(run.stderr).toMatch(/^load widgets: commit \d+\.\d\d s$/m);
    // A rerun merges: records stored exactly as fetched again are found unchanged, and nothing is deleted or written.
    const rerun = await runCli(['run', '--resources', 'widgets', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
    expect(rerun.code).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`^load widgets: compare ${widgets} unchanged records \\d+\\.\\d\\d s$`, 'm'));
    expect(rerun.stderr).toMatch(/^load widgets: delete 0 rows \d+\.\d\d s$/m);
    expect(rerun.stderr).not.toMatch(/^load widgets: insert/m);
    expect(rerun.stdout).toContain(`Unchanged records, already stored as fetched (not rewritten): widgets ${widgets}`);
    for (const secret of [box.env.SNAPENGAGE_API_TOKEN, box.env.SNAPENGAGE_API_KEY, box.env.SNAPENGAGE_PROVISIONING_KEY]) {
      expect(run.stderr + run.stdout + rerun.stderr).not.toContain(secret);
    }
  });

  it('a wrong credential is one line naming the env var, exit 1, and a new database file is not left behind', async () => {
    const db = join(tmp.dir, 'wrong.duckdb');
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token' }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    const lines = oneLine(run.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^snapengage-pipeline: Extracting logs failed: .*HTTP 401.*SNAPENGAGE_API_TOKEN/);
    // The sandbox's 401 body says what is wrong with the token; the line quotes it.
    expect(lines[0]).toContain('; the server said: {"error":"missing or wrong API token');
    expect(run.stderr).not.toContain('not-the-token');
    for (const file of [db, `${db}.wal`, `${db}.staging`]) expect(existsSync(file)).toBe(false);
  });

  it('a wrong credential on an existing database changes no data table; only a failed load row is added', async () => {
    const db = join(tmp.dir, 'kept.duckdb');
    const good = await runCli(['run', '--resources', 'logs', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(good.code).toBe(0);
    const before = await snapshotDatabase(db);
    expect(before.tables.logs).toBe((await truth(box)).length);

    const run = await runCli(['run', '--resources', 'logs', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token' }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    const after = await snapshotDatabase(db);
    expect(after.tables).toEqual(before.tables);
    expect(after.state).toEqual(before.state);
    expect(after.loads.slice(0, before.loads.length)).toEqual(before.loads);
    const added = after.loads.slice(before.loads.length);
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({ resource: 'logs', status: 'failed' });
    expect(String(added[0]?.error)).toContain('HTTP 401');
    expect(String(added[0]?.error)).not.toContain('not-the-token');
  });

  it('a DuckDB file locked by another process is one line, exit 1, and the file is unchanged', async () => {
    const db = join(tmp.dir, 'locked.duckdb');
    const good = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(good.code).toBe(0);
    const before = await snapshotDatabase(db);
    const holder = await otherProcess(db);
    try {
      const bytes = readFileSync(db);
      // A run waits SNAPENGAGE_DUCKDB_LOCK_WAIT seconds (default 60) for the file, saying so, then gives up.
      const run = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_DUCKDB_LOCK_WAIT: '1' }, cwd: tmp.dir });
      expect(run.code).toBe(1);
      const lines = oneLine(run.stderr);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatch(/^snapengage-pipeline: DuckDB file \S*locked\.duckdb is in use \(PID \d+\); waiting up to 1 s for it to be closed$/);
      expect(lines[1]).toMatch(/^snapengage-pipeline: .*DuckDB file \S*locked\.duckdb is locked by another process \(PID \d+\), still after 1 s: close the program .* or raise SNAPENGAGE_DUCKDB_LOCK_WAIT \(seconds\), then retry$/);
      expect(readFileSync(db).equals(bytes)).toBe(true);
    } finally {
      await holder.release();
    }
    expect(await snapshotDatabase(db)).toEqual(before);
  });

  it('an unknown resource exits 2 and lists the valid ones', async () => {
    const run = await runCli(['run', '--resources', 'logs,bogus'], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(2);
    expect(oneLine(run.stderr)).toEqual([
      'snapengage-pipeline: Unknown resource "bogus"; valid resources: logs, chat_availability, chat_poll, visitor_typing, widgets, users',
    ]);
    const flag = await runCli(['run', '--bogus'], { env: {}, cwd: tmp.dir });
    expect(flag.code).toBe(2);
    expect(oneLine(flag.stderr)).toEqual(["snapengage-pipeline: Unknown option '--bogus' (see --help)"]);
  });

  it("start_chat, a resource of dlt's SnapEngage page, is refused with the reason, from --resources (exit 2) and from a config (exit 1)", async () => {
    const valid = 'valid resources: logs, chat_availability, chat_poll, visitor_typing, widgets, users';
    const why = '"start_chat" (POST /api/v1/chat) starts a chat; it changes state on the server, so it is never loaded: call it with snapengage-client';
    const db = join(tmp.dir, 'start-chat.duckdb');
    const run = await runCli(['run', '--resources', 'logs,start_chat,bogus', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(2);
    expect(oneLine(run.stderr)).toEqual([`snapengage-pipeline: Unknown resource "bogus"; ${why}; ${valid}`]);
    const config = join(tmp.dir, 'start-chat.config.mjs');
    writeFileSync(config, 'export default { resources: { logs: true, start_chat: true } };\n');
    const fromConfig = await runCli(['run', '--config', config, '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(fromConfig.code).toBe(1);
    expect(oneLine(fromConfig.stderr)).toEqual([`snapengage-pipeline: ${why} (in the pipeline config); ${valid}`]);
    expect(existsSync(db)).toBe(false);
  });

  it("dlt's `dlt pipeline <name> show`, typed from habit, is answered with the command to use here (exit 2)", async () => {
    const dlt = await runCli(['pipeline', 'snapengage_pipeline', 'show'], { env: {}, cwd: tmp.dir });
    expect(dlt.code).toBe(2);
    expect(oneLine(dlt.stderr)).toEqual([
      "snapengage-pipeline: Unknown command \"pipeline\": dlt's `dlt pipeline <name> show` is `snapengage-pipeline show` here (`npm run show` in a project), with no pipeline name; use run or show (see --help)",
    ]);
    // dlt's `dlt pipeline <name> drop [resources]`: here a refresh reloads them, replacing their tables at its commit.
    const drop = await runCli(['pipeline', 'snapengage_pipeline', 'drop', 'logs', 'users'], { env: {}, cwd: tmp.dir });
    expect(drop.code).toBe(2);
    expect(oneLine(drop.stderr)).toEqual([
      "snapengage-pipeline: Unknown command \"pipeline\": dlt's `dlt pipeline <name> drop` is `snapengage-pipeline run --refresh --resources logs,users` here (`npm start -- --refresh --resources logs,users` in a project), with no pipeline name: it reloads them, replacing their tables at its commit (there is no separate drop); use run or show (see --help)",
    ]);
    const dropNone = await runCli(['pipeline', 'snapengage_pipeline', 'drop'], { env: {}, cwd: tmp.dir });
    expect(oneLine(dropNone.stderr)[0]).toContain('is `snapengage-pipeline run --refresh --resources <name>` here');
    const named = await runCli(['show', 'snapengage_pipeline'], { env: {}, cwd: tmp.dir });
    expect(named.code).toBe(2);
    expect(oneLine(named.stderr)).toEqual([
      'snapengage-pipeline: Unexpected argument "snapengage_pipeline": show takes no pipeline name (it reads --duckdb, else the destination of the config, else snapengage.duckdb) (see --help)',
    ]);
    const resource = await runCli(['run', 'logs'], { env: {}, cwd: tmp.dir });
    expect(resource.code).toBe(2);
    expect(oneLine(resource.stderr)).toEqual(['snapengage-pipeline: Unexpected argument "logs": to load only it, use --resources logs (see --help)']);
    const other = await runCli(['bogus'], { env: {}, cwd: tmp.dir });
    expect(oneLine(other.stderr)).toEqual(['snapengage-pipeline: Unknown command "bogus": use run or show (see --help)']);
  });

  it('a `--` passed through by a package manager (`yarn start -- --resources logs` on yarn 2+) is not an argument', async () => {
    const missing = join(tmp.dir, 'nowhere.duckdb');
    const plain = await runCli(['show', '--duckdb', missing], { env: {}, cwd: tmp.dir });
    const passed = await runCli(['show', '--', '--duckdb', missing], { env: {}, cwd: tmp.dir });
    expect(plain.code).toBe(1);
    expect(passed.code).toBe(plain.code);
    expect(passed.stderr).toBe(plain.stderr);
    // A `--` that is an option's value stays that value.
    const asValue = await runCli(['show', '--dataset', '--', '--duckdb', missing], { env: {}, cwd: tmp.dir });
    expect(asValue.stderr).not.toContain('Unexpected argument');
  });

  it('--version prints the package version', async () => {
    const run = await runCli(['--version'], { env: {}, cwd: tmp.dir });
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 0, stdout: `${pkg.version}\n` });
  });

  // -V and --version are the version in the three tools (loader, scaffolder, sandbox); -v is --verbose here, as run
  // has long taken it (the others have no verbose mode, and their -v is the version, as npm's and node's is).
  it('-V prints the version, -v is --verbose, and --help says both; -v alone says where the version is', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    const short = await runCli(['-V'], { env: {}, cwd: tmp.dir });
    expect({ code: short.code, stdout: short.stdout }).toEqual({ code: 0, stdout: `${pkg.version}\n` });
    const help = await runCli(['--help'], { env: {}, cwd: tmp.dir });
    expect(help.stdout).toMatch(/\[-v\|--verbose\]/);
    expect(help.stdout).toContain('snapengage-pipeline -h, --help | -V, --version');
    expect(help.stdout).toContain('  -v, --verbose     every request, retry and load step on stderr (not the version: that is -V or --version)');
    const alone = await runCli(['-v'], { env: {}, cwd: tmp.dir });
    expect(alone.code).toBe(2);
    expect(oneLine(alone.stderr)[0]).toBe('snapengage-pipeline: Missing command: run or show (-v is --verbose, for run; the version is -V or --version)');
  });

  it('--help says what each flag of the usage lines does, one Options line each (before, only the usage lines)', async () => {
    const help = await runCli(['--help'], { env: {}, cwd: tmp.dir });
    const [usage, rest] = help.stdout.split('\nOptions:\n');
    const flags = [...new Set([...usage!.matchAll(/\[(-v\|)?(--[a-z-]+)/g)].map((m) => m[2]!))];
    expect(flags).toEqual(['--resources', '--duckdb', '--dataset', '--config', '--verbose', '--limit-pages', '--refresh', '--json']);
    const options = rest!.split('\n\n')[0]!.split('\n');
    for (const flag of flags) expect(options.some((line) => new RegExp(`(^  |[ ,;] )${flag}\\b`).test(line)), flag).toBe(true);
  });

  it("show refuses each of run's own flags in one line, exit 2; `help` is the usage, as --help", async () => {
    for (const flag of [['--resources', 'logs'], ['--limit-pages', '1'], ['--refresh'], ['--json']]) {
      const refused = await runCli(['show', ...flag], { env: {}, cwd: tmp.dir });
      expect({ code: refused.code, line: oneLine(refused.stderr).at(-1) }, flag[0]).toEqual({ code: 2, line: 'snapengage-pipeline: show takes only --duckdb, --dataset and --config' });
    }
    const help = await runCli(['help'], { env: {}, cwd: tmp.dir });
    expect({ code: help.code, stderr: help.stderr }).toEqual({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage:\n {2}snapengage-pipeline run /);
  });

  it('an unreachable base URL is one line, exit 1', async () => {
    // One retry after a short backoff, so the test does not sit through the default one.
    writeFileSync(join(tmp.dir, 'few-retries.mjs'), `export const pipeline = { resources: { users: true }, connection: { maxRetries: 1, retryBaseDelayMs: 20 } };\n`);
    // A port that was just free: nothing listens there (port 9 would be refused by fetch itself, as a "bad port").
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const run = await runCli(['run', '--config', 'few-retries.mjs', '--duckdb', join(tmp.dir, 'down.duckdb')], {
      env: { ...box.env, SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}` },
      cwd: tmp.dir,
    });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toHaveLength(1);
    // The cause says why: here a refused connection.
    expect(run.stderr).toContain(`cannot reach http://127.0.0.1:${port} after 1 retry (fetch failed ← connect ECONNREFUSED 127.0.0.1:${port}): check SNAPENGAGE_BASE_URL`);
  });

  it('a per-record child against the local sandbox under the default rate limit gets one note line first; with a rate set, none', async () => {
    const small = await sandbox({ cases: 8, widgets: 1, days: 2 });
    try {
      writeFileSync(join(tmp.dir, 'poll.mjs'), `export default { resources: { chat_poll: true } };\n`);
      writeFileSync(join(tmp.dir, 'poll-fast.mjs'), `export default { resources: { chat_poll: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
      const run = await runCli(['run', '--config', 'poll.mjs', '--duckdb', join(tmp.dir, 'poll.duckdb')], { env: small.env, cwd: tmp.dir });
      expect(run.code, run.stderr).toBe(0);
      const notes = oneLine(run.stderr).filter((line) => !line.startsWith('[progress'));
      expect(notes).toEqual([
        `snapengage-pipeline: note: chat_poll makes one request per record of logs, at most 10 requests/s (the default rateLimit, polite to the real API) also against the local server ${small.url}; to go faster there, set rateLimit: { requestsPerSecond: 0 } in the pipeline config (poll.mjs)`,
      ]);
      // --resources without any config: the note says which file to write, since there is no config to edit.
      const bare = await runCli(['run', '--resources', 'chat_poll', '--duckdb', join(tmp.dir, 'poll-bare.duckdb')], { env: small.env, cwd: tmp.dir });
      expect(bare.code, bare.stderr).toBe(0);
      expect(oneLine(bare.stderr).filter((line) => line.includes('note:'))).toEqual([
        expect.stringMatching(/; to go faster there, write a pipeline config src\/pipeline\.ts \(read by default\): export default \{ resources: \{ chat_poll: true \}, rateLimit: \{ requestsPerSecond: 0 \} \}$/),
      ]);
      const fast = await runCli(['run', '--config', 'poll-fast.mjs', '--duckdb', join(tmp.dir, 'poll-fast.duckdb')], { env: small.env, cwd: tmp.dir });
      expect(fast.code, fast.stderr).toBe(0);
      expect(fast.stderr).not.toContain('note:');
    } finally {
      await small.close();
    }
  });

  it('reads .env from the working directory, the environment winning; loads --config modules', async () => {
    const dir = tempDir('sepipe-env-');
    try {
      const { SNAPENGAGE_API_TOKEN, ...rest } = box.env;
      writeFileSync(
        join(dir.dir, '.env'),
        Object.entries({ ...rest, SNAPENGAGE_API_TOKEN: SNAPENGAGE_API_TOKEN!, SNAPENGAGE_ORG_ID: 'wrong-org-in-dotenv' })
          .map(([k, v]) => `${k}=${v}`)
          .join('\n'),
      );
      // A config module written like the scaffolder's src/pipeline.ts (default export of a config object).
      writeFileSync(join(dir.dir, 'pipeline.ts'), `export default { resources: { logs: true }, destination: { type: 'duckdb', path: 'from-config.duckdb' } } as const;\n`);
      const run = await runCli(['run', '--config', 'pipeline.ts'], { env: { SNAPENGAGE_ORG_ID: box.env.SNAPENGAGE_ORG_ID! }, cwd: dir.dir });
      expect(run.stderr).not.toMatch(/error|warning/i);
      expect(run.code).toBe(0);
      expect(run.stdout).toContain('duckdb:/from-config.duckdb');

      const wrong = await runCli(['run', '--config', 'pipeline.ts'], { env: {}, cwd: dir.dir });
      // The .env org id is wrong: proves .env was read when the env has none. The file holds the right org's loads,
      // so the run is refused before any request, naming the org .env gave (dataset-org.ts).
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/this run is for org wrong-org-in-dotenv \(SNAPENGAGE_ORG_ID\)/);
    } finally {
      dir.cleanup();
    }
  });

  it('a missing env var is one line before any request; a missing --config file is a usage error', async () => {
    const run = await runCli(['run', '--resources', 'logs'], { env: { SNAPENGAGE_API_TOKEN: 'x' }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain('Missing environment variables SNAPENGAGE_ORG_ID (needed by logs; Admin Dashboard → My Account → API Token page)');
    const config = await runCli(['run', '--config', 'nope.ts'], { env: {}, cwd: PACKAGE_DIR });
    expect(config.code).toBe(2);
    expect(config.stderr).toContain('--config nope.ts: file not found');
  });

  it("missing credentials in a project point whoever has no account to its README's sandbox section, by its heading", async () => {
    // The scaffolder's README template as it is: the heading quoted must be the real one (README.md.hbs).
    const template = readFileSync(join(PACKAGE_DIR, '..', '..', 'templates', 'project', 'README.md.hbs'), 'utf8');
    expect(template).toMatch(/^## Try it without an account$/m);
    const project = tempDir('sepipe-no-account-');
    try {
      writeFileSync(join(project.dir, 'README.md'), template);
      writeFileSync(join(project.dir, '.env.example'), 'SNAPENGAGE_API_TOKEN=\n');
      mkdirSync(join(project.dir, 'src'));
      writeFileSync(join(project.dir, 'src', 'pipeline.ts'), 'export default { resources: { logs: true } };\n');
      const hint = `no account yet? ${join(project.dir, 'README.md')}, "Try it without an account", loads from a local SnapEngage emulator instead`;
      for (const cwd of [project.dir, join(project.dir, 'src')]) {
        const run = await runCli(['run'], { env: {}, cwd });
        expect(run.code).toBe(1);
        expect(oneLine(run.stderr)).toHaveLength(1);
        expect(run.stderr).toMatch(/^snapengage-pipeline: .*SNAPENGAGE_API_TOKEN/);
        expect(run.stderr).toContain(hint);
      }
      // Without such a README (the command run elsewhere), no hint.
      const elsewhere = await runCli(['run', '--resources', 'logs'], { env: {}, cwd: tmp.dir });
      expect(elsewhere.stderr).not.toContain('no account yet');
    } finally {
      project.cleanup();
    }
  });

  it('run from a directory inside a project names the project, instead of asking for a .env there', async () => {
    // `npx snapengage-pipeline run` in a project's src/: the message said "there is no <project>/src/.env: create it
    // with KEY=value lines", sending the user to write credentials in the wrong place; show said only "No DuckDB file".
    const project = join(tmp.dir, 'nested-project');
    mkdirSync(join(project, 'src', 'deep'), { recursive: true });
    writeFileSync(join(project, 'src', 'pipeline.ts'), "export default { resources: { logs: true } };\n");
    writeFileSync(join(project, '.env.example'), 'SNAPENGAGE_API_TOKEN=\n');
    const cwd = join(project, 'src', 'deep');
    const run = await runCli(['run'], { env: {}, cwd });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toHaveLength(1);
    expect(run.stderr).toContain(`the project is ${project} (it has src/pipeline.ts): run from there`);
    expect(run.stderr).not.toContain('create it with KEY=value lines');
    const show = await runCli(['show'], { env: {}, cwd });
    expect(show.code).toBe(1);
    expect(show.stderr).toContain(`the project is ${project} (it has src/pipeline.ts): run from there`);
  });

  it('run from a project’s own directory that sits inside another directory with a src/pipeline.ts: the usual advice', async () => {
    // src/pipeline.ts is a common name: a project scaffolded into a repo that has one (its own app's) is run from its
    // own directory, and was told to go to the repo instead.
    const outer = join(tmp.dir, 'outer-repo');
    const project = join(outer, 'tools', 'snapengage');
    for (const dir of [outer, project]) {
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'src', 'pipeline.ts'), 'export default { resources: { logs: true } };\n');
    }
    writeFileSync(join(project, '.env.example'), 'SNAPENGAGE_API_TOKEN=\n');
    const run = await runCli(['run'], { env: {}, cwd: project });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain('the project is');
    expect(run.stderr).toContain(`copy ${join(project, '.env.example')} to .env`);
    const show = await runCli(['show'], { env: {}, cwd: project });
    expect(show.code).toBe(1);
    expect(show.stderr).not.toContain('the project is');
    expect(show.stderr).toContain('load it first');
  });
});
