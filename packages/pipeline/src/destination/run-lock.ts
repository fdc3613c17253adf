// One pipeline run per database file at a time, across processes, for the whole run. DuckDB's own lock is held only
// while a run has the file open (reading its state at the start, committing at the end), so that other programs can
// read the dataset while a run extracts. This lock keeps a second run from staging into the same directory and
// loading the same windows twice. It is a file in the staging directory, created atomically (link) with the
// holder's PID, host and start; a holder that died (SIGKILL, power loss) is recognised by its PID and replaced.
// Runs that find the same dead holder at once (cron jobs started together after a reboot) remove it one at a time,
// each only if the lock is still that holder's (removeDeadHolder), so exactly one of them takes it. Should the lock be
// lost anyway (someone deletes it), a run checks at its commit that the lock is still its own and that the dataset
// did not change since it read it (DuckDBDestination.reconnect), and loads nothing otherwise.
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmdirSync, rmSync, unlinkSync } from 'node:fs';
import { link, lstat, readFile, readdir, rm, rmdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DestinationError, toDestinationError } from './errors.js';
import { fileKey, runHeldHere } from './open-files.js';
import { ensureDir } from './ensure-dir.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files.js';
import { processGone } from './process-gone.js';

export const RUN_LOCK_FILE = 'run.lock';
/** The holder touches its lock this often, so that a holder on another machine can be seen to be gone. */
const HEARTBEAT_MS = 15_000;
/**
 * A lock from another host untouched for this long is a dead run's (a container killed, with a new hostname at its
 * next start). Minutes, not seconds: a holder's event loop may be busy, and two hosts' clocks may differ a little.
 */
const OTHER_HOST_STALE_MS = 180_000;
/** Beside the lock while a run removes a dead holder's lock (removeDeadHolder); held for milliseconds. */
const TAKEOVER_SUFFIX = '.takeover';
const GUARD_STALE_MS = 10_000;

export interface RunLockHolder {
  pid: number;
  host: string;
  startedAt: string;
  token: string;
  /**
   * The dataset the run loads: the lock is the file's, so a run of another dataset (an agency's next org) is refused
   * too, and the refusal says so rather than leave the user to wonder why another dataset's run is in the way.
   */
  dataset?: string;
  /** The resources a refresh run reloads: a run that takes its lock over says which refresh did not finish. */
  refresh?: string[];
  /** When the lock file was last touched (its mtime; not stored in it). */
  touchedAtMs?: number;
}

export interface RunLock {
  readonly holder: RunLockHolder;
  /** Removes every entry of the staging directory but the lock (what crashed runs left). */
  clearStaging(): Promise<void>;
  /**
   * While the lock is still this run's: removes the staging directory's other entries, then the lock. Then the
   * directory, if nothing else is in it.
   */
  release(): Promise<void>;
  /** Whether the lock file is still this run's (not removed, not taken over by another run meanwhile). */
  stillHeld(): Promise<boolean>;
  /** The run whose lock this one took over: it ended without releasing it (killed, crashed, the machine stopped). */
  readonly tookOverFrom?: RunLockHolder;
}

/**
 * The default staging directory of a database file, beside its real path: every path that reaches the same file (a
 * symlink to it, a symlinked directory) must find the same run lock, as DuckDB's own lock is the file's.
 */
export function defaultStagingRoot(dbPath: string): string {
  return `${fileKey(dbPath)}.staging`;
}

/**
 * The run holding the lock of a staging directory, if any is alive (for `show`); pid 0 when the lock cannot be read.
 * A lock of this process's PID is a leftover to acquireRunLock, but a run of this process while it holds its claim
 * on `dbPath`.
 */
export async function activeRun(stagingRoot: string, dbPath?: string): Promise<RunLockHolder | undefined> {
  const holder = await readHolder(join(stagingRoot, RUN_LOCK_FILE));
  if (holder === undefined) return undefined;
  if (holder.pid === process.pid && holder.host === hostname()) return dbPath !== undefined && runHeldHere(dbPath) ? holder : undefined;
  return isAlive(holder) ? holder : undefined;
}

