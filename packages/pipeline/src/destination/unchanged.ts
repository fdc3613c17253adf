// Unchanged records in a merge. Each run re-reads its lookback window, so most merged records are already stored
// exactly as they arrive again. Rewriting them would churn `_load_id`, the WAL and, after a big load, a checkpoint
// that rewrites whole row groups (measured: 2 s of a 3.2 s rerun at 500k cases). So a merge compares first: a record
// is unchanged when its root row and all its descendant rows, in every table of the resource, hash to what is stored.
// Unchanged records are neither deleted nor inserted; they keep the `_load_id` of the load that last changed them.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent, quoteLiteral } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { DUCKDB_TYPES } from '../normalize/types.js';
import { rootKeyColumn, type StagedSelect } from './staged-sql.js';

/** One table of the resource: where it is stored and the SELECTs of its staged rows (superseded ones left out). */
export interface TableToCompare {
  table: TableState;
  target: string;
  staged: StagedSelect[];
}

export const UNCHANGED_TABLE = 'temp.main."_unchanged"';

/**
 * The DuckDB threads each table's statements run with (staged-rows.ts: a wide table takes one, its JSON reader and
 * column scans holding memory per thread): `single` says which tables those are, `run` runs statements so.
 */
export interface TableThreads {
  single(table: TableState): boolean;
  run<T>(table: TableState, statements: () => Promise<T>): Promise<T>;
}

const ALL_THREADS: TableThreads = { single: () => false, run: (_, statements) => statements() };

/** Stored tables fingerprinted in one UNION ALL statement (logs has 5; memory grows with the branches, not the rows). */
const STORED_TABLES_PER_STATEMENT = 8;

/**
 * Fingerprint of each record's rows in one table: the sum and count of per-row hashes. Fixed-size aggregate states
 * keep a merge of a whole re-synced load within DuckDB's memory limit (a list of hashes per record ran out of memory
 * at 200k records). The order of rows needs no list: `_row_id` is hashed with the values, and below the root it
 * encodes the parent and the list position. `_load_id` is not hashed: it is what a rewrite changes. Values are cast to
 * the column's type so staged and stored values hash alike. The table's index is hashed too, so the sums of different
 * tables can be added up per record: a changed record that sums as unchanged is about 1 in 2^64.
 */
function fingerprintSql(index: number, t: TableState, from: { stored: string; since: string | null } | { staged: string }): string {
  const key = quoteIdent(rootKeyColumn(t));
  const values = [String(index), `q."_row_id"`];
  for (const c of t.def.columns) {
    const column = `q.${quoteIdent(c.name)}`;
    values.push(`CAST(${column} AS ${DUCKDB_TYPES[c.type]})`);
    // DuckDB hashes an empty list and a NULL list alike: say which one it is.
    if (c.type.endsWith('[]')) values.push(`${column} IS NULL`);
  }
  // Stored tables are large: find the matching rows by their key column alone, then read only those rows' other
  // columns (measured: 2-4× faster than a join that reads every column of every row). A source field named `rowid`
  // hides DuckDB's row number, so such a table takes the join.
  const rowNumber = !t.def.columns.some((c) => c.name.toLowerCase() === 'rowid');
  // A record's rows all carry the load that last wrote it (a merge rewrites a changed record whole, and leaves an
  // unchanged one alone), so rows of loads before the oldest matched root are not looked at: row groups are appended
  // load after load, and DuckDB skips those whose `_load_id` range lies below a constant. A row that broke the rule
  // would only make its record look changed and be rewritten.
  const since = 'stored' in from && from.since !== null ? ` WHERE x."_load_id" >= ${quoteLiteral(from.since)}` : '';
  const rows = 'stored' in from && rowNumber
    ? `${from.stored} q WHERE q.rowid IN (SELECT x.rowid FROM ${from.stored} x SEMI JOIN temp.main."_matched" m ON x.${key} = m._row_id${since})`
    : 'stored' in from
      ? `(SELECT * FROM ${from.stored} x${since}) q SEMI JOIN temp.main."_matched" m ON q.${key} = m._row_id`
      : `${from.staged} q SEMI JOIN temp.main."_matched" m ON q.${key} = m._row_id`;
  return `SELECT q.${key} AS k, sum(hash(${values.join(', ')})::HUGEINT) AS h, count(*) AS n FROM ${rows} GROUP BY q.${key}`;
}

