// A dataset name as a command a message suggests writes it (`DROP SCHEMA … CASCADE` in the DuckDB CLI).
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';

/**
 * `name` bare when it is a plain lower-case identifier that DuckDB does not read as a keyword, else quoted. Bare, a
 * dataset named `order`, `left` or `join` (DuckDB's reserved and type-or-function keywords: 105 in 1.5) gave a
 * suggested command DuckDB rejects with a syntax error. The keywords are DuckDB's own (duckdb_keywords()), so a
 * newer DuckDB's are known too.
 */
export async function cliName(conn: DuckDBConnection, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) return quoteIdent(name);
  const keyword = (await conn.runAndReadAll(
    "SELECT 1 FROM duckdb_keywords() WHERE keyword_name = $1 AND keyword_category IN ('reserved', 'type_function')",
    [name],
  )).getRowObjectsJS();
  return keyword.length > 0 ? quoteIdent(name) : name;
}
