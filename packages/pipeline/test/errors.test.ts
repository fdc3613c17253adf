// Fix hints name the env vars of the resource that failed, read from the catalog rather than hard-coded.
import { join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createSnapEngageClient, resources, SnapEngageError, type SnapEngageErrorKind } from 'snapengage-client';
import { afterPartialCommit, describeExtractError, DestinationError } from '../src/errors.js';
import { describeDestinationError } from '../src/duckdb-errors.js';
import { toDestinationError } from '../src/destination/errors.js';
import { createDuckDBInstance } from '../src/duckdb.js';
import { tempDir } from './helpers.js';

const clientError = (kind: SnapEngageErrorKind, status: number) =>
  new SnapEngageError({ kind, status, message: 'refused', operation: 'GET /x', url: 'http://127.0.0.1:9/x' });

/** Env vars that feed a resource's request parameters, straight from the catalog. */
function catalogParamEnv(name: keyof typeof resources): string[] {
  return Object.values(resources[name].params).flatMap((p) => (p.from === 'env' ? [p.env] : []));
}

describe('describeExtractError hints', () => {
  it('not_found names the id env vars of that resource (and of its parent), plus the base URL', () => {
    const logs = describeExtractError(clientError('not_found', 404), 'logs').message;
    for (const env of catalogParamEnv('logs')) expect(logs).toContain(env);
    expect(logs).toContain('SNAPENGAGE_BASE_URL');
    expect(logs).not.toContain('SNAPENGAGE_EMAIL'); // users' variable, not logs'
    // A server without the endpoint (a resource new in the spec, which the sandbox does not emulate) says 404 too.
    expect(logs).toContain('and that the server has this endpoint (snapengage-sandbox emulates only the endpoints it was built with)');

    const users = describeExtractError(clientError('not_found', 404), 'users').message;
    for (const env of catalogParamEnv('users')) expect(users).toContain(env);
    expect(users).not.toContain('SNAPENGAGE_ORG_ID');

    // chat_poll's case ids come from logs: the logs ids are what to check.
    const poll = describeExtractError(clientError('not_found', 404), 'chat_poll').message;
    for (const env of catalogParamEnv('logs')) expect(poll).toContain(env);
  });

  it('a path parameter refused before sending (an id env var set to "..") names the env vars, not an empty URL', () => {
    const error = new SnapEngageError({
      kind: 'config',
      operation: 'GET /api/v2/{orgId}/logs',
      url: '',
      message: 'GET /api/v2/{orgId}/logs: the path parameter orgId is "..", which the URL would resolve to another path; pass the orgId of an existing record (nothing was sent)',
    });
    const message = describeExtractError(error, 'logs').message;
    // Was "GET /api/v2/{orgId}/logs at : GET /api/v2/{orgId}/logs: the path parameter …", naming no variable.
    expect(message).toBe('Extracting logs failed: GET /api/v2/{orgId}/logs: the path parameter orgId is "..", which the URL would resolve to another path (nothing was sent): check SNAPENGAGE_ORG_ID / SNAPENGAGE_WIDGET_ID');
  });

  it("reads the refusal the real client makes (its 'config' case matches the client's words, which a rewording there would silently bypass)", async () => {
    // Refused before sending: nothing listens at this address, and nothing is asked of it.
    const client = createSnapEngageClient({ apiToken: 't', baseUrl: 'http://127.0.0.1:9', maxRetries: 0 });
    const error = await Promise.resolve(client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: '..' }, query: { widgetId: 'w', start: '2024-01-01', end: '2024-01-02' } } }))
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SnapEngageError);
    expect(describeExtractError(error, 'logs').message).toBe('Extracting logs failed: GET /api/v2/{orgId}/logs: the path parameter orgId is "..", which the URL would resolve to another path (nothing was sent): check SNAPENGAGE_ORG_ID / SNAPENGAGE_WIDGET_ID');
  });

  it("names a value of a list with the spec's noun for it (x-snapengage-resource params: item), not always as a widget", () => {
    const department = { env: 'SNAPENGAGE_DEPT_IDS', value: 'd-7', position: 2, of: 3, othersAnswered: true, item: 'department' };
    expect(describeExtractError(clientError('not_found', 404), 'logs', department).message)
      .toContain('not found: department d-7 (item 2 of 3 in SNAPENGAGE_DEPT_IDS) is unknown to the API while other departments of the list were answered');
    expect(describeExtractError(clientError('auth', 403), 'logs', department).message)
      .toContain('while other departments of the list were answered: the credential may not reach that department;');
  });

  it('a refused credential names the widget the request was for, even when no other widget was answered yet', () => {
    const widget = { env: 'SNAPENGAGE_WIDGET_ID', value: 'w-123', position: 1, of: 1, othersAnswered: false, item: 'widget' };
    const message = describeExtractError(clientError('auth', 401), 'logs', widget).message;
    expect(message).toContain('the credential was refused');
    expect(message).toContain('this request was for widget w-123 (item 1 of 1 in SNAPENGAGE_WIDGET_ID)');
    // Not for a request that fans out over no list (users): nothing to name.
    expect(describeExtractError(clientError('auth', 401), 'users').message).not.toContain('this request was for');
  });

  it('bad_request names the start-date variable only for an incremental resource', () => {
    const logs = describeExtractError(clientError('bad_request', 400), 'logs').message;
    expect(logs).toContain(resources.logs.incremental!.initialStartEnv);
    const widgets = describeExtractError(clientError('bad_request', 400), 'widgets').message;
    expect(widgets).not.toContain('SNAPENGAGE_START_DATE');
    for (const env of catalogParamEnv('widgets')) expect(widgets).toContain(env);
    expect(logs).not.toContain('\n');
  });

  it('quotes what the server said about an error status, not a 2xx body that failed to parse', () => {
    const withBody = (kind: SnapEngageErrorKind, status: number, bodyExcerpt: string) =>
      new SnapEngageError({ kind, status, bodyExcerpt, message: 'refused', operation: 'GET /x', url: 'http://127.0.0.1:9/x' });
    const bad = describeExtractError(withBody('bad_request', 400, '{"error":"start 2025-02-01 is after end 2025-01-01"}'), 'logs').message;
    expect(bad).toContain('; the server said: {"error":"start 2025-02-01 is after end 2025-01-01"}');
    const truncated = describeExtractError(withBody('invalid_response', 200, '{"cases":[{"id":"c1","requested_by":"visitor@example.com'), 'logs').message;
    expect(truncated).not.toContain('server said');
    expect(truncated).not.toContain('visitor@example.com');
  });

  it('an unreachable local server hints at the sandbox (stopped, or restarted on a new port); a remote one does not', () => {
    const network = (url: string) =>
      new SnapEngageError({ kind: 'network', message: 'refused', operation: 'GET /x', url, retries: 1, causeSummary: 'fetch failed ← connect ECONNREFUSED' });
    for (const url of ['http://127.0.0.1:38801/api/v1/user.json', 'http://localhost:4000/x', 'http://[::1]:4000/x']) {
      const message = describeExtractError(network(url), 'users').message;
      expect(message).toContain(': check SNAPENGAGE_BASE_URL: is the local server (snapengage-sandbox) running? It takes a new port at each start: use the SNAPENGAGE_BASE_URL it printed last (.env.sandbox in the READMEs, not your .env)');
      expect(message).not.toContain('refresh .env'); // .env holds the real credentials: the sandbox's lines never go there
      expect(message).not.toContain('\n');
    }
    const remote = describeExtractError(network('https://www.snapengage.com/api/v1/user.json'), 'users').message;
    expect(remote).toMatch(/: check SNAPENGAGE_BASE_URL and your network$/);
  });

  it('an unknown resource name falls back to the union over the catalog', () => {
    const message = describeExtractError(clientError('not_found', 404), 'nope').message;
    for (const name of ['logs', 'users'] as const) for (const env of catalogParamEnv(name)) expect(message).toContain(env);
  });
});

