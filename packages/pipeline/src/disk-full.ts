// Where a full disk is, for the messages of errors.ts and destination/errors.ts: the directory to free space in, and
// how DuckDB says the disk filled where it spills.
import { dirname, resolve } from 'node:path';

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
