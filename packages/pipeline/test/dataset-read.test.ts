// The dataset API as a user meets it after a load: files that are not a dataset, names that are almost right,
// values of every DuckDB type, SQL errors, and the file lock it holds until close() — also against a pipeline run
// of the same process, which DuckDB's per-process OS lock does not see.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { openDataset } from '../src/dataset.js';
import { DestinationError, DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { otherProcess, PACKAGE_DIR, tempDir, thingsResource } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;

beforeAll(async () => {
  tmp = tempDir('dataset-read-');
  dbPath = join(tmp.dir, 'd.duckdb');
  const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'data', pipelineName: 'p' });
  const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
  await writer.write([{ id: 'a', count: 1, items: [{ k: 'x' }] }]);
  await writer.commit(null);
  await dest.close();
});
afterAll(() => tmp.cleanup());

const failure = (promise: Promise<unknown>) => promise.then(() => new Error('expected a failure'), (e: unknown) => e as Error);

describe('openDataset on what is not a dataset', () => {
  it('a missing file is refused without creating one', async () => {
    const path = join(tmp.dir, 'missing.duckdb');
    const error = await failure(openDataset({ path, dataset: 'data' }));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe(`opening the dataset: no such file ${path}: run the pipeline first or check --duckdb (or destination.path)`);
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.wal`)).toBe(false);
  });

  it("a config whose destination is :memory: is told that it keeps nothing, not 'no such file <cwd>/:memory:: run the pipeline first'", async () => {
    // As dlt's pipeline.dataset() after a run: the run's in-memory database was gone when it finished.
    const error = await failure(openDataset({ resources: { logs: true }, destination: { type: 'duckdb', path: ':memory:' } }));
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toBe('opening the dataset: destination.path is :memory:, a database that lives only as long as the run that loaded it: pass a file path (destination.path or --duckdb) to load into and read back');
    expect((error as DestinationError).code).toBe('not_found');
  });

  it('a directory is named as a directory, not as a file it cannot write', async () => {
    const path = join(tmp.dir, 'a-dir');
    mkdirSync(path);
    const error = await failure(openDataset({ path, dataset: 'data' }));
    expect(error.message).toBe(`opening the dataset: ${path} is a directory, not a DuckDB file: pass the database file inside it (--duckdb or destination.path)`);
  });

  it('a SQLite file or random bytes are refused before DuckDB tries to load an extension for them', async () => {
    const sqlite = join(tmp.dir, 'app.sqlite');
    writeFileSync(sqlite, Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080)]));
    const error = await failure(openDataset({ path: sqlite, dataset: 'data' }));
    // Before: "IO Error: Failed to download extension "sqlite_scanner" at URL http://extensions.duckdb.org/…"
    expect(error.message).toBe(`opening the dataset: ${sqlite} is a SQLite database: pass the DuckDB file the pipeline loads (--duckdb or destination.path)`);
    const refusals = [
      ['empty.duckdb', Buffer.alloc(0), 'holds no data \\(an empty file; a run killed while DuckDB was creating it leaves one\\): delete it, then run again'],
      ['text.duckdb', Buffer.from('hello\n'), 'is not a DuckDB database: pass the DuckDB file'],
      // Zeros as far as the check reads (64 KiB), then data: not a file that holds nothing, so not 'delete it'.
      ['zeros-then-data.duckdb', Buffer.concat([Buffer.alloc(65536), Buffer.from('data beyond the zeros')]), 'is not a DuckDB database: pass the DuckDB file'],
    ] as const;
    for (const [name, bytes, refusal] of refusals) {
      writeFileSync(join(tmp.dir, name), bytes);
      const e = await failure(openDataset({ path: join(tmp.dir, name), dataset: 'data' }));
      expect(e.message).toMatch(new RegExp(`${name} ${refusal}`));
      expect((e as DestinationError).code).toBe('corrupt');
    }
  });

  it('a call from JavaScript without a path or a dataset names what is missing, not a TypeError from inside', async () => {
    const open = openDataset as (config: unknown) => Promise<unknown>;
    // Before: "opening the dataset (…): Cannot read properties of undefined (reading 'toLowerCase'): … a map step …".
    await expect(open({ path: dbPath })).rejects.toThrow(new TypeError("openDataset(): dataset must be a string (such as 'snapengage_data'), got undefined"));
    await expect(open({ dataset: 'data' })).rejects.toThrow(new TypeError("openDataset(): path must be a string (such as 'snapengage.duckdb'), got undefined"));
    await expect(open(dbPath)).rejects.toThrow(new TypeError(`openDataset(): pass { path, dataset } or the pipeline's config, got ${JSON.stringify(dbPath)}`));
  });

  it('a misspelt dataset gets a "did you mean"', async () => {
    const error = await failure(openDataset({ path: dbPath, dataset: 'dta' }));
    expect(error.message).toBe(`opening the dataset: no dataset dta in ${dbPath}: did you mean data? datasets there: data; pass --dataset (or destination.dataset)`);
  });
});

