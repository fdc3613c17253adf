// Planning is pure: config + env → which resources run, with every env/config problem reported before any request.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { securitySchemes } from 'snapengage-client';
import { ConfigError, LoadInfo, runPipeline, UsageError, type PipelineConfig } from '../src/index.js';
import { defaultConfig, loadPipelineConfig } from '../src/config-loader.js';
import { loadEnv } from '../src/env.js';
import { addDays, checkResourceNames, DEFAULTS, planPipeline } from '../src/plan.js';
import { localRateLimitAfterNote, localRateLimitNote } from '../src/rate-limit-note.js';
import { Semaphore, TokenBucket } from '../src/limits.js';
import { consumerRanges, sliceWindow, windowParts } from '../src/windows.js';
import { stateToCommit, statesToResume } from '../src/resume.js';
import { withOverrides } from '../src/run.js';
import { PACKAGE_DIR, tempDir } from './helpers.js';
import { formatLoadStep, formatRequest } from '../src/progress-display.js';

const env = {
  SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9',
  SNAPENGAGE_ORG_ID: 'org',
  SNAPENGAGE_API_TOKEN: 'tok',
  SNAPENGAGE_WIDGET_ID: 'w1, w2,,w1',
  SNAPENGAGE_START_DATE: '2025-01-01',
};

