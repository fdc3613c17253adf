// Where a full disk is and how it is said, for the messages of duckdb-errors.ts and destination/errors.ts (one wording
// for both: what was being done, where, the fix), and how DuckDB says the disk filled where it spills.
import { dirname, resolve } from 'node:path';

/** How the system and DuckDB say a disk is full (Windows: "There is not enough space on the disk."). */
export const DISK_FULL = /no space left|ENOSPC|disk (is )?full|not enough space/i;

/**
 * How DuckDB says the disk is full where it spills what does not fit its memory limit (`<file>.tmp`): as an "Out of
 * Memory Error: failed to offload data block", since its temp directory may grow to `max_temp_directory_size`, by
 * default the space free on that disk. Measured on a tmpfs that filled while a commit spilled: read as memory alone,
 * it said to raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT and never that the disk was full.
 */
export const DUCKDB_SPILL_FULL = /failed to offload data block|max_temp_directory_size/i;

/** The directory to free space in, for a destination path: the file's (`:memory:` spills in the working directory). */
export function diskDirectory(path: string): string {
  return path === ':memory:' ? process.cwd() : dirname(resolve(path));
}

/** Where DuckDB spills for a database at `path` (its default temp_directory, the loader sets no other). */
export function spillDirectory(path: string): string {
  return path === ':memory:' ? resolve('.tmp') : `${resolve(path)}.tmp`;
}

/** A full disk's line in two parts, `what` and `fix` (the message is `${what}: ${fix}`). `disk`: where to free space. */
export function diskFullWords(action: string, path: string, disk: string): { what: string; fix: string } {
  return {
    what: `${action}: the disk is full at ${path}`,
    fix: `free disk space at ${disk} (or point the destination elsewhere) and rerun; nothing of this load was committed`,
  };
}

/** A full disk where DuckDB spills (DUCKDB_SPILL_FULL), for a database at `path`; `text`: DuckDB's first line. */
export function spillFullWords(action: string, path: string, text: string, disk: string): { what: string; fix: string } {
  return {
    what: `${action}: the disk is full at ${spillDirectory(path)}, where DuckDB writes what does not fit in its memory limit (${text.replace(/\.$/, '')})`,
    fix: `free disk space at ${disk} or raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT (less is written there), then rerun; nothing of this load was committed`,
  };
}
