// Property: bad input is refused with one clear line, never a stack trace. fast-check makes configs that are almost
// right (a wrong type at one key, an unknown key, NaN, a BigInt, a function, an object that refers to itself, a long
// or odd string) and runPipeline plans them with a signal aborted beforehand, so nothing is fetched or written (not
// even the DuckDB file it names): a
// config either plans (AbortedError "cancelled before it started") or is refused with a ConfigError whose message is
// one line naming the key. Plain examples beside the properties pin what the properties found.
//
// A fixed seed and few runs by default. More, or another seed, locally:
//   INPUT_FUZZ_RUNS=2000 INPUT_FUZZ_SEED=7 npx vitest run packages/pipeline/test/input-fuzz.test.ts
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortedError, ConfigError, loadEnv, PipelineError, planPipeline, runPipeline, type PipelineConfig } from '../src/index.js';
import { proxyFromEnv } from '../src/proxy.js';
import { runCli, tempDir } from './helpers.js';

const RUNS = Number(process.env.INPUT_FUZZ_RUNS ?? 300);
const SEED = Number(process.env.INPUT_FUZZ_SEED ?? 20261128);

const SECRET = 'S3cr3t-k3y-value-0123';
/** Every variable a resource needs, so a config is refused for itself, not for a missing variable. */
const ENV = {
  SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9',
  SNAPENGAGE_ORG_ID: 'org',
  SNAPENGAGE_API_TOKEN: SECRET,
  SNAPENGAGE_WIDGET_ID: 'w1',
  SNAPENGAGE_API_KEY: SECRET,
  SNAPENGAGE_PROVISIONING_KEY: SECRET,
  SNAPENGAGE_EMAIL: 'a@example.com',
  SNAPENGAGE_DUCKDB_THREADS: '2',
};

/** What a message must never hold: a stack, JavaScript's own words about a wrong type, or the value of a secret. */
const NOT_CLEAR = /Cannot read properties|undefined is not|is not a function|\[object Object\]|Do not know how to serialize|Converting circular|Cannot convert|Invalid time value|\n\s+at /;

/** Plans `config` (nothing fetched, nothing written): undefined when it plans, else the error. */
async function refusal(config: unknown, env: Record<string, string> = ENV): Promise<Error | undefined> {
  const controller = new AbortController();
  controller.abort();
  try {
    await runPipeline(config as PipelineConfig, { env, signal: controller.signal });
  } catch (error) {
    if (error instanceof AbortedError) return undefined;
    return error as Error;
  }
  throw new Error('runPipeline resolved with an aborted signal');
}

/** Asserts `error` is a clear refusal: a ConfigError, one line, naming `mentions`, no secret and no stack words. */
function expectClear(error: Error | undefined, ...mentions: string[]): void {
  expect(error, 'refused').toBeInstanceOf(ConfigError);
  const message = error!.message;
  expect(message.split('\n'), message).toHaveLength(1);
  expect(message).not.toMatch(NOT_CLEAR);
  expect(message).not.toContain(SECRET);
  for (const text of mentions) expect(message).toContain(text);
}

const circular: Record<string, unknown> = {};
circular.self = circular;

