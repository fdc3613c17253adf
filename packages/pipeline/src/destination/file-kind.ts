// What an existing file at the destination path is, read from its first bytes before DuckDB opens it. DuckDB does
// not refuse every file that is not its own: for a SQLite file it downloads its sqlite extension (offline: "Failed to
// download extension"; online it would attach that file, and a run write into another program's database); a CSV, Parquet or JSON file
// (by its name's extension) opens as an in-memory database with a view over it, so a run extracted everything and
// then failed at the commit with a Catalog Error. Both the loader and the dataset API check first.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureParentDir } from './ensure-dir.js';
import { DestinationError } from './errors.js';

/**
 * Throws a 'corrupt' DestinationError unless `path` is a regular file that starts like a DuckDB database: a checksum (8 bytes),
 * then the magic "DUCK". `action` begins the message ("opening the destination"), `fix` is the hint.
 */
export function checkDuckDBHeader(path: string, action: string, fix: string): void {
  // Opening a FIFO waits for a writer, forever: show and run hung (/dev/null passed, to fail in DuckDB's fsync).
  const stats = statSync(path);
  if (!stats.isFile()) throw new DestinationError(`${action}: ${path} is not a regular file (a device, a FIFO or a socket)`, 'corrupt', fix, path);
  // The first 64 KiB: enough for the magic, and to see a file of zeros whole.
  const header = Buffer.alloc(Math.min(stats.size, 65536));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (header.subarray(8, 12).toString('latin1') === 'DUCK') return;
  // What a kill while DuckDB created the file left (before its header was written; since new-file.ts, an older
  // version's run): it holds nothing, and DuckDB refuses it as "not a valid DuckDB database file" every time.
  if (stats.size <= header.length && header.every((byte) => byte === 0)) {
    throw new DestinationError(
      `${action}: ${path} holds no data (${header.length === 0 ? 'an empty file' : 'only zero bytes'}; a run killed while DuckDB was creating it leaves one)`,
      'corrupt', 'delete it, then run again (a new file loads everything)', path,
    );
  }
  const what = header.toString('latin1').startsWith('SQLite format') ? 'a SQLite database' : 'not a DuckDB database';
  throw new DestinationError(`${action}: ${path} is ${what}`, 'corrupt', fix, path);
}

/**
 * The file a run loads into (`path`, resolved from `given`), before anything opens it: its directory made, and it
 * neither a directory (nor named as one) nor, when it exists, another program's file. True when it exists.
 */
export async function checkDestinationFile(given: string, path: string): Promise<boolean> {
  // `resolve` drops a trailing slash: `--duckdb loads/` would have made a file named `loads`.
  if (/[\\/]$/.test(given) && !(await stat(path).catch(() => undefined))?.isDirectory()) {
    throw new DestinationError(`opening the destination: ${given} ends with a slash, as a directory does, not a DuckDB file`, 'not_writable', `pass a file path, such as ${join(path, 'snapengage.duckdb')} (--duckdb or destination.path)`, path);
  }
  await ensureParentDir(path);
  const s = await stat(path).catch(() => undefined);
  if (s?.isDirectory()) {
    throw new DestinationError(`opening the destination: ${path} is a directory, not a DuckDB file`, 'not_writable', `pass a file path, such as ${join(path, 'snapengage.duckdb')} (--duckdb or destination.path)`, path);
  }
  // Before DuckDB opens it, which would attach a SQLite file (writing the run into it) or a CSV file in memory.
  if (s) checkDuckDBHeader(path, 'opening the destination', 'point --duckdb (or destination.path) at the DuckDB file the pipeline loads, or at a new path; it does not write into files of other programs');
  return s !== undefined;
}
