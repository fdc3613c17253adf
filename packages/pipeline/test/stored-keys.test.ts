// stored-keys.ts through the resource writer on real DuckDB files: an append that reads its window again leaves out
// the records whose key is stored, and every copy but the first of a key read twice in one load; records with a key
// field missing or null are appended as they are (NORMALIZATION.md, "Write dispositions").
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import { appendThings, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
beforeEach(() => {
  tmp = tempDir('stored-keys-test-');
  dbPath = join(tmp.dir, 'test.duckdb');
});
afterEach(() => tmp.cleanup());

const append = (records: Record<string, unknown>[], primaryKey: string[]) => appendThings(dbPath, records, primaryKey);

async function rows() {
  const ds = await openDataset({ path: dbPath, dataset: 'ds' });
  return ds.sql('SELECT id, count FROM ds.things ORDER BY id, count NULLS FIRST').finally(() => ds.close());
}

describe('keys already stored in an append', () => {
  it('keeps the first copy of a key read twice in one load, and leaves out a stored key on the next', async () => {
    await append([{ id: 'a', count: 1 }, { id: 'b', count: 1 }, { id: 'a', count: 2 }], ['id']);
    expect(await rows()).toEqual([{ id: 'a', count: 1 }, { id: 'b', count: 1 }]);
    await append([{ id: 'a', count: 3 }, { id: 'c', count: 1 }], ['id']);
    expect(await rows()).toEqual([{ id: 'a', count: 1 }, { id: 'b', count: 1 }, { id: 'c', count: 1 }]);
  });

  it('appends every record whose key has a null field, also two alike', async () => {
    await append([{ id: 'a', count: null }, { id: 'a', count: null }, { id: 'a', count: 1 }], ['id', 'count']);
    expect(await rows()).toEqual([{ id: 'a', count: null }, { id: 'a', count: null }, { id: 'a', count: 1 }]);
    await append([{ id: 'a', count: null }, { id: 'a', count: 1 }], ['id', 'count']);
    expect(await rows()).toEqual([{ id: 'a', count: null }, { id: 'a', count: null }, { id: 'a', count: null }, { id: 'a', count: 1 }]);
  });
});