describe('reading', () => {
  it('unqualified table names resolve in a dataset whose name has a dot, a quote or a space', async () => {
    const path = join(tmp.dir, 'odd-names.duckdb');
    const names = ['sp ace.x', 'we"ird', "it's", 'My-Data'];
    for (const dataset of names) {
      const dest = await DuckDBDestination.open({ path, dataset, pipelineName: 'p' });
      const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
      await writer.write([{ id: dataset, items: [{ k: 'x' }] }]);
      await writer.commit(null);
      await dest.close();
    }
    for (const dataset of names) {
      const ds = await openDataset({ path, dataset });
      try {
        // Before: `SET schema` read 'sp ace.x' as catalog.schema and failed silently, so this was "Table … does not exist".
        expect(await ds.sql('SELECT id FROM things')).toEqual([{ id: dataset }]);
        expect(await ds.sql('SELECT count(*) AS n FROM things__items')).toEqual([{ n: 1 }]);
      } finally {
        await ds.close();
      }
    }
  });

  it('a misspelt table gets a "did you mean" and the tables there, not the SQL the API built', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const error = await failure(ds.rows('thing'));
      expect(error).toBeInstanceOf(DestinationError);
      expect(error.message).toBe('reading rows: no table thing in dataset data: did you mean things? tables there: things, things__items; see tables()');
      expect(await ds.rows('THINGS', { limit: 5 })).toHaveLength(1);
      await expect(ds.rows('things', { limit: Number.NaN })).rejects.toThrow('rows(): limit must be a whole number >= 0, got NaN');
      await expect(ds.loads(-1)).rejects.toThrow('loads(): limit must be a whole number >= 0, got -1');
    } finally {
      await ds.close();
    }
  });

  it('SQL errors are one line, without the file path, with DuckDB\'s full message as the cause', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const typo = await failure(ds.sql('SELECT * FROM thingz'));
      expect(typo).toBeInstanceOf(DestinationError);
      expect(typo.message).toBe(
        'query on dataset data failed: Catalog Error: Table with name thingz does not exist! Did you mean "things"?: fix the query (error.cause has DuckDB\'s full message, with the position)',
      );
      expect(typo.message).not.toContain(tmp.dir);
      expect(String((typo.cause as Error).message)).toContain('LINE 1: SELECT * FROM thingz');
      const write = await failure(ds.sql('DELETE FROM things'));
      expect(write.message).toMatch(/read-only mode.*: the dataset API opens the file read-only; change data through the pipeline or the DuckDB CLI$/);
      expect(await ds.sql('SELECT count(*) AS n FROM things')).toEqual([{ n: 1 }]); // still usable after errors
    } finally {
      await ds.close();
    }
  });

  it('a query beyond the memory limit names the limit and how to raise it, not "fix the query"', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      // The dataset opens at the loader's 192MB; lowered here so that a small aggregate reaches it.
      await ds.sql("SET memory_limit = '16MB'");
      const error = await failure(ds.sql("SELECT length(string_agg(repeat('x', 100) || i::VARCHAR, ',')) AS n FROM range(1000000) t(i)"));
      expect(error).toBeInstanceOf(DestinationError);
      expect(error.message).toMatch(/^query on dataset data failed: Out of Memory Error: .*: the query needs more than DuckDB's memory limit of this dataset \(15\.2 MiB\); raise it: await ds\.sql\("SET memory_limit = '2GB'"\)$/);
      await ds.sql("SET memory_limit = '1GB'");
      expect(await ds.sql("SELECT length(string_agg(repeat('x', 100) || i::VARCHAR, ',')) > 0 AS ok FROM range(1000000) t(i)")).toEqual([{ ok: true }]);
    } finally {
      await ds.close();
    }
  });

  it("a read of the API beyond the memory limit says how to raise this dataset's limit, not the loader's", async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      await ds.sql("SET memory_limit = '1MB'");
      const error = await failure(ds.tables());
      expect(error).toBeInstanceOf(DestinationError);
      // It said: raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT (which the dataset API does not read) … nothing of this load was committed.
      expect(error.message).toMatch(/^reading dataset data: DuckDB ran out of memory \(Out of Memory Error: .*\): the query needs more than DuckDB's memory limit of this dataset \(.+\); raise it: await ds\.sql\("SET memory_limit = '2GB'"\)$/);
      expect((error as DestinationError).code).toBe('out_of_memory');
      await ds.sql("SET memory_limit = '192MB'");
      expect((await ds.tables()).map((t) => t.name)).toContain('things');
    } finally {
      await ds.close();
    }
  });

  it('an empty or comment-only query says so, not "Error in native callback"', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      for (const query of ['', '  \n', '-- a comment', ';']) {
        const error = await failure(ds.sql(query));
        expect(error).toBeInstanceOf(DestinationError);
        expect(error.message).toBe('query on dataset data failed: the query is empty (no SQL statement, only blanks or comments): pass a statement such as SELECT * FROM <table> LIMIT 10');
      }
    } finally {
      await ds.close();
    }
  });

  it('a Uint8Array parameter binds as a BLOB, so a BLOB read back finds its row', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const [row] = await ds.sql("SELECT 'ab'::BLOB AS b");
      // Before: bound as the JSON text '{"0":97,"1":98}', so the comparison was silently false.
      expect(await ds.sql('SELECT $1 = \'ab\'::BLOB AS same, octet_length($1) AS n', [row!.b])).toEqual([{ same: true, n: 2 }]);
      const [back] = await ds.sql('SELECT $1 AS b', [new Uint8Array([0, 255])]);
      expect(back!.b).toBeInstanceOf(Uint8Array);
      expect([...(back!.b as Uint8Array)]).toEqual([0, 255]);
    } finally {
      await ds.close();
    }
  });

  it('rows() and a LIMIT/OFFSET page come back in storage order, also from a table of many row groups', async () => {
    const path = join(tmp.dir, 'order.duckdb');
    const instance = await DuckDBInstance.create(path);
    const conn = await instance.connect();
    // 600,000 rows: five of DuckDB's row groups (122,880 rows), which two threads read in parallel.
    await conn.run('CREATE SCHEMA data; CREATE TABLE data._pipeline_loads (load_id VARCHAR); CREATE TABLE data.t AS SELECT i FROM range(600000) r(i)');
    conn.closeSync();
    instance.closeSync();
    const ds = await openDataset({ path, dataset: 'data' });
    try {
      for (let attempt = 0; attempt < 4; attempt++) {
        // Before: the reader ran with the loader's preserve_insertion_order=false, so a row group read by the other
        // thread could come first ([122880, …] for the first rows of the table).
        expect((await ds.rows('t', { limit: 3 })).map((row) => row.i)).toEqual([0, 1, 2]);
        expect((await ds.sql('SELECT i FROM t LIMIT 2 OFFSET 300000')).map((row) => row.i)).toEqual([300000, 300001]);
        const all = await ds.sql('SELECT i FROM t');
        expect(all.findIndex((row, n) => row.i !== n)).toBe(-1);
      }
    } finally {
      await ds.close();
    }
  }, 60_000);

  it('a leading U+FEFF in a value is data and comes back (DuckDB\'s Node API drops it as a byte order mark)', async () => {
    const path = join(tmp.dir, 'bom.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    await writer.write([{ id: '\uFEFFbom', never: '\uFEFF\uFEFFtwo', items: [{ k: '\uFEFF' }] }]);
    await writer.commit(null);
    await dest.close();
    const ds = await openDataset({ path, dataset: 'data' });
    try {
      const [row] = await ds.rows('things');
      expect([row?.id, row?.never]).toEqual(['\uFEFFbom', '\uFEFF\uFEFFtwo']);
      expect(await ds.sql('SELECT k, length(k) AS n FROM things__items')).toEqual([{ k: '\uFEFF', n: 1 }]);
      expect(await ds.sql("SELECT [chr(65279) || 'x'] AS l, {'s': chr(65279)} AS st")).toEqual([{ l: ['\uFEFFx'], st: { s: '\uFEFF' } }]);
    } finally {
      await ds.close();
    }
  });

  it('values of every DuckDB type come back JSON-safe and exact', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const [row] = await ds.sql(`SELECT
        42::BIGINT AS big, 9007199254740993::BIGINT AS bigger, 12345678901234567890::HUGEINT AS huge,
        1.50::DECIMAL(5,2) AS dec, 123456789012.345678::DECIMAL(18,6) AS dec_wide,
        TIMESTAMP '2026-01-02 03:04:05.123' AS ts, TIMESTAMP '2026-01-02 03:04:05.123456' AS ts_us,
        TIMESTAMPTZ '2026-01-02 03:04:05+00' AS tstz, TIMESTAMP_NS '2026-01-02 03:04:05.123456789' AS ts_ns,
        'infinity'::TIMESTAMP AS ts_inf, '-infinity'::DATE AS date_inf, DATE '2026-01-02' AS day, TIME '03:04:05.25' AS t,
        INTERVAL 3 DAY AS iv, [1::BIGINT, 2] AS list, {'a': 1::BIGINT, 'j': '{"x":1}'::JSON} AS st,
        '{"x":[1]}'::JSON AS j, ['{"y":2}'::JSON] AS jl, 'ab'::BLOB AS bl, uuid() IS NOT NULL AS ok`);
      expect(row).toEqual({
        big: 42, bigger: '9007199254740993', huge: '12345678901234567890',
        dec: 1.5, dec_wide: '123456789012.345678',
        ts: '2026-01-02T03:04:05.123Z', ts_us: '2026-01-02T03:04:05.123456Z',
        tstz: '2026-01-02T03:04:05.000Z', ts_ns: '2026-01-02T03:04:05.123456789Z',
        ts_inf: 'infinity', date_inf: '-infinity', day: '2026-01-02', t: '03:04:05.25',
        iv: { months: 0, days: 3, micros: 0 }, list: [1, 2], st: { a: 1, j: { x: 1 } },
        j: { x: [1] }, jl: [{ y: 2 }], bl: expect.any(Uint8Array), ok: true,
      });
      expect([...(row!.bl as Uint8Array)]).toEqual([97, 98]);
      expect(() => JSON.stringify(row)).not.toThrow();
      expect(new Date(row!.ts_us as string).toISOString()).toBe('2026-01-02T03:04:05.123Z');
      // The README's less common cases.
      const [more] = await ds.sql(`SELECT '00000000-0000-0000-0000-000000000001'::UUID AS u, 'a'::ENUM('a', 'b') AS e,
        union_value(k := 1) AS un, 'NaN'::DOUBLE AS nan, '294247-01-10 04:00:54.775806'::TIMESTAMP AS ts_max,
        '{"n": 12345678901234567890}'::JSON AS j`);
      expect(more).toEqual({
        u: '00000000-0000-0000-0000-000000000001', e: 'a', un: { tag: 'k', value: 1 }, nan: Number.NaN,
        // An integer beyond 2^53 inside JSON is its decimal text, as a BIGINT's (JSON.parse gave …567000).
        ts_max: '294247-01-10 04:00:54.775806', j: { n: '12345678901234567890' },
      });
      expect(JSON.stringify(more!.nan)).toBe('null');
    } finally {
      await ds.close();
    }
  });

  it('a column named __proto__ is a value of the row, through sql() and iterate() (assigned, it set the row\'s prototype and was gone)', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const query = `SELECT 1 AS a, {'p': 1} AS "__proto__", 'x' AS "constructor"`;
      const rows = [...(await ds.sql(query))];
      for await (const batch of ds.iterate(query)) rows.push(...batch);
      for (const row of rows) {
        expect(Object.keys(row)).toEqual(['a', '__proto__', 'constructor']);
        expect(Object.getPrototypeOf(row)).toBe(Object.prototype);
        expect(JSON.stringify(row)).toBe('{"a":1,"__proto__":{"p":1},"constructor":"x"}');
      }
    } finally {
      await ds.close();
    }
  });

  it('two result columns of one name are both in the row, the second as `name:1` (as DATASET.md says), through sql() and iterate()', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const query = 'SELECT 1 AS id, 2 AS id, 3 AS other';
      const rows = [...(await ds.sql(query))];
      for await (const batch of ds.iterate(query)) rows.push(...batch);
      expect(rows).toEqual([{ id: 1, 'id:1': 2, other: 3 }, { id: 1, 'id:1': 2, other: 3 }]);
    } finally {
      await ds.close();
    }
  });

  it('an integer beyond 2^53 in JSON is its text at any depth, through sql() and iterate(); other numbers and strings as JSON.parse reads them', async () => {
    const big = '{"n": -12345678901234567891}';
    // Past the walk's depth (200): the text scan still finds it.
    const deep = `${'['.repeat(250)}12345678901234567891${']'.repeat(250)}`;
    const select = `SELECT ['${big}'::JSON] AS l, {'s': '${big}'::JSON} AS st, MAP {'k': '${big}'::JSON} AS m,
      union_value(j := '${big}'::JSON)::UNION(j JSON, i INTEGER) AS u, '12345678901234567891'::JSON AS top,
      '[1e20, 12345678901234567891e0, 1234567890123456.75, -0, "12345678901234567891", "\\"12345678901234567891"]'::JSON AS others,
      '${deep}'::JSON AS deep`;
    const n = { n: '-12345678901234567891' };
    const expected = {
      l: [n], st: { s: n }, m: [{ key: 'k', value: n }], u: { tag: 'j', value: n }, top: '12345678901234567891',
      // Not integer literals (an exponent or a fraction): rounded, as JSON.parse reads them; strings stay strings.
      others: [1e20, 12345678901234567000, 1234567890123456.8, -0, '12345678901234567891', '"12345678901234567891'],
    };
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const rows = [await ds.sql(select), (await ds.iterate(select).next()).value as Record<string, unknown>[]];
      for (const [row] of rows) {
        expect(row).toMatchObject(expected);
        let inner: unknown = row!.deep;
        for (let depth = 0; depth < 250 && Array.isArray(inner); depth++) inner = inner[0];
        expect(inner).toBe('12345678901234567891');
      }
    } finally {
      await ds.close();
    }
  });

  it('keeps the edges exact: zeros below the millisecond, times before 1970, decimals past 15 digits, long intervals', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    try {
      const [row] = await ds.sql(`SELECT TIMESTAMP '2026-01-02 03:04:05.123004' AS ts_us, TIMESTAMP_NS '2026-01-02 03:04:05.123000789' AS ts_ns,
        TIMESTAMP '1969-12-31 23:59:59.999500' AS before_epoch, 12345678901234.56::DECIMAL(18,2) AS dec16,
        0.00000000000000001234::DECIMAL(38,20) AS dec_small, INTERVAL 3000000 HOUR AS iv`);
      expect(row).toEqual({
        ts_us: '2026-01-02T03:04:05.123004Z', ts_ns: '2026-01-02T03:04:05.123000789Z',
        before_epoch: '1969-12-31T23:59:59.999500Z', dec16: '12345678901234.56',
        dec_small: 1.234e-17, iv: { months: 0, days: 0, micros: '10800000000000000' },
      });
    } finally {
      await ds.close();
    }
  });
});

