// The modes of the files the loader creates that hold customer data (chat transcripts, visitor emails). Under the
// usual umask 022 they were world-readable; they are the user's alone, whatever the umask (which only takes bits
// away). Only what the loader itself creates: a file or directory the user already has keeps the mode they gave it.
import { chmod, stat } from 'node:fs/promises';

/** Staging directories: the loader's own and temporary. */
export const PRIVATE_DIR_MODE = 0o700;
/** Staged NDJSON files: idem. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Takes the group's and others' bits off a DuckDB file this run has just created, before a row is written into it.
 * DuckDB creates it with the umask's mode and takes no mode of its own. A file system without Unix modes (FAT, some
 * network shares) refuses or ignores the chmod: the run goes on, as the file there is as private as that volume.
 */
export async function makeOwnerOnly(path: string): Promise<void> {
  const mode = (await stat(path).catch(() => undefined))?.mode;
  if (mode === undefined || (mode & 0o077) === 0) return;
  await chmod(path, mode & 0o700).catch(() => undefined);
}
