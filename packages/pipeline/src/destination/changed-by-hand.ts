// A commit that DuckDB refused because of something a user did to the resource's tables in the DuckDB CLI: a
// column's type changed (`ALTER … SET DATA TYPE INTEGER` on text the API sends), a NOT NULL, a unique index or
// constraint the loaded rows break, or a foreign key of a user's table on them that a merge's or replace's delete, or
// a refresh's DROP TABLE, breaks. DuckDB's own line names a value or a column, not that the table was changed by hand
// nor how to undo it: this says both, naming each change, the one DuckDB's line points at first. The loader itself
// makes no constraint or index on these tables, so every one found is a user's.
import type { DuckDBConnection } from '../duckdb.js';
import { firstLine } from '../errors.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import type { TableDef } from '../normalize/schema.js';
import { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from '../normalize/schema.js';
import { DUCKDB_TYPES } from '../normalize/types.js';
import { DestinationError, toDestinationError } from './errors.js';

/** DuckDB's kinds of error that a table changed by hand causes at an INSERT or DELETE (a cast or a constraint). */
const CAUSED_BY_A_CHANGE = /^(Conversion|Constraint) Error: /;
/** DuckDB 1.5's refusal to DROP a table another table's FOREIGN KEY references (it names only that other table). */
const DROP_BLOCKED_BY_FOREIGN_KEY = /main key table of the table "([^"]+)"/;

/** A loader table of the resource as the commit found it stored (the writer's TableState has these fields). */
export interface StoredTable {
  def: TableDef;
  isRoot: boolean;
  /** Created by this load: not stored yet, so not changed by hand. */
  isNew?: boolean;
}

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

/**
 * The error to throw for a failed commit: one that names the changes made by hand when they explain it. `refresh`:
 * the commit was a `--refresh` one, which drops `tables` (the resource's stored tables) before it loads.
 */
export async function commitError(
  conn: DuckDBConnection, dataset: string, tables: readonly StoredTable[], error: unknown, action: string, path: string,
  options: { refresh?: boolean; resource?: string } = {},
): Promise<DestinationError> {
  const text = firstLine(error instanceof Error ? error.message : String(error));
  const blocking = DROP_BLOCKED_BY_FOREIGN_KEY.exec(text)?.[1];
  if (options.refresh === true && blocking !== undefined) {
    const refused = await refreshBlocked(conn, dataset, tables, blocking, error, action, path, options.resource).catch(() => undefined);
    if (refused) return refused;
  }
  // A refresh's tables are all new: no change by hand is on them (those on the tables it drops are dropped with them).
  if (options.refresh === true || !CAUSED_BY_A_CHANGE.test(text)) return toDestinationError(error, action, path);
  const changes = await changesByHand(conn, dataset, tables).catch(() => []);
  if (changes.length === 0) return toDestinationError(error, action, path);
  // Dropping a column is an undo only for the loader's own, which the next load re-creates; a user's holds their values.
  const orDrop = changes.some((c) => c.onLoaderColumn === true) ? ' (or drop such a column of the loader\'s: the next load re-creates it)' : '';
  const named = changes.filter((c) => c.what !== '');
  // Marked only among others: a change named alone needs no mark.
  const cause = named.length > 1 ? causeOf(text, named) : undefined;
  const listed = cause ? [`${cause.what} (the cause of this failure)`, ...named.filter((c) => c !== cause).map((c) => c.what)] : named.map((c) => c.what);
  const breaks = cause?.kind === 'FOREIGN KEY'
    ? 'this load deletes rows a table of yours references, against one of these changes made to the loader\'s tables outside it'
    : 'the loaded rows break one of these changes made to the loader\'s tables outside it';
  return new DestinationError(
    `${action} (${path}): ${text}`,
    'schema',
    `${breaks}: ${listed.join('; ')}. Undo it with ${undoInOrder(changes)}${orDrop}, then rerun; nothing of this load was committed`,
    path,
    { cause: error },
  );
}

/**
 * The change DuckDB's line points at, when exactly one does: the table and column of a NOT NULL, the table of a
 * CHECK, the source column of a cast, the first column of a foreign key a delete breaks. A duplicate key names only
 * values, so a unique index or constraint is never picked out.
 */