describe('toDestinationError', () => {
  it('points at the DuckDB message only when DuckDB wrote it', () => {
    const duck = toDestinationError(new Error('Binder Error: Table "logs" does not have a column with name "id"'), 'committing logs', '/x.duckdb');
    expect(duck.message).toBe('committing logs (/x.duckdb): Binder Error: Table "logs" does not have a column with name "id": see the DuckDB message; the database is unchanged');
    const js = toDestinationError(new TypeError('Do not know how to serialize a BigInt'), 'staging logs', '/x.duckdb');
    expect(js.message).toContain('staging logs (/x.duckdb): Do not know how to serialize a BigInt: the database is unchanged; if a map step');
    expect(js.message).not.toContain('DuckDB message');
  });

  it('reads a COMMIT that could not pin a block as out of memory', () => {
    const error = toDestinationError(new Error('TransactionContext Error: Failed to commit: failed to pin block of size 256.0 KiB (190.7 MiB/190.7 MiB used)'), 'committing logs', '/x.duckdb');
    expect(error.code).toBe('out_of_memory');
    expect(error.message).toContain('raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT');
  });

  // DuckDB's words when the disk it spills to (`<file>.tmp`) is full, as a commit met them on a 1 MiB tmpfs
  // (full-disk.test.ts runs it for real): "out of memory" alone sent users to raise the limit on a full disk.
  it('reads a spill that found no room on the disk as a full disk at <file>.tmp, in both mappings', () => {
    const spill = "Out of Memory Error: failed to offload data block of size 256.0 KiB (704.0 KiB/921.5 KiB used).\nThis limit was set by the 'max_temp_directory_size' setting.\nBy default, this setting utilizes the available disk space on the drive where the 'temp_directory' is located.";
    const mapped = toDestinationError(new Error(spill), 'committing logs', '/data/x.duckdb');
    expect([mapped.code, mapped.message]).toEqual(['disk_full', 'committing logs: the disk is full at /data/x.duckdb.tmp, where DuckDB writes what does not fit in its memory limit (Out of Memory Error: failed to offload data block of size 256.0 KiB (704.0 KiB/921.5 KiB used)): free disk space at /data or raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT (less is written there), then rerun; nothing of this load was committed']);
    const described = describeDestinationError(new Error(spill), '/data/x.duckdb');
    // One wording in both: what was being done, where, the fix (the action is the caller's).
    expect([(described as DestinationError).code, described.message]).toEqual(['disk_full', mapped.message.replace(/^committing logs: /, 'writing the destination: ')]);
    expect(describeDestinationError(new Error(spill), '/data/x.duckdb', 'committing logs').message).toBe(mapped.message);
  });

  it('names the directory to free space in: the file\'s, or the one given for staging', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    expect(toDestinationError(full, 'committing logs', '/data/x.duckdb').hint).toMatch(/^free disk space at \/data /);
    expect(toDestinationError(full, 'staging logs', '/data/x.duckdb.staging/1-logs-ab', '/data').message)
      .toBe('staging logs: the disk is full at /data/x.duckdb.staging/1-logs-ab: free disk space at /data (or point the destination elsewhere) and rerun; nothing of this load was committed');
    // The other mapping (a run's open, its commit, its staging queue, show) words it the same.
    expect(describeDestinationError(full, '/data/x.duckdb', 'committing logs').message).toBe(toDestinationError(full, 'committing logs', '/data/x.duckdb').message);
  });

  // The spill directory named is where DuckDB spills: its own temp_directory (`.tmp` in memory, `<path>.tmp` for a file,
  // relative to the working directory as the path is), made absolute so that the line says where it is.
  it("names DuckDB's own spill directory, absolute, for an in-memory database and a relative path", async () => {
    const tmp = tempDir('sepipe-spill-dir-');
    try {
      const spill = 'Out of Memory Error: failed to offload data block of size 256.0 KiB (704.0 KiB/921.5 KiB used).';
      for (const path of [':memory:', relative(process.cwd(), join(tmp.dir, 'x.duckdb'))]) {
        const instance = await createDuckDBInstance(path, { threads: '1' });
        const conn = await instance.connect();
        let setting: string;
        try {
          setting = String((await conn.runAndReadAll("SELECT current_setting('temp_directory') AS t")).getRowObjectsJS()[0]!.t);
        } finally {
          conn.closeSync();
          instance.closeSync();
        }
        const where = `committing logs: the disk is full at ${resolve(setting)}, where DuckDB writes`;
        expect(toDestinationError(new Error(spill), 'committing logs', path).message.slice(0, where.length), path).toBe(where);
        expect(describeDestinationError(new Error(spill), path, 'committing logs').message.slice(0, where.length), path).toBe(where);
      }
    } finally {
      tmp.cleanup();
    }
  });
});

