// The loader's bookkeeping tables, kept in the dataset schema next to the data so that a load's rows, its
// state and its load record can commit in one DuckDB transaction.
import type { DuckDBConnection } from '../duckdb.js';
import type { DroppedTables } from '../run-records.js';
import { quoteIdent } from '../normalize/naming.js';
import type { ColumnDef, TableDef } from '../normalize/schema.js';
import { isDataType } from '../normalize/types.js';
import { DestinationError } from './errors.js';

export const SYSTEM_TABLES = ['_pipeline_loads', '_pipeline_state', '_pipeline_tables', '_pipeline_columns', '_pipeline_comments'] as const;

export function systemTablesDdl(dataset: string): string {
  const s = quoteIdent(dataset);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_loads" (
  load_id VARCHAR NOT NULL, pipeline_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, status VARCHAR NOT NULL,
  started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, row_counts JSON, error VARCHAR, row_ids VARCHAR);
-- Added after the first release: how a load made its root _row_ids (see destination/adopt.ts).
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS row_ids VARCHAR;
-- Which loader wrote each load, and in which layout (DATASET_FORMAT; see checkDatasetFormat).
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS loader_version VARCHAR;
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS dataset_format INTEGER;
-- The --limit-pages N of a sample (NULL for a full load), so a sample stays told apart after the run's output is gone.
-- BIGINT: the CLI takes any safe integer, and an INTEGER column failed the commit of a whole run on --limit-pages 3000000000.
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS limit_pages BIGINT;
-- The SNAPENGAGE_ORG_ID of the run (NULL when unset), so a run of another org is refused (dataset-org.ts).
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS org_id VARCHAR;
-- What the load's schema contract left out (load-discards.ts), NULL when nothing: a column, not a table, as a loader
-- before it names its columns when it inserts a load row and takes no new table for its own.
ALTER TABLE ${s}."_pipeline_loads" ADD COLUMN IF NOT EXISTS contract_discards JSON;
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_state" (
  pipeline_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, state JSON, load_id VARCHAR, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_tables" (
  table_name VARCHAR NOT NULL, resource VARCHAR NOT NULL, parent_table VARCHAR, node_key VARCHAR, load_id VARCHAR);
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_columns" (
  table_name VARCHAR NOT NULL, column_name VARCHAR NOT NULL, node_key VARCHAR NOT NULL, variant VARCHAR,
  data_type VARCHAR NOT NULL, position INTEGER NOT NULL, load_id VARCHAR);
-- Added after comments were: the text the loader last wrote as each table's (column_name NULL) or column's comment, so
-- that a text the spec changed replaces it while a user's is kept (comments.ts). A table of its own, not a column of
-- _pipeline_columns: an older loader of this format inserts its registry rows by position, and ignores this table.
CREATE TABLE IF NOT EXISTS ${s}."_pipeline_comments" (
  table_name VARCHAR NOT NULL, column_name VARCHAR, comment VARCHAR NOT NULL, load_id VARCHAR);
