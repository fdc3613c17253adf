// Destination failures as ONE line each (what, where, how to fix). Subclasses the package's DestinationError
// so the orchestrator's error handling passes them through unchanged.
import { basename, dirname, join } from 'node:path';
import { DISK_FULL, diskDirectory, diskFullWords, DUCKDB_SPILL_FULL, spillFullWords } from '../disk-full.js';
import { duckdbVersion } from '../duckdb.js';
import { DestinationError as PipelineDestinationError, firstLine, RAISE_OPEN_FILES, TOO_MANY_OPEN_FILES, type DestinationErrorCode } from '../errors.js';
import { DUCKDB_DAMAGED, DUCKDB_LOCKED, DUCKDB_OUT_OF_MEMORY } from '../duckdb-errors.js';

export type { DestinationErrorCode };


export class DestinationError extends PipelineDestinationError {
  constructor(
    message: string,
    code: DestinationErrorCode,
    /** The fix, also at the end of `message`. */
    readonly hint: string,
    path: string,
    options?: { cause?: unknown },
  ) {
    super(`${message}: ${hint}`, { code, path, ...options });
  }
}

/**
 * Maps a DuckDB or file-system error to a DestinationError. `action` says what was being done
 * ("opening", "committing logs"), `path` where. `disk`: the directory a full disk's hint names to free space in,
 * when `path` is not beside the database file (staging: a directory the run removes as it ends); by default the
 * directory of `path`.
 */
