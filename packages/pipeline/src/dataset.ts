// Read access to a loaded dataset: tables, rows, ad-hoc SQL, load history and incremental state, with
// JSON-friendly values (dataset-values.ts: BIGINT → number when exact, else string; timestamps → ISO strings; JSON parsed).
// The lib reference is kept in dataset.d.ts (preserve) so `Dataset[Symbol.asyncDispose]` compiles in an app that has
// neither @types/node nor lib ESNext.Disposable: TypeScript 6 and 7 no longer load @types/* unless `types` lists them,
// and their default lib (es2025) has no Symbol.asyncDispose, so a bare tsconfig failed on our declarations (TS2550).
/// <reference lib="esnext.disposable" preserve="true" />
import { resolve } from 'node:path';
import { createDuckDBInstance, loadDuckDB, type DuckDBConnection, type DuckDBInstance, type DuckDBResultReader, type DuckDBValue } from './duckdb.js';
import type { PipelineConfig } from './config.js';
import { friendlyRows, rowConverter } from './dataset-values.js';
import { DestinationError, duckdbSettings, toDestinationError } from './destination/index.js';
import { SYSTEM_TABLES } from './destination/system-tables.js';
import { readLoads } from './dataset-loads.js';
import type { LoadRecord } from './run-records.js';
import { holdFile } from './destination/open-files.js';
import { quoteIdent } from './normalize/naming.js';
import { DEFAULTS } from './plan.js';
import { bindParams } from './dataset-params.js';
import { checkLimit, checkOptions, checkQuery, checkTable, queryError, readError, type DatasetTarget } from './dataset-errors.js';
import { remotePathProblem } from './remote-destination.js';
import { checkDuckDBFile, closest, copyZone, datasetNotFound, lockedByRun, useSchema, useUtc } from './dataset-open.js';

export interface DatasetTable {
  name: string;
  columns: Array<{ name: string; type: string }>;
  rowCount: number;
}