describe('planPipeline', () => {
  it('extracts the parent of a selected child without loading it', () => {
    const plan = planPipeline({ resources: { chat_poll: true } }, { ...env, SNAPENGAGE_API_KEY: 'k' });
    expect(plan.resources.map((r) => [r.name, r.load])).toEqual([
      ['logs', false],
      ['chat_poll', true],
    ]);
    expect(plan.resources[0]?.children.map((c) => c.name)).toEqual(['chat_poll']);
    expect(plan.credentials).toEqual({ apiToken: 'tok', apiKey: 'k' });
  });

  it('reads the incremental options from env and config', () => {
    const plan = planPipeline({ resources: { logs: { incremental: { lookbackDays: 3 } } } }, env);
    expect(plan.resources[0]?.incremental).toEqual({ startDate: '2025-01-01', lookbackDays: 3, sliceDays: 7, endDay: 'inclusive' });
    const sliced = planPipeline({ resources: { logs: { incremental: { sliceDays: 30 } } } }, env);
    expect(sliced.resources[0]?.incremental?.sliceDays).toBe(30);
    const fallback = planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_START_DATE: '' }, undefined, new Date('2025-03-31T12:00:00Z'));
    expect(fallback.resources[0]?.incremental?.startDate).toBe('2025-03-01');
  });

  it('names every missing env var, the resource and where to get it, in one line', () => {
    const attempt = () => planPipeline({ resources: { logs: true, widgets: true } }, { SNAPENGAGE_ORG_ID: 'org' });
    expect(attempt).toThrow(ConfigError);
    try {
      attempt();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      expect(message).toContain('SNAPENGAGE_API_TOKEN (needed by logs; SnapEngage Admin Dashboard → My Account → API Token');
      expect(message).toContain('SNAPENGAGE_WIDGET_ID (needed by logs, widgets');
      expect(message).toContain('SNAPENGAGE_PROVISIONING_KEY (needed by widgets; Request a Provisioning API key from support@snapengage.com)');
    }
  });

  it('a variable missing for a parent that only feeds a selected child says which child reads it', () => {
    const attempt = () => planPipeline({ resources: { chat_poll: true } }, { SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w', SNAPENGAGE_API_KEY: 'k' });
    expect(attempt).toThrow(/^Missing environment variable SNAPENGAGE_API_TOKEN \(needed by logs \(read for chat_poll\); SnapEngage Admin Dashboard/);
    // A selected parent is named alone.
    expect(() => planPipeline({ resources: { logs: true, chat_poll: true } }, { SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_WIDGET_ID: 'w', SNAPENGAGE_API_KEY: 'k' })).toThrow(
      /^Missing environment variable SNAPENGAGE_API_TOKEN \(needed by logs; /,
    );
  });

  it('rejects a bad start date, unknown resources and bad numbers with the field name', () => {
    expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_START_DATE: '2025-02-30' })).toThrow(/SNAPENGAGE_START_DATE must be a date YYYY-MM-DD/);
    expect(() => planPipeline({ resources: { nope: true } as never }, env)).toThrow(/Unknown resource "nope" in the pipeline config; valid resources: logs, /);
    expect(() => planPipeline({ resources: { logs: true }, concurrency: 0 }, env)).toThrow(/concurrency must be an integer >= 1/);
    // Fractions and negatives at each bound are refused when planning, before any request, naming the field.
    expect(() => planPipeline({ resources: { logs: true }, concurrency: 2.5 }, env)).toThrow(/concurrency must be an integer >= 1, got 2\.5/);
    expect(() => planPipeline({ resources: { logs: { incremental: { lookbackDays: -1 } } } }, env)).toThrow(/resources\.logs\.incremental\.lookbackDays must be an integer >= 0, got -1/);
    expect(() => planPipeline({ resources: { logs: { incremental: { sliceDays: 1.5 } } } }, env)).toThrow(/resources\.logs\.incremental\.sliceDays must be an integer >= 1, got 1\.5/);
    expect(() => planPipeline({ resources: { widgets: { writeDisposition: 'merge', primaryKey: [] } } }, env)).toThrow(/resources\.widgets: writeDisposition "merge" needs a primaryKey: set primaryKey \(the catalog's: uuid\), or writeDisposition "append" or "replace"$/);
    expect(() => planPipeline({ resources: { logs: { incremental: { sliceDays: 0 } } } }, env)).toThrow(/resources\.logs\.incremental\.sliceDays must be an integer >= 1/);
    expect(() => planPipeline({ resources: { logs: { incremental: { endDay: 'open' as never } } } }, env)).toThrow(/resources\.logs\.incremental\.endDay must be "inclusive" or "exclusive", got "open"/);
    expect(() => checkResourceNames(['logs', 'start_chat'])).toThrow(UsageError);
  });

  it('refuses an append without a primary key where a date window reads days again (each run stored them again)', () => {
    // Before: `primaryKey: []` on an appended logs (or chat_poll below it) planned fine, and every run appended the
    // records of the days it read again (the lookback, at least the last day) once more, without a word.
    const withApiKey = { ...env, SNAPENGAGE_API_KEY: 'k' };
    for (const [resources, name, window] of [
      [{ logs: { writeDisposition: 'append', primaryKey: [] } }, 'logs', 'logs'],
      [{ logs: { incremental: { lookbackDays: 0 } }, chat_poll: { writeDisposition: 'append', primaryKey: [] } }, 'chat_poll', 'logs'],
    ] as const) {
      expect(() => planPipeline({ resources: resources as never }, withApiKey)).toThrow(
        new RegExp(`^resources\\.${name}\\.primaryKey is empty with writeDisposition "append": each run reads the last days of ${window} again .*keep a primary key \\(the catalog's: \\w+\\), or set writeDisposition "replace"$`),
      );
    }
    // Where nothing is read twice it stays allowed: replace, and an append of a resource without a date window.
    expect(() => planPipeline({ resources: { logs: { writeDisposition: 'replace', primaryKey: [] } } }, env)).not.toThrow();
    expect(() => planPipeline({ resources: { widgets: { writeDisposition: 'append', primaryKey: [] } } }, { ...env, SNAPENGAGE_PROVISIONING_KEY: 'p', SNAPENGAGE_EMAIL: 'e@example.com' })).not.toThrow();
  });

  it('a merge without a primary key suggests only what that resource takes: not "append" where a date window reads days again', () => {
    // Before: logs' refusal suggested "append" or "replace", and the "append" it suggested was then refused with its own line.
    const withApiKey = { ...env, SNAPENGAGE_API_KEY: 'k' };
    for (const [name, resources] of [
      ['logs', {}],
      ['chat_poll', { logs: { incremental: { lookbackDays: 0 } } }],
    ] as const) {
      const config = (writeDisposition: string) => ({ resources: { ...resources, [name]: { writeDisposition, primaryKey: [] } } }) as never;
      expect(() => planPipeline(config('merge'), withApiKey)).toThrow(
        new RegExp(`^resources\\.${name}: writeDisposition "merge" needs a primaryKey: set primaryKey \\(the catalog's: \\w+\\), or writeDisposition "replace" \\(not "append": each run reads the last days of logs again, and without a key would append their records once more\\)$`),
      );
      // What it suggests plans; what it warns against is refused.
      expect(() => planPipeline(config('replace'), withApiKey)).not.toThrow();
      expect(() => planPipeline(config('append'), withApiKey)).toThrow(/primaryKey is empty with writeDisposition "append"/);
    }
  });

  it('refuses an option part that is not an object, and a resource set to anything but true or an object, instead of ignoring it', () => {
    const refused = (config: unknown) => () => planPipeline(config as PipelineConfig, env);
    // Before: loaded widgets (false read as a resource with no options), at the default 10 requests/s (rateLimit 0).
    expect(refused({ resources: { logs: true, widgets: false } })).toThrow(
      /^resources\.widgets is false: to leave widgets out, remove it or write `widgets: \{ selected: false \}`; to load it, write `widgets: true` or an object of its options$/,
    );
    expect(refused({ resources: { logs: 'yes' } })).toThrow(/^resources\.logs is "yes": to load it, write `logs: true` or an object of its options$/);
    expect(refused({ resources: { logs: true }, rateLimit: 0 })).toThrow(/^rateLimit must be an object such as \{ requestsPerSecond: 5 \}, got 0$/);
    expect(refused({ resources: { logs: true }, connection: 'http://127.0.0.1:1' })).toThrow(/^connection must be an object such as \{ baseUrl: /);
    expect(refused({ resources: { logs: { incremental: true } } })).toThrow(/^resources\.logs\.incremental must be an object such as \{ startDate: /);
    expect(refused({ resources: { logs: true }, destination: 'x.duckdb' })).toThrow(/^destination must be an object such as \{ type: 'duckdb', path: /);
    expect(refused({ resources: { logs: true }, destination: ['x.duckdb'] })).toThrow(/^destination must be an object/);
    // Before: 'destination.type must be "duckdb" (the only destination so far), got undefined', with no word of adding it.
    expect(refused({ resources: { logs: true }, destination: { path: 'x.duckdb' } })).toThrow(/^destination\.type is missing: write destination: \{ type: 'duckdb', path: … \} \(the only destination so far\)$/);
    // With --duckdb (the CLI's override) too: before, the string was spread into keys "0", "1", … ('Unknown option "0"').
    const overridden = withOverrides({ resources: { logs: true }, destination: 'x.duckdb' } as never, { destination: { path: 'y.duckdb' } });
    expect(refused(overridden)).toThrow(/^destination must be an object such as \{ type: 'duckdb', path: 'snapengage\.duckdb' \}, got "x\.duckdb"$/);
  });

  it('refuses a misspelt option instead of ignoring it, with a guess (TypeScript misses these next to a valid key)', () => {
    const refused = (config: unknown) => () => planPipeline(config as PipelineConfig, env);
    expect(refused({ resources: { logs: { incremental: { startDate: '2025-01-01', lookbackDay: 3 } } } })).toThrow(
      'Unknown option "lookbackDay" in resources.logs.incremental; did you mean "lookbackDays"? (known: startDate, lookbackDays, sliceDays, endDay)',
    );
    expect(refused({ resources: { logs: true }, destination: { type: 'duckdb', pth: 'x.duckdb' } })).toThrow(/^Unknown option "pth" in destination; did you mean "path"\?/);
    expect(refused({ resources: { logs: true }, ratelimit: { requestsPerSecond: 5 } })).toThrow(/^Unknown option "ratelimit" in the pipeline config; did you mean "rateLimit"\?/);
    expect(refused({ resources: { logs: true }, concurency: 8 })).toThrow(/did you mean "concurrency"\?/);
    expect(refused({ resources: { logs: { selectd: false } } })).toThrow(/^Unknown option "selectd" in resources\.logs; did you mean "selected"\?/);
    expect(refused({ resources: { logs: true }, connection: { proxy: 5 } })).toThrow(/^Unknown option "proxy" in connection \(known: baseUrl, timeoutMs, maxRetries, retryBaseDelayMs, maxResponseBytes\)$/);
    // Every documented option is accepted.
    const full: PipelineConfig = {
      pipelineName: 'p',
      destination: { type: 'duckdb', path: 'x.duckdb', dataset: 'd' },
      resources: { logs: { selected: true, writeDisposition: 'merge', primaryKey: ['id'], incremental: { startDate: '2025-01-01', lookbackDays: 1, sliceDays: 7 }, maxNestingDepth: 2, steps: [] } },
      rateLimit: { requestsPerSecond: 5 },
      concurrency: 2,
      connection: { baseUrl: 'http://127.0.0.1:9', timeoutMs: 1000, maxRetries: 1, retryBaseDelayMs: 20, maxResponseBytes: 1_000_000 },
    };
    expect(planPipeline(full, env).resources.map((r) => r.name)).toEqual(['logs']);
    expect(() => checkResourceNames(['bogus'])).toThrow(/valid resources: logs, chat_availability, chat_poll, visitor_typing, widgets, users/);
  });

  it('notes the default rate limit when a per-record child runs against a local server (the sandbox), and only then', () => {
    const withKey = { ...env, SNAPENGAGE_API_KEY: 'k' };
    const note = (config: PipelineConfig, e: Record<string, string> = withKey, only?: Parameters<typeof planPipeline>[2]) =>
      localRateLimitNote(config, planPipeline(config, e, only));
    expect(note({ resources: { chat_poll: true } })).toBe(
      'chat_poll makes one request per record of logs, at most 10 requests/s (the default rateLimit, polite to the real API) also against ' +
        'the local server http://127.0.0.1:9; to go faster there, set rateLimit: { requestsPerSecond: 0 } in the pipeline config',
    );
    expect(note({ resources: { logs: true } }, withKey, ['chat_poll', 'visitor_typing'])).toMatch(/^chat_poll makes .* and visitor_typing makes one request per record of logs, /);
    expect(note({ resources: { logs: true, chat_poll: true } }, { ...withKey, SNAPENGAGE_BASE_URL: 'http://localhost:4000' })).toContain('http://localhost:4000');
    // The server named by its origin alone, whatever path the base URL has.
    expect(note({ resources: { chat_poll: true } }, { ...withKey, SNAPENGAGE_BASE_URL: 'http://localhost:4000/api/v1/' })).toContain('also against the local server http://localhost:4000; ');
    // With no config to edit, the one to write selects what the run loaded, not the parent it only read keys from.
    const onlyChild: PipelineConfig = { resources: { logs: true } };
    expect(localRateLimitNote(onlyChild, planPipeline(onlyChild, withKey, ['chat_poll']), null)).toMatch(/: export default \{ resources: \{ chat_poll: true \}, rateLimit: \{ requestsPerSecond: 0 \} \}$/);
    // Not for: a config that sets its own rate (even 10), a remote server, or parents alone.
    expect(note({ resources: { chat_poll: true }, rateLimit: { requestsPerSecond: 10 } })).toBeUndefined();
    expect(note({ resources: { chat_poll: true } }, { ...withKey, SNAPENGAGE_BASE_URL: 'https://www.snapengage.com' })).toBeUndefined();
    expect(note({ resources: { logs: true } })).toBeUndefined();
  });

  it('after a run of parents alone that the default rate limit paced for 20 s or more, says so once', () => {
    const stats = (requests: number) => [{ name: 'logs', loaded: true, requests, pages: requests, records: requests * 100 }];
    const after = (config: PipelineConfig, requests: number, e: Record<string, string> = env, configFile?: string | null) =>
      localRateLimitAfterNote(config, planPipeline(config, e), stats(requests), configFile);
    expect(after({ resources: { logs: true } }, 1845, env, 'src/pipeline.ts')).toBe(
      'this run made 1,845 requests, at most 10 requests/s (the default rateLimit, polite to the real API) also against the local server ' +
        'http://127.0.0.1:9, so it took at least 185 s; to go faster there, set rateLimit: { requestsPerSecond: 0 } in the pipeline config (src/pipeline.ts)',
    );
    expect(after({ resources: { logs: true } }, 200, env, null)).toMatch(/ 20 s; to go faster there, write a pipeline config src\/pipeline\.ts \(read by default\): export default \{ resources: \{ logs: true \}, rateLimit/);
    // Not for: a short run (the demo's 55 requests), a rate the config set, a remote server, or a run the note before it covered.
    expect(after({ resources: { logs: true } }, 199)).toBeUndefined();
    expect(after({ resources: { logs: true }, rateLimit: { requestsPerSecond: 10 } }, 5000)).toBeUndefined();
    expect(after({ resources: { logs: true } }, 5000, { ...env, SNAPENGAGE_BASE_URL: 'https://www.snapengage.com' })).toBeUndefined();
    expect(after({ resources: { chat_poll: true } }, 5000, { ...env, SNAPENGAGE_API_KEY: 'k' })).toBeUndefined();
  });

  it('guesses the resource a typo meant, on the command line and in the config', () => {
    expect(() => checkResourceNames(['log', 'widget'])).toThrow(
      'Unknown resource "log" (did you mean "logs"?), "widget" (did you mean "widgets"?); valid resources: logs, chat_availability, chat_poll, visitor_typing, widgets, users',
    );
    expect(() => checkResourceNames(['Logs'])).toThrow(/^Unknown resource "Logs" \(did you mean "logs"\?\); valid resources: /);
    expect(() => checkResourceNames(['bogus'])).toThrow(/^Unknown resource "bogus"; valid resources: /);
    expect(() => planPipeline({ resources: { chatpoll: true } as never }, env)).toThrow(
      /^Unknown resource "chatpoll" in the pipeline config; did you mean "chat_poll"\? valid resources: logs, /,
    );
  });

  it('defaults to the top-level resources whose env vars are present', () => {
    expect(Object.keys(defaultConfig(env).resources)).toEqual(['logs']);
    expect(Object.keys(defaultConfig({ ...env, SNAPENGAGE_API_KEY: 'k' }).resources)).toEqual(['logs', 'chat_availability']);
    expect(() => defaultConfig({})).toThrow(/for logs set SNAPENGAGE_API_TOKEN/);
    // Only what is missing, and where to put it.
    expect(() => defaultConfig({ SNAPENGAGE_ORG_ID: 'o' })).toThrow(/for logs set SNAPENGAGE_API_TOKEN \(.*\), SNAPENGAGE_WIDGET_ID \(.*\): set them in the environment or in \.env$/);
    expect(() => defaultConfig({ SNAPENGAGE_ORG_ID: 'o' })).not.toThrow(/SNAPENGAGE_ORG_ID/);
  });

  it('says where to put a missing env var: the .env it read, or how to create one', () => {
    const tmp = tempDir();
    try {
      const plan = (env: ReturnType<typeof loadEnv>) => () => planPipeline({ resources: { logs: true } }, env);
      expect(plan(loadEnv(tmp.dir, {}))).toThrow(`: there is no ${tmp.dir}/.env: create it with KEY=value lines (or set them in the environment)`);
      writeFileSync(`${tmp.dir}/.env.example`, 'SNAPENGAGE_API_TOKEN=\n');
      expect(plan(loadEnv(tmp.dir, {}))).toThrow(`: there is no ${tmp.dir}/.env: copy ${tmp.dir}/.env.example to .env and fill it in (or set them in the environment)`);
      writeFileSync(`${tmp.dir}/.env`, 'SNAPENGAGE_API_TOKEN=t\n');
      expect(plan(loadEnv(tmp.dir, {}))).toThrow(/Missing environment variables SNAPENGAGE_ORG_ID .*: set them in .*\/\.env or in the environment$/);
    } finally {
      tmp.cleanup();
    }
  });

  it('an .env that cannot be read says what to do about it', () => {
    const tmp = tempDir();
    try {
      mkdirSync(`${tmp.dir}/.env`);
      // Before: 'Cannot read …/.env: EISDIR: illegal operation on a directory, read'.
      expect(() => loadEnv(tmp.dir, {})).toThrow(`Cannot read ${tmp.dir}/.env (it is a directory): .env must be a file of KEY=value lines; remove or rename that directory`);
    } finally {
      tmp.cleanup();
    }
  });

  it('fails before any request or file when an env var is missing', async () => {
    const tmp = tempDir();
    let requests = 0;
    try {
      const path = `${tmp.dir}/never.duckdb`;
      await expect(
        runPipeline({ resources: { logs: true } }, { env: { SNAPENGAGE_API_TOKEN: 't' }, destination: { path }, fetch: async () => (requests++, new Response('{}')) }),
      ).rejects.toThrow(/Missing environment variables SNAPENGAGE_ORG_ID/);
      expect(requests).toBe(0);
      expect(existsSync(path)).toBe(false);
    } finally {
      tmp.cleanup();
    }
  });
});

describe('environment and config problems', () => {
  it('checks the DuckDB tuning variables and passes them on', () => {
    expect(planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '1GB', SNAPENGAGE_DUCKDB_THREADS: '3' }).destination)
      .toEqual({ path: 'snapengage.duckdb', dataset: 'snapengage_data', memoryLimit: '1GB', threads: 3 });
    expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_DUCKDB_MEMORY_LIMIT: 'lots' }))
      .toThrow('SNAPENGAGE_DUCKDB_MEMORY_LIMIT must be a size such as 512MB or 2GB, got "lots"');
    expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '0MB' })).toThrow('got "0MB"');
    for (const bad of ['abc', '0', '1.5']) {
      expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_DUCKDB_THREADS: bad })).toThrow(`SNAPENGAGE_DUCKDB_THREADS must be a whole number from 1 to 1024, got "${bad}"`);
    }
  });

  it('names SNAPENGAGE_BASE_URL when it is not an http(s) URL or carries a user, without echoing the user part', () => {
    expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_BASE_URL: 'ftp://x' })).toThrow('SNAPENGAGE_BASE_URL (or connection.baseUrl) must be an http(s) URL, got one with ftp:');
    const error = (() => {
      try {
        planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_BASE_URL: 'https://me:s3cret@example.com' });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toContain('must not carry a user or password');
    // The credential variables named are the spec's security schemes' (none hard-coded).
    expect(error?.message).toContain(`credentials go in ${Object.values(securitySchemes).map((s) => s.env).join(', ').replace(/, ([^,]*)$/, ' or $1')}`);
    expect(error?.message).not.toContain('s3cret');
  });

  it('an unsupported destination type is reported before missing environment variables', () => {
    const config = { resources: { logs: true }, destination: { type: 'postgres' } } as unknown as PipelineConfig;
    expect(() => planPipeline(config, {})).toThrow(/^destination\.type must be "duckdb" \(the only destination so far\), got "postgres"$/);
  });

  it('the SnapEngage origin with a path is one config line before any request (…/api would request /api/api/…)', async () => {
    const env = { SNAPENGAGE_PROVISIONING_KEY: 'k', SNAPENGAGE_EMAIL: 'a@example.com', SNAPENGAGE_BASE_URL: 'https://www.snapengage.com/api' };
    const error = await runPipeline({ resources: { users: true } }, { env, destination: { path: ':memory:' } }).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/^connection settings: baseUrl: "https:\/\/www\.snapengage\.com\/api" has a path, .*: use https:\/\/www\.snapengage\.com /);
  });

  it('echoes a SNAPENGAGE_BASE_URL that does not parse without a password or query, whatever its slashes', () => {
    for (const [baseUrl, shown] of [
      ['https:me:s3cret@www snapengage.com', '"https:***@www snapengage.com"'],
      ['my_user:s3cret@127.0.0.1', '"***@127.0.0.1"'],
      ['https://127.0.0.1:99999/?api_key=s3cret', '"https://127.0.0.1:99999/?…"'],
    ]) {
      expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_BASE_URL: baseUrl })).toThrow(`is not a URL: ${shown}; use e.g.`);
    }
    // Two .env lines joined into one: the key after the second `=` is not echoed; nor is a known credential's value.
    const joined = () => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_BASE_URL: 'https://www.snapengage.com SNAPENGAGE_API_TOKEN=tok-joined-9876' });
    expect(joined).toThrow('is not a URL: "https://www.snapengage.com", then another variable (each goes on its own line in .env); use e.g.');
    // Joined without a space (a .env without a final newline, then a line appended): the text parses as a URL whose
    // host holds the key, and every request's error named that host. Refused before any request.
    const glued = () => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_BASE_URL: 'https://www.snapengage.comSNAPENGAGE_API_TOKEN=tok-glued-9876' });
    expect(glued).toThrow('is not a URL: "https://www.snapengage.com", then another variable (each goes on its own line in .env); use e.g.');
    expect(glued).not.toThrow(/tok-glued/i);
    const withToken = () => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_API_TOKEN: 'tok-known-5432', SNAPENGAGE_BASE_URL: 'https//tok-known-5432' });
    expect(withToken).toThrow('is not a URL: "https//***"; use e.g.');
  });

  it('lets .env fill a variable that is blank in the environment; a non-blank one still wins', () => {
    const dir = tempDir('sepipe-env-');
    try {
      writeFileSync(`${dir.dir}/.env`, 'SNAPENGAGE_API_TOKEN=from-file\nSNAPENGAGE_ORG_ID=file-org\n');
      const merged = loadEnv(dir.dir, { SNAPENGAGE_API_TOKEN: '  ', SNAPENGAGE_ORG_ID: 'env-org', OTHER: '' });
      expect(merged.SNAPENGAGE_API_TOKEN).toBe('from-file');
      expect(merged.SNAPENGAGE_ORG_ID).toBe('env-org');
      expect(merged.OTHER).toBe('');
    } finally {
      dir.cleanup();
    }
  });

  it('says where and why a config file does not compile', async () => {
    const dir = tempDir('sepipe-cfg-');
    try {
      writeFileSync(`${dir.dir}/pipeline.ts`, 'export default definePipeline({ resources: { logs: true }\n');
      await expect(loadPipelineConfig('pipeline.ts', env, dir.dir)).rejects.toThrow(/Cannot load pipeline config .*pipeline\.ts: Transform failed with 1 error: .*pipeline\.ts:\d+:\d+: ERROR: Expected/);
    } finally {
      dir.cleanup();
    }
  });

  it('loads a config edited since it was loaded in this process anew (ESM, CommonJS, TypeScript), and an unchanged one as it was', async () => {
    // Before, a .mjs/.cjs/.js config was Node's cached module: an app that loaded it again after an edit got the old
    // one. In a plain node (the built loader), not under vitest, whose own module runner stands in for Node's cache.
    const dir = tempDir('sepipe-cfg-');
    try {
      mkdirSync(`${dir.dir}/cjs`);
      writeFileSync(`${dir.dir}/cjs/package.json`, '{ "type": "commonjs" }\n');
      const script = `
        const { writeFileSync } = await import('node:fs');
        const { pathToFileURL } = await import('node:url');
        const { loadPipelineConfig } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'dist', 'config-loader.js')).href)});
        const esm = (name) => "export default { resources: { logs: true }, pipelineName: '" + name + "' };\\n";
        const cjs = (name) => "module.exports = { resources: { logs: true }, pipelineName: '" + name + "' };\\n";
        const seen = {};
        for (const [file, source] of [['p.mjs', esm], ['p.cjs', cjs], ['cjs/p.js', cjs], ['p.ts', esm]]) {
          const load = async () => (await loadPipelineConfig(file, {}, process.cwd())).config;
          writeFileSync(file, source('one'));
          const first = await load();
          // Loaded again unchanged, before any edit: still the module an app importing the file itself has.
          const again = await load();
          const unchanged = file.endsWith('.ts') ? first === again : first === again && first === (await import(pathToFileURL(file).href)).default;
          writeFileSync(file, source('two')); // the same length: a change of content, not of size
          const edited = await load();
          writeFileSync(file, source('one'));
          const back = await load();
          seen[file] = [first.pipelineName, edited.pipelineName, back.pipelineName, back === (await load()), unchanged];
        }
        process.stdout.write(JSON.stringify(seen));`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir.dir, timeout: 30_000 });
      // Unchanged since its last load, a config is the very module object (for JavaScript, the one an app importing it
      // too has): a TypeScript config is not imported again, since each tsImport stays in the process for good (it was,
      // on every load: false, false here).
      expect(JSON.parse(stdout)).toEqual({
        'p.mjs': ['one', 'two', 'one', true, true],
        'p.cjs': ['one', 'two', 'one', true, true],
        'cjs/p.js': ['one', 'two', 'one', true, true],
        'p.ts': ['one', 'two', 'one', true, true],
      });
    } finally {
      dir.cleanup();
    }
  }, 40_000);

  it("leaves the process environment as it was after loading a TypeScript config: the loader's TSX_DISABLE_CACHE is gone, a user's kept", async () => {
    const dir = tempDir('sepipe-cfg-');
    const before = process.env.TSX_DISABLE_CACHE;
    try {
      writeFileSync(`${dir.dir}/p.ts`, 'export default { resources: { logs: true } };\n');
      delete process.env.TSX_DISABLE_CACHE;
      await loadPipelineConfig('p.ts', env, dir.dir);
      expect('TSX_DISABLE_CACHE' in process.env).toBe(false);
      process.env.TSX_DISABLE_CACHE = '0';
      await loadPipelineConfig('p.ts', env, dir.dir);
      expect(process.env.TSX_DISABLE_CACHE).toBe('0');
    } finally {
      if (before === undefined) delete process.env.TSX_DISABLE_CACHE;
      else process.env.TSX_DISABLE_CACHE = before;
      dir.cleanup();
    }
  });

  it("reloading an edited config: a JavaScript config's imports stay as first loaded, a TypeScript config's ES module imports load anew", async () => {
    // What OPERATIONS.md ("Running from code") tells an app that reloads its config: which edits of the files the config
    // imports a reload sees. Each config is edited too, so the reload is not the cached module.
    const dir = tempDir('sepipe-cfg-');
    try {
      const script = `
        const { writeFileSync } = await import('node:fs');
        const { loadPipelineConfig } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'dist', 'config-loader.js')).href)});
        const seen = {};
        for (const [config, helper, imported] of [['a.mjs', 'ha.mjs', 'ha.mjs'], ['b.ts', 'hb.ts', 'hb.js'], ['c.ts', 'hc.mjs', 'hc.mjs'], ['d.ts', 'hd.cjs', 'hd.cjs']]) {
          const esm = helper.endsWith('.cjs') ? (n) => 'module.exports = { name: ' + JSON.stringify(n) + ' };\\n' : (n) => 'export default { name: ' + JSON.stringify(n) + ' };\\n';
          const load = async (edit) => {
            writeFileSync(config, "import h from './" + imported + "';\\nexport default { resources: { logs: true }, pipelineName: h.name + '" + edit + "' };\\n");
            return (await loadPipelineConfig(config, {}, process.cwd())).config.pipelineName;
          };
          writeFileSync(helper, esm('one'));
          const first = await load('-a');
          writeFileSync(helper, esm('two'));
          seen[config + ' ' + helper] = [first, await load('-b')];
        }
        process.stdout.write(JSON.stringify(seen));`;
      writeFileSync(join(dir.dir, 'package.json'), '{ "type": "module" }\n');
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: dir.dir, timeout: 30_000 });
      expect(JSON.parse(stdout)).toEqual({
        'a.mjs ha.mjs': ['one-a', 'one-b'],
        'b.ts hb.ts': ['one-a', 'two-b'],
        'c.ts hc.mjs': ['one-a', 'two-b'],
        'd.ts hd.cjs': ['one-a', 'one-b'],
      });
    } finally {
      dir.cleanup();
    }
  }, 40_000);

  it('a config reached through a symlink swapped to a release of the same config but other imports loads the new imports', async () => {
    // A deploy that points `current` at a new release: the config reads the same, what it imports does not. Node
    // imports a module by its real path (the JavaScript config), so the TypeScript config's cache is keyed by it too.
    const dir = tempDir('sepipe-cfg-');
    try {
      for (const release of ['r1', 'r2']) {
        mkdirSync(join(dir.dir, release));
        for (const ext of ['ts', 'mjs']) {
          writeFileSync(join(dir.dir, release, `pipeline.${ext}`), `import h from './helper.${ext}';\nexport default { resources: { logs: true }, pipelineName: h };\n`);
          writeFileSync(join(dir.dir, release, `helper.${ext}`), `export default '${release}';\n`);
        }
      }
      const names: unknown[] = [];
      for (const release of ['r1', 'r2']) {
        rmSync(join(dir.dir, 'current'), { force: true });
        symlinkSync(release, join(dir.dir, 'current'), 'dir');
        for (const ext of ['ts', 'mjs']) names.push((await loadPipelineConfig(`current/pipeline.${ext}`, env, dir.dir)).config.pipelineName);
      }
      expect(names).toEqual(['r1', 'r1', 'r2', 'r2']);
    } finally {
      dir.cleanup();
    }
  });

  it('a TypeScript config path that is a directory fails as the import says, loaded once or again (no content to compare)', async () => {
    const dir = tempDir('sepipe-cfg-');
    try {
      mkdirSync(join(dir.dir, 'dir.ts'));
      for (let load = 0; load < 2; load++) {
        await expect(loadPipelineConfig('dir.ts', env, dir.dir)).rejects.toThrow(/Cannot load pipeline config .*dir\.ts: Directory import .* is not supported/);
      }
    } finally {
      dir.cleanup();
    }
  });

  it('names what is wrong with an exported config without resources, and a config outside its project', async () => {
    const dir = tempDir('sepipe-cfg-');
    try {
      writeFileSync(`${dir.dir}/typo.mjs`, 'export default { resource: { logs: true }, concurrency: 2 };\n');
      await expect(loadPipelineConfig('typo.mjs', env, dir.dir)).rejects.toThrow(/typo\.mjs: the exported config has no `resources` object \(its keys: resource, concurrency\); e\.g\./);
      // A CommonJS TypeScript config (.cts): tsImport nests its default export one level deeper; the keys named are the config's.
      writeFileSync(`${dir.dir}/typo.cts`, 'export default { resource: { logs: true }, concurrency: 2 };\n');
      await expect(loadPipelineConfig('typo.cts', env, dir.dir)).rejects.toThrow(/typo\.cts: the exported config has no `resources` object \(its keys: resource, concurrency\); e\.g\./);
      // A temp dir has no node_modules: the import cannot resolve, as for a config kept outside the project.
      writeFileSync(`${dir.dir}/outside.ts`, "import { definePipeline } from 'snapengage-pipeline-not-here';\nexport default definePipeline({ resources: { logs: true } });\n");
      await expect(loadPipelineConfig('outside.ts', env, dir.dir)).rejects.toThrow(
        /outside\.ts: it imports snapengage-pipeline-not-here, which is not installed where the config is; keep the config inside the project/,
      );
      // A file of its own that is missing (a typo) is not a package to install, wherever the config is.
      writeFileSync(`${dir.dir}/local.ts`, "import { steps } from './stpes.js';\nexport default { resources: { logs: { steps } } };\n");
      writeFileSync(`${dir.dir}/local.mjs`, "import { steps } from './stpes.mjs';\nexport default { resources: { logs: { steps } } };\n");
      await expect(loadPipelineConfig('local.ts', env, dir.dir)).rejects.toThrow(/local\.ts: it imports \.\/stpes\.js, which does not exist$/);
      await expect(loadPipelineConfig('local.mjs', env, dir.dir)).rejects.toThrow(/local\.mjs: it imports .*stpes\.mjs, which does not exist$/);
      // Under a directory with "?" tsx finds no relative import, even one that is there: it said "which does not exist".
      mkdirSync(`${dir.dir}/what?`);
      writeFileSync(`${dir.dir}/what?/steps.ts`, 'export const steps = [];\n');
      writeFileSync(`${dir.dir}/what?/pipeline.ts`, "import { steps } from './steps';\nexport default { resources: { logs: { steps } } };\n");
      // Node 20 finds the config and not ./steps; Node 24 not even the config, which tsx asks for as `…?namespace=…`
      // (that name is none of the user's, so the message does not show it); Node 22.22+ loads ./steps as JavaScript.
      const inQuestionDir = loadPipelineConfig('what?/pipeline.ts', env, dir.dir);
      await expect(inQuestionDir).rejects.toThrow(
        /what\?\/pipeline\.ts: (?:it imports \.\/steps, which tsx \(the TypeScript loader\) cannot find in|tsx \(the TypeScript loader\) cannot load it from|Unexpected token 'export': tsx \(the TypeScript loader\) does not compile files in) a directory whose path has a "\?"; move the project to a directory without "\?"$/,
      );
      await expect(inQuestionDir).rejects.not.toThrow(/namespace=/);
    } finally {
      dir.cleanup();
    }
  });
});

