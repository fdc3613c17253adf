// The DuckDB destination: one database file, one dataset schema, one connection whose work is serialized by a
// mutex (a transaction must never interleave with another resource's statements). A run holds DuckDB's file lock
// only while it reads its state at the start and while it commits: in between (extraction) the file is closed, so
// other programs can query the dataset. The run lock (run-lock.ts) keeps other runs out the whole time, and the
// commit first checks that nobody changed the dataset in between.
import { realpath, rm, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { DuckDBConnection, DuckDBInstance } from '../duckdb.js';
import { AbortedError } from '../errors.js';
import { quoteIdent, rootTableName } from '../normalize/naming.js';
import type { TableDef } from '../normalize/schema.js';
import { DestinationError, toDestinationError } from './errors.js';
import { Mutex } from './mutex.js';
import { holdFile } from './open-files.js';
import { openDuckDBFile } from './open-file.js';
import { RUN_LOCK_FILE, acquireRunLock, defaultStagingRoot, type RunLock } from './run-lock.js';
import { DuckDBResourceWriter, type ResourceWriter, type ResourceWriterOptions, type WriterContext } from './resource-writer.js';
import { makeOwnerOnly, privateTempStaging, removeDeadTempStaging, tempStagingDir } from './private-files.js';
import { createDatabaseFile } from './new-file.js';
import { checkDestinationFile } from './file-kind.js';
import { refuseDltDataset } from './dlt-dataset.js';
import { refuseOtherOrg, type RunOrg } from './dataset-org.js';
import { duckdbSettings } from './duckdb-settings.js';
import { LOADER_VERSION } from '../version.js';
import {
  checkDatasetFormat, datasetFingerprint, forgetDroppedTables, readExistingTableNames, readTableDefs, setUpSystemTables,
} from './system-tables.js';
import type { DroppedTables } from '../run-records.js';
import { writeFailedRow } from './load-row.js';
import { checkpoint, checkpointFailure, type CheckpointFailure } from './checkpoint.js';

export { DestinationError, toDestinationError } from './errors.js';
export { duckdbSettings } from './duckdb-settings.js';
export type { ResourceWriter } from './resource-writer.js';
export { newLoadId } from './load-row.js';
export { organisationEnv } from './dataset-org.js';

export interface DuckDBDestinationOptions {
  path: string;
  dataset: string;
  pipelineName: string;
  /** The run's organisation, recorded with each load; a dataset another org loaded is refused (dataset-org.ts). */
  org?: RunOrg | undefined;
  /** DuckDB `memory_limit`, default 192MB (runs take SNAPENGAGE_DUCKDB_MEMORY_LIMIT, or 96MB in a small memory cgroup: memory-cgroup.ts). DuckDB spills to `<path>.tmp` beyond it. */
  memoryLimit?: string;
  /** DuckDB worker threads, default 2 (runs take SNAPENGAGE_DUCKDB_THREADS, or 1 in a small memory cgroup). */
  threads?: number;
  /** Where rows wait for their commit, and the run lock; default `<path>.staging`. Emptied on open. */
  stagingDir?: string;
  /** How long to wait when another process has the DuckDB file open (default 0: fail at once). */
  lockWaitMs?: number;
  /** Told once per wait, when the file is in use and this waits for it. */
  onLockWait?: (message: string) => void;
  signal?: AbortSignal;
  /** The resources a refresh run reloads, kept in the run lock (a run taking over a killed refresh's lock says so). */
  refresh?: readonly string[];
}

export class DuckDBDestination {
  private readonly mutex = new Mutex();
  private closed = false;
  private session: { instance: DuckDBInstance; conn: DuckDBConnection; releaseFile: () => void } | undefined;
  /** The dataset as the run read it (see datasetFingerprint); undefined while the file did not exist. */
  private snapshot: string | undefined;
  private connectedBefore = false;
  private tablesAtFirstConnect = -1;
  /** Whether the file existed at this run's first attempt to open it (undefined: none yet). */
  private existedBeforeFirstConnect: boolean | undefined;
  private tableDefs = new Map<string, TableDef>();
  private tableNames = new Set<string>();
  /** Tables and columns that were dropped from the dataset since the last run (see forgetDroppedTables). */
  droppedTables: readonly DroppedTables[] = [];
  /** What writers share; `conn` is whichever connection is open at the time (the commit's, after reconnect). */
  private readonly writerContext: WriterContext;

  private constructor(
    readonly path: string,
    readonly dataset: string,
    readonly pipelineName: string,
    private readonly opts: DuckDBDestinationOptions,
    private readonly stagingRoot: string,
    private readonly runLock: RunLock | undefined,
    private readonly releaseRun: () => void,
  ) {
    // Getters, not copies: the connection and the table definitions are replaced when the file is opened again.
    const self = this;
    this.writerContext = {
      get conn() {
        return self.connection();
      },
      open: () => self.reconnect(),
      mutex: this.mutex,
      dataset,
      pipelineName,
      orgId: opts.org?.id ?? null,
      dbPath: path,
      stagingRoot,
      get tableDefs() {
        return self.tableDefs;
      },
      get tableNames() {
        return self.tableNames;
      },
      threads: Number(duckdbSettings(opts).threads),
    };
  }

  /**
   * Takes the run lock and, if the file exists, opens it: creates the dataset's system tables, reads what is stored
   * and deletes staging left by a crashed run. A file that does not exist yet is created at the commit (reconnect).
   */
  static async open(opts: DuckDBDestinationOptions): Promise<DuckDBDestination> {
    if (!opts.dataset) throw toDestinationError(new Error('dataset name is empty'), 'opening the destination', opts.path);
    const inMemory = opts.path === ':memory:';
    const path = inMemory ? opts.path : resolve(opts.path);
    let stagingRoot = opts.stagingDir ? resolve(opts.stagingDir) : tempStagingDir(tmpdir());
    let exists = false;
    if (!inMemory) {
      try {
        exists = await checkDestinationFile(opts.path, path);
        // Once the directory exists, so that its real path is known.
        if (!opts.stagingDir) stagingRoot = defaultStagingRoot(path);
      } catch (error) {
        throw toDestinationError(error, 'opening the destination', path);
      }
    }
    let releaseRun: (() => void) | undefined;
    let runLock: RunLock | undefined;
    let destination: DuckDBDestination | undefined;
    try {
      const releaseFile = holdFile(path, 'run');
      releaseRun = releaseFile;
      if (inMemory) {
        if (!opts.stagingDir) await removeDeadTempStaging(dirname(stagingRoot));
        await rm(stagingRoot, { recursive: true, force: true });
        const forgetTemp = await privateTempStaging(stagingRoot);
        releaseRun = () => (forgetTemp(), releaseFile());
      } else {
        runLock = await acquireRunLock(stagingRoot, path, opts.dataset, opts.refresh);
        await runLock.clearStaging();
      }
      destination = new DuckDBDestination(path, opts.dataset, opts.pipelineName, opts, stagingRoot, runLock, releaseRun);
      if (exists || inMemory) await destination.connect();
      return destination;
    } catch (error) {
      if (destination) await destination.close().catch(() => undefined);
      else {
        await runLock?.release().catch(() => undefined);
        if (!runLock && !inMemory) await rmdir(stagingRoot).catch(() => undefined); // made by acquireRunLock, if empty
        if (inMemory) await rm(stagingRoot, { recursive: true, force: true }).catch(() => undefined);
        releaseRun?.();
      }
      if (error instanceof AbortedError) throw error;
      throw toDestinationError(error, 'opening the destination', path);
    }
  }

  /**
   * True when this run's first connection created the file (it did not exist, and held no table once this had it
   * open, or could not be opened at all): only then may a failed run remove it.
   */
  get createdFile(): boolean {
    // -1: the first connection failed after DuckDB had made the file (a full disk or a file size limit while it
    // wrote the header): a partial file that every later run would refuse as "not a readable DuckDB database".
    return this.existedBeforeFirstConnect === false && this.tablesAtFirstConnect <= 0;
  }

  private connection(): DuckDBConnection {
    if (!this.session) throw new Error(`DuckDB file ${this.path} is not open (the destination is between its reads and its commit)`);
    return this.session.conn;
  }

  /**
   * Opens the file, waiting up to `lockWaitMs` (or `waitMs`) while another process (or this one's dataset) has it.
   * Cancelled (the run's signal) while it waits: an AbortedError, not the lock's. `forCommit`: a refusal says it came
   * at the commit and that nothing of the run was loaded (what it extracted is lost), not 'opening the destination'.
   */
  private async openFile(waitMs = this.opts.lockWaitMs ?? 0, forCommit = false): Promise<void> {
    this.session = await openDuckDBFile({
      path: this.path, settings: duckdbSettings(this.opts), waitMs, forCommit, signal: this.opts.signal,
      onLockWait: (message) => this.opts.onLockWait?.(message),
      beforeOpen: async () => {
        // At the first attempt only: a later one (recording the failed load) finds the file this run's failed
        // first attempt made, which is no reason to keep it.
        if (this.existedBeforeFirstConnect === undefined && this.path !== ':memory:') this.existedBeforeFirstConnect = await stat(this.path).then(() => true, () => false);
      },
    });
  }

  private async connect(forCommit = false): Promise<void> {
    await this.openFile(undefined, forCommit);
    const conn = this.connection();
    const first = !this.connectedBefore;
    this.connectedBefore = true;
    // A file DuckDB has just made for this run holds only its header yet: it becomes the user's alone before the rows.
    if (first && this.existedBeforeFirstConnect === false) await makeOwnerOnly(this.path);
    if (first) {
      this.tablesAtFirstConnect = (await conn.runAndReadAll('SELECT count(*)::INTEGER AS n FROM duckdb_tables()')).getRowObjectsJS()[0]!.n as number;
    }
    // Before anything is read or changed: dlt's dataset is not this loader's to write into (dlt-dataset.ts), and a
    // newer loader's state may mean something else.
    if (first) await refuseDltDataset(conn, this.dataset, this.path);
    if (first) await checkDatasetFormat(conn, this.dataset, this.path, LOADER_VERSION);
    if (first) await refuseOtherOrg(conn, this.dataset, this.path, this.opts.org);
    await setUpSystemTables(conn, this.dataset);
    if (first) this.droppedTables = await forgetDroppedTables(conn, this.dataset);
    this.tableDefs = await readTableDefs(conn, this.dataset);
    this.tableNames = new Set(await readExistingTableNames(conn, this.dataset));
  }

  /** Closes the file until the commit (reconnect), so that other programs can read it meanwhile. No-op in memory. */
  async disconnect(): Promise<void> {
    if (this.path === ':memory:' || !this.session) return;
    await this.mutex.run(async () => {
      this.snapshot = await datasetFingerprint(this.connection(), this.dataset, this.pipelineName);
      this.closeFile();
    });
  }

  /** The run whose lock this run took over, as it ended without releasing it (see RunLock.tookOverFrom). */
  get interruptedRun(): { pid: number; host: string; startedAt: string; refresh?: string[] } | undefined {
    const dead = this.runLock?.tookOverFrom;
    return dead === undefined ? undefined : { pid: dead.pid, host: dead.host, startedAt: dead.startedAt, ...(dead.refresh ? { refresh: dead.refresh } : {}) };
  }

  /**
   * Opens the file again for the commit (creating it if the run started without one) and checks that the dataset is
   * as this run read it: its tables, columns and incremental state. A change by another program means the staged
   * rows may no longer fit, so nothing is loaded.
   */
  async reconnect(): Promise<void> {
    if (this.closed) throw new Error('destination is closed');
    if (this.session) return;
    await this.mutex.run(async () => {
      const hadFile = this.connectedBefore;
      // Another run may have taken the lock over (two runs replacing a dead holder at once), or something cleared the
      // staging directory under this run (an older snapengage-pipeline removes it whole when it opens the file): then
      // neither the staged rows nor "no other run meanwhile" can be trusted.
      if (this.runLock && !(await this.runLock.stillHeld())) {
        throw new DestinationError(
          `committing: the run lock ${join(this.stagingRoot, RUN_LOCK_FILE)} was removed or taken by another run while this run was extracting; nothing of this run was loaded`,
          'changed', 'run the pipeline again, one run at a time (and the same snapengage-pipeline version for every run on this file)', this.path,
        );
      }
      if (hadFile && !(await stat(this.path).then(() => true, () => false))) {
        // Creating it again would leave a file of system tables where the user removed the database.
        throw new DestinationError(
          `committing: DuckDB file ${this.path} was removed by another program while this run was extracting; nothing of this run was loaded`,
          'changed', 'run the pipeline again (it starts a new file)', this.path,
        );
      }
      // A file read at the start needs no setup again: if the fingerprint matches, its system tables, table
      // definitions and names are the ones in memory (measured: 30 → 15 ms of a rerun's fixed cost).
      if (hadFile) await this.openFile(undefined, true);
      else {
        // A file not there yet appears whole, never without DuckDB's header (new-file.ts).
        // 'found': a file another program made at the path since the run began: not this run's to chmod, nor to remove.
        const made = await createDatabaseFile(this.path, this.stagingRoot, duckdbSettings(this.opts));
        this.existedBeforeFirstConnect ??= made === 'found';
        await this.connect(true);
      }
      const now = await datasetFingerprint(this.connection(), this.dataset, this.pipelineName);
      const expected = hadFile ? this.snapshot : await datasetFingerprint(this.connection(), this.dataset, this.pipelineName, { empty: true });
      if (now !== expected) {
        this.closeFile();
        throw new DestinationError(
          `committing: dataset ${this.dataset} in ${this.path} was changed by another program while this run was extracting (its tables, columns, incremental state or loads); nothing of this run was loaded`,
          'changed', 'run the pipeline again', this.path,
        );
      }
    });
  }

  private closeFile(): void {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    try {
      session.conn.closeSync();
      session.instance.closeSync();
    } finally {
      session.releaseFile();
    }
  }

  /** The other pipeline names with a state row for a resource in this dataset (a refresh would drop their records). */
  async otherPipelinesWithState(resource: string): Promise<string[]> {
    return this.mutex.run(async () => {
      if (!this.session) return []; // no file yet
      const r = await this.connection().runAndReadAll(
        `SELECT DISTINCT pipeline_name FROM ${quoteIdent(this.dataset)}."_pipeline_state" WHERE pipeline_name <> $1 AND resource = $2 ORDER BY 1`,
        [this.pipelineName, resource],
      );
      return r.getRowObjectsJS().map((row) => String(row.pipeline_name));
    });
  }

  /**
   * The UTC day the newest loaded load of a resource started (any pipeline name, samples too: their rows stay while
   * their state holds no window), by the clock of the run that made it; undefined when none.
   */
  async lastLoadDay(resource: string): Promise<string | undefined> {
    return this.mutex.run(async () => {
      if (!this.session) return undefined; // no file yet
      // epoch_ms: a format-1 file's TIMESTAMP holds UTC, a later one's TIMESTAMPTZ an instant; both read as the instant.
      const r = await this.connection().runAndReadAll(
        `SELECT epoch_ms(max(started_at)) AS ms FROM ${quoteIdent(this.dataset)}."_pipeline_loads" WHERE resource = $1 AND status = 'loaded'`,
        [resource],
      );
      const ms = r.getRowObjectsJS()[0]?.ms;
      return ms === null || ms === undefined ? undefined : new Date(Number(ms)).toISOString().slice(0, 10);
    });
  }

  /** Last committed state of a resource for this pipeline: undefined when there is no row, null for an empty one. */
  async readState(resource: string): Promise<unknown | undefined> {
    return this.mutex.run(async () => {
      if (!this.session) return undefined; // no file yet
      const r = await this.connection().runAndReadAll(
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
    // A refresh replaces every table of the resource, the stranded ones too.
    const dropped = opts.refresh ? undefined : this.droppedTables.find((d) => d.resource === opts.resource.name && d.action === 'blocked');
    if (dropped) {
      const qualified = (table: string) => `${quoteIdent(this.dataset)}.${quoteIdent(table)}`;
      const drops = dropped.remaining.map((t) => `DROP TABLE ${qualified(t)};`).join(' ');
      throw new DestinationError(
        `loading ${opts.resource.name}: table ${qualified(dropped.under!)} in ${this.path} was dropped, but the tables below it (${dropped.remaining.join(', ')}) remain, with rows that hang under its rows`,
        'schema', `to reload ${opts.resource.name}, run with --refresh --resources ${opts.resource.name} (runPipeline's refresh: true), or drop them too (${drops}); or restore ${qualified(dropped.under!)}`, this.path,
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
    return new DuckDBResourceWriter(this.writerContext, opts);
  }

  /**
   * Records a failed load of a resource (its data was not committed). Between the reads and the commit this opens
   * the file again (without waiting); a file that does not exist is not created for it.
   */
  async recordFailedLoad(loadId: string, resource: string, error: string, startedAt: Date, limitPages?: number): Promise<void> {
    await this.mutex.run(async () => {
      try {
        if (!this.session) {
          if (!(await stat(this.path).then(() => true, () => false))) return;
          // Never waits: the run has failed already, and the failed row is best effort (a busy file goes without it).
          await this.openFile(0);
        }
        await writeFailedRow(this.connection(), this.dataset, {
          loadId, pipelineName: this.pipelineName, resource, startedAt, error, limitPages, orgId: this.opts.org?.id,
        });
      } catch (e) {
        throw toDestinationError(e, `recording the failed load of ${resource}`, this.path);
      }
    });
  }

  /**
   * Closes the file and releases the run lock and staging. `removeCreatedFile`: a failed run that created the file
   * (see createdFile) removes it, with DuckDB's WAL, before another run can take the lock. `checkpointFailed`: DuckDB
   * could not fold the WAL into the file as it closed (a full disk): what is committed waits in the WAL (checkpoint.ts).
   */
  async close(options: { removeCreatedFile?: boolean } = {}): Promise<{ checkpointFailed?: CheckpointFailure }> {
    if (this.closed) return {};
    this.closed = true;
    try {
      // The checkpoint closeSync() would run, as a statement whose failure is heard; none for a file about to be removed.
      const removing = options.removeCreatedFile === true && this.createdFile;
      const failed = await this.mutex.run(async () => {
        const error = this.session && this.path !== ':memory:' && !removing ? await checkpoint(this.session.conn) : undefined;
        this.closeFile();
        return error;
      });
      if (removing) {
        // The file itself: through a symbolic link, the file it points at, not the user's link.
        const file = await realpath(this.path).catch(() => undefined);
        for (const created of [file, `${this.path}.wal`]) if (created) await rm(created, { force: true }).catch(() => undefined);
      }
      const checkpointFailed = failed === undefined ? undefined : await checkpointFailure(failed, this.path);
      return checkpointFailed ? { checkpointFailed } : {};
    } finally {
      if (this.runLock) await this.runLock.release().catch(() => undefined);
      else await rm(this.stagingRoot, { recursive: true, force: true }).catch(() => undefined);
      this.releaseRun();
    }
  }
}
