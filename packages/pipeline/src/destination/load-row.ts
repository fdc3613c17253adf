// The `_pipeline_loads` rows and the load ids they carry. A committed load's row is written in the load's transaction
// (resource-writer.ts) so that it, the rows and the state become visible together; a failed load's row is written on
// its own (DuckDBDestination.recordFailedLoad), its data having been rolled back or never committed.
import type { DuckDBConnection } from '../duckdb.js';
import type { ContractDiscards } from '../normalize/contract.js';
import { quoteIdent } from '../normalize/naming.js';
import { LOADER_VERSION } from '../version.js';
import { discardsColumnValue } from './load-discards.js';
import { DATASET_FORMAT, inTransaction, migrateSystemTimes, sqlTimestamp } from './system-tables.js';

let lastLoadId = 0;

/** Sortable load id in seconds with microsecond fraction, like dlt's ("1749667187.541553"); strictly increasing per process. */
export function newLoadId(): string {
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  lastLoadId = Math.max(micros, lastLoadId + 1);
  const s = String(lastLoadId);
  return `${s.slice(0, -6)}.${s.slice(-6)}`;
}

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

export interface FailedRow {
  loadId: string;
  pipelineName: string;
  resource: string;
  startedAt: Date;
  /** The run's error, masked of secrets by the caller. */
  error: string;
  limitPages: number | undefined;
  orgId: string | undefined;
}

/** The `_pipeline_loads` row of a load whose data was not committed, in a transaction of its own. */
export async function writeFailedRow(conn: DuckDBConnection, dataset: string, row: FailedRow): Promise<void> {
  // A failed sample is marked as one too (limit_pages), as its loaded rows are, and a failed load records its org
  // as a loaded one does (loads() orgId). Each named only when set: a file an older loader created meanwhile
  // (opened without the DDL) lacks the columns, and a row without them needs neither.
  const optional = Object.entries({ limit_pages: row.limitPages, org_id: row.orgId }).filter(([, value]) => value !== undefined);
  // A format-1 file's times are converted with the first format-2 row (migrateSystemTimes), here as in a commit.
  await inTransaction(conn, async () => {
    await migrateSystemTimes(conn, dataset);
    await conn.run(
      `INSERT INTO ${quoteIdent(dataset)}."_pipeline_loads" (load_id, pipeline_name, resource, status, started_at, finished_at, error, loader_version, dataset_format${optional.map(([column]) => `, ${column}`).join('')})
       VALUES ($1, $2, $3, 'failed', CAST($4 AS TIMESTAMPTZ), CAST($5 AS TIMESTAMPTZ), $6, $7, $8${optional.map((_, i) => `, $${9 + i}`).join('')})`,
      [row.loadId, row.pipelineName, row.resource, sqlTimestamp(row.startedAt), sqlTimestamp(new Date()), row.error, LOADER_VERSION, DATASET_FORMAT, ...optional.map(([, value]) => value!)],
    );
  });
}
