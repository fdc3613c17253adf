// One resource's load: records are normalized and staged as NDJSON while they arrive; commit() moves them into
// the dataset in ONE transaction together with the new tables/columns, the incremental state and the
// `_pipeline_loads` row. Until COMMIT nothing of the load is visible; a crash leaves only staging files,
// which the next open deletes.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { DuckDBConnection } from '../duckdb.js';
import type { LoadableResource } from 'snapengage-client';
import { quoteIdent } from '../normalize/naming.js';
import { ResourceNormalizer, type StagedKind, type TableState } from '../normalize/normalizer.js';
import { cloneTableDef, type TableDef } from '../normalize/schema.js';
import { applySchemaChanges } from './schema-changes.js';
import { adoptRowsOfOtherLoads, rowIdsOf, type AdoptionLimits, type AdoptionResult } from './adopt.js';
import { DestinationError, toDestinationError } from './errors.js';
import type { Mutex } from './mutex.js';
import { ROOT_STAGING_KEYS, readJson, rootKeyColumn, stagedSelect, type Exclusions, type StagedSelect } from './staged-sql.js';
import { refuseKeyTheStoredRowsLack } from './new-key.js';
import { ALREADY_STORED_TABLE, findStoredKeys } from './stored-keys.js';
import { STAGING_FLUSH_BYTES, StagingArea, type TableStagingFile } from './staging.js';
import { DATASET_FORMAT, sqlTimestamp } from './system-tables.js';
import { UNCHANGED_TABLE, countRows, findUnchanged, type TableThreads } from './unchanged.js';
import { LOADER_VERSION } from '../version.js';

export type WriteDisposition = 'merge' | 'append' | 'replace';

export interface ResourceWriterOptions {
  loadId: string;
  resource: LoadableResource;
  writeDisposition: WriteDisposition;
  /** Source field names; [] makes merge behave as append. */
  primaryKey: string[];
  maxNestingDepth: number;
  /** false stages every row one by one instead of taking the normalizer's fast paths (same tables; for tests). */
  fastPath?: boolean;
  /** How a takeover pages its reads and when it copies instead of updating (see adopt.ts; for tests). */
  adoption?: AdoptionLimits;
  /** Called after each step of the commit (what `--verbose` prints). */
  onStep?: (step: LoadStep) => void;
  /**
   * An append that re-reads records it may have appended before (an incremental resource's lookback days, or the
   * cases of those days for a child): records whose primary key is already stored are not appended again.
   */
  skipStoredKeys?: boolean;
  /**
   * A merge that reads again records earlier loads stored (a pipeline run: the lookback days, or a whole resource):
   * a primary key the stored rows have no value for is refused, as it would store those records twice (new-key.ts).
   * An append has the same with `skipStoredKeys`.
   */
  mergeReadsAgain?: boolean;
}

/** One step of a commit: `schema` (new tables and columns), `adopt` (a merge taking over rows that append or replace
 * loaded; rows = records kept, see adopt.ts), `compare` (a merge finding records stored exactly as
 * staged; rows = those records), `delete` (old rows a merge or replace removes), `insert` (one table's rows),
 * `commit` (state, load record and COMMIT). */
export interface LoadStep {
  resource: string;
  step: 'schema' | 'adopt' | 'compare' | 'delete' | 'insert' | 'commit';
  table?: string;
  rows?: number;
  durationMs: number;
}

export interface CommitResult {
  /** Rows written per table. */
  rowCounts: Record<string, number>;
  /** Merged records skipped because they were already stored exactly as staged (see unchanged.ts). */
  unchangedRecords: number;
  /** Merged records without a primary-key value (matched by content). */
  keylessRecords: number;
  /** Stored records of append/replace loads (or of a merge on another key) that this merge took over (adopt.ts). */
  adoptedRecords: number;
  /** Stored records that takeover removed because a newer row had the same key (AdoptionResult.removed). */
  adoptionRemovedRecords: number;
  /** Set when a takeover was due but left the rows as they were: the primary-key field that held objects (adopt.ts). */
  notTakenOverKeyField?: string;
  /** Appended records left out because their primary key was already stored (`skipStoredKeys`). */
  alreadyStoredRecords: number;
  /**
   * Records left out because another record of this load had their primary key (a merge keeps the last, an append the
   * first): the API answering a record twice, or a primaryKey that is not unique. Those of an append's stored keys are
   * counted in alreadyStoredRecords.
   */
  repeatedKeyRecords: number;
  /** Values kept in `_overflow` columns, their tables having no room for more columns (normalize/table-tree.ts). */
  overflowValues: number;
}