describe('iterate(): a result in batches, read as it is consumed', () => {
  let bigPath: string;
  beforeAll(async () => {
    bigPath = join(tmp.dir, 'iterate.duckdb');
    const instance = await DuckDBInstance.create(bigPath);
    const conn = await instance.connect();
    await conn.run(`CREATE SCHEMA data; CREATE TABLE data._pipeline_loads (load_id VARCHAR);
      CREATE TABLE data.t AS SELECT i, 'row ' || i AS label, {'n': i}::JSON AS doc FROM range(5000) r(i)`);
    conn.closeSync();
    instance.closeSync();
  });

  it('gives what sql() gives, in batches of at most 2048 rows, with calls between the batches', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    try {
      const whole = await ds.sql('SELECT * FROM t WHERE i >= $1 ORDER BY i', [10]);
      const batches: Record<string, unknown>[][] = [];
      for await (const batch of ds.iterate('SELECT * FROM t WHERE i >= $1 ORDER BY i', [10])) {
        batches.push(batch);
        // Another call on the dataset between batches does not end the streamed result.
        expect(await ds.sql('SELECT count(*) AS n FROM t')).toEqual([{ n: 5000 }]);
      }
      expect(batches.length).toBeGreaterThan(1);
      expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(2048);
      expect(batches.flat()).toEqual(whole);
      expect(whole[0]).toEqual({ i: 10, label: 'row 10', doc: { n: 10 } });
    } finally {
      await ds.close();
    }
  });

  it('batchSize sets the rows of each batch (the last holds the rest), as dlt\'s iter_df(chunk_size); a bad one is a RangeError', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    try {
      const whole = await ds.sql('SELECT * FROM t ORDER BY i');
      for (const [batchSize, sizes] of [[1000, [1000, 1000, 1000, 1000, 1000]], [3000, [3000, 2000]], [5000, [5000]], [1, undefined]] as const) {
        const batches: Record<string, unknown>[][] = [];
        for await (const batch of ds.iterate('SELECT * FROM t ORDER BY i', [], { batchSize })) batches.push(batch);
        if (sizes) expect(batches.map((b) => b.length)).toEqual(sizes);
        else expect(batches.every((b) => b.length === 1)).toBe(true);
        expect(batches.flat()).toEqual(whole);
      }
      for (const bad of [0, 1.5, -1, '10']) {
        const error = await (async () => {
          for await (const _ of ds.iterate('SELECT 1', [], { batchSize: bad as number })) break;
        })().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(RangeError);
        expect((error as Error).message).toBe(`iterate(): batchSize must be a whole number >= 1, got ${JSON.stringify(bad)}`);
      }
      // From JavaScript, a size in place of the options (iter_df(chunk_size) reads so) or dlt's name for it: they were
      // ignored, and the batches came in DuckDB's 2048 rows without a word.
      for (const [opts, message] of [
        [1000, 'iterate(): options must be an object such as { batchSize: 1000 }, got 1000'],
        [{ chunk_size: 1000 }, 'iterate(): unknown option "chunk_size": the one option is batchSize, such as { batchSize: 1000 }'],
      ] as const) {
        const error = await (async () => {
          for await (const _ of ds.iterate('SELECT 1', [], opts as never)) break;
        })().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(TypeError);
        expect((error as Error).message).toBe(message);
      }
    } finally {
      await ds.close();
    }
  });

  it("reads times in the zone the dataset's session has: a SET TimeZone in sql() (DATASET.md's way to local days) holds for it too", async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    try {
      await ds.sql("SET TimeZone = 'Asia/Kolkata'");
      // 20:00 UTC is the next day in Kolkata (UTC+5:30): iterate() on a connection of its own gave the UTC day.
      const query = "SELECT current_setting('TimeZone') AS zone, (TIMESTAMPTZ '2026-01-01 20:00:00+00')::DATE AS day";
      const streamed: Record<string, unknown>[] = [];
      for await (const batch of ds.iterate(query)) streamed.push(...batch);
      expect(streamed).toEqual(await ds.sql(query));
      expect(streamed).toEqual([{ zone: 'Asia/Kolkata', day: '2026-01-02' }]);
    } finally {
      await ds.close();
    }
  });

  it('break ends it early; close() then releases the file; a batch asked for after close() is refused', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    let seen = 0;
    for await (const batch of ds.iterate('SELECT i FROM t')) {
      seen += batch.length;
      break;
    }
    expect(seen).toBeGreaterThan(0);
    const open = ds.iterate('SELECT i FROM t');
    expect((await open.next()).done).toBe(false);
    await ds.close();
    expect(await failure(open.next())).toHaveProperty('message', 'reading dataset data: it is closed: call openDataset() again');
    expect(await failure(ds.iterate('SELECT 1').next())).toHaveProperty('message', 'reading dataset data: it is closed: call openDataset() again');
    (await DuckDBInstance.create(bigPath)).closeSync(); // released
  });

  it('close() while a batch is being read waits for that batch, then refuses the next', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    const it = ds.iterate('SELECT sum(i) AS s FROM range(3000000) r(i)');
    const first = it.next();
    await ds.close();
    expect(await first).toEqual({ done: false, value: [{ s: 4499998500000 }] });
    expect(await failure(it.next())).toHaveProperty('message', 'reading dataset data: it is closed: call openDataset() again');
  });

  it('a query that fails partway (a later batch) fails the iteration, not ends it as if complete', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    // Rows past 2M fail their cast: DuckDB stops the streamed result there, and @duckdb/node-api's fetchChunk() gives
    // the same empty chunk as at a result's end, its error unread.
    const query = `SELECT CASE WHEN i < 2000000 THEN i ELSE CAST('x' || i AS INTEGER) END AS v FROM range(3000000) r(i)`;
    try {
      let rows = 0;
      const error = await failure((async () => {
        for await (const batch of ds.iterate(query)) rows += batch.length;
      })());
      expect(rows).toBeGreaterThan(0);
      expect(rows).toBeLessThan(3000000);
      expect(error).toBeInstanceOf(DestinationError);
      expect(error.message).toMatch(new RegExp(`^query on dataset data failed after ${rows} rows: `));
      expect(error.message).not.toContain('\n');
      // With batchSize, the count is of the rows given too, not of those read into a batch that never came (before:
      // 'failed after 1871872 rows' to a caller given 1800000).
      let given = 0;
      const batched = await failure((async () => {
        for await (const batch of ds.iterate(query, [], { batchSize: 100_000 })) given += batch.length;
      })());
      expect(given % 100_000).toBe(0);
      expect(batched.message).toMatch(new RegExp(`^query on dataset data failed after ${given} rows: `));
      // The hint's way to see DuckDB's error does show it.
      expect((await failure(ds.sql(`EXPLAIN ANALYZE ${query}`))).message).toMatch(/Conversion Error: Could not convert string 'x2000000'/);
      // The dataset goes on working, and a sound query still streams to its end.
      let all = 0;
      for await (const batch of ds.iterate('SELECT i FROM t')) all += batch.length;
      expect(all).toBe(5000);
    } finally {
      await ds.close();
    }
  });

  it('a failed query is one line, as with sql()', async () => {
    const ds = await openDataset({ path: bigPath, dataset: 'data' });
    try {
      const error = await failure(ds.iterate('SELECT nope FROM t').next());
      expect(error).toBeInstanceOf(DestinationError);
      expect(error.message).toMatch(/^query on dataset data failed: Binder Error: Referenced column "nope" not found/);
      expect(error.message).not.toContain('\n');
    } finally {
      await ds.close();
    }
  });
});

