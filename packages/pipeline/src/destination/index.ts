// The DuckDB destination: one database file, one dataset schema, one connection whose work is serialized by a
// mutex (a transaction must never interleave with another resource's statements).
import { mkdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, resolve } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '../duckdb.js';
import { quoteIdent, rootTableName } from '../normalize/naming.js';
import type { TableDef } from '../normalize/schema.js';
import { DestinationError, toDestinationError } from './errors.js';
import { Mutex } from './mutex.js';
import { holdFile } from './open-files.js';
import { DuckDBResourceWriter, type ResourceWriter, type ResourceWriterOptions } from './resource-writer.js';
import { forgetDroppedTables, readExistingTableNames, readTableDefs, sqlTimestamp, systemTablesDdl, type DroppedTables } from './system-tables.js';

export { DestinationError, toDestinationError, type DestinationErrorCode } from './errors.js';
export type { LoadStep, ResourceWriter, ResourceWriterOptions, WriteDisposition } from './resource-writer.js';
export { SYSTEM_TABLES } from './system-tables.js';

export interface DuckDBDestinationOptions {
  path: string;
  dataset: string;
  pipelineName: string;
  /** DuckDB `memory_limit`, default 192MB (runs take SNAPENGAGE_DUCKDB_MEMORY_LIMIT). DuckDB spills to `<path>.tmp` beyond it. */
  memoryLimit?: string;
  /** DuckDB worker threads, default 2 (runs take SNAPENGAGE_DUCKDB_THREADS). */
  threads?: number;
  /** Where rows wait for their commit; default `<path>.staging`. Emptied on open: never share it. */
  stagingDir?: string;
}

/** Settings every connection of the loader uses; exported for the dataset API. */
export function duckdbSettings(opts: { memoryLimit?: string; threads?: number } = {}): Record<string, string> {
  return {
    // Measured at 200k cases / 1.4M transcript rows: the commit needs ~160MB (each reading thread holds a 32 MiB
    // JSON buffer on top of the transaction's rows, which spill to `<path>.tmp` beyond the limit); 192MB leaves
    // room. Peak RSS is this plus Node plus DuckDB's untracked allocations.
    memory_limit: opts.memoryLimit ?? '192MB',
    threads: String(opts.threads ?? 2),
    // Bulk INSERT … SELECT need not keep file order; this lets DuckDB stream instead of buffering.
    preserve_insertion_order: 'false',
    // DuckDB's allocator keeps up to 128 MiB (512 MiB after bulk frees) of freed memory cached per process by
    // default; returning it early keeps the loader's RSS near its working set (measured: −100 MiB at commit).
    allocator_flush_threshold: '16MB',
    allocator_bulk_deallocation_flush_threshold: '16MB',
  };
}

let lastLoadId = 0;

/** Sortable load id in seconds with microsecond fraction, like dlt's ("1749667187.541553"); strictly increasing per process. */
export function newLoadId(): string {
  const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
  lastLoadId = Math.max(micros, lastLoadId + 1);
  const s = String(lastLoadId);
  return `${s.slice(0, -6)}.${s.slice(-6)}`;
}

export class DuckDBDestination {
  private readonly mutex = new Mutex();
  private closed = false;

  private constructor(
    readonly path: string,
    readonly dataset: string,
    readonly pipelineName: string,
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
    private readonly stagingRoot: string,
    private readonly tableDefs: Map<string, TableDef>,
    private readonly tableNames: Set<string>,
    private readonly threads: number,
    /** Tables and columns that were dropped from the dataset since the last run (see forgetDroppedTables). */
    readonly droppedTables: readonly DroppedTables[],
    private readonly releaseFile: () => void,
    /** True when the database held no table when this opened it (see runPipeline's createdByThisRun). */
    readonly emptyAtOpen: boolean,
  ) {}