function causeOf(text: string, changes: readonly Change[]): Change | undefined {
  // Matched against each change's own names, not a token cut at a space: a column may be "My Col". DuckDB's line
  // ends with the column of a NOT NULL or a cast, so the name must end it ("my" does not end "… logs.my col"); a foreign
  // key's names its columns with their values (key "case_id: 1" or "x: 1, y: 2").
  const lower = text.toLowerCase().trimEnd();
  const points = (c: Change): boolean => {
    switch (c.kind) {
      case 'NOT NULL': return lower.endsWith(`not null constraint failed: ${c.table}.${c.columns[0]}`);
      case 'CHECK': return lower.includes(`check constraint failed on table ${c.table} with `);
      case 'TYPE': return lower.endsWith(`when casting from source column ${c.columns[0]}`);
      case 'FOREIGN KEY': return lower.includes(`key "${c.columns[0]}: `) && lower.includes('is still referenced by a foreign key');
      default: return false;
    }
  };
  const found = changes.filter(points);
  return found.length === 1 ? found[0] : undefined;
}

/**
 * `--refresh` refused: DROP TABLE of a loader table that a user's table references by a FOREIGN KEY. Names every such
 * key on the resource's tables (DuckDB names only the first referencing table), the one it named first. What was not
 * changed is named by resource: resources of the run committed before this one stay refreshed.
 */
async function refreshBlocked(
  conn: DuckDBConnection, dataset: string, tables: readonly StoredTable[], blocking: string, error: unknown, action: string, path: string,
  resource = 'the resource',
): Promise<DestinationError | undefined> {
  const keys = (await foreignKeysReferencing(conn, dataset, tables.map((t) => t.def.name)))
    .sort((a, b) => Number(b.table.toLowerCase() === blocking.toLowerCase()) - Number(a.table.toLowerCase() === blocking.toLowerCase()));
  if (keys.length === 0) return undefined;
  const userTables = [...new Set(keys.map((k) => k.table))];
  const copying = await copyContext(conn, dataset);
  const s = copying.schema;
  const drops = userTables.map((t) => `DROP TABLE ${s}.${quoteIdent(t)};`).join(' ');
  const copies = userTables.map((t) => copyStatements(copying, t)).join(' ');
  const referencing = await referencedBy(conn, dataset, userTables);
  const first = keys[0]!;
  return new DestinationError(
    `${action} (${path}): --refresh cannot drop ${dataset}.${first.referenced}: ${keys.map((k) => `${k.table} has ${k.text}`).join('; ')} (a table of yours); nothing of ${resource} was changed (its tables and state are as before this run; _pipeline_loads records the failed load)`,
    'schema',
    `DuckDB cannot drop a FOREIGN KEY (ALTER TABLE … DROP CONSTRAINT is not implemented), so ${firstUnreference(referencing, userTables, '(DuckDB drops no table that another table\'s FOREIGN KEY references), then ')}drop your table (${drops}) or copy it without the key (${COPY_LOSES}): ${copies}, then rerun`,
    path,
    { cause: error },
  );
}

/** A FOREIGN KEY of `table` on `referenced`, as DuckDB states it (`text`), with its columns. */
interface ForeignKey {
  table: string;
  text: string;
  columns: string[];
  referenced: string;
}

/**
 * The FOREIGN KEYs of tables in the dataset schema that reference one of the tables named `names` (on the loader's
 * tables, all a user's: the loader makes none).
 */
async function foreignKeysReferencing(conn: DuckDBConnection, dataset: string, names: readonly string[]): Promise<ForeignKey[]> {
  if (names.length === 0) return [];
  const rows = (await conn.runAndReadAll(
    `SELECT table_name, constraint_text, constraint_column_names AS cols, referenced_table FROM duckdb_constraints()
     WHERE constraint_type = 'FOREIGN KEY' AND lower(schema_name) = lower($1)
     AND lower(referenced_table) IN (${names.map((t) => quoteLiteral(t.toLowerCase())).join(', ')}) ORDER BY table_name, constraint_index`, [dataset],
  )).getRowObjectsJS();
  return rows.map((r) => ({
    table: String(r.table_name), text: String(r.constraint_text), columns: (r.cols as unknown[] | null ?? []).map(String), referenced: String(r.referenced_table),
  }));
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
  /** What causeOf matches DuckDB's line against: the kind (TYPE, NOT NULL, a constraint_type), lower-cased names. */
  kind: string;
  table: string;
  columns: string[];
}

const FOREIGN_KEY = 0;
const DROP_INDEX = 1;
const ALTER = 2;
const AFTER_ALTER = 3;

