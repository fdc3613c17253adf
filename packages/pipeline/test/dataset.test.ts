import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import { DestinationError, DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { openDataset, type Dataset } from '../src/dataset.js';

let dir: string;
let dbPath: string;
let ds: Dataset;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dataset-test-'));
  dbPath = join(dir, 'd.duckdb');
  for (const pipelineName of ['p1', 'p2']) {
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'data', pipelineName });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: resources.users, writeDisposition: 'merge', primaryKey: ['email'], maxNestingDepth: 4 });
    await w.write([{ email: `${pipelineName}@x`, name: 'N', big: 2 ** 53 + 2, tags: [{ t: 'a' }], meta: { when: 'now' } }]);
    await w.commit({ cursor: pipelineName });
    await dest.recordFailedLoad(newLoadId(), 'widgets', 'HTTP 500', new Date(Date.now() - 1000));
    await dest.close();
  }
  ds = await openDataset({ path: dbPath, dataset: 'data' });
});
afterAll(async () => {
  await ds?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('openDataset', () => {
  it('lists data tables with columns and row counts, and system tables on request', async () => {
    const tables = await ds.tables();
    expect(tables.map((t) => [t.name, t.rowCount])).toEqual([['users', 2], ['users__tags', 2]]);
    expect(tables[0]!.columns).toContainEqual({ name: 'account_type', type: 'VARCHAR' });
    const system = (await ds.tables({ system: true })).map((t) => t.name);
    expect(system).toEqual(['_pipeline_columns', '_pipeline_comments', '_pipeline_loads', '_pipeline_state', '_pipeline_tables']);
  });

  it('returns JSON-friendly rows', async () => {
    const rows = await ds.rows('users', { limit: 1 });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name: 'N', big: '9007199254740994', meta__when: 'now' });
    expect(typeof rows[0]!._load_id).toBe('string');
    const [r] = await ds.sql('SELECT count(*) AS n, $1::INTEGER AS p FROM users WHERE email = $2', [7, 'p1@x']);
    expect(r).toEqual({ n: 1, p: 7 });
  });

  it('loads(n) keeps the newest n loads; a dataset name in other case opens it; a Date parameter binds as its instant', async () => {
    const all = await ds.loads(10);
    const newest = await ds.loads(1);
    expect(newest.map((l) => l.loadId)).toEqual([all[0]!.loadId]);
    expect(newest[0]!.loadId).toBe([...all.map((l) => l.loadId)].sort().at(-1));
    const upper = await openDataset({ path: dbPath, dataset: 'DATA' });
    try {
      expect((await upper.tables()).map((t) => t.name)).toEqual(['users', 'users__tags']);
    } finally {
      await upper.close();
    }
    const [row] = await ds.sql('SELECT $1::TIMESTAMP AS t', [new Date('2026-01-02T03:04:05.123Z')]);
    expect(row).toEqual({ t: '2026-01-02T03:04:05.123Z' });
  });

  it('reports loads newest first and state per pipeline', async () => {
    const loads = await ds.loads(10);
    expect(loads).toHaveLength(4);
    expect(loads.map((l) => l.loadId)).toEqual([...loads.map((l) => l.loadId)].sort().reverse());
    const loaded = loads.find((l) => l.status === 'loaded')!;
    expect(loaded.rowCounts).toEqual({ users: 1, users__tags: 1 });
    expect(loaded.durationMs).toBeGreaterThanOrEqual(0);
    expect(loaded.startedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    const failed = loads.find((l) => l.status === 'failed')!;
    expect(failed).toMatchObject({ resource: 'widgets', error: 'HTTP 500', rowCounts: null });
    expect((await ds.state()).map((s) => [s.pipelineName, s.resource, s.state])).toEqual([
      ['p1', 'users', { cursor: 'p1' }],
      ['p2', 'users', { cursor: 'p2' }],
    ]);
  });

  it('limits loads and state to the pipeline of a PipelineConfig', async () => {
    const scoped = await openDataset({ pipelineName: 'p2', destination: { type: 'duckdb', path: dbPath, dataset: 'data' }, resources: {} });
    try {
      expect((await scoped.loads()).every((l) => l.pipelineName === 'p2')).toBe(true);
      expect((await scoped.state()).map((s) => s.state)).toEqual([{ cursor: 'p2' }]);
    } finally {
      await scoped.close();
    }
  });

  it('says clearly when there is no database yet', async () => {
    const error = await openDataset({ path: join(dir, 'missing.duckdb'), dataset: 'data' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toMatch(/missing\.duckdb.*run the pipeline first/);
  });

  it('says to run the pipeline first when the file holds no dataset of the loader (none to name)', async () => {
    const empty = join(dir, 'empty.duckdb');
    const instance = await DuckDBInstance.create(empty);
    instance.closeSync();
    const error = await openDataset({ path: empty, dataset: 'data' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toBe(`opening the dataset: no dataset data in ${empty}: it holds no dataset of this loader yet: run the pipeline first, or check --duckdb (or destination.path)`);
  });

  it('names the datasets the file has when the asked one is not there', async () => {
    const error = await openDataset({ path: dbPath, dataset: 'nope' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toBe(`opening the dataset: no dataset nope in ${dbPath}: datasets there: data; pass --dataset (or destination.dataset)`);
  });

  it('a call from JavaScript with a wrong argument is a TypeError naming it, not "params.map is not a function: fix the query"', async () => {
    const js = ds as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const iterate = async (...args: unknown[]) => {
      for await (const _ of (ds.iterate as (...a: unknown[]) => AsyncIterable<unknown>)(...args)) break;
    };
    const failures: Array<[() => Promise<unknown>, RegExp]> = [
      [() => js.sql!('SELECT $1', 5), /^sql\(\): params must be an array of values \(\[\] for none\), such as \[1700000000\], got 5$/],
      [() => js.sql!('SELECT $1', { a: 1 }), /^sql\(\): params must be an array .*got \{"a":1\}$/],
      [() => js.sql!(undefined), /^sql\(\): query must be a string of SQL, such as 'SELECT \* FROM logs LIMIT 10', got undefined$/],
      [() => iterate('SELECT $1', 'x'), /^iterate\(\): params must be an array .*got "x"$/],
      [() => iterate(42), /^iterate\(\): query must be a string of SQL/],
      [() => js.rows!(5), /^rows\(\): table must be a string, such as 'logs' \(see tables\(\)\), got 5$/],
      [() => js.rows!(), /^rows\(\): table must be a string.*got undefined$/],
    ];
    // A limit of the wrong kind stays the RangeError DATASET.md names; its text shows the string as a string.
    failures.push([() => js.rows!('users', { limit: '5' }), /^rows\(\): limit must be a whole number >= 0, got "5"$/]);
    for (const [call, message] of failures) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(/limit/.test(message.source) ? RangeError : TypeError);
      expect((error as Error).message).toMatch(message);
    }
    // Still open and usable after them.
    expect(await ds.sql('SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('rows() and tables() refuse an option they do not have, which they ignored (a page by offset came back as the first page)', async () => {
    const js = ds as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const failures: Array<[() => Promise<unknown>, string]> = [
      [() => js.rows!('users', { limit: 1, offset: 1 }), 'rows(): unknown option "offset": the one option is limit, such as { limit: 100 }; for OFFSET, WHERE or ORDER BY use sql(), such as sql(\'SELECT * FROM users LIMIT 100 OFFSET 200\')'],
      [() => js.rows!('users', { where: "name = 'N'" }), 'rows(): unknown option "where": the one option is limit, such as { limit: 100 }; for OFFSET, WHERE or ORDER BY use sql(), such as sql(\'SELECT * FROM users LIMIT 100 OFFSET 200\')'],
      [() => js.rows!('users', 1), 'rows(): options must be an object such as { limit: 100 }, got 1'],
      [() => js.rows!('users', null), 'rows(): options must be an object such as { limit: 100 }, got null'],
      [() => js.tables!({ sytem: true }), 'tables(): unknown option "sytem": the one option is system, such as { system: true }'],
    ];
    for (const [call, message] of failures) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TypeError);
      expect((error as Error).message).toBe(message);
    }
    // The options they have still work, also left out or undefined.
    expect(await ds.rows('users', { limit: 1 })).toHaveLength(1);
    expect(await ds.rows('users', { limit: undefined })).toHaveLength(2);
    expect((await ds.tables({ system: true })).map((t) => t.name)).toContain('_pipeline_loads');
    expect((await ds.tables(undefined)).map((t) => t.name)).toContain('users');
  });

  it('a parameter SQL cannot hold, or one JSON would write as {}, is a TypeError naming it, not bound as {} or "fix the query"', async () => {
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    const failures: Array<[unknown, string]> = [
      [new Set(['a']), 'params[1] is a Set, which JSON writes as {}: pass an array ([...set], bound as JSON text: cast it, $2::VARCHAR[])'],
      [new Map([['a', 1]]), 'params[1] is a Map, which JSON writes as {}: pass an object (Object.fromEntries(map), bound as JSON text)'],
      [{ ids: new Set(['a']) }, 'params[1] holds a Set, which JSON writes as {}: pass an array ([...set], bound as JSON text: cast it, $2::VARCHAR[])'],
      [new ArrayBuffer(2), 'params[1] is an ArrayBuffer, which JSON writes as {}: pass a Uint8Array for a BLOB (new Uint8Array(buffer)), or an array (Array.from(…)) for a list'],
      [new Float64Array([1.5]), 'params[1] is a Float64Array, which JSON writes as {"0":…}: pass a Uint8Array for a BLOB (new Uint8Array(buffer)), or an array (Array.from(…)) for a list'],
      [[new Uint8Array([1])], 'params[1] holds a Uint8Array, which JSON writes as {"0":…}: pass a Uint8Array for a BLOB (new Uint8Array(buffer)), or an array (Array.from(…)) for a list'],
      [new Date('not a date'), 'params[1] is an invalid Date (its time is NaN): pass a Date of a real instant, or its ISO text'],
      [Symbol('s'), 'params[1] is a symbol, which SQL cannot hold: pass a number, string, boolean, bigint, null, Date, Uint8Array, or an array or object (bound as JSON text)'],
      [() => 1, 'params[1] is a function, which SQL cannot hold: pass a number, string, boolean, bigint, null, Date, Uint8Array, or an array or object (bound as JSON text)'],
      [circular, 'params[1] cannot be written as JSON: it refers to itself (a circular structure)'],
    ];
    for (const [value, message] of failures) {
      for (const method of ['sql', 'iterate'] as const) {
        const call = method === 'sql'
          ? ds.sql('SELECT $1 AS a, $2 AS b', [1, value])
          : (async () => {
              for await (const _ of ds.iterate('SELECT $1 AS a, $2 AS b', [1, value])) break;
            })();
        const error = await call.then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toBe(`${method}(): ${message}`);
      }
    }
    // A bigint inside an array or object binds as its exact digits (it failed as "Do not know how to serialize a BigInt").
    expect(await ds.sql('SELECT $1::BIGINT[] AS l, $2::JSON AS j', [[1n, -2n], { n: 2n ** 64n, s: 'x' }])).toEqual([
      { l: [1, -2], j: { n: '18446744073709551616', s: 'x' } },
    ]);
    expect(await ds.sql('SELECT $1::JSON AS j', [{ s: 'a "quoted" \u0000 text' }])).toEqual([{ j: { s: 'a "quoted" \u0000 text' } }]);
  });
});