export type { LoadRecord } from './run-records.js';

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
  tables(opts?: { system?: boolean | undefined }): Promise<DatasetTable[]>;
  /** Rows of a table of the dataset (data or system), in storage order; all of them, in memory, unless `limit`. */
  rows(table: string, opts?: { limit?: number | undefined; where?: never }): Promise<Record<string, unknown>[]>;
  /** Any SQL; `$1`… placeholders bind `params`. Unqualified table names resolve in the dataset schema. The whole result is read into memory. */
  sql(query: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  /**
   * The result of `query`, as `sql()` gives it, in batches of up to 2048 rows (DuckDB's chunks), or of `batchSize`
   * rows (the last one holds the rest), read as you iterate: memory holds about one batch, whatever the size of the
   * result. On a connection of its own, so other calls may run between batches; `break` ends it early. A batch asked
   * for after close() is refused.
   */
  iterate(query: string, params?: unknown[], opts?: { batchSize?: number | undefined }): AsyncIterableIterator<Record<string, unknown>[]>;
  /** The last `limit` loads (default 20), a record per resource, most recent first. */
  loads(limit?: number): Promise<LoadRecord[]>;
  state(): Promise<StateRecord[]>;
  /** Releases the file (a pipeline run can write it again) once the calls already running have finished; later calls are refused. */
  close(): Promise<void>;
  /** `await using ds = await openDataset(…)` closes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void>;
}


/**
 * Opens a dataset read-only (it cannot change data; other readers may open the file too, a writer may not until
 * `close()`). Given a PipelineConfig, loads and state are limited to that pipeline's name.
 */
export async function openDataset(config: PipelineConfig | { path: string; dataset: string }): Promise<Dataset> {
  let path: string;
  let dataset: string;
  let pipelineName: string | undefined;
  // Called from JavaScript, `{ path }` alone or a bare path would otherwise fail deep inside with a TypeError.
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`openDataset(): pass { path, dataset } or the pipeline's config, got ${JSON.stringify(config)}`);
  }
  if ('resources' in config) {
    path = config.destination?.path ?? DEFAULTS.path;
    dataset = config.destination?.dataset ?? DEFAULTS.dataset;
    pipelineName = config.pipelineName ?? DEFAULTS.pipelineName;
  } else {
    path = config.path;
    dataset = config.dataset;
  }
  for (const [name, value, example] of [['path', path, 'snapengage.duckdb'], ['dataset', dataset, 'snapengage_data']] as const) {
    if (typeof value !== 'string') throw new TypeError(`openDataset(): ${name} must be a string (such as '${example}'), got ${String(value)}`);
  }
  // Else "no such file <cwd>/:memory:: run the pipeline first", to a user who just ran it (a dry run's database is
  // gone when the run ends, also in the same process).
  if (path === ':memory:') {
    throw new DestinationError('opening the dataset: destination.path is :memory:, a database that lives only as long as the run that loaded it', 'not_found', 'pass a file path (destination.path or --duckdb) to load into and read back', path);
  }
  // Else "no such file <cwd>/s3:/…", as if a run could make it; quoted without a token (`md:db?motherduck_token=…`).
  const remote = remotePathProblem(path);
  if (remote) throw new DestinationError(`opening the dataset: destination.path ${remote.what}`, 'not_found', remote.fix, remote.shown);
  path = resolve(path);
  checkDuckDBFile(path);
  // Outside the mapping below: a missing or broken install is its own error, not "opening the dataset: …" (run.ts).
  loadDuckDB();
  let instance: DuckDBInstance | undefined;
  let releaseFile: (() => void) | undefined;
  try {
    releaseFile = holdFile(path, 'read');
    // DuckDB's default order, not the loader's bulk-insert setting: without it a table of several row groups comes
    // back in whatever order the threads finish, so rows() and a LIMIT … OFFSET page skip and repeat rows.
    instance = await createDuckDBInstance(path, { ...duckdbSettings(), preserve_insertion_order: 'true', access_mode: 'READ_ONLY' });
    const conn = await instance.connect();
    await useUtc(conn);
    // A dataset is a schema with the loader's system tables; name the ones this file has when the asked one is not.
    const datasets = (await conn.runAndReadAll(
      `SELECT DISTINCT table_schema FROM information_schema.tables WHERE table_name = '_pipeline_loads' ORDER BY 1`,
    )).getRowObjectsJS().map((row) => String(row.table_schema));
    const found = datasets.find((name) => name.toLowerCase() === dataset.toLowerCase());
    if (found === undefined) {
      const error = await datasetNotFound(conn, path, dataset, datasets);
      conn.closeSync();
      throw error;
    }
    // Not swallowed: without it every unqualified table name in sql() would fail as "does not exist".
    await useSchema(conn, found);
    return new DuckDBDataset(path, dataset, pipelineName, instance, conn, releaseFile);
  } catch (error) {
    instance?.closeSync();
    releaseFile?.();
    throw await lockedByRun(toDestinationError(error, 'opening the dataset', path), path);
  }
}

class DuckDBDataset implements Dataset {
  private closed = false;
  private closing: Promise<void> | undefined;
  /** Calls of the API not settled yet: closing the connection under a query hangs the process or crashes it (SIGSEGV). */
  private readonly inflight = new Set<Promise<unknown>>();
  /** The connections of iterations not finished; whoever takes one out of the set closes it. */
  private readonly streams = new Set<DuckDBConnection>();

  constructor(
    readonly path: string,
    readonly dataset: string,
    private readonly pipelineName: string | undefined,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly releaseFile: () => void,
  ) {}

  private get schema(): string {
    return quoteIdent(this.dataset);
  }

  /** What an error's message and hint name (dataset-errors.ts). */
  private get target(): DatasetTarget {
    return { conn: this.conn, dataset: this.dataset, path: this.path };
  }