export interface ResourceWriter {
  /** Normalizes and stages records. Calls on one writer are queued, so overlapping calls are safe. */
  write(records: Record<string, unknown>[]): Promise<void>;
  /** Loads the staged rows, the state and the load record in one transaction; row counts per table. */
  commit(newState: unknown): Promise<CommitResult>;
  /** Drops the staged data; the dataset is untouched. */
  abort(): Promise<void>;
  /** Refuses, writing nothing, a load that commit() would refuse for its data (new-key.ts); run before any commit. */
  checkBeforeCommit?(): Promise<void>;
}

/** What the destination shares with its writers. */
export interface WriterContext {
  /** The open connection; between a run's reads and its commit there is none (see `open`). */
  conn: DuckDBConnection;
  /** Opens the database file for the commit, if it is not open (DuckDBDestination.reconnect). */
  open(): Promise<void>;
  mutex: Mutex;
  dataset: string;
  pipelineName: string;
  dbPath: string;
  stagingRoot: string;
  /** Committed table definitions of the dataset (all resources); updated after each commit. */
  tableDefs: Map<string, TableDef>;
  /** Every table name in the dataset schema. */
  tableNames: Set<string>;
  /** DuckDB worker threads the connection runs with. */
  threads: number;
}

// A table with more columns than this is loaded by one DuckDB thread: each thread holds a chunk of wide rows (and a
// JSON buffer) in flight, and a single-file INSERT into a wide table is no faster with two (measured at 200k cases:
// 40-column logs 1.2 s with 1 or 2 threads, peak RSS −90 MiB). Narrow tables with many rows (transcripts) gain from
// every thread.
const WIDE_TABLE_COLUMNS = 16;

/** Staging file of a table's lines of one kind; `\u0000` cannot occur in a table name. */
function fileKey(t: TableState, kind: StagedKind): string {
  return kind === 'rows' ? t.def.name : `${t.def.name}\u0000${kind}`;
}

export class DuckDBResourceWriter implements ResourceWriter {
  private readonly normalizer: ResourceNormalizer;
  private readonly staging: StagingArea;
  private readonly startedAt = new Date();
  private seq = 0;
  /** Records staged with a value for every primary-key field (new-key.ts). */
  private keyedRecords = 0;
  private readonly stagingFiles = new Map<TableState, Partial<Record<StagedKind, TableStagingFile>>>();
  private queue: Promise<void> = Promise.resolve();
  private done = false;

  constructor(
    private readonly ctx: WriterContext,
    private readonly opts: ResourceWriterOptions,
  ) {
    const resource = opts.resource.name;
    const stored = [...ctx.tableDefs.values()].filter((t) => t.resource === resource);
    this.normalizer = new ResourceNormalizer(
      {
        resource,
        recordSchema: opts.resource.recordSchema,
        // Root ids come from the key only where a merge matches on it. Appended or replaced records may repeat a key
        // (in one load or across loads); key-derived ids would then repeat too and join children to every copy.
        primaryKey: this.merges ? opts.primaryKey : [],
        maxNestingDepth: opts.maxNestingDepth,
        rowIdSalt: `${opts.loadId}|${randomUUID()}`,
        ...(opts.fastPath === false ? { fastPath: false } : {}),
        stageKeys: this.merges,
      },
      stored,
      ctx.tableNames,
    );
    this.staging = new StagingArea(join(ctx.stagingRoot, `${opts.loadId}-${resource}-${randomUUID().slice(0, 8)}`));
  }

