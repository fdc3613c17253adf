// One resource's load: records are normalized and staged as NDJSON while they arrive; commit() moves them into
// the dataset in ONE transaction together with the new tables/columns, the incremental state and the
// `_pipeline_loads` row. Until COMMIT nothing of the load is visible; a crash leaves only staging files,
// which the next open deletes. The commit's row step (staged lines into the tables) is staged-rows.ts.
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '../duckdb.js';
import type { WriteDisposition } from '../config.js';
import type { LoadStep } from '../run-records.js';
import { printable, type LoadableResource } from 'snapengage-client';
import { quoteIdent } from '../normalize/naming.js';
import { ResourceNormalizer, type StagedKind, type TableState } from '../normalize/normalizer.js';
import { ContractViolation, type ContractDiscards, type SchemaContractModes } from '../normalize/contract.js';
import { cloneTableDef, type TableDef } from '../normalize/schema.js';
import type { SchemaReport } from '../normalize/schema-report.js';
import { applySchemaChanges } from './schema-changes.js';
import { commitError } from './changed-by-hand.js';
import { writeComments } from './comments.js';
import { removeResourceForRefresh, tablesOwnedBy } from './refresh.js';
import { adoptRowsOfOtherLoads, rowIdsOf, type AdoptionLimits, type AdoptionResult } from './adopt.js';
import { ConfigError } from '../errors.js';
import { deepestPath } from '../normalize/js-values.js';
import { DestinationError, toDestinationError } from './errors.js';
import type { Mutex } from './mutex.js';
import { refuseKeyTheStoredRowsLack } from './new-key.js';
import { StagedRowLoader, fileKey } from './staged-rows.js';
import { STAGING_FLUSH_BYTES, StagingArea, type TableStagingFile } from './staging.js';
import { migrateSystemTimes, sqlTimestamp } from './system-tables.js';
import { writeLoadedRow } from './load-row.js';

