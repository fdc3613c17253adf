// A primary key the stored rows do not have. When src/pipeline.ts changes `primaryKey` to a field no stored root row
// has a value for (a map step adds it, or renames the old key to it), nothing can match the stored rows: a merge's
// takeover (adopt.ts) finds no key to read back, an append's stored-key check (stored-keys.ts) none to compare, and
// every record the run reads again (its lookback days) would be stored a second time beside its old row. Such a
// change cannot be honoured, so it is refused before anything is written, naming the option and the fix.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { fieldColumns, overflowColumn } from '../normalize/schema.js';
import { heldBelow } from './adopt.js';
import { DestinationError } from './errors.js';
import { ROOT_STAGING_KEYS, overflowFieldSql, readJson } from './staged-sql.js';
import type { TableStagingFile } from './staging.js';
import { countRows } from './unchanged.js';

export interface NewKeyCheck {
  conn: DuckDBConnection;
  dataset: string;
  dbPath: string;
  resource: string;
  primaryKey: readonly string[];
  /** Every table of the resource, the root first. */
  tables: readonly TableState[];
  /** Staged records with a value for every key field: records without one are matched by content (merge) or appended. */
  keyedRecords: number;
  /** A merge's staged root ids (`#id`): the new key may give the ids the stored rows have (a renamed field). */
  mergeKeys?: TableStagingFile | undefined;
}

/** Throws a DestinationError when a key field has no value in any stored root row while staged records have one. */
export async function refuseKeyTheStoredRowsLack(c: NewKeyCheck): Promise<void> {
  const root = c.tables[0]!;
  if (root.isNew || c.keyedRecords === 0) return;
  // Only a field that had no column before this load (the usual run queries nothing): its stored rows are NULL there.
  // One that held objects has its values in the columns or child tables below it (adopt.ts says what becomes of them).
  const field = c.primaryKey.find((f) => fieldColumns(root.def, f).every((col) => root.newColumns.includes(col)) && !heldBelow(f, c.tables));
  if (field === undefined) return;
  const target = `${quoteIdent(c.dataset)}.${quoteIdent(root.def.name)}`;
  const stored = await countRows(c.conn, target);
  if (stored === 0) return;
  // A field that found no room for a column keeps its values in `_overflow` (normalize/table-tree.ts).
  const overflow = overflowColumn(root.def);
  if (overflow && !root.newColumns.includes(overflow)
    && await countRows(c.conn, `${target} WHERE ${overflowFieldSql(quoteIdent(overflow.name), field)} IS NOT NULL`) > 0) return;
  // A merge whose new key gives the ids the stored rows were merged under (the old key's values under a new name)
  // matches them by `_row_id` all the same.
  if (c.mergeKeys && c.mergeKeys.rows > 0) {
    const staged = `${readJson(c.mergeKeys, ROOT_STAGING_KEYS)} s SEMI JOIN ${target} t ON t._row_id = s."#id"`;
    if (await countRows(c.conn, staged) > 0) return;
  }
  throw new DestinationError(
    `committing ${c.resource}: resources.${c.resource}.primaryKey: ${JSON.stringify(field)} has no value in any of the ${stored} rows ${root.def.name} holds ` +
      `(they were loaded before it was the key), so none of them can be matched by it: the records this run reads again would be stored a second time`,
    'schema',
    `keep the primary key those rows were loaded with, or reload ${c.resource} from the start date with this key, replacing its tables at the commit: snapengage-pipeline run --refresh --resources ${c.resource} (runPipeline's refresh: true); nothing of this run was loaded`,
    c.dbPath,
  );
}