`;
}

/**
 * The layout of the loader's tables and incremental state that this loader writes and reads. A loader that changes
 * it (what a column or a state field means) raises it, migrating older files; an older loader then refuses the file
 * (checkDatasetFormat) rather than misread its state or write the old layout into it (dlt's engine_version).
 * The same goes for how rows are identified and named: a loader that makes other `_row_id`s, names or types from the
 * same records raises it too (test/format-fixture.test.ts fails otherwise: NORMALIZATION.md, Upgrading).
 */
export const DATASET_FORMAT = 2;
// Format history. 2: the loader's own times (`_pipeline_loads.started_at`/`finished_at`, `_pipeline_state.updated_at`)
// are TIMESTAMPTZ; format 1 stored UTC in TIMESTAMP columns, which a session in another zone (the DuckDB CLI's is the
// machine's) compared with `now()` off by the zone's offset. migrateSystemTimes converts a format-1 file, in the
// transaction of the first format-2 load row. Within format 2, the state gained `sampled` beside `windows` (windows.ts,
// SampledDays): a loader before it reads only `windows`, which a sample leaves empty, as it read a sample's null state.

/** The loader's own time columns: TIMESTAMPTZ from format 2 on (TIMESTAMP holding UTC before). */
const SYSTEM_TIMES = [['_pipeline_loads', 'started_at'], ['_pipeline_loads', 'finished_at'], ['_pipeline_state', 'updated_at']] as const;

/** Runs `work` in a transaction of its own: committed when it ends, rolled back (and its error rethrown) when it throws. */
export async function inTransaction(conn: DuckDBConnection, work: () => Promise<void>): Promise<void> {
  await conn.run('BEGIN TRANSACTION');
  try {
    await work();
    await conn.run('COMMIT');
  } catch (error) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * Creates the dataset schema and the loader's tables, and adds the columns later versions added, in one transaction:
 * a run killed (or failing) part-way leaves none of them rather than a schema with only some of the loader's tables.
 * Every statement is IF NOT EXISTS, so on a file set up before this is a no-op.
 */
export async function setUpSystemTables(conn: DuckDBConnection, dataset: string): Promise<void> {
  await inTransaction(conn, async () => {
    await conn.run(systemTablesDdl(dataset));
  });
}

/**
 * Makes a format-1 file's time columns TIMESTAMPTZ, reading the UTC they hold as UTC (a cast in a UTC session): every
 * stored instant is kept. A no-op on a format-2 file. Run inside the transaction that writes the run's first load row
 * (a commit's, or a failed load's), never alone: an older loader refuses a file only by its load rows' format, so
 * converted columns without a format-2 row beside them (a run killed after converting at open) let it write its
 * zone-less times into them, off by its machine's offset. Readers (openDataset, the CLI) read either layout.
 * A plain cast, not `AT TIME ZONE 'UTC'`: DuckDB writes the ALTER's expression to the WAL, and a process killed before
 * the next checkpoint left a file no DuckDB could open ("INTERNAL Error: Failure while replaying WAL file": a function
 * cannot be bound while the WAL replays). The cast replays, as UTC in any zone (test/time-zones.test.ts).
 */
export async function migrateSystemTimes(conn: DuckDBConnection, dataset: string): Promise<void> {
  const old = (await conn.runAndReadAll(
    `SELECT table_name, column_name FROM information_schema.columns
     WHERE lower(table_schema) = lower($1) AND data_type = 'TIMESTAMP' AND (table_name, column_name) IN (${SYSTEM_TIMES.map(([t, c]) => `('${t}', '${c}')`).join(', ')})`,
    [dataset],
  )).getRowObjectsJS();
  if (old.length === 0) return;
  // The loader's session is UTC already (open-file.ts); without ICU, there is no zone but UTC anyway.
  await conn.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
  for (const { table_name: table, column_name: column } of old) {
    const c = quoteIdent(String(column));
    await conn.run(`ALTER TABLE ${quoteIdent(dataset)}.${quoteIdent(String(table))} ALTER ${c} SET DATA TYPE TIMESTAMPTZ USING CAST(${c} AS TIMESTAMPTZ)`);
  }
}

/**
 * Whether the dataset's `_pipeline_loads` has `column`: a check made before the system tables are set up (so nothing
 * is written into a file it refuses), where a file of an older loader, or a new one, lacks the later columns.
 */
export async function loadsHaveColumn(conn: DuckDBConnection, dataset: string, column: string): Promise<boolean> {
  return (await conn.runAndReadAll(
    `SELECT 1 FROM information_schema.columns WHERE lower(table_schema) = lower($1) AND table_name = '_pipeline_loads' AND column_name = $2`,
    [dataset, column],
  )).getRowObjectsJS().length > 0;
}

/** Refuses a dataset that a newer loader wrote in a layout this one does not know (see DATASET_FORMAT). */
export async function checkDatasetFormat(conn: DuckDBConnection, dataset: string, dbPath: string, loaderVersion: string): Promise<void> {
  // Run before the system tables are set up (so nothing is written into a newer file): a file of a loader before
  // the format marker, or a new one, has no such column yet.
  if (!(await loadsHaveColumn(conn, dataset, 'dataset_format'))) return;
  const newest = (await conn.runAndReadAll(
    `SELECT dataset_format, loader_version FROM ${quoteIdent(dataset)}."_pipeline_loads" WHERE dataset_format > $1 ORDER BY dataset_format DESC, load_id DESC LIMIT 1`,
    [DATASET_FORMAT],
  )).getRowObjectsJS()[0];
  if (newest === undefined) return;
  const writer = newest.loader_version === null || newest.loader_version === undefined ? 'unknown version' : String(newest.loader_version);
  // A build of newer source under the same version number (the number is raised at release) is named by its format
  // only: "newer (0.1.0, …) than this one (0.1.0, …)" read as a contradiction.
  const written = writer === loaderVersion
    ? `was written by another build of snapengage-pipeline ${loaderVersion} in a newer dataset format (${String(newest.dataset_format)}) than this one's (format ${DATASET_FORMAT})`
    : `was written by a newer snapengage-pipeline (${writer}, dataset format ${String(newest.dataset_format)}) than this one (${loaderVersion}, format ${DATASET_FORMAT})`;
  throw new DestinationError(
    `opening the destination: dataset ${dataset} in ${dbPath} ${written}, which could misread its incremental state`,
    'schema',
    'upgrade snapengage-pipeline where this run comes from (npm install snapengage-pipeline@latest), so every run on this file uses the newer version',
    dbPath,
  );
}

