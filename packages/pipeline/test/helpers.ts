// Shared test helpers: a sandbox over loopback, temp DuckDB files, the sandbox's truth, and a CLI child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resources, type LoadableResource } from 'snapengage-client';
import { startSandbox, type Sandbox, type SandboxOptions } from 'snapengage-sandbox';
import type { PipelineConfig } from '../src/config.js';
import { joinPath, snakeCase } from '../src/normalize/naming.js';
import type { RunOptions } from '../src/run.js';
// The loader (run.js) and the destination are imported where they are used (gatedRun, appendThings): a third of the
// test files that import these helpers spawn the built CLI or test one module, and importing the whole loader cost
// each of them most of its import time.

export const PACKAGE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** A fixed "now" so that sandbox timestamps and the loader's "today" agree within a test. */
export async function sandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  return startSandbox({ port: 0, seed: 7, cases: 600, widgets: 2, days: 10, ...options });
}

/**
 * A loopback URL whose port refuses connections: one the system gave and that was closed again. Not port 9 or 1:
 * fetch blocks those before connecting ("fetch refuses the port"), which is not what a stopped server does.
 */
export async function refusingUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return `http://127.0.0.1:${port}`;
}

export function tempDir(prefix = 'sepipe-'): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A small resource for destination tests: a key, an integer, a declared never-set text, and a list of objects. */
export const thingsResource: LoadableResource = {
  ...resources.users,
  name: 'things',
  primaryKey: ['id'],
  recordSchema: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      count: { type: ['integer', 'null'] },
      never: { type: ['string', 'null'] },
      items: { type: 'array', items: { type: 'object', properties: { k: { type: ['string', 'null'] } } } },
    },
  },
};

/**
 * An append of `thingsResource` into dataset `ds` that reads its window again (skipStoredKeys), as run.ts makes for an
 * appended incremental resource: the writer alone, on a real DuckDB file.
 */
export async function appendThings(dbPath: string, records: Record<string, unknown>[], primaryKey: string[]) {
  const { DuckDBDestination, newLoadId } = await import('../src/destination/index.js');
  const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
  try {
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey, maxNestingDepth: 4, skipStoredKeys: true });
    await w.write(records);
    return await w.commit(null);
  } finally {
    await dest.close();
  }
}

export type TruthCase = Record<string, unknown> & { id: string; transcripts?: Array<Record<string, unknown>> };

async function truthLines(box: Sandbox, query: string): Promise<TruthCase[]> {
  const response = await fetch(`${box.url}/__sandbox/truth?${query}`);
  if (!response.ok) throw new Error(`truth: HTTP ${response.status}`);
  const text = await response.text();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TruthCase);
}

/**
 * The sandbox's records of a resource. Cases get the `widget_id` the loader adds to each (the widget it asked for,
 * the spec's `addFields` of logs), from the sandbox's own per-widget truth, not from the loader's code.
 */
export async function truth(box: Sandbox, resource = 'logs'): Promise<TruthCase[]> {
  const records = await truthLines(box, `resource=${resource}`);
  if (resource !== 'logs') return records;
  const widgetOf = new Map<string, string>();
  for (const widgetId of box.credentials.widgetIds) {
    for (const record of await truthLines(box, `resource=logs&widgetId=${encodeURIComponent(widgetId)}`)) widgetOf.set(String(record.id), widgetId);
  }
  for (const record of records) {
    const widgetId = widgetOf.get(String(record.id));
    if (widgetId !== undefined) record.widget_id = widgetId;
  }
  return records;
}

