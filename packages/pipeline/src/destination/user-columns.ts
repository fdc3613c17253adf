// Columns a user added to a loader table by hand (`ALTER TABLE … ADD COLUMN reviewed BOOLEAN`), and their values
// across a merge. A merge rewrites a changed record (a late survey score read again in the lookback days) by deleting
// its rows and inserting the new ones, which would give such a column its default: the user's values would be lost
// although the loader never owned that column. So, in the merge's transaction, the values of the rows about to go are
// copied aside by `_row_id` (made from the primary key on the root; from the parent's id, the table and the list index
// below it, so a child row keeps the values of the row at the same place in the same list) and written back onto the
// rows that replace them. Records a merge finds unchanged keep their rows, and so their values, without this.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { CHILD_SYSTEM_COLUMNS, ROOT_SYSTEM_COLUMNS } from '../normalize/schema.js';
import { rootKeyColumn } from './staged-sql.js';

/**
 * The columns of a stored table that are not the loader's (its definition's columns and the system columns), as the
 * file names them. Names compare case-insensitively, as DuckDB's do: a loader column renamed only in case is still
 * the loader's. Computed from what readTableDefs read, so a dataset without such columns costs no query.
 */
function userColumns(t: TableState): string[] {
  const inFile = t.def.namesInFile;
  if (t.isNew || !inFile) return [];
  const system = t.isRoot ? ROOT_SYSTEM_COLUMNS : CHILD_SYSTEM_COLUMNS;
  const own = new Set([...t.def.columns.map((c) => c.name), ...system.map((c) => c.name)].map((n) => n.toLowerCase()));
  return inFile.filter((name) => !own.has(name.toLowerCase()));
}

/** One table's user columns and the temp table holding the values of its replaced rows. */
interface KeptTable {
  target: string;
  columns: string[];
  temp: string;
}

/** The user columns' values of the rows a merge replaces, until they are written onto the new rows (restore). */
export class KeptUserValues {
  private constructor(private readonly conn: DuckDBConnection, private readonly kept: readonly KeptTable[]) {}

  /**
   * Copies aside the user columns' values of the rows of the records in `replaced` (a temp table of root `_row_id`s),
   * before the merge deletes them; undefined when no table has a user column (then it runs nothing).
   */
  static async keep(
    conn: DuckDBConnection, tables: readonly TableState[], target: (t: TableState) => string, replaced: string,
  ): Promise<KeptUserValues | undefined> {
    const withColumns = tables.map((t) => ({ t, columns: userColumns(t) })).filter(({ columns }) => columns.length > 0);
    if (withColumns.length === 0) return undefined;
    const kept: KeptTable[] = [];
    for (const [index, { t, columns }] of withColumns.entries()) {
      const temp = `temp.main."_user_values_${index}"`;
      await conn.run(`CREATE OR REPLACE TEMP TABLE "_user_values_${index}" AS
        SELECT _row_id, ${columns.map(quoteIdent).join(', ')} FROM ${target(t)}
        WHERE ${quoteIdent(rootKeyColumn(t))} IN (SELECT _row_id FROM ${replaced})`);
      kept.push({ target: target(t), columns, temp });
    }
    return new KeptUserValues(conn, kept);
  }

  /**
   * Writes the kept values onto the inserted rows with the same `_row_id`. Only rows whose values differ from what
   * the insert gave them (the column's default) are updated: DuckDB holds each updated value in memory until COMMIT,
   * and annotations are usually sparse. A replaced row with no new row (a list that got shorter) leaves its values.
   */
  async restore(): Promise<void> {
    for (const { target, columns, temp } of this.kept) {
      const set = columns.map((c) => `${quoteIdent(c)} = k.${quoteIdent(c)}`).join(', ');
      const differs = columns.map((c) => `u.${quoteIdent(c)} IS DISTINCT FROM k.${quoteIdent(c)}`).join(' OR ');
      await this.conn.run(`UPDATE ${target} AS u SET ${set} FROM ${temp} AS k WHERE u._row_id = k._row_id AND (${differs})`);
    }
    await this.drop();
  }

  /** Drops the temp tables (a ROLLBACK drops them too). */
  async drop(): Promise<void> {
    for (const { temp } of this.kept) await this.conn.run(`DROP TABLE IF EXISTS ${temp}`);
  }
}
