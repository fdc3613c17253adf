// How openDataset() checks a file before DuckDB opens it and prepares the session it reads through (UTC times,
// the dataset as the default schema), and how it names a dataset that is not there. Kept apart from the reading API.
import { statSync } from 'node:fs';
import { hostname } from 'node:os';
import type { DuckDBConnection } from './duckdb.js';
import { DestinationError, toDestinationError } from './destination/index.js';
import { checkDuckDBHeader } from './destination/file-kind.js';
import { dltSystemTables } from './destination/dlt-dataset.js';
import { activeRun, defaultStagingRoot } from './destination/run-lock.js';
import { quoteIdent, quoteLiteral } from './normalize/naming.js';
import { nearestName } from './nearest-name.js';

/**
 * Refuses, before DuckDB sees it, a path that is missing (DuckDB would create an empty database there), a directory,
 * or a file that is not a DuckDB database (file-kind.ts).
 */
export function checkDuckDBFile(path: string): void {
  try {
    if (statSync(path).isDirectory()) {
      throw new DestinationError(`opening the dataset: ${path} is a directory, not a DuckDB file`, 'not_found', 'pass the database file inside it (--duckdb or destination.path)', path);
    }
    checkDuckDBHeader(path, 'opening the dataset', 'pass the DuckDB file the pipeline loads (--duckdb or destination.path)');
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ENOENT') throw toDestinationError(error, 'opening the dataset', path);
    throw new DestinationError(`opening the dataset: no such file ${path}`, 'not_found', 'run the pipeline first or check --duckdb (or destination.path)', path);
  }
}

/**
 * Every connection of the instance reads times in UTC, not the process's TZ: case times are epoch numbers, so a
 * session in the local zone grouped `to_timestamp(…)::DATE` by local days, and a format-1 file holds the loader's
 * times as UTC in TIMESTAMP columns (no zone), which it compared with `now()` off by the zone's offset: the same query
 * gave other answers on another machine. GLOBAL, so iterate()'s connections get it too; a user's own `SET
 * TimeZone` still changes it. Without ICU (a DuckDB build lacking it) there is no zone but UTC anyway.
 */
export async function useUtc(conn: DuckDBConnection): Promise<void> {
  await conn.run(`SET GLOBAL TimeZone = 'UTC'`).catch(() => undefined);
}

/**
 * `to` (an iterate() connection) takes `from`'s time zone and calendar: a user's `SET TimeZone` in sql() (DATASET.md's
 * way to local days) holds for that connection only, so iterate() gave the UTC days of a query that sql() gave in the
 * user's zone. Without ICU there are no such settings, and nothing to copy.
 */
export async function copyZone(from: DuckDBConnection, to: DuckDBConnection): Promise<void> {
  for (const name of ['TimeZone', 'Calendar']) {
    const value = await from.runAndReadAll(`SELECT current_setting('${name}') AS v`).then((r) => r.getRowObjectsJS()[0]?.v, () => undefined);
    if (typeof value === 'string') await to.run(`SET ${name} = ${quoteLiteral(value)}`);
  }
}

/** Unqualified table names of `conn` resolve in `schema`. SET schema parses its text as a (catalog.)schema name: quoted, so a dot, quote or space is part of the name. */
export async function useSchema(conn: DuckDBConnection, schema: string): Promise<void> {
  await conn.run(`SET schema = ${quoteLiteral(quoteIdent(schema))}`);
}

/** The name in `names` that `name` most likely misspells (more edits allowed for longer names). */
export function closest(name: string, names: readonly string[]): string | undefined {
  return nearestName(name, names, Math.min(3, Math.max(1, Math.floor(name.length / 3))));
}

/**
 * DuckDB's lock held by a pipeline run of another process (its run lock says so): named as the run's state read or
 * commit, for seconds, as holdFile() names one of this process, instead of "wait for the other program to finish".
 */
export async function lockedByRun(error: DestinationError, path: string): Promise<DestinationError> {
  if (error.code !== 'locked') return error;
  const run = await activeRun(defaultStagingRoot(path), path).catch(() => undefined);
  if (!run || run.pid === 0 || run.pid === process.pid) return error;
  // A run holds its run lock for the whole run but the file only while it reads its state and commits: while it
  // extracts, the holder DuckDB names (a DuckDB CLI, say) is another process, which "retry in a moment" would not end.
  const holder = /\(PID (\d+)\)/.exec(error.message)?.[1];
  if (holder !== undefined && Number(holder) !== run.pid) return error;
  const where = run.host && run.host !== hostname() ? ` on ${run.host}` : '';
  return new DestinationError(
    `opening the dataset: DuckDB file ${path} is open for writing by a pipeline run (PID ${run.pid}${where}, started ${run.startedAt})`, 'locked',
    'retry in a moment (a run has the file open only while it reads its state and while it commits)', path, { cause: error },
  );
}

/**
 * The error for a dataset the file does not hold (`datasets`: the loader's datasets there). A schema of that name
 * that dlt loaded (a user coming from dlt's SnapEngage page, whose dataset is named like this loader's default) is
 * named as dlt's: "no dataset snapengage_data" about a schema the user can see in the DuckDB CLI read as a bug.
 */
export async function datasetNotFound(conn: DuckDBConnection, path: string, dataset: string, datasets: readonly string[]): Promise<DestinationError> {
  const guess = closest(dataset, datasets);
  const there = datasets.length > 0 ? `${guess ? `did you mean ${guess}? ` : ''}datasets there: ${datasets.join(', ')}` : 'it holds no dataset of this loader yet';
  const dlt = await dltSystemTables(conn, dataset);
  if (dlt.length > 0) {
    return new DestinationError(
      `opening the dataset: dataset ${dataset} in ${path} was loaded by dlt (it has ${dlt[0]}), not by snapengage-pipeline`, 'not_found',
      `pass the dataset the pipeline loads (--dataset or destination.dataset; ${there}); query dlt's tables in the DuckDB CLI`, path,
    );
  }
  // A file no run has loaded yet (or one whose first commit a kill stopped) has nothing to pick from.
  const fix = datasets.length > 0 ? `${there}; pass --dataset (or destination.dataset)` : `${there}: run the pipeline first, or check --duckdb (or destination.path)`;
  return new DestinationError(`opening the dataset: no dataset ${dataset} in ${path}`, 'not_found', fix, path);
}