describe('start date', () => {
  it('refuses a time, an epoch number or a day the calendar lacks, naming the UTC day to use', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    const refused = (value: unknown, config: unknown = { resources: { logs: true } }) => () =>
      planPipeline(config as never, { ...env, SNAPENGAGE_START_DATE: String(value) }, undefined, now);
    expect(refused('2025-01-01T10:00:00Z')).toThrow(
      /^SNAPENGAGE_START_DATE must be a date YYYY-MM-DD, got "2025-01-01T10:00:00Z": a day is enough, not a time: windows are whole UTC days, and that instant falls on 2025-01-01 in UTC; use 2025-01-01$/,
    );
    // East of UTC, early in the day: the UTC day before holds it (a later one would skip the hours up to midnight UTC).
    expect(refused('2025-01-01T02:00:00+05:30')).toThrow(/falls on 2024-12-31 in UTC; use 2024-12-31$/);
    expect(refused('2024-12-31T20:00:00-0800')).toThrow(/falls on 2025-01-01 in UTC; use 2025-01-01$/);
    expect(refused('2025-01-01T10:00:00')).toThrow(/got "2025-01-01T10:00:00": a day is enough, not a time: windows are whole UTC days; use 2025-01-01$/);
    expect(refused('1735689600000')).toThrow(/a day, not epoch milliseconds: that instant falls on 2025-01-01 in UTC; use 2025-01-01$/);
    expect(refused('1735689600')).toThrow(/a day, not epoch seconds: that instant falls on 2025-01-01 in UTC; use 2025-01-01$/);
    expect(refused('2025-02-29')).toThrow(/got "2025-02-29": there is no such day: 2025-02 has 28 days$/);
    expect(refused('2024-02-30')).toThrow(/there is no such day: 2024-02 has 29 days$/);
    // A time on a day the calendar lacks: that day is wrong, not the day Date.parse rolls it over to (March 2).
    expect(refused('2025-02-30T10:00:00Z')).toThrow(/got "2025-02-30T10:00:00Z": there is no such day: 2025-02 has 28 days$/);
    expect(refused('2025-02-30 10:00')).toThrow(/got "2025-02-30 10:00": there is no such day: 2025-02 has 28 days$/);
    expect(refused('2025-13-01T10:00Z')).toThrow(/got "2025-13-01T10:00Z": there is no such month$/);
    expect(refused('garbage')).toThrow(/got "garbage": use the first day to load, e.g. 2025-01-31 \(a whole UTC day\)$/);
    // The day named is one the next run would take: not one after today, nor one before any case.
    expect(refused('2999-01-01T00:00:00Z')).toThrow(/that instant falls on 2999-01-01 in UTC, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
    expect(refused('1969-12-31T23:00:00Z')).toThrow(/that instant falls on 1969-12-31 in UTC, before 1970-01-01: no case is that old; check the year$/);
    expect(refused('2026-11-28T10:00:00')).toThrow(/windows are whole UTC days, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
    expect(planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_START_DATE: '2024-02-29' }, undefined, now).resources[0]?.incremental?.startDate).toBe('2024-02-29');
    // From JavaScript, a Date: its UTC day is named, not silently taken (new Date(2025, 0, 1) east of UTC is Dec 31 there).
    expect(() => planPipeline({ resources: { logs: { incremental: { startDate: new Date('2025-01-01T00:00:00Z') as never } } } }, env, undefined, now)).toThrow(
      /^resources\.logs\.incremental\.startDate must be a date YYYY-MM-DD, got "2025-01-01T00:00:00.000Z": a Date object, not a day: write the day as text, e.g. '2025-01-01'/,
    );
    expect(() => planPipeline({ resources: { logs: { incremental: { startDate: ' 2025-01-01' } } } }, env, undefined, now)).toThrow(/without the spaces around it: 2025-01-01$/);
    // Nor with spaces around a day, nor from a Date: the day they name would be refused next (before: 'without the
    // spaces around it: 2999-01-01', 'write the day as text, e.g. '2999-01-01'').
    const startDate = (value: unknown) => () => planPipeline({ resources: { logs: { incremental: { startDate: value as string } } } }, env, undefined, now);
    expect(startDate(' 2999-01-01')).toThrow(/got " 2999-01-01": spaces around 2999-01-01, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
    expect(startDate('1969-07-20 ')).toThrow(/got "1969-07-20 ": spaces around 1969-07-20, before 1970-01-01: no case is that old; check the year$/);
    expect(startDate(new Date('2999-01-01T00:00:00Z'))).toThrow(/got "2999-01-01T00:00:00.000Z": a Date object, not a day: that instant falls on 2999-01-01 in UTC, after today \(2026-11-27 UTC\): use the first day to load, in the past$/);
  });

  it('rejects a start date after today instead of quietly loading today only', () => {
    expect(() => planPipeline({ resources: { logs: true } }, { ...env, SNAPENGAGE_START_DATE: '2099-01-01' })).toThrow(
      /SNAPENGAGE_START_DATE is 2099-01-01, after today \(\d{4}-\d{2}-\d{2} UTC\): use the first day to load, in the past/,
    );
    expect(() => planPipeline({ resources: { logs: { incremental: { startDate: '2099-01-01' } } } }, env)).toThrow(/resources\.logs\.incremental\.startDate is 2099-01-01, after today/);
  });
});