/** What the table copies below lose, said wherever one is printed. */
const COPY_LOSES = "CREATE TABLE … AS copies none of the table's constraints, indexes or column defaults: make again those you keep";

/**
 * Where the copies of one message go: the schema, quoted, and the names taken in it (lower-cased), copies' included;
 * and the comments a copy must set again, by lower-cased table name (CREATE TABLE … AS copies none).
 */
interface CopyContext {
  schema: string;
  taken: Set<string>;
  comments: Map<string, { column: string | null; text: string }[]>;
}

async function copyContext(conn: DuckDBConnection, dataset: string): Promise<CopyContext> {
  const rows = (await conn.runAndReadAll(
    `SELECT table_name AS name FROM duckdb_tables() WHERE lower(schema_name) = lower($1)
     UNION ALL SELECT view_name FROM duckdb_views() WHERE lower(schema_name) = lower($1)`, [dataset],
  )).getRowObjectsJS();
  const taken = new Set(rows.map((r) => String(r.name).toLowerCase()));
  // A comment the loader recorded writing, unchanged since, is left out: its next load writes it again (comments.ts),
  // and it would fill the line with a loader table's ~60 texts. Every other comment (the user's) is set again.
  const loaders = taken.has('_pipeline_comments')
    ? `EXCEPT SELECT table_name, column_name, comment FROM ${quoteIdent(dataset)}."_pipeline_comments"` : '';
  const found = (await conn.runAndReadAll(
    `SELECT table_name, NULL::VARCHAR AS column_name, comment FROM duckdb_tables() WHERE lower(schema_name) = lower($1) AND coalesce(comment, '') <> ''
     UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() WHERE lower(schema_name) = lower($1) AND coalesce(comment, '') <> ''
     ${loaders} ORDER BY ALL`, [dataset],
  )).getRowObjectsJS();
  const comments = new Map<string, { column: string | null; text: string }[]>();
  for (const r of found) {
    const list = comments.get(String(r.table_name).toLowerCase()) ?? [];
    list.push({ column: r.column_name === null ? null : String(r.column_name), text: String(r.comment) });
    comments.set(String(r.table_name).toLowerCase(), list);
  }
  return { schema: quoteIdent(dataset), taken, comments };
}

/**
 * The tables (other than itself) whose FOREIGN KEY references each of `names`, by lower-cased name: DuckDB drops
 * such a table, or the original of its copy, only once those are dropped or copied without the key.
 */
async function referencedBy(conn: DuckDBConnection, dataset: string, names: readonly string[]): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  for (const k of await foreignKeysReferencing(conn, dataset, names)) {
    if (k.table.toLowerCase() === k.referenced.toLowerCase()) continue;
    const list = by.get(k.referenced.toLowerCase()) ?? [];
    if (!list.includes(k.table)) list.push(k.table);
    by.set(k.referenced.toLowerCase(), list);
  }
  return by;
}

/** "first drop T or copy it without its FOREIGN KEY on U …" for each of `names` another table references, else ''. */
function firstUnreference(referencing: ReadonlyMap<string, readonly string[]>, names: readonly string[], after: string): string {
  const steps = names.flatMap((name) => (referencing.get(name.toLowerCase()) ?? [])
    .map((by) => `${by} or copy it without its FOREIGN KEY on ${name}`));
  return steps.length === 0 ? '' : `first drop ${steps.join(', and ')} ${after}`;
}

/** The undo of a constraint DuckDB cannot drop (CHECK, UNIQUE, PRIMARY KEY, FOREIGN KEY): a copy of the table. */
function copyWithout(copying: CopyContext, tableName: string, referencing: ReadonlyMap<string, readonly string[]> = new Map()): string {
  const first = firstUnreference(referencing, [tableName], 'before it, as DuckDB drops no table that another table\'s FOREIGN KEY references');
  return `a copy without it (DuckDB drops no such constraint; ${COPY_LOSES}${first === '' ? '' : `; ${first}`}): ${copyStatements(copying, tableName)}`;
}

/**
 * `tableName` re-created as a copy of its rows and columns, without its constraints (run in DuckDB 1.5 by the tests),
 * through a name no table or view of the schema has (`<table>_undo_copy`, numbered when taken), its comments set again.
 */
