// SELECTs over a writer's staging files: each gives the rows of one table exactly as they are inserted, under the
// target's column names. The commit inserts them; a merge also fingerprints them to skip unchanged records.
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import { listLineColumns, recordColumnExpression, recordStructType } from '../normalize/fast-path.js';
import type { StagedKind, TableState } from '../normalize/normalizer.js';
import type { ColumnDef } from '../normalize/schema.js';
import { DUCKDB_TYPES } from '../normalize/types.js';
import type { TableStagingFile } from './staging.js';

// read_json refuses lines longer than this unless told otherwise; we pass the longest staged line.
const DEFAULT_MAX_OBJECT_SIZE = 1024 * 1024;

// Staging-only keys (see RowSink in the normalizer).
export const ROOT_STAGING_KEYS: Array<[string, string]> = [['#id', 'VARCHAR'], ['#s', 'BIGINT']];
const CHILD_STAGING_KEYS: Array<[string, string]> = [['#r', 'VARCHAR'], ['#s', 'BIGINT'], ['#i', 'BIGINT']];
const GRANDCHILD_STAGING_KEYS: Array<[string, string]> = [['#p', 'VARCHAR'], ['#r', 'VARCHAR'], ['#s', 'BIGINT'], ['#i', 'BIGINT']];

/** Rows to leave out: temp tables of sequence numbers (`_seq`, superseded duplicates) and root ids (`_row_id`). */
export interface Exclusions {
  /** Earlier occurrences of a key within the load: their rows, children included, drop out. */
  superseded?: string | undefined;
  /** Records already stored exactly as staged: nothing of them is written again. */
  unchanged?: string | undefined;
}

/** A SELECT giving a table's staged rows under the target's column names (`columns`, quoted, in order). */
export interface StagedSelect {
  columns: string[];
  sql: string;
  /** The root's: the same rows with their sequence in the load as one more column, `"#s"` (not a target column). */
  sqlWithSeq?: string;
}

/** Column whose value names the record a row belongs to: `_row_id` on the root, `_root_id` below it. */
export function rootKeyColumn(t: TableState): string {
  return t.isRoot ? '_row_id' : '_root_id';
}

/**
 * `_row_id` of a child row in SQL, from SQL expressions of its parent's id and its list index: the same formula as
 * childRowId() in the normalizer (which computes it only when a grandchild needs it). Keep them identical.
 */
export function childRowIdSql(t: TableState, parentId: string, listIdx: string): string {
  return `md5(${parentId} || '|' || ${quoteLiteral(t.lineage)} || '|' || CAST(${listIdx} AS VARCHAR))`;
}

/**
 * The JSON value a row's `_overflow` column (`overflow`, an SQL reference to it) holds under a top-level field, NULL
 * when none (see schema.ts overflowColumn). A JSON pointer: any key, dots and quotes included, is one step.
 */
export function overflowFieldSql(overflow: string, field: string): string {
  return `json_extract(${overflow}, ${quoteLiteral(`/${field.replaceAll('~', '~0').replaceAll('/', '~1')}`)})`;
}

/** read_json over a staging file, with the keys to read and their types. */
export function readJson(file: TableStagingFile, columns: ReadonlyArray<readonly [string, string]>): string {
  const spec = columns.map(([name, type]) => `${quoteLiteral(name)}: ${quoteLiteral(type)}`).join(', ');
  const maxSize = Math.max(DEFAULT_MAX_OBJECT_SIZE, file.maxLineBytes + 1024);
  return `read_json(${quoteLiteral(file.path)}, format='newline_delimited', columns={${spec}}, maximum_object_size=${maxSize})`;
}

/** `read_json(…) AS s` plus the anti joins of the exclusions; `rootKey` is the staging key naming the record. */
function source(readJsonSql: string, rootKey: string, ex: Exclusions): string {
  let sql = `${readJsonSql} AS s`;
  if (ex.superseded) sql += ` ANTI JOIN ${ex.superseded} x ON s."#s" = x._seq`;
  if (ex.unchanged) sql += ` ANTI JOIN ${ex.unchanged} u ON s.${quoteIdent(rootKey)} = u._row_id`;
  return sql;
}

/** Keys and DuckDB types of a table's row lines: the staging keys, then each column under its position. */
function rowLineColumns(t: TableState): Array<[string, string]> {
  return [
    ...(t.isRoot ? ROOT_STAGING_KEYS : t.depth === 1 ? CHILD_STAGING_KEYS : GRANDCHILD_STAGING_KEYS),
    ...t.def.columns.map((c, i): [string, string] => [String(i), DUCKDB_TYPES[c.type]]),
  ];
}