describe('primaryKey overrides', () => {
  it('rejects a key field the spec does not declare, unless a map step may set it', () => {
    expect(() => planPipeline({ resources: { logs: { primaryKey: ['nope'] } } }, env)).toThrow(
      /resources\.logs\.primaryKey: "nope" is not a field of logs records in the spec \(id, .*\); use one of them, or add a map step that sets it/,
    );
    expect(planPipeline({ resources: { logs: { primaryKey: ['url'] } } }, env).resources[0]?.primaryKey).toEqual(['url']);
    const mapped = planPipeline({ resources: { logs: { primaryKey: ['case_id'], steps: [{ map: (r) => ({ ...r, case_id: r.id }) }] } } }, env);
    expect(mapped.resources[0]?.primaryKey).toEqual(['case_id']);
  });

  it('rejects a key field that holds an object or a list in the spec (it could not be read back from the stored rows)', () => {
    expect(() => planPipeline({ resources: { logs: { primaryKey: ['requester_details'] } } }, env)).toThrow(
      'resources.logs.primaryKey: "requester_details" holds an object in the spec, not a value; use a field with scalar values',
    );
    expect(() => planPipeline({ resources: { logs: { primaryKey: ['id', 'transcripts'] } } }, env)).toThrow(
      'resources.logs.primaryKey: "transcripts" holds a list in the spec, not a value',
    );
    expect(planPipeline({ resources: { logs: { primaryKey: ['id', 'created_at_seconds'] } } }, env).resources[0]?.primaryKey).toEqual(['id', 'created_at_seconds']);
  });
});

