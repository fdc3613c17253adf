// A commit that DuckDB refused because of something a user did to the resource's tables in the DuckDB CLI: a
// column's type changed (`ALTER … SET DATA TYPE INTEGER` on text the API sends), a NOT NULL, a unique index or
// constraint the loaded rows break. DuckDB's own line names a value or a column, not that the table was changed by
// hand nor how to undo it: this says both, naming each change. The loader itself makes no constraint or index on
// these tables, so every one found is a user's.
import type { DuckDBConnection } from '../duckdb.js';
import { firstLine } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from '../normalize/schema.js';
import { DUCKDB_TYPES } from '../normalize/types.js';
import { DestinationError, toDestinationError } from './errors.js';

/** DuckDB's kinds of error that a table changed by hand causes at an INSERT (a cast or a constraint). */
const CAUSED_BY_A_CHANGE = /^(Conversion|Constraint) Error: /;

/** The error to throw for a failed commit: one that names the changes made by hand when they explain it. */
export async function commitError(
  conn: DuckDBConnection, dataset: string, tables: readonly TableState[], error: unknown, action: string, path: string,
): Promise<DestinationError> {
  const text = firstLine(error instanceof Error ? error.message : String(error));
  if (!CAUSED_BY_A_CHANGE.test(text)) return toDestinationError(error, action, path);
  const changes = await changesByHand(conn, dataset, tables).catch(() => []);
  if (changes.length === 0) return toDestinationError(error, action, path);
  return new DestinationError(
    `${action} (${path}): ${text}`,
    'schema',
    `the loaded rows break one of these changes made to the loader's tables outside it: ${changes.map((c) => c.what).join('; ')}. Undo it with ${changes.map((c) => c.undo).join(' ')} (or drop such a column: the next load re-creates it), then rerun; nothing of this load was committed`,
    path,
    { cause: error },
  );
}

interface Change {
  what: string;
  undo: string;
}

async function changesByHand(conn: DuckDBConnection, dataset: string, tables: readonly TableState[]): Promise<Change[]> {
  const stored = tables.filter((t) => !t.isNew);
  if (stored.length === 0) return [];
  const s = quoteIdent(dataset);
  const ours = `lower(schema_name) = lower($1) AND lower(table_name) IN (${stored.map((t) => quoteLiteral(t.def.name.toLowerCase())).join(', ')})`;
  const params = [dataset];
  const changes: Change[] = [];
  // Types: what the loader made each column (its registry, and the system columns) against what the file has now.
  const made = new Map<string, string>();
  for (const t of stored) {
    for (const c of t.def.columns) made.set(`${t.def.name.toLowerCase()}.${c.name.toLowerCase()}`, DUCKDB_TYPES[c.type]);
    for (const c of t.isRoot ? ROOT_SYSTEM_COLUMNS : CHILD_SYSTEM_COLUMNS) made.set(`${t.def.name.toLowerCase()}.${c.name}`, c.sqlType);
  }
  const columns = (await conn.runAndReadAll(
    `SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE ${ours}
     ORDER BY table_name, column_index`, params,
  )).getRowObjectsJS();
  for (const c of columns) {
    const expected = made.get(`${String(c.table_name).toLowerCase()}.${String(c.column_name).toLowerCase()}`);
    if (expected === undefined || expected === String(c.data_type)) continue;
    const table = `${s}.${quoteIdent(String(c.table_name))}`;
    changes.push({
      what: `${String(c.table_name)}.${String(c.column_name)} is ${String(c.data_type)}, the loader made it ${expected}`,
      undo: `ALTER TABLE ${table} ALTER ${quoteIdent(String(c.column_name))} SET DATA TYPE ${expected};`,
    });
  }
  const constraints = (await conn.runAndReadAll(
    `SELECT table_name, constraint_type, constraint_column_names AS cols, constraint_text FROM duckdb_constraints()
     WHERE ${ours} ORDER BY table_name, constraint_index`, params,
  )).getRowObjectsJS();
  for (const c of constraints) {
    const table = `${s}.${quoteIdent(String(c.table_name))}`;
    const cols = (c.cols as unknown[] | null ?? []).map(String);
    if (c.constraint_type === 'NOT NULL' && cols.length === 1) {
      changes.push({ what: `${String(c.table_name)}.${cols[0]} is NOT NULL`, undo: `ALTER TABLE ${table} ALTER ${quoteIdent(cols[0]!)} DROP NOT NULL;` });
    } else {
      // DuckDB cannot drop a CHECK, UNIQUE or PRIMARY KEY constraint: only a copy of the table without it undoes it.
      changes.push({
        what: `${String(c.table_name)} has ${String(c.constraint_text)}`,
        undo: `a copy without it (DuckDB drops no such constraint; CREATE TABLE … AS copies none): CREATE TABLE ${s}."_copy" AS FROM ${table}; DROP TABLE ${table}; ALTER TABLE ${s}."_copy" RENAME TO ${quoteIdent(String(c.table_name))};`,
      });
    }
  }
  const indexes = (await conn.runAndReadAll(
    `SELECT table_name, index_name FROM duckdb_indexes() WHERE is_unique AND ${ours}
     ORDER BY table_name, index_name`, params,
  )).getRowObjectsJS();
  for (const i of indexes) {
    changes.push({ what: `${String(i.table_name)} has the unique index ${String(i.index_name)}`, undo: `DROP INDEX ${s}.${quoteIdent(String(i.index_name))};` });
  }
  return changes;
}