describe('config values refused with one line naming the key (examples the property found)', () => {
  it('a step that is null, not { filter } or { map }', async () => {
    expectClear(await refusal({ resources: { logs: { steps: [null] } } }), 'resources.logs.steps');
  });

  it('a BigInt, a symbol or an object that refers to itself where a value goes', async () => {
    expectClear(await refusal({ resources: { logs: true }, concurrency: 8n }), 'concurrency', '8n');
    expectClear(await refusal({ resources: { logs: true }, rateLimit: 5n }), 'rateLimit', '5n');
    expectClear(await refusal({ resources: { logs: { writeDisposition: 1n } } }), 'resources.logs.writeDisposition');
    expectClear(await refusal({ resources: { logs: { incremental: { startDate: 20250101n } } } }), 'resources.logs.incremental.startDate');
    expectClear(await refusal({ resources: { logs: { incremental: { startDate: Symbol('day') } } } }), 'resources.logs.incremental.startDate');
    expectClear(await refusal({ resources: { logs: true }, destination: { type: 'duckdb', path: circular } }), 'destination.path', 'refers to itself');
  });

  it('a list of resource names where the object of resources goes', async () => {
    expectClear(await refusal({ resources: ['logs', 'widgets'] }), 'resources must be an object', '{ logs: true, widgets: true }');
  });

  it('a base URL given as a URL object, and a connection number of the wrong type', async () => {
    expectClear(await refusal({ resources: { logs: true }, connection: { baseUrl: new URL('http://127.0.0.1:9') } }), 'connection.baseUrl', 'url.href');
    expectClear(await refusal({ resources: { logs: true }, connection: { timeoutMs: {} } }), 'connection.timeoutMs', 'got {}');
    expectClear(await refusal({ resources: { logs: true }, connection: { retryBaseDelayMs: '20' } }), 'connection.retryBaseDelayMs must be a number', 'got "20"');
  });

  it('a URL object as the base URL is named without its user, password or query (a string\'s are never echoed either)', async () => {
    const error = await refusal({ resources: { logs: true }, connection: { baseUrl: new URL(`https://owner:pa55word@www.snapengage.com/api?key=${SECRET}`) } });
    expectClear(error, 'connection.baseUrl', 'url.href', 'https://www.snapengage.com/api');
    expect(error!.message).not.toContain('pa55word');
    expect(error!.message).not.toContain('owner');
    // A key of the environment inside any other value of the wrong type is masked as well.
    const listed = await refusal({ resources: { logs: true }, connection: { baseUrl: [`https://www.snapengage.com?token=${SECRET}`] } });
    expectClear(listed, 'connection.baseUrl');
    // What the client refuses of a base URL (a path here, a key pasted after the host) is masked too.
    const pasted = await refusal({ resources: { logs: true } }, { ...ENV, SNAPENGAGE_BASE_URL: `https://www.snapengage.com/${SECRET}` });
    expectClear(pasted, 'has a path');
    expect(String((pasted!.cause as Error | undefined)?.message)).not.toContain(SECRET);
  });

  it('a connection number out of range is refused while planning (planPipeline throws what a run would)', () => {
    expect(() => planPipeline({ resources: { logs: true }, connection: { timeoutMs: -1 } }, ENV)).toThrow(/^connection settings: timeoutMs: must be .*, got -1$/);
    // 0 is a valid backoff (retry at once); below, or not finite, is refused by the client's rule.
    expect(() => planPipeline({ resources: { logs: true }, connection: { retryBaseDelayMs: -1 } }, ENV)).toThrow(/^connection settings: retryBaseDelayMs: must be a number >= 0, got -1$/);
    expect(() => planPipeline({ resources: { logs: true }, connection: { retryBaseDelayMs: Number.POSITIVE_INFINITY } }, ENV)).toThrow(/^connection settings: retryBaseDelayMs: must be a number >= 0, got Infinity$/);
    expect(planPipeline({ resources: { logs: true }, connection: { retryBaseDelayMs: 0 } }, ENV).connection.retryBaseDelayMs).toBe(0);
  });

  it('a pipelineName that is not a non-empty string, a selected that is not a boolean, a lookback past the epoch', async () => {
    // Before: planned, then `{}` failed at the commit in DuckDB's words and 5 was stored as "5".
    expectClear(await refusal({ resources: { logs: true }, pipelineName: {} }), 'pipelineName', 'got {}');
    expectClear(await refusal({ resources: { logs: true }, pipelineName: 5 }), 'pipelineName', 'got 5');
    // Before: loaded, as anything but false selects.
    expectClear(await refusal({ resources: { logs: { selected: 'false' } } }), 'resources.logs.selected', 'got "false"');
    // Before: planned, and the run after the first failed as "Invalid time value".
    expectClear(await refusal({ resources: { logs: { incremental: { lookbackDays: 1e300 } } } }), 'resources.logs.incremental.lookbackDays', '--refresh');
  });

  it('a function where a number goes is named as a function, not as "undefined"', async () => {
    expectClear(await refusal({ resources: { logs: true }, concurrency: () => 8 }), 'concurrency', 'got a function');
  });
});

