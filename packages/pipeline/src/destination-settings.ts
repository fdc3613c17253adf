// Checks of the destination's settings that need no file (path, dataset, DuckDB's SNAPENGAGE_DUCKDB_* limits): done
// while planning, before anything is opened.
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { envValue, type Env } from './env.js';
import { ConfigError } from './errors.js';
import { memoryCgroupLimit, settingsForMemoryLimit } from './memory-cgroup.js';
import { refuseRemotePath } from './remote-destination.js';
import { shownValue } from './shown-value.js';

/**
 * Names DuckDB resolves as catalogs (or system schemas) before a schema of the file: the built-in `system` and
 * `temp` catalogs, their `information_schema` and `pg_catalog`, and the file's own catalog. A dataset with one of
 * these names failed as "Ambiguous reference" (or "Cannot create entry in system catalog") only after its schema had
 * been created, and a `temp` schema left in an existing file then broke every later commit to any dataset of that
 * file (the loader's staging tables are `temp.main.…`). Case-insensitive, as DuckDB's identifiers are.
 */
const RESERVED = ['system', 'temp', 'information_schema', 'pg_catalog'];

/** The catalog name DuckDB gives a database file: its base name up to the first dot (`a.b.duckdb` → `a`). */
export function duckdbCatalogName(path: string): string {
  if (path === '' || path === ':memory:') return 'memory';
  return basename(path).split('.').find((part) => part !== '') ?? basename(path);
}

/** Refuses a path or dataset that is not a non-empty string, or a dataset DuckDB would read as something else. */
export function checkDestinationNames(path: unknown, dataset: unknown): void {
  if (typeof path !== 'string' || path.trim() === '') {
    throw new ConfigError(`destination.path (--duckdb) must be a file path such as "snapengage.duckdb", got ${shownValue(path)}`);
  }
  if (typeof dataset !== 'string' || dataset.trim() === '') {
    throw new ConfigError(`destination.dataset (--dataset) must be a schema name such as "snapengage_data", got ${shownValue(dataset)}`);
  }
  checkDestinationPath(path);
  const lower = dataset.toLowerCase();
  const catalog = duckdbCatalogName(path);
  if (RESERVED.includes(lower) || lower === catalog.toLowerCase()) {
    const why = RESERVED.includes(lower) ? 'a name DuckDB keeps for its own catalogs' : `the name DuckDB gives the file ${basename(path)} itself`;
    throw new ConfigError(`destination.dataset (--dataset) "${dataset}" is ${why}, so its tables could not be told apart: choose another name, such as "snapengage_data"`);
  }
}

/** For a path that starts with `~` (as the shell's `~/` or `~user/`): why it is not a home directory and what to write. */
export function unexpandedTildeFix(path: string): string | undefined {
  if (!/^~(?:$|[^/\\]*[/\\])/.test(path)) return undefined;
  const home = homeDirectory();
  const example = /^~(?:$|[/\\])/.test(path) && home !== undefined ? `, such as ${join(home, path.slice(2) || 'snapengage.duckdb')}` : '';
  return `~ is expanded only by a shell (not in a config, a quoted word or --duckdb=~/…): write the full path${example}`;
}

/**
 * The home directory, or undefined where there is none: with HOME unset, under a user id /etc/passwd does not know (a
 * container's `--user 12345`, Kubernetes' runAsUser), os.homedir() throws, and the refusal of a `~` path became
 * "unexpected error: … uv_os_homedir returned ENOENT".
 */
function homeDirectory(): string | undefined {
  try {
    return homedir();
  } catch {
    return undefined;
  }
}

/**
 * Paths that would load somewhere else than meant, refused before any request. A URL or MotherDuck name
 * (remote-destination.ts): it became a local directory `s3:` or file `md:mydb`. A leading `~` is expanded only by a
 * shell, and not in a config, a quoted word or `--duckdb=~/…`: the run made a directory named `~` in the working
 * directory. A `?` in a directory: DuckDB names its write-ahead log by putting `.wal` before the first `?` of the
 * path, a directory that does not exist, so the run extracted everything and then failed at its commit.
 */
