// Read access to a loaded dataset: tables, rows, ad-hoc SQL, load history and incremental state, with
// JSON-friendly values (BIGINT → number when exact, else string; timestamps → ISO strings; JSON columns parsed).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBResultReader, type DuckDBValue } from './duckdb.js';
import type { PipelineConfig } from './config.js';
import { DestinationError, duckdbSettings, toDestinationError } from './destination/index.js';
import { SYSTEM_TABLES } from './destination/system-tables.js';
import { quoteIdent } from './normalize/naming.js';

export interface DatasetTable {
  name: string;
  columns: Array<{ name: string; type: string }>;
  rowCount: number;
}

export interface LoadRecord {
  loadId: string;
  pipelineName: string;
  resource: string;
  status: 'loaded' | 'failed';
  /** ISO 8601 UTC. */
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  rowCounts: Record<string, number> | null;
  error: string | null;
}

export interface StateRecord {
  pipelineName: string;
  resource: string;
  state: unknown;
  loadId: string;
  updatedAt: string;
}

export interface Dataset {
  readonly path: string;
  readonly dataset: string;
  /** Data tables; `{ system: true }` lists the loader's `_pipeline_*` tables instead. */
  tables(opts?: { system?: boolean }): Promise<DatasetTable[]>;
  /** Rows of a table of the dataset (data or system), in storage order. */
  rows(table: string, opts?: { limit?: number; where?: never }): Promise<Record<string, unknown>[]>;
  /** Any SQL; `$1`… placeholders bind `params`. Unqualified table names resolve in the dataset schema. */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /** Most recent loads first. */
  loads(limit?: number): Promise<LoadRecord[]>;
  state(): Promise<StateRecord[]>;
  close(): Promise<void>;
}

const DEFAULT_PATH = 'snapengage.duckdb';
const DEFAULT_DATASET = 'snapengage_data';
const DEFAULT_PIPELINE = 'snapengage_pipeline';

/**
 * Opens a dataset read-only (so it never conflicts with the loader's writes of the same process' past runs
 * and cannot change data). Given a PipelineConfig, loads and state are limited to that pipeline's name.
 */
export async function openDataset(config: PipelineConfig | { path: string; dataset: string }): Promise<Dataset> {
  let path: string;
  let dataset: string;
  let pipelineName: string | undefined;
  if ('resources' in config) {
    path = config.destination?.path ?? DEFAULT_PATH;
    dataset = config.destination?.dataset ?? DEFAULT_DATASET;
    pipelineName = config.pipelineName ?? DEFAULT_PIPELINE;
  } else {
    path = config.path;
    dataset = config.dataset;
  }
  path = resolve(path);
  if (!existsSync(path)) {
    throw toDestinationError(
      Object.assign(new Error(`no such file: run the pipeline first or check destination.path`), { code: 'ENOENT' }),
      'opening the dataset', path,
    );
  }
  try {
    const instance = await DuckDBInstance.create(path, { ...duckdbSettings(), access_mode: 'READ_ONLY' });
    const conn = await instance.connect();
    // A dataset is a schema with the loader's system tables; name the ones this file has when the asked one is not.
    const datasets = (await conn.runAndReadAll(
      `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = '_pipeline_loads' ORDER BY 1`,
    )).getRowObjectsJS().map((row) => String(row.table_schema));
    if (!datasets.some((name) => name.toLowerCase() === dataset.toLowerCase())) {
      conn.closeSync();
      instance.closeSync();
      const there = datasets.length > 0 ? `datasets there: ${datasets.join(', ')}` : 'it holds no dataset of this loader yet';
      throw new DestinationError(`opening the dataset: no dataset ${dataset} in ${path}`, 'not_found', `${there}; pass --dataset (or destination.dataset)`, path);
    }
    await conn.run(`SET schema = '${dataset.replaceAll("'", "''")}'`).catch(() => undefined);
    return new DuckDBDataset(path, dataset, pipelineName, instance, conn);
  } catch (error) {
    throw toDestinationError(error, 'opening the dataset', path);
  }
}

