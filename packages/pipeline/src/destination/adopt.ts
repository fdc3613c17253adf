// Rows a merge did not write. A resource loaded with append or replace (or merged on another primary key) has root
// `_row_id`s unique per load, while a merge finds stored records by an id derived from the key: merging after such
// loads would keep every old row beside the merged one, a duplicate of each record. So the first merge after them
// adopts those rows, inside its own transaction: per key the newest row stays, now with the id its key gives (and
// its child rows with the ids a merge gives them under it), and the older copies go with their child rows. Each load
// records how its root ids were made (`_pipeline_loads.row_ids`: the key fields as JSON, or 'load'); loads of older
// versions say NULL, and their rows are left as they are, since nothing says how they were identified.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import { rootRowId, type TableState } from '../normalize/normalizer.js';
import { ELEMENT_NODE_KEY, fieldColumns, nodeKeyPath, overflowColumn, type ColumnDef } from '../normalize/schema.js';
import { childRowIdSql, overflowFieldSql } from './staged-sql.js';
import { countRows } from './unchanged.js';

/** `_pipeline_loads.row_ids` of a load: the key fields its root ids derive from, or 'load' (unique per load). */
export function rowIdsOf(keyFields: readonly string[] | null): string {
  return keyFields ? JSON.stringify(keyFields) : 'load';
}

/** Limits of a takeover, smaller in tests. */
export interface AdoptionLimits {
  /** Stored rows whose key is read per query (default ADOPT_PAGE_ROWS). */
  pageRows?: number;
  /** Id values rewritten with UPDATE (default UPDATE_CELLS); 0 moves every table by copy. */
  updateCells?: number;
}

export interface AdoptionContext extends AdoptionLimits {
  conn: DuckDBConnection;
  dataset: string;
  resource: string;
  primaryKey: readonly string[];
  /** Every table of the resource, the root first. */
  tables: readonly TableState[];
}

/** Root rows read per query: a page of keys in JS is ~10 MB. */
const ADOPT_PAGE_ROWS = 50_000;

/**
 * Id values (rows × id columns) a takeover rewrites with UPDATE, over all tables; the rest are moved by copy. DuckDB
 * holds ~120 bytes per updated value until COMMIT (measured: 1.4M transcript rows, 3 ids each, took 320 MB), so ~12 MB.
 */
const UPDATE_CELLS = 100_000;

const TEMP_TABLES = ['_other_loads', '_adopt', '_adopt_drop', '_adopt_keep', '_adopt_moved'];

/** What a takeover did: the records it kept, or why it could not take the rows over. */
export interface AdoptionResult {
  kept: number;
  /**
   * Stored root rows it removed (with their child rows) because a newer row had the same key: copies of one record
   * after append loads, but distinct records when the new key is not unique (a primary key changed to a coarser
   * field). Reported, so that such a loss is not silent.
   */
  removed?: number;
  /** Set when the rows were left as they were: the key field whose values cannot be read back from their columns. */
  objectKeyField?: string;
}