  /** Opens (or creates) the database and the dataset's system tables, and deletes staging left by a crashed run. */
  static async open(opts: DuckDBDestinationOptions): Promise<DuckDBDestination> {
    if (!opts.dataset) throw toDestinationError(new Error('dataset name is empty'), 'opening the destination', opts.path);
    const inMemory = opts.path === ':memory:';
    const path = inMemory ? opts.path : resolve(opts.path);
    if (!inMemory) {
      try {
        await mkdir(dirname(path), { recursive: true });
        const s = await stat(path).catch(() => undefined);
        if (s?.isDirectory()) throw Object.assign(new Error('Is a directory'), { code: 'EISDIR' });
      } catch (error) {
        throw toDestinationError(error, 'opening the destination', path);
      }
    }
    let instance: DuckDBInstance | undefined;
    let releaseFile: (() => void) | undefined;
    try {
      releaseFile = holdFile(path, 'write');
      const settings = duckdbSettings(opts);
      instance = await DuckDBInstance.create(path, settings);
      const conn = await instance.connect();
      const tables = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM duckdb_tables()')).getRowObjectsJS()[0]!.n;
      await conn.run(systemTablesDdl(opts.dataset));
      const dropped = await forgetDroppedTables(conn, opts.dataset);
      const defs = await readTableDefs(conn, opts.dataset);
      const names = new Set(await readExistingTableNames(conn, opts.dataset));
      // We hold DuckDB's file lock now, so no other process owns this staging directory.
      const stagingRoot = opts.stagingDir ? resolve(opts.stagingDir) : inMemory ? `${tmpdir()}/snapengage-staging-${process.pid}` : `${path}.staging`;
      await rm(stagingRoot, { recursive: true, force: true });
      return new DuckDBDestination(path, opts.dataset, opts.pipelineName, instance, conn, stagingRoot, defs, names, Number(settings.threads), dropped, releaseFile, tables === 0);
    } catch (error) {
      instance?.closeSync();
      releaseFile?.();
      throw toDestinationError(error, 'opening the destination', path);
    }
  }

  /** Last committed state of a resource for this pipeline: undefined when there is no row, null for an empty one. */
  async readState(resource: string): Promise<unknown | undefined> {
    return this.mutex.run(async () => {
      const r = await this.conn.runAndReadAll(
        `SELECT CAST(state AS VARCHAR) AS state FROM ${quoteIdent(this.dataset)}."_pipeline_state" WHERE pipeline_name = $1 AND resource = $2`,
        [this.pipelineName, resource],
      );
      const row = r.getRowObjectsJS()[0];
      if (row === undefined) return undefined;
      return row.state === null || row.state === undefined ? null : JSON.parse(String(row.state));
    });
  }

  createResourceWriter(opts: ResourceWriterOptions): ResourceWriter {
    if (this.closed) throw new Error('destination is closed');
    const dropped = this.droppedTables.find((d) => d.resource === opts.resource.name && d.action === 'blocked');
    if (dropped) {
      const qualified = (table: string) => `${quoteIdent(this.dataset)}.${quoteIdent(table)}`;
      const drops = dropped.remaining.map((t) => `DROP TABLE ${qualified(t)};`).join(' ');
      throw new DestinationError(
        `loading ${opts.resource.name}: table ${qualified(dropped.under!)} in ${this.path} was dropped, but the tables below it (${dropped.remaining.join(', ')}) remain, with rows that hang under its rows`,
        'schema', `to reload ${opts.resource.name}, drop them too (${drops}); or restore ${qualified(dropped.under!)}`, this.path,
      );
    }
    // A table of the root's name that the loader did not create (it is not in `_pipeline_tables`) is someone
    // else's: loading into it would mix data or fail on its columns.
    const rootName = rootTableName(opts.resource.name).toLowerCase();
    const registered = [...this.tableDefs.values()].some((t) => t.resource === opts.resource.name && t.parent === null);
    if (!registered && [...this.tableNames].some((name) => name.toLowerCase() === rootName)) {
      throw new DestinationError(
        `loading ${opts.resource.name}: table ${this.dataset}.${rootName} in ${this.path} was not created by snapengage-pipeline`,
        'schema', 'load into another dataset (--dataset or destination.dataset), or rename or drop that table', this.path,
      );
    }
    return new DuckDBResourceWriter(
      {
        conn: this.conn,
        mutex: this.mutex,
        dataset: this.dataset,
        pipelineName: this.pipelineName,
        dbPath: this.path,
        stagingRoot: this.stagingRoot,
        tableDefs: this.tableDefs,
        tableNames: this.tableNames,
        threads: this.threads,
      },
      opts,
    );
  }

  /** Records a failed load of a resource (its data was not committed). */
  async recordFailedLoad(loadId: string, resource: string, error: string, startedAt: Date): Promise<void> {
    await this.mutex.run(async () => {
      try {
        await this.conn.run(
          `INSERT INTO ${quoteIdent(this.dataset)}."_pipeline_loads" (load_id, pipeline_name, resource, status, started_at, finished_at, error)
           VALUES ($1, $2, $3, 'failed', CAST($4 AS TIMESTAMP), CAST($5 AS TIMESTAMP), $6)`,
          [loadId, this.pipelineName, resource, sqlTimestamp(startedAt), sqlTimestamp(new Date()), error],
        );
      } catch (e) {
        throw toDestinationError(e, `recording the failed load of ${resource}`, this.path);
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.mutex.run(async () => {
      try {
        this.conn.closeSync();
        this.instance.closeSync();
      } finally {
        this.releaseFile();
      }
    });
    await rm(this.stagingRoot, { recursive: true, force: true }).catch(() => undefined);
  }
}