  /** Runs a query of this API (or the user's, for `sql`); only from inside `reading`, which keeps close() waiting. */
  private async run(query: string, params: DuckDBValue[] = []): Promise<DuckDBResultReader> {
    return this.conn.runAndReadAll(query, params);
  }

  /**
   * Runs one call of the API to its end (all of its queries) before close() closes the connection; a call made once
   * close() was called is refused with a clear error.
   */
  private async reading<T>(read: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DestinationError(`reading dataset ${this.dataset}: it is closed`, 'io', 'call openDataset() again', this.path);
    const pending = read();
    this.inflight.add(pending);
    try {
      return await pending;
    } catch (error) {
      throw await readError(this.target, error);
    } finally {
      this.inflight.delete(pending);
    }
  }

  tables(opts: { system?: boolean } = {}): Promise<DatasetTable[]> {
    return this.reading(() => this.readTables(opts));
  }

  rows(table: string, opts: { limit?: number } = {}): Promise<Record<string, unknown>[]> {
    return this.reading(() => this.readRows(table, opts));
  }

  sql(query: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return this.reading(() => this.runSql(query, params));
  }

  /** Records of the last `limit` loads (each load has one per resource), newest first. */
  loads(limit = 20): Promise<LoadRecord[]> {
    return this.reading(() => readLoads((query, params) => this.run(query, params), this.dataset, this.pipelineName, limit));
  }

  state(): Promise<StateRecord[]> {
    return this.reading(() => this.readState());
  }

  private async readTables(opts: { system?: boolean }): Promise<DatasetTable[]> {
    checkOptions('tables', opts);
    const r = await this.run(
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
      const c = await this.run(`SELECT count(*) AS n FROM ${this.schema}.${quoteIdent(t.name)}`);
      t.rowCount = Number(c.getRowObjectsJS()[0]?.n ?? 0);
    }
    return [...byName.values()];
  }

  private async readRows(table: string, opts: { limit?: number }): Promise<Record<string, unknown>[]> {
    checkTable(table);
    checkOptions('rows', opts, table);
    const limit = opts.limit === undefined ? '' : ` LIMIT ${checkLimit('rows', opts.limit)}`;
    const names = (await this.run(
      `SELECT table_name FROM information_schema.tables WHERE lower(table_schema) = lower($1) ORDER BY 1`, [this.dataset],
    )).getRowObjectsJS().map((row) => String(row.table_name));
    if (!names.some((name) => name.toLowerCase() === table.toLowerCase())) {
      const data = names.filter((name) => !(SYSTEM_TABLES as readonly string[]).includes(name));
      const guess = closest(table, names);
      throw new DestinationError(
        `reading rows: no table ${table} in dataset ${this.dataset}`, 'not_found',
        `${guess ? `did you mean ${guess}? ` : ''}tables there: ${data.join(', ') || '(none yet)'}; see tables()`, this.path,
      );
    }
    return friendlyRows(await this.run(`SELECT * FROM ${this.schema}.${quoteIdent(table)}${limit}`));
  }

