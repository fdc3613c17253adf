// What each table and column means, written as DuckDB comments (`COMMENT ON`), so that an analyst who opens the file
// (`SELECT comment FROM duckdb_columns()`, a BI tool's column descriptions) reads the spec's description of a field
// without the spec at hand. The texts come from the generated catalog (the resource's `description`, and each field's
// `description` in its `recordSchema`), shortened to their first sentence with the provenance tag kept; the loader's
// own columns get fixed texts. Written inside the commit's transaction. DuckDB does not record who wrote a comment, so
// the loader records the texts it wrote (`_pipeline_comments`): a comment still equal to its record is the loader's and
// follows the spec; one that differs is the user's and is kept (see NORMALIZATION.md, Tables).
import type { DuckDBConnection, DuckDBValue } from '../duckdb.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { ELEMENT_NODE_KEY, ROW_NODE_KEY, nodeKeyPath, type ColumnDef, type TableDef } from '../normalize/schema.js';
import { DUCKDB_TYPES, declaredShape, isPlainObject, type JsonSchema } from '../normalize/types.js';

/** What the comments are made from: a loadable resource of the catalog. */
export interface DescribedResource {
  description: string;
  recordSchema: JsonSchema;
  addFields: Readonly<Record<string, { from: 'param'; param: string }>>;
}

/** The comments of one table: its own (undefined: none to write) and its columns' by name. */
interface TableComments {
  table: string | undefined;
  columns: Map<string, string>;
}

/** Past this many characters a comment is cut at a word (the spec's full text is one `npm run generate` away). */
const MAX_COMMENT = 240;

const UNDECLARED = 'Not declared in the spec: typed from its first value.';
const UNDECLARED_LIST = 'A list the spec does not declare: one row per item, columns typed from their first values.';
const OVERFLOW = 'Fields that found no room for a column of their own (the column budget), as JSON under their source path.';
const ELEMENT = 'The list\'s items that are not objects (the list mixes objects and other values).';

/**
 * The first sentence of a description, whitespace collapsed, with its provenance tag kept: `Case UUID. [doc]` stays,
 * `Details the visitor gave. Keys after … [doc partial]` becomes `Details the visitor gave. [doc partial]`.
 */
