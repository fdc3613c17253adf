// The `_pipeline_loads` row of a committed load, written in the load's transaction (resource-writer.ts) so that it,
// the rows and the state become visible together. A failed load's row is DuckDBDestination.recordFailedLoad's.
import type { DuckDBConnection } from '../duckdb.js';
import type { ContractDiscards } from '../normalize/contract.js';
import { quoteIdent } from '../normalize/naming.js';
import { LOADER_VERSION } from '../version.js';
import { discardsColumnValue } from './load-discards.js';
import { DATASET_FORMAT, sqlTimestamp } from './system-tables.js';

export interface LoadedRow {
  loadId: string;
  pipelineName: string;
  resource: string;
  startedAt: Date;
  rowCounts: Record<string, number>;
  /** How the load made its root `_row_id`s (adopt.ts rowIdsOf). */
  rowIds: string;
  limitPages: number | undefined;
  orgId: string | null;
  /** What the schema contract left out; undefined (stored as NULL) when nothing. */
  contractDiscards: ContractDiscards | undefined;
}

export async function writeLoadedRow(conn: DuckDBConnection, dataset: string, row: LoadedRow): Promise<void> {
  await conn.run(
    `INSERT INTO ${quoteIdent(dataset)}."_pipeline_loads" (load_id, pipeline_name, resource, status, started_at, finished_at, row_counts, row_ids, loader_version, dataset_format, limit_pages, org_id, contract_discards)
     VALUES ($1, $2, $3, 'loaded', CAST($4 AS TIMESTAMPTZ), CAST($5 AS TIMESTAMPTZ), CAST($6 AS JSON), $7, $8, $9, $10, $11, CAST($12 AS JSON))`,
    [
      row.loadId, row.pipelineName, row.resource, sqlTimestamp(row.startedAt), sqlTimestamp(new Date()),
      JSON.stringify(row.rowCounts), row.rowIds, LOADER_VERSION, DATASET_FORMAT,
      row.limitPages ?? null, row.orgId, discardsColumnValue(row.contractDiscards),
    ],
  );
}