describe('incremental windows of parents and children', () => {
  const withKey = { ...env, SNAPENGAGE_API_KEY: 'k' };
  const both = planPipeline({ resources: { logs: true, chat_poll: true } }, withKey).resources;
  const childOnly = planPipeline({ resources: { chat_poll: true } }, withKey).resources;
  const w = (ends: Record<string, string>) => ({ windows: Object.fromEntries(Object.entries(ends).map(([k, lastEnd]) => [k, { lastEnd }])) });

  it('resumes a parent at the earliest window of its consumers, and from the start where one has none', () => {
    const stored = new Map<string, unknown>([
      ['logs', w({ w1: '2025-02-10', w2: '2025-02-10', w3: '2025-02-10' })],
      ['chat_poll', { parents: { logs: w({ w1: '2025-02-01', w2: '2025-02-12' }) } }],
    ]);
    // w3: chat_poll never saw it, so it starts from the start date (left out); each consumer keeps its own point.
    const logsAndPoll = { logs: stored.get('logs') as { windows: object }, chat_poll: (stored.get('chat_poll') as { parents: { logs: { windows: object } } }).parents.logs };
    expect(statesToResume(both, stored).get('logs')).toEqual({
      ...w({ w1: '2025-02-01', w2: '2025-02-10' }),
      consumers: { logs: logsAndPoll.logs.windows, chat_poll: logsAndPoll.chat_poll.windows },
    });
    // logs only extracted: chat_poll's windows alone; logs' own state does not count.
    expect(statesToResume(childOnly, stored).get('logs')).toEqual(w({ w1: '2025-02-01', w2: '2025-02-12' }));
    // A child never run before: its parent starts from the start date, the child alone from there.
    expect(statesToResume(both, new Map([['logs', w({ w1: '2025-02-10' })]])).get('logs')).toEqual({
      windows: {},
      consumers: { logs: w({ w1: '2025-02-10' }).windows, chat_poll: {} },
    });
    // replace keeps only what the run reads: always the whole window.
    const replacing = planPipeline({ resources: { logs: { writeDisposition: 'replace' } } }, withKey).resources;
    expect(statesToResume(replacing, stored).get('logs')).toEqual({ windows: {} });
    const merging = planPipeline({ resources: { logs: true } }, withKey).resources;
    expect(statesToResume(merging, stored).get('logs')).toEqual(stored.get('logs'));
    // A child state row committed before children kept parent windows (null): nothing says how far it got.
    const legacy = new Map<string, unknown>([['logs', w({ w1: '2025-02-10' })], ['chat_poll', null]]);
    expect(statesToResume(both, legacy).get('logs')).toMatchObject({ windows: {}, consumers: { chat_poll: {} } });
  });

  it('splits a window where each consumer\'s part begins', () => {
    const partsOf = (windows: Record<string, { lastEnd: string; firstStart?: string }>) => windowParts(windows.w, windows.w?.lastEnd ?? '2025-01-01', '2025-01-31', '2025-01-01');
    expect(consumerRanges({}, undefined, partsOf)).toEqual([{ start: '2025-01-01', end: '2025-01-31' }]);
    const ranges = consumerRanges({}, { logs: { w: { lastEnd: '2025-01-30' } }, chat_poll: {}, visitor_typing: { w: { lastEnd: '2025-01-20' } } }, partsOf);
    expect(ranges.map((r) => [r.start, r.end, [...(r.consumers ?? [])].sort()])).toEqual([
      ['2025-01-01', '2025-01-19', ['chat_poll']],
      ['2025-01-20', '2025-01-29', ['chat_poll', 'visitor_typing']],
      ['2025-01-30', '2025-01-31', ['chat_poll', 'logs', 'visitor_typing']],
    ]);
  });

  it('backfills a consumer whose first day loaded is after the start date (the start date was moved earlier)', () => {
    // Start date 2025-01-01, today 2025-03-31. logs first loaded from 2025-02-10 and resumes 2025-03-29;
    // chat_poll has loaded since 2025-01-01 and resumes 2025-03-29 too.
    const partsOf = (windows: Record<string, { lastEnd: string; firstStart?: string }>) => windowParts(windows.w, windows.w ? addDays(windows.w.lastEnd, -1) : '2025-01-01', '2025-03-31', '2025-01-01');
    expect(partsOf({ w: { lastEnd: '2025-03-30', firstStart: '2025-02-10' } })).toEqual([
      { start: '2025-01-01', end: '2025-02-09' },
      { start: '2025-03-29', end: '2025-03-31' },
    ]);
    // No first day stored (an older version's window), or one at or before the start date: no backfill.
    expect(partsOf({ w: { lastEnd: '2025-03-30' } })).toEqual([{ start: '2025-03-29', end: '2025-03-31' }]);
    expect(partsOf({ w: { lastEnd: '2025-03-30', firstStart: '2025-01-01' } })).toEqual([{ start: '2025-03-29', end: '2025-03-31' }]);
    // A backfill reaching the resume point is one range.
    expect(partsOf({ w: { lastEnd: '2025-01-16', firstStart: '2025-01-15' } })).toEqual([{ start: '2025-01-01', end: '2025-03-31' }]);
    expect(partsOf({ w: { lastEnd: '2025-01-20', firstStart: '2025-01-15' } })).toEqual([{ start: '2025-01-01', end: '2025-01-14' }, { start: '2025-01-19', end: '2025-03-31' }]);
    const ranges = consumerRanges({}, {
      logs: { w: { lastEnd: '2025-03-30', firstStart: '2025-02-10' } },
      chat_poll: { w: { lastEnd: '2025-03-30', firstStart: '2025-01-01' } },
    }, partsOf);
    expect(ranges.map((r) => [r.start, r.end, [...(r.consumers ?? [])].sort()])).toEqual([
      ['2025-01-01', '2025-02-09', ['logs']],
      ['2025-03-29', '2025-03-31', ['chat_poll', 'logs']],
    ]);
  });

  it('commits merged windows: widgets not in this run keep theirs, a child keeps the parent windows that drove it', () => {
    const stored = new Map<string, unknown>([
      ['logs', w({ w1: '2025-02-10', w2: '2025-02-10' })],
      ['chat_poll', { parents: { logs: w({ w1: '2025-02-01', w9: '2025-01-01' }) } }],
    ]);
    const extracted = new Map([['logs', w({ w1: '2025-03-01' })]]);
    const [logs, chatPoll] = [both.find((p) => p.name === 'logs')!, both.find((p) => p.name === 'chat_poll')!];
    expect(stateToCommit(logs, both, stored, extracted)).toEqual(w({ w1: '2025-03-01', w2: '2025-02-10' }));
    expect(stateToCommit(chatPoll, both, stored, extracted)).toEqual({ parents: { logs: w({ w1: '2025-03-01', w9: '2025-01-01' }) } });
    // Nothing extracted (a --limit-pages sample): as stored.
    expect(stateToCommit(chatPoll, both, stored, new Map())).toEqual(stored.get('chat_poll'));
  });
});