describe('runPipeline options refused with one line naming the option (examples found by probing them)', () => {
  /** What runPipeline throws for these options, the config being right; undefined when it gets to its signal. */
  async function optionRefusal(options: Record<string, unknown>): Promise<Error | undefined> {
    const controller = new AbortController();
    controller.abort();
    return runPipeline({ resources: { logs: true } }, { env: ENV, signal: controller.signal, ...options } as never).then(
      () => undefined,
      (error: unknown) => (error instanceof AbortedError ? undefined : (error as Error)),
    );
  }
  function expectOneLine(error: Error | undefined, ...mentions: string[]): void {
    expect(error, 'refused').toBeInstanceOf(Error);
    expect(error!.message.split('\n'), error!.message).toHaveLength(1);
    expect(error!.message).not.toMatch(NOT_CLEAR);
    for (const text of mentions) expect(error!.message).toContain(text);
  }

  it('an env variable that is not text (a number an app spread into process.env) is named, not echoed', async () => {
    // Before: TypeError "value.trim is not a function".
    expectOneLine(await optionRefusal({ env: { ...ENV, SNAPENGAGE_DUCKDB_THREADS: 2 } }), 'options.env.SNAPENGAGE_DUCKDB_THREADS', 'a number');
    expectOneLine(await optionRefusal({ env: { ...ENV, SNAPENGAGE_API_KEY: 12345678 } }), 'options.env.SNAPENGAGE_API_KEY');
    expect((await optionRefusal({ env: { ...ENV, SNAPENGAGE_API_KEY: 12345678 } }))!.message).not.toContain('12345678');
    expectOneLine(await optionRefusal({ env: { ...ENV, HTTPS_PROXY: {} } }), 'options.env.HTTPS_PROXY');
  });

  it('an env variable set to null is not given, as null is for every option (a null proxy variable was unset before the check)', async () => {
    expect(await optionRefusal({ env: { ...ENV, HTTPS_PROXY: null, SNAPENGAGE_START_DATE: null, SNAPENGAGE_DUCKDB_THREADS: null } })).toBeUndefined();
    expect(planPipeline({ resources: { logs: true } }, { ...ENV, SNAPENGAGE_START_DATE: null } as never).resources[0]!.incremental).not.toBeNull();
  });

  it('an unknown resource name in options.resources', async () => {
    // Before: TypeError "Cannot read properties of undefined (reading 'parent')".
    expectOneLine(await optionRefusal({ resources: ['log'] }), 'Unknown resource "log"', 'did you mean "logs"');
  });

  it('a destination that is not an object, and a refresh that is not a boolean, are refused, not ignored', async () => {
    // Before: both ignored: the run loaded snapengage.duckdb in the working directory, and without refreshing.
    expectOneLine(await optionRefusal({ destination: 'mine.duckdb' }), 'options.destination', '{ path: "mine.duckdb" }');
    expectOneLine(await optionRefusal({ refresh: 'yes' }), 'options.refresh', 'true or false');
  });

  it('limitPages given as text says so', async () => {
    expectOneLine(await optionRefusal({ limitPages: '5' }), 'limitPages', 'got "5"');
  });
});