  /** Whether this writer merges on a key (merge without a primary key appends). */
  private get merges(): boolean {
    return this.opts.writeDisposition === 'merge' && this.opts.primaryKey.length > 0;
  }

  /** This writer's staging directory (created on the first write). */
  get stagingDir(): string {
    return this.staging.dir;
  }

  write(records: Record<string, unknown>[]): Promise<void> {
    const next = this.queue.then(() => this.writeNow(records));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async writeNow(records: Record<string, unknown>[]): Promise<void> {
    if (this.done) throw new Error(`writer for ${this.opts.resource.name} is already committed or aborted`);
    const staging = this.staging;
    // The file of each table and kind, found once: a load stages millions of lines.
    const files = this.stagingFiles;
    const sink = (table: TableState, line: string, kind: StagedKind = 'rows') => {
      let byKind = files.get(table);
      if (!byKind) files.set(table, (byKind = {}));
      (byKind[kind] ??= staging.file(fileKey(table, kind))).add(line);
    };
    try {
      const key = this.opts.primaryKey;
      for (const record of records) {
        if (key.length > 0 && key.every((k) => record[k] !== null && record[k] !== undefined)) this.keyedRecords++;
        this.normalizer.normalize(record, this.seq++, sink);
        if (staging.bufferedLength >= STAGING_FLUSH_BYTES) await staging.flush();
      }
      await staging.flush();
    } catch (error) {
      throw toDestinationError(error, `staging ${this.opts.resource.name}`, staging.dir);
    }
  }

  async abort(): Promise<void> {
    this.done = true;
    await this.queue;
    await this.staging.remove();
  }

  async checkBeforeCommit(): Promise<void> {
    await this.queue;
    if (this.done) return;
    try {
      await this.staging.close();
    } catch (error) {
      throw toDestinationError(error, `staging ${this.opts.resource.name}`, this.staging.dir);
    }
    await this.ctx.open();
    await this.ctx.mutex.run(() => this.refuseNewKey(this.normalizer.tables()));
  }

  /** A merge, or an append that skips stored keys, on a key the stored rows have no value for (new-key.ts). */
  private async refuseNewKey(tables: readonly TableState[]): Promise<void> {
    const readsAgain = this.merges ? this.opts.mergeReadsAgain : this.opts.writeDisposition === 'append' && this.opts.skipStoredKeys;
    if (readsAgain !== true) return;
    await refuseKeyTheStoredRowsLack({
      conn: this.ctx.conn, dataset: this.ctx.dataset, dbPath: this.ctx.dbPath, resource: this.opts.resource.name,
      primaryKey: this.opts.primaryKey, tables, keyedRecords: this.keyedRecords,
      mergeKeys: this.merges ? this.staging.get(fileKey(this.normalizer.root, 'keys')) : undefined,
    });
  }

  async commit(newState: unknown): Promise<CommitResult> {
    await this.queue;
    if (this.done) throw new Error(`writer for ${this.opts.resource.name} is already committed or aborted`);
    this.done = true;
    const resource = this.opts.resource.name;
    try {
      try {
        await this.staging.close();
      } catch (error) {
        throw toDestinationError(error, `staging ${resource}`, this.staging.dir);
      }
      const tables = this.normalizer.tables();
      this.checkTableNames(tables);
      await this.ctx.open();
      const result = await this.ctx.mutex.run(() => this.transaction(tables, newState));
      for (const t of tables) {
        this.ctx.tableDefs.set(t.def.name, cloneTableDef(t.def));
        this.ctx.tableNames.add(t.def.name);
        t.isNew = false;
        t.newColumns = [];
      }
      return result;
    } finally {
      await this.staging.remove().catch(() => undefined);
    }
  }

  /** Another writer may have created a table of the same name since this writer started. */
  private checkTableNames(tables: readonly TableState[]): void {
    for (const t of tables) {
      if (!t.isNew) continue;
      const other = this.ctx.tableDefs.get(t.def.name);
      if (other && (other.resource !== t.def.resource || other.nodeKey !== t.def.nodeKey)) {
        throw new DestinationError(
          `committing ${t.def.resource}: table ${t.def.name} was created meanwhile for ${other.resource}`,
          'schema', 'rerun the pipeline (names are re-allocated on the next run)', this.ctx.dbPath,
        );
      }
    }
  }

  private async transaction(tables: readonly TableState[], newState: unknown): Promise<CommitResult> {
    const { conn } = this.ctx;
    const resource = this.opts.resource.name;
    await conn.run('BEGIN TRANSACTION');
    try {
      await this.refuseNewKey(tables);
      let started = performance.now();
      await applySchemaChanges(conn, this.ctx.dataset, this.opts.loadId, tables);
      this.reportStep('schema', started);
      let adoption: AdoptionResult = { kept: 0 };
      if (this.merges) {
        started = performance.now();
        adoption = await adoptRowsOfOtherLoads({
          conn, dataset: this.ctx.dataset, resource, primaryKey: this.opts.primaryKey, tables,
          ...this.opts.adoption,
        });
        if (adoption.kept > 0) this.reportStep('adopt', started, { rows: adoption.kept });
      }
      const { rowCounts, unchanged, alreadyStored, repeated } = await this.loadRows(tables);
      started = performance.now();
      await this.writeState(newState);
      await this.writeLoadRow(rowCounts);
      await conn.run('COMMIT');
      this.reportStep('commit', started);
      return {
        rowCounts, unchangedRecords: unchanged, keylessRecords: this.normalizer.keylessRecords,
        adoptedRecords: adoption.kept, adoptionRemovedRecords: adoption.removed ?? 0, notTakenOverKeyField: adoption.objectKeyField, alreadyStoredRecords: alreadyStored,
        repeatedKeyRecords: repeated,
        overflowValues: this.normalizer.overflowValues,
      };
    } catch (error) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw toDestinationError(error, `committing ${resource}`, this.ctx.dbPath);
    }
  }