/** Takes the run lock of `stagingRoot` (creating the directory) or throws a 'locked' DestinationError naming the holder. */
export async function acquireRunLock(stagingRoot: string, dbPath: string, dataset?: string, refresh?: readonly string[]): Promise<RunLock> {
  const lockPath = join(stagingRoot, RUN_LOCK_FILE);
  const holder: RunLockHolder = {
    pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), token: randomUUID(), ...(dataset !== undefined ? { dataset } : {}),
    ...(refresh !== undefined && refresh.length > 0 ? { refresh: [...refresh] } : {}),
  };
  // lstat: the directory is emptied on every run (clearStaging), which through a symbolic link emptied what it points
  // at (in a shared /tmp, a link another user made). A directory another user owns could have its entries swapped, or
  // its staged rows read. Where neither can be, in a sticky directory such as /tmp, they cannot be swapped in later.
  const entry = await lstat(stagingRoot).catch(() => undefined);
  if (entry?.isSymbolicLink()) {
    throw new DestinationError(
      `opening the destination: ${stagingRoot} is a symbolic link, where the loader keeps the staging directory of ${dbPath} (emptied on every run, so never through a link)`,
      'not_writable', 'remove the link, then retry', dbPath,
    );
  }
  const uid = process.getuid?.();
  if (entry?.isDirectory() && uid !== undefined && entry.uid !== uid) {
    throw new DestinationError(
      `opening the destination: ${stagingRoot} belongs to another user (uid ${entry.uid}), where the loader keeps the staging directory of ${dbPath}`,
      'not_writable', 'delete it (the loader makes its own), or keep the DuckDB file in a directory of your own', dbPath,
    );
  }
  const existing = entry && (await stat(stagingRoot).catch(() => undefined));
  if (existing && !existing.isDirectory()) {
    throw new DestinationError(
      `opening the destination: ${stagingRoot} is a file, where the loader keeps the staging directory of ${dbPath}`,
      'not_writable', 'move or delete that file, then retry', dbPath,
    );
  }
  try {
    await ensureDir(stagingRoot, PRIVATE_DIR_MODE);
    // Bounded: each round either takes the lock, finds a live holder, removes a dead one, or waits a moment while
    // another run removes it.
    let dead: RunLockHolder | undefined;
    for (let round = 0; round < 20; round++) {
      const created = await createExclusive(lockPath, holder).catch(async (error: NodeJS.ErrnoException) => {
        // The directory went away under us (a run that finished removed it): make it again and retry.
        if (error.code !== 'ENOENT') throw error;
        await ensureDir(stagingRoot, PRIVATE_DIR_MODE);
        return false;
      });
      if (created) return runLock(stagingRoot, lockPath, holder, dead);
      const other = await readHolder(lockPath);
      if (other === undefined) continue; // released meanwhile
      if (isAlive(other)) throw lockedBy(other, dbPath, lockPath, dataset);
      dead = other;
      await removeDeadHolder(lockPath, other);
    }
  } catch (error) {
    throw toDestinationError(error, 'opening the destination', dbPath);
  }
  throw new DestinationError(
    `opening the destination: could not take the run lock ${lockPath} (other runs kept taking it)`,
    'locked', 'wait for the other pipeline runs to finish, then retry', dbPath,
  );
}

/**
 * Removes the lock of a dead holder, unless another run did meanwhile (and may hold a lock of its own there now).
 * Reading the lock and removing it are two steps, so runs that saw the same dead holder remove it under a second,
 * short-lived exclusive file: the one that gets it reads the lock again and removes only what it read before. The
 * others wait a moment and start over, finding the winner's lock. A guard left by a run killed inside these few
 * milliseconds is stale after GUARD_STALE_MS and removed.
 */
