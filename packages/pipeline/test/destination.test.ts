import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync, mkdirSync, writeFileSync, readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { resources, type LoadableResource } from 'snapengage-client';
import { DestinationError, DuckDBDestination, newLoadId } from '../src/destination/index.js';
import type { DuckDBResourceWriter } from '../src/destination/resource-writer.js';
import { openDataset } from '../src/dataset.js';
import { replaceLoneSurrogateEscapes, TableStagingFile } from '../src/destination/staging.js';
import { PACKAGE_DIR, thingsResource } from './helpers.js';

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dest-test-'));
  dbPath = join(dir, 'test.duckdb');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const things = thingsResource;

async function load(
  records: Record<string, unknown>[],
  opts: { resource?: LoadableResource; disposition?: 'merge' | 'append' | 'replace'; pk?: string[]; state?: unknown } = {},
) {
  const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
  try {
    const w = dest.createResourceWriter({
      loadId: newLoadId(),
      resource: opts.resource ?? things,
      writeDisposition: opts.disposition ?? 'merge',
      primaryKey: opts.pk ?? ['id'],
      maxNestingDepth: 4,
    });
    await w.write(records);
    return await w.commit(opts.state ?? null);
  } finally {
    await dest.close();
  }
}

/** Runs SQL as the user would in another session (the loader's own connection is closed). */
async function exec(sql: string): Promise<void> {
  const instance = await DuckDBInstance.create(dbPath);
  const conn = await instance.connect();
  try {
    await conn.run(sql);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

async function query(sql: string) {
  const ds = await openDataset({ path: dbPath, dataset: 'ds' });
  try {
    return await ds.sql(sql);
  } finally {
    await ds.close();
  }
}

describe('DuckDBDestination', () => {
  it('loads the logs resource: flattened columns, child tables, declared all-null columns', async () => {
    const { rowCounts } = await load(
      [{ id: 'c1', proactive_chat: 'true', requester_details: { name: 'Ann', emails: ['a@x'] }, transcripts: [{ message: 'hi' }, { message: 'yo', translations: { de: 'hallo' } }], labels: [{ name: 'n', value: 'v' }] }],
      { resource: resources.logs },
    );
    expect(rowCounts).toEqual({ logs: 1, logs__transcripts: 2, logs__labels: 1 });
    const [row] = await query('SELECT id, proactive_chat, requester_details__name, requester_details__emails, survey_score, _row_id, _load_id FROM ds.logs');
    expect(row).toMatchObject({ id: 'c1', proactive_chat: true, requester_details__name: 'Ann', requester_details__emails: ['a@x'], survey_score: null });
    const children = await query('SELECT message, translations, _parent_id, _root_id, _list_idx, _row_id FROM ds.logs__transcripts ORDER BY _list_idx');
    expect(children.map((c) => c.message)).toEqual(['hi', 'yo']);
    expect(children[1]!.translations).toEqual({ de: 'hallo' });
    expect(children.every((c) => c._parent_id === row!._row_id && c._root_id === row!._row_id)).toBe(true);
    expect(new Set(children.map((c) => c._row_id)).size).toBe(2);
    // Declared tables exist even without rows; declared columns even when every value is null.
    const types = await query(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'ds'`);
    const has = (t: string, c: string, type: string) => types.some((x) => x.table_name === t && x.column_name === c && x.data_type === type);
    expect(has('logs', 'survey_comments', 'VARCHAR')).toBe(true);
    expect(has('logs', 'chat_duration', 'BIGINT')).toBe(true);
    expect(has('logs', 'proactive_chat', 'BOOLEAN')).toBe(true);
    expect(has('logs', 'latitude', 'DOUBLE')).toBe(true);
    expect(has('logs__transcripts', 'translations', 'JSON')).toBe(true);
    expect(has('logs__operator_variables', 'value', 'VARCHAR')).toBe(true);
  });

  it('evolves the schema across loads and remembers collision names', async () => {
    await load([{ id: 'a', count: 1, a_b: 'first' }]);
    // The second run sees `A B` first; `a_b` must still be the column of key `a_b`.
    await load([{ id: 'b', 'A B': 'spaced', a_b: 'second', extra: 2.5, count: 'many' }]);
    const rows = await query('SELECT id, count, count__v_text, a_b, a_b_1, extra FROM ds.things ORDER BY id');
    expect(rows).toEqual([
      { id: 'a', count: 1, count__v_text: null, a_b: 'first', a_b_1: null, extra: null },
      { id: 'b', count: null, count__v_text: 'many', a_b: 'second', a_b_1: 'spaced', extra: 2.5 },
    ]);
  });

  it('merges on the primary key and replaces the children of merged parents', async () => {
    await load([{ id: 'a', items: [{ k: '1' }, { k: '2' }, { k: '3' }] }, { id: 'b', items: [{ k: 'b1' }] }]);
    const first = await query(`SELECT _row_id FROM ds.things WHERE id = 'a'`);
    await load([{ id: 'a', count: 9, items: [{ k: 'new' }] }]);
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([{ id: 'a', count: 9 }, { id: 'b', count: null }]);
    expect(await query('SELECT k FROM ds.things__items ORDER BY k')).toEqual([{ k: 'b1' }, { k: 'new' }]);
    expect(await query(`SELECT _row_id FROM ds.things WHERE id = 'a'`)).toEqual(first);
  });

  it('keeps the last duplicate of a key within one load (and only its children)', async () => {
    const { rowCounts } = await load([{ id: 'a', count: 1, items: [{ k: 'old' }] }, { id: 'a', count: 2, items: [{ k: 'new' }, { k: 'new2' }] }]);
    expect(rowCounts).toEqual({ things: 1, things__items: 2 });
    expect(await query('SELECT count FROM ds.things')).toEqual([{ count: 2 }]);
    expect(await query('SELECT k FROM ds.things__items ORDER BY k')).toEqual([{ k: 'new' }, { k: 'new2' }]);
  });

  it('drops the grandchildren of a superseded duplicate too, and links the rest to their parents and root', async () => {
    const { rowCounts } = await load([
      { id: 'a', items: [{ k: 'old', sub: [{ z: 'old-sub' }] }] },
      { id: 'b', items: [{ k: 'b1', sub: [{ z: 'b-sub' }, { z: 'b-sub2' }] }] },
      { id: 'a', items: [{ k: 'new', sub: [{ z: 'new-sub' }] }] },
    ]);
    expect(rowCounts).toEqual({ things: 2, things__items: 2, things__items__sub: 3 });
    const linked = await query(`SELECT t.id, i.k, s.z FROM ds.things__items__sub s
      JOIN ds.things__items i ON s._parent_id = i._row_id AND s._root_id = i._root_id
      JOIN ds.things t ON i._parent_id = t._row_id AND i._root_id = t._row_id ORDER BY s.z`);
    expect(linked).toEqual([
      { id: 'b', k: 'b1', z: 'b-sub' },
      { id: 'b', k: 'b1', z: 'b-sub2' },
      { id: 'a', k: 'new', z: 'new-sub' },
    ]);
  });

  it('gives appended and replaced copies of a key their own row ids, so children join to one parent', async () => {
    const record = { id: 'a', items: [{ k: '1' }, { k: '2' }] };
    await load([record], { disposition: 'append' });
    await load([record], { disposition: 'append' });
    const joined = `SELECT count(*) AS n FROM ds.things t JOIN ds.things__items i ON i._parent_id = t._row_id`;
    expect(await query('SELECT count(DISTINCT _row_id) AS n FROM ds.things')).toEqual([{ n: 2 }]);
    expect(await query(joined)).toEqual([{ n: 4 }]);
    // replace with a key twice in one load: both copies are kept (replace does not deduplicate), each with its children
    await load([record, record], { disposition: 'replace' });
    expect(await query('SELECT count(DISTINCT _row_id) AS n FROM ds.things')).toEqual([{ n: 2 }]);
    expect(await query(joined)).toEqual([{ n: 4 }]);
  });

  it('merges a record without a key value by its content: a rerun does not add it again', async () => {
    const records = [{ id: 'a' }, { id: null, count: 2, items: [{ k: 'x' }] }, { count: 3 }];
    for (let run = 0; run < 3; run++) expect((await load(records)).keylessRecords).toBe(2);
    expect(await query('SELECT id, count FROM ds.things ORDER BY count NULLS FIRST')).toEqual([
      { id: 'a', count: null },
      { id: null, count: 2 },
      { id: null, count: 3 },
    ]);
    expect(await query('SELECT count(*) AS n FROM ds.things__items')).toEqual([{ n: 1 }]);
    // Changed content is another record: the old one stays.
    await load([{ count: 4 }]);
    expect(await query('SELECT count(*) AS n FROM ds.things WHERE id IS NULL')).toEqual([{ n: 3 }]);
    // A BigInt (a map step may return one) is content too, with the id of the value it is stored as.
    await load([{ count: 5n }]);
    await load([{ count: 5 }]);
    expect(await query('SELECT count(*) AS n FROM ds.things WHERE count = 5')).toEqual([{ n: 1 }]);
    // And a key: 7n merges with 7.
    await load([{ id: 7n, count: 71 }], { pk: ['id'], resource: { ...things, recordSchema: { type: 'object', properties: { id: { type: 'integer' }, count: { type: 'integer' } } } } });
    await load([{ id: 7, count: 72 }], { pk: ['id'], resource: { ...things, recordSchema: { type: 'object', properties: { id: { type: 'integer' }, count: { type: 'integer' } } } } });
    expect(await query(`SELECT count FROM ds.things WHERE count IN (71, 72)`)).toEqual([{ count: 72 }]);
  });

  it('merges a record missing one part of a composite key by its content, not by the part it has', async () => {
    // visitor_typing's key is [widgetId, caseId]: records of one widget that lack a caseId are different records,
    // and must not collapse into one under an id made of the widget alone.
    const records = [{ widget: 'w', case: 'c1', count: 1 }, { widget: 'w', count: 2 }, { widget: 'w', case: null, count: 3 }];
    for (let run = 0; run < 2; run++) expect((await load(records, { pk: ['widget', 'case'] })).keylessRecords).toBe(2);
    expect(await query('SELECT "case", count FROM ds.things ORDER BY count')).toEqual([
      { case: 'c1', count: 1 },
      { case: null, count: 2 },
      { case: null, count: 3 },
    ]);
  });

  it('stores a BigInt inside a JSON value (a map step may return one) as its exact number, on the row and fast paths', async () => {
    const deep = (big: bigint) => ({ a: { b: { c: { d: { big, list: [big, 1] } } } } });
    // The first record decides the columns (row path); the second has the same shape (fast path); the third is in a list.
    await load([
      { id: 'r1', deep: deep(12345678901234567890n) },
      { id: 'r2', deep: deep(-5n) },
      { id: 'r3', items: [{ k: 'x', deep: deep(9007199254740993n) }] },
    ]);
    const rows = await query(`SELECT id, CAST(deep__a__b__c__d AS VARCHAR) AS j FROM ds.things WHERE id IN ('r1', 'r2') ORDER BY id`);
    expect(rows).toEqual([
      { id: 'r1', j: '{"big":12345678901234567890,"list":[12345678901234567890,1]}' },
      { id: 'r2', j: '{"big":-5,"list":[-5,1]}' },
    ]);
    expect(await query(`SELECT CAST(deep__a__b__c AS VARCHAR) AS j FROM ds.things__items`)).toEqual([
      { j: '{"d":{"big":9007199254740993,"list":[9007199254740993,1]}}' },
    ]);
  });

  it('stores a list of BigInts or Dates (a map step may return one) as a list of numbers or texts', async () => {
    await load([{ id: 'l1', nums: [1n, null, 2n], big: [1n, 12345678901234567890n], when: [new Date(0)] }]);
    expect(await query(`SELECT nums, big, "when" FROM ds.things WHERE id = 'l1'`)).toEqual([
      { nums: [1, null, 2], big: ['1', '12345678901234567890'], when: ['1970-01-01T00:00:00.000Z'] },
    ]);
  });

  it('re-creates a child table or column the user dropped, keeping the state (an append would load twice)', async () => {
    const state = { windows: { w: { lastEnd: '2025-01-01' } } };
    await load([{ id: 'a', count: 1, items: [{ k: '1' }] }], { state });
    await exec('DROP TABLE ds.things__items; ALTER TABLE ds.things DROP COLUMN count');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(dest.droppedTables).toEqual([{ resource: 'things', tables: ['things__items'], columns: ['things.count'], action: 'recreate', remaining: [] }]);
    expect(await dest.readState('things')).toEqual(state);
    await dest.close();
    // The next load re-creates both, with the re-read record's values.
    await load([{ id: 'a', count: 2, items: [{ k: '2' }] }]);
    expect(await query('SELECT id, count FROM ds.things')).toEqual([{ id: 'a', count: 2 }]);
    expect(await query('SELECT k FROM ds.things__items')).toEqual([{ k: '2' }]);
    const again = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(again.droppedTables).toEqual([]);
    await again.close();
  });

  it('reloads a resource all of whose tables were dropped, and refuses one whose root went but children stayed', async () => {
    await load([{ id: 'a', items: [{ k: '1' }] }], { state: { windows: { w: { lastEnd: '2025-01-01' } } } });
    await exec('DROP TABLE ds.things');
    const blocked = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(blocked.droppedTables).toEqual([{ resource: 'things', tables: ['things'], columns: [], action: 'blocked', remaining: ['things__items'], under: 'things' }]);
    expect(() => blocked.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 })).toThrow(
      `loading things: table "ds"."things" in ${dbPath} was dropped, but the tables below it (things__items) remain, with rows that hang under its rows: to reload things, run with --refresh --resources things (runPipeline's refresh: true), or drop them too (DROP TABLE "ds"."things__items";); or restore "ds"."things"`,
    );
    // Nothing was changed: the state and the child rows are still there.
    expect(await blocked.readState('things')).toEqual({ windows: { w: { lastEnd: '2025-01-01' } } });
    await blocked.close();
    expect(await query('SELECT k FROM ds.things__items')).toEqual([{ k: '1' }]);
    await exec('DROP TABLE ds.things__items');
    const reload = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(reload.droppedTables).toEqual([{ resource: 'things', tables: ['things', 'things__items'], columns: [], action: 'reload', remaining: [] }]);
    expect(await reload.readState('things')).toBeUndefined();
    await reload.close();
    await load([{ id: 'b', items: [{ k: '2' }] }]);
    expect(await query('SELECT k FROM ds.things__items')).toEqual([{ k: '2' }]);
  });

  it('refuses a resource whose dropped child table has tables below it that remain', async () => {
    await load([{ id: 'a', items: [{ k: '1', sub: [{ z: 'x' }] }] }]);
    await exec('DROP TABLE ds.things__items');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(dest.droppedTables).toEqual([{ resource: 'things', tables: ['things__items'], columns: [], action: 'blocked', remaining: ['things__items__sub'], under: 'things__items' }]);
    await dest.close();
    await expect(load([{ id: 'a' }])).rejects.toThrow(/table "ds"\."things__items" .* was dropped, but the tables below it \(things__items__sub\) remain/);
    // Dropping the rest of the branch: re-created under the same names, no second table beside the old one.
    await exec('DROP TABLE ds.things__items__sub');
    await load([{ id: 'a', items: [{ k: '2', sub: [{ z: 'y' }] }] }]);
    expect(await query('SELECT z FROM ds.things__items__sub')).toEqual([{ z: 'y' }]);
    expect(await query(`SELECT count(*) AS n FROM information_schema.tables WHERE table_name LIKE 'things__items__sub%'`)).toEqual([{ n: 1 }]);
  });

  it('takes a dataset name in any case as the same dataset, as DuckDB does', async () => {
    for (const dataset of ['MyData', 'mydata', 'MYDATA']) {
      const dest = await DuckDBDestination.open({ path: dbPath, dataset, pipelineName: 'p' });
      expect(dest.droppedTables).toEqual([]);
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
      await w.write([{ id: 'a', items: [{ k: '1' }] }]);
      await w.commit(null);
      await dest.close();
    }
    const ds = await openDataset({ path: dbPath, dataset: 'mydata' });
    try {
      expect(await ds.sql('SELECT count(*) AS n FROM "MyData".things')).toEqual([{ n: 1 }]);
      expect(await ds.sql('SELECT count(*) AS n FROM "MyData".things__items')).toEqual([{ n: 1 }]);
    } finally {
      await ds.close();
    }
  });

  it('names a child table around a table of the same name in another case', async () => {
    await exec('CREATE SCHEMA ds; CREATE TABLE ds."Things__Items" (mine VARCHAR)');
    const { rowCounts } = await load([{ id: 'a', items: [{ k: '1' }] }]);
    expect(rowCounts).toEqual({ things: 1, things__items_1: 1 });
    expect(await query('SELECT count(*) AS n FROM ds."Things__Items"')).toEqual([{ n: 0 }]);
  });

  it('refuses to load into a table of the resource\'s name that it did not create', async () => {
    await exec('CREATE SCHEMA ds; CREATE TABLE ds.things (x INTEGER); INSERT INTO ds.things VALUES (42)');
    const error = await load([{ id: 'a' }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toBe(
      `loading things: table ds.things in ${dbPath} was not created by snapengage-pipeline: load into another dataset (--dataset or destination.dataset), or rename or drop that table`,
    );
    expect(await query('SELECT x FROM ds.things')).toEqual([{ x: 42 }]);
  });

  it('appends, and replaces', async () => {
    await load([{ id: 'a', items: [{ k: '1' }] }], { disposition: 'append' });
    await load([{ id: 'a', items: [{ k: '1' }] }], { disposition: 'append' });
    expect(await query('SELECT count(*) AS n FROM ds.things')).toEqual([{ n: 2 }]);
    await load([{ id: 'z' }], { disposition: 'replace' });
    expect(await query('SELECT id FROM ds.things')).toEqual([{ id: 'z' }]);
    expect(await query('SELECT count(*) AS n FROM ds.things__items')).toEqual([{ n: 0 }]);
    // merge without a key appends
    await load([{ id: 'z' }], { pk: [] });
    expect(await query('SELECT count(*) AS n FROM ds.things')).toEqual([{ n: 2 }]);
  });

  it('loads hostile records without loss', async () => {
    const big = 'x'.repeat(200 * 1024);
    let deep: Record<string, unknown> = { leaf: 'bottom' };
    for (let i = 0; i < 10; i++) deep = { [`l${i}`]: deep };
    const record = {
      id: `q'"; DROP TABLE ds.things; --`,
      'a; DROP TABLE x': 1,
      'A B': 'space',
      a_b: 'underscore',
      Case: 'upper',
      case: 'lower',
      '': 'empty key',
      '"quoted"': 'q',
      '😀': '🎉 emoji value',
      big,
      count: 'not a number',
      deep,
    };
    const { rowCounts } = await load([record]);
    expect(rowCounts.things).toBe(1);
    const [row] = await query('SELECT * FROM ds.things');
    expect(row).toMatchObject({
      id: record.id, a_drop_table_x: 1, a_b: 'space', a_b_1: 'underscore', case: 'upper', case_1: 'lower',
      empty: 'empty key', quoted: 'q', u1f600: '🎉 emoji value', big, count: null, count__v_text: 'not a number',
    });
    // Nesting beyond maxNestingDepth (4) is one JSON column holding the rest, not lost.
    const deepColumn = Object.keys(row!).find((k) => k.startsWith('deep__'))!;
    expect(JSON.stringify(row![deepColumn])).toContain('bottom');
  });

  it('commits state and the load record with the data, and reads state back', async () => {
    await load([{ id: 'a' }], { state: { cursor: 5 } });
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(await dest.readState('things')).toEqual({ cursor: 5 });
    expect(await dest.readState('other')).toBeUndefined();
    await dest.recordFailedLoad('1.000001', 'other', 'boom', new Date());
    await dest.close();
    const loads = await query('SELECT resource, status, CAST(row_counts AS VARCHAR) AS rc, error FROM ds._pipeline_loads ORDER BY status');
    expect(loads).toEqual([{ resource: 'other', status: 'failed', rc: null, error: 'boom' }, { resource: 'things', status: 'loaded', rc: '{"things":0}'.replace('0', '1'), error: null }]);
  });

  it('leaves nothing visible when a load is not committed, and the next open clears staging', async () => {
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    await w.write([{ id: 'a', items: [{ k: '1' }] }]);
    // The staging directory holds the run lock and one directory per writer.
    expect(readdirSync(`${dbPath}.staging`).length).toBe(2);
    await w.abort();
    expect(readdirSync(`${dbPath}.staging`)).toEqual(['run.lock']);
    await dest.close();
    expect(existsSync(`${dbPath}.staging`)).toBe(false);
    // A crashed run leaves staging files behind; simulate them.
    mkdirSync(join(`${dbPath}.staging`, 'leftover'), { recursive: true });
    writeFileSync(join(`${dbPath}.staging`, 'leftover', '0.ndjson'), '{"#id":"x"}\n');
    const again = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(readdirSync(`${dbPath}.staging`)).toEqual(['run.lock']);
    expect(await again.readState('things')).toBeUndefined();
    await again.close();
    expect(existsSync(`${dbPath}.staging`)).toBe(false);
    // Nothing was committed, so the file was never created (a destination opens a new file only to commit).
    expect(existsSync(dbPath)).toBe(false);
  });

  it('fails a commit cleanly on a full disk and leaves the database as it was', async () => {
    await load([{ id: 'a' }], { state: { v: 1 } });
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    // The root table's staging file is a link to /dev/full, so staging fails with ENOSPC.
    const stagingDir = (w as DuckDBResourceWriter).stagingDir;
    mkdirSync(stagingDir, { recursive: true });
    symlinkSync('/dev/full', join(stagingDir, '0.ndjson'));
    const writeError = await w.write(Array.from({ length: 10 }, (_, i) => ({ id: `n${i}` }))).catch((e: unknown) => e);
    // Writes are flushed in the background, so the failure shows at the latest on commit.
    if (writeError !== undefined) expect((writeError as DestinationError).code).toBe('disk_full');
    const error = await w.commit({ v: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).code).toBe('disk_full');
    expect((error as DestinationError).message).toMatch(/disk is full.*free disk space/);
    await dest.close();
    expect(await query('SELECT id FROM ds.things')).toEqual([{ id: 'a' }]);
    expect(await query('SELECT CAST(state AS VARCHAR) AS s FROM ds._pipeline_state')).toEqual([{ s: '{"v":1}' }]);
  });

  it('fast paths (whole records, whole lists of flat objects) give exactly the rows of the row-by-row path', async () => {
    const records = [
      { id: 'a', items: [{ k: 'first' }] },
      { id: 'f', items: [{ k: 'x' }, null, {}, { k: 'q"uote\nline ü 🎉' }] }, // a null item keeps its index
      { id: 'b', items: [{ k: 5 }] }, // a number in a text column: converted, so this list takes the row path
      { id: 'c', items: [{ k: 'y', extra: true }] }, // a new key: the row path decides its column
      { id: 'd', items: [{ k: 'z', extra: false }, { extra: 'true' }] }, // 'true' becomes a boolean: row path
      { id: 'e', items: [{ k: 'w', extra: true }, { k: null }] }, // every key known and exact: fast path
      { id: 'a', items: [{ k: 'again' }] }, // a later duplicate of a key wins a merge, children included
      { id: 'g', count: 3, meta: { src: 'web', n: 1.5, tags: ['x', 'y'] } }, // meta is new: row path decides it
      { id: 'h', count: 4, meta: { src: 'app', n: 2, tags: [] }, items: [] }, // every key known: record fast path
      { id: 'i', count: 'four', meta: { src: 'app' } }, // text in an integer column: a variant, so the row path
      // Longer than LIST_LINE_ITEMS: staged in 3 lines, each knowing its first index; null items keep theirs.
      { id: 'l', items: Array.from({ length: 70 }, (_, i) => (i % 9 === 4 ? null : { k: `n${i}` })) },
    ];
    const snapshot = async (fastPath: boolean) => {
      rmSync(dbPath, { force: true });
      const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
      const w = dest.createResourceWriter({ loadId: '1.0', resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
      await w.write(records);
      // Fast-path lines go to the table's list and record files (a private detail, looked at only here).
      const files = (w as unknown as { staging: { get(key: string): { rows: number } | undefined } }).staging;
      const staged = files.get('things__items\u0000list')?.rows ?? 0;
      const recordLines = files.get('things\u0000record')?.rows ?? 0;
      const { rowCounts } = await w.commit(null);
      await dest.close();
      const rows = await query('SELECT * EXCLUDE (_load_id) FROM ds.things__items ORDER BY _root_id, _list_idx');
      const roots = await query('SELECT * EXCLUDE (_load_id) FROM ds.things ORDER BY id');
      return { rowCounts, rows, roots, staged, records: recordLines };
    };
    const slow = await snapshot(false);
    const fast = await snapshot(true);
    expect(slow.staged).toBe(0);
    expect(fast.staged).toBe(7); // records a (both), f, e: whole lists; l in 3 lines; h's is empty (nothing to stage); b, c, d took the row path
    expect(fast.rowCounts).toEqual(slow.rowCounts);
    expect(fast.rows).toEqual(slow.rows);
    expect(fast.roots).toEqual(slow.roots);
    expect(slow.records).toBe(0);
    expect(fast.records).toBe(9); // every root but g (meta is new) and i (a variant value)
    expect(fast.rows.filter((r) => r.k === 'n69')).toMatchObject([{ _list_idx: 69 }]);
    expect(fast.roots.find((r) => r.id === 'h')).toMatchObject({ count: 4, meta__src: 'app', meta__n: 2, meta__tags: [] });
    expect(slow.rows.map((r) => r._list_idx)).toContain(3);
  });

  // Found by fast-path-differential.test.ts (seed 44): the list fast path staged a line for a list without items, so
  // the load's row counts (load info, _pipeline_loads) named the child table with 0 rows where the row path did not.
  it('counts the same tables on both paths when every list of a child table is empty or null items', async () => {
    const counts: Array<Record<string, number>> = [];
    for (const fastPath of [true, false]) {
      rmSync(dbPath, { force: true });
      const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
      for (const [i, records] of [[{ id: 'a', items: [{ k: 'x' }] }], [{ id: 'b', items: [] }, { id: 'c', items: [null] }]].entries()) {
        const w = dest.createResourceWriter({ loadId: `1.${i}`, resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
        await w.write(records);
        const { rowCounts } = await w.commit(null);
        if (i === 1) counts.push(rowCounts);
      }
      await dest.close();
    }
    expect(counts).toEqual([{ things: 2 }, { things: 2 }]);
  });

  // Lists longer than LIST_LINE_ITEMS are staged in lines of 32 (normalizer.ts): merges that read a case again with
  // its list grown or shrunk across a line boundary, the same, or one item changed, on both paths.
  it('merges long lists across the 32-item line boundary: old rows replaced, unchanged lists left alone, on both paths', async () => {
    const list = (n: number, nullAt: (i: number) => boolean = () => false) => Array.from({ length: n }, (_, i) => (nullAt(i) ? null : { k: `n${i}` }));
    const edited = [...list(64).slice(0, 40), { k: 'changed' }, ...list(64).slice(41)];
    const same = list(65, (i) => i === 31 || i === 32 || i === 63);
    const loads = [
      [{ id: 'grow', items: list(30) }, { id: 'shrink', items: list(70) }, { id: 'same', items: same }, { id: 'nulls', items: list(40, () => true) }, { id: 'edit', items: list(64) }],
      [{ id: 'grow', items: list(33) }, { id: 'shrink', items: list(31) }, { id: 'same', items: same }, { id: 'nulls', items: list(40, () => true) }, { id: 'edit', items: edited }],
      [{ id: 'grow', items: list(100) }, { id: 'shrink', items: [] }, { id: 'same', items: same }, { id: 'nulls', items: list(33) }, { id: 'edit', items: [...edited, null] }],
    ];
    const outcomes = [];
    for (const fastPath of [true, false]) {
      rmSync(dbPath, { force: true });
      const counts = [];
      for (const [i, records] of loads.entries()) {
        const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
        const w = dest.createResourceWriter({ loadId: `1.${i}`, resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
        await w.write(structuredClone(records));
        counts.push((await w.commit(null)).rowCounts);
        await dest.close();
      }
      const rows = await query(`SELECT t.id, t._load_id AS load, i._list_idx AS idx, i.k, i._row_id, i._load_id = t._load_id AS same_load
        FROM ds.things__items i LEFT JOIN ds.things t ON t._row_id = i._root_id ORDER BY t.id, i._list_idx`);
      outcomes.push({ counts, rows });
    }
    expect(outcomes[0]).toEqual(outcomes[1]);
    const { counts, rows } = outcomes[0]!;
    // Load 1 rewrites grow, shrink and edit; load 2 grow, shrink (to nothing) and nulls; edit's trailing null adds no row.
    expect(counts.slice(1)).toEqual([{ things: 3, things__items: 33 + 31 + 64 }, { things: 3, things__items: 100 + 33 }]);
    const of = (id: string) => rows.filter((r) => r.id === id);
    expect(rows.every((r) => r.id !== null && r.same_load === true)).toBe(true); // no row outlived its record's rewrite
    expect(of('grow').map((r) => Number(r.idx))).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(of('shrink')).toEqual([]);
    expect(of('nulls').map((r) => Number(r.idx))).toEqual(Array.from({ length: 33 }, (_, i) => i));
    expect(of('same').map((r) => [Number(r.idx), r.load])).toEqual(same.flatMap((item, i) => (item ? [[i, '1.0']] : [])));
    expect(of('edit').map((r) => [r.k, r.load])).toEqual(edited.map((item) => [item!.k, '1.1']));
  });

  it('stages fitting records without changing them, frozen ones and class instances included', async () => {
    const plain = { id: 'p', count: 1, items: [{ k: 'a' }] };
    const frozen = Object.freeze({ id: 'f', count: 2, items: Object.freeze([Object.freeze({ k: 'b' })]) });
    // A map step may return instances of a class; its toJSON() must not decide what is staged.
    class Thing {
      constructor(readonly id: string, readonly count: number, readonly items: Array<{ k: string }>) {}
      toJSON() {
        return { id: 'wrong' };
      }
    }
    const instance = new Thing('i', 3, [{ k: 'c' }]) as unknown as Record<string, unknown>;
    const before = structuredClone([plain, frozen]);
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    // Every column is declared by the schema, so all three take the record fast path.
    await w.write([{ id: 'x', count: 0, items: [{ k: 'x' }] }, plain, frozen, instance]);
    const files = (w as unknown as { staging: { get(key: string): { rows: number } | undefined } }).staging;
    expect(files.get('things\u0000record')?.rows).toBe(4);
    const { rowCounts } = await w.commit(null);
    await dest.close();
    expect([plain, frozen]).toEqual(before);
    expect(rowCounts).toEqual({ things: 4, things__items: 4 });
    expect(await query('SELECT t.id, t.count, i.k FROM ds.things t JOIN ds.things__items i ON i._root_id = t._row_id ORDER BY t.id'))
      .toEqual([{ id: 'f', count: 2, k: 'b' }, { id: 'i', count: 3, k: 'c' }, { id: 'p', count: 1, k: 'a' }, { id: 'x', count: 0, k: 'x' }]);
  });

  it('stages own keys only: a record inheriting a list gets no child rows, on either path', async () => {
    const inherits = Object.assign(Object.create({ items: [{ k: 'inherited' }] }) as Record<string, unknown>, { id: 'a', count: 1 });
    for (const fastPath of [true, false]) {
      rmSync(dbPath, { force: true });
      const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
      await w.write([inherits]);
      const { rowCounts } = await w.commit(null);
      await dest.close();
      expect(rowCounts).toEqual({ things: 1 });
      expect(Object.keys(inherits)).toEqual(['id', 'count']);
    }
  });

  it('reports a non-writable path in one line', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    const error = await DuckDBDestination.open({ path: join(file, 'db.duckdb'), dataset: 'ds', pipelineName: 'p' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).code).toBe('not_writable');
    expect((error as DestinationError).message).not.toContain('\n');
    expect((error as DestinationError).hint).toMatch(/writable directory/);
  });

  it('makes load ids that sort in creation order', () => {
    const ids = Array.from({ length: 50 }, () => newLoadId());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
    expect(ids[0]).toMatch(/^\d{10}\.\d{6}$/);
  });
});

describe('replaceLoneSurrogateEscapes', () => {
  it('makes staged JSON well-formed as toWellFormed would, leaving escaped backslashes and pairs alone', () => {
    // Values as the API's JSON.parse hands them over: lone high and low halves, a pair, backslashes before "ud83d".
    const values = ['cut \ud83d', 'low \udc00 x', '😀 pair', 'literal \\ud83d text', 'both \\\ud83d', 'end \udbff', 'tab\t\u0000', '\udc00\ud83d'];
    for (const value of values) {
      const fixed = replaceLoneSurrogateEscapes(JSON.stringify({ v: value }));
      expect(JSON.parse(fixed)).toEqual({ v: (value as unknown as { toWellFormed(): string }).toWellFormed() });
      expect(fixed).not.toMatch(/(^|[^\\])(\\\\)*\\ud[89a-f]/);
    }
  });
});

describe('TableStagingFile', () => {
  // /dev/full fails every write with ENOSPC, like a full disk.
  it.skipIf(!existsSync('/dev/full'))('keeps a failed write (a full disk) for close to report, instead of an unhandled rejection', async () => {
    const file = new TableStagingFile('/dev/full');
    for (let i = 0; i < 20_000; i++) file.add(JSON.stringify({ i, text: 'x'.repeat(40) }));
    await file.flush();
    // Let the failed write settle with nobody awaiting it: an unhandled rejection here fails the test run.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await expect(file.close()).rejects.toMatchObject({ code: 'ENOSPC' });
  });

  it('stages lines of three-byte characters whole where they share a chunk (room is counted at 3 UTF-8 bytes a unit)', async () => {
    // Buffer.write stops silently at the end of its buffer: a line given less room than its UTF-8 bytes would be
    // staged cut short. Two 50,000-character lines of 日 (150,000 bytes each) do not fit in one 256 KiB chunk.
    const dir = mkdtempSync(join(tmpdir(), 'staging-wide-'));
    try {
      const path = join(dir, '0.ndjson');
      const lines = [JSON.stringify({ a: '日'.repeat(50_000) }), JSON.stringify({ b: '語'.repeat(50_000) }), '{"c":3}'];
      const file = new TableStagingFile(path);
      for (const line of lines) file.add(line);
      await file.close();
      expect(readFileSync(path, 'utf8') === `${lines.join('\n')}\n`).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stages a line longer than a chunk without a second copy of it (`${line}\\n` was flattened whole before encoding)', async () => {
    // A 64 MB line (32M UTF-16 units: a value with a letter beyond Latin-1): add() must not allocate another 64 MB
    // of heap for it (its UTF-8 bytes are outside the heap). A heap cap does not show it (V8 lets a large string past
    // --max-old-space-size), so the heap is measured around add() after a full GC. Its bytes are checked too, so the
    // way it is encoded cannot change what is staged.
    const dir = mkdtempSync(join(tmpdir(), 'staging-long-line-'));
    const script = `
      import { readFileSync, statSync } from 'node:fs';
      import { TableStagingFile } from './src/destination/staging.ts';
      const units = 32 * 1024 * 1024;
      let line = Buffer.alloc(units * 2, 'ĉ', 'utf16le').toString('utf16le');
      const file = new TableStagingFile(${JSON.stringify(join(dir, '0.ndjson'))});
      file.add('{"short":1}');
      globalThis.gc();
      const before = process.memoryUsage().heapUsed;
      file.add(line);
      const heapGrowth = process.memoryUsage().heapUsed - before;
      line = undefined;
      file.add('{"after":2}');
      await file.close();
      const path = ${JSON.stringify(join(dir, '0.ndjson'))};
      const bytes = readFileSync(path);
      const long = 12 + units * 2;
      console.log(JSON.stringify({
        size: statSync(path).size, maxLineBytes: file.maxLineBytes, rows: file.rows, heapGrowthUnder8MB: heapGrowth < 8 * 1024 * 1024,
        head: bytes.subarray(0, 14).toString(), around: bytes.subarray(long - 2, long + 13).toString(),
      }));`;
    try {
      const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      clearTimeout(timer);
      expect({ code, err: err.slice(-400) }).toEqual({ code: 0, err: '' });
      expect(JSON.parse(out)).toEqual({
        size: 12 + 32 * 1024 * 1024 * 2 + 1 + 12, maxLineBytes: 32 * 1024 * 1024 * 2, rows: 3, heapGrowthUnder8MB: true,
        head: '{"short":1}\nĉ', around: 'ĉ\n{"after":2}\n',
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