describe('closing, and the lock a dataset holds', () => {
  it('close() is idempotent, a closed dataset says so, and Symbol.asyncDispose closes it', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    await ds.close();
    await ds.close();
    await expect(ds.tables()).rejects.toThrow('reading dataset data: it is closed: call openDataset() again');
    const disposable = (await openDataset({ path: dbPath, dataset: 'data' })) as unknown as AsyncDisposable;
    expect(typeof disposable[Symbol.asyncDispose]).toBe('function');
    await disposable[Symbol.asyncDispose]();
    // Released: the file can be opened read-write again.
    const writer = await DuckDBInstance.create(dbPath);
    writer.closeSync();
  });

  it('close() while queries run waits for them, then releases the file (it hung or crashed the process)', async () => {
    // In a child process: before, closing the connection under a running query hung the process for good, and under
    // one being prepared crashed it (SIGSEGV).
    const source = pathToFileURL(join(PACKAGE_DIR, 'src', 'dataset.ts')).href;
    const script = `const { openDataset } = await import(${JSON.stringify(source)});
      const path = ${JSON.stringify(dbPath)};
      const slow = await openDataset({ path, dataset: 'data' });
      const running = slow.sql('SELECT sum(i) AS s FROM range(20000000) t(i)');
      await new Promise((resolve) => setTimeout(resolve, 5));
      await slow.close();
      const quick = await openDataset({ path, dataset: 'data' });
      const started = [quick.sql('SELECT 1 AS one'), quick.tables()];
      const closing = quick.close();
      const after = await quick.sql('SELECT 2').then(() => 'ran', (e) => e.message);
      await closing;
      console.log(JSON.stringify({ running: await running, one: await started[0], tables: (await started[1]).length, after }));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    clearTimeout(timer);
    expect({ code, signal, err }).toEqual({ code: 0, signal: null, err: '' });
    expect(JSON.parse(out)).toEqual({
      running: [{ s: 199999990000000 }], one: [{ one: 1 }], tables: 2,
      after: 'reading dataset data: it is closed: call openDataset() again',
    });
    // Released: the file can be opened read-write again.
    (await DuckDBInstance.create(dbPath)).closeSync();
  }, 60_000);

  it('an open dataset refuses a pipeline write of the same process until close(), and a write refuses the dataset', async () => {
    const ds = await openDataset({ path: dbPath, dataset: 'data' });
    const second = await openDataset({ path: dbPath, dataset: 'data' }); // readers share
    const refused = await failure(DuckDBDestination.open({ path: dbPath, dataset: 'data', pipelineName: 'p' }));
    expect(refused).toBeInstanceOf(DestinationError);
    expect((refused as DestinationError).code).toBe('locked');
    expect(refused.message).toBe(
      `opening the destination: DuckDB file ${dbPath} is open in this process through openDataset(): close() that dataset before running the pipeline, and open it again after`,
    );
    await ds.close();
    await expect(DuckDBDestination.open({ path: dbPath, dataset: 'data', pipelineName: 'p' })).rejects.toThrow(/through openDataset/);
    await second.close();
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'data', pipelineName: 'p' });
    try {
      const reading = await failure(openDataset({ path: dbPath, dataset: 'data' }));
      expect(reading.message).toBe(`opening the dataset: DuckDB file ${dbPath} is open for writing by a pipeline run in this process: retry in a moment (a run has the file open only while it reads its state and while it commits)`);
    } finally {
      await dest.close();
    }
    await (await openDataset({ path: dbPath, dataset: 'data' })).close();
  });

  it("a run of another process that has the file open (its state read or commit) is named as such, as one of this process's is", async () => {
    const other = await otherProcess(dbPath);
    try {
      // Another program (a DuckDB CLI): DuckDB's lock, and the hint to close it.
      expect((await failure(openDataset({ path: dbPath, dataset: 'data' }))).message).toMatch(/is locked by another process \(PID \d+\): wait for the other program/);
    } finally {
      await other.release();
    }
    const run = await otherProcess(dbPath, { asRun: true });
    try {
      const error = await failure(openDataset({ path: dbPath, dataset: 'data' }));
      expect((error as DestinationError).code).toBe('locked');
      expect(error.message).toMatch(new RegExp(
        `^opening the dataset: DuckDB file ${dbPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is open for writing by a pipeline run \\(PID ${run.pid}, started \\S+Z\\): ` +
        'retry in a moment \\(a run has the file open only while it reads its state and while it commits\\)$',
      ));
    } finally {
      await run.release();
    }
    await (await openDataset({ path: dbPath, dataset: 'data' })).close();
  }, 60_000);

  it('a run that is only extracting (its run lock taken, the file not open) is not blamed for a lock another program holds', async () => {
    // The run's process: alive, its run lock in the staging directory, the DuckDB file not open by it.
    const runner = await otherProcess();
    const staging = `${dbPath}.staging`;
    mkdirSync(staging, { recursive: true });
    writeFileSync(join(staging, 'run.lock'), JSON.stringify({ pid: runner.pid, host: hostname(), startedAt: new Date().toISOString(), token: 't' }));
    const cli = await otherProcess(dbPath);
    try {
      // Before: 'open for writing by a pipeline run (PID <runner>) … retry in a moment', for as long as the CLI stays.
      const error = await failure(openDataset({ path: dbPath, dataset: 'data' }));
      expect(error.message).toMatch(new RegExp(`is locked by another process \\(PID ${cli.pid}\\): wait for the other program`));
    } finally {
      await cli.release();
      await runner.release();
      rmSync(staging, { recursive: true, force: true });
    }
  }, 60_000);
});
