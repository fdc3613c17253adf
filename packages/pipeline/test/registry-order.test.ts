// The registry of columns (`_pipeline_columns`) read back in one order, whatever order its rows were stored in: a
// column re-created after a drop can share its position with another, and the commit compares fingerprints.
import { expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { datasetFingerprint, readTableDefs, systemTablesDdl } from '../src/destination/system-tables.js';

async function fingerprintWith(order: number[]): Promise<[string, string[]]> {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  await conn.run(systemTablesDdl('d'));
  const rows = [
    ['logs', 'b_col', 'b', null, 'text', 3, '1'],
    ['logs', 'a_col', 'a', null, 'text', 3, '2'],
  ];
  await conn.run(`INSERT INTO d."_pipeline_tables" VALUES ('logs', 'logs', NULL, NULL, '1')`);
  for (const i of order) await conn.run(`INSERT INTO d."_pipeline_columns" VALUES ($1, $2, $3, $4, $5, $6, $7)`, rows[i] as never);
  const fp = await datasetFingerprint(conn, 'd', 'p');
  const cols = (await readTableDefs(conn, 'd')).get('logs')!.columns.map((c) => c.name);
  conn.closeSync(); instance.closeSync();
  return [fp, cols];
}

it('columns whose registry positions tie read back, and fingerprint, the same whatever order their rows were stored in', async () => {
  const [a, ca] = await fingerprintWith([0, 1]);
  const [b, cb] = await fingerprintWith([1, 0]);
  expect(ca).toEqual(cb);
  expect(a).toBe(b);
});