function checkDestinationPath(path: string): void {
  if (path === ':memory:') return;
  refuseRemotePath(path);
  const tilde = unexpandedTildeFix(path);
  if (tilde) throw new ConfigError(`destination.path (--duckdb) ${JSON.stringify(path)} would name ${JSON.stringify(path.split(/[/\\]/)[0])} in ${process.cwd()}: ${tilde}`);
  const full = resolve(path);
  // Not in a Windows long path (\\?\C:\…): DuckDB knows that "?" is no query and puts `.wal` at the end.
  const question = full.startsWith('\\\\?\\') ? -1 : full.indexOf('?');
  if (question !== -1 && question < dirname(full).length) {
    throw new ConfigError(
      `destination.path (--duckdb) ${full} is in a directory whose path has a "?": DuckDB would write its log to ${full.slice(0, question)}.wal${full.slice(question)}, which does not exist, and every commit would fail; keep the DuckDB file in a directory without "?"`,
    );
  }
}

const MAX_DUCKDB_THREADS = 1024;

export interface DuckdbTuning {
  memoryLimit?: string;
  threads?: number;
  lockWaitSeconds?: number;
  /** Set when a memory cgroup limit chose smaller settings: which, and why (what --verbose prints). */
  note?: string;
}

/**
 * DuckDB's memory limit, threads and lock wait from SNAPENGAGE_DUCKDB_MEMORY_LIMIT / SNAPENGAGE_DUCKDB_THREADS /
 * SNAPENGAGE_DUCKDB_LOCK_WAIT, checked. Under a memory cgroup limit below 400 MiB (memory-cgroup.ts), a setting
 * neither variable gives is the smaller one chosen for it; `cgroupLimitBytes` is for tests.
 */
export function duckdbTuning(env: Env, cgroupLimitBytes: number | undefined = memoryCgroupLimit()): DuckdbTuning {
  const tuning: DuckdbTuning = {};
  const memory = envValue(env, 'SNAPENGAGE_DUCKDB_MEMORY_LIMIT');
  if (memory !== undefined) {
    if (!/^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(memory) || !(Number.parseFloat(memory) > 0)) {
      throw new ConfigError(`SNAPENGAGE_DUCKDB_MEMORY_LIMIT must be a size such as 512MB or 2GB, got ${JSON.stringify(memory)}`);
    }
    tuning.memoryLimit = memory;
  }
  const threads = envValue(env, 'SNAPENGAGE_DUCKDB_THREADS');
  if (threads !== undefined) {
    // Capped: DuckDB starts every thread at once, so 100000 had the process killed for memory, and beyond 2^31 it
    // failed with an INTERNAL error that named no variable.
    if (!/^\d+$/.test(threads) || Number(threads) < 1 || Number(threads) > MAX_DUCKDB_THREADS) {
      throw new ConfigError(`SNAPENGAGE_DUCKDB_THREADS must be a whole number from 1 to ${MAX_DUCKDB_THREADS}, got ${JSON.stringify(threads)}`);
    }
    tuning.threads = Number(threads);
  }
  const wait = envValue(env, 'SNAPENGAGE_DUCKDB_LOCK_WAIT');
  if (wait !== undefined) {
    if (!/^\d+$/.test(wait)) {
      throw new ConfigError(`SNAPENGAGE_DUCKDB_LOCK_WAIT must be a whole number of seconds >= 0 (0: do not wait), got ${JSON.stringify(wait)}`);
    }
    tuning.lockWaitSeconds = Number(wait);
  }
  const small = settingsForMemoryLimit(cgroupLimitBytes);
  // The variables always win; only a setting neither gives is chosen here.
  if (small && (tuning.memoryLimit === undefined || tuning.threads === undefined)) {
    const chosen: string[] = [];
    if (tuning.memoryLimit === undefined) chosen.push(`memory_limit ${(tuning.memoryLimit = small.memoryLimit)}`);
    if (tuning.threads === undefined) chosen.push(`${(tuning.threads = small.threads)} thread`);
    tuning.note = `DuckDB ${chosen.join(', ')}: ${small.reason}; SNAPENGAGE_DUCKDB_MEMORY_LIMIT / SNAPENGAGE_DUCKDB_THREADS override`;
  }
  return tuning;
}