/** A value of any type, hostile ones included. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -1, 1.5, NaN, Infinity, -Infinity, 1e300, -0, '', ' ', 'x'.repeat(5000), '\n', '__proto__', 8n, circular),
  fc.constant(() => 1),
  fc.constant(Symbol('s')),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.integer(),
  fc.double(),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('__proto__', 'constructor', 'type', 'path', 'x', 'startDate'), fc.oneof(fc.string(), fc.integer()), { maxKeys: 2 }),
);

/** A key of each part of the config, and a few near misses. */
const PATHS: string[][] = [
  ['pipelineName'], ['concurrency'], ['rateLimit'], ['rateLimit', 'requestsPerSecond'], ['destination'], ['destination', 'type'],
  ['destination', 'path'], ['destination', 'dataset'], ['connection'], ['connection', 'baseUrl'], ['connection', 'timeoutMs'],
  ['connection', 'maxRetries'], ['connection', 'retryBaseDelayMs'], ['connection', 'maxResponseBytes'], ['resources'], ['resources', 'logs'], ['resources', 'widgets'],
  ['resources', 'logs', 'selected'], ['resources', 'logs', 'writeDisposition'], ['resources', 'logs', 'primaryKey'],
  ['resources', 'logs', 'incremental'], ['resources', 'logs', 'incremental', 'startDate'], ['resources', 'logs', 'incremental', 'lookbackDays'],
  ['resources', 'logs', 'incremental', 'sliceDays'], ['resources', 'logs', 'incremental', 'endDay'], ['resources', 'logs', 'maxNestingDepth'],
  ['resources', 'logs', 'schemaContract'], ['resources', 'logs', 'schemaContract', 'columns'], ['resources', 'logs', 'steps'],
  ['resources', 'logs', 'steps', '0'], ['__proto__'], ['constructor'], ['resources', 'constructor'], ['resources', 'logs', 'lookbackDay'],
];

/** A valid config with the value at `path` replaced (parts on the way made objects). */
function withValueAt(path: string[], value: unknown): Record<string, unknown> {
  return mergeValueAt({ resources: { logs: { incremental: { startDate: '2025-01-01' }, steps: [{ map: (r: unknown) => r }] } } }, path, value);
}

/** `config` with the value at `path` replaced too (parts on the way kept, made objects where they are not). */
function mergeValueAt(config: Record<string, unknown>, path: string[], value: unknown): Record<string, unknown> {
  let part = config;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(part, key) && typeof part[key] === 'object' && part[key] !== null && part[key] !== circular ? (part[key] as Record<string, unknown>) : {};
    Object.defineProperty(part, key, { value: next, enumerable: true, writable: true, configurable: true });
    part = next;
  }
  // defineProperty: an assignment to `__proto__` would set the prototype, not a key the config holds.
  Object.defineProperty(part, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return config;
}

