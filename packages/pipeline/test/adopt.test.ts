// A merge after append or replace loads (or after a merge on another key) takes their rows over instead of keeping
// them beside its own: one row per key, with that key's child rows only. Real DuckDB files.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { openDataset } from '../src/dataset.js';
import { thingsResource as things } from './helpers.js';

let dir: string;
let dbPath: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'adopt-test-'));
  dbPath = join(dir, 'test.duckdb');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function load(records: Record<string, unknown>[], disposition: 'merge' | 'append' | 'replace', pk = ['id']) {
  const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
  try {
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: disposition, primaryKey: pk, maxNestingDepth: 4 });
    await w.write(records);
    return await w.commit(null);
  } finally {
    await dest.close();
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

/** Each record as stored: root values with its child values in list order, by id. */
async function stored() {
  return query(`SELECT t.id, t.count, list(i.k ORDER BY i._list_idx) FILTER (WHERE i.k IS NOT NULL) AS items
    FROM ds.things t LEFT JOIN ds.things__items i ON i._root_id = t._row_id GROUP BY ALL ORDER BY t.id`);
}

describe('a merge after other loads', () => {
  it('takes over appended rows: the newest per key stays, older copies and their children go', async () => {
    await load([{ id: 'a', count: 1, items: [{ k: 'a1' }] }, { id: 'b', count: 1, items: [{ k: 'b1' }] }], 'append');
    await load([{ id: 'a', count: 2, items: [{ k: 'a2' }] }, { id: 'b', count: 2, items: [{ k: 'b2' }, { k: 'b3' }] }, { id: 'n', count: 0 }], 'append');
    expect(await query('SELECT count(*) AS n FROM ds.things')).toEqual([{ n: 5 }]);
    // The merge re-reads `a` only (changed): `b` and `n` are taken over as their newest appended copy.
    const first = await load([{ id: 'a', count: 3, items: [{ k: 'a3' }] }], 'merge');
    expect(first.adoptedRecords).toBe(3);
    expect(await stored()).toEqual([
      { id: 'a', count: 3, items: ['a3'] },
      { id: 'b', count: 2, items: ['b2', 'b3'] },
      { id: 'n', count: 0, items: null },
    ]);
    expect(await query('SELECT count(*) AS n FROM ds.things__items')).toEqual([{ n: 3 }]);
    // Later merges have nothing to take over, and re-reading a taken-over record replaces it, not duplicates it. A
    // taken-over record and its child rows have the ids a merge gives them: read again as it is, it is unchanged.
    const second = await load([{ id: 'b', count: 2, items: [{ k: 'b2' }, { k: 'b3' }] }, { id: 'a', count: 3, items: [{ k: 'a3' }] }], 'merge');
    expect(second.adoptedRecords).toBe(0);
    expect(second.unchangedRecords).toBe(2);
    expect(await stored()).toEqual([
      { id: 'a', count: 3, items: ['a3'] },
      { id: 'b', count: 2, items: ['b2', 'b3'] },
      { id: 'n', count: 0, items: null },
    ]);
    expect(await query('SELECT count(*) AS n FROM ds.things__items')).toEqual([{ n: 3 }]);
  });

  it('takes over replaced rows, and rows merged on another key', async () => {
    // Two copies of `a` in one load cannot be ordered: one of them stays, with its own child rows.
    await load([{ id: 'a', count: 1, items: [{ k: 'a1' }] }, { id: 'a', count: 2, items: [{ k: 'a2' }] }], 'replace');
    await load([{ id: 'b', count: 1 }], 'merge');
    const [a, b] = await stored();
    expect([{ id: 'a', count: 1, items: ['a1'] }, { id: 'a', count: 2, items: ['a2'] }]).toContainEqual(a);
    expect(b).toEqual({ id: 'b', count: 1, items: null });
    // The same records merged on [id, count] are other records; the ones merged on [id] are taken over by that key.
    await load([{ id: 'b', count: 1 }], 'merge', ['id', 'count']);
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([{ id: 'a', count: a!.count }, { id: 'b', count: 1 }]);
  });

  it('does not mistake a user column named rowid for DuckDB\'s row id', async () => {
    await load([{ id: 'a', rowid: 'x' }, { id: 'b', rowid: 'y' }], 'append');
    await load([{ id: 'a', rowid: 'z' }], 'merge');
    expect(await query('SELECT id, rowid FROM ds.things ORDER BY id')).toEqual([{ id: 'a', rowid: 'z' }, { id: 'b', rowid: 'y' }]);
  });

  it('a merged record newer than an appended copy of its key wins', async () => {
    await load([{ id: 'a', count: 1 }], 'merge');
    await load([{ id: 'a', count: 2 }], 'append');
    await load([{ id: 'z', count: 0 }], 'merge');
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([{ id: 'a', count: 2 }, { id: 'z', count: 0 }]);
    await load([{ id: 'a', count: 3 }], 'merge');
    await load([{ id: 'a', count: 4 }], 'append');
    await load([{ id: 'a', count: 5 }], 'merge');
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([{ id: 'a', count: 5 }, { id: 'z', count: 0 }]);
  });

  it('leaves rows of loads from before row_ids was recorded as they are', async () => {
    await load([{ id: 'a', count: 1 }], 'append');
    const instance = await DuckDBInstance.create(dbPath);
    const conn = await instance.connect();
    await conn.run('ALTER TABLE ds._pipeline_loads DROP COLUMN row_ids');
    conn.closeSync();
    instance.closeSync();
    // Opening adds the column back, NULL for the old load: nothing says how its rows were identified.
    const merged = await load([{ id: 'b', count: 1 }], 'merge');
    expect(merged.adoptedRecords).toBe(0);
    expect(await query('SELECT id FROM ds.things ORDER BY id')).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(await query(`SELECT row_ids FROM ds._pipeline_loads ORDER BY load_id`)).toEqual([{ row_ids: null }, { row_ids: '["id"]' }]);
  });

  it('a statement of the takeover that fails is the error reported, not the aborted transaction after it', async () => {
    await load([{ id: 'a', count: 1 }], 'append');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    try {
      // A DuckDB error in the takeover (in a real run: out of memory) aborts the transaction; here one statement is
      // made to fail. Dropping the temp tables afterwards failed too, and its "Current transaction is aborted" was
      // the error reported, without the out-of-memory hint.
      const conn = (dest as unknown as { session: { conn: { run: (sql: string, ...rest: unknown[]) => Promise<unknown> } } }).session.conn;
      const run = conn.run.bind(conn);
      conn.run = (sql, ...rest) => run(sql.includes('"_adopt_drop" AS') ? `SELECT CAST('not a number' AS INTEGER)` : sql, ...rest);
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
      await w.write([{ id: 'b', count: 1 }]);
      await expect(w.commit(null)).rejects.toThrow(/Conversion Error: Could not convert string 'not a number'/);
    } finally {
      await dest.close();
    }
    expect(await query('SELECT id FROM ds.things')).toEqual([{ id: 'a' }]);
  });

  it('keeps the records merged on another key whose id is already the one the new key gives', async () => {
    // A key field renamed (by a map step), its values the same: each record's id under ['code'] is the one it has.
    // Counted once as adopted and once as the row already merged under that id, every such record was deleted.
    await load([{ id: 'a', code: 'a', count: 1, items: [{ k: 'a1' }] }, { id: 'b', code: 'b', count: 2 }], 'merge');
    const renamed = await load([{ id: 'c', code: 'c', count: 3 }], 'merge', ['code']);
    expect(renamed.adoptedRecords).toBe(2);
    expect(await stored()).toEqual([
      { id: 'a', count: 1, items: ['a1'] },
      { id: 'b', count: 2, items: null },
      { id: 'c', count: 3, items: null },
    ]);
    await load([{ id: 'a', code: 'a', count: 4, items: [{ k: 'a2' }] }], 'merge', ['code']);
    expect(await stored()).toEqual([
      { id: 'a', count: 4, items: ['a2'] },
      { id: 'b', count: 2, items: null },
      { id: 'c', count: 3, items: null },
    ]);
  });

  it('keeps a record whose new id is another record\'s old one', async () => {
    await load([{ id: 'x', code: 'y', count: 1, items: [{ k: 'x1' }] }, { id: 'y', code: 'x', count: 2, items: [{ k: 'y1' }] }], 'merge');
    const swapped = await load([{ id: 'z', code: 'z', count: 0 }], 'merge', ['code']);
    expect(swapped.adoptedRecords).toBe(2);
    expect(await stored()).toEqual([
      { id: 'x', count: 1, items: ['x1'] },
      { id: 'y', count: 2, items: ['y1'] },
      { id: 'z', count: 0, items: null },
    ]);
    // Merged again under the new key, the record is replaced in place.
    await load([{ id: 'x', code: 'y', count: 5, items: [{ k: 'x2' }] }], 'merge', ['code']);
    expect(await stored()).toEqual([
      { id: 'x', count: 5, items: ['x2'] },
      { id: 'y', count: 2, items: ['y1'] },
      { id: 'z', count: 0, items: null },
    ]);
  });

  it.each([['updated in place', undefined], ['moved by copy', 0]])('gives taken-over child rows, grandchildren included, the ids a merge gives them (%s)', async (_how, updateCells) => {
    // `a`'s code is `b`'s id: under the new key `a` gets the id `b` had. Child rows kept ids made from the old root id,
    // so once `a` was merged again its new child rows had the ids of `b`'s, and each record's grandchildren (joined by
    // `_parent_id`) hung under the other one's child rows too.
    const rec = (id: string, code: string, tag: string) => ({ id, code, items: [{ k: tag, subs: [{ s: tag, leafs: [{ t: tag }] }] }] });
    await load([rec('a', 'b', 'A'), rec('b', 'c', 'B')], 'merge');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    try {
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['code'], maxNestingDepth: 4, adoption: { updateCells } });
      await w.write([]);
      expect((await w.commit(null)).adoptedRecords).toBe(2);
    } finally {
      await dest.close();
    }
    await load([rec('a', 'b', 'A2')], 'merge', ['code']);
    const joined = `SELECT t.id, i.k, s.s, l.t FROM ds.things t
      JOIN ds.things__items i ON i._parent_id = t._row_id AND i._root_id = t._row_id
      JOIN ds.things__items__subs s ON s._parent_id = i._row_id AND s._root_id = t._row_id
      JOIN ds.things__items__subs__leafs l ON l._parent_id = s._row_id AND l._root_id = t._row_id ORDER BY t.id`;
    expect(await query(joined.replace(/ AND \w\._root_id = t\._row_id/g, ''))).toEqual([
      { id: 'a', k: 'A2', s: 'A2', t: 'A2' },
      { id: 'b', k: 'B', s: 'B', t: 'B' },
    ]);
    expect(await query(joined)).toHaveLength(2);
    // Re-read as they are, both records are unchanged: their rows are exactly the ones a merge writes.
    const again = await load([rec('a', 'b', 'A2'), rec('b', 'c', 'B')], 'merge', ['code']);
    expect(again.unchangedRecords).toBe(2);
  });

  it('takes over 1.5M child rows at the default memory limit', async () => {
    // An UPDATE re-pointing them held every updated value in memory until COMMIT: 200k appended cases (1.4M
    // transcript rows) could never be switched to merge at 192MB, whatever the rerun.
    const records = Array.from({ length: 30_000 }, (_, i) => ({ id: `r${i}`, count: i, items: Array.from({ length: 50 }, (_, j) => ({ k: `k${j}` })) }));
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    try {
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'append', primaryKey: ['id'], maxNestingDepth: 4 });
      for (let i = 0; i < records.length; i += 1000) await w.write(records.slice(i, i + 1000));
      await w.commit(null);
    } finally {
      await dest.close();
    }
    const merged = await load([{ id: 'r1', count: -1 }], 'merge');
    expect(merged.adoptedRecords).toBe(30_000);
    expect(await query(`SELECT count(*) AS n, count(DISTINCT _root_id) AS roots FROM ds.things__items
      WHERE _root_id IN (SELECT _row_id FROM ds.things) AND _parent_id = _root_id`)).toEqual([{ n: 29_999 * 50, roots: 29_999 }]);
    expect(await query(`SELECT id, count FROM ds.things WHERE id IN ('r1', 'r2') ORDER BY id`)).toEqual([{ id: 'r1', count: -1 }, { id: 'r2', count: 2 }]);
  });

  it('reads the keys to take over a page at a time, every page', async () => {
    // Read at once, 1M appended rows held ~500 MB of keys in JS, beyond DuckDB's memory limit. Pages of 3 rows here:
    // two appends of 10 keys, each key with its own child row, the second append newer.
    const records = (load: number) => Array.from({ length: 10 }, (_, i) => ({ id: `r${i}`, count: load, items: [{ k: `${load}-${i}` }] }));
    await load(records(1), 'append');
    await load(records(2), 'append');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    try {
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: things, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, adoption: { pageRows: 3 } });
      await w.write([]);
      expect((await w.commit(null)).adoptedRecords).toBe(10);
    } finally {
      await dest.close();
    }
    const rows = await stored();
    expect(rows).toHaveLength(10);
    expect(rows.every((r) => r.count === 2 && (r.items as string[])[0] === `2-${String(r.id).slice(1)}`)).toBe(true);
  });

  it('gives adopted rows the id a merge computes from a BIGINT key beyond 2^53', async () => {
    // 2^53 is a JSON number; the BIGINT reads back as a BigInt, which the id hashed as the text "9007199254740992".
    await load([{ id: 'a', n: 2 ** 53 }, { id: 'b', n: 7 }], 'append', ['n']);
    await load([{ id: 'c', n: 2 ** 53 }, { id: 'd', n: 7 }], 'merge', ['n']);
    expect(await query('SELECT id, n FROM ds.things ORDER BY n')).toEqual([{ id: 'd', n: 7 }, { id: 'c', n: '9007199254740992' }]);
  });

  it('gives adopted rows the id a merge computes from a key the client read as a BigInt (largeIntegers: \'bigint\')', async () => {
    // 9007199254740993 has no double: the client gives it as a BigInt, and the BIGINT column reads back the same BigInt.
    // 2^53 + 2 has one: a BigInt from the client and the number a map step may compute are one key, one id.
    await load([{ id: 'a', n: 9007199254740993n }, { id: 'b', n: 2n ** 53n + 2n }, { id: 'e', n: 2 ** 53 + 4 }], 'append', ['n']);
    const merged = await load([{ id: 'c', n: 9007199254740993n }, { id: 'd', n: 2 ** 53 + 2 }, { id: 'f', n: 2n ** 53n + 4n }], 'merge', ['n']);
    expect(merged.adoptedRecords).toBe(3);
    expect(await query('SELECT id, n FROM ds.things ORDER BY n')).toEqual([
      { id: 'c', n: '9007199254740993' }, { id: 'd', n: '9007199254740994' }, { id: 'f', n: '9007199254740996' },
    ]);
  });

  it('leaves rows keyed by flattened objects as they are, and says so on every merge', async () => {
    // The id of an object key hashes the object as it arrived; flattened into columns (or a child table, for a list
    // of objects) it cannot be given back, so the rows stay and their loads are not marked taken over.
    await load([{ id: 'a', ref: { org: 'o', n: 1 }, count: 1 }, { id: 'b', ref: { org: 'o', n: 2 }, count: 1 }], 'append', ['ref']);
    const first = await load([{ id: 'a', ref: { org: 'o', n: 1 }, count: 2 }], 'merge', ['ref']);
    expect(first.adoptedRecords).toBe(0);
    expect(first.notTakenOverKeyField).toBe('ref');
    const second = await load([{ id: 'a', ref: { org: 'o', n: 1 }, count: 2 }], 'merge', ['ref']);
    expect(second.notTakenOverKeyField).toBe('ref');
    expect(second.unchangedRecords).toBe(1);
    expect(await query('SELECT ref__n AS n, count FROM ds.things ORDER BY n, count')).toEqual([
      { n: 1, count: 1 }, { n: 1, count: 2 }, { n: 2, count: 1 },
    ]);
    // Earlier loads without any value under the key: nothing to take over, and nothing said.
    await load([{ id: 'p' }], 'append', ['obj']);
    const firstObj = await load([{ id: 'q', obj: { a: 1 } }], 'merge', ['obj']);
    expect(firstObj.notTakenOverKeyField).toBeUndefined();
    expect((await load([{ id: 'q', obj: { a: 1 } }], 'merge', ['obj'])).notTakenOverKeyField).toBeUndefined();
    await load([{ id: 'x', list: [{ k: [{ v: 1 }] }] }], 'append', ['list']);
    expect((await load([{ id: 'y', list: [{ k: [{ v: 1 }] }] }], 'merge', ['list'])).notTakenOverKeyField).toBe('list');
  });

  it('takes over rows keyed by objects that a declared scalar column sent to its JSON variant', async () => {
    await load([{ id: { org: 'o', n: 1 }, count: 1 }, { id: { org: 'o', n: 2 }, count: 1 }], 'append');
    const merged = await load([{ id: { org: 'o', n: 1 }, count: 2 }], 'merge');
    expect(merged.adoptedRecords).toBe(2);
    expect(merged.notTakenOverKeyField).toBeUndefined();
    expect(await query('SELECT id__v_json AS id, count FROM ds.things ORDER BY id')).toEqual([
      { id: { org: 'o', n: 1 }, count: 2 }, { id: { org: 'o', n: 2 }, count: 1 },
    ]);
  });

  it('gives a key with half a surrogate pair the id a merge gives it, as stored (U+FFFD)', async () => {
    await load([{ id: 'a\ud83d', count: 1 }], 'append');
    expect((await load([{ id: 'b', count: 1 }], 'merge')).adoptedRecords).toBe(1);
    const again = await load([{ id: 'a\ud83d', count: 1 }], 'merge');
    expect(again.unchangedRecords).toBe(1);
    expect(await query('SELECT id, count FROM ds.things ORDER BY id')).toEqual([{ id: 'a\ufffd', count: 1 }, { id: 'b', count: 1 }]);
  });

  it('takes over rows whose key value went to a variant column', async () => {
    // `code` is a BIGINT column; 'x' is in code__v_text. Such rows were left with their per-load id, beside the merged copy.
    await load([{ id: 'a', code: 1 }, { id: 'b', code: 'x' }], 'append', ['code']);
    const merged = await load([{ id: 'c', code: 'x' }], 'merge', ['code']);
    expect(merged.adoptedRecords).toBe(2);
    expect(await query('SELECT id, code, code__v_text FROM ds.things ORDER BY id')).toEqual([
      { id: 'a', code: 1, code__v_text: null },
      { id: 'c', code: null, code__v_text: 'x' },
    ]);
  });
});
