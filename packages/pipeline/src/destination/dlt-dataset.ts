// A dataset dlt loaded (users coming from dlt's SnapEngage page have one, named snapengage_data like this loader's
// default). Its tables have dlt's columns (_dlt_id, _dlt_load_id, …) and no rows in this loader's registry: loading
// into it would put this loader's tables beside dlt's (a resource dlt has no table of), refuse mid-run on the first
// table of a resource's name, and leave this loader's system tables in dlt's dataset either way. So a run refuses
// the dataset before it writes anything, naming dlt and a dataset to use instead.
import { duckdbCatalogName } from '../destination-settings.js';
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import { cliName } from './cli-name.js';
import { DestinationError } from './errors.js';

/** The tables dlt keeps in every dataset it loads (dlt 1.x; see its "destination tables" docs). */
const DLT_SYSTEM_TABLES = ['_dlt_loads', '_dlt_pipeline_state', '_dlt_version'] as const;

/**
 * Datasets the refusal may suggest: the first that the file does not hold already and that is not the file's own
 * catalog name (`snapengage` for snapengage.duckdb, the file dlt's SnapEngage page prints, which the loader refuses).
 */
const SUGGESTED_DATASETS = ['snapengage', 'snapengage_ts', 'snapengage_pipeline_data'];

/** At most this many of dlt's data tables are named. */
const NAMED_TABLES = 5;

/** dlt's system tables in the dataset (names compared case-insensitively, as DuckDB resolves them); empty if none. */
export async function dltSystemTables(conn: DuckDBConnection, dataset: string): Promise<string[]> {
  const rows = (await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = lower($1)
       AND lower(table_name) IN (${DLT_SYSTEM_TABLES.map((t) => `'${t}'`).join(', ')}) ORDER BY lower(table_name)`,
    [dataset],
  )).getRowObjectsJS();
  return rows.map((row) => String(row.table_name));
}

/**
 * Refuses a dataset that holds dlt's system tables, unless this loader already committed loads there (a dataset it
 * loaded before dlt's tables came, or before this check: refusing it now would stop a pipeline that works). Run
 * before the loader's own system tables are created, so that a refused file is left exactly as it was.
 */
export async function refuseDltDataset(conn: DuckDBConnection, dataset: string, dbPath: string): Promise<void> {
  const system = await dltSystemTables(conn, dataset);
  if (system.length === 0) return;
  const ours = (await conn.runAndReadAll(
    `SELECT 1 FROM information_schema.tables WHERE lower(table_schema) = lower($1) AND table_name = '_pipeline_loads'`,
    [dataset],
  )).getRowObjectsJS().length > 0;
  if (ours) {
    const loaded = (await conn.runAndReadAll(`SELECT 1 FROM ${quoteIdent(dataset)}."_pipeline_loads" WHERE status = 'loaded' LIMIT 1`)).getRowObjectsJS();
    if (loaded.length > 0) return;
  }
  const data = (await conn.runAndReadAll(
    `SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = lower($1) AND NOT starts_with(lower(table_name), '_dlt_')
       AND NOT starts_with(table_name, '_pipeline_') ORDER BY table_name`,
    [dataset],
  )).getRowObjectsJS().map((row) => String(row.table_name));
  const schemas = new Set((await conn.runAndReadAll('SELECT DISTINCT lower(schema_name) AS s FROM information_schema.schemata')).getRowObjectsJS().map((row) => String(row.s)));
  schemas.add(duckdbCatalogName(dbPath).toLowerCase());
  // Past the list: numbered, never `<dataset>_ts` (it may be taken too, and a dataset that needs quoting would make
  // an unquoted --dataset the shell splits). Ends: the file holds finitely many schemas.
  let suggestion = SUGGESTED_DATASETS.find((name) => !schemas.has(name));
  for (let n = 2; suggestion === undefined; n++) if (!schemas.has(`snapengage_ts_${n}`)) suggestion = `snapengage_ts_${n}`;
  const named = data.length > NAMED_TABLES ? `${data.slice(0, NAMED_TABLES).join(', ')} and ${data.length - NAMED_TABLES} more` : data.join(', ');
  throw new DestinationError(
    `opening the destination: dataset ${dataset} in ${dbPath} was loaded by dlt (it has ${system.join(', ')}${data.length > 0 ? `; tables ${named}` : ''}), and snapengage-pipeline does not write into another tool's dataset`,
    'schema',
    `load into a dataset of its own, such as --dataset ${suggestion} (or destination.dataset); if dlt's data is no longer needed, drop it first (DROP SCHEMA ${await cliName(conn, dataset)} CASCADE in the DuckDB CLI). Nothing was written to the file`,
    dbPath,
  );
}
