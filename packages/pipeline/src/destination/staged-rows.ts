// The row step of a resource's commit: moves the staged NDJSON lines into the dataset's tables, inside the
// transaction that DuckDBResourceWriter.commit() opened. It deletes the rows a replace or merge supersedes, leaves out
// the records an append stored already or a merge finds stored unchanged, runs each table's INSERTs with the
// DuckDB threads that suit it, and gives a merge's new rows the values of columns a user added (user-columns.ts). It
// is apart from resource-writer.ts, which stages the records and runs the commit's other steps (schema, takeover,
// state, load record), because it is the one step that turns staging files into SQL.
import { quoteIdent } from '../normalize/naming.js';
import type { StagedKind, TableState } from '../normalize/normalizer.js';
import type { ResourceWriterOptions, WriterContext } from './resource-writer.js';
import type { LoadStep } from '../run-records.js';
import { ROOT_STAGING_KEYS, readJson, rootKeyColumn, stagedSelect, type Exclusions, type StagedSelect } from './staged-sql.js';
import { ALREADY_STORED_TABLE, findStoredKeys } from './stored-keys.js';
import type { StagingArea, TableStagingFile } from './staging.js';
import { UNCHANGED_TABLE, countRows, findUnchanged, type TableThreads } from './unchanged.js';
import { KeptUserValues } from './user-columns.js';

// A table with more columns than this is loaded by one DuckDB thread: each thread holds a chunk of wide rows (and a
// JSON buffer) in flight, and a single-file INSERT into a wide table is no faster with two (measured at 200k cases:
// 40-column logs 1.2 s with 1 or 2 threads, peak RSS −90 MiB). Narrow tables with many rows (transcripts) gain from
// every thread.
const WIDE_TABLE_COLUMNS = 16;

/**
 * A table with a staged line longer than this is loaded by one DuckDB thread too: the JSON reader holds two buffers
 * of the longest line per thread (16 MiB is its least, see readJson), so one 40 MB chat message staged in a transcript
 * list ran the commit out of memory with two threads at the default limit (192MB), where one thread loads it.
 */
const LONG_LINE_BYTES = 16 * 1024 * 1024;

/** Staging file of a table's lines of one kind; `\u0000` cannot occur in a table name. */
export function fileKey(t: TableState, kind: StagedKind): string {
  return kind === 'rows' ? t.def.name : `${t.def.name}\u0000${kind}`;
}

export type ReportStep = (step: LoadStep['step'], started: number, detail?: { table?: string; rows?: number }) => void;

/** What one commit's row step needs of its writer. */
export interface StagedRowsInput {
  ctx: WriterContext;
  opts: Pick<ResourceWriterOptions, 'loadId' | 'writeDisposition' | 'primaryKey' | 'skipStoredKeys'>;
  staging: StagingArea;
  root: TableState;
  /** Whether the writer merges on a key (merge without a primary key appends). */
  merges: boolean;
  reportStep: ReportStep;
}

export interface LoadedRows {
  rowCounts: Record<string, number>;
  unchanged: number;
  alreadyStored: number;
  repeated: number;
}

export class StagedRowLoader {
  private readonly ctx: WriterContext;
  private readonly opts: StagedRowsInput['opts'];
  private readonly staging: StagingArea;
  private readonly merges: boolean;
  private readonly reportStep: ReportStep;
  private readonly root: TableState;

  constructor(input: StagedRowsInput) {
    this.ctx = input.ctx;
    this.opts = input.opts;
    this.staging = input.staging;
    this.root = input.root;
    this.merges = input.merges;
    this.reportStep = input.reportStep;
  }

  private target(t: TableState): string {
    return `${quoteIdent(this.ctx.dataset)}.${quoteIdent(t.def.name)}`;
  }

