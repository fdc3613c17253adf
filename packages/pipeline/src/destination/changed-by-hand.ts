// A commit that DuckDB refused because of something a user did to the resource's tables in the DuckDB CLI: a
// column's type changed (`ALTER … SET DATA TYPE INTEGER` on text the API sends), a NOT NULL, a unique index or
// constraint the loaded rows break, or a foreign key of a user's table on them that a merge's delete breaks. DuckDB's
// own line names a value or a column, not that the table was changed by hand nor how to undo it: this says both,
// naming each change. The loader itself makes no constraint or index on these tables, so every one found is a user's.
import type { DuckDBConnection } from '../duckdb.js';
import { firstLine } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from '../normalize/schema.js';
import { DUCKDB_TYPES } from '../normalize/types.js';
import { DestinationError, toDestinationError } from './errors.js';

/** DuckDB's kinds of error that a table changed by hand causes at an INSERT (a cast or a constraint). */
const CAUSED_BY_A_CHANGE = /^(Conversion|Constraint) Error: /;

/**
 * Types a column of the loader's type can be changed to without any value failing the cast (OPERATIONS.md: a type
 * widened loads on), besides VARCHAR, which takes any: such a change is not named, nor undone.
 */
const WIDER_TYPES: Readonly<Record<string, readonly string[]>> = {
  BIGINT: ['DOUBLE', 'HUGEINT'],
  'BIGINT[]': ['DOUBLE[]', 'HUGEINT[]', 'VARCHAR[]'],
  'DOUBLE[]': ['VARCHAR[]'],
  'BOOLEAN[]': ['VARCHAR[]'],
};

function widens(made: string, now: string): boolean {
  return now === 'VARCHAR' || (WIDER_TYPES[made]?.includes(now) ?? false);
}

/** The error to throw for a failed commit: one that names the changes made by hand when they explain it. */
export async function commitError(
  conn: DuckDBConnection, dataset: string, tables: readonly TableState[], error: unknown, action: string, path: string,
): Promise<DestinationError> {
  const text = firstLine(error instanceof Error ? error.message : String(error));
  if (!CAUSED_BY_A_CHANGE.test(text)) return toDestinationError(error, action, path);
  const changes = await changesByHand(conn, dataset, tables).catch(() => []);
  if (changes.length === 0) return toDestinationError(error, action, path);
  // Dropping a column is an undo only for the loader's own, which the next load re-creates; a user's holds their values.
  const orDrop = changes.some((c) => c.onLoaderColumn === true) ? ' (or drop such a column of the loader\'s: the next load re-creates it)' : '';
  return new DestinationError(
    `${action} (${path}): ${text}`,
    'schema',
    `the loaded rows break one of these changes made to the loader's tables outside it: ${changes.filter((c) => c.what !== '').map((c) => c.what).join('; ')}. Undo it with ${undoInOrder(changes)}${orDrop}, then rerun; nothing of this load was committed`,
    path,
    { cause: error },
  );
}

interface Change {
  /** Empty for a step that only lets the undo run (an index dropped and made again around an ALTER). */
  what: string;
  undo: string;
  /**
   * When it runs: a user table's foreign key on a loader table, index drops, then the ALTERs (DuckDB alters no
   * column of a table with an index), then the rest.
   */
  order: number;
  /** A type or NOT NULL of a column the loader made (not one a user added). */
  onLoaderColumn?: boolean;
}

const FOREIGN_KEY = 0;
const DROP_INDEX = 1;
const ALTER = 2;
const AFTER_ALTER = 3;

/** The undo of a constraint DuckDB cannot drop (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY): a copy of the table. */
function copyWithout(schema: string, tableName: string): string {
  const table = `${schema}.${quoteIdent(tableName)}`;
  return `a copy without it (DuckDB drops no such constraint; CREATE TABLE … AS copies none): CREATE TABLE ${schema}."_copy" AS FROM ${table}; DROP TABLE ${table}; ALTER TABLE ${schema}."_copy" RENAME TO ${quoteIdent(tableName)};`;
}

function undoInOrder(changes: readonly Change[]): string {
  return [...changes].sort((a, b) => a.order - b.order).map((c) => c.undo).join(' ');
}