  private reportStep(step: LoadStep['step'], started: number, detail: { table?: string; rows?: number } = {}): void {
    this.opts.onStep?.({ resource: this.opts.resource.name, step, ...detail, durationMs: performance.now() - started });
  }

  private target(t: TableState): string {
    return `${quoteIdent(this.ctx.dataset)}.${quoteIdent(t.def.name)}`;
  }

  private registry(name: string): string {
    return `${quoteIdent(this.ctx.dataset)}.${quoteIdent(name)}`;
  }

  private async loadRows(tables: readonly TableState[]): Promise<{ rowCounts: Record<string, number>; unchanged: number; alreadyStored: number; repeated: number }> {
    const { conn } = this.ctx;
    const rowCounts: Record<string, number> = {};
    const root = this.normalizer.root;
    const rootFiles = [this.staging.get(root.def.name), this.staging.get(fileKey(root, 'record'))]
      .filter((f): f is TableStagingFile => f !== undefined && f.rows > 0);
    const rootRows = rootFiles.reduce((n, f) => n + f.rows, 0);
    if (this.opts.writeDisposition === 'replace') {
      const started = performance.now();
      let deleted = 0;
      for (const t of tables) deleted += Number((await conn.run(`DELETE FROM ${this.target(t)}`)).rowsChanged);
      this.reportStep('delete', started, { rows: deleted });
    }
    rowCounts[root.def.name] = 0;
    if (rootRows === 0) return { rowCounts, unchanged: 0, alreadyStored: 0, repeated: 0 };

    const exclusions: Exclusions = {};
    const skipped = await this.excludeStoredKeys(exclusions);
    const alreadyStored = skipped.stored;
    const { unchanged, toWrite, superseded } = this.merges
      ? await this.prepareMerge(tables, exclusions)
      : { unchanged: 0, toWrite: rootRows - skipped.stored - skipped.repeated, superseded: 0 };
    // Children first, the root last: DuckDB keeps each table's last, partly filled row group in memory until COMMIT,
    // and the root's rows are the widest (measured at 200k cases: the commit's peak −20 to −50 MiB, no slower).
    const inserted = new Map<string, number>();
    for (const t of toWrite > 0 ? [...tables].reverse() : []) {
      const selects = this.selects(t, exclusions);
      if (selects.length === 0) continue;
      const started = performance.now();
      const rows = await this.insertAll(t, selects.map((s) => `INSERT INTO ${this.target(t)} (${s.columns.join(', ')}) ${s.sql}`));
      inserted.set(t.def.name, rows);
      this.reportStep('insert', started, { table: t.def.name, rows });
    }
    for (const t of tables) if (inserted.has(t.def.name)) rowCounts[t.def.name] = inserted.get(t.def.name)!;
    for (const temp of ['_stage_roots', '_superseded', '_unchanged', '_replaced', '_already_stored']) await conn.run(`DROP TABLE IF EXISTS temp.main."${temp}"`);
    return { rowCounts, unchanged, alreadyStored, repeated: skipped.repeated + superseded };
  }

