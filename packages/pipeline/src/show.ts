// `snapengage-pipeline show`: what is in the dataset — tables with columns and types, row counts, the last loads
// with status and duration, and the incremental state per partition (widget): the window end and the newest cursor
// value loaded (cursor.ts), and the first day a --limit-pages sample read (windows.ts SampledDays).
import { existsSync } from 'node:fs';
import { printable } from 'snapengage-client';
import { hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { newFileElsewhereNote } from './config-project.js';
import { describeSampled, describeWindows, listItemNoun } from './cursor.js';
import { openDataset } from './dataset.js';
import { loadDuckDB } from './duckdb.js';
import { projectAbove, runFromProject } from './env.js';
import { ConfigError } from './errors.js';
import { describeDestinationError } from './duckdb-errors.js';
import { DestinationError } from './destination/errors.js';
import { unexpandedTildeFix } from './destination-settings.js';
import { refuseRemotePath } from './remote-destination.js';
import { activeRun, defaultStagingRoot, RUN_LOCK_FILE } from './destination/run-lock.js';
import { describeLoadDiscards } from './destination/load-discards.js';
import { quoteIdent } from './normalize/naming.js';
import { shellWord } from './shell-word.js';
import { variantCoalesceSql } from './schema-notes.js';
import { DUCKDB_TYPES, type DataType } from './normalize/types.js';
import { ROW_NODE_KEY } from './normalize/schema.js';
import { sampledDays } from './windows.js';

/** What showDataset reads. */
export interface ShowOptions {
  /** The DuckDB file (a file: `:memory:` is refused). */
  path: string;
  /** The dataset (DuckDB schema) in it, e.g. `snapengage_data`. */
  dataset: string;
  /** Loads listed (each with a line per resource); default 5. */
  loads?: number | undefined;
  /**
   * The project of a --config run from another directory (cron's HOME; config-project.ts otherProject): a relative
   * path missing here is then said to be read from the working directory, as `run` says it.
   */
  configProject?: string | undefined;
}

const SHOW_LOCK_RETRIES = 40;
/**
 * Lists (a table's columns, a load's row counts) are wrapped to this width: the columns of the logs table made one line
 * of ~850 characters, which a terminal broke mid-name and a log viewer ran off the screen.
 */
const WIDTH = 80;
/** A load's line keeps its row counts while it stays this short (its fixed fields alone take ~85). */
const LOAD_LINE_WIDTH = 120;

/** `items` joined by `separator` on lines of at most WIDTH (an item longer than that alone on its line), each after `indent`. */
function wrapList(items: readonly string[], separator: string, indent: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, item] of items.entries()) {
    const piece = i < items.length - 1 ? `${item}${separator.trimEnd()}` : item;
    if (line !== '' && indent.length + line.length + 1 + piece.length > WIDTH) {
      lines.push(indent + line);
      line = piece;
    } else line = line === '' ? piece : `${line} ${piece}`;
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/** Per table, its variant columns (`_pipeline_columns.variant`) and the column each holds the other values of. */
async function variantColumns(dataset: Awaited<ReturnType<typeof openDataset>>): Promise<Map<string, Array<{ column: string; of: string | null; type: string }>>> {
  const byTable = new Map<string, Array<{ column: string; of: string | null; type: string }>>();
  const schema = quoteIdent(dataset.dataset);
  let rows: Array<Record<string, unknown>>;
  try {
    rows = await dataset.sql(`SELECT v.table_name, v.column_name, c.column_name AS of, v.data_type AS type
      FROM ${schema}."_pipeline_columns" v LEFT JOIN ${schema}."_pipeline_columns" c
        ON c.table_name = v.table_name AND c.node_key = v.node_key AND c.variant IS NULL
      WHERE v.variant IS NOT NULL AND v.node_key <> $1 ORDER BY v.table_name, v.position`, [ROW_NODE_KEY]);
  } catch {
    return byTable; // a dataset without the loader's name mapping (another tool's): nothing to say
  }
  for (const row of rows) {
    const table = String(row.table_name);
    if (!byTable.has(table)) byTable.set(table, []);
    byTable.get(table)!.push({ column: String(row.column_name), of: row.of === null || row.of === undefined ? null : String(row.of), type: DUCKDB_TYPES[row.type as DataType] ?? 'JSON' });
  }
  return byTable;
}

/** The text `snapengage-pipeline show` prints: tables, row counts, recent loads and incremental state. */
export async function showDataset(options: ShowOptions): Promise<string> {
  if (options.path === ':memory:') {
    throw new ConfigError('show reads a DuckDB file: :memory: is a database only inside the process that loaded it, gone once that exits: pass --duckdb <file>');
  }
  // Else "No DuckDB file at md:mydb: load it first", which no run could make true (runs refuse it too).
  refuseRemotePath(options.path);
  if (!existsSync(options.path)) {
    const elsewhere = options.configProject === undefined ? undefined : newFileElsewhereNote(options.configProject, options.path, process.cwd(), 'show');
    if (elsewhere) throw new ConfigError(`No DuckDB file at ${options.path}: ${elsewhere}`);
    const tilde = unexpandedTildeFix(options.path);
    if (tilde) throw new ConfigError(`No DuckDB file at ${options.path}: ${tilde}`);
    const project = isAbsolute(options.path) ? undefined : projectAbove(process.cwd());
    if (project) throw new ConfigError(`No DuckDB file at ${options.path} in ${process.cwd()}: ${runFromProject(project)}, or pass --duckdb <file>`);
    throw new ConfigError(`No DuckDB file at ${options.path}: load it first (\`npm start\` in a scaffolded project, else \`snapengage-pipeline run\`), or pass --duckdb <file>`);
  }
  // Before the open's error mapping: a missing or broken DuckDB install is its own error, not "DuckDB error on …".
  loadDuckDB();
  let dataset: Awaited<ReturnType<typeof openDataset>>;
  // A pipeline run has the file open only to read its state and to commit, for seconds: while one holds the run lock,
  // a locked file is waited for (bounded: 40 × 250 ms) instead of refused.
  let openedAgainWithoutRun = false;
  for (let attempt = 0; ; attempt++) {
    try {
      dataset = await openDataset({ path: options.path, dataset: options.dataset });
      break;
    } catch (error) {
      const locked = error instanceof DestinationError && error.code === 'locked';
      if (!locked || attempt >= SHOW_LOCK_RETRIES) throw describeDestinationError(error, options.path);
      if (!(await activeRun(defaultStagingRoot(options.path), options.path))) {
        // A run that ended between the failed open and this check (its run lock gone with it) has left the file free:
        // one more open tells that from a file another program holds (seen under load: show refused a finished run).
        if (openedAgainWithoutRun) throw describeDestinationError(error, options.path);
        openedAgainWithoutRun = true;
        continue;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
  try {
    const tables = await dataset.tables();
    const loads = await dataset.loads(options.loads ?? 5);
    const shown = new Set(loads.map((load) => load.loadId)).size;
    const [counted] = await dataset.sql(`SELECT count(DISTINCT load_id) AS n FROM ${quoteIdent(dataset.dataset)}."_pipeline_loads"`);
    const allLoads = Number(counted?.n ?? shown);
    const states = await dataset.state();
    // Which SnapEngage org the shown loads came from (SNAPENGAGE_ORG_ID; a run of another org is refused: dataset-org.ts).
    // Loaded ones only, as that check counts them: a failed run wrote no rows (a typo's org id is no org of the data);
    // ids compared as the check does, case-insensitively, so one org typed in two cases is named once.
    const orgs = [...new Map(loads.flatMap((l) => (l.status === 'loaded' && l.orgId !== null ? [[l.orgId.toLowerCase(), l.orgId] as const] : []))).values()];
    const org = orgs.length === 0 ? '' : `, SnapEngage org${orgs.length > 1 ? 's' : ''} ${orgs.join(', ')}`;
    const out: string[] = [`Dataset ${options.dataset} in ${options.path}${org}`];
    // A renamed destination.dataset leaves the old one in the file as it was: without this line, show of the new one
    // looked like the whole file. A dataset is a schema with the loader's system tables (as openDataset finds them).
    const others = (await dataset.sql(`SELECT DISTINCT table_schema AS name FROM information_schema.tables WHERE table_name = '_pipeline_loads' ORDER BY 1`))
      .map((row) => String(row.name))
      .filter((name) => name.toLowerCase() !== dataset.dataset.toLowerCase());
    if (others.length > 0) {
      out.push(`Other datasets in this file (each with its own tables, loads and state): ${others.map((name) => `${printable(name)} (show --dataset ${shellWord(name)})`).join(', ')}`);
    }
    // A run keeps the file closed while it extracts (so this can read it): say that its rows are still to come.
    const stagingRoot = defaultStagingRoot(options.path);
    const running = await activeRun(stagingRoot, options.path);
    if (running?.pid === 0) {
      out.push(`A run lock ${join(stagingRoot, RUN_LOCK_FILE)} that cannot be read is there: a pipeline run may be loading into this file (if none is, delete the lock).`);
    } else if (running) {
      const where = running.pid === process.pid ? 'in this process' : `PID ${running.pid}${running.host && running.host !== hostname() ? ` on ${running.host}` : ''}`;
      out.push(`A pipeline run (${where}, started ${running.startedAt}) is loading into this file; its rows show here once it commits.`);
    }
    out.push('');

    out.push(`Tables (${tables.length})`);
    if (tables.length === 0) out.push('  (none yet)');
    const variants = await variantColumns(dataset);
    let example: string | undefined;
    let anyVariant = false;
    for (const table of tables) {
      out.push(`  ${table.name}  ${table.rowCount} ${table.rowCount === 1 ? 'row' : 'rows'}`);
      out.push(...wrapList(table.columns.map((c) => `${c.name} ${c.type}`), ', ', '    '));
      // Said here, as a `__v_` column's name alone does not say whose values it holds, nor why they are not there.
      const own = variants.get(table.name) ?? [];
      if (own.length > 0) {
        anyVariant = true;
        const items = own.map((v) => (v.of !== null ? `${v.column} of ${v.of}` : v.column));
        out.push(...wrapList([`variants: ${items[0]}`, ...items.slice(1)], ', ', '    '));
        const first = own.find((v) => v.of !== null);
        if (first && example === undefined) example = variantCoalesceSql(first.of!, first.column, first.type);
      }
    }
    if (anyVariant) {
      out.push(
        "  variants hold the values their column's type did not take; read both as one:",
        `  ${example ?? 'coalesce("column"::VARCHAR, "column__v_text")'} (NORMALIZATION.md, "Variant columns")`,
      );
    }

    // Pipelines sharing the dataset (each config's pipelineName) keep their own loads and state: say whose each line is.
    const pipelines = new Set([...loads.map((l) => l.pipelineName), ...states.map((s) => s.pipelineName)]);
    const whose = (pipelineName: string) => (pipelines.size > 1 ? `[${pipelineName}] ` : '');

    // One line per resource of a load; the listing is bounded by loads.
    out.push('', allLoads > shown ? `Last loads (${shown} of ${allLoads})` : `Last loads (${shown})`);
    if (loads.length === 0) out.push('  (none yet)');
    for (const load of loads) {
      const seconds = load.durationMs !== null && load.durationMs !== undefined ? `${(load.durationMs / 1000).toFixed(2)} s` : '-';
      const started = load.startedAt ? new Date(load.startedAt).toISOString() : '-';
      const rows = load.rowCounts ? Object.entries(load.rowCounts).map(([t, n]) => `${t}=${n}`) : [];
      // Escaped: an older version stored a server's text as it came, terminal escapes and line breaks included.
      const error = load.error ? `  error: ${printable(load.error)}` : '';
      const sample = load.limitPages !== null ? `  sampled (--limit-pages ${load.limitPages}, incremental state not advanced)` : '';
      const head = `  ${load.loadId}  ${whose(load.pipelineName)}${load.resource.padEnd(18)} ${String(load.status).padEnd(7)} ${seconds.padStart(9)}  ${started}  `;
      // The row counts of a resource with child tables (logs has five) go below, wrapped.
      const inline = `${head}${rows.join(' ')}${sample}${error}`;
      if (inline.length <= LOAD_LINE_WIDTH || rows.length === 0) out.push(inline);
      else out.push(`${head.trimEnd()}${sample}${error}`, ...wrapList(rows, ' ', '      '));
      // Kept in the load's row (contract_discards), so a load that dropped data says so after its run's output is gone.
      if (load.contractDiscards) out.push(...wrapList(describeLoadDiscards(load.contractDiscards), ', ', '      '));
    }
    if (allLoads > shown) out.push(`  ... ${allLoads - shown} earlier ${allLoads - shown === 1 ? 'load' : 'loads'} not shown (openDataset(...).loads(n) lists more)`);

    out.push('', 'Incremental state');
    const kept = states.filter((entry) => entry.state !== null && entry.state !== undefined);
    if (kept.length === 0) out.push('  (none yet)');
    // `lastEnd` per widget and, where records had one, the newest cursorField value loaded (cursor.ts): how fresh it is;
    // then the first day a --limit-pages sample read per widget, kept until a refresh or replace (windows.ts).
    type Windows = Record<string, unknown>;
    for (const entry of kept) {
      const state = entry.state as { windows?: Windows; parents?: Record<string, { windows?: Windows } | null> } | null;
      const lines: string[] = [];
      const name = `${whose(entry.pipelineName)}${entry.resource}`;
      lines.push(...describeWindows(name, state?.windows ?? {}, listItemNoun(entry.resource)));
      lines.push(...describeSampled(name, sampledDays(state), listItemNoun(entry.resource)));
      // A child's record of the parent windows that drove it (resume.ts), and of the days samples read of them.
      for (const [parent, driven] of Object.entries(state?.parents ?? {})) {
        lines.push(...describeWindows(`${name}  (via ${parent})`, driven?.windows ?? {}, listItemNoun(parent)));
        lines.push(...describeSampled(`${name}  (via ${parent})`, sampledDays(driven), listItemNoun(parent)));
      }
      out.push(...(lines.length > 0 ? lines : [`  ${name}  ${JSON.stringify(entry.state)}`]));
    }
    return out.join('\n');
  } finally {
    await dataset.close();
  }
}