describe('property: a config with one wrong value plans or is refused in one clear line', () => {
  it('names the key it refuses', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...PATHS), anyValue, async (path, value) => {
        const error = await refusal(withValueAt(path, value));
        if (error === undefined) return;
        expectClear(error);
        // The key refused, or (for a part that is not an object, a key unknown) the key's own name.
        // `resources: {}` is "No resource selected; choose some of: …".
        const named = path.filter((key) => key !== '0').some((key) => error.message.includes(key === 'resources' ? 'resource' : key));
        expect(named, `${path.join('.')}: ${error.message}`).toBe(true);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 60_000);

  it('several wrong values at once, or a config of random JSON-like shape: still one clear line', async () => {
    const several = fc.array(fc.tuple(fc.constantFrom(...PATHS), anyValue), { minLength: 2, maxLength: 4 }).map((edits) => {
      let config: Record<string, unknown> = withValueAt(edits[0]![0], edits[0]![1]);
      for (const [path, value] of edits.slice(1)) config = mergeValueAt(config, path, value);
      return config;
    });
    const randomShape = fc.record({ resources: fc.oneof(fc.anything(), fc.dictionary(fc.constantFrom('logs', 'widgets', 'users', 'chat_poll'), fc.anything(), { maxKeys: 3 })) }).chain((base) =>
      fc.dictionary(fc.constantFrom('pipelineName', 'destination', 'rateLimit', 'concurrency', 'connection'), fc.anything(), { maxKeys: 3 }).map((rest) => ({ ...rest, ...base })),
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(several, randomShape), async (config) => {
        const error = await refusal(config);
        if (error !== undefined) expectClear(error);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 60_000);
});

describe('property: runPipeline options of any value plan or are refused in one clear line', () => {
  it('a TypeError naming the option, or a PipelineError', async () => {
    const names = ['progress', 'onRequest', 'onLoadStep', 'onLockWait', 'warn', 'fetch', 'env', 'resources', 'destination', 'limitPages', 'refresh', 'collectGarbageBeforeCommit'];
    const optionValue = fc.oneof(anyValue, fc.array(fc.constantFrom('logs', 'widgets', 'log', '', '__proto__'), { maxLength: 3 }), fc.record({ path: anyValue, dataset: anyValue }, { requiredKeys: [] }));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...names), optionValue, async (name, value) => {
        const controller = new AbortController();
        controller.abort();
        const error = await runPipeline({ resources: { logs: true } }, { env: ENV, signal: controller.signal, [name]: value } as never).then(
          () => undefined,
          (e: unknown) => (e instanceof AbortedError ? undefined : (e as Error)),
        );
        if (error === undefined) return;
        const context = `${name}: ${error.message}`;
        expect(error instanceof PipelineError || (error instanceof TypeError && error.message.startsWith(`runPipeline(): options.${name}`)), context).toBe(true);
        expect(error.message.split('\n'), context).toHaveLength(1);
        expect(error.message, context).not.toMatch(NOT_CLEAR);
        expect(error.message, context).not.toContain(SECRET);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 60_000);
});

/** A secret with a random tail: a message must hold no part of it that long. */
const secretArb = fc.string({ minLength: 4, maxLength: 20 }).map((tail) => `Key-${tail.replace(/[\s\\"]/g, 'x')}-9f3`);

/** Values a variable might be given by mistake: empty, spaced, quoted, joined with the next line, huge, control chars. */
const messyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', ' ', '""', "'x'", '0', '-1', '1e3', 'NaN', 'Infinity', '9'.repeat(400), 'a,b', ',', ' , ', '..', 'x\ny', '\u0000', '\u202e'),
);

const envArb = fc.record(
  {
    SNAPENGAGE_BASE_URL: fc.oneof(
      messyText,
      fc.webUrl({ withQueryParameters: true, withFragments: true }),
      fc.constantFrom('http://127.0.0.1:9', 'https://www.snapengage.com/api', 'http://www.snapengage.com', 'ftp://x', 'http://[::1', 'http://127.0.0.1:99999'),
    ),
    SNAPENGAGE_WIDGET_ID: fc.oneof(messyText, fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }).map((ids) => ids.join(','))),
    SNAPENGAGE_ORG_ID: messyText,
    SNAPENGAGE_START_DATE: fc.oneof(
      messyText,
      fc.date({ min: new Date(-1e14), max: new Date(1e14), noInvalidDate: true }).map((d) => d.toISOString()),
      fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString().slice(0, 10)),
      fc.tuple(fc.integer({ min: -1, max: 10000 }), fc.integer({ min: 0, max: 13 }), fc.integer({ min: 0, max: 32 })).map(([y, m, d]) => `${y}-${String(m).padStart(2, '0')}-${String(d).padStart(2, '0')}`),
      fc.integer({ min: 0, max: 2e9 }).map(String),
    ),
    SNAPENGAGE_DUCKDB_MEMORY_LIMIT: fc.oneof(messyText, fc.constantFrom('512MB', '0MB', '1.5GiB', '1e3GB', '-1GB')),
    SNAPENGAGE_DUCKDB_THREADS: fc.oneof(messyText, fc.integer({ min: -2, max: 5000 }).map(String)),
    SNAPENGAGE_DUCKDB_LOCK_WAIT: fc.oneof(messyText, fc.integer({ min: -2, max: 1e9 }).map(String)),
  },
  { requiredKeys: [] },
);

