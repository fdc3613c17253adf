// The loader's tables are set up all or nothing (setUpSystemTables): a run stopped part-way through the set-up must
// not leave a schema holding only some of them. A kill mid-set-up is a matter of timing, so the set-up is made to fail
// at its last CREATE TABLE instead: another connection holds an uncommitted table of that name (a write-write conflict).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import { setUpSystemTables, SYSTEM_TABLES } from '../src/destination/system-tables.js';

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

it('a set-up failing at its last table leaves none of the loader tables it created before', async () => {
  dir = await mkdtemp(join(tmpdir(), 'system-tables-setup-'));
  const instance = await DuckDBInstance.create(join(dir, 'data.duckdb'), { threads: '1' });
  const other = await instance.connect();
  const conn = await instance.connect();
  try {
    await other.run('CREATE SCHEMA d');
    await other.run('BEGIN TRANSACTION');
    const last = SYSTEM_TABLES[SYSTEM_TABLES.length - 1]!;
    await other.run(`CREATE TABLE d."${last}" (x INTEGER)`);

    await expect(setUpSystemTables(conn, 'd')).rejects.toThrow(/write-write conflict/);
    await other.run('ROLLBACK');

    const tables = (await conn.runAndReadAll(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'd'`)).getRowObjectsJS();
    expect(tables).toEqual([]);
    // The conflict gone, the same set-up completes: the transaction left nothing half-open on the connection.
    await setUpSystemTables(conn, 'd');
    const created = (await conn.runAndReadAll(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'd' ORDER BY table_name`)).getRowObjectsJS();
    expect(created.map((t) => t.table_name)).toEqual([...SYSTEM_TABLES].sort());
  } finally {
    conn.closeSync();
    other.closeSync();
    instance.closeSync();
  }
});