/** Adopts the rows of the resource's loads whose root ids were not made from this key. */
export async function adoptRowsOfOtherLoads(ctx: AdoptionContext): Promise<AdoptionResult> {
  const { conn, resource, tables } = ctx;
  const schema = quoteIdent(ctx.dataset);
  const loads = `${schema}."_pipeline_loads"`;
  const keyed = rowIdsOf(ctx.primaryKey);
  const others = (await conn.runAndReadAll(
    `SELECT load_id FROM ${loads} WHERE resource = $1 AND status = 'loaded' AND row_ids IS NOT NULL AND row_ids <> $2`,
    [resource, keyed],
  )).getRowObjectsJS().map((r) => String(r.load_id));
  if (others.length === 0) return { kept: 0 };
  const markAdopted = () => conn.run(
    `UPDATE ${loads} SET row_ids = $1 WHERE resource = $2 AND load_id IN (SELECT load_id FROM temp.main."_other_loads")`,
    [keyed, resource],
  );
  /** Temp tables of old and new child row ids, one per table with child tables (see below). */
  const mapTables: string[] = [];
  await conn.run(`CREATE OR REPLACE TEMP TABLE "_other_loads" AS SELECT * FROM (VALUES ${others.map((id) => `(${quoteLiteral(id)})`).join(', ')}) v(load_id)`);
  try {
    const root = tables[0]!;
    // Each key field's columns: its own and its variant columns (where a value its column did not accept went).
    const keyColumns = ctx.primaryKey.map((field) => fieldColumns(root.def, field));
    // A key field whose values were objects (flattened into columns, or lists of objects in a child table): the id a
    // merge gives such a record hashes the object as it arrived, which its columns cannot give back (key order, null
    // against absent). Its loads stay unmarked, so every later merge says so again, rather than being marked taken
    // over with nothing moved.
    const objectKeyField = root.isNew ? undefined : ctx.primaryKey.find((field, i) => keyColumns[i]!.length === 0 && heldBelow(field, tables));
    if (objectKeyField !== undefined) return { kept: 0, objectKeyField };
    // A key field that found no room for a column (or a variant column) keeps its values in the root's `_overflow`
    // (normalize/table-tree.ts), read as `"#k<i>"` (no column name has a `#`): without it, such rows stayed beside the
    // merged ones, their loads marked taken over.
    const overflow = overflowColumn(root.def);
    const inOverflow = overflow ? ctx.primaryKey.map((field) => overflowFieldSql(quoteIdent(overflow.name), field)) : [];
    // A new root table holds no rows; a key field without a column (nor an `_overflow`) never had a value: nothing to adopt.
    if (root.isNew || (!overflow && keyColumns.some((columns) => columns.length === 0))) {
      await markAdopted();
      return { kept: 0 };
    }
    const target = (t: TableState) => `${schema}.${quoteIdent(t.def.name)}`;
    const hasKey = keyColumns.map((columns, i) => `(${[...columns.map((c) => quoteIdent(c.name)), ...inOverflow.slice(i, i + 1)].map((v) => `${v} IS NOT NULL`).join(' OR ')})`);
    const columns = [
      '_row_id, _load_id', ...keyColumns.flat().map((c) => quoteIdent(c.name)), ...inOverflow.map((sql, i) => `${sql} AS "#k${i}"`),
    ].join(', ');
    const candidates = `${target(root)} WHERE _load_id IN (SELECT load_id FROM temp.main."_other_loads") AND ${hasKey.join(' AND ')}`;
    const total = await countRows(conn, candidates);
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_adopt" (old_id VARCHAR, new_id VARCHAR, load_id VARCHAR)`);
    // The ids are made in JS (as the normalizer makes them), a page of rows at a time in `_row_id` order: read at once,
    // 200k appended cases held ~200 MB of rows outside DuckDB's memory limit, growing with the data. (A streamed
    // result would end early: the appender's flush closes it.)
    const pageRows = ctx.pageRows ?? ADOPT_PAGE_ROWS;
    const appender = await conn.createAppender('_adopt', 'main', 'temp');
    let after: [string, string] | undefined;
    for (let read = 0; read < total;) {
      const page = (await conn.runAndReadAll(
        `SELECT ${columns} FROM ${candidates} ${after ? 'AND (_row_id > $1 OR (_row_id = $1 AND _load_id > $2))' : ''}
         ORDER BY _row_id, _load_id LIMIT ${pageRows}`,
        after,
      )).getRowObjectsJS();
      // Nothing else writes between pages (this transaction holds the connection); an empty page only bounds the loop.
      if (page.length === 0) break;
      for (const row of page) {
        appender.appendVarchar(String(row._row_id));
        // The id a merge gives the record, from the key values as the normalizer saw them (see keyValue).
        appender.appendVarchar(rootRowId(resource, keyColumns.map((columns, i) => keyValue(columns, row, row[`#k${i}`]))));
        appender.appendVarchar(String(row._load_id));
        appender.endRow();
      }
      appender.flushSync();
      read += page.length;
      const last = page[page.length - 1]!;
      after = [String(last._row_id), String(last._load_id)];
    }
    appender.closeSync();
    if (total === 0) {
      await markAdopted();
      return { kept: 0 };
    }
    // Per key, the row of the newest load wins: adopted rows and rows a merge already wrote under that key compete
    // alike. Copies from one load (an append that read a record twice) cannot be ordered: rows are inserted in
    // parallel, and the read order is not stored. One of them stays, the same one on every try. A stored row that is
    // adopted itself competes under its new id only: after a merge on another key its id may already be that one
    // (the key field renamed, its values the same), or another record's new one.
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_adopt_drop" AS
      SELECT old_id FROM (
        SELECT old_id, new_id, load_id FROM temp.main."_adopt"
        UNION ALL SELECT _row_id, _row_id, _load_id FROM ${target(root)}
          WHERE _row_id IN (SELECT new_id FROM temp.main."_adopt") AND _row_id NOT IN (SELECT old_id FROM temp.main."_adopt"))
      QUALIFY row_number() OVER (PARTITION BY new_id ORDER BY load_id DESC, old_id DESC) > 1`);
    // A DELETE costs ~0.2 MB of memory until COMMIT even when it finds nothing: only tables with rows to drop are
    // touched (a resource can have dozens of child tables, and usually nothing is dropped).
    for (const t of tables) {
      if (t.isNew) continue;
      const rows = `${target(t)} WHERE ${t.isRoot ? '_row_id' : '_root_id'} IN (SELECT old_id FROM temp.main."_adopt_drop")`;
      if ((await countRows(conn, rows)) > 0) await conn.run(`DELETE FROM ${rows}`);
    }
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_adopt_keep" AS
      SELECT old_id, new_id FROM temp.main."_adopt" WHERE old_id NOT IN (SELECT old_id FROM temp.main."_adopt_drop")`);
    const kept = await countRows(conn, 'temp.main."_adopt_keep"');
    const removed = await countRows(conn, 'temp.main."_adopt_drop"');
    // Rows whose id is already the new one stay as they are.
    await conn.run(`DELETE FROM temp.main."_adopt_keep" WHERE old_id = new_id`);
    // Child rows get the ids a merge gives them (from the new parent id, the table's lineage and the list index), not
    // only the new root id: left with ids made from the old root id, they collided with the child rows a later merge
    // writes for the record whose new id is that old one (a merge on another key whose values overlap), and
    // grandchildren joined by `_parent_id` hung under both records. Each table with child tables first records its
    // rows' old and new ids (before any of them moves) for its children to follow.
    const maps = new Map<string, string>();
    let updateBudget = ctx.updateCells ?? UPDATE_CELLS;
    for (const [index, t] of tables.entries()) {
      if (t.isNew) continue;
      const parentMap = t.isRoot || t.def.parent === root.def.name ? undefined : maps.get(t.def.parent!);
      if (!t.isRoot && tables.some((c) => !c.isNew && c.def.parent === t.def.name)) {
        const name = `_adopt_map_${index}`;
        mapTables.push(name);
        const ids = childIds(target(t), t, parentMap);
        await conn.run(`CREATE OR REPLACE TEMP TABLE "${name}" AS
          SELECT t._root_id AS old_root, t._row_id AS old_id, ${ids._row_id} AS new_id FROM ${ids.from}`);
        maps.set(t.def.name, `temp.main."${name}"`);
      }
      const rows = await countRows(conn, `${target(t)} WHERE ${t.isRoot ? '_row_id' : '_root_id'} IN (SELECT old_id FROM temp.main."_adopt_keep")`);
      if (rows === 0) continue;
      // Few rows are updated in place; many are moved by copy (see moveRows), which costs ~1 MB per table whatever the
      // rows: with moves only, 30 records in 88 tables (hostile nesting) ran out of memory at 192MB.
      const cells = rows * (t.isRoot ? 1 : 3);
      if (cells <= updateBudget) {
        updateBudget -= cells;
        await updateRows(conn, target(t), t, parentMap);
      } else await moveRows(conn, target(t), t, parentMap);
    }
    await markAdopted();
    return { kept, removed };
  } finally {
    // After a failed statement the transaction is aborted and every statement fails: the ROLLBACK that follows drops
    // these tables anyway, and the error to report is the first one, not this.
    for (const name of [...TEMP_TABLES, ...mapTables]) await conn.run(`DROP TABLE IF EXISTS temp.main."${name}"`).catch(() => undefined);
  }
}