describe('property: SNAPENGAGE_* variables plan or are refused in one clear line without a secret', () => {
  it('names the variable, never a secret', async () => {
    await fc.assert(
      fc.asyncProperty(envArb, secretArb, fc.constantFrom('api', 'query', 'user', 'joined'), async (vars, secret, where) => {
        const env: Record<string, string> = { ...ENV, SNAPENGAGE_API_TOKEN: secret, SNAPENGAGE_API_KEY: secret, SNAPENGAGE_PROVISIONING_KEY: secret, ...vars };
        // The secret also where users put it by mistake: in the base URL's query or user part, or joined to it.
        const base = env.SNAPENGAGE_BASE_URL!;
        if (where === 'query') env.SNAPENGAGE_BASE_URL = `${base}?api_key=${secret}`;
        if (where === 'user') env.SNAPENGAGE_BASE_URL = base.replace(/^(\w+:\/\/)?/, (s) => `${s}me:${secret}@`);
        if (where === 'joined') env.SNAPENGAGE_BASE_URL = `${base}SNAPENGAGE_API_KEY=${secret}`;
        const error = await refusal({ resources: { logs: true, widgets: true, chat_availability: true } }, env);
        if (error === undefined) return;
        expect(error, error.stack).toBeInstanceOf(ConfigError);
        expect(error.message.split('\n'), error.message).toHaveLength(1);
        expect(error.message).not.toMatch(NOT_CLEAR);
        expect(error.message).not.toContain(secret);
        expect(error.message, error.message).toMatch(/SNAPENGAGE_[A-Z_]+|connection\.|baseUrl/);
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 60_000);
});

describe('proxy variables (examples the property found)', () => {
  it('a proxy URL with a path or query is used without them, as curl does (undici threw "invalid url")', async () => {
    for (const value of ['http://proxy.corp:8080/x', 'http://me:pw@proxy.corp:8080/x', 'http://proxy.corp?x=1', 'proxy.corp:8080/#f']) {
      const proxy = await proxyFromEnv({ HTTPS_PROXY: value }, 'https://www.snapengage.com');
      expect(proxy?.httpsVar, value).toBe('HTTPS_PROXY');
      await proxy?.dispatcher.close();
    }
  });

  it('a proxy password with a "%" that starts no escape is refused naming the variable, not echoed (undici threw "URI malformed")', async () => {
    const error = await proxyFromEnv({ HTTPS_PROXY: 'http://me:50%off@proxy.corp:8080' }, 'https://www.snapengage.com').then(() => undefined, (e: unknown) => e as Error);
    expectClear(error, 'HTTPS_PROXY', '%25');
    expect(error!.message).not.toContain('50%off');
  });
});

describe('property: proxy variables and .env files are read or refused in one clear line', () => {
  it('HTTPS_PROXY / HTTP_PROXY / NO_PROXY: a proxy, or a ConfigError naming the variable and never its password', async () => {
    const proxyValue = fc.oneof(messyText, fc.webUrl(), fc.constantFrom('proxy.corp:8080', 'socks5://p:1080', 'http://:8080', 'http://p:0', 'http://p:65536', 'https://p'));
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'), proxyValue, messyText, secretArb, async (name, value, noProxy, secret) => {
        // The password in the value as a user would write it: after the scheme, or in front when there is none.
        const withPassword = /^\w+:\/\//.test(value) ? value.replace(/^(\w+:\/\/)/, `$1me:${secret}@`) : `me:${secret}@${value}`;
        let error: Error | undefined;
        try {
          await (await proxyFromEnv({ [name]: withPassword, NO_PROXY: noProxy }, 'https://www.snapengage.com'))?.dispatcher.close();
        } catch (e) {
          error = e as Error;
        }
        if (error === undefined) return;
        expectClear(error, name);
        expect(error.message).not.toContain(secret);
      }),
      { numRuns: Math.ceil(RUNS / 3), seed: SEED },
    );
  }, 60_000);

  it('.env: any bytes are read as variables or refused naming the file', async () => {
    const tmp = tempDir('input-fuzz-env-');
    try {
      const line = fc.oneof(
        fc.tuple(fc.constantFrom('SNAPENGAGE_BASE_URL', 'SNAPENGAGE_START_DATE', 'export SNAPENGAGE_ORG_ID', ' X', '#c', '='), fc.constantFrom('=', ' = ', ': ', ''), messyText).map(([k, eq, v]) => `${k}${eq}${v}`),
        fc.string({ unit: 'binary', maxLength: 30 }),
      );
      const file = fc.tuple(fc.array(line, { maxLength: 6 }), fc.constantFrom('\n', '\r\n', '\r'), fc.constantFrom('', '\uFEFF')).map(([lines, eol, bom]) => bom + lines.join(eol));
      await fc.assert(
        fc.asyncProperty(file, fc.constantFrom('utf8', 'utf16le'), async (text, encoding) => {
          const bytes = encoding === 'utf16le' ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) : Buffer.from(text, 'utf8');
          writeFileSync(join(tmp.dir, '.env'), bytes);
          let env: Record<string, string | undefined>;
          try {
            env = loadEnv(tmp.dir, {});
          } catch (error) {
            expectClear(error as Error, join(tmp.dir, '.env'));
            return;
          }
          // What the file gives is planned like any environment: a clear refusal or a plan.
          const refused = await refusal({ resources: { widgets: true } }, { ...ENV, ...env } as Record<string, string>);
          if (refused !== undefined) expectClear(refused);
        }),
        { numRuns: Math.ceil(RUNS / 3), seed: SEED },
      );
    } finally {
      tmp.cleanup();
    }
  }, 60_000);
});

