// The dataset API's errors: DuckDB's failures of a read or of a user's query as one line with a fix.
import type { DuckDBConnection } from './duckdb.js';
import { DestinationError, toDestinationError } from './destination/index.js';
import { firstLine } from './errors.js';

/** The open dataset an error happened on. */
export interface DatasetTarget {
  conn: DuckDBConnection;
  dataset: string;
  path: string;
}

/**
 * DuckDB's own failures of a read (a damaged block, the memory limit) as one line with a fix, like opening's; a
 * JavaScript error (a bad limit) as it is. The memory limit is this dataset's, not the loader's env variable.
 */
export async function readError(target: DatasetTarget, error: unknown): Promise<unknown> {
  if (!(error instanceof Error) || !/^[A-Z][A-Za-z ]*Error: /.test(error.message)) return error;
  const mapped = toDestinationError(error, `reading dataset ${target.dataset}`, target.path);
  if (mapped.code !== 'out_of_memory') return mapped;
  return new DestinationError(`reading dataset ${target.dataset}: DuckDB ran out of memory (${firstLine(error.message)})`, 'out_of_memory', await memoryHint(target), target.path, { cause: error });
}

/** The fix for a query or read past this dataset's memory limit (it opens with the loader's 192MB). */
async function memoryHint(target: DatasetTarget): Promise<string> {
  return `the query needs more than DuckDB's memory limit of this dataset (${await setting(target, 'memory_limit')}); raise it: await ds.sql("SET memory_limit = '2GB'")`;
}

/** A failed query of the user's as one line: what DuckDB said, and the fix. */
export async function queryError(target: DatasetTarget, error: unknown, query: string): Promise<unknown> {
  if (error instanceof DestinationError) return error;
  // @duckdb/node-api fails a query without a statement with "Error in native callback", which names nothing.
  if (error instanceof Error && error.message === 'Error in native callback' && (await statements(target, query)) === 0) {
    return new DestinationError(
      `query on dataset ${target.dataset} failed: the query is empty (no SQL statement, only blanks or comments)`, 'io',
      'pass a statement such as SELECT * FROM <table> LIMIT 10', target.path, { cause: error },
    );
  }
  // DuckDB's message: its kind and what is wrong, a "Did you mean" line, then the query with a caret (kept in `cause`).
  const lines = (error instanceof Error ? error.message : String(error)).split('\n').map((l) => l.trim());
  const text = lines.filter((l, i) => l !== '' && (i === 0 || /^(Did you mean|Candidate)/.test(l))).join(' ').replace(/^Failed to extract statements: /, '');
  // The dataset opens with the loader's memory limit (192MB, sized for its commit): a sound query can exceed it.
  const hint = /read-only mode/.test(text)
    ? 'the dataset API opens the file read-only; change data through the pipeline or the DuckDB CLI'
    : /^Out of Memory Error/.test(text)
      ? await memoryHint(target)
      : 'fix the query (error.cause has DuckDB\'s full message, with the position)';
  return new DestinationError(`query on dataset ${target.dataset} failed: ${text}`, 'io', hint, target.path, { cause: error });
}

/** A DuckDB setting's current value, for a hint ('?' when it cannot be read). */
async function setting(target: DatasetTarget, name: string): Promise<string> {
  return target.conn.runAndReadAll('SELECT current_setting($1) AS v', [name]).then((r) => String(r.getRowObjectsJS()[0]?.v), () => '?');
}

/** How many statements DuckDB finds in `query` (0 when it finds none, or cannot tell). */
async function statements(target: DatasetTarget, query: string): Promise<number> {
  return target.conn.extractStatements(query).then((extracted) => extracted.count, () => 0);
}

// The arguments of a call from JavaScript, which has no types to stop a wrong one: without these checks a params
// object failed as "params.map is not a function: fix the query", and rows(5) as "table.toLowerCase is not a function".

/** A value as an error shows it: a string quoted (limit '5' is not 5), an object as JSON. */
function shown(value: unknown): string {
  if (typeof value !== 'string' && (value === null || typeof value !== 'object')) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function checkLimit(method: string, limit: number, name = 'limit', least = 0): number {
  if (!Number.isInteger(limit) || limit < least) throw new RangeError(`${method}(): ${name} must be a whole number >= ${least}, got ${shown(limit)}`);
  return limit;
}

export function checkQuery(method: string, query: unknown, params: unknown): void {
  if (typeof query !== 'string') throw new TypeError(`${method}(): query must be a string of SQL, such as 'SELECT * FROM logs LIMIT 10', got ${shown(query)}`);
  if (!Array.isArray(params)) throw new TypeError(`${method}(): params must be an array of values ([] for none), such as [1700000000], got ${shown(params)}`);
}

export function checkTable(table: unknown): void {
  if (typeof table !== 'string') throw new TypeError(`rows(): table must be a string, such as 'logs' (see tables()), got ${shown(table)}`);
}

/**
 * The options of a method: an object of its one option only. A size given in its place (iterate(1000)), dlt's
 * chunk_size, an offset or where to rows() or a misspelt system to tables() was ignored without a word: a page read by
 * offset came back as the first page, again and again.
 */
export function checkOptions(method: 'iterate' | 'rows' | 'tables', opts: unknown, table?: string): void {
  const [option, example, elsewhere] = {
    iterate: ['batchSize', 'such as { batchSize: 1000 }', ''],
    rows: ['limit', 'such as { limit: 100 }', `; for OFFSET, WHERE or ORDER BY use sql(), such as sql('SELECT * FROM ${table ?? 'logs'} LIMIT 100 OFFSET 200')`],
    tables: ['system', 'such as { system: true }', ''],
  }[method];
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${method}(): options must be an object ${example}, got ${shown(opts)}`);
  for (const key of Object.keys(opts)) {
    if (key !== option) throw new TypeError(`${method}(): unknown option ${JSON.stringify(key)}: the one option is ${option}, ${example}${elsewhere}`);
  }
}