export interface ResourceWriterOptions {
  loadId: string;
  resource: LoadableResource;
  writeDisposition: WriteDisposition;
  /** Source field names; [] makes merge behave as append. */
  primaryKey: string[];
  maxNestingDepth: number;
  /** What the load may add to the resource's tables (normalize/contract.ts); default evolve. */
  schemaContract?: SchemaContractModes;
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
  /** `--limit-pages` of a sample, recorded in its `_pipeline_loads` row. */
  limitPages?: number | undefined;
  /**
   * `--refresh`: load as if the resource had never been loaded, and at the commit, in its transaction, replace every
   * table the resource owns and its state (refresh.ts). Until then its stored tables are left alone.
   */
  refresh?: boolean;
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
  /** New columns and tables for undeclared fields, new variant columns, spec/stored type differences. */
  schema: SchemaReport;
  /** Records and values the schema contract left out (discard_row, discard_value); absent when none. */
  contractDiscards?: ContractDiscards;
  /** With `refresh`: the stored tables the commit dropped and replaced (empty: nothing was stored). */
  replacedTables?: string[];
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
  /** The run's SNAPENGAGE_ORG_ID (null when unset), recorded in each load row (dataset-org.ts). */
  orgId: string | null;
  dbPath: string;
  stagingRoot: string;
  /** Committed table definitions of the dataset (all resources); updated after each commit. */
  tableDefs: Map<string, TableDef>;
  /** Every table name in the dataset schema. */
  tableNames: Set<string>;
  /** DuckDB worker threads the connection runs with. */
  threads: number;
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
    const owned = tablesOwnedBy(ctx.tableDefs, resource);
    // A refresh builds its tables from the spec alone (current types and depth), under the names its old tables free.
    const stored = opts.refresh ? [] : owned;
    const ownedNames = new Set(owned.map((t) => t.name.toLowerCase()));
    const taken = opts.refresh ? [...ctx.tableNames].filter((n) => !ownedNames.has(n.toLowerCase())) : ctx.tableNames;
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
        ...(opts.schemaContract ? { schemaContract: opts.schemaContract } : {}),
        ...(opts.refresh ? { refresh: true } : {}),
      },
      stored,
      taken,
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

  /** Where a full disk's hint says to free space: the directory holding the staging root (by default the file's). */
  private get stagingDisk(): string {
    return dirname(this.ctx.stagingRoot);
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
    let current: Record<string, unknown> | undefined;
    try {
      const key = this.opts.primaryKey;
      for (const record of records) {
        current = record;
        const keyed = key.length > 0 && key.every((k) => record[k] !== null && record[k] !== undefined);
        if (this.normalizer.normalize(record, this.seq++, sink) && keyed) this.keyedRecords++;
        if (staging.bufferedLength >= STAGING_FLUSH_BYTES) await staging.flush();
      }
      await staging.flush();
    } catch (error) {
      // A value a map step returned that no column can hold (the normalizer names it): the config's to fix.
      if (error instanceof ConfigError) throw error;
      if (error instanceof ContractViolation) throw new DestinationError(error.what, 'schema', error.fix, this.ctx.dbPath, { cause: error });
      if (current && error instanceof RangeError && /call stack/i.test(error.message)) throw this.tooDeep(current, error);
      throw toDestinationError(error, `staging ${this.opts.resource.name}`, staging.dir, this.stagingDisk);
    }
  }

  /**
   * A record nested deeper than the normalizer's recursion (JSON.stringify of a JSON column) can go: thousands of
   * levels, which no API answer has. Named with its field and depth instead of a bare RangeError that asked for a bug
   * report: the fix is the config's (a step that cuts or drops the field), and nothing of the run is loaded.
   */
  private tooDeep(record: Record<string, unknown>, error: RangeError): DestinationError {
    const name = this.opts.resource.name;
    const key = this.opts.primaryKey.length > 0 ? this.opts.primaryKey : ['id'];
    const id = key.map((k) => record[k]).filter((v) => typeof v === 'string' || typeof v === 'number');
    const which = id.length === key.length ? `record ${printable(id.join(', '))}` : 'a record';
    const { depth, path, cut } = deepestPath(record);
    const at = printable([name, ...path].join('.')) + (cut ? '…' : '');
    return new DestinationError(
      `staging ${name}: ${name} ${which} holds a value nested ${depth.toLocaleString('en-US')} levels deep (${at}), more than the loader can store (its stack ran out)`,
      'schema',
      `drop or cut that field with a map step (resources.${name}.steps), or filter the record out; nothing of this run was loaded`,
      this.staging.dir,
      { cause: error },
    );
  }

  async abort(): Promise<void> {
    this.done = true;
    await this.queue;
    await this.staging.remove();
  }

  async checkBeforeCommit(): Promise<void> {
    await this.queue;
    if (this.done) return;
    await this.closeStaging();
    await this.ctx.open();
    await this.ctx.mutex.run(() => this.refuseNewKey(this.normalizer.tables()));
  }

  /** A merge, or an append that skips stored keys, on a key the stored rows have no value for (new-key.ts). */
  private async refuseNewKey(tables: readonly TableState[]): Promise<void> {
    if (this.opts.refresh) return; // the stored rows are replaced, not read again
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
    try {
      await this.closeStaging();
      const tables = this.normalizer.tables();
      this.checkTableNames(tables);
      await this.ctx.open();
      const committed = await this.ctx.mutex.run(() => this.transaction(tables, newState));
      // Before the tables are marked committed: the report says what this load added.
      const discards = this.normalizer.contractDiscards();
      const result: CommitResult = { ...committed, schema: this.normalizer.schemaReport(), ...(discards ? { contractDiscards: discards } : {}) };
      if (this.opts.refresh) {
        for (const old of tablesOwnedBy(this.ctx.tableDefs, this.opts.resource.name)) {
          this.ctx.tableDefs.delete(old.name);
          this.ctx.tableNames.delete(old.name);
        }
      }
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

  /** Writes out what is still buffered (before the check and before the commit: closing twice is a no-op). */
  private async closeStaging(): Promise<void> {
    try {
      await this.staging.close();
    } catch (error) {
      throw toDestinationError(error, `staging ${this.opts.resource.name}`, this.staging.dir, this.stagingDisk);
    }
  }

  /** Another writer may have created a table of the same name since this writer started. */
  private checkTableNames(tables: readonly TableState[]): void {
    for (const t of tables) {
      if (!t.isNew) continue;
      const other = this.ctx.tableDefs.get(t.def.name);
      if (this.opts.refresh && other?.resource === t.def.resource) continue; // replaced in the same transaction
      if (other && (other.resource !== t.def.resource || other.nodeKey !== t.def.nodeKey)) {
        throw new DestinationError(
          `committing ${t.def.resource}: table ${t.def.name} was created meanwhile for ${other.resource}`,
          'schema', 'rerun the pipeline (names are re-allocated on the next run)', this.ctx.dbPath,
        );
      }
    }
  }

  private async transaction(tables: readonly TableState[], newState: unknown): Promise<Omit<CommitResult, 'schema'>> {
    const { conn } = this.ctx;
    const resource = this.opts.resource.name;
    await conn.run('BEGIN TRANSACTION');
    try {
      await this.refuseNewKey(tables);
      // A format-1 file's times become TIMESTAMPTZ with the first format-2 load row, in its transaction; first in it,
      // as DuckDB fails the COMMIT of an ALTER of a table this transaction already wrote (a refresh deletes the
      // resource's _pipeline_state row below: the first `--refresh` after an upgrade failed).
      await migrateSystemTimes(conn, this.ctx.dataset);
      let started = performance.now();
      const replacedTables = this.opts.refresh ? await removeResourceForRefresh(conn, this.ctx.dataset, this.ctx.pipelineName, resource) : undefined;
      await applySchemaChanges(conn, this.ctx.dataset, this.opts.loadId, tables);
      await writeComments(conn, this.ctx.dataset, this.opts.loadId, this.opts.resource, tables);
      this.reportStep('schema', started);
      let adoption: AdoptionResult = { kept: 0 };
      if (this.merges && !this.opts.refresh) {
        started = performance.now();
        adoption = await adoptRowsOfOtherLoads({
          conn, dataset: this.ctx.dataset, resource, primaryKey: this.opts.primaryKey, tables,
          ...this.opts.adoption,
        });
        if (adoption.kept > 0) this.reportStep('adopt', started, { rows: adoption.kept });
      }
      const { rowCounts, unchanged, alreadyStored, repeated } = await new StagedRowLoader({
        ctx: this.ctx, opts: this.opts, staging: this.staging, root: this.normalizer.root, merges: this.merges,
        reportStep: (step, started, detail) => this.reportStep(step, started, detail),
      }).load(tables);
      started = performance.now();
      await this.writeState(newState);
      await writeLoadedRow(conn, this.ctx.dataset, {
        loadId: this.opts.loadId, pipelineName: this.ctx.pipelineName, resource, startedAt: this.startedAt, rowCounts,
        rowIds: rowIdsOf(this.merges ? this.opts.primaryKey : null), limitPages: this.opts.limitPages, orgId: this.ctx.orgId,
        contractDiscards: this.normalizer.contractDiscards(),
      });
      await conn.run('COMMIT');
      this.reportStep('commit', started);
      return {
        rowCounts, unchangedRecords: unchanged, keylessRecords: this.normalizer.keylessRecords,
        adoptedRecords: adoption.kept, adoptionRemovedRecords: adoption.removed ?? 0, notTakenOverKeyField: adoption.objectKeyField, alreadyStoredRecords: alreadyStored,
        repeatedKeyRecords: repeated,
        overflowValues: this.normalizer.overflowValues,
        ...(replacedTables ? { replacedTables } : {}),
      };
    } catch (error) {
      await conn.run('ROLLBACK').catch(() => undefined);
      // A refresh drops the stored tables of the resource (ctx.tableDefs is updated only after COMMIT): a table of the
      // user's referencing one of them is what it can fail on.
      const stored = this.opts.refresh ? tablesOwnedBy(this.ctx.tableDefs, resource).map((def) => ({ def, isRoot: def.parent === null })) : tables;
      throw await commitError(conn, this.ctx.dataset, stored, error, `committing ${resource}`, this.ctx.dbPath, { refresh: this.opts.refresh === true, resource });
    }
  }

  private reportStep(step: LoadStep['step'], started: number, detail: { table?: string; rows?: number } = {}): void {
    this.opts.onStep?.({ resource: this.opts.resource.name, step, ...detail, durationMs: performance.now() - started });
  }

  private registry(name: string): string {
    return `${quoteIdent(this.ctx.dataset)}.${quoteIdent(name)}`;
  }

  private async writeState(newState: unknown): Promise<void> {
    const { conn } = this.ctx;
    const table = this.registry('_pipeline_state');
    const resource = this.opts.resource.name;
    await conn.run(`DELETE FROM ${table} WHERE pipeline_name = $1 AND resource = $2`, [this.ctx.pipelineName, resource]);
    await conn.run(`INSERT INTO ${table} VALUES ($1, $2, CAST($3 AS JSON), $4, CAST($5 AS TIMESTAMPTZ))`, [
      this.ctx.pipelineName, resource, JSON.stringify(newState ?? null), this.opts.loadId, sqlTimestamp(new Date()),
    ]);
  }
}