export function toDestinationError(error: unknown, action: string, path: string, disk = diskDirectory(path)): DestinationError {
  if (error instanceof DestinationError) return error;
  const raw = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const text = firstLine(raw);
  if (DUCKDB_LOCKED.test(raw)) {
    const pid = /PID (\d+)/i.exec(raw)?.[1];
    return new DestinationError(
      `${action}: DuckDB file ${path} is locked by another process${pid ? ` (PID ${pid})` : ''}`,
      'locked',
      'wait for the other program using it to finish (another pipeline run) or close it (the DuckDB CLI, a notebook), then retry',
      path,
      { cause: error },
    );
  }
  if (code === 'ENOSPC' || DISK_FULL.test(raw)) {
    const { what, fix } = diskFullWords(action, path, disk);
    return new DestinationError(what, 'disk_full', fix, path, { cause: error });
  }
  // Before the memory check: DuckDB words this as running out of memory (DUCKDB_SPILL_FULL).
  if (DUCKDB_SPILL_FULL.test(raw)) {
    const { what, fix } = spillFullWords(action, path, text, disk);
    return new DestinationError(what, 'disk_full', fix, path, { cause: error });
  }
  if (code === 'EMFILE' || code === 'ENFILE' || TOO_MANY_OPEN_FILES.test(raw)) {
    return new DestinationError(
      `${action}: too many open files (${text})`,
      'io',
      `${RAISE_OPEN_FILES} and rerun; nothing of this load was committed`,
      path,
      { cause: error },
    );
  }
  // A file name over the file system's limit (255 bytes) once the loader adds `.staging`, or a path over PATH_MAX once
  // it adds a staged file's name: said as a bug to report ("if a map step of your config made these records…").
  if (code === 'ENAMETOOLONG' || /ENAMETOOLONG|File name too long/i.test(raw)) {
    return new DestinationError(
      // Not the system's message: it repeats the path, thousands of characters long.
      `${action}: the path ${path} is too long for the file system (ENAMETOOLONG)`,
      'not_writable',
      "choose a shorter destination path (--duckdb or destination.path): the loader also writes the file's name with .staging/… and .wal added beside it, so keep the name well under 255 bytes and the whole path well under the system's limit (4096 bytes on Linux, 1024 on macOS)",
      path,
      { cause: error },
    );
  }
  // ENOENT from mkdir whose parent exists: a file system that cannot hold new directories (procfs: /proc/x.duckdb).
  const mkdirFailed = code === 'ENOENT' && (error as { syscall?: unknown }).syscall === 'mkdir';
  if (mkdirFailed || code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST' ||
      /Permission denied|Read-only file system|Not a directory|Is a directory|EACCES|EROFS|ENOTDIR/i.test(raw)) {
    // Permission denied may be the file's own (a read-only file, another user's) in a writable directory: "choose a
    // path in a writable directory" alone sent users away from a file they only had to make writable.
    const denied = code === 'EACCES' || code === 'EPERM' || /Permission denied|EACCES/i.test(raw);
    return new DestinationError(
      `${action}: cannot write ${path} (${text})`,
      'not_writable',
      denied
        ? `check that this user may write ${path} and its directory (the loader also writes ${basename(path)}.wal and ${basename(path)}.staging beside it), or choose a destination path in a writable directory (--duckdb or destination.path)`
        : 'choose a destination path in a writable directory (--duckdb or destination.path)',
      path,
      { cause: error },
    );
  }
  // The process's file size limit (`ulimit -f`, a container's or a systemd unit's) or the file system's largest file.
  if (code === 'EFBIG' || /File too large|EFBIG/i.test(raw)) {
    return new DestinationError(
      `${action}: ${path} reached the largest file size allowed (${text})`,
      'not_writable',
      'raise the file size limit (ulimit -f, LimitFSIZE= in a systemd unit) or load into a file system that allows larger files, then rerun; nothing of this load was committed',
      path,
      { cause: error },
    );
  }
  // A COMMIT that runs out of memory says so only as a block it could not pin or allocate.
  if (DUCKDB_OUT_OF_MEMORY.test(raw)) {
    return new DestinationError(
      `${action}: DuckDB ran out of memory (${text})`,
      'out_of_memory',
      'raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT (e.g. 1GB) or lower SNAPENGAGE_DUCKDB_THREADS and rerun; nothing of this load was committed',
      path,
      { cause: error },
    );
  }
  // A DuckDB file of another storage version: "… with version number 69, but we can only read versions between 64 and
  // 68" (DuckDB before 1.2: "… only read version 64"). A newer DuckDB does not upgrade a file it opens (measured, see
  // QUERYING.md), so a newer number means that DuckDB created the file, by its default or STORAGE_VERSION.
  const version = /database file with version number (\d+), but we can only read versions? (?:between )?(\d+)(?: and (\d+))?/i.exec(raw);
  if (version) {
    const [found, lowest, highest] = [Number(version[1]), Number(version[2]), Number(version[3] ?? version[2])];
    const readable = lowest === highest ? `${lowest}` : `${lowest} to ${highest}`;
    if (found > highest) {
      return new DestinationError(
        `${action}: ${path} was written by a DuckDB newer than ${duckdbVersion()}, the one of this snapengage-pipeline (the file's storage format is ${found}; ${duckdbVersion()} reads ${readable})`,
        'corrupt',
        `upgrade snapengage-pipeline (npm install snapengage-pipeline@latest) if its DuckDB reads the file, or copy it with the DuckDB that wrote it into storage version v1.0.0, which older DuckDBs read, and point --duckdb (or destination.path) at the copy: ${copyToV1Sql(path)}`,
        path,
        { cause: error },
      );
    }
    return new DestinationError(
      `${action}: ${path} was written by an older DuckDB than the one of this snapengage-pipeline can read (${text})`,
      'corrupt',
      'open it with the DuckDB that wrote it and EXPORT DATABASE (then IMPORT DATABASE into a new file with a current DuckDB), or load into a new file',
      path,
      { cause: error },
    );
  }
  // A DuckDB file, damaged (a disk error, a copy cut short): pointing at "a DuckDB file" is no fix for it.
  if (DUCKDB_DAMAGED.test(raw)) {
    return new DestinationError(
      `${action}: DuckDB file ${path} is damaged (${text})`,
      'corrupt',
      'restore it from a backup, or load into a new file with --duckdb (or destination.path; a new file loads everything again)',
      path,
      { cause: error },
    );
  }
  if (/not a valid DuckDB database|invalid database/i.test(raw)) {
    return new DestinationError(
      `${action}: ${path} is not a readable DuckDB database (${text})`,
      'corrupt',
      'point destination.path at a DuckDB file (or a new path); do not reuse files of other programs',
      path,
      { cause: error },
    );
  }
  // DuckDB's messages start with their kind ("Binder Error: …", "IO Error: …"); anything else came from JavaScript.
  const hint = /^[A-Z][A-Za-z ]*Error: /.test(text)
    ? 'see the DuckDB message; the database is unchanged'
    : 'the database is unchanged; if a map step of your config made these records, check what it returns, else please report this with the message';
  return new DestinationError(`${action} (${path}): ${text}`, 'io', hint, path, { cause: error });
}

/**
 * DuckDB SQL that copies the file at `path` into `<name>-v1.duckdb` beside it, in storage format v1.0.0 (ATTACH's
 * STORAGE_VERSION, DuckDB 1.2 and later). Each statement was run for the docs (QUERYING.md): the loader runs on in
 * the copy, state and loads included.
 */
function copyToV1Sql(path: string): string {
  const sqlText = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const copy = join(dirname(path), `${basename(path).replace(/\.duckdb$/i, '')}-v1.duckdb`);
  return `ATTACH ${sqlText(path)} AS src (READ_ONLY); ATTACH ${sqlText(copy)} AS dst (STORAGE_VERSION 'v1.0.0'); COPY FROM DATABASE src TO dst;`;
}
