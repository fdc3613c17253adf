// The schema side of a commit: new tables are created and new columns added (inside the load's transaction), and
// their rows of the name mapping (`_pipeline_tables`, `_pipeline_columns`) are recorded.
import type { DuckDBConnection, DuckDBValue } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from '../normalize/schema.js';
import { DUCKDB_TYPES } from '../normalize/types.js';

/** Rows of `_pipeline_tables` / `_pipeline_columns` per INSERT (see insertRegistryRows). */
const REGISTRY_ROWS_PER_INSERT = 500;

/** Rows of the name mapping a commit adds, inserted after the schema changes. */
interface Registered {
  tables: DuckDBValue[][];
  columns: DuckDBValue[][];
}

/** Creates the new tables, adds the new columns and records both in the name mapping, for every table of a load. */
export async function applySchemaChanges(conn: DuckDBConnection, dataset: string, loadId: string, tables: readonly TableState[]): Promise<void> {
  const registered: Registered = { tables: [], columns: [] };
  for (const t of tables) await evolve(conn, dataset, loadId, t, registered);
  await insertRegistryRows(conn, `${quoteIdent(dataset)}."_pipeline_tables"`, registered.tables);
  await insertRegistryRows(conn, `${quoteIdent(dataset)}."_pipeline_columns"`, registered.columns);
}

/** Creates the table or adds this load's new columns, and collects their rows of the name mapping. */
async function evolve(conn: DuckDBConnection, dataset: string, loadId: string, t: TableState, registered: Registered): Promise<void> {
  const target = `${quoteIdent(dataset)}.${quoteIdent(t.def.name)}`;
  if (t.isNew) {
    const system = t.isRoot ? ROOT_SYSTEM_COLUMNS : CHILD_SYSTEM_COLUMNS;
    const cols = [
      ...t.def.columns.map((c) => `${quoteIdent(c.name)} ${DUCKDB_TYPES[c.type]}`),
      ...system.map((c) => `${quoteIdent(c.name)} ${c.sqlType}`),
    ];
    await conn.run(`CREATE TABLE IF NOT EXISTS ${target} (${cols.join(', ')})`);
    registered.tables.push([t.def.name, t.def.resource, t.def.parent, t.def.nodeKey, loadId]);
  }
  const columns = t.isNew ? t.def.columns : t.newColumns;
  for (const c of t.newColumns) {
    if (!t.isNew) await conn.run(`ALTER TABLE ${target} ADD COLUMN IF NOT EXISTS ${quoteIdent(c.name)} ${DUCKDB_TYPES[c.type]}`);
  }
  for (const c of columns) registered.columns.push([t.def.name, c.name, c.nodeKey, c.variant, c.type, t.def.columns.indexOf(c), loadId]);
}

/**
 * Inserts rows of the name mapping a chunk per statement. One INSERT per table or column grew the transaction's
 * memory by ~0.2 MB each (with preserve_insertion_order off, every INSERT into a table keeps its own row group until
 * COMMIT): a load adding ~700 columns, or ~200 child tables, ran out of memory at the default 192MB.
 */
async function insertRegistryRows(conn: DuckDBConnection, registry: string, rows: readonly DuckDBValue[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += REGISTRY_ROWS_PER_INSERT) {
    const chunk = rows.slice(i, i + REGISTRY_ROWS_PER_INSERT);
    let n = 0;
    const values = chunk.map((row) => `(${row.map(() => `$${++n}`).join(', ')})`).join(', ');
    await conn.run(`INSERT INTO ${registry} VALUES ${values}`, chunk.flat());
  }
}
