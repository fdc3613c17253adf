// `--refresh` (runPipeline's `refresh`): a resource reloaded as if never loaded. Unlike dlt's refresh modes, which drop
// first, nothing is removed before the commit: the writer stages the new load against no stored tables, and this
// removes what the resource owned inside the commit's own transaction, just before its new tables are created. A
// run that fails or is killed before COMMIT leaves the old tables, columns and state exactly as they were.
import type { DuckDBConnection } from '../duckdb.js';
import { quoteIdent } from '../normalize/naming.js';
import type { TableDef } from '../normalize/schema.js';

/** The loader's tables of a resource (every one it registered, including those the spec no longer produces). */
export function tablesOwnedBy(defs: ReadonlyMap<string, TableDef>, resource: string): TableDef[] {
  return [...defs.values()].filter((t) => t.resource === resource);
}

/**
 * Inside an open transaction: drops every table the loader registered for `resource` (root, child and flattened
 * tables with their variant and undeclared columns, and tables a spec or depth change left behind), forgets them in
 * `_pipeline_tables` / `_pipeline_columns` (and the comments it wrote on them, `_pipeline_comments`), and deletes the resource's `_pipeline_state` row for this pipeline. The
 * `_pipeline_loads` history stays. Returns the tables that existed and were dropped (registered ones the user had
 * dropped already are only forgotten).
 */
export async function removeResourceForRefresh(conn: DuckDBConnection, dataset: string, pipelineName: string, resource: string): Promise<string[]> {
  const s = quoteIdent(dataset);
  // Newest first, so children go before their parents (a child is registered after the table it hangs under).
  const owned = (await conn.runAndReadAll(
    `SELECT t.table_name, lower(t.table_name) IN (SELECT lower(table_name) FROM information_schema.tables WHERE lower(table_schema) = lower($1)) AS present
     FROM ${s}."_pipeline_tables" t WHERE t.resource = $2 ORDER BY t.rowid DESC`,
    [dataset, resource],
  )).getRowObjectsJS();
  const dropped: string[] = [];
  for (const row of owned) {
    const table = String(row.table_name);
    if (row.present === true) {
      await conn.run(`DROP TABLE ${s}.${quoteIdent(table)}`);
      dropped.push(table);
    }
    await conn.run(`DELETE FROM ${s}."_pipeline_columns" WHERE table_name = $1`, [table]);
    await conn.run(`DELETE FROM ${s}."_pipeline_comments" WHERE table_name = $1`, [table]);
  }
  await conn.run(`DELETE FROM ${s}."_pipeline_tables" WHERE resource = $1`, [resource]);
  await conn.run(`DELETE FROM ${s}."_pipeline_state" WHERE pipeline_name = $1 AND resource = $2`, [pipelineName, resource]);
  return dropped.reverse();
}
