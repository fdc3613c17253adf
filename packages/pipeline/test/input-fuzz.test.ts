// Property: bad input is refused with one clear line, never a stack trace. fast-check makes configs that are almost
// right (a wrong type at one key, an unknown key, NaN, a BigInt, a function, an object that refers to itself, a long
// or odd string) and runPipeline plans them with a signal aborted beforehand, so nothing is fetched or written (not
// even the DuckDB file it names): a
// config either plans (AbortedError "cancelled before it started") or is refused with a ConfigError whose message is
// one line naming the key. Plain examples beside the properties pin what the properties found.
//
// A fixed seed and few runs by default. More, or another seed, locally:
//   INPUT_FUZZ_RUNS=2000 INPUT_FUZZ_SEED=7 npx vitest run packages/pipeline/test/input-fuzz.test.ts
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AbortedError, ConfigError, planPipeline, runPipeline, type PipelineConfig } from '../src/index.js';

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
  });

  it('a connection number out of range is refused while planning (planPipeline throws what a run would)', () => {
    expect(() => planPipeline({ resources: { logs: true }, connection: { timeoutMs: -1 } }, ENV)).toThrow(/^connection settings: timeoutMs: must be .*, got -1$/);
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
  ['connection', 'maxRetries'], ['connection', 'maxResponseBytes'], ['resources'], ['resources', 'logs'], ['resources', 'widgets'],
  ['resources', 'logs', 'selected'], ['resources', 'logs', 'writeDisposition'], ['resources', 'logs', 'primaryKey'],
  ['resources', 'logs', 'incremental'], ['resources', 'logs', 'incremental', 'startDate'], ['resources', 'logs', 'incremental', 'lookbackDays'],
  ['resources', 'logs', 'incremental', 'sliceDays'], ['resources', 'logs', 'incremental', 'endDay'], ['resources', 'logs', 'maxNestingDepth'],
  ['resources', 'logs', 'schemaContract'], ['resources', 'logs', 'schemaContract', 'columns'], ['resources', 'logs', 'steps'],
  ['resources', 'logs', 'steps', '0'], ['__proto__'], ['constructor'], ['resources', 'constructor'], ['resources', 'logs', 'lookbackDay'],
];

/** A valid config with the value at `path` replaced (parts on the way made objects). */
function withValueAt(path: string[], value: unknown): Record<string, unknown> {
  const config: Record<string, unknown> = { resources: { logs: { incremental: { startDate: '2025-01-01' }, steps: [{ map: (r: unknown) => r }] } } };
  let part = config;
  for (const key of path.slice(0, -1)) {
    const next = Object.hasOwn(part, key) && typeof part[key] === 'object' && part[key] !== null ? (part[key] as Record<string, unknown>) : {};
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
});
