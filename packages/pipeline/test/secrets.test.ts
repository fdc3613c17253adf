// Secrets audit of the loader: with the sandbox's real credentials, no failure puts one in the CLI's output (stdout,
// stderr, --verbose) or in the DuckDB file (`_pipeline_loads.error` and every other table).
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { admin, otherProcess, query, runCli, sandbox, tempDir, withQueries } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let secrets: string[];

beforeAll(async () => {
  box = await sandbox({ cases: 150, widgets: 1, days: 5 });
  tmp = tempDir();
  secrets = [box.env.SNAPENGAGE_API_TOKEN!, box.env.SNAPENGAGE_API_KEY!, box.env.SNAPENGAGE_PROVISIONING_KEY!];
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

/** Every row of every table of the file, as JSON text (one connection: a file opened per table cost ~20 ms each). */
async function dumpDatabase(path: string): Promise<string> {
  return withQueries(path, async (run) => {
    let out = '';
    for (const t of await run(`SELECT table_schema, table_name FROM information_schema.tables`)) {
      out += `${JSON.stringify(await run(`SELECT * FROM "${String(t.table_schema)}"."${String(t.table_name)}"`))}\n`;
    }
    return out;
  });
}

function expectNoSecret(label: string, text: string): void {
  for (const secret of secrets) expect(text.includes(secret), `${label} quotes a credential`).toBe(false);
}

describe('no credential in the loader’s output or DuckDB file', () => {
  it('a credential with a line break inside (a multi-line quoted .env value) fails as a config error that does not quote it', async () => {
    const db = join(tmp.dir, 'linebreak.duckdb');
    // An existing database, so the failed load is recorded in _pipeline_loads.
    const first = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(first.code).toBe(0);
    const dir = tempDir('sepipe-env-');
    try {
      // util.parseEnv expands \n inside double quotes: the value holds the real token, a line break, and more.
      writeFileSync(join(dir.dir, '.env'), `SNAPENGAGE_API_TOKEN="${box.env.SNAPENGAGE_API_TOKEN}\\nrest"\n`);
      const { SNAPENGAGE_API_TOKEN: _fromEnvFile, ...env } = box.env;
      const run = await runCli(['run', '--resources', 'logs', '--duckdb', db, '--verbose'], { env: env as Record<string, string>, cwd: dir.dir });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/Extracting logs failed: .*SNAPENGAGE_API_TOKEN.*line break/);
      expectNoSecret('CLI output', run.stdout + run.stderr);
      const loads = await query(db, `SELECT resource, status, error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
      expect(loads).toHaveLength(1);
      expect(String(loads[0]?.error)).toContain('SNAPENGAGE_API_TOKEN');
      expectNoSecret('DuckDB file', await dumpDatabase(db));
    } finally {
      dir.cleanup();
    }
  });

  it('a base URL that does not parse is not echoed with the password it carries', async () => {
    // A user:password base URL with a bad port: the password is the sandbox's real token.
    const baseUrl = `http://user:${box.env.SNAPENGAGE_API_TOKEN}@127.0.0.1:99999`;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'baseurl.duckdb')], { env: { ...box.env, SNAPENGAGE_BASE_URL: baseUrl }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('SNAPENGAGE_BASE_URL (or connection.baseUrl) is not a URL: "http://***@127.0.0.1:99999"');
    expectNoSecret('CLI output', run.stdout + run.stderr);
  });

  it('the account email of the Provisioning API keeps only its first letter and domain in --verbose, errors and the file', async () => {
    const db = join(tmp.dir, 'email.duckdb');
    const ok = await runCli(['run', '--resources', 'widgets,users', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir });
    expect(ok.code).toBe(0);
    const [local, domain] = box.env.SNAPENGAGE_EMAIL!.split('@') as [string, string];
    expect(ok.stderr).toContain(`email=${local[0]}***%40${domain}`);
    expect(ok.stderr).not.toContain(`email=${local}%40`);
    // An email the API does not know: a 404 whose message quotes the request URL, stored in _pipeline_loads too.
    const bad = await runCli(['run', '--resources', 'widgets', '--duckdb', db, '--verbose'], { env: { ...box.env, SNAPENGAGE_EMAIL: 'bob.secret@corp.example' }, cwd: tmp.dir });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Extracting widgets failed: .*email=b\*\*\*%40corp\.example/);
    expect(bad.stdout + bad.stderr).not.toContain('bob.secret');
    const loads = await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
    expect(loads).toHaveLength(1);
    expect(String(loads[0]?.error)).toContain('b***%40corp.example');
    expect(String(loads[0]?.error)).not.toContain('bob.secret');
  });

  it("a refused key's error keeps the address to ask for one (the spec's howToGet), while the account email is reduced", async () => {
    const db = join(tmp.dir, 'refused-key.duckdb');
    for (const [resource, variable] of [['users', 'SNAPENGAGE_PROVISIONING_KEY'], ['chat_availability', 'SNAPENGAGE_API_KEY']] as const) {
      const run = await runCli(['run', '--resources', resource, '--duckdb', db], { env: { ...box.env, [variable]: 'wrong-key-value' }, cwd: tmp.dir });
      expect(run.code).toBe(1);
      // Before: 'Request a … API key from s***@snapengage.com', which tells nobody where to write.
      expect(run.stderr).toContain(`check ${variable} (Request a `);
      expect(run.stderr).toContain('API key from support@snapengage.com');
      expect(run.stderr).not.toContain(box.env.SNAPENGAGE_EMAIL!);
      expectNoSecret('CLI output', run.stdout + run.stderr);
    }
  });

  it('a credential pasted into SNAPENGAGE_WIDGET_ID is not named in the 404 that names the widget, its error or _pipeline_loads', async () => {
    const db = join(tmp.dir, 'widget-list.duckdb');
    expect((await runCli(['run', '--resources', 'logs', '--duckdb', db], { env: box.env, cwd: tmp.dir })).code).toBe(0);
    // The token pasted as a second widget of the list: its request is answered 404 (the client masks
    // it in the URL), and the loader's message names that widget and its place in the list.
    const env = { ...box.env, SNAPENGAGE_WIDGET_ID: `${box.env.SNAPENGAGE_WIDGET_ID},${box.env.SNAPENGAGE_API_TOKEN}` } as Record<string, string>;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', db, '--verbose'], { env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/widget \*\*\* \(item 2 of 2 in SNAPENGAGE_WIDGET_ID\)/);
    expectNoSecret('CLI output', run.stdout + run.stderr);
    const loads = await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
    expect(loads).toHaveLength(1);
    expect(String(loads[0]?.error)).toContain('item 2 of 2 in SNAPENGAGE_WIDGET_ID');
    expectNoSecret('DuckDB file', await dumpDatabase(db));
    // From code, the thrown error is the one line too, and no CLI masks it.
    const error = await runPipeline({ resources: { logs: true } }, { env, destination: { path: join(tmp.dir, 'widget-list-api.duckdb') } }).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toContain('item 2 of 2 in SNAPENGAGE_WIDGET_ID');
    expectNoSecret('error message', `${error?.message} ${JSON.stringify(error)}`);
  });

  it('a credential quoted by a config step that throws is masked in _pipeline_loads.error, as on stderr', async () => {
    const db = join(tmp.dir, 'step.duckdb');
    expect((await runCli(['run', '--resources', 'logs', '--duckdb', db], { env: box.env, cwd: tmp.dir })).code).toBe(0);
    writeFileSync(join(tmp.dir, 'step.mjs'), 'export default { resources: { logs: { steps: [{ map: () => { throw new Error(`refused for ${process.env.SNAPENGAGE_API_TOKEN}`); } }] } } };\n');
    const run = await runCli(['run', '--config', 'step.mjs', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('resources.logs.steps[0] threw: refused for ***');
    const loads = await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
    expect(loads).toHaveLength(1);
    expect(String(loads[0]?.error)).toContain('resources.logs.steps[0] threw: refused for ***');
    expectNoSecret('DuckDB file', await dumpDatabase(db));
  });

  it('SNAPENGAGE_DEBUG prints an unexpected error with its stack, a credential in it masked as on the error line', async () => {
    // A getter that throws is no ConfigError the loader makes: it reaches the CLI as an unexpected error.
    writeFileSync(join(tmp.dir, 'getter.mjs'), 'export default { get resources() { throw new TypeError(`refused for ${process.env.SNAPENGAGE_API_TOKEN}`); } };\n');
    const run = await runCli(['run', '--config', 'getter.mjs', '--duckdb', join(tmp.dir, 'getter.duckdb')], { env: { ...box.env, SNAPENGAGE_DEBUG: '1' } as Record<string, string>, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('snapengage-pipeline: unexpected error: refused for ***');
    expect(run.stderr).toMatch(/TypeError: refused for \*\*\*\n\s+at /);
    expectNoSecret('CLI output', run.stdout + run.stderr);
  });

  it('an uncaught error or unhandled rejection of config code is the one masked error line (and the FAILED document), not Node\'s trace', async () => {
    // A map step's promise nobody awaits, and a config module's timer: no code of the run can catch either, and Node
    // printed its trace with the credential in it (and, with --json, no document on stdout).
    writeFileSync(join(tmp.dir, 'unawaited.mjs'), 'export default { resources: { widgets: { steps: [{ map: (r) => { Promise.reject(new Error(`async refused ${process.env.SNAPENGAGE_API_TOKEN}`)); return r; } }] } } };\n');
    writeFileSync(join(tmp.dir, 'timer.mjs'), 'setTimeout(() => { throw new TypeError(`timer threw ${process.env.SNAPENGAGE_PROVISIONING_KEY}`); }, 1);\nexport default { resources: { widgets: true } };\n');
    for (const [file, said] of [['unawaited.mjs', 'async refused ***'], ['timer.mjs', 'timer threw ***']] as const) {
      const run = await runCli(['run', '--config', file, '--duckdb', join(tmp.dir, 'uncaught.duckdb'), '--json'], { env: box.env, cwd: tmp.dir });
      expect(run.code, file).toBe(1);
      expect(run.stderr, file).toContain(`snapengage-pipeline: unexpected error: ${said}\n`);
      const document = JSON.parse(run.stdout) as { status: string; error: { message: string } };
      expect(document.status, file).toBe('FAILED');
      expect(document.error.message, file).toBe(`unexpected error: ${said}`);
      expectNoSecret(file, run.stdout + run.stderr);
    }
  });

  it('a process warning quoting a credential (a step\'s process.emitWarning) is printed by Node masked', async () => {
    writeFileSync(join(tmp.dir, 'warns.mjs'), 'export default { resources: { widgets: { steps: [{ map: (r) => { process.emitWarning(`odd key ${process.env.SNAPENGAGE_API_KEY}`); return r; } }] } } };\n');
    const run = await runCli(['run', '--config', 'warns.mjs', '--duckdb', join(tmp.dir, 'warns.duckdb')], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/\(node:\d+\) Warning: odd key \*\*\*\n/);
    expectNoSecret('CLI output', run.stdout + run.stderr);
  });

  it('a credential set only in .env is masked too, in what a config module says with it', async () => {
    // The last line of defence (cli-mask.ts) masks the values of .env, not only the environment's: a config module
    // that reads .env for settings of its own, and throws quoting a line of it.
    const dir = tempDir('sepipe-env-only-');
    try {
      writeFileSync(join(dir.dir, '.env'), `SNAPENGAGE_API_TOKEN=${box.env.SNAPENGAGE_API_TOKEN}\n`);
      writeFileSync(join(dir.dir, 'reads-env.mjs'), "import { readFileSync } from 'node:fs';\nthrow new Error(`unexpected setting: ${readFileSync('.env', 'utf8').trim()}`);\n");
      const { SNAPENGAGE_API_TOKEN: _fromEnvFile, ...env } = box.env;
      for (const json of [[], ['--json']]) {
        const run = await runCli(['run', '--config', 'reads-env.mjs', '--duckdb', join(dir.dir, 'env-only.duckdb'), ...json], { env: env as Record<string, string>, cwd: dir.dir });
        expect(run.code).toBe(1);
        expect(run.stdout + run.stderr).toContain('unexpected setting: SNAPENGAGE_API_TOKEN=***');
        expectNoSecret('CLI output', run.stdout + run.stderr);
      }
    } finally {
      dir.cleanup();
    }
  });

  it("a warning's code, detail and stack (--trace-warnings) are printed masked too", async () => {
    writeFileSync(join(tmp.dir, 'warns-more.mjs'), 'export default { resources: { widgets: { steps: [{ map: (r) => { const k = process.env.SNAPENGAGE_API_KEY; process.emitWarning(new Error(`odd key ${k}`).message, { code: `KEY_${k}`, detail: `detail ${k}` }); return r; } }] } } };\n');
    const run = await runCli(['run', '--config', 'warns-more.mjs', '--duckdb', join(tmp.dir, 'warns-more.duckdb')], { env: box.env, cwd: tmp.dir, nodeArgs: ['--trace-warnings'] });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/\(node:\d+\) \[KEY_\*\*\*\] Warning: odd key \*\*\*\n {4}at /);
    expect(run.stderr).toContain('detail ***');
    expectNoSecret('CLI output', run.stdout + run.stderr);
  });

  it('two .env lines joined into one (a pasted line, a file without a final newline) are refused without echoing the key they swallowed', async () => {
    const dir = tempDir('sepipe-joined-');
    try {
      const [firstWidget] = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      // The swallowed variable is in no variable of its own, so the CLI's last line does not know it to mask it; a
      // widget id holding it would also go to the server in every request URL.
      const joined: Array<[string, string, string, string]> = [
        ['SNAPENGAGE_WIDGET_ID', `${firstWidget} SNAPENGAGE_PROVISIONING_KEY=${box.env.SNAPENGAGE_PROVISIONING_KEY}`, 'SNAPENGAGE_PROVISIONING_KEY', 'chat_availability'],
        ['SNAPENGAGE_WIDGET_ID', `${firstWidget}SNAPENGAGE_API_KEY=${box.env.SNAPENGAGE_API_KEY}`, 'SNAPENGAGE_API_KEY', 'logs'],
        ['SNAPENGAGE_START_DATE', `${box.env.SNAPENGAGE_START_DATE} SNAPENGAGE_PROVISIONING_KEY=${box.env.SNAPENGAGE_PROVISIONING_KEY}`, 'SNAPENGAGE_PROVISIONING_KEY', 'logs'],
      ];
      for (const [name, value, swallowed, resource] of joined) {
        const { [name]: _joined, [swallowed]: _swallowed, ...rest } = box.env;
        writeFileSync(join(dir.dir, '.env'), `${name}=${value}\n`);
        const run = await runCli(['run', '--resources', resource, '--duckdb', join(dir.dir, 'joined.duckdb')], { env: rest as Record<string, string>, cwd: dir.dir });
        expect(run.code, value).toBe(1);
        expect(run.stderr, value).toContain(`${name} holds a second assignment (${swallowed}=…)`);
        expectNoSecret(value, run.stdout + run.stderr);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('a credential pasted into the --duckdb path is masked in the load info and show, as in an error line', async () => {
    const db = join(tmp.dir, `${box.env.SNAPENGAGE_API_TOKEN}.duckdb`);
    const run = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('***.duckdb');
    const show = await runCli(['show', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(show.code).toBe(0);
    expectNoSecret('CLI output', run.stdout + run.stderr + show.stdout + show.stderr);
    // The line that says the run waits for another program to close the file (shown with or without --verbose).
    const holder = await otherProcess(db);
    try {
      const waited = await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: { ...box.env, SNAPENGAGE_DUCKDB_LOCK_WAIT: '1' }, cwd: tmp.dir });
      expect(waited.code).toBe(1);
      expect(waited.stderr).toMatch(/^snapengage-pipeline: DuckDB file \S*\*\*\*\.duckdb is in use \(PID \d+\); waiting up to 1 s/m);
      expectNoSecret('CLI output', waited.stdout + waited.stderr);
    } finally {
      await holder.release();
    }
  });

  it('every failure kind, with --verbose: nothing in stdout, stderr or any table of the file', async () => {
    const db = join(tmp.dir, 'kinds.duckdb');
    const everything = ['run', '--resources', 'logs,chat_availability,chat_poll,widgets,users', '--duckdb', db, '--verbose'];
    // The first, successful load of every resource without the default 10 requests/s: chat_poll polls each of the 150
    // cases, 15 s at that rate, and this load only fills the file the failures below are recorded in.
    writeFileSync(join(tmp.dir, 'all-fast.mjs'), `export default { resources: { logs: true, chat_availability: true, chat_poll: true, widgets: true, users: true }, rateLimit: { requestsPerSecond: 0 } };\n`);
    expect((await runCli(['run', '--config', 'all-fast.mjs', '--duckdb', db, '--verbose'], { env: box.env, cwd: tmp.dir })).code).toBe(0);
    // One retry after a short backoff, and a short timeout, so each failure comes quickly.
    writeFileSync(join(tmp.dir, 'quick.mjs'), `export default { resources: { users: true, widgets: true, chat_availability: true, logs: true }, connection: { maxRetries: 1, retryBaseDelayMs: 20, timeoutMs: 300 } };\n`);
    const quick = ['run', '--config', 'quick.mjs', '--duckdb', db, '--verbose'];
    const wrong = { SNAPENGAGE_API_TOKEN: `${box.env.SNAPENGAGE_API_TOKEN}x`, SNAPENGAGE_API_KEY: `${box.env.SNAPENGAGE_API_KEY}x`, SNAPENGAGE_PROVISIONING_KEY: `${box.env.SNAPENGAGE_PROVISIONING_KEY}x` };
    // A server that echoes the credential it was sent in its status line, request id and body, and links each page
    // to itself with the provisioning key in the link.
    const echo: Server = createServer((req, res) => {
      const heard = String(req.headers.authorization ?? req.headers['x-api-key'] ?? new URL(req.url ?? '', 'http://x').searchParams.get('api_key'));
      const headers = { 'x-request-id': `id-${heard}`, 'content-type': 'application/json' };
      if (req.url?.startsWith('/api/v2/')) {
        res.writeHead(200, headers).end(JSON.stringify({ cases: [], linkToNextSetOfResults: `${req.url}&api_key=${box.env.SNAPENGAGE_PROVISIONING_KEY}` }));
      } else res.writeHead(req.url?.startsWith('/api/v1/chat/') ? 500 : 403, `No ${heard}`, headers).end(JSON.stringify({ error: `bad ${heard}` }));
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const cases: Array<[string, string[], Record<string, string>, string?]> = [
      ['401', everything, wrong],
      ['404', everything, { SNAPENGAGE_WIDGET_ID: 'no-such-widget', SNAPENGAGE_EMAIL: 'nobody@example.com' }],
      ['TLS', quick, { SNAPENGAGE_BASE_URL: box.url.replace('http:', 'https:') }],
      ['refused', quick, { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:1' }],
      ['hostile server', quick, { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${(echo.address() as AddressInfo).port}` }],
      // 429s with Retry-After 0: the sandbox's default of 1 s would hold the retry for a second to no purpose here.
      ...['500=1', '429=1,retryAfter=0', 'reset=1', 'truncate=1', 'slow=1,slowMs=1000'].map((f): [string, string[], Record<string, string>, string] => [f, quick, {}, f]),
    ];
    try {
      for (const [label, args, env, faults] of cases) {
        await admin(box, 'faults', { faults: faults ?? '' });
        const run = await runCli(args, { env: { ...box.env, ...env } as Record<string, string>, cwd: tmp.dir });
        expect(run.code, label).toBe(1);
        expect(run.stderr, label).toMatch(/^snapengage-pipeline: Extracting \w+ failed: /m);
        expectNoSecret(label, run.stdout + run.stderr);
      }
    } finally {
      await admin(box, 'faults', { faults: '' });
      await new Promise((resolve) => echo.close(resolve));
    }
    const failed = await query(db, `SELECT error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
    expect(failed.length).toBeGreaterThanOrEqual(cases.length);
    expectNoSecret('DuckDB file', await dumpDatabase(db));
  });
});