/**
 * An instant as text for `CAST(… AS TIMESTAMPTZ)`: ISO 8601 with its `Z`, so DuckDB reads it as UTC whatever the
 * session's zone (a text without a zone is read in the session's zone, which is the machine's for the loader).
 */
export function sqlTimestamp(date: Date): string {
  return date.toISOString();
}

/** Every table the loader created in the dataset, with its columns in creation order. */
export async function readTableDefs(conn: DuckDBConnection, dataset: string): Promise<Map<string, TableDef>> {
  const s = quoteIdent(dataset);
  const tables = (await conn.runAndReadAll(`SELECT table_name, resource, parent_table, node_key FROM ${s}."_pipeline_tables" ORDER BY rowid`)).getRowObjectsJS();
  // Positions can tie (a dropped column's registry row forgotten, a column re-created at its index): the name breaks
  // the tie, so the order does not depend on how the rows happen to be stored.
  const columns = (await conn.runAndReadAll(
    `SELECT table_name, column_name, node_key, variant, data_type FROM ${s}."_pipeline_columns" ORDER BY table_name, position, column_name`,
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
  // The columns the tables have in the file, a user's own among them (names compare case-insensitively, as DuckDB's).
  const inFile = (await conn.runAndReadAll(
    `SELECT lower(table_name) AS t, column_name FROM information_schema.columns WHERE lower(table_schema) = lower($1)`, [dataset],
  )).getRowObjectsJS();
  const byLowerName = new Map([...defs.values()].map((def) => [def.name.toLowerCase(), def]));
  for (const c of inFile) {
    const def = byLowerName.get(String(c.t));
    if (def) (def.namesInFile ??= []).push(String(c.column_name));
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

/**
 * What a commit depends on, as one string: the dataset's tables and columns with their types, the loader's registry
 * of them, this pipeline's incremental state, and the loads committed so far (another run's commit in between, even
 * one that left every state as it was: an append of a resource without incremental state, loaded twice). `empty: true` gives the string of a dataset that holds only the
 * system tables (what a run that found no file expects at its commit).
 */
export async function datasetFingerprint(conn: DuckDBConnection, dataset: string, pipelineName: string, options: { empty?: boolean } = {}): Promise<string> {
  const s = quoteIdent(dataset);
  const columns = `SELECT lower(table_name) || '.' || lower(column_name) || ' ' || data_type AS line, lower(table_name) AS t, ordinal_position AS p
    FROM information_schema.columns WHERE lower(table_schema) = lower($1)
      -- Tables only: a view someone adds to the dataset (a dashboard's) changes nothing a commit depends on.
      AND lower(table_name) IN (SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower($1) AND table_type = 'BASE TABLE')`;
  const r = await conn.runAndReadAll(
    `SELECT
       (SELECT string_agg(line, ',' ORDER BY t, p) FROM (${columns}) WHERE NOT $3 OR t IN (${SYSTEM_TABLES.map((t) => `'${t}'`).join(', ')})) AS columns,
       (SELECT string_agg(concat_ws('/', table_name, resource, parent_table, node_key), ',' ORDER BY rowid) FROM ${s}."_pipeline_tables" WHERE NOT $3) AS tables,
       (SELECT string_agg(concat_ws('/', table_name, column_name, node_key, variant, data_type, position), ',' ORDER BY table_name, position, column_name) FROM ${s}."_pipeline_columns" WHERE NOT $3) AS registered,
       (SELECT string_agg(resource || '=' || CAST(state AS VARCHAR), ',' ORDER BY resource) FROM ${s}."_pipeline_state" WHERE pipeline_name = $2 AND NOT $3) AS state,
       (SELECT count(*) || '/' || coalesce(max(load_id), '') FROM ${s}."_pipeline_loads" WHERE status = 'loaded' AND NOT $3) AS loads`,
    [dataset, pipelineName, options.empty === true],
  );
  return JSON.stringify(r.getRowObjectsJS()[0]);
}

/**
 * Forgets tables and columns the loader registered that are no longer in the dataset (the user dropped them, often to
 * reload), in one transaction; see DroppedTables for what happens to each resource. Without this every later run
 * would fail on the missing table. Names compare case-insensitively, as DuckDB resolves them (dataset "mydata" is
 * the schema MyData).
 */
export async function forgetDroppedTables(conn: DuckDBConnection, dataset: string): Promise<DroppedTables[]> {
  const s = quoteIdent(dataset);
  const presentTables = `SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower($1)`;
  const registered = (await conn.runAndReadAll(
    `SELECT t.table_name, t.resource, t.parent_table, lower(t.table_name) IN (${presentTables}) AS present
     FROM ${s}."_pipeline_tables" t ORDER BY t.rowid`,
    [dataset],
  )).getRowObjectsJS();
  const missingColumns = (await conn.runAndReadAll(
    `SELECT c.table_name, c.column_name, t.resource FROM ${s}."_pipeline_columns" c JOIN ${s}."_pipeline_tables" t USING (table_name)
     WHERE lower(t.table_name) IN (${presentTables})
       AND (lower(c.table_name), lower(c.column_name)) NOT IN
         (SELECT lower(table_name), lower(column_name) FROM information_schema.columns WHERE lower(table_schema) = lower($1))`,
    [dataset],
  )).getRowObjectsJS();
  const byResource = new Map<string, DroppedTables>();
  const entry = (resource: unknown) => {
    const name = String(resource);
    const found = byResource.get(name) ?? { resource: name, tables: [], columns: [], action: 'recreate' as const, remaining: [] };
    byResource.set(name, found);
    return found;
  };
  for (const t of registered) if (t.present !== true) entry(t.resource).tables.push(String(t.table_name));
  for (const c of missingColumns) entry(c.resource).columns.push(`${String(c.table_name)}.${String(c.column_name)}`);
  if (byResource.size === 0) return [];
  const byName = new Map(registered.map((t) => [String(t.table_name), t]));
  /** The highest dropped table above a table, if any (parent links; bounded by the number of tables). */
  const droppedAbove = (name: string): string | undefined => {
    let found: string | undefined;
    let parent = byName.get(name)?.parent_table;
    for (let guard = 0; parent !== null && parent !== undefined && guard <= registered.length; guard++) {
      if (byName.get(String(parent))?.present !== true) found = String(parent);
      parent = byName.get(String(parent))?.parent_table;
    }
    return found;
  };
  for (const found of byResource.values()) {
    const tables = registered.filter((t) => String(t.resource) === found.resource);
    // Tables left below a dropped one: their rows hang under rows that are gone, and re-creating the dropped table
    // would give its children new names next to the old ones.
    const stranded = tables.filter((t) => t.present === true && droppedAbove(String(t.table_name)) !== undefined);
    if (stranded.length > 0) {
      found.action = 'blocked';
      found.remaining = stranded.map((t) => String(t.table_name));
      found.under = droppedAbove(found.remaining[0]!);
    } else if (tables.some((t) => t.parent_table === null && t.present !== true)) {
      found.action = 'reload';
    }
  }
  await inTransaction(conn, async () => {
    for (const found of byResource.values()) {
      if (found.action === 'blocked') continue;
      for (const table of found.tables) {
        await conn.run(`DELETE FROM ${s}."_pipeline_columns" WHERE table_name = $1`, [table]);
        await conn.run(`DELETE FROM ${s}."_pipeline_tables" WHERE table_name = $1`, [table]);
      }
      for (const c of missingColumns.filter((c) => String(c.resource) === found.resource)) {
        await conn.run(`DELETE FROM ${s}."_pipeline_columns" WHERE table_name = $1 AND column_name = $2`, [String(c.table_name), String(c.column_name)]);
      }
      if (found.action === 'reload') await conn.run(`DELETE FROM ${s}."_pipeline_state" WHERE resource = $1`, [found.resource]);
    }
  });
  return [...byResource.values()];
}