describe('property: the CLI on random commands and flags exits with one clear line', () => {
  it('exit 0, 1 or 2, at most one line on stderr, no stack and no "unexpected error"', async () => {
    const tmp = tempDir('input-fuzz-cli-');
    try {
      const value = fc.oneof(
        fc.string({ maxLength: 12 }),
        fc.constantFrom('', ' ', '-1', '--', '0', '1e3', 'logs', 'logs,widgets', 'logs,,x', '~/x.duckdb', 's3://b/x.duckdb', 'a?b/c.duckdb', 'system', '.', '/', 'src/pipeline.ts', 'x.json', '\u00e9'),
      );
      const flag = fc.oneof(
        fc.tuple(fc.constantFrom('--resources', '--duckdb', '--dataset', '--config', '--limit-pages'), value).chain(([name, v]) => fc.constantFrom([name, v], [`${name}=${v}`], [name])),
        fc.constantFrom(['-v'], ['--verbose'], ['--refresh'], ['--json'], ['--json=true'], ['-h'], ['-V'], ['--'], ['-x'], ['--resource', 'logs'], ['--limit-pages=-1']),
      );
      const argv = fc.tuple(fc.constantFrom(['run'], ['show'], [], ['help'], ['runn'], ['pipeline', 'x', 'show'], ['run', 'logs']), fc.array(flag, { maxLength: 4 }))
        .map(([command, flags]) => [...command, ...flags.flat()]);
      await fc.assert(
        fc.asyncProperty(argv, async (args) => {
          // No credentials: a run that gets past its flags stops at its missing variables, before any request.
          const result = await runCli(args, { env: { SNAPENGAGE_DUCKDB_THREADS: '1' }, cwd: tmp.dir });
          const context = `${JSON.stringify(args)} → ${result.code}: ${result.stderr}`;
          expect([0, 1, 2], context).toContain(result.code);
          const lines = result.stderr.split('\n').filter((line) => line.trim() !== '');
          // The one documented multi-line shape: no command at all prints the usage after its line.
          const withUsage = lines[0]?.startsWith('snapengage-pipeline: Missing command') && lines[1] === 'Usage:';
          if (result.code !== 0 && !withUsage) expect(lines, context).toHaveLength(1);
          expect(result.stderr, context).not.toMatch(NOT_CLEAR);
          expect(result.stderr, context).not.toMatch(/unexpected error|please report/i);
          if (args.includes('--json') && result.code !== 0) expect(() => JSON.parse(result.stdout), context).not.toThrow();
        }),
        { numRuns: Number(process.env.INPUT_FUZZ_CLI_RUNS ?? 30), seed: SEED },
      );
    } finally {
      tmp.cleanup();
    }
  }, 120_000);
});