async function changesByHand(conn: DuckDBConnection, dataset: string, tables: readonly TableState[]): Promise<Change[]> {
  const stored = tables.filter((t) => !t.isNew);
  if (stored.length === 0) return [];
  const s = quoteIdent(dataset);
  const ours = `lower(schema_name) = lower($1) AND lower(table_name) IN (${stored.map((t) => quoteLiteral(t.def.name.toLowerCase())).join(', ')})`;
  const params = [dataset];
  const changes: Change[] = [];
  /** Lower-cased names of the tables an undo ALTERs. */
  const altered = new Set<string>();
  // Types: what the loader made each column (its registry, and the system columns) against what the file has now.
  const made = new Map<string, string>();
  for (const t of stored) {
    for (const c of t.def.columns) made.set(`${t.def.name.toLowerCase()}.${c.name.toLowerCase()}`, DUCKDB_TYPES[c.type]);
    for (const c of t.isRoot ? ROOT_SYSTEM_COLUMNS : CHILD_SYSTEM_COLUMNS) made.set(`${t.def.name.toLowerCase()}.${c.name}`, c.sqlType);
  }
  const columns = (await conn.runAndReadAll(
    `SELECT table_name, column_name, data_type, column_default FROM duckdb_columns() WHERE ${ours}
     ORDER BY table_name, column_index`, params,
  )).getRowObjectsJS();
  // A user's column with a default: the loader's INSERTs leave it out, so its NOT NULL is never broken (not named).
  const filledByDefault = new Set<string>();
  for (const c of columns) {
    const key = `${String(c.table_name).toLowerCase()}.${String(c.column_name).toLowerCase()}`;
    if (!made.has(key) && c.column_default !== null && String(c.column_default).toUpperCase() !== 'NULL') filledByDefault.add(key);
    const expected = made.get(key);
    if (expected === undefined || expected === String(c.data_type) || widens(expected, String(c.data_type))) continue;
    const table = `${s}.${quoteIdent(String(c.table_name))}`;
    altered.add(String(c.table_name).toLowerCase());
    changes.push({
      what: `${String(c.table_name)}.${String(c.column_name)} is ${String(c.data_type)}, the loader made it ${expected}`,
      undo: `ALTER TABLE ${table} ALTER ${quoteIdent(String(c.column_name))} SET DATA TYPE ${expected};`,
      order: ALTER,
      onLoaderColumn: true,
    });
  }
  const constraints = (await conn.runAndReadAll(
    `SELECT table_name, constraint_type, constraint_column_names AS cols, constraint_text FROM duckdb_constraints()
     WHERE ${ours} ORDER BY table_name, constraint_index`, params,
  )).getRowObjectsJS();
  // A PRIMARY KEY's columns are NOT NULL by it: the copy that undoes the key undoes that too (not named apart).
  const inPrimaryKey = new Set(constraints.filter((c) => c.constraint_type === 'PRIMARY KEY')
    .flatMap((c) => (c.cols as unknown[] | null ?? []).map((col) => `${String(c.table_name).toLowerCase()}.${String(col).toLowerCase()}`)));
  for (const c of constraints) {
    const table = `${s}.${quoteIdent(String(c.table_name))}`;
    const cols = (c.cols as unknown[] | null ?? []).map(String);
    if (c.constraint_type === 'NOT NULL' && cols.length === 1) {
      const key = `${String(c.table_name).toLowerCase()}.${cols[0]!.toLowerCase()}`;
      if (filledByDefault.has(key) || inPrimaryKey.has(key)) continue;
      altered.add(String(c.table_name).toLowerCase());
      changes.push({
        what: `${String(c.table_name)}.${cols[0]} is NOT NULL`, undo: `ALTER TABLE ${table} ALTER ${quoteIdent(cols[0]!)} DROP NOT NULL;`, order: ALTER,
        onLoaderColumn: made.has(`${String(c.table_name).toLowerCase()}.${cols[0]!.toLowerCase()}`),
      });
    } else {
      // DuckDB cannot drop a CHECK, UNIQUE or PRIMARY KEY constraint: only a copy of the table without it undoes it.
      changes.push({ what: `${String(c.table_name)} has ${String(c.constraint_text)}`, undo: copyWithout(s, String(c.table_name)), order: AFTER_ALTER });
    }
  }
  // A table of the user's with a FOREIGN KEY on a loader table: a merge cannot delete a referenced row, nor the copy
  // above drop the table it references, so it goes first.
  const foreignKeys = (await conn.runAndReadAll(
    `SELECT table_name, constraint_text FROM duckdb_constraints() WHERE constraint_type = 'FOREIGN KEY' AND lower(schema_name) = lower($1)
     AND lower(referenced_table) IN (${stored.map((t) => quoteLiteral(t.def.name.toLowerCase())).join(', ')}) ORDER BY table_name, constraint_index`, params,
  )).getRowObjectsJS();
  for (const c of foreignKeys) {
    changes.push({ what: `${String(c.table_name)} has ${String(c.constraint_text)}`, undo: copyWithout(s, String(c.table_name)), order: FOREIGN_KEY });
  }
  const indexes = (await conn.runAndReadAll(
    `SELECT table_name, index_name, is_unique, sql FROM duckdb_indexes() WHERE ${ours}
     ORDER BY table_name, index_name`, params,
  )).getRowObjectsJS();
  for (const i of indexes) {
    const drop = `DROP INDEX ${s}.${quoteIdent(String(i.index_name))};`;
    if (i.is_unique === true) {
      changes.push({ what: `${String(i.table_name)} has the unique index ${String(i.index_name)}`, undo: drop, order: DROP_INDEX });
    } else if (altered.has(String(i.table_name).toLowerCase()) && i.sql !== null) {
      // Not a cause, but DuckDB refuses the ALTER while it is there: dropped before, made again after.
      changes.push({ what: '', undo: drop, order: DROP_INDEX }, { what: '', undo: String(i.sql), order: AFTER_ALTER });
    }
  }
  return changes.filter((c) => c.what !== '').length > 0 ? changes : [];
}