describe('describeDestinationError', () => {
  it('gives every error it maps a code and the path, for apps that act on them (retry a lock later, not a full disk)', () => {
    const cases: Array<[string, string]> = [
      ['IO Error: Could not set lock on file "/x.duckdb": Conflicting lock is held in /usr/bin/node (PID 42)', 'locked'],
      // Windows: the system's words first (in its language), the holder lines below.
      ['IO Error: Cannot open file "C:\\x.duckdb": The process cannot access the file because it is being used by another process.\n\nFile is already open in \nC:\\duckdb.exe (PID 42)', 'locked'],
      ['IO Error: Cannot open file "E:\\x.duckdb": 另一个程序正在使用此文件，进程无法访问。\n\nFile is already open in \nD:\\DBX\\dbx.exe (PID 42)', 'locked'],
      ['IO Error: No space left on device', 'disk_full'],
      // Windows words it so (ERROR_DISK_FULL), in English.
      ['IO Error: Could not write file "C:\\data\\x.duckdb": There is not enough space on the disk.', 'disk_full'],
      ['IO Error: Permission denied', 'not_writable'],
      ['IO Error: Cannot open file "/nope/x.duckdb": No such file or directory', 'not_found'],
      ['Something else entirely', 'io'],
      // "block" is not a lock: these were reported as a file locked by another process.
      ['TransactionContext Error: Failed to commit: failed to pin block of size 256.0 KiB (190.7 MiB/190.7 MiB used)', 'out_of_memory'],
      ['IO Error: Corrupt database file: computed checksum 1 does not match stored checksum 2 in block at location 2895872', 'corrupt'],
    ];
    for (const [text, code] of cases) {
      const error = describeDestinationError(new Error(text), '/x.duckdb');
      expect(error).toBeInstanceOf(DestinationError);
      if (error instanceof DestinationError) expect([error.code, error.path]).toEqual([code, '/x.duckdb']);
      if (code !== 'locked') continue;
      expect(error.message).toContain('(pid 42)');
      // The loader's own mapping too: its 'locked' makes a run wait for the holder (SNAPENGAGE_DUCKDB_LOCK_WAIT).
      const mapped = toDestinationError(new Error(text), 'opening the destination', '/x.duckdb');
      expect([mapped.code, mapped.message]).toEqual(['locked', expect.stringContaining('is locked by another process (PID 42)')]);
    }
  });
});