class DuckDBDataset implements Dataset {
  constructor(
    readonly path: string,
    readonly dataset: string,
    private readonly pipelineName: string | undefined,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  private get schema(): string {
    return quoteIdent(this.dataset);
  }

  async tables(opts: { system?: boolean } = {}): Promise<DatasetTable[]> {
    const r = await this.conn.runAndReadAll(
      `SELECT table_name, column_name, data_type FROM information_schema.columns
       WHERE lower(table_schema) = lower($1) ORDER BY table_name, ordinal_position`,
      [this.dataset],
    );
    const system = new Set<string>(SYSTEM_TABLES);
    const byName = new Map<string, DatasetTable>();
    for (const row of r.getRowObjectsJS()) {
      const name = String(row.table_name);
      if (system.has(name) !== Boolean(opts.system)) continue;
      let t = byName.get(name);
      if (!t) byName.set(name, (t = { name, columns: [], rowCount: 0 }));
      t.columns.push({ name: String(row.column_name), type: String(row.data_type) });
    }
    for (const t of byName.values()) {
      const c = await this.conn.runAndReadAll(`SELECT count(*) AS n FROM ${this.schema}.${quoteIdent(t.name)}`);
      t.rowCount = Number(c.getRowObjectsJS()[0]?.n ?? 0);
    }
    return [...byName.values()];
  }

  async rows(table: string, opts: { limit?: number } = {}): Promise<Record<string, unknown>[]> {
    const limit = opts.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(opts.limit))}`;
    const r = await this.conn.runAndReadAll(`SELECT * FROM ${this.schema}.${quoteIdent(table)}${limit}`);
    return jsonRows(r);
  }

  async sql(query: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    const r = await this.conn.runAndReadAll(query, params.map(toDuckDBValue));
    return jsonRows(r);
  }

  async loads(limit = 20): Promise<LoadRecord[]> {
    const filter = this.pipelineName === undefined ? '' : 'WHERE pipeline_name = $1';
    const r = await this.conn.runAndReadAll(
      `SELECT load_id, pipeline_name, resource, status, started_at, finished_at,
              CAST(row_counts AS VARCHAR) AS row_counts, error,
              epoch_ms(finished_at) - epoch_ms(started_at) AS duration_ms
       FROM ${this.schema}."_pipeline_loads" ${filter}
       ORDER BY load_id DESC, resource LIMIT ${Math.max(0, Math.floor(limit))}`,
      this.pipelineName === undefined ? [] : [this.pipelineName],
    );
    return jsonRows(r).map((row) => ({
      loadId: String(row.load_id),
      pipelineName: String(row.pipeline_name),
      resource: String(row.resource),
      status: row.status === 'loaded' ? 'loaded' : 'failed',
      startedAt: (row.started_at as string | null) ?? null,
      finishedAt: (row.finished_at as string | null) ?? null,
      durationMs: typeof row.duration_ms === 'number' ? row.duration_ms : null,
      rowCounts: typeof row.row_counts === 'string' ? (JSON.parse(row.row_counts) as Record<string, number>) : null,
      error: (row.error as string | null) ?? null,
    }));
  }

  async state(): Promise<StateRecord[]> {
    const filter = this.pipelineName === undefined ? '' : 'WHERE pipeline_name = $1';
    const r = await this.conn.runAndReadAll(
      `SELECT pipeline_name, resource, CAST(state AS VARCHAR) AS state, load_id, updated_at
       FROM ${this.schema}."_pipeline_state" ${filter} ORDER BY pipeline_name, resource`,
      this.pipelineName === undefined ? [] : [this.pipelineName],
    );
    return jsonRows(r).map((row) => ({
      pipelineName: String(row.pipeline_name),
      resource: String(row.resource),
      state: typeof row.state === 'string' ? JSON.parse(row.state) : null,
      loadId: String(row.load_id),
      updatedAt: String(row.updated_at),
    }));
  }

  async close(): Promise<void> {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}

/** Result rows with JSON-friendly values; columns of DuckDB type JSON are parsed. */
export function jsonRows(reader: DuckDBResultReader): Record<string, unknown>[] {
  const names = reader.columnNames();
  const isJson = reader.columnTypes().map((t) => t.alias === 'JSON');
  return reader.getRowObjectsJS().map((row) => {
    const out: Record<string, unknown> = {};
    names.forEach((name, i) => {
      const value = row[name];
      out[name] = isJson[i] && typeof value === 'string' ? JSON.parse(value) : toJsonFriendly(value);
    });
    return out;
  });
}

function toJsonFriendly(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonFriendly);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toJsonFriendly(v);
    return out;
  }
  return value;
}

function toDuckDBValue(value: unknown): DuckDBValue {
  if (value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  if (value !== null && typeof value === 'object') return JSON.stringify(value);
  return value as DuckDBValue;
}
