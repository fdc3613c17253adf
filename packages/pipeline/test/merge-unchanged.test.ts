// A merge skips records that are stored exactly as staged (see src/destination/unchanged.ts): real DuckDB files.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { openDataset } from '../src/dataset.js';
import { tempDir, thingsResource as things } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
beforeEach(() => {
  tmp = tempDir('unchanged-test-');
  dbPath = join(tmp.dir, 'test.duckdb');
});
afterEach(() => tmp.cleanup());

async function load(records: Record<string, unknown>[], fastPath = true) {
  const loadId = newLoadId();
  const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
  try {
    const w = dest.createResourceWriter({ loadId, resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
    await w.write(records);
    return { loadId, ...(await w.commit(null)) };
  } finally {
    await dest.close();
  }
}

/** Rows as the dataset API returns them (BIGINT as numbers). */
async function query(sql: string) {
  const ds = await openDataset({ path: dbPath, dataset: 'ds' });
  return ds.sql(sql).finally(() => ds.close());
}

/** Every row of the resource's tables, load ids included, in a stable order. */
async function everything() {
  return {
    things: await query('SELECT * FROM ds.things ORDER BY id'),
    items: await query('SELECT * FROM ds.things__items ORDER BY _root_id, _list_idx'),
    sub: await query('SELECT * FROM ds.things__items__sub ORDER BY _parent_id, _list_idx'),
  };
}

/** Load id of each record's rows, in every table: `{ a: ['L1'], … }`, one entry per distinct id. */
async function loadIdsByRecord() {
  const rows = await query(`SELECT t.id, list(DISTINCT x._load_id ORDER BY x._load_id) AS ids FROM ds.things t JOIN (
      SELECT _row_id AS r, _load_id FROM ds.things UNION ALL SELECT _root_id, _load_id FROM ds.things__items
      UNION ALL SELECT _root_id, _load_id FROM ds.things__items__sub) x ON x.r = t._row_id GROUP BY t.id ORDER BY t.id`);
  return Object.fromEntries(rows.map((r) => [r.id, r.ids]));
}

const base = [
  { id: 'a', items: [{ k: '1' }, { k: '2' }] },
  { id: 'b', items: [{ k: 'b1', sub: [{ z: 'z1' }] }] },
  { id: 'c', count: 1 },
  { id: 'd', items: [{ k: 'x' }] },
  { id: 'e', count: 5, meta: { src: 'web', tags: ['t'] }, items: [{ k: 'e1' }, null, { k: 'e3' }] },
  { id: 'g', count: 'seven' }, // a variant column
];

describe('merge of unchanged records', () => {
  it('a rerun of the same records writes nothing, and every row keeps its load id', async () => {
    // Stored row by row, re-staged through the fast paths: the same values must compare equal.
    const first = await load(base, false);
    const before = await everything();
    const rerun = await load(base, true);
    expect(rerun.unchangedRecords).toBe(base.length);
    expect(rerun.rowCounts).toEqual({ things: 0 });
    expect(await everything()).toEqual(before);
    expect(Object.values(await loadIdsByRecord())).toEqual(base.map(() => [first.loadId]));
    const loads = await query(`SELECT load_id, status FROM ds._pipeline_loads ORDER BY load_id`);
    expect(loads).toEqual([{ load_id: first.loadId, status: 'loaded' }, { load_id: rerun.loadId, status: 'loaded' }]);
  });

  it('compares a resource of more than 8 tables (fingerprinted a few per statement) in every table', async () => {
    // Ten lists, ten child tables: the stored tables take two statements, and a record is unchanged only when each
    // table's rows match, the last ones included.
    const wide = (id: string, last = '9') => ({ id, ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`l${i}`, [{ v: i === 9 ? last : String(i) }]])) });
    const first = await load([wide('a'), wide('b')]);
    const tables = await query(`SELECT count(*)::INTEGER AS n FROM information_schema.tables WHERE table_schema = 'ds' AND table_name LIKE 'things%'`);
    expect(tables[0]!.n).toBeGreaterThan(9);
    const rerun = await load([wide('a'), wide('b', 'changed')]);
    expect(rerun.unchangedRecords).toBe(1);
    expect(await query('SELECT id, _load_id FROM ds.things ORDER BY id')).toEqual([{ id: 'a', _load_id: first.loadId }, { id: 'b', _load_id: rerun.loadId }]);
    expect(await query(`SELECT DISTINCT _load_id FROM ds.things__l9 WHERE v = '9'`)).toEqual([{ _load_id: first.loadId }]);
    expect(await query(`SELECT v FROM ds.things__l9 ORDER BY v`)).toEqual([{ v: '9' }, { v: 'changed' }]);
  });

  it('rewrites a record whole when its root, children or grandchildren changed, and leaves the others alone', async () => {
    const first = await load(base);
    const second = await load([
      { id: 'a', items: [{ k: '1' }, { k: '2' }, { k: '3' }] }, // a child appended
      { id: 'b', items: [{ k: 'b1', sub: [{ z: 'z2' }] }] }, // a grandchild changed
      { id: 'c', count: 2 }, // a root column changed
      { id: 'd', items: [] }, // its children are gone
      base[4]!, // unchanged
      { id: 'f', items: [{ k: 'f1' }] }, // new
    ]);
    expect(second.unchangedRecords).toBe(1);
    expect(second.rowCounts).toEqual({ things: 5, things__items: 5, things__items__sub: 1 }); // a: 3, b: 1, f: 1
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([
      { id: 'a', count: null }, { id: 'b', count: null }, { id: 'c', count: 2 }, { id: 'd', count: null },
      { id: 'e', count: 5 }, { id: 'f', count: null }, { id: 'g', count: null },
    ]);
    const items = await query('SELECT t.id, i.k, i._list_idx FROM ds.things__items i JOIN ds.things t ON i._root_id = t._row_id ORDER BY t.id, i._list_idx');
    expect(items.map((r) => `${r.id}:${r.k}:${r._list_idx}`)).toEqual(['a:1:0', 'a:2:1', 'a:3:2', 'b:b1:0', 'e:e1:0', 'e:e3:2', 'f:f1:0']);
    expect(await query('SELECT z FROM ds.things__items__sub')).toEqual([{ z: 'z2' }]);
    expect(await loadIdsByRecord()).toEqual({
      a: [second.loadId], b: [second.loadId], c: [second.loadId], d: [second.loadId],
      e: [first.loadId], f: [second.loadId], g: [first.loadId],
    });
  });

  it('compares records last written by different loads; a child row of an older load than its record only makes it rewritten', async () => {
    const first = await load(base);
    const second = await load([{ id: 'a', items: [{ k: 'new' }] }, { id: 'c', count: 3 }]);
    const latest = [{ ...base[0]!, items: [{ k: 'new' }] }, base[1]!, { id: 'c', count: 3 }, base[3]!, base[4]!, base[5]!];
    // Rows are read from the oldest load that last wrote a matched record on (see unchanged.ts): here the first one.
    const all = await load(latest);
    expect(all.unchangedRecords).toBe(latest.length);
    // Only records of the second load: rows of the first are skipped, and both are still found unchanged.
    const recent = await load([latest[0]!, latest[2]!]);
    expect(recent.unchangedRecords).toBe(2);
    expect(await loadIdsByRecord()).toEqual({
      a: [second.loadId], b: [first.loadId], c: [second.loadId], d: [first.loadId], e: [first.loadId], g: [first.loadId],
    });
    // A child row that says an older load than its record (no merge writes that) hides from the compare: the record
    // counts as changed and is rewritten whole, never left short of a row.
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(dbPath);
    const conn = await instance.connect();
    await conn.run(`UPDATE ds.things__items SET _load_id = '0000000000.000000' WHERE k = 'new'`);
    conn.closeSync();
    instance.closeSync();
    const rewritten = await load([latest[0]!]);
    expect(rewritten.unchangedRecords).toBe(0);
    expect(rewritten.rowCounts).toEqual({ things: 1, things__items: 1 });
    expect(await query(`SELECT t.id, i.k FROM ds.things__items i JOIN ds.things t ON i._root_id = t._row_id WHERE t.id = 'a'`)).toEqual([{ id: 'a', k: 'new' }]);
    expect((await loadIdsByRecord()).a).toEqual([rewritten.loadId]);
  });

  it('compares the last occurrence of a key within the load', async () => {
    await load([{ id: 'a', count: 1 }]);
    const changed = await load([{ id: 'a', count: 1 }, { id: 'a', count: 2 }]);
    expect(changed.unchangedRecords).toBe(0);
    expect(await query('SELECT count FROM ds.things')).toEqual([{ count: 2 }]);
    const same = await load([{ id: 'a', count: 3 }, { id: 'a', count: 2 }]);
    expect(same.unchangedRecords).toBe(1);
    expect(same.rowCounts).toEqual({ things: 0 });
    expect(await query('SELECT count, _load_id FROM ds.things')).toEqual([{ count: 2, _load_id: changed.loadId }]);
  });

  it('a list whose items only changed places is a changed record: its rows take the new order', async () => {
    // Each row's values alone sum the same in any order; the `_row_id` hashed with them holds the list position.
    await load([{ id: 'a', items: [{ k: '1' }, { k: '2' }, { k: '3' }] }]);
    const next = await load([{ id: 'a', items: [{ k: '3' }, { k: '1' }, { k: '2' }] }]);
    expect(next.unchangedRecords).toBe(0);
    const items = await query('SELECT k FROM ds.things__items ORDER BY _list_idx');
    expect(items.map((r) => r.k)).toEqual(['3', '1', '2']);
  });

  it('tells an empty list from a missing one (DuckDB hashes them alike)', async () => {
    await load([{ id: 'x', tags: ['a'] }, { id: 'd', tags: null }, { id: 'e', tags: [] }]);
    const next = await load([{ id: 'd', tags: [] }, { id: 'e', tags: null }]);
    expect(next.unchangedRecords).toBe(0);
    expect(await query(`SELECT id, tags FROM ds.things WHERE id IN ('d', 'e') ORDER BY id`)).toEqual([
      { id: 'd', tags: [] },
      { id: 'e', tags: null },
    ]);
  });

  it('finds unchanged records in a table with a source field named rowid (it hides DuckDB\'s row number)', async () => {
    const records = [{ id: 'a', rowid: 7 }, { id: 'b' }, { id: 'c', rowid: 7 }];
    await load(records);
    const again = await load(records);
    expect(again.unchangedRecords).toBe(3);
    const changed = await load([{ id: 'b', rowid: 1 }]);
    expect(changed.unchangedRecords).toBe(0);
    expect(await query('SELECT id, rowid FROM ds.things ORDER BY id')).toEqual([
      { id: 'a', rowid: 7 }, { id: 'b', rowid: 1 }, { id: 'c', rowid: 7 },
    ]);
  });

  it('a value in a column new to the table makes its record changed; records without one stay unchanged', async () => {
    await load([{ id: 'a', count: 1 }, { id: 'b', count: 1 }]);
    const next = await load([{ id: 'a', count: 1, extra: 'x' }, { id: 'b', count: 1 }]);
    expect(next.unchangedRecords).toBe(1);
    expect(await query('SELECT id, count, extra FROM ds.things ORDER BY id')).toEqual([
      { id: 'a', count: 1, extra: 'x' },
      { id: 'b', count: 1, extra: null },
    ]);
  });
});
