// DuckDB's lock on a database file is an OS lock, held per process: a second DuckDBInstance on the same file in
// this process is not refused, not even a writer beside a reader or beside another writer. Two writers then lose one
// another's commits (each checkpoints its own view of the file), and a reader keeps serving what it read before the
// writer's commit. So the loader and the dataset API count what this process has open, and refuse the conflicts
// the OS lock would refuse between processes. A pipeline run also holds a 'run' claim from start to end (the
// in-process half of run-lock.ts), while its 'write' claim lasts only as long as it has DuckDB open.
import { realpathSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { DestinationError } from './errors.js';

const held = new Map<string, { readers: number; writers: number; runs: number }>();

export type HoldMode = 'read' | 'write' | 'run';

/** The file's real path, also before the loader creates it (then its directory's real path). */
export function fileKey(path: string): string {
  for (const key of [() => realpathSync(path), () => join(realpathSync(dirname(path)), basename(path))]) {
    try {
      return key();
    } catch {
      // not there (yet)
    }
  }
  return resolve(path);
}

/**
 * Claims `path` in this process: 'read' (shared; a DuckDB instance reading it), 'write' (exclusive; a DuckDB
 * instance writing it) or 'run' (one pipeline run at a time; readers may come and go). Throws a 'locked'
 * DestinationError on a conflict. The returned function releases the claim (once, however often it is called).
 */
export function holdFile(path: string, mode: HoldMode): () => void {
  if (path === ':memory:') return () => undefined;
  const key = fileKey(path);
  const entry = held.get(key) ?? { readers: 0, writers: 0, runs: 0 };
  const claims = claimsOnFile(key);
  if (mode === 'run' && claims.runs > 0) {
    throw new DestinationError(
      `opening the destination: DuckDB file ${path} is being loaded by a pipeline run in this process`,
      'locked', 'run the pipelines one after the other (await the first)', path,
    );
  }
  if (mode !== 'run' && claims.writers > 0) {
    const action = mode === 'read' ? 'opening the dataset' : 'opening the destination';
    const hint = mode === 'read' ? 'retry in a moment (a run has the file open only while it reads its state and while it commits)' : 'run the pipelines one after the other (await the first)';
    throw new DestinationError(`${action}: DuckDB file ${path} is open for writing by a pipeline run in this process`, 'locked', hint, path);
  }
  if (mode === 'write' && claims.readers > 0) {
    throw new DestinationError(
      `opening the destination: DuckDB file ${path} is open in this process through openDataset()`,
      'locked', 'close() that dataset before running the pipeline, and open it again after', path,
    );
  }
  const field = mode === 'read' ? 'readers' : mode === 'write' ? 'writers' : 'runs';
  entry[field] += 1;
  held.set(key, entry);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    entry[field] -= 1;
    if (entry.readers === 0 && entry.writers === 0 && entry.runs === 0 && held.get(key) === entry) held.delete(key);
  };
}

/**
 * The claims on the file at `key` under any of its paths: a hard link is another path to the same file, and keyed by
 * path alone two runs through two links both went ahead (one's commit lost) as two runs through one path did. Held
 * files are few (those open now), so each is compared by device and inode when a claim is made.
 */
function claimsOnFile(key: string): { readers: number; writers: number; runs: number } {
  const total = { readers: 0, writers: 0, runs: 0 };
  const id = fileId(key);
  for (const [other, entry] of held) {
    if (other !== key && (id === undefined || fileId(other) !== id)) continue;
    total.readers += entry.readers;
    total.writers += entry.writers;
    total.runs += entry.runs;
  }
  return total;
}

function fileId(path: string): string | undefined {
  try {
    const s = statSync(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined; // not there (yet): only its path names it
  }
}

/** True while a pipeline run of this process holds its 'run' claim on `path` (for `show`). */
export function runHeldHere(path: string): boolean {
  return path !== ':memory:' && (held.get(fileKey(path))?.runs ?? 0) > 0;
}
