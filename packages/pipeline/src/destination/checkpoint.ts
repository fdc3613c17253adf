// The checkpoint at close, run as a statement of its own so that its failure is heard. DuckDB folds its WAL
// (`<file>.wal`) into the file when the file is closed; when that checkpoint fails (measured on a tmpfs with room for a
// small load's WAL but not for the blocks the checkpoint writes), DuckDB 1.5's closeSync() says nothing: no throw, no
// warning, the committed load left in the WAL (replayed at the next open). An explicit `CHECKPOINT` just before the
// close is the same checkpoint, and throws its error ("FATAL Error: Failed to create checkpoint because of error: Could
// not write file "…": No space left on device"), which a run can say. That error is the signal; a WAL still there
// after the close is only read to confirm what the line says (that the load waits in it), never as the cause.
import { stat } from 'node:fs/promises';
import { diskDirectory } from '../disk-full.js';
import type { DuckDBConnection } from '../duckdb.js';
import { firstLine } from '../errors.js';
import { toDestinationError } from './errors.js';

/** A checkpoint at close that failed: the run's commit stays in `wal`, which DuckDB folds in when it next opens the file. */
export interface CheckpointFailure {
  /** The WAL the committed load waits in (`<file>.wal`). */
  wal: string;
  /** One line: what failed, where, that the load is committed and safe, and what to do. */
  message: string;
}

/**
 * Runs DuckDB's checkpoint on `conn` (the file's only connection, just before it is closed): undefined when it was done,
 * else DuckDB's error. A failed checkpoint leaves the database unusable ("invalidated"), so call it only right before
 * closing; the commits before it are in the WAL, which the next open replays.
 */
export async function checkpoint(conn: DuckDBConnection): Promise<unknown> {
  try {
    await conn.run('CHECKPOINT');
    return undefined;
  } catch (error) {
    return error ?? new Error('CHECKPOINT failed');
  }
}

/**
 * What a run says of a checkpoint that failed (`error`, from checkpoint()) once the file at `path` is closed; undefined
 * when no WAL is left (nothing waits to be folded in, so there is nothing to say).
 */
export async function checkpointFailure(error: unknown, path: string): Promise<CheckpointFailure | undefined> {
  const wal = `${path}.wal`;
  const size = await stat(wal).then((s) => s.size, () => 0);
  if (size === 0) return undefined;
  const mapped = toDestinationError(error, 'closing the destination', path);
  const safe = `this run's load is committed and safe in ${wal}, which DuckDB folds into the file when it next opens it`;
  const message = mapped.code === 'disk_full'
    // The destination's wording of a full disk (disk-full.ts): what was being done, where, the fix.
    ? `closing the destination: the disk is full at ${path}, so DuckDB could not fold the load into it: ${safe}; free disk space at ${diskDirectory(path)} (until then a run on this file may fail on the full disk)`
    : `closing the destination: DuckDB could not fold the load into ${path} (${firstLine(error instanceof Error ? error.message : String(error))}): ${safe}; if the next run fails, see the DuckDB message`;
  return { wal, message };
}