  async *iterate(query: string, params: unknown[] = [], opts: { batchSize?: number } = {}): AsyncIterableIterator<Record<string, unknown>[]> {
    checkQuery('iterate', query, params);
    checkOptions('iterate', opts);
    const values = bindParams('iterate', params);
    const batchSize = opts.batchSize === undefined ? undefined : checkLimit('iterate', opts.batchSize, 'batchSize', 1);
    // Its own connection: a query run on the connection of a streamed result ends that result. Each step (the query
    // with its first chunk, then each chunk) is one call that close() waits for.
    let conn: DuckDBConnection | undefined;
    // Rows given to the caller, for the message of a result that fails partway (not those held for a batch).
    let rows = 0;
    // A result that fails partway (a cast of a later row, the memory limit) ends as one that is complete:
    // @duckdb/node-api's fetchChunk() gives an empty chunk either way and does not read the result's error. Inside a
    // transaction of its own the failure leaves that transaction aborted, which the next statement reports: checked
    // at the end, so a cut-off result fails the iteration instead of passing for the whole of it.
    const fetch = async (c: DuckDBConnection, result: Awaited<ReturnType<DuckDBConnection['stream']>>) => {
      const chunk = await result.fetchChunk();
      if ((chunk === null || chunk.rowCount === 0) && !(await c.run('SELECT 1').then(() => true, () => false))) {
        throw new DestinationError(
          `query on dataset ${this.dataset} failed after ${rows} rows: DuckDB ended the result with an error that @duckdb/node-api does not pass on`, 'io',
          'to see the error, run the query through sql() with EXPLAIN ANALYZE in front (it runs the query without keeping its rows)', this.path,
        );
      }
      return chunk;
    };
    try {
      const { result, first } = await this.reading(async () => {
        conn = await this.instance.connect();
        this.streams.add(conn);
        let streamed: Awaited<ReturnType<DuckDBConnection['stream']>>;
        try {
          await useSchema(conn, this.dataset);
          await copyZone(this.conn, conn);
          await conn.run('BEGIN TRANSACTION');
          streamed = await conn.stream(query, values);
        } catch (error) {
          throw await queryError(this.target, error, query);
        }
        return { result: streamed, first: await fetch(conn, streamed) };
      });
      const toRow = rowConverter(result);
      // Rows read but not yet given, when batchSize regroups DuckDB's chunks.
      let pending: Record<string, unknown>[] = [];
      for (let chunk = first; chunk !== null && chunk.rowCount > 0; chunk = await this.reading(() => fetch(conn!, result))) {
        const read = chunk.getRows().map(toRow);
        if (batchSize === undefined) {
          rows += read.length;
          yield read;
          continue;
        }
        pending = pending.length === 0 ? read : pending.concat(read);
        let start = 0;
        for (; pending.length - start >= batchSize; start += batchSize) {
          rows += batchSize;
          yield pending.slice(start, start + batchSize);
        }
        pending = start === 0 ? pending : pending.slice(start);
      }
      if (pending.length > 0) yield pending;
    } finally {
      if (conn && this.streams.delete(conn)) conn.closeSync();
    }
  }

  private async runSql(query: string, params: unknown[]): Promise<Record<string, unknown>[]> {
    checkQuery('sql', query, params);
    const values = bindParams('sql', params);
    try {
      return friendlyRows(await this.run(query, values));
    } catch (error) {
      throw await queryError(this.target, error, query);
    }
  }

  private async readState(): Promise<StateRecord[]> {
    const filter = this.pipelineName === undefined ? '' : 'WHERE pipeline_name = $1';
    const r = await this.run(
      `SELECT pipeline_name, resource, CAST(state AS VARCHAR) AS state, load_id, updated_at
       FROM ${this.schema}."_pipeline_state" ${filter} ORDER BY pipeline_name, resource`,
      this.pipelineName === undefined ? [] : [this.pipelineName],
    );
    return friendlyRows(r).map((row) => ({
      pipelineName: String(row.pipeline_name),
      resource: String(row.resource),
      state: typeof row.state === 'string' ? JSON.parse(row.state) : null,
      loadId: String(row.load_id),
      updatedAt: String(row.updated_at),
    }));
  }

  /**
   * Releases the file (a pipeline run can write it again) once the queries already running have finished; calls
   * made after it are refused. Calling it again returns the same promise.
   */
  close(): Promise<void> {
    this.closed = true;
    this.closing ??= (async () => {
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      try {
        for (const stream of [...this.streams]) if (this.streams.delete(stream)) stream.closeSync();
        this.conn.closeSync();
        this.instance.closeSync();
      } finally {
        this.releaseFile();
      }
    })();
    return this.closing;
  }

  /** `await using ds = await openDataset(…)` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