/**
 * The new ids of the rows of child table `target` of the records in `temp.main."_adopt_keep"`, as SQL over `from` (the table
 * as `t`): the root's new id, the parent's (the root's, or from `parentMap`, the parent table's old and new row ids)
 * and the row's own, as a merge computes it (childRowIdSql). A row whose parent is not in the map (none should be)
 * keeps its parent.
 */
function childIds(target: string, t: TableState, parentMap: string | undefined): { from: string; _row_id: string; _parent_id: string; _root_id: string } {
  let from = `${target} AS t JOIN temp.main."_adopt_keep" AS k ON t._root_id = k.old_id`;
  let parent = 'k.new_id';
  if (parentMap !== undefined) {
    from += ` LEFT JOIN ${parentMap} AS p ON p.old_root = t._root_id AND p.old_id = t._parent_id`;
    parent = 'coalesce(p.new_id, t._parent_id)';
  }
  return {
    from,
    _row_id: childRowIdSql(t, parent, 't._list_idx'),
    _parent_id: parent,
    _root_id: 'k.new_id',
  };
}

/** Gives the rows of the records in `temp.main."_adopt_keep"` their new ids (see childIds) with an UPDATE (see UPDATE_CELLS). */
async function updateRows(conn: DuckDBConnection, target: string, t: TableState, parentMap: string | undefined): Promise<void> {
  if (t.isRoot) {
    await conn.run(`UPDATE ${target} AS u SET _row_id = k.new_id FROM temp.main."_adopt_keep" AS k WHERE u._row_id = k.old_id`);
    return;
  }
  const ids = childIds(target, t, parentMap);
  await conn.run(`UPDATE ${target} AS u SET _row_id = m.new_row, _parent_id = m.new_parent, _root_id = m.new_root
    FROM (SELECT t._root_id AS old_root, t._row_id AS old_row, ${ids._row_id} AS new_row, ${ids._parent_id} AS new_parent,
      ${ids._root_id} AS new_root FROM ${ids.from}) AS m
    WHERE u._root_id = m.old_root AND u._row_id = m.old_row`);
}