describe('sliceWindow', () => {
  it('covers the window with inclusive slices of at most N days, oldest first', () => {
    expect(sliceWindow('2025-01-01', '2025-01-15', 7)).toEqual([
      { start: '2025-01-01', end: '2025-01-07' },
      { start: '2025-01-08', end: '2025-01-14' },
      { start: '2025-01-15', end: '2025-01-15' },
    ]);
    expect(sliceWindow('2024-12-30', '2025-01-02', 2)).toEqual([
      { start: '2024-12-30', end: '2024-12-31' },
      { start: '2025-01-01', end: '2025-01-02' },
    ]);
    expect(sliceWindow('2025-01-05', '2025-01-05', 7)).toEqual([{ start: '2025-01-05', end: '2025-01-05' }]);
    expect(sliceWindow('2025-01-01', '2025-03-01', null)).toEqual([{ start: '2025-01-01', end: '2025-03-01' }]);
  });

  it('cuts a short window finer to give each request slot a slice, never below one day', () => {
    // A daily rerun's lookback (yesterday and today) with 2 slices wanted: one slice per day.
    expect(sliceWindow('2025-01-14', '2025-01-15', 7, 2)).toEqual([
      { start: '2025-01-14', end: '2025-01-14' },
      { start: '2025-01-15', end: '2025-01-15' },
    ]);
    expect(sliceWindow('2025-01-01', '2025-01-08', 7, 4)).toEqual([
      { start: '2025-01-01', end: '2025-01-02' },
      { start: '2025-01-03', end: '2025-01-04' },
      { start: '2025-01-05', end: '2025-01-06' },
      { start: '2025-01-07', end: '2025-01-08' },
    ]);
    expect(sliceWindow('2025-01-15', '2025-01-15', 7, 4)).toEqual([{ start: '2025-01-15', end: '2025-01-15' }]);
    // A long window keeps its slice size.
    expect(sliceWindow('2025-01-01', '2025-03-31', 7, 4)).toHaveLength(13);
    expect(sliceWindow('2025-01-01', '2025-01-15', 7, 1)).toHaveLength(3);
  });
});

