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
    `SELECT table_name FROM information_schema.tables WHERE table_schema = $1`,
    [dataset],
  );
  return r.getRowObjectsJS().map((row) => String(row.table_name));
}