describe('a path that merely contains the letters of EMFILE or ENFILE', () => {
  // Found with --duckdb systemfiles/x.duckdb ("systEMFILEs"): any failure on such a path read as "too many open files:
  // raise the open-file limit", whatever it was. The errno names are matched as words, as Node and DuckDB write them.
  it('is not read as running out of open files (a real run under a regular file named systemfiles)', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runPipeline } = await import('../src/index.js');
    const dir = mkdtempSync(join(tmpdir(), 'sepipe-emfile-'));
    try {
      writeFileSync(join(dir, 'systemfiles'), 'a file, not a directory\n');
      const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
      const error = await runPipeline({ resources: { logs: true } }, { env, destination: { path: join(dir, 'systemfiles', 'x.duckdb') } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toContain('ENOTDIR');
      expect(error?.message).not.toMatch(/too many open files|open-file limit/i);
      expect(error?.message).toContain('choose a destination path in a writable directory');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is not read so in DuckDB\'s words either, while the errno names and DuckDB\'s phrase still are', () => {
    const denied = describeDestinationError(new Error('IO Error: Cannot open file "/srv/itemfiles/x.duckdb": Permission denied'), '/srv/itemfiles/x.duckdb');
    expect((denied as DestinationError).code).toBe('not_writable');
    for (const text of ['IO Error: Cannot open file "/x.duckdb": Too many open files', "EMFILE: too many open files, open '/x.duckdb.staging/a'", 'ENFILE: file table overflow']) {
      expect(describeDestinationError(new Error(text), '/x.duckdb').message, text).toContain('raise the open-file limit');
    }
  });
});

describe('DestinationError built by an app', () => {
  it('keeps the (message, { cause }) constructor it had before code and path', () => {
    const cause = new Error('disk');
    const error = new DestinationError('mine', { cause });
    expect([error.message, error.code, error.path, error.cause, error.exitCode]).toEqual(['mine', 'io', '', cause, 1]);
    expect(new DestinationError('held', { code: 'locked', path: '/x.duckdb' })).toMatchObject({ code: 'locked', path: '/x.duckdb' });
  });
});

describe('runPipeline options', () => {
  it('refuses a limitPages that is not a whole number >= 1 as a ConfigError, before any request', async () => {
    const { ConfigError, runPipeline } = await import('../src/index.js');
    const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_PROVISIONING_KEY: 'prov-key', SNAPENGAGE_EMAIL: 'a@b.example', SNAPENGAGE_WIDGET_ID: 'w1' };
    for (const limitPages of [0, 1.5, -1]) {
      const refused = await runPipeline({ resources: { widgets: true } }, { env, limitPages }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ConfigError);
      expect(String(refused)).toContain(`limitPages must be an integer >= 1, got ${limitPages}`);
    }
  });
});

describe('a server that redirects (real HTTP over 127.0.0.1)', () => {
  it('names where it redirected and says to set SNAPENGAGE_BASE_URL there, not "not the expected JSON"', async () => {
    const { createServer } = await import('node:http');
    const { runPipeline } = await import('../src/index.js');
    const server = createServer((req, res) => {
      res.writeHead(301, { location: `https://api.example.test${new URL(req.url ?? '/', 'http://x').pathname}` });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const env = { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}`, SNAPENGAGE_PROVISIONING_KEY: 'prov-key-1234', SNAPENGAGE_EMAIL: 'ops@example.com' };
      const error = await runPipeline({ resources: { users: true }, rateLimit: { requestsPerSecond: 0 } }, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toContain('(HTTP 301)');
      expect(error?.message).toContain('the server redirected to https://api.example.test/api/v1/user.json, which is not followed so that credentials stay on the configured host: set SNAPENGAGE_BASE_URL to that origin');
      expect(error?.message).not.toContain('prov-key-1234');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('a next link the client refuses to follow (real HTTP over 127.0.0.1)', () => {
  it("says what the client said about the link, not \"not the expected JSON\"", async () => {
    const { createServer } = await import('node:http');
    const { runPipeline } = await import('../src/index.js');
    // What a sandbox reached as http://localhost:PORT sends: its next links name 127.0.0.1, another origin.
    const server = createServer((req, res) => {
      const body = JSON.stringify({ cases: [{ id: 'c1', created_at_seconds: 1 }], linkToNextSetOfResults: `http://other.example.test${req.url ?? '/'}&next=x` });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const env = { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}`, SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
      const config = { resources: { logs: { incremental: { startDate: '2026-01-01', sliceDays: 3650 } } }, rateLimit: { requestsPerSecond: 0 } } as const;
      const error = await runPipeline(config, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toContain(`the next link points to http://other.example.test, not the configured http://127.0.0.1:${port}`);
      expect(error?.message).not.toContain('not the expected JSON');
      // The client's "set baseUrl" is the loader user's SNAPENGAGE_BASE_URL.
      expect(error?.message).toContain('(set SNAPENGAGE_BASE_URL to http://other.example.test if the API moved there)');
      expect(error?.message).not.toContain('token-1234');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('a response body over connection.maxResponseBytes (real HTTP over 127.0.0.1)', () => {
  it('fails the run in one line naming the operation, the limit and the config option, not "not the expected JSON"', async () => {
    const { createServer } = await import('node:http');
    const { gzipSync } = await import('node:zlib');
    const { runPipeline } = await import('../src/index.js');
    // A gzip bomb: valid JSON of 4 MiB, a few KiB on the wire. The sandbox cannot serve one.
    const head = '{"cases":[],"pad":"';
    const bomb = gzipSync(Buffer.from(`${head}${' '.repeat(4 * 1024 * 1024 - head.length - 2)}"}`));
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': bomb.byteLength });
      res.end(bomb);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as import('node:net').AddressInfo).port;
    try {
      const env = { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}`, SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
      const config = { resources: { logs: { incremental: { startDate: '2026-01-01', sliceDays: 3650 } } }, rateLimit: { requestsPerSecond: 0 }, connection: { maxResponseBytes: 1024 * 1024 } } as const;
      const error = await runPipeline(config, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message.split('\n')).toHaveLength(1);
      expect(error?.message).toMatch(/^Extracting logs failed: GET \/api\/v2\/\{orgId\}\/logs .*the response body is larger than connection.maxResponseBytes=1048576 \(1 MiB, after gzip decoding\); reading stopped there: if the API really sent that much, raise connection.maxResponseBytes in the pipeline config/);
      expect(error?.message).not.toContain('not the expected JSON');
      expect(error?.message).not.toContain('token-1234');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names a small limit as it was set, not as "0 MiB" (a sandbox page over 2000 bytes)', async () => {
    const { runPipeline } = await import('../src/index.js');
    const { sandbox } = await import('./helpers.js');
    const box = await sandbox({ cases: 200, widgets: 1, days: 5 });
    try {
      const config = { resources: { logs: true }, connection: { maxResponseBytes: 2000 } } as const;
      const error = await runPipeline(config, { env: box.env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toMatch(/larger than connection\.maxResponseBytes=2000 \(1\.95 KiB, Content-Length \d+\)/);
      expect(error?.message).not.toContain('0 MiB');
    } finally {
      await box.close();
    }
  });

  it('is told by the client error\'s responseTooLarge, not by its message: a server quoting the words is not mistaken for it', async () => {
    const { runPipeline } = await import('../src/index.js');
    const { startScriptedServer } = await import('../../client/test/helpers/scripted-server.js');
    // A non-JSON page whose Content-Type (quoted in the client's message) carries the too-large words.
    const server = await startScriptedServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; x="larger than maxResponseBytes=1 (raise it to 99999999999)"' });
      res.end('<html>portal</html>');
    });
    try {
      const env = { SNAPENGAGE_BASE_URL: server.url, SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
      const config = { resources: { logs: true }, connection: { maxRetries: 0 } } as const;
      const error = await runPipeline(config, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message).toContain('the response was not the expected JSON');
      expect(error?.message).not.toContain('connection.maxResponseBytes');
    } finally {
      await server.close();
    }
  });

  it('is refused before the run when not a positive integer, as a connection setting', async () => {
    const { runPipeline } = await import('../src/index.js');
    const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
    const error = await runPipeline({ resources: { logs: true }, connection: { maxResponseBytes: 0 } }, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toContain('connection settings: maxResponseBytes: must be an integer >= 1, got 0');
  });
});

describe('a record nested deeper than the stack allows (real HTTP over 127.0.0.1)', () => {
  it('fails in one line naming the resource, the record, the field and its depth, and writes no file', async () => {
    const { createServer } = await import('node:http');
    const { existsSync, mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { runPipeline } = await import('../src/index.js');
    // 4,500 levels: JSON.parse reads it, JSON.stringify (the normalizer's JSON column) runs out of stack. The sandbox
    // refuses to serve it (it could not write it back), so a scripted server does.
    const depth = 4500;
    const deep = `${'{"a":'.repeat(depth)}"leaf"${'}'.repeat(depth)}`;
    const body = `{"cases":[{"id":"ok1","created_at_seconds":1700000000},{"id":"deep1","created_at_seconds":1700000001,"variables":{"deep":${deep}}}]}`;
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as import('node:net').AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'sepipe-deep-'));
    try {
      const env = { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}`, SNAPENGAGE_API_TOKEN: 'token-1234', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w1' };
      const config = { resources: { logs: { incremental: { startDate: '2023-01-01', sliceDays: 3650 } } }, rateLimit: { requestsPerSecond: 0 } } as const;
      const path = join(dir, 'deep.duckdb');
      const error = await runPipeline(config, { env, destination: { path } }).then(() => undefined, (e: unknown) => e as Error);
      expect(error?.message.split('\n')).toHaveLength(1);
      expect(error?.message).not.toMatch(/Maximum call stack|please report/);
      expect(error?.message).toContain('logs record deep1 holds a value nested 4,502 levels deep (logs.variables.deep.a.a.a…)');
      expect(error?.message).toContain('resources.logs.steps');
      expect(existsSync(path)).toBe(false);
    } finally {
      await new Promise((resolve) => server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('afterPartialCommit', () => {
  // Every message that says nothing was loaded, as each place words it: none is left saying so, and none is left
  // with the empty brackets or stray punctuation of the words taken out.
  it('takes "nothing was loaded" out of every destination message without leaving its brackets or punctuation', () => {
    const path = '/data/x.duckdb';
    const messages = [
      describeDestinationError(new Error('IO Error: No space left on device'), path),
      describeDestinationError(new Error('IO Error: Corrupt database file'), path),
      toDestinationError(new Error('Binder Error: no such column'), 'committing logs', path),
      toDestinationError(new Error('a map step returned a function'), 'committing logs', path),
      // The commit's own hints say it of the resource's load (met with a 64MB memory limit in a small container).
      toDestinationError(new Error('Out of Memory Error: could not allocate block of size 256.0 KiB (60.8 MiB/61.0 MiB used)'), 'committing logs', path),
      toDestinationError(Object.assign(new Error('IO Error: No space left on device'), { code: 'ENOSPC' }), 'committing logs', path),
      toDestinationError(new Error('IO Error: File too large'), 'committing logs', path),
      new DestinationError('committing: DuckDB file /data/x.duckdb was removed by another program while this run was extracting; nothing of this run was loaded'),
    ].map((error) => afterPartialCommit(error, ['chat_poll']).message);
    expect(messages[0]).toBe(`writing the destination: the disk is full at ${path}: free disk space at /data (or point the destination elsewhere) and rerun; chat_poll of this run was committed before it (a rerun loads the rest)`);
    expect(messages[2]).toMatch(/no such column: see the DuckDB message; chat_poll of this run was committed before it/);
    expect(messages[4]).toMatch(/DuckDB ran out of memory .*: raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT .* and rerun; chat_poll of this run was committed before it/);
    expect(messages[3]).toMatch(/a map step returned a function: if a map step of your config made these records, check what it returns, else please report this with the message; chat_poll of this run/);
    for (const message of messages) {
      expect(message).not.toMatch(/nothing of this (run|load)|database is unchanged|\(\)|:;|; ;|\s[;,]/);
      expect(message).toContain('chat_poll of this run was committed before it');
    }
  });
});
