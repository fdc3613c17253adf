// A new DuckDB file appears at its path whole. DuckDB creates the file and then writes its 12 KiB header, both inside
// DuckDBInstance.create: a kill in between (SIGKILL, a container's memory limit, power loss) left a file without a
// header, which every later run and `show` refused as "not a valid DuckDB database file" until the user deleted it.
// So the first commit into a new file creates the database under a draft name in the staging directory (beside the
// file, so on its file system), closes it, takes the group's and others' bits off it and links it into place: the
// path holds nothing, or a whole, empty, owner-only database. A kill before the link leaves only the draft, in the
// staging directory, which the next run empties (clearStaging).
import { link, lstat, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createDuckDBInstance } from '../duckdb.js';
import { toDestinationError } from './errors.js';
import { makeOwnerOnly } from './private-files.js';
import { noHardLinks } from './run-lock.js';

/** The draft's name in the staging directory. */
export const NEW_DATABASE_DRAFT = 'new-database.duckdb';

/**
 * Creates an empty DuckDB database at `path` (which must not exist) through a draft in `stagingRoot`, with the
 * settings the file is later opened with (its storage version is fixed at creation). Does nothing when `path`
 * exists by now, or is a symbolic link (to a file still to be made, wherever its target is): DuckDB creates that
 * one when the commit opens it, as before. Likewise when the staging directory is on another file system (a custom
 * `stagingDir`), where no link can be made. Fails with a DestinationError (a full disk: 'disk_full').
 *
 * Returns 'created' (the path holds this run's new file), 'found' (a file another program made at the path since
 * the caller looked: not this run's, so a failed run must neither chmod nor remove it) or 'deferred' (nothing at the
 * path yet: DuckDB creates it).
 */
export async function createDatabaseFile(path: string, stagingRoot: string, settings: Record<string, string>): Promise<'created' | 'found' | 'deferred'> {
  if (await lstat(path).then(() => true, () => false)) return (await stat(path).then(() => true, () => false)) ? 'found' : 'deferred';
  const draft = join(stagingRoot, NEW_DATABASE_DRAFT);
  await removeDraft(draft);
  try {
    const instance = await createDuckDBInstance(draft, settings);
    instance.closeSync();
    await makeOwnerOnly(draft);
    // The WAL of a file deleted without it: DuckDB drops it when it creates a file at the path, but replays it into
    // one it opens, which the linked draft is (another database's tables and rows would appear in the new file).
    await rm(`${path}.wal`, { force: true });
    return await placeDraft(draft, path);
  } catch (error) {
    throw toDestinationError(namingFile(error, draft, path), 'opening the destination', path);
  } finally {
    await removeDraft(draft);
  }
}

/** Links the draft to `path` without replacing a file another program made there meanwhile. */
async function placeDraft(draft: string, path: string): Promise<'created' | 'found' | 'deferred'> {
  try {
    await link(draft, path);
    return 'created';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // A file made meanwhile: the commit opens it as one it found (and refuses it if it holds the dataset).
    if (code === 'EEXIST') return 'found';
    if (code === 'EXDEV') return 'deferred';
    if (!noHardLinks(code)) throw error;
    // A file system without hard links (FAT, some network shares): a rename, which would replace a file made in the
    // moment since the check above; the run lock keeps other runs of this loader out meanwhile.
    if (await lstat(path).then(() => true, () => false)) return 'found';
    await rename(draft, path);
    return 'created';
  }
}

/**
 * DuckDB's message names the draft (a file size limit: 'Could not write file ".../x.duckdb.staging/new-database.duckdb"'),
 * a file the user never named, gone by the time they read it, in a directory that read as the one to fix. The draft
 * is the file to be, on its file system (the staging directory is beside the file), so the message names the file.
 */
function namingFile(error: unknown, draft: string, path: string): unknown {
  if (!(error instanceof Error) || !error.message.includes(draft)) return error;
  return Object.assign(new Error(error.message.replaceAll(draft, path), { cause: error }), { code: (error as NodeJS.ErrnoException).code });
}

async function removeDraft(draft: string): Promise<void> {
  for (const file of [draft, `${draft}.wal`]) await rm(file, { force: true }).catch(() => undefined);
}
