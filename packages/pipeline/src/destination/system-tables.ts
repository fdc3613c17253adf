// The loader's bookkeeping tables, kept in the dataset schema next to the data so that a load's rows, its
// state and its load record can commit in one DuckDB transaction.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { ColumnDef, TableDef } from '../normalize/schema.js';
import { isDataType } from '../normalize/types.js';

export const SYSTEM_TABLES = ['_pipeline_loads', '_pipeline_state', '_pipeline_tables', '_pipeline_columns'] as const;

export function systemTablesDdl(dataset: string): string {
  const s = quoteIdent(dataset);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_loads" (
  load_id VARCHAR NOT NULL, pipeline_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, status VARCHAR NOT NULL,
  started_at TIMESTAMP, finished_at TIMESTAMP, row_counts JSON, error VARCHAR);
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_state" (
  pipeline_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, state JSON, load_id VARCHAR, updated_at TIMESTAMP);
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_tables" (
  table_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, parent_table VARCHAR, node_key VARCHAR, load_id VARCHAR);
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_columns" (
  table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, node_key VARCHAR NOT NULL, variant VARCHAR,
  data_type VARCHAR NOT NULL, position INTEGER NOT NULL, load_id VARCHAR);
`;
}

/** UTC timestamp literal DuckDB's TIMESTAMP parses (no zone suffix). */
export function sqlTimestamp(date: Date): string {
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

/** Every table the loader created in the dataset, with its columns in creation order. */
export async function readTableDefs(conn: DuckDBConnection, dataset: string): Promise<Map<string, TableDef>> {
  const s = quoteIdent(dataset);
  const tables = (await conn.runAndReadAll(`SELECT table_name, resource, parent_table, node_key FROM ${s}."_pipeline_tables" ORDER BY rowid`)).getRowObjectsJS();
  const columns = (await conn.runAndReadAll(
    `SELECT table_name, column_name, node_key, variant, data_type FROM ${s}."_pipeline_columns" ORDER BY table_name, position`,
  )).getRowObjectsJS();
  const defs = new Map<string, TableDef>();
  for (const t of tables) {
    defs.set(String(t.table_name), {
      name: String(t.table_name),
      resource: String(t.resource),
      parent: t.parent_table === null ? null : String(t.parent_table),
      nodeKey: t.node_key === null ? null : String(t.node_key),
      columns: [],
    });
  }
  for (const c of columns) {
    const def = defs.get(String(c.table_name));
    const type = String(c.data_type);
    if (!def || !isDataType(type)) continue;
    const col: ColumnDef = {
      name: String(c.column_name),
      nodeKey: String(c.node_key),
      variant: c.variant === null ? null : (String(c.variant) as ColumnDef['variant']),
      type,
    };
    def.columns.push(col);
  }
  return defs;
}

/** Names of all tables in the dataset schema (ours or not), so new tables never take an existing name. */
export async function readExistingTableNames(conn: DuckDBConnection, dataset: string): Promise<string[]> {
  const r = await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = lower($1)`,
    [dataset],
  );
  return r.getRowObjectsJS().map((row) => String(row.table_name));
}

/** What `forgetDroppedTables` repaired for one resource. */
export interface DroppedTables {
  resource: string;
  tables: string[];
  columns: string[];
  /** Child tables dropped by the loader because their root table was dropped: their rows hang under its rows. */
  childTables: string[];
}

/**
 * Forgets tables and columns the loader registered that are no longer in the dataset (the user dropped them, often to
 * reload), and the incremental state of their resources, in one transaction; a dropped root table's child tables are
 * dropped with it. Without this every later run would fail
 * on the missing table. The next run re-creates them and reloads the resource from its start date, so the re-read
 * records fill them again (records older than the start date keep what they have).
 */
export async function forgetDroppedTables(conn: DuckDBConnection, dataset: string): Promise<DroppedTables[]> {
  // Names compare case-insensitively, as DuckDB resolves them: dataset "mydata" is the schema MyData.
  const s = quoteIdent(dataset);
  const missingTables = (await conn.runAndReadAll(
    `SELECT t.table_name, t.resource, t.parent_table IS NULL AS is_root FROM ${s}."_pipeline_tables" t
     WHERE lower(t.table_name) NOT IN (SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower($1))`,
    [dataset],
  )).getRowObjectsJS();
  const missingColumns = (await conn.runAndReadAll(
    `SELECT c.table_name, c.column_name, t.resource FROM ${s}."_pipeline_columns" c JOIN ${s}."_pipeline_tables" t USING (table_name)
     WHERE lower(t.table_name) IN (SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower($1))
       AND (lower(c.table_name), lower(c.column_name)) NOT IN
         (SELECT lower(table_name), lower(column_name) FROM information_schema.columns WHERE lower(table_schema) = lower($1))`,
    [dataset],
  )).getRowObjectsJS();
  if (missingTables.length === 0 && missingColumns.length === 0) return [];
  const byResource = new Map<string, DroppedTables>();
  const entry = (resource: unknown) => {
    const name = String(resource);
    const found = byResource.get(name) ?? { resource: name, tables: [], columns: [], childTables: [] };
    byResource.set(name, found);
    return found;
  };
  for (const t of missingTables) entry(t.resource).tables.push(String(t.table_name));
  for (const c of missingColumns) entry(c.resource).columns.push(`${String(c.table_name)}.${String(c.column_name)}`);
  // A dropped root takes its child tables along: reloaded records would otherwise add their child rows a second
  // time next to the old ones (a new root table has nothing to merge against).
  const rootless = missingTables.filter((t) => t.is_root === true).map((t) => String(t.resource));
  const forget = missingTables.map((t) => String(t.table_name));
  for (const resource of rootless) {
    const children = (await conn.runAndReadAll(
      `SELECT table_name FROM ${s}."_pipeline_tables" WHERE resource = $1 AND parent_table IS NOT NULL ORDER BY rowid`,
      [resource],
    )).getRowObjectsJS().map((row) => String(row.table_name)).filter((name) => !forget.includes(name));
    entry(resource).childTables.push(...children);
    forget.push(...children);
  }
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const resource of rootless) {
      for (const child of byResource.get(resource)!.childTables) await conn.run(`DROP TABLE IF EXISTS ${s}.${quoteIdent(child)}`);
    }
    for (const table of forget) {
      await conn.run(`DELETE FROM ${s}."_pipeline_columns" WHERE table_name = $1`, [table]);
      await conn.run(`DELETE FROM ${s}."_pipeline_tables" WHERE table_name = $1`, [table]);
    }
    for (const c of missingColumns) {
      await conn.run(`DELETE FROM ${s}."_pipeline_columns" WHERE table_name = $1 AND column_name = $2`, [String(c.table_name), String(c.column_name)]);
    }
    for (const resource of byResource.keys()) await conn.run(`DELETE FROM ${s}."_pipeline_state" WHERE resource = $1`, [resource]);
    await conn.run('COMMIT');
  } catch (error) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return [...byResource.values()];
}
