// The modes of the files the loader creates that hold customer data (chat transcripts, visitor emails). Under the
// usual umask 022 they were world-readable; they are the user's alone, whatever the umask (which only takes bits
// away). Only what the loader itself creates: a file or directory the user already has keeps the mode they gave it.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { chmod, lstat, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDir } from './ensure-dir.js';
import { processGone } from './process-gone.js';

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

/** The temp staging directories of the process's open in-memory runs, removed at its exit (see privateTempStaging). */
const tempAtExit = new Set<string>();

function removeTempAtExit(): void {
  // 'exit' runs only synchronous code. A SIGKILL runs nothing: what it leaves stays private (0700) until the next
  // in-memory run removes it (removeDeadTempStaging).
  for (const dir of tempAtExit) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Best effort while exiting.
    }
  }
}

/**
 * Makes the staging directory of an in-memory run (no file to stage beside, so in the system's temp directory)
 * 0700, as `<file>.staging` is: its writers' directories were private, but it was made with the umask's mode as
 * their parent. And removes it if the process exits with the run still open (the CLI's second Ctrl-C or an uncaught
 * error, an app's process.exit): no later run looks in the temp directory, so the staged rows (customer data) stayed
 * there for good. Returns what forgets it once the run's close has removed it itself.
 */
export async function privateTempStaging(dir: string): Promise<() => void> {
  if (tempAtExit.size === 0) process.on('exit', removeTempAtExit);
  tempAtExit.add(dir);
  const forget = () => {
    tempAtExit.delete(dir);
    if (tempAtExit.size === 0) process.off('exit', removeTempAtExit);
  };
  try {
    await ensureDir(dir, PRIVATE_DIR_MODE);
  } catch (error) {
    forget();
    throw error;
  }
  return forget;
}

/** The name of an in-memory run's temp staging directory: the process id, then a random part. */
const TEMP_STAGING_NAME = /^snapengage-staging-(\d+)-[0-9a-f]{8}$/;

/** A new in-memory run's temp staging directory in `tempDir`, named as TEMP_STAGING_NAME reads it. */
export function tempStagingDir(tempDir: string): string {
  return join(tempDir, `snapengage-staging-${process.pid}-${randomUUID().slice(0, 8)}`);
}

/**
 * Removes the temp staging directories of in-memory runs whose process is gone: a SIGKILL (an OOM kill, a container
 * stopped hard) runs no exit handler, so their staged rows (customer data) stayed in the temp directory for good. Only
 * directories of this user, named as the loader names them, whose process no longer exists; a live one's (another run
 * now) is left alone. Best effort: the run does not depend on it.
 */
export async function removeDeadTempStaging(tempDir: string): Promise<void> {
  const names = await readdir(tempDir).catch(() => [] as string[]);
  const uid = process.getuid?.();
  for (const name of names) {
    const pid = TEMP_STAGING_NAME.exec(name)?.[1];
    if (pid === undefined || !processGone(Number(pid))) continue;
    const path = join(tempDir, name);
    const s = await lstat(path).catch(() => undefined);
    if (!s?.isDirectory() || (uid !== undefined && s.uid !== uid)) continue;
    await rm(path, { recursive: true, force: true }).catch(() => undefined);
  }
}