async function removeDeadHolder(lockPath: string, dead: RunLockHolder): Promise<void> {
  const guard = `${lockPath}${TAKEOVER_SUFFIX}`;
  try {
    await writeFile(guard, `${process.pid} ${hostname()}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const age = await stat(guard).then((s) => Date.now() - s.mtimeMs, () => 0);
    // A guard whose run of this machine is gone (killed inside those milliseconds) is stale at once; otherwise
    // after GUARD_STALE_MS (another machine's run cannot be checked).
    if (age > GUARD_STALE_MS || (await guardHolderGone(guard))) await unlink(guard).catch(() => undefined);
    else await new Promise((r) => setTimeout(r, 25));
    return;
  }
  try {
    const now = await readHolder(lockPath);
    if (now !== undefined && now.token === dead.token && now.pid === dead.pid && now.host === dead.host) {
      await unlink(lockPath).catch(() => undefined);
    }
  } finally {
    await unlink(guard).catch(() => undefined);
  }
}

/** Whether the takeover guard names a process of this machine that no longer runs. */
async function guardHolderGone(guard: string): Promise<boolean> {
  const [pid, host] = (await readFile(guard, 'utf8').catch(() => '')).trim().split(' ');
  if (host !== hostname() || !/^\d+$/.test(pid ?? '') || Number(pid) === process.pid) return false;
  return processGone(Number(pid));
}

/** Creates the lock file with its content in one step: a reader never sees it empty. */
async function createExclusive(lockPath: string, holder: RunLockHolder): Promise<boolean> {
  const draft = `${lockPath}.${holder.pid}.${holder.token}`;
  // 0600 like the staged files beside it (OPERATIONS.md promises so): it was made with the umask's mode, 0644.
  await writeFile(draft, `${JSON.stringify(holder)}\n`, { mode: PRIVATE_FILE_MODE });
  try {
    await link(draft, lockPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOENT: our draft was cleared by the lock's holder (clearStaging): it is taken.
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    if (!noHardLinks(code)) throw error;
    // A file system without hard links: exclusive create, then the content (a reader meanwhile sees it empty).
    try {
      await writeFile(lockPath, `${JSON.stringify(holder)}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } finally {
    await unlink(draft).catch(() => undefined);
  }
}

/**
 * Whether link() failed for want of hard links on the file system: EPERM (FAT on Linux, some network shares), ENOTSUP
 * or ENOSYS, and EISDIR, which is how Node reports an exFAT volume on Windows (a USB drive: libuv reads its
 * ERROR_INVALID_FUNCTION so, nodejs/node#65817); every run there failed with "illegal operation on a directory".
 */
export function noHardLinks(code: string | undefined): boolean {
  return code === 'EPERM' || code === 'ENOTSUP' || code === 'ENOSYS' || code === 'EISDIR';
}

const TOO_MANY_OPEN_FILES = new Set(['EMFILE', 'ENFILE']);

async function readHolder(lockPath: string): Promise<RunLockHolder | undefined> {
  let text: string;
  try {
    text = await readFile(lockPath, 'utf8');
  } catch (error) {
    // Out of file descriptors (ulimit -n) says nothing of the lock: read as "no lock", a run at its commit reported
    // it "removed or taken by another run", alone on the file.
    if (TOO_MANY_OPEN_FILES.has(String((error as NodeJS.ErrnoException).code))) throw error;
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Partial<RunLockHolder>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string') {
      const touchedAtMs = await stat(lockPath).then((s) => s.mtimeMs, () => undefined);
      return {
        pid: parsed.pid, host: parsed.host, startedAt: String(parsed.startedAt ?? ''), token: String(parsed.token ?? ''),
        ...(typeof parsed.dataset === 'string' ? { dataset: parsed.dataset } : {}),
        ...(Array.isArray(parsed.refresh) && parsed.refresh.every((r) => typeof r === 'string') ? { refresh: parsed.refresh } : {}),
        ...(touchedAtMs !== undefined ? { touchedAtMs } : {}),
      };
    }
  } catch {
    // not ours or half written: see below
  }
  // Half written by a file system without hard links, or not ours: treat it as held by nobody we can check.
  return { pid: 0, host: '', startedAt: '', token: '' };
}

function isAlive(holder: RunLockHolder): boolean {
  if (holder.pid === 0) return true; // unreadable: do not take it over
  // Another machine's processes cannot be checked: its holder touches the lock while it runs (see HEARTBEAT_MS).
  if (holder.host !== hostname()) return holder.touchedAtMs === undefined || Date.now() - holder.touchedAtMs < OTHER_HOST_STALE_MS;
  // This process's own PID: the 'run' claim of open-files.ts refuses a second run first, so this is a leftover.
  if (holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM' && !startedAfter(holder); // alive, but another user's
  }
  return !startedAfter(holder);
}

/**
 * True when the process that has the holder's PID now started after the holder took the lock: the holder died and its
 * PID went to another process (common in containers, whose PIDs restart from 1). Linux only (/proc); elsewhere, and
 * whenever something cannot be read, false (the lock stays held, and the error names the file to delete).
 */
function startedAfter(holder: RunLockHolder): boolean {
  const lockedAt = Date.parse(holder.startedAt);
  if (process.platform !== 'linux' || !Number.isFinite(lockedAt)) return false;
  try {
    const stat = readFileSync(`/proc/${holder.pid}/stat`, 'utf8');
    // Field 22, start time in clock ticks after boot; fields are counted after the command's closing parenthesis.
    const startTicks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
    const bootSeconds = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    if (!Number.isFinite(startTicks) || !Number.isFinite(bootSeconds)) return false;
    // USER_HZ is 100 on every architecture Node runs on. 10 s of slack for the clock being set meanwhile.
    const startedAt = (bootSeconds + startTicks / 100) * 1000;
    return startedAt > lockedAt + 10_000;
  } catch {
    return false;
  }
}