/**
 * Fills `temp.main."_unchanged"` (`_row_id`) with the staged records (from `temp.main."_stage_roots"`) that are stored exactly
 * as staged, and returns how many there are. Only records whose key is already in the root table are compared.
 */
export async function findUnchanged(
  conn: DuckDBConnection, rootTarget: string, tables: readonly TableToCompare[], threads: TableThreads = ALL_THREADS,
): Promise<number> {
  await conn.run(`CREATE OR REPLACE TEMP TABLE "_matched" AS
    SELECT DISTINCT s._row_id FROM temp.main."_stage_roots" s SEMI JOIN ${rootTarget} r ON r."_row_id" = s._row_id`);
  await conn.run(`CREATE OR REPLACE TEMP TABLE "_unchanged" (_row_id VARCHAR)`);
  const matched = await countRows(conn, 'temp.main."_matched"');
  if (matched > 0) {
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_fp_stored" (k VARCHAR, h HUGEINT, n BIGINT)`);
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_fp_staged" (k VARCHAR, h HUGEINT, n BIGINT)`);
    // The stored tables a few per statement: DuckDB scans them side by side (no JSON reader), but each branch holds its
    // own join and aggregate state at once, so a resource with many child tables in one statement ran out of memory
    // (30 tables at 192MB, whatever the rows).
    // The oldest load that last wrote a matched record (load ids are sortable text, see newLoadId).
    const since = (await conn.runAndReadAll(`SELECT min(r."_load_id") AS since FROM ${rootTarget} r SEMI JOIN temp.main."_matched" m ON r."_row_id" = m._row_id`))
      .getRowObjectsJS()[0]?.since;
    const sinceId = typeof since === 'string' ? since : null;
    // Tables that run on one thread (wide ones, see TableThreads) are fingerprinted alone.
    const stored = tables.flatMap(({ table, target }, index) => (table.isNew ? [] : [{ table, sql: fingerprintSql(index, table, { stored: target, since: sinceId }) }]));
    const alone = stored.filter((s) => threads.single(s.table));
    const together = stored.filter((s) => !threads.single(s.table));
    for (const { table, sql } of alone) await threads.run(table, () => conn.run(`INSERT INTO temp.main."_fp_stored" ${sql}`));
    for (let i = 0; i < together.length; i += STORED_TABLES_PER_STATEMENT) {
      await conn.run(`INSERT INTO temp.main."_fp_stored" ${together.slice(i, i + STORED_TABLES_PER_STATEMENT).map((s) => s.sql).join(' UNION ALL ')}`);
    }
    for (const [index, { table, staged }] of tables.entries()) {
      // One statement per staged file: each JSON reader holds a 32 MiB buffer per thread.
      for (const select of staged) {
        // The SELECT names the target's columns; a column the file does not hold is NULL, as it is once inserted.
        const columns = [...new Set([rootKeyColumn(table), '_row_id', ...table.def.columns.map((c) => c.name)])].map(quoteIdent);
        const rows = `(SELECT ${columns.map((c) => (select.columns.includes(c) ? c : `NULL AS ${c}`)).join(', ')} FROM (${select.sql}))`;
        await threads.run(table, () => conn.run(`INSERT INTO temp.main."_fp_staged" ${fingerprintSql(index, table, { staged: rows })}`));
      }
    }
    // A record is changed when its sums differ, rows present on one side only included.
    await conn.run(`INSERT INTO temp.main."_unchanged" SELECT _row_id FROM temp.main."_matched" EXCEPT
      SELECT coalesce(n.k, o.k) FROM (SELECT k, sum(h) AS h, sum(n) AS n FROM temp.main."_fp_staged" GROUP BY k) n
      FULL OUTER JOIN (SELECT k, sum(h) AS h, sum(n) AS n FROM temp.main."_fp_stored" GROUP BY k) o ON n.k = o.k
      WHERE n.h IS DISTINCT FROM o.h OR n.n IS DISTINCT FROM o.n`);
    await conn.run('DROP TABLE temp.main."_fp_stored"; DROP TABLE temp.main."_fp_staged"');
  }
  await conn.run('DROP TABLE temp.main."_matched"');
  return countRows(conn, UNCHANGED_TABLE);
}

export async function countRows(conn: DuckDBConnection, table: string): Promise<number> {
  const reader = await conn.runAndReadAll(`SELECT count(*) AS n FROM ${table}`);
  return Number(reader.getRowObjectsJS()[0]?.n ?? 0);
}