function copyStatements(copying: CopyContext, tableName: string): string {
  const table = `${copying.schema}.${quoteIdent(tableName)}`;
  // Ends: each turn tries a new name and `taken` is finite.
  let name = `${tableName}_undo_copy`;
  for (let n = 2; copying.taken.has(name.toLowerCase()); n++) name = `${tableName}_undo_copy_${n}`;
  copying.taken.add(name.toLowerCase());
  const copy = `${copying.schema}.${quoteIdent(name)}`;
  const comments = (copying.comments.get(tableName.toLowerCase()) ?? [])
    .map((c) => ` COMMENT ON ${c.column === null ? `TABLE ${table}` : `COLUMN ${table}.${quoteIdent(c.column)}`} IS ${oneLineLiteral(c.text)};`);
  return `CREATE TABLE ${copy} AS FROM ${table}; DROP TABLE ${table}; ALTER TABLE ${copy} RENAME TO ${quoteIdent(tableName)};${comments.join('')}`;
}

/**
 * A SQL string literal on one line, as the message that prints it is one line: a text with a line break or another
 * control character is written as DuckDB's escape string (E'…\n…'), which gives back the same text.
 */
function oneLineLiteral(text: string): string {
  if (!/[\u0000-\u001f\u007f]/.test(text)) return quoteLiteral(text);
  const escaped = text.replaceAll('\\', '\\\\').replaceAll("'", "''")
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `E'${escaped}'`;
}

function undoInOrder(changes: readonly Change[]): string {
  return [...changes].sort((a, b) => a.order - b.order).map((c) => c.undo).join(' ');
}

async function changesByHand(conn: DuckDBConnection, dataset: string, tables: readonly StoredTable[]): Promise<Change[]> {
  const stored = tables.filter((t) => !t.isNew);
  if (stored.length === 0) return [];
  const copying = await copyContext(conn, dataset);
  const s = copying.schema;
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
      kind: 'TYPE', table: String(c.table_name).toLowerCase(), columns: [String(c.column_name).toLowerCase()],
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
        kind: 'NOT NULL', table: String(c.table_name).toLowerCase(), columns: [cols[0]!.toLowerCase()],
      });
    } else {
      // DuckDB cannot drop a CHECK, UNIQUE or PRIMARY KEY constraint: only a copy of the table without it undoes it.
      changes.push({
        what: `${String(c.table_name)} has ${String(c.constraint_text)}`, undo: copyWithout(copying, String(c.table_name)), order: AFTER_ALTER,
        kind: String(c.constraint_type), table: String(c.table_name).toLowerCase(), columns: cols.map((col) => col.toLowerCase()),
      });
    }
  }
  // A table of the user's with a FOREIGN KEY on a loader table: a merge cannot delete a referenced row, nor the copy
  // above drop the table it references, so it goes first.
  // A table of the user's that references it in turn must lose that key first (named, as it is not the loader's).
  const keys = await foreignKeysReferencing(conn, dataset, stored.map((t) => t.def.name));
  const referencing = await referencedBy(conn, dataset, keys.map((k) => k.table));
  for (const k of keys) {
    changes.push({
      what: `${k.table} has ${k.text}`, undo: copyWithout(copying, k.table, referencing), order: FOREIGN_KEY,
      kind: 'FOREIGN KEY', table: k.table.toLowerCase(), columns: k.columns.map((col) => col.toLowerCase()),
    });
  }
  const indexes = (await conn.runAndReadAll(
    `SELECT table_name, index_name, is_unique, sql FROM duckdb_indexes() WHERE ${ours}
     ORDER BY table_name, index_name`, params,
  )).getRowObjectsJS();
  for (const i of indexes) {
    const drop = `DROP INDEX ${s}.${quoteIdent(String(i.index_name))};`;
    if (i.is_unique === true) {
      changes.push({ what: `${String(i.table_name)} has the unique index ${String(i.index_name)}`, undo: drop, order: DROP_INDEX, kind: 'UNIQUE INDEX', table: String(i.table_name).toLowerCase(), columns: [] });
    } else if (altered.has(String(i.table_name).toLowerCase()) && i.sql !== null) {
      // Not a cause, but DuckDB refuses the ALTER while it is there: dropped before, made again after.
      const step = { what: '', kind: '', table: String(i.table_name).toLowerCase(), columns: [] };
      changes.push({ ...step, undo: drop, order: DROP_INDEX }, { ...step, undo: String(i.sql), order: AFTER_ALTER });
    }
  }
  return changes.filter((c) => c.what !== '').length > 0 ? changes : [];
}