function lockedBy(holder: RunLockHolder, dbPath: string, lockPath: string, dataset: string | undefined): DestinationError {
  if (holder.pid === 0) {
    return new DestinationError(
      `opening the destination: DuckDB file ${dbPath} has a run lock ${lockPath} that cannot be read`,
      'locked', `if no pipeline run is loading this file, delete ${lockPath} and retry`, dbPath,
    );
  }
  const where = holder.host === hostname() ? `PID ${holder.pid}` : `PID ${holder.pid} on ${holder.host}`;
  const since = holder.startedAt ? `, started ${holder.startedAt}` : '';
  // Datasets compare as DuckDB resolves them (case-insensitively); said only when they differ.
  const other = holder.dataset !== undefined && dataset !== undefined && holder.dataset.toLowerCase() !== dataset.toLowerCase()
    ? ` into dataset ${holder.dataset} (one run at a time loads a file, whatever its dataset: run them one after another, or give each a file of its own)`
    : '';
  return new DestinationError(
    `opening the destination: DuckDB file ${dbPath} is being loaded by another pipeline run (${where}${since})${other}`,
    'locked',
    holder.host === hostname()
      ? `wait for that run to finish, then retry; if it is gone, delete ${lockPath}`
      : `wait for that run to finish, then retry (a lock from another machine untouched for ${OTHER_HOST_STALE_MS / 60_000} minutes is taken over); if it is gone, delete ${lockPath}`,
    dbPath,
  );
}

function runLock(stagingRoot: string, lockPath: string, holder: RunLockHolder, tookOverFrom: RunLockHolder | undefined): RunLock {
  const clearStaging = async () => {
    const entries = await readdir(stagingRoot).catch(() => [] as string[]);
    for (const entry of entries) {
      if (entry !== RUN_LOCK_FILE) await rm(join(stagingRoot, entry), { recursive: true, force: true });
    }
  };
  let released = false;
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref(); // never what keeps the process alive
  const onExit = () => releaseAtExit(stagingRoot, lockPath, holder.token);
  heldAtExit.add(onExit);
  if (heldAtExit.size === 1) process.on('exit', releaseAllAtExit);
  return {
    holder,
    ...(tookOverFrom !== undefined ? { tookOverFrom } : {}),
    clearStaging,
    stillHeld: async () => (await readHolder(lockPath))?.token === holder.token,
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      heldAtExit.delete(onExit);
      if (heldAtExit.size === 0) process.off('exit', releaseAllAtExit);
      // Only with our own lock: after a takeover race (see the top) the lock and the staging directory's other entries
      // may be another run's, staging what it is about to commit (this run's writers removed their own directories).
      if ((await readHolder(lockPath))?.token === holder.token) {
        await clearStaging().catch(() => undefined);
        await unlink(lockPath).catch(() => undefined);
      }
      await rmdir(stagingRoot).catch(() => undefined); // not empty: another run has started meanwhile
    },
  };
}

/**
 * Locks still held when the process exits without releasing them: the CLI's second Ctrl-C (or SIGTERM) ends it at
 * once with process.exit, as may an app embedding the loader. Their lock then stayed, and the staged rows (customer
 * data) until the next run, which said the previous run "was killed or crashed (exit 137 …)". 'exit' runs only
 * synchronous code, hence the *Sync calls; a SIGKILL runs nothing, and the next run takes the lock over as before.
 */
const heldAtExit = new Set<() => void>();

function releaseAllAtExit(): void {
  for (const release of heldAtExit) release();
}

function releaseAtExit(stagingRoot: string, lockPath: string, token: string): void {
  try {
    // Only our own lock, as release() does: after a takeover race it and the staged entries may be another run's.
    const held = (JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<RunLockHolder>).token === token;
    if (!held) return;
    for (const entry of readdirSync(stagingRoot)) {
      if (entry !== RUN_LOCK_FILE) rmSync(join(stagingRoot, entry), { recursive: true, force: true });
    }
    unlinkSync(lockPath);
    rmdirSync(stagingRoot);
  } catch {
    // Best effort while exiting: what is left is taken over by the next run.
  }
}