function select(pairs: Array<[column: string, expression: string]>, from: string, withSeq = false): StagedSelect {
  const list = pairs.map(([column, expression]) => `${expression} AS ${quoteIdent(column)}`).join(', ');
  return {
    columns: pairs.map(([column]) => quoteIdent(column)),
    sql: `SELECT ${list} FROM ${from}`,
    ...(withSeq ? { sqlWithSeq: `SELECT ${list}, s."#s" AS "#s" FROM ${from}` } : {}),
  };
}

/**
 * The staged rows of one file. Row lines carry every column under its position; child lines carry their root's
 * `_row_id` (`#r`) and, one level down, their parent's (`#p`), so no join is needed.
 */
export function stagedSelect(t: TableState, kind: StagedKind, file: TableStagingFile, loadId: string, ex: Exclusions): StagedSelect {
  if (kind === 'list') return listSelect(t, file, loadId, ex);
  if (kind === 'record') return recordSelect(t, file, loadId, ex);
  const data = t.def.columns.map((c: ColumnDef, i): [string, string] => [c.name, `s.${quoteIdent(String(i))}`]);
  const load = quoteLiteral(loadId);
  if (t.isRoot) {
    return select([...data, ['_row_id', 's."#id"'], ['_load_id', load]], source(readJson(file, rowLineColumns(t)), '#id', ex), true);
  }
  const parentId = t.depth === 1 ? 's."#r"' : 's."#p"';
  const rowId = childRowIdSql(t, parentId, 's."#i"');
  return select(
    [...data, ['_row_id', rowId], ['_parent_id', parentId], ['_root_id', 's."#r"'], ['_list_idx', 's."#i"'], ['_load_id', load]],
    source(readJson(file, rowLineColumns(t)), '#r', ex),
  );
}

/**
 * A list file (normalizer's fast path): each line holds one record's whole list of flat objects, unnested here.
 * The rows are the ones the row path would give: `_list_idx` counts null items too (which make no row), and
 * `_row_id` / `_parent_id` / `_root_id` follow the same formulas.
 */
function listSelect(t: TableState, file: TableStagingFile, loadId: string, ex: Exclusions): StagedSelect {
  const fields = listLineColumns(t);
  // Items of a list with no usable column yet are all `{}` or null: a placeholder field keeps the type valid.
  const struct = fields.map(({ key, column }) => `${quoteIdent(key)} ${DUCKDB_TYPES[column.type]}`).join(', ') || '"__none" VARCHAR';
  // `#o`: the list's index of the line's first item, when a long list is staged in several lines (LIST_LINE_ITEMS).
  const lines = readJson(file, [['#r', 'VARCHAR'], ['#s', 'BIGINT'], ['#o', 'BIGINT'], ['l', `STRUCT(${struct})[]`]]);
  const listIdx = 'coalesce(u."#o", 0) + u.i - 1';
  const rowId = childRowIdSql(t, 'u."#r"', listIdx);
  return select(
    [
      ...fields.map(({ key, column }): [string, string] => [column.name, `u.item.${quoteIdent(key)}`]),
      ['_row_id', rowId], ['_parent_id', 'u."#r"'], ['_root_id', 'u."#r"'], ['_list_idx', listIdx], ['_load_id', quoteLiteral(loadId)],
    ],
    `(SELECT s."#r", s."#o", unnest(s.l) AS item, generate_subscripts(s.l, 1) AS i FROM ${source(lines, '#r', ex)}) u WHERE u.item IS NOT NULL`,
  );
}

/**
 * The root's record file (normalizer's fast path): each line holds the record's own object (child lists removed),
 * read as nested STRUCTs; flattened columns are struct paths (`r.requester_details.name`).
 */
function recordSelect(t: TableState, file: TableStagingFile, loadId: string, ex: Exclusions): StagedSelect {
  const struct = recordStructType(t.row) ?? 'STRUCT("__none" VARCHAR)';
  const columns = t.def.columns.flatMap((c): Array<[string, string]> => {
    const expression = recordColumnExpression(c, 's');
    return expression ? [[c.name, expression]] : [];
  });
  return select(
    [...columns, ['_row_id', 's."#id"'], ['_load_id', quoteLiteral(loadId)]],
    source(readJson(file, [...ROOT_STAGING_KEYS, ['r', struct]]), '#id', ex),
    true,
  );
}
