// DuckDB's and the file system's failures on the destination, read from their messages, as ONE line each (what, where,
// how to fix): the patterns that recognise them (shared with destination/errors.ts, which maps the open and the
// commit) and describeDestinationError for every other place a run touches the file.
import { DISK_FULL, diskDirectory, diskFullWords, DUCKDB_SPILL_FULL, spillFullWords } from './disk-full.js';
import { DestinationError, firstLine, PipelineError, RAISE_OPEN_FILES, TOO_MANY_OPEN_FILES } from './errors.js';

/** How DuckDB says it ran out of memory: in so many words, or as a block it could not pin or allocate. */
export const DUCKDB_OUT_OF_MEMORY = /Out of Memory Error|failed to pin block|could not allocate block/i;

/**
 * How DuckDB says another process holds the file. Not any "lock": a damaged "block" was reported as a locked file.
 * On Windows it says `Cannot open file "…": The process cannot access the file because it is being used by another
 * process.` (the system's words, in the system's language), then on a later line `File is already open in <exe> (PID n)`:
 * read as some other error, a run beside the DuckDB CLI or a dashboard failed at once instead of waiting for it.
 */
export const DUCKDB_LOCKED = /Could not set lock|Conflicting lock|database is locked|File is already open in|being used by another process/i;

/** How DuckDB says a database file of its own is damaged: a block whose checksum is wrong, or a file cut short. */
export const DUCKDB_DAMAGED = /Corrupt database file|does not match stored checksum|Could not read enough bytes from file/i;

/**
 * Turns a DuckDB failure into one line; the file path is named, the fix is suggested. `action`: what was being done,
 * as a full disk's line starts (destination/errors.ts's wording).
 */
export function describeDestinationError(error: unknown, path: string, action = 'writing the destination'): PipelineError {
  if (error instanceof PipelineError) return error;
  const raw = error instanceof Error ? error.message : String(error);
  const text = firstLine(raw);
  // The whole message: on Windows the holder is named lines below the first (see DUCKDB_LOCKED).
  if (DUCKDB_LOCKED.test(raw)) {
    const holder = /PID (\d+)/i.exec(raw)?.[1];
    return new DestinationError(
      `DuckDB file ${path} is locked by another process${holder ? ` (pid ${holder})` : ''}: close it (another pipeline run, a DuckDB shell) and retry`,
      { code: 'locked', path, cause: error },
    );
  }
  // Worded as destination/errors.ts words it (disk-full.ts): one style for a full disk wherever the run met it.
  if (DISK_FULL.test(text)) {
    const { what, fix } = diskFullWords(action, path, diskDirectory(path));
    return new DestinationError(`${what}: ${fix}`, { code: 'disk_full', path, cause: error });
  }
  // Before the memory check: DuckDB words this as running out of memory (DUCKDB_SPILL_FULL).
  if (DUCKDB_SPILL_FULL.test(raw)) {
    const { what, fix } = spillFullWords(action, path, text, diskDirectory(path));
    return new DestinationError(`${what}: ${fix}`, { code: 'disk_full', path, cause: error });
  }
  if (TOO_MANY_OPEN_FILES.test(text)) {
    return new DestinationError(`Too many open files while using ${path} (${text}): ${RAISE_OPEN_FILES}, then rerun (nothing of this run was committed)`, { code: 'io', path, cause: error });
  }
  if (/permission denied|EACCES|EPERM|read-only/i.test(text)) {
    return new DestinationError(`Cannot write DuckDB file ${path} (permission denied): choose a writable path with --duckdb`, { code: 'not_writable', path, cause: error });
  }
  // Anywhere, not only at the commit (destination/errors.ts): a limit too small for DuckDB's first allocation failed
  // while staging with only DuckDB's words, naming neither the variable nor the fix.
  if (DUCKDB_OUT_OF_MEMORY.test(text)) {
    return new DestinationError(
      `DuckDB ran out of memory on ${path} (${text}): raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT (e.g. 1GB) or lower SNAPENGAGE_DUCKDB_THREADS, then rerun`,
      { code: 'out_of_memory', path, cause: error },
    );
  }
  // Read after the file opened (the state, the commit check): the open itself is mapped by destination/errors.ts.
  if (DUCKDB_DAMAGED.test(text)) {
    return new DestinationError(
      `DuckDB file ${path} is damaged (${text}): restore it from a backup, or load into a new file with --duckdb (it loads everything again); nothing of this run was committed`,
      { code: 'corrupt', path, cause: error },
    );
  }
  if (/no such file|ENOENT|cannot open/i.test(text)) {
    return new DestinationError(`Cannot open DuckDB file ${path}: ${text} (does the directory exist?)`, { code: 'not_found', path, cause: error });
  }
  return new DestinationError(`DuckDB error on ${path}: ${text}`, { code: 'io', path, cause: error });
}