  /** An append with `skipStoredKeys`: leaves out records whose key is stored already (stored-keys.ts); how many. */
  private async excludeStoredKeys(exclusions: Exclusions): Promise<{ stored: number; repeated: number }> {
    const keyFields = this.opts.primaryKey;
    if (this.opts.writeDisposition !== 'append' || !this.opts.skipStoredKeys || keyFields.length === 0) return { stored: 0, repeated: 0 };
    const root = this.normalizer.root;
    const found = await findStoredKeys(this.ctx.conn, root, keyFields, this.selects(root, {}), this.target(root));
    if (found.stored + found.repeated > 0) exclusions.unchanged = ALREADY_STORED_TABLE;
    return found;
  }

  /**
   * Before a merge's inserts: finds in-load duplicates and, when the root table already has rows, the records stored
   * unchanged (left out, see unchanged.ts) and deletes the old rows of the others, children included. Fills
   * `exclusions`; returns how many records are unchanged and how many are to be written.
   */
  private async prepareMerge(tables: readonly TableState[], exclusions: Exclusions): Promise<{ unchanged: number; toWrite: number; superseded: number }> {
    const { conn } = this.ctx;
    const root = this.normalizer.root;
    // The `_row_id` and sequence of every staged root row, from the short key lines (see StagedKind). A new root
    // table needs them only to find duplicates, so they are kept in a temp table only when old rows may match.
    const keysFile = this.staging.get(fileKey(root, 'keys'))!;
    const keys = `SELECT "#id" AS _row_id, "#s" AS _seq FROM ${readJson(keysFile, ROOT_STAGING_KEYS)}`;
    if (!root.isNew) await conn.run(`CREATE OR REPLACE TEMP TABLE "_stage_roots" AS ${keys}`);
    // The last occurrence of a key within the load wins: the earlier ones (usually none) are superseded.
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_superseded" AS SELECT _seq FROM ${root.isNew ? `(${keys})` : 'temp.main."_stage_roots"'}
      QUALIFY row_number() OVER (PARTITION BY _row_id ORDER BY _seq DESC) > 1`);
    const superseded = await countRows(conn, 'temp.main."_superseded"');
    if (superseded > 0) exclusions.superseded = 'temp.main."_superseded"';
    // A root table created in this transaction has no old rows, and neither have its children.
    if (root.isNew) return { unchanged: 0, toWrite: keysFile.rows, superseded };

    let started = performance.now();
    const compared = tables.map((t) => ({ table: t, target: this.target(t), staged: this.selects(t, exclusions) }));
    const unchanged = await findUnchanged(conn, this.target(root), compared, this.tableThreads);
    this.reportStep('compare', started, { rows: unchanged });
    if (unchanged > 0) exclusions.unchanged = UNCHANGED_TABLE;
    // The old rows of the other staged keys, and ALL their old child rows, go.
    started = performance.now();
    await conn.run(`CREATE OR REPLACE TEMP TABLE "_replaced" AS
      SELECT _row_id FROM temp.main."_stage_roots" EXCEPT SELECT _row_id FROM ${UNCHANGED_TABLE}`);
    const toWrite = await countRows(conn, 'temp.main."_replaced"');
    let deleted = 0;
    for (const t of toWrite > 0 ? tables : []) {
      if (t.isNew) continue;
      const sql = `DELETE FROM ${this.target(t)} WHERE ${quoteIdent(rootKeyColumn(t))} IN (SELECT _row_id FROM temp.main."_replaced")`;
      deleted += Number((await conn.run(sql)).rowsChanged);
    }
    this.reportStep('delete', started, { rows: deleted });
    return { unchanged, toWrite, superseded };
  }

  /** The SELECTs of a table's staged files: row lines, record lines (root) and list lines. */
  private selects(t: TableState, exclusions: Exclusions): StagedSelect[] {
    const kinds: StagedKind[] = t.isRoot ? ['rows', 'record'] : ['rows', 'list'];
    return kinds.flatMap((kind) => {
      const file = this.staging.get(fileKey(t, kind));
      return file && file.rows > 0 ? [stagedSelect(t, kind, file, this.opts.loadId, exclusions)] : [];
    });
  }

  /** Runs a table's INSERTs with the DuckDB threads it should have (see WIDE_TABLE_COLUMNS); the rows inserted. */
  private async insertAll(t: TableState, statements: readonly string[]): Promise<number> {
    const { conn } = this.ctx;
    return this.tableThreads.run(t, async () => {
      let rows = 0;
      for (const sql of statements) rows += Number((await conn.run(sql)).rowsChanged);
      return rows;
    });
  }

  /**
   * Runs statements on a table with one DuckDB thread when it is wide (WIDE_TABLE_COLUMNS), else with all; `single`
   * says which tables those are (the merge compare fingerprints them alone).
   */
  private readonly tableThreads: TableThreads = {
    single: (t) => this.ctx.threads > 1 && t.def.columns.length > WIDE_TABLE_COLUMNS,
    run: async (t, statements) => {
      const { conn, threads } = this.ctx;
      const single = this.tableThreads.single(t);
      if (single) await conn.run('SET threads = 1');
      try {
        return await statements();
      } finally {
        // Only speed depends on it; a failure here must not hide the statement's own error.
        if (single) await conn.run(`SET threads = ${threads}`).catch(() => undefined);
      }
    },
  };

  private async writeState(newState: unknown): Promise<void> {
    const { conn } = this.ctx;
    const table = this.registry('_pipeline_state');
    const resource = this.opts.resource.name;
    await conn.run(`DELETE FROM ${table} WHERE pipeline_name = $1 AND resource = $2`, [this.ctx.pipelineName, resource]);
    await conn.run(`INSERT INTO ${table} VALUES ($1, $2, CAST($3 AS JSON), $4, CAST($5 AS TIMESTAMP))`, [
      this.ctx.pipelineName, resource, JSON.stringify(newState ?? null), this.opts.loadId, sqlTimestamp(new Date()),
    ]);
  }

  private async writeLoadRow(rowCounts: Record<string, number>): Promise<void> {
    await this.ctx.conn.run(
      `INSERT INTO ${this.registry('_pipeline_loads')} (load_id, pipeline_name, resource, status, started_at, finished_at, row_counts, row_ids, loader_version, dataset_format)
       VALUES ($1, $2, $3, 'loaded', CAST($4 AS TIMESTAMP), CAST($5 AS TIMESTAMP), CAST($6 AS JSON), $7, $8, $9)`,
      [
        this.opts.loadId, this.ctx.pipelineName, this.opts.resource.name, sqlTimestamp(this.startedAt), sqlTimestamp(new Date()),
        JSON.stringify(rowCounts), rowIdsOf(this.merges ? this.opts.primaryKey : null), LOADER_VERSION, DATASET_FORMAT,
      ],
    );
  }
}