describe('limits', () => {
  it('the semaphore never lets more than its size run at once', async () => {
    const semaphore = new Semaphore(3);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        semaphore.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
  });

  it('the semaphore lets waiters in by priority, then in arrival order', async () => {
    const semaphore = new Semaphore(1);
    const started: string[] = [];
    let release!: () => void;
    const first = semaphore.run(() => new Promise<void>((r) => (release = r)));
    // Per widget, oldest slice first, as the extractor queues them; they must run oldest first across widgets.
    const queued = [['w1', '2025-01-08'], ['w1', '2025-01-01'], ['w2', '2025-01-08'], ['w2', '2025-01-01'], ['w3', '2025-01-01']].map(
      ([widget, day]) => semaphore.run(async () => void started.push(`${day} ${widget}`), day),
    );
    await new Promise((r) => setImmediate(r)); // the first task has its slot and is running
    release();
    await Promise.all([first, ...queued]);
    expect(started).toEqual(['2025-01-01 w1', '2025-01-01 w2', '2025-01-01 w3', '2025-01-08 w1', '2025-01-08 w2']);
  });

  it('the semaphore keeps that order over thousands of waiters with repeated priorities', async () => {
    const semaphore = new Semaphore(1);
    await semaphore.acquire();
    const order: number[] = [];
    const days = Array.from({ length: 3000 }, (_, i) => `2025-${String(1 + ((i * 7919) % 12)).padStart(2, '0')}-01`);
    const waiting = days.map((day, i) => semaphore.acquire(day).then(() => {
      order.push(i);
      semaphore.release();
    }));
    expect(semaphore.waiting).toBe(3000);
    semaphore.release();
    await Promise.all(waiting);
    const expected = days.map((day, i) => [day, i] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1])).map(([, i]) => i);
    expect(order).toEqual(expected);
  });

  it('the token bucket hands out a burst, then spaces tokens by the rate (fake clock and sleep)', async () => {
    let now = 0;
    const sleeps: number[] = [];
    let wake: (() => void) | undefined;
    const fakeSleep = (ms: number) => {
      sleeps.push(ms);
      return new Promise<void>((resolve) => (wake = resolve));
    };
    const bucket = new TokenBucket(2, 2, () => now, fakeSleep);
    await bucket.take();
    await bucket.take();
    expect(sleeps).toEqual([]); // the burst needs no waiting
    let third = false;
    const pending = bucket.take().then(() => (third = true));
    for (let i = 0; i < 10 && !wake; i++) await Promise.resolve(); // let the chained take reach its sleep
    expect(sleeps).toEqual([500]); // empty bucket at 2/s: one token in 500 ms
    expect(third).toBe(false);
    now = 500;
    wake!();
    await pending;
    expect(third).toBe(true);
    expect(new TokenBucket(0).unlimited).toBe(true);
  });

  it('a 429 holds every request and halves the rate once per second; it steps back up without 429s (fake clock)', async () => {
    let now = 0;
    const sleeps: number[] = [];
    // The fake sleep moves the clock on: no real waiting.
    const fakeSleep = async (ms: number) => {
      sleeps.push(Math.round(ms));
      now += ms;
    };
    const bucket = new TokenBucket(10, 10, () => now, fakeSleep);
    for (let i = 0; i < 10; i++) await bucket.take();
    expect(sleeps).toEqual([]);
    bucket.throttled(undefined);
    bucket.throttled(undefined); // the same burst's other 429: no second cut
    expect(bucket.currentRate).toBe(5);
    await bucket.take();
    // Held one interval at the new rate (no Retry-After); the bucket was emptied by the cut, so the token it takes
    // then is the one that interval made.
    expect(sleeps).toEqual([200]);
    await bucket.take();
    expect(sleeps).toEqual([200, 200]);
    now += 1000;
    bucket.throttled(3000); // a second later, a 429 with Retry-After: 3: cut again, and everyone waits 3 s
    expect(bucket.currentRate).toBe(2.5);
    sleeps.length = 0;
    await bucket.take();
    expect(sleeps[0]).toBe(3000);
    // Each 2 s without a 429 (here 3 s, the last hold's length) adds 10 % of the starting rate back, up to it,
    // counted from the end of the hold: the 4 s after the 3 s hold are one step.
    now += 4000;
    await bucket.take();
    expect(bucket.currentRate).toBe(3.5);
    now += 60_000;
    await bucket.take();
    expect(bucket.currentRate).toBe(10);
    expect(bucket.report).toEqual({ throttled: 3, configured: 10, lowest: 2.5 });
    // A Retry-After above a minute holds a minute.
    now += 5000;
    bucket.throttled(3_600_000);
    sleeps.length = 0;
    await bucket.take();
    expect(sleeps[0]).toBe(60_000);
  });

  it('without a configured limit, the first 429 starts one at half the rate seen, and it lifts again later', async () => {
    let now = 10_000;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    const bucket = new TokenBucket(0, undefined, () => now, fakeSleep);
    for (let i = 0; i < 8; i++) await bucket.take(); // 8 requests in this second
    now += 500;
    bucket.throttled(undefined);
    expect(bucket.unlimited).toBe(false);
    expect(bucket.currentRate).toBe(4);
    await bucket.take();
    // ten 2-second steps of 0.8/s each: back to 8/s, the rate it was at, and so no limit again
    now += 20_000;
    await bucket.take();
    expect(bucket.unlimited).toBe(true);
    expect(bucket.report).toEqual({ throttled: 1, configured: 0, lowest: 4 });
  });

  /** A fake clock whose timers fire only when advanced: takes can be left waiting while 429s and aborts come in. */
  function fakeTimers() {
    let now = 0;
    const timers: Array<{ at: number; resolve: () => void }> = [];
    const sleep = (ms: number, signal?: AbortSignal) =>
      new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(signal.reason);
        const timer = { at: now + ms, resolve };
        timers.push(timer);
        signal?.addEventListener('abort', () => (timers.splice(timers.indexOf(timer), 1), reject(signal.reason)), { once: true });
      });
    const settle = async () => {
      for (let i = 0; i < 20; i++) await Promise.resolve();
    };
    const advance = async (ms: number) => {
      const end = now + ms;
      await settle();
      // Bounded: code that keeps scheduling timers within the span would spin here on microtasks alone, where vitest's
      // own timeout (a macrotask) never fires.
      for (let fired = 0; ; fired++) {
        if (fired > 10_000) throw new Error(`fake clock: more than 10,000 timers within ${ms} ms`);
        timers.sort((a, b) => a.at - b.at);
        if (timers.length === 0 || timers[0]!.at > end) break;
        const timer = timers.shift()!;
        now = Math.max(now, timer.at);
        timer.resolve();
        await settle();
      }
      now = end;
      await settle();
    };
    return { now: () => now, sleep, advance, settle, pending: () => timers.length };
  }

  it('by default bursts at most ceil(rate) requests, then one per interval, and after a cut bursts at most the cut rate (fake clock)', async () => {
    // The run builds its bucket with the default burst: one request too many in a burst is a 429 against a strict limit.
    const clock = fakeTimers();
    const bucket = new TokenBucket(4, undefined, clock.now, clock.sleep);
    const times: number[] = [];
    for (let i = 0; i < 8; i++) void bucket.take().then(() => times.push(clock.now()));
    await clock.advance(2000);
    expect(times).toEqual([0, 0, 0, 0, 250, 500, 750, 1000]);
    // A request that comes mid-interval waits for a whole token, not for half of one.
    const spaced = new TokenBucket(4, undefined, clock.now, clock.sleep);
    const begin = clock.now();
    for (let i = 0; i < 4; i++) await spaced.take();
    await clock.advance(130);
    let late: number | undefined;
    void spaced.take().then(() => (late = clock.now() - begin));
    await clock.advance(500);
    expect(late).toBe(250);

    const cut = new TokenBucket(10, undefined, clock.now, clock.sleep);
    const start = clock.now();
    cut.throttled(undefined); // rate 5/s, held one interval (200 ms)
    await clock.advance(1500); // idle for longer than a full bucket at 5/s takes to fill, short of a recovery step
    expect(cut.currentRate).toBe(5);
    const after: number[] = [];
    for (let i = 0; i < 7; i++) void cut.take().then(() => after.push(clock.now() - start));
    await clock.advance(1000);
    expect(after).toEqual([1500, 1500, 1500, 1500, 1500, 1700, 1900]);
  });

  it('a later 429 with a shorter Retry-After does not cut a longer hold short (fake clock; mutation round 6)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(10, 10, clock.now, clock.sleep);
    const start = clock.now();
    bucket.throttled(30_000);
    await clock.advance(1500);
    bucket.throttled(1_000);
    let went: number | undefined;
    void bucket.take().then(() => (went = clock.now() - start));
    await clock.advance(10_000);
    expect(went).toBeUndefined();
    await clock.advance(20_000);
    expect(went).toBe(30_000);
  });

  it('a 429 while a request waits for its token or for a hold holds that request too (fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(10, 10, clock.now, clock.sleep);
    for (let i = 0; i < 10; i++) await bucket.take();
    let at: number | undefined;
    void bucket.take().then(() => (at = clock.now())); // waits 100 ms for a token
    await clock.advance(50);
    bucket.throttled(5000);
    await clock.advance(100);
    expect(at).toBeUndefined(); // it used to wake at 100 ms and go, into the 5 s hold
    await clock.advance(4000);
    bucket.throttled(5000); // within a second of the cut: no second cut, but a longer hold
    await clock.advance(2000);
    expect(at).toBeUndefined();
    await clock.advance(10_000);
    expect(at).toBe(9150); // the end of the second hold (4150 + 5000)
  });

  it('requests held by a 429 resume one interval apart, not in a burst of the tokens the hold made (fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(10, 10, clock.now, clock.sleep);
    bucket.throttled(3000); // a full bucket; the rate is cut to 5/s
    const times: number[] = [];
    for (let i = 0; i < 5; i++) void bucket.take().then(() => times.push(clock.now()));
    await clock.advance(10_000);
    expect(times).toEqual([3000, 3200, 3400, 3600, 3800]); // all five at 3000 before
  });

  it('the rate steps back up only for time requests went out, not while they were held, and no faster than the hold (fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(10, 10, clock.now, clock.sleep);
    bucket.throttled(30_000);
    void bucket.take();
    await clock.advance(30_000);
    expect(bucket.currentRate).toBe(5); // it was back at 10/s, 15 steps earned while nothing was sent
    // After a hold of 30 s a step takes 30 s, not 2 s: a probe that meets the limit again costs another 30 s hold.
    void bucket.take();
    await clock.advance(4000);
    void bucket.take();
    await clock.advance(1);
    expect(bucket.currentRate).toBe(5); // 7 with 2-second steps
    await clock.advance(26_000);
    void bucket.take();
    await clock.advance(1);
    expect(bucket.currentRate).toBe(6);
  });

  it('a take waiting behind others rejects as soon as its signal aborts, takes no token, and leaves no timer (fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(1, 1, clock.now, clock.sleep);
    await bucket.take();
    const first = new AbortController();
    const second = new AbortController();
    const outcome: string[] = [];
    const a = bucket.take(first.signal).then(() => outcome.push('a'), () => outcome.push('a aborted'));
    const b = bucket.take(second.signal).then(() => outcome.push('b'), () => outcome.push('b aborted'));
    await clock.settle();
    second.abort(new Error('attempt timed out'));
    await clock.settle();
    expect(outcome).toEqual(['b aborted']); // it used to wait for its turn, behind a's 1 s
    await clock.advance(1000);
    await Promise.all([a, b]);
    expect(outcome).toEqual(['b aborted', 'a']);
    let next: number | undefined;
    void bucket.take().then(() => (next = clock.now()));
    await clock.advance(1000);
    expect(next).toBe(2000); // one interval after a: b took no token at its turn
    first.abort();
    bucket.throttled(10_000);
    const held = new AbortController();
    const c = bucket.take(held.signal).catch((error: unknown) => error);
    await clock.settle();
    expect(clock.pending()).toBe(1);
    held.abort(new Error('run aborted'));
    expect(((await c) as Error).message).toBe('run aborted');
    expect(clock.pending()).toBe(0);
  });

  it('a halved rate is back at the configured one after exactly 5 steps, one take per step (no float drift; fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(1, 1, clock.now, clock.sleep);
    bucket.throttled(2000); // cut to 0.5/s, held 2 s
    void bucket.take();
    await clock.advance(2000);
    for (let step = 1; step <= 5; step++) {
      await clock.advance(2000);
      void bucket.take();
      await clock.settle();
    }
    // 0.5 + 0.1 + 0.1 + 0.1 + 0.1 + 0.1 in floating point is 0.9999999999999999: a sixth step was needed.
    expect(bucket.currentRate).toBe(1);
  });

  it('a bucket configured with Infinity (no limit) has none again once it recovered from a 429 (fake clock)', async () => {
    const clock = fakeTimers();
    const bucket = new TokenBucket(Infinity, undefined, clock.now, clock.sleep);
    for (let i = 0; i < 8; i++) await bucket.take();
    bucket.throttled(undefined);
    expect(bucket.currentRate).toBe(4);
    void bucket.take();
    await clock.advance(30_000);
    void bucket.take();
    await clock.settle();
    // As with 0: it stayed limited at the rate seen at the first 429, for good.
    expect(bucket.unlimited).toBe(true);
    expect(bucket.report.configured).toBe(0);
  });

  it('under a configured rate, 429s that are a tenth of the answers (not rate-related) neither cut the rate nor hold requests; without one they do (fake clock)', async () => {
    let now = 0;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    const bucket = new TokenBucket(10, 10, () => now, fakeSleep);
    for (let i = 0; i < 100; i++) {
      await bucket.take();
      if (i % 10 === 9) bucket.throttled(1000);
      else bucket.answered();
    }
    // Each used to halve the rate (once a second) and hold everyone 1 s: the sandbox's 429=0.1 took runs to 0.28/s.
    expect(bucket.currentRate).toBe(10);
    expect(bucket.report).toEqual({ throttled: 10, configured: 10, lowest: 10 });
    expect(Math.round(now)).toBe(9000); // a burst of 10, then 90 requests 100 ms apart: no hold
    // Without a configured rate nothing spaces requests out: every 429 counts, as before (a strict limit with no
    // Retry-After failed runs while the bucket waited for a third of the answers to be 429s).
    const unlimited = new TokenBucket(0, undefined, () => now, fakeSleep);
    for (let i = 0; i < 10; i++) {
      await unlimited.take();
      now += 10;
      unlimited.answered();
    }
    await unlimited.take();
    unlimited.throttled(1000);
    expect(unlimited.unlimited).toBe(false);
    expect(unlimited.report.throttled).toBe(1);
  });

  it('a request whose retry is refused again cuts the rate, however few the 429s: a rate limit, not a stray one (fake clock)', async () => {
    let now = 0;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    const bucket = new TokenBucket(10, 10, () => now, fakeSleep);
    for (let i = 0; i < 60; i++) {
      await bucket.take();
      bucket.answered(`GET /page/${i}`);
    }
    // A stray 429, whose retry goes through: no cut (its share is 1 in 30).
    bucket.throttled(1000, 'GET /page/60');
    await bucket.take();
    bucket.answered('GET /page/60');
    expect(bucket.currentRate).toBe(10);
    // Refused, then its retry refused again: with 4 retries a request fails the run after 5 of these in a row, which
    // 429s at a fifth of the answers do once in 3,000 requests. It cuts.
    bucket.throttled(1000, 'GET /page/61');
    expect(bucket.currentRate).toBe(10);
    await bucket.take();
    bucket.throttled(1000, 'GET /page/61');
    expect(bucket.currentRate).toBe(5);
    expect(bucket.report).toEqual({ throttled: 3, configured: 10, lowest: 5 });
    // A request answered since is forgotten: its next 429 is a first one again.
    await bucket.take();
    bucket.answered('GET /page/61');
    now += 5000;
    await bucket.take();
    bucket.throttled(1000, 'GET /page/61');
    expect(bucket.report.lowest).toBe(5);
  });

  it('a request first refused while 429s were a third of the answers still counts as refused when its retry is (fake clock)', async () => {
    let now = 0;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    const bucket = new TokenBucket(10, 10, () => now, fakeSleep);
    // A burst of 429s: a third and more of the answers, GET /x among them (cut to 5/s).
    for (let i = 0; i < 4; i++) bucket.throttled(1000, `GET /burst/${i}`);
    bucket.throttled(1000, 'GET /x');
    expect(bucket.currentRate).toBe(5);
    // The burst ages out of the last 30 answers, and the rate steps back up.
    for (let i = 0; i < 40; i++) {
      await bucket.take();
      bucket.answered(`GET /ok/${i}`);
    }
    now += 30_000;
    await bucket.take();
    bucket.answered('GET /ok/last');
    expect(bucket.currentRate).toBe(10);
    // GET /x's retry refused again: the second refusal of one request, which cuts whatever the share (the rule that
    // keeps the client's 4 retries from running out); its first refusal came during the burst and was not remembered.
    bucket.throttled(1000, 'GET /x');
    expect(bucket.currentRate).toBe(5);
  });

  it('without a configured limit, a cut to an API that allows ~2 requests a second probes back up gradually, not to no limit in 2 s (fake clock)', async () => {
    // Steps of at least 1/s (half of this ceiling) lifted the limit one step after the cut: the run then sent its
    // whole concurrency again, into the API's limit, every few seconds. Against a 1/s API without Retry-After
    // (test/soak/rate-limit.ts 'rps=1,retryAfter=none' 0, seeds 7 and 3) a request was refused on all 4 retries and
    // the run failed after 84-123 s; with 10 % steps it ran on, as it did before them.
    let now = 10_000;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    const bucket = new TokenBucket(0, undefined, () => now, fakeSleep);
    await bucket.take();
    await bucket.take(); // 2 requests in this second
    bucket.throttled(undefined);
    expect(bucket.currentRate).toBe(1);
    const liftedAfter = async (): Promise<number> => {
      const from = now;
      while (!bucket.unlimited && now - from < 60_000) await bucket.take();
      return now - from;
    };
    expect(await liftedAfter()).toBeGreaterThanOrEqual(10_000);
  });

  it('a rate limit the bucket exceeds is still found: 429s a third of the recent answers cut and hold (fake clock)', async () => {
    let now = 0;
    const fakeSleep = async (ms: number) => {
      now += ms;
    };
    // An API that allows 5 requests a second, against a bucket at 10/s.
    const bucket = new TokenBucket(10, 10, () => now, fakeSleep);
    let second = -1;
    let inSecond = 0;
    let throttled = 0;
    const answer = (): void => {
      if (Math.floor(now / 1000) !== second) [second, inSecond] = [Math.floor(now / 1000), 0];
      if (++inSecond > 5) {
        throttled++;
        bucket.throttled(1000);
      } else bucket.answered();
    };
    for (let i = 0; i < 8; i++) {
      await bucket.take();
      answer();
    }
    // 5 answers, then 429s: the second is 2 of 7 answers, the third 3 of 8, a third or more: cut and hold.
    expect(throttled).toBe(3);
    expect(bucket.currentRate).toBe(5);
    const before = now;
    await bucket.take();
    expect(now - before).toBe(1000);
    for (let i = 0; i < 300; i++) {
      await bucket.take();
      answer();
    }
    // It settles around the limit: 4.5 answers a second get through (5 allowed), it never goes below half the limit,
    // and it tolerates up to 1.5 times the limit before cutting, so a sixth of the requests are 429s (52 of 309).
    expect((300 + 8 - throttled) / (now / 1000)).toBeGreaterThan(4);
    expect(bucket.report.lowest).toBeGreaterThanOrEqual(4);
    expect(throttled).toBeLessThan(300 / 4);
  });
});