export async function admin(box: Sandbox, path: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${box.url}/__sandbox/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`admin ${path}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

export async function stats(box: Sandbox): Promise<{ requests: number; faults: Record<string, number> }> {
  const response = await fetch(`${box.url}/__sandbox/stats`);
  return (await response.json()) as { requests: number; faults: Record<string, number> };
}

/** Runs SQL on a DuckDB file with a short-lived read connection; rows as plain JSON-safe objects. */
export async function query(path: string, sql: string, access: 'READ_ONLY' | 'READ_WRITE' = 'READ_ONLY'): Promise<Array<Record<string, unknown>>> {
  return withQueries(path, (run) => run(sql), access);
}

/**
 * Several queries on one short-lived connection: opening a DuckDB file costs tens of milliseconds, and a comparison
 * with the truth asks it a dozen questions.
 */
export async function withQueries<T>(path: string, use: (run: (sql: string) => Promise<Array<Record<string, unknown>>>) => Promise<T>, access: 'READ_ONLY' | 'READ_WRITE' = 'READ_ONLY'): Promise<T> {
  // Imported here, not at the top: files that never read a DuckDB file themselves do not load the binding for it.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(path, { access_mode: access });
  try {
    const connection = await instance.connect();
    try {
      return await use(async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson() as Array<Record<string, unknown>>);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * Starts a run that stops at its first request until `release()`; `extracting` resolves when it got there. Every
 * request still goes to the real fetch (the sandbox over loopback): the gate only makes the moment exact.
 */
export function gatedRun(config: PipelineConfig, options: RunOptions) {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let reached!: () => void;
  const extracting = new Promise<void>((resolve) => (reached = resolve));
  const run = import('../src/run.js').then(({ runPipeline }) => runPipeline(config, {
    ...options,
    fetch: async (request) => {
      reached();
      await gate;
      return globalThis.fetch(request);
    },
  }));
  run.catch(() => undefined); // awaited by the test
  return { run, extracting, release };
}

/**
 * Another process, started now, until `release()`: with `path` it has the DuckDB file open read-write (DuckDB's lock),
 * and with `asRun` it also holds the run lock a pipeline run would (`<path>.staging/run.lock`); without `path` it is
 * just a live PID.
 */
export async function otherProcess(path?: string, options: { asRun?: boolean } = {}): Promise<{ pid: number; release(): Promise<void> }> {
  const script = `const keep = [];
    if (process.argv[1]) { const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); keep.push(i, c); }
    if (process.argv[2] === 'run') { const { writeFileSync, mkdirSync } = await import('node:fs'); const { hostname } = await import('node:os');
      mkdirSync(process.argv[1] + '.staging', { recursive: true });
      writeFileSync(process.argv[1] + '.staging/run.lock', JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: 't' })); }
    console.log('ready');
    const timer = setTimeout(() => process.exit(3), 60_000); // bounded if the test dies first
    process.stdin.on('end', () => { clearTimeout(timer); for (const k of keep.reverse()) k.closeSync(); process.exit(0); }); process.stdin.resume();`;
  const args = path ? [path, ...(options.asRun ? ['run'] : [])] : [];
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], { cwd: PACKAGE_DIR, stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('close', (code) => reject(new Error(`other process exited early (${code})`)));
  });
  return { pid: child.pid!, release: async () => (child.stdin.end(), await exited) };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Spawns the built CLI (bin/snapengage-pipeline.js → dist/, as `npx snapengage-pipeline` runs it), with a controlled
 * environment. test/global-setup.ts rebuilds a dist/ older than its sources before any test runs. Built, not from the
 * source through tsx: that is how users run it (a TypeScript config then goes through the CLI's own tsx, not a host's),
 * and it costs a third of the CPU per spawn (0.25 s against 0.85 s; the suite spawns it some 200 times).
 */
export function runCli(args: string[], options: { env?: Record<string, string>; cwd?: string; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return collectOutput(spawnCli(args, options));
}

/** How a child process ended, with all it wrote to stdout and stderr (piped). */
export function collectOutput(child: ChildProcess): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export function spawnCli(args: string[], options: { env?: Record<string, string>; cwd?: string; nodeArgs?: string[] } = {}) {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env };
  return spawn(process.execPath, [...(options.nodeArgs ?? []), BUILT_CLI, ...args], {
    cwd: options.cwd ?? PACKAGE_DIR,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** The BUILT command (bin/snapengage-pipeline.js → dist/, as `npx snapengage-pipeline` runs it; `npm run build` first). */
export const BUILT_CLI = join(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');

/** The built command as a child process, with only the variables given (and PATH, HOME); killed after 60 s. */
export function spawnBuilt(args: string[], options: { env?: Record<string, string>; cwd: string; nodeArgs?: string[] }) {
  return spawn(process.execPath, [...(options.nodeArgs ?? []), BUILT_CLI, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    killSignal: 'SIGKILL',
  });
}

type Row = Record<string, unknown>;

interface LoadedDataset {
  /** Column name → DuckDB type, per table. */
  types: Map<string, Map<string, string>>;
  /** Child rows by table, then by `_parent_id`. */
  children: Map<string, Map<string, Row[]>>;
  /** Child tables of each table, from the loader's own `_pipeline_tables`. */
  childTables: Map<string, string[]>;
  /** Per table: node key (source path) → child table name, from `_pipeline_tables`. */
  tableByNode: Map<string, Map<string, string>>;
  /** Per table: node key → its column and its variant columns, from `_pipeline_columns` (names after collisions). */
  columnsByNode: Map<string, Map<string, { main?: string; variants: string[] }>>;
}

/**
 * The loader's key for a source path inside a table's record, `d["a","b"]` (`d` and the path's JSON), or `e` for a
 * scalar list item. From the path's JSON without its brackets (`"a","b"`), which a walk builds a key at a time: the
 * same text as JSON.stringify of the whole path, without stringifying it again at every field of every row.
 */
const nodeKey = (pathJson: string | 'element') => (pathJson === 'element' ? 'e' : `d[${pathJson}]`);

const isObject = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSystemColumn = (column: string) => ['_row_id', '_load_id', '_parent_id', '_root_id', '_list_idx'].includes(column);

/** The truth's LooseBoolean (`true` or `"true"`) as the BOOLEAN the loader stores. */
function looseBoolean(value: unknown): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Does the stored cell (as `getRowObjectsJson` renders it) hold the truth's value, given the column's type? */
function cellMatches(type: string, want: unknown, got: unknown): boolean {
  if (got === null || got === undefined) return want === null || want === undefined;
  if (type.endsWith('[]')) {
    const element = type.slice(0, -2);
    return Array.isArray(want) && Array.isArray(got) && want.length === got.length && want.every((w, i) => cellMatches(element, w, got[i]));
  }
  switch (type) {
    case 'BOOLEAN':
      return looseBoolean(want) === got;
    case 'DOUBLE':
    case 'FLOAT':
      return typeof want === 'number' && want === Number(got);
    case 'BIGINT':
    case 'INTEGER':
    case 'HUGEINT':
      return (typeof want === 'number' || typeof want === 'bigint') && String(want) === String(got);
    case 'JSON':
      return sameJson(JSON.parse(String(got)), want);
    default: // VARCHAR keeps strings as they are and numbers/booleans as text
      return typeof want === 'object' ? false : String(want) === String(got);
  }
}

export type Run = (sql: string) => Promise<Row[]>;

/** What the comparison needs of the dataset; child rows only of the tables below `root` (the only ones it reads). */
async function loadDataset(query: Run, dataset: string, root: string): Promise<LoadedDataset> {
  const columns = await query(`SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = '${dataset}' ORDER BY table_name, ordinal_position`);
  const types = new Map<string, Map<string, string>>();
  for (const c of columns) {
    const table = String(c.table_name);
    if (!types.has(table)) types.set(table, new Map());
    types.get(table)!.set(String(c.column_name), String(c.data_type));
  }
  const childTables = new Map<string, string[]>();
  const tableByNode = new Map<string, Map<string, string>>();
  for (const t of await query(`SELECT DISTINCT table_name, parent_table, node_key FROM "${dataset}"._pipeline_tables WHERE parent_table IS NOT NULL`)) {
    const parent = String(t.parent_table);
    const list = childTables.get(parent) ?? [];
    list.push(String(t.table_name));
    childTables.set(parent, list);
    if (!tableByNode.has(parent)) tableByNode.set(parent, new Map());
    tableByNode.get(parent)!.set(String(t.node_key), String(t.table_name));
  }
  const columnsByNode = new Map<string, Map<string, { main?: string; variants: string[] }>>();
  for (const c of await query(`SELECT DISTINCT table_name, column_name, node_key, variant FROM "${dataset}"._pipeline_columns`)) {
    const table = String(c.table_name);
    if (!columnsByNode.has(table)) columnsByNode.set(table, new Map());
    const byNode = columnsByNode.get(table)!;
    const entry = byNode.get(String(c.node_key)) ?? { variants: [] };
    if (c.variant === null || c.variant === undefined) entry.main = String(c.column_name);
    else entry.variants.push(String(c.column_name));
    byNode.set(String(c.node_key), entry);
  }
  const children = new Map<string, Map<string, Row[]>>();
  for (const table of below(childTables, root)) {
    if (table === root || !types.has(table)) continue;
    const byParent = new Map<string, Row[]>();
    for (const row of await query(`SELECT * FROM "${dataset}"."${table}" ORDER BY _parent_id, _list_idx`)) {
      const list = byParent.get(String(row._parent_id)) ?? [];
      list.push(row);
      byParent.set(String(row._parent_id), list);
    }
    children.set(table, byParent);
  }
  return { types, children, childTables, tableByNode, columnsByNode };
}

/** `root` and every table below it, through the loader's parent links. */
function below(childTables: Map<string, string[]>, root: string): Set<string> {
  const tables = new Set<string>([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [parent, list] of childTables) if (tables.has(parent)) for (const t of list) if (!tables.has(t)) (tables.add(t), (grew = true));
  }
  return tables;
}

/**
 * Compares one stored row (and, through `_row_id`, its child rows) with one truth object, field by field: nested
 * objects as flattened `a__b` columns, lists of scalars as list columns, lists of objects as child tables in
 * `_list_idx` order. Column names come from the loader's own snake_case. Stored columns the truth has no value for
 * must be NULL, and child tables it has no list for must have no rows under this row.
 */
function compareRow(data: LoadedDataset, table: string, row: Row, truth: unknown, where: string, problems: string[], fieldPrefix = ''): void {
  const types = data.types.get(table) ?? new Map<string, string>();
  const coveredColumns = new Set<string>();
  const coveredTables = new Set<string>();
  const rowId = String(row._row_id);

  // Names as the loader allocated them (collisions get `_1`); snake_case of the path when nothing was stored.
  const byNode = data.columnsByNode.get(table);
  const columnOf = (path: readonly string[] | 'element', pathJson: string) =>
    byNode?.get(nodeKey(path === 'element' ? 'element' : pathJson)) ?? { main: path === 'element' ? 'value' : joinPath(path.map(snakeCase)), variants: [] };

  const compareValue = (entry: { main?: string; variants: string[] }, value: unknown, label: string) => {
    const { main: column = '', variants } = entry;
    coveredColumns.add(column);
    for (const v of variants) coveredColumns.add(v);
    const type = types.get(column);
    if (type === undefined && variants.length === 0) {
      if (value !== null && value !== undefined) problems.push(`${where} ${label}: no column ${table}.${column}`);
      return;
    }
    const got = row[column] ?? null;
    if (type !== undefined && got !== null) {
      if (!cellMatches(type, value, got)) problems.push(`${where} ${label}: want ${JSON.stringify(value)}, got ${JSON.stringify(got)} (${type})`);
      return;
    }
    // A value that does not fit the column's type lands in a variant column (dlt's `__v_text`).
    const variant = variants.find((v) => row[v] !== null && row[v] !== undefined);
    if (variant === undefined) {
      if (value !== null && value !== undefined) problems.push(`${where} ${label}: want ${JSON.stringify(value)}, got NULL`);
      return;
    }
    const stored = row[variant];
    const matches = variant.endsWith('__v_json') ? sameJson(JSON.parse(String(stored)), value) : String(stored) === String(value);
    if (!matches) problems.push(`${where} ${label}: want ${JSON.stringify(value)}, got ${JSON.stringify(stored)} in ${variant}`);
  };

  const walk = (object: Row, prefix: readonly string[], prefixJson: string, label: string) => {
    for (const [key, value] of Object.entries(object)) {
      const path = [...prefix, key];
      const pathJson = prefixJson === '' ? JSON.stringify(key) : `${prefixJson},${JSON.stringify(key)}`;
      const entry = columnOf(path, pathJson);
      const column = entry.main ?? '';
      const field = `${label}${key}`;
      if (isObject(value) && types.get(column) !== 'JSON') walk(value, path, pathJson, `${field}.`);
      else if (Array.isArray(value) && !types.has(column)) {
        const childTable = data.tableByNode.get(table)?.get(nodeKey(pathJson)) ?? joinPath([table, ...path.map(snakeCase)]);
        compareChildren(childTable, value, field);
      } else compareValue(entry, value, field);
    }
  };

  const compareChildren = (childTable: string, items: unknown[], field: string) => {
    coveredTables.add(childTable);
    const stored = data.children.get(childTable)?.get(rowId) ?? [];
    // Null items are skipped; `_list_idx` keeps each item's position in the source list.
    const expected = items.flatMap((item, index) => (item === null ? [] : [{ item, index }]));
    if (stored.length !== expected.length) {
      problems.push(`${where} ${field}: want ${expected.length} rows in ${childTable}, got ${stored.length}`);
      return;
    }
    expected.forEach(({ item, index }, i) => {
      const child = stored[i]!;
      if (Number(child._list_idx) !== index) problems.push(`${where} ${field}[${index}]: stored at _list_idx ${String(child._list_idx)}`);
      // Scalars in a list of objects go to the child table's `value` column.
      compareRow(data, childTable, child, item, where, problems, `${field}[${index}].`);
    });
  };

  // Scalars in a list of objects go to the child table's element column (`value`).
  if (isObject(truth)) walk(truth, [], '', fieldPrefix);
  else compareValue(columnOf('element', ''), truth, `${fieldPrefix}value`);
  for (const column of types.keys()) {
    if (isSystemColumn(column) || coveredColumns.has(column)) continue;
    if (row[column] !== null && row[column] !== undefined) problems.push(`${where}: ${table}.${column} is ${JSON.stringify(row[column])}, the truth has no such field`);
  }
  for (const childTable of data.childTables.get(table) ?? []) {
    if (coveredTables.has(childTable)) continue;
    const stray = data.children.get(childTable)?.get(rowId)?.length ?? 0;
    if (stray > 0) problems.push(`${where}: ${stray} rows in ${childTable}, the truth has no such list`);
  }
}

/**
 * Compares the loaded `logs` tables with the truth, every field: each id once, every scalar column (types as the
 * loader maps them), flattened objects, list columns, and every child table row for row in `_list_idx` order.
 * Child rows that belong to no loaded case are reported too. Returns the problems (empty = exact).
 */
export async function expectMatchesTruth(file: string | Run, dataset: string, cases: TruthCase[], table = 'logs', key = 'id'): Promise<string[]> {
  const problems: string[] = [];
  // A path opens the file for this comparison; a `run` of withQueries reads through a connection already open (a
  // check that asks other questions of the same file too opens it once).
  const read = async (run: Run) => ({
    data: await loadDataset(run, dataset, table),
    rows: await run(`SELECT * FROM "${dataset}"."${table}"`),
  });
  const { data, rows } = typeof file === 'string' ? await withQueries(file, read) : await read(file);
  const keyColumn = snakeCase(key);
  const byId = new Map<string, Row>();
  for (const row of rows) {
    const id = String(row[keyColumn]);
    if (byId.has(id)) problems.push(`duplicate ${table}.${keyColumn} ${id}`);
    byId.set(id, row);
  }
  if (rows.length !== cases.length) problems.push(`${table} has ${rows.length} rows, truth has ${cases.length}`);
  for (const expected of cases) {
    const id = String(expected[key]);
    const row = byId.get(id);
    if (!row) problems.push(`missing ${table} ${id}`);
    else compareRow(data, table, row, expected, `${table} ${id}`, problems);
    if (problems.length > 20) return problems;
  }
  // Every child row must hang under a stored parent row (no orphans left by merges or crashes); only the tables
  // below `table` (another resource's child tables have their own roots).
  const rowIds = new Map<string, Set<string>>();
  const tables = below(data.childTables, table);
  for (const [childTable, byParent] of data.children) {
    const parent = [...data.childTables].find(([, list]) => list.includes(childTable))?.[0];
    if (parent === undefined || !tables.has(parent)) continue;
    if (!rowIds.has(parent)) {
      rowIds.set(parent, new Set(parent === table ? rows.map((r) => String(r._row_id)) : [...(data.children.get(parent)?.values() ?? [])].flat().map((r) => String(r._row_id))));
    }
    for (const parentId of byParent.keys()) if (!rowIds.get(parent)!.has(parentId)) problems.push(`${childTable} has rows under a missing parent ${parentId}`);
  }
  return problems;
}
