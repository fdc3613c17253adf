// new-key.ts through the resource writer on real DuckDB files: a key field no stored row has a value for is refused
// (config-edits.test.ts has the run-level cases); a key the stored rows do have, or no record keyed by the new field,
// is not (INCREMENTAL.md, "Changing the config between runs": primaryKey).
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDataset } from '../src/dataset.js';
import { appendThings, tempDir } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
let dbPath: string;
beforeEach(() => {
  tmp = tempDir('new-key-test-');
  dbPath = join(tmp.dir, 'test.duckdb');
});
afterEach(() => tmp.cleanup());

const append = (records: Record<string, unknown>[], primaryKey: string[]) => appendThings(dbPath, records, primaryKey);

async function ids() {
  const ds = await openDataset({ path: dbPath, dataset: 'ds' });
  return ds.sql('SELECT count(*)::INTEGER AS n FROM ds.things').finally(() => ds.close());
}

describe('a primary key the stored rows lack', () => {
  it('is refused when a staged record has a value for it and no stored row does', async () => {
    await append([{ id: 'a' }], ['id']);
    await expect(append([{ id: 'b', case_id: 'x' }], ['case_id'])).rejects.toThrow(/resources\.things\.primaryKey: "case_id" has no value in any of the 1 rows things holds/);
    expect(await ids()).toEqual([{ n: 1 }]);
  });

  it('is not refused when no staged record has every key field: those are appended as they are', async () => {
    await append([{ id: 'a' }], ['id', 'case_id']);
    await append([{ case_id: 'x' }], ['id', 'case_id']);
    expect(await ids()).toEqual([{ n: 2 }]);
  });

  it('is not refused when the root table holds no row: nothing stored can be loaded twice', async () => {
    await append([], ['id']);
    await append([{ id: 'b', case_id: 'x' }], ['case_id']);
    expect(await ids()).toEqual([{ n: 1 }]);
  });
});