describe('LoadInfo notes', () => {
  it('says what happened to dropped tables', () => {
    const info = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], undefined, {
      droppedTables: [
        { resource: 'logs', tables: ['logs'], columns: [], action: 'blocked', remaining: ['logs__labels'], under: 'logs' },
        { resource: 'widgets', tables: ['widgets__agents'], columns: ['widgets.name'], action: 'recreate', remaining: [] },
      ],
      keylessRecords: { users: 2 },
      adoptedRecords: { logs: 7 },
      notTakenOver: { users: 'id' },
    });
    const text = info.toString();
    expect(text).toContain('Dropped since the last run: logs, but logs__labels below it remain: logs will not load until they are dropped too (or logs is restored)');
    expect(text).toContain('Dropped since the last run: widgets__agents, widgets.name. Re-created as widgets loads from now on (to reload all of widgets, drop all its tables)');
    expect(text).toContain('Merged by content, no primary-key value: users 2');
    expect(text).toContain('Taken over by merge from earlier append/replace loads, or a merge on another primary key (one row per key, the newest): logs 7');
    expect(text).toContain("Not taken over by merge: the rows of earlier append/replace loads of users stay beside the merged ones, since its primary-key field id holds objects. Merge on a field with scalar values, or reload it: --refresh --resources users");
    expect(formatLoadStep({ resource: 'logs', step: 'adopt', rows: 7, durationMs: 20 })).toBe('load logs: adopt 7 records taken over 0.02 s');
  });

  it('a few 429s that never lowered the rate do not claim requests were slowed', () => {
    // Seen with 429=0.05: "requests slowed from 10 down to 10/s at the lowest" after 7 retried 429s, none of which cut
    // the rate (it halves only when 429s are a third of recent answers), so the user went looking for a slowdown.
    const at = (rateLimit: { throttled: number; configured: number; lowest: number }) =>
      new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], undefined, { rateLimit }).toString();
    expect(at({ throttled: 7, configured: 10, lowest: 10 })).toContain('Rate limited: the API answered 429 7 times, each retried; too few to lower the rate, which stayed at 10/s');
    expect(at({ throttled: 1, configured: 10, lowest: 2.5 })).toContain('Rate limited: the API answered 429 1 time; requests slowed from 10 down to 2.5/s at the lowest');
    expect(at({ throttled: 3, configured: 0, lowest: 4 })).toContain('Rate limited: the API answered 429 3 times; requests slowed down to 4/s at the lowest');
  });

  it('a --limit-pages sample that cut nothing short says so, and that only a full run records the state', () => {
    const info = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], 3, { sampledCutShort: {} });
    expect(info.toString()).toContain('Sampled with --limit-pages 3: every request sequence ended within it; incremental state was not advanced (a run without --limit-pages records it)');
  });

  it('a verbose request line shows the time the rate limit held the request apart from its duration', () => {
    const event = { method: 'GET', url: 'http://127.0.0.1:9/api/v1/chat/poll/c1', status: 200, durationMs: 41.6, retries: 1, operation: 'GET /api/v1/chat/poll/{caseId}' };
    expect(formatRequest(event)).toBe('GET http://127.0.0.1:9/api/v1/chat/poll/c1 → 200 42 ms retries=1');
    expect(formatRequest({ ...event, queuedMs: 5120 })).toBe('GET http://127.0.0.1:9/api/v1/chat/poll/c1 → 200 42 ms retries=1 (queued 5120 ms before sending)');
  });
});

describe('the config type documents the defaults planning uses', () => {
  it('says the default of concurrency, rateLimit and maxNestingDepth as DEFAULTS has it (editors show these on hover)', () => {
    // The default concurrency went from 4 to 8 while the config type's doc kept saying 4.
    const source = readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8');
    const documented = (field: string) => new RegExp(`/\\*\\*([^*]|\\*(?!/))*Default (\\d+)\\.([^*]|\\*(?!/))*\\*/\\s*${field}\\??:`).exec(source)?.[2];
    expect(documented('concurrency')).toBe(String(DEFAULTS.concurrency));
    expect(documented('rateLimit')).toBe(String(DEFAULTS.requestsPerSecond));
    expect(documented('maxNestingDepth')).toBe(String(DEFAULTS.maxNestingDepth));
  });
});