  /** Writes the staged rows of `tables`; the rows per table and the records left out. */
  async load(tables: readonly TableState[]): Promise<LoadedRows> {
    const { conn } = this.ctx;
    const rowCounts: Record<string, number> = {};
    const root = this.root;
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
    const { unchanged, toWrite, superseded, userValues } = this.merges
      ? await this.prepareMerge(tables, exclusions)
      : { unchanged: 0, toWrite: rootRows - skipped.stored - skipped.repeated, superseded: 0, userValues: undefined };
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
    // Columns a user added to these tables keep their values on the rewritten records (user-columns.ts).
    await userValues?.restore();
    for (const temp of ['_stage_roots', '_superseded', '_unchanged', '_replaced', '_already_stored']) await conn.run(`DROP TABLE IF EXISTS temp.main."${temp}"`);
    return { rowCounts, unchanged, alreadyStored, repeated: skipped.repeated + superseded };
  }

  /** An append with `skipStoredKeys`: leaves out records whose key is stored already (stored-keys.ts); how many. */
  private async excludeStoredKeys(exclusions: Exclusions): Promise<{ stored: number; repeated: number }> {
    const keyFields = this.opts.primaryKey;
    if (this.opts.writeDisposition !== 'append' || !this.opts.skipStoredKeys || keyFields.length === 0) return { stored: 0, repeated: 0 };
    const root = this.root;
    // It reads the root's staged lines: with the threads the inserts would have (a long line needs one, see LONG_LINE_BYTES).
    const found = await this.tableThreads.run(root, () => findStoredKeys(this.ctx.conn, root, keyFields, this.selects(root, {}), this.target(root)));
    if (found.stored + found.repeated > 0) exclusions.unchanged = ALREADY_STORED_TABLE;
    return found;
  }

  /**
   * Before a merge's inserts: finds in-load duplicates and, when the root table already has rows, the records stored
   * unchanged (left out, see unchanged.ts) and deletes the old rows of the others, children included. Fills
   * `exclusions`; returns how many records are unchanged and how many are to be written, and the values of columns a
   * user added that the deleted rows held (user-columns.ts), for the rows that replace them.
   */
  private async prepareMerge(tables: readonly TableState[], exclusions: Exclusions): Promise<{ unchanged: number; toWrite: number; superseded: number; userValues?: KeptUserValues | undefined }> {
    const { conn } = this.ctx;
    const root = this.root;
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
    const userValues = toWrite > 0 ? await KeptUserValues.keep(conn, tables, (t) => this.target(t), 'temp.main."_replaced"') : undefined;
    let deleted = 0;
    for (const t of toWrite > 0 ? tables : []) {
      if (t.isNew) continue;
      const sql = `DELETE FROM ${this.target(t)} WHERE ${quoteIdent(rootKeyColumn(t))} IN (SELECT _row_id FROM temp.main."_replaced")`;
      deleted += Number((await conn.run(sql)).rowsChanged);
    }
    this.reportStep('delete', started, { rows: deleted });
    return { unchanged, toWrite, superseded, userValues };
  }

  /** The SELECTs of a table's staged files: row lines, record lines (root) and list lines. */
  private selects(t: TableState, exclusions: Exclusions): StagedSelect[] {
    const kinds: StagedKind[] = t.isRoot ? ['rows', 'record'] : ['rows', 'list'];
    return kinds.flatMap((kind) => {
      const file = this.staging.get(fileKey(t, kind));
      return file && file.rows > 0 ? [stagedSelect(t, kind, file, this.opts.loadId, exclusions)] : [];
    });
  }

  /** UTF-8 bytes of the longest line staged for the table, in any of its files. */
  private longestLine(t: TableState): number {
    const kinds: StagedKind[] = ['rows', 'record', 'list'];
    return Math.max(0, ...kinds.map((kind) => this.staging.get(fileKey(t, kind))?.maxLineBytes ?? 0));
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
   * Runs statements on a table with one DuckDB thread when it is wide (WIDE_TABLE_COLUMNS) or has a long line
   * (LONG_LINE_BYTES), else with all; `single` says which tables those are (the merge compare fingerprints them alone).
   */
  private readonly tableThreads: TableThreads = {
    single: (t) => this.ctx.threads > 1 && (t.def.columns.length > WIDE_TABLE_COLUMNS || this.longestLine(t) > LONG_LINE_BYTES),
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
}
