// An append that reads a date window again (the lookback) must not append the records it stored last time: with
// `skipStoredKeys`, the staged records whose primary key is already in the root table are left out.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { TableState } from '../normalize/normalizer.js';
import { fieldColumns, overflowColumn } from '../normalize/schema.js';
import { overflowFieldSql, type StagedSelect } from './staged-sql.js';
import { countRows } from './unchanged.js';

export const ALREADY_STORED_TABLE = 'temp.main."_already_stored"';

/**
 * Fills ALREADY_STORED_TABLE (`_row_id`) with the staged records whose primary key is already in the root table
 * (compared as stored: each key field's own column), and every occurrence but the first of a key this load read more
 * than once (two runs reading it would store it once too); returns how many of each (`repeated`: of keys not stored,
 * counted apart since many of them mean a key that is not unique). A key field that has no column, having
 * found no room for one, is compared as its `_overflow` holds it (JSON). Records with a key field missing, null, or in
 * a variant column are appended. `selects`: the root's staged rows; `target`: the root table.
 */
export async function findStoredKeys(
  conn: DuckDBConnection, root: TableState, keyFields: readonly string[], selects: readonly StagedSelect[], target: string,
): Promise<{ stored: number; repeated: number }> {
  const none = { stored: 0, repeated: 0 };
  const overflow = overflowColumn(root.def);
  const keyColumns = keyFields.map((field) => {
    const columns = fieldColumns(root.def, field);
    return columns.length === 0 ? overflow : columns.find((c) => c.variant === null);
  });
  if (keyColumns.some((c) => c === undefined)) return none;
  const names = keyColumns.map((c) => quoteIdent(c!.name));
  // The key of a row `a`, by field, under `"#k<i>"` in the staged rows (no column name has a `#`).
  const keys = (a: string) => keyColumns.map((c, i) => (c === overflow ? overflowFieldSql(`${a}.${names[i]}`, keyFields[i]!) : `${a}.${names[i]}`));
  const aliases = keyFields.map((_, i) => `"#k${i}"`);
  // Only the staged files that carry every key column (a record line leaves out columns it has no value for).
  const carrying = selects.filter((s) => names.every((n) => s.columns.includes(n)));
  if (carrying.length === 0) return none;
  const staged = carrying.map((s) => `SELECT q."_row_id", ${keys('q').map((k, i) => `${k} AS ${aliases[i]}`).join(', ')}, q."#s" FROM (${s.sqlWithSeq!}) q`).join(' UNION ALL ');
  const storedKeys = keys('t');
  const on = aliases.map((n, i) => `q.${n} = ${storedKeys[i]}`).join(' AND ');
  // A root table created in this transaction has no stored rows to compare with.
  const stored = root.isNew ? '' : `SELECT q."_row_id", true AS stored FROM q SEMI JOIN ${target} t ON ${on} UNION ALL `;
  await conn.run(`CREATE OR REPLACE TEMP TABLE "_already_stored" AS WITH q AS (${staged})
    SELECT "_row_id", bool_or(stored) AS stored FROM (
      ${stored}SELECT "_row_id", false AS stored FROM q WHERE ${aliases.map((n) => `${n} IS NOT NULL`).join(' AND ')}
      QUALIFY row_number() OVER (PARTITION BY ${aliases.join(', ')} ORDER BY "#s") > 1
    ) GROUP BY "_row_id"`);
  const repeated = await countRows(conn, `${ALREADY_STORED_TABLE} WHERE NOT stored`);
  return { stored: (await countRows(conn, ALREADY_STORED_TABLE)) - repeated, repeated };
}