export function shortDescription(text: string): string | undefined {
  // Control characters (a NUL a spec's YAML escape can make) would not survive a SQL literal: spaces, like newlines.
  const flat = text.replace(/[\s\u0000-\u001f\u007f]+/g, ' ').trim();
  if (flat === '') return undefined;
  // A sentence ends at . ! ? before a capital, a tag or code: `1.5` and `e.g.` / `i.e.` do not end one.
  const sentences = flat.split(/(?<=[.!?])(?<!\b(?:e\.g|i\.e|etc|vs)\.)\s+(?=[A-Z[`(])/);
  const isTag = (s: string) => /^\[[^\]]*\]\.?$/.test(s);
  let first = sentences[0]!;
  for (let i = 1; i < sentences.length && isTag(sentences[i]!); i++) first += ` ${sentences[i]}`;
  // The tag that ends the sentence, else the one that ends the whole text (the description's own provenance).
  const own = /\s*(\[[^\]]*\]\.?)$/.exec(first);
  const lastTag = /(\[[^\]]*\])\.?$/.exec(flat)?.[1];
  let body = own ? first.slice(0, own.index) : first;
  const tag = own ? ` ${own[1]}` : !first.includes('[') && lastTag !== undefined ? ` ${lastTag}` : '';
  const room = MAX_COMMENT - tag.length;
  if (body.length > room) {
    const cut = body.slice(0, room - 1);
    body = `${cut.slice(0, Math.max(cut.lastIndexOf(' '), room / 2))}…`;
  }
  return (body + tag).trim();
}

/** A schema's description, or the first one its allOf/oneOf/anyOf branches give (the generator keeps compositions). */
function descriptionOf(schema: JsonSchema | undefined, depth = 0): string | undefined {
  if (!schema || depth > 20) return undefined;
  if (typeof schema.description === 'string' && schema.description.trim() !== '') return schema.description;
  for (const key of ['allOf', 'oneOf', 'anyOf']) {
    const branches = schema[key];
    if (!Array.isArray(branches)) continue;
    for (const b of branches) {
      const found = isPlainObject(b) ? descriptionOf(b, depth + 1) : undefined;
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** The schema of a field under `schema`, following a path of source keys through declared objects. */
function fieldSchema(schema: JsonSchema | undefined, path: readonly string[]): JsonSchema | undefined {
  let at = schema;
  for (const key of path) {
    if (!at) return undefined;
    const shape = declaredShape(at);
    at = shape.kind === 'object' && Object.hasOwn(shape.properties, key) ? shape.properties[key] : undefined;
  }
  return at;
}

/** The schema of a table's rows: the record's for the root, the list items' of the field a child table holds. */
function rowSchemas(resource: DescribedResource, defs: readonly TableDef[]): Map<string, { row?: JsonSchema; list?: JsonSchema }> {
  const out = new Map<string, { row?: JsonSchema; list?: JsonSchema }>();
  // Parents come before their children in a resource's tables; bounded by their number.
  for (let pass = 0; pass < defs.length && out.size < defs.length; pass++) {
    for (const def of defs) {
      if (out.has(def.name)) continue;
      if (def.parent === null) {
        out.set(def.name, { row: resource.recordSchema });
        continue;
      }
      const parent = out.get(def.parent);
      if (!parent) continue;
      const list = def.nodeKey === null || def.nodeKey === ELEMENT_NODE_KEY ? undefined : fieldSchema(parent.row, nodeKeyPath(def.nodeKey));
      const shape = list ? declaredShape(list) : undefined;
      out.set(def.name, { list, row: shape?.kind === 'table' ? shape.items : undefined });
    }
  }
  return out;
}

/** The comment of a data column: its field's description, or a fixed text for what the loader made. */
function columnComment(resource: DescribedResource, def: TableDef, row: JsonSchema | undefined, column: ColumnDef): string | undefined {
  if (column.variant !== null) {
    if (column.nodeKey === ROW_NODE_KEY) return OVERFLOW;
    const base = def.columns.find((c) => c.nodeKey === column.nodeKey && c.variant === null);
    const of = base ? `${base.name} (${DUCKDB_TYPES[base.type]})` : 'its field';
    return `Values of ${of} that its type does not take, kept as ${DUCKDB_TYPES[column.type]}.`;
  }
  if (column.nodeKey === ELEMENT_NODE_KEY) return ELEMENT;
  const path = nodeKeyPath(column.nodeKey);
  const added = def.parent === null && path.length === 1 ? resource.addFields[path[0]!] : undefined;
  const schema = fieldSchema(row, path);
  const described = descriptionOf(schema);
  if (described !== undefined) return shortDescription(described);
  if (added) return `The ${added.param} request parameter the record was loaded with (added by the loader, not sent by the API).`;
  return schema === undefined ? UNDECLARED : undefined;
}

/** The comments of a resource's tables (all of them, parents first as the normalizer lists them). */
function describeTables(resource: DescribedResource, defs: readonly TableDef[]): Map<string, TableComments> {
  const schemas = rowSchemas(resource, defs);
  const root = defs.find((d) => d.parent === null)?.name;
  const out = new Map<string, TableComments>();
  for (const def of defs) {
    const { row, list } = schemas.get(def.name) ?? {};
    const columns = new Map<string, string>();
    for (const column of def.columns) {
      const comment = columnComment(resource, def, row, column);
      if (comment !== undefined) columns.set(column.name, comment);
    }
    if (def.parent === null) {
      columns.set('_row_id', 'Row id: md5 of the primary-key values where the resource merges on a key, else unique per row and load.');
    } else {
      columns.set('_row_id', 'Row id: md5 of _parent_id, the table\'s path and _list_idx.');
      columns.set('_parent_id', `The _row_id of the parent row (${def.parent}).`);
      columns.set('_root_id', `The _row_id of the root row (${root ?? 'the resource\'s root table'}), at any depth.`);
      columns.set('_list_idx', 'Position of the item in its source list, from 0.');
    }
    columns.set('_load_id', 'The load that last wrote the row (_pipeline_loads.load_id).');
    const table = def.parent === null ? resource.description : list === undefined ? UNDECLARED_LIST : descriptionOf(list);
    out.set(def.name, { table: table === undefined ? undefined : shortDescription(table), columns });
  }
  return out;
}

/** Rows of `_pipeline_comments` per INSERT: one statement for a resource's comments (logs: ~60), not one per column. */
const RECORD_ROWS_PER_INSERT = 500;

/** What the loader does with one table's or column's comment, from the file's text and its record of what it wrote. */
function decide(wanted: string, current: string | undefined, recorded: string | undefined): { write: boolean; loaders: boolean } {
  // None yet (a new table or column, a file from before comments, a comment the user cleared): the spec's text.
  if (current === undefined) return { write: true, loaders: true };
  // What this spec says: the loader's, whoever wrote it (a file from before the record holds only such proof).
  if (current === wanted) return { write: false, loaders: true };
  // What the loader wrote last, untouched since: an older spec's text, replaced.
  if (current === recorded) return { write: true, loaders: true };
  // A user's text (or an older loader's that nothing proves was not one): kept, and no longer the loader's.
  return { write: false, loaders: false };
}

/**
 * Sets the comments of a load's tables (all of the resource's, parents first): those it creates, the columns it adds,
 * those of tables created before the loader wrote comments, and those it wrote before whose text the spec has changed
 * since. A comment the loader did not write, or that was changed after it did (the user's), is left as it is. Runs
 * inside the commit's transaction, after the tables and columns exist, in a fixed number of statements; a comment is
 * catalog metadata, so no row is rewritten. A text it wrote that the spec no longer gives is cleared. Returns how many
 * comments were set or cleared.
 */
export async function writeComments(conn: DuckDBConnection, dataset: string, loadId: string, resource: DescribedResource, tables: readonly TableState[]): Promise<number> {
  const wanted = describeTables(resource, tables.map((t) => t.def));
  const names = new Set(tables.map((t) => t.def.name.toLowerCase()));
  const key = (table: string, column: string | null) => JSON.stringify([table.toLowerCase(), column?.toLowerCase() ?? null]);
  const s = quoteIdent(dataset);
  const current = new Map<string, string>();
  // The record's rows by key, with their names: a text the spec no longer gives is cleared by them (below).
  const recorded = new Map<string, { table: string; column: string | null; text: string }>();
  const found = (await conn.runAndReadAll(
    `SELECT false AS recorded, table_name, NULL AS column_name, comment FROM duckdb_tables() WHERE lower(schema_name) = lower($1) AND coalesce(comment, '') <> ''
     UNION ALL
     SELECT false, table_name, column_name, comment FROM duckdb_columns() WHERE lower(schema_name) = lower($1) AND coalesce(comment, '') <> ''
     UNION ALL
     SELECT true, table_name, column_name, comment FROM ${s}."_pipeline_comments"`,
    [dataset],
  )).getRowObjectsJS();
  for (const row of found) {
    if (!names.has(String(row.table_name).toLowerCase())) continue;
    const table = String(row.table_name);
    const column = row.column_name === null ? null : String(row.column_name);
    if (row.recorded === true) recorded.set(key(table, column), { table, column, text: String(row.comment) });
    else current.set(key(table, column), String(row.comment));
  }
  const statements: string[] = [];
  const commentOn = (table: string, column: string | null, text: string | null) => {
    const target = column === null ? `TABLE ${s}.${quoteIdent(table)}` : `COLUMN ${s}.${quoteIdent(table)}.${quoteIdent(column)}`;
    statements.push(`COMMENT ON ${target} IS ${text === null ? 'NULL' : quoteLiteral(text)}`);
  };
  const record = new Map<string, DuckDBValue[]>();
  const considered = new Set<string>();
  const consider = (table: string, column: string | null, text: string) => {
    const k = key(table, column);
    considered.add(k);
    const { write, loaders } = decide(text, current.get(k), recorded.get(k)?.text);
    if (write) commentOn(table, column, text);
    if (loaders) record.set(k, [table, column, text, loadId]);
  };
  for (const [table, comments] of wanted) {
    if (comments.table !== undefined) consider(table, null, comments.table);
    for (const [column, comment] of comments.columns) consider(table, column, comment);
  }
  // A text the loader wrote that the spec no longer gives (a description removed, a field "not declared" that the spec
  // now declares without one): cleared while it is still the loader's, else it would read as the spec's forever and,
  // out of the record, pass for the user's when the spec gives a text again.
  for (const [k, { table, column, text }] of recorded) {
    if (!considered.has(k) && current.get(k) === text) commentOn(table, column, null);
  }
  // One call: a statement per comment, without a round trip each.
  if (statements.length > 0) await conn.run(statements.join(';\n'));
  // The record of the resource's tables is replaced whole (a comment that became the user's drops out of it), and
  // only when it changed: a rerun with the same spec writes nothing.
  const same = record.size === recorded.size && [...record].every(([k, row]) => recorded.get(k)?.text === row[2]);
  if (!same) {
    await conn.run(`DELETE FROM ${s}."_pipeline_comments" WHERE lower(table_name) IN (${[...names].map(quoteLiteral).join(', ')})`);
    const rows = [...record.values()];
    for (let i = 0; i < rows.length; i += RECORD_ROWS_PER_INSERT) {
      const chunk = rows.slice(i, i + RECORD_ROWS_PER_INSERT);
      let n = 0;
      await conn.run(`INSERT INTO ${s}."_pipeline_comments" VALUES ${chunk.map((row) => `(${row.map(() => `$${++n}`).join(', ')})`).join(', ')}`, chunk.flat());
    }
  }
  return statements.length;
}
