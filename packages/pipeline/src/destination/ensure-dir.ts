// `mkdir -p` without Node's recursive mkdir: that one spins forever at full CPU, deaf to SIGTERM, where a parent exists
// but mkdir of its child still fails with ENOENT (procfs: `--duckdb /proc/x.duckdb`). Here each missing directory is
// made once, top down, so such a path fails with its error at once.
import { lstat, mkdir, readlink, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

/**
 * `mode`: for `dir` itself when this call creates it (a staging directory, 0700: it holds customer data), never for
 * its parents and never for a directory that exists (the user's, whose mode is theirs).
 */
export async function ensureDir(dir: string, mode?: number): Promise<void> {
  const leaf = resolve(dir);
  const missing: string[] = [];
  // Bounded by the path's depth: each step goes one directory up, and the root is its own parent.
  for (let at = leaf; ; at = dirname(at)) {
    const exists = await stat(at).then(() => true, (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    });
    if (exists) break;
    missing.push(at);
    if (dirname(at) === at) break;
  }
  for (const path of missing.reverse()) {
    await mkdir(path, path === leaf && mode !== undefined ? { mode } : undefined).catch((error: NodeJS.ErrnoException) => {
      // Made meanwhile by another run: fine, as with mkdir -p.
      if (error.code !== 'EEXIST') throw error;
    });
  }
}

/**
 * Makes the directory a new file at `path` goes in. For a symbolic link whose file is not there yet (linked before the
 * first run, to a bigger disk), that is the directory of the file it points at, where DuckDB creates it; the link's own
 * directory exists already.
 */
export async function ensureParentDir(path: string): Promise<void> {
  const link = await lstat(path).catch(() => undefined);
  const dangling = link?.isSymbolicLink() === true && !(await stat(path).then(() => true, () => false));
  await ensureDir(dirname(dangling ? resolve(dirname(path), await readlink(path)) : path));
}
