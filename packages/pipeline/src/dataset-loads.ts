// `openDataset(…).loads()`: the load history (`_pipeline_loads`), one record per resource and load, newest first.
// Its later columns are optional: a file that no loader with them has written to yet lacks them, and the dataset's
// connection is read-only (it cannot add them).
import type { DuckDBResultReader, DuckDBValue } from './duckdb.js';
import { friendlyRows } from './dataset-values.js';
import { checkLimit } from './dataset-errors.js';
import { DISCARDS_COLUMN, parseDiscardsColumn } from './destination/load-discards.js';
import { quoteIdent } from './normalize/naming.js';
import type { LoadRecord } from './run-records.js';

/** The loads of the last `limit` load ids (of `pipelineName`, when given), each with a record per resource. */
export async function readLoads(
  run: (query: string, params: DuckDBValue[]) => Promise<DuckDBResultReader>,
  dataset: string,
  pipelineName: string | undefined,
  limit: number,
): Promise<LoadRecord[]> {
  const schema = quoteIdent(dataset);
  const filter = pipelineName === undefined ? '' : 'WHERE pipeline_name = $1';
  // A file no loader with limit_pages (org_id, contract_discards) has written to yet lacks the column, and this connection is read-only.
  const present = new Set(friendlyRows(await run(
    `SELECT column_name FROM information_schema.columns WHERE lower(table_schema) = lower($1) AND table_name = '_pipeline_loads' AND column_name IN ('limit_pages', 'org_id', '${DISCARDS_COLUMN}')`,
    [dataset],
  )).map((row) => String(row.column_name)));
  const optional = (column: string, read = column) => (present.has(column) ? `${read} AS ${column}` : `NULL AS ${column}`);
  const r = await run(
    `SELECT load_id, pipeline_name, resource, status, started_at, finished_at,
            CAST(row_counts AS VARCHAR) AS row_counts, error, ${optional('limit_pages')}, ${optional('org_id')},
            ${optional(DISCARDS_COLUMN, `CAST(${DISCARDS_COLUMN} AS VARCHAR)`)},
            epoch_ms(finished_at) - epoch_ms(started_at) AS duration_ms
     FROM ${schema}."_pipeline_loads"
     WHERE load_id IN (SELECT DISTINCT load_id FROM ${schema}."_pipeline_loads" ${filter} ORDER BY load_id DESC LIMIT ${checkLimit('loads', limit)})
       ${filter.replace('WHERE', 'AND')}
     ORDER BY load_id DESC, resource`,
    pipelineName === undefined ? [] : [pipelineName],
  );
  return friendlyRows(r).map((row) => ({
    loadId: String(row.load_id),
    pipelineName: String(row.pipeline_name),
    resource: String(row.resource),
    status: row.status === 'loaded' ? 'loaded' : 'failed',
    startedAt: (row.started_at as string | null) ?? null,
    finishedAt: (row.finished_at as string | null) ?? null,
    durationMs: typeof row.duration_ms === 'number' ? row.duration_ms : null,
    rowCounts: typeof row.row_counts === 'string' ? (JSON.parse(row.row_counts) as Record<string, number>) : null,
    error: (row.error as string | null) ?? null,
    limitPages: typeof row.limit_pages === 'number' ? row.limit_pages : null,
    orgId: typeof row.org_id === 'string' ? row.org_id : null,
    contractDiscards: parseDiscardsColumn(row[DISCARDS_COLUMN]),
  }));
}