/**
 * Gives the rows of the records in `temp.main."_adopt_keep"` their new ids (see childIds) by copy, for tables with many of
 * them: DuckDB holds a transaction's updated values in memory, and re-pointing the ~1.4M transcript rows of 200k cases
 * with an UPDATE ran out of memory at the default 192MB, on every rerun; inserted rows spill to disk. The rows are
 * copied aside before the originals go, since a new id may be another record's old one.
 */
async function moveRows(conn: DuckDBConnection, target: string, t: TableState, parentMap: string | undefined): Promise<void> {
  const rootKey = t.isRoot ? '_row_id' : '_root_id';
  let select: string;
  if (t.isRoot) select = `SELECT t.* REPLACE (k.new_id AS _row_id) FROM ${target} AS t JOIN temp.main."_adopt_keep" AS k ON t._row_id = k.old_id`;
  else {
    const ids = childIds(target, t, parentMap);
    select = `SELECT t.* REPLACE (${ids._row_id} AS _row_id, ${ids._parent_id} AS _parent_id, ${ids._root_id} AS _root_id) FROM ${ids.from}`;
  }
  await conn.run(`CREATE OR REPLACE TEMP TABLE "_adopt_moved" AS ${select}`);
  await conn.run(`DELETE FROM ${target} WHERE ${rootKey} IN (SELECT old_id FROM temp.main."_adopt_keep")`);
  await conn.run(`INSERT INTO ${target} SELECT * FROM temp.main."_adopt_moved"`);
  await conn.run(`DROP TABLE temp.main."_adopt_moved"`);
}

/**
 * A key field's value as the normalizer hashed it, from whichever of its columns holds it, else from what `_overflow`
 * holds of it (JSON text, or nothing): a BIGINT reads back as a BigInt, which rootRowId hashes as the normalizer hashed
 * the value staged (asStored: a number or a BigInt alike), a JSON value is parsed back.
 */
function keyValue(columns: readonly ColumnDef[], row: Record<string, unknown>, overflowed: unknown): unknown {
  for (const c of columns) {
    const value = row[c.name];
    if (value === null || value === undefined) continue;
    if (c.type === 'json') return typeof value === 'string' ? JSON.parse(value) : value;
    return value;
  }
  return typeof overflowed === 'string' ? JSON.parse(overflowed) : null;
}

/**
 * True when stored columns or child tables of the root hold values below `field` (it held objects or lists of
 * objects). Those this load adds hold none of the stored rows' values: with only those, nothing is left to take over.
 */
export function heldBelow(field: string, tables: readonly TableState[]): boolean {
  const root = tables[0]!;
  const below = (nodeKey: string | null) => nodeKey !== null && nodeKey !== ELEMENT_NODE_KEY && nodeKeyPath(nodeKey)[0] === field;
  return root.def.columns.some((c) => below(c.nodeKey) && !root.newColumns.includes(c))
    || tables.some((t) => !t.isNew && t.def.parent === root.def.name && below(t.def.nodeKey));
}

