// A destination path that names no local file: a URL (s3://, https://, …), a MotherDuck database (md:…), another
// database as DuckDB's ATTACH names it (sqlite:…, postgres:…, mysql:…, ducklake:…), a file:// URL or dlt's
// `duckdb:///…` location. Users of dlt's destinations and of DuckDB write these; here each was resolved as a relative
// path (a directory `s3:` or a file `md:mydb` in the working directory) after a whole extract. The loader writes a
// local DuckDB file, and remote storage, MotherDuck or another database need DuckDB extensions downloaded over the
// network, a request to somewhere other than the SnapEngage base URL, so they are refused with what to write instead.
import { existsSync } from 'node:fs';
import { basename, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hideUrlCredentials } from 'snapengage-client';
import { ConfigError } from './errors.js';

export interface RemotePathProblem {
  /** The path as it may be quoted: no user:password, query or fragment (where a MotherDuck token goes). */
  shown: string;
  /** What was given and why it cannot be loaded into. */
  what: string;
  /** What to write instead. */
  fix: string;
}

/** A scheme of two or more letters before `://`: one letter is a Windows drive (`C://data` is a local path). */
const URL_SCHEME = /^([a-z][a-z0-9+.-]+):\/\//i;
const MOTHERDUCK = /^(?:md|motherduck):/i;
/**
 * The prefixes by which DuckDB's ATTACH (and DuckDBInstance.create of a bare name) opens another kind of database,
 * with DuckDB's aliases (sqlite3, postgres_scanner, …): two or more letters, so a Windows drive (`C:x`) is none, and
 * not before `//` (a URL, below). Any other `word:` is part of a local name, as the loader hands DuckDB a full path.
 */
const DATABASE_PREFIX = /^(sqlite3?|sqlite_scanner|postgres(?:_scanner)?|mysql(?:_scanner)?|ducklake):(?!\/\/)/i;
const DATABASE_KINDS: Readonly<Record<string, string>> = { sqlite: 'a SQLite database', postgres: 'a PostgreSQL database', mysql: 'a MySQL database', ducklake: 'a DuckLake' };
const FILE_URL = /^file:\//i;
/** dlt's credentials string (`duckdb:///rel.duckdb`, `duckdb:////abs.duckdb`), its printed location, DuckDB's own prefix. */
const DLT_DUCKDB_LOCATION = /^duckdb:/i;
const NO_NETWORK = 'and the loader makes no network request but to the SnapEngage base URL';

/**
 * Why `path` names no local file, or undefined for a local path. Anything else with a colon is a local name
 * (`data/a:b.duckdb`, `a:b.duckdb`: the loader hands DuckDB the full path, so it reads no extension prefix there), and
 * `./md:x` or `./s3://…` is how to mean a local file of such a name.
 */
export function remotePathProblem(path: string): RemotePathProblem | undefined {
  // A leading space or tab (a pasted or quoted value) made a directory " s3:" like any other relative path.
  const problem = remoteProblem(path.trimStart());
  // A file or directory of that name here: made by a version that took `md:mydb` or `s3://…` as a relative path, the
  // user's loaded data. Said how to keep using it, unless naming it would quote what was masked (a token).
  if (problem && problem.shown === path && existsSync(path)) {
    return { ...problem, fix: `${problem.fix}; to use the local ${JSON.stringify(path)} that is in ${process.cwd()}, write ./${path}` };
  }
  return problem;
}

/** Refuses a destination path of `run` or `show` that names no local file (the dataset API says it its own way). */
export function refuseRemotePath(path: string): void {
  const remote = remotePathProblem(path);
  if (remote) throw new ConfigError(`destination.path (--duckdb) ${remote.what}: ${remote.fix}`);
}

function remoteProblem(path: string): RemotePathProblem | undefined {
  const shown = hideUrlCredentials(path);
  // Not a name the quoted path masks a part of (`etl:pw@x.duckdb` read as user:password@): `***@x.duckdb` was meant by no one.
  const fileName = (fallback: string) => {
    const name = basename(shown.replace(/\?…$/, ''));
    return name.includes('.') && !name.includes(':') && !name.includes('***@') ? name : fallback;
  };
  if (MOTHERDUCK.test(path)) {
    const shown = motherDuckShown(path);
    return {
      shown,
      what: `"${shown}" is a MotherDuck database: the loader writes a local DuckDB file; MotherDuck needs a DuckDB extension downloaded over the network, ${NO_NETWORK}`,
      fix: 'pass a local path, such as snapengage.duckdb, and copy its tables to MotherDuck after the run (ATTACH the file in a MotherDuck session)',
    };
  }
  const prefix = DATABASE_PREFIX.exec(path)?.[1];
  if (prefix !== undefined) return databaseProblem(path, prefix);
  if (FILE_URL.test(path)) return fileUrlProblem(path, shown);
  if (DLT_DUCKDB_LOCATION.test(path)) {
    const form = path.slice('duckdb:'.length).startsWith('/') ? "is dlt's form of a DuckDB location" : `has DuckDB's "duckdb:" prefix`;
    const named = namedInside(path);
    if (named) return { shown: named.shown, what: `"${named.shown}" ${form} naming ${named.what}`, fix: named.fix };
    const local = dltLocationPath(shown);
    return {
      shown,
      what: `"${shown}" ${form}, ${form.startsWith('is') ? 'which would be read as a relative path (a directory named "duckdb:")' : "which would be read as part of a local file's name"}`,
      fix: local ? `write the file's path alone: ${local}` : `write the file's path alone, such as ${fileName('snapengage.duckdb')}`,
    };
  }
  const scheme = URL_SCHEME.exec(path)?.[1];
  if (scheme === undefined) return undefined;
  return {
    shown,
    what: `"${shown}" is a URL (${scheme.toLowerCase()}://): the loader writes a local DuckDB file; writing to remote storage needs a DuckDB extension downloaded over the network, ${NO_NETWORK}`,
    fix: `pass a local path, such as ${fileName('snapengage.duckdb')}, and copy the file there after the run (or ATTACH it from DuckDB)`,
  };
}

/**
 * The path a `duckdb:` location names, as dlt's credentials string reads it (SQLAlchemy's form): after `duckdb:///`
 * the path, so four slashes make an absolute path and three a relative one. One slash is the location a load info
 * prints (`duckdb:/` and the path). Undefined when nothing is left to name (masked credentials, no path).
 */
function dltLocationPath(location: string): string | undefined {
  const rest = location.slice('duckdb:'.length).replace(/\?…$/, '');
  let local = rest.startsWith('///') ? rest.slice(3) : rest.replace(/^\//, '');
  // `duckdb:////C:/data/x.duckdb`: a Windows drive after the absolute path's slash.
  if (/^\/[a-z]:[/\\]/i.test(local)) local = local.slice(1);
  return local === '' || local.includes('***@') ? undefined : local;
}

/**
 * What a `duckdb:` location holds when that is no file either: duckdb_engine's `duckdb:///md:db?motherduck_token=…`,
 * `duckdb:///sqlite:x.db`. Refused as that (its own masking: a token pasted without its "?" stays hidden), not with
 * its path to write alone, which named the token and is refused in turn. `what` goes after "naming".
 */
function namedInside(path: string): RemotePathProblem | undefined {
  const inner = dltLocationPath(path);
  if (inner === undefined || !path.endsWith(inner)) return undefined;
  const problem = remoteProblem(inner);
  if (!problem) return undefined;
  const shown = `${path.slice(0, path.length - inner.length)}${problem.shown}`;
  const quoted = `"${problem.shown}" `;
  const what = problem.what.startsWith(`${quoted}is `) ? problem.what.slice(quoted.length + 3) : `one that ${problem.what.slice(quoted.length)}`;
  return { shown, what, fix: problem.fix };
}

/**
 * A database of another kind as DuckDB's ATTACH names it. Only a SQLite file's path is quoted: the rest of a
 * PostgreSQL, MySQL or DuckLake string is a connection string, which may hold a password.
 */
function databaseProblem(path: string, prefix: string): RemotePathProblem {
  const lower = prefix.toLowerCase();
  const kind = DATABASE_KINDS[lower.replace(/3$|_scanner$/, '')]!;
  const rest = path.slice(prefix.length + 1);
  const isSqlite = lower.startsWith('sqlite');
  const shown = isSqlite ? hideUrlCredentials(path) : rest === '' ? `${prefix}:` : `${prefix}:…`;
  // The SQLite file's name with a DuckDB extension, where it was: `sqlite:data/x.db` → data/x.duckdb (not where the
  // shown path masks a part, as `a@b`, which the suggestion would quote).
  const file = isSqlite && !shown.includes('***@') ? rest.replace(/[?#][\s\S]*$/, '') : '';
  const local = file === '' || /[/\\]$/.test(file) ? 'snapengage.duckdb' : file.replace(/(\.[^./\\]*)?$/, '.duckdb');
  return {
    shown,
    what: `"${shown}" is ${kind} as DuckDB's ATTACH names it (${lower}:…): the loader writes a local DuckDB file; ${kind} needs a DuckDB extension downloaded over the network, ${NO_NETWORK}`,
    fix: `pass a local path, such as ${local}, and copy its tables to ${kind.replace(/^an? /, 'the ')} after the run (ATTACH both in DuckDB)`,
  };
}

/**
 * `md:` and the database name alone: a token pasted without the `?` (`md:db;motherduck_token=…`, `md:db&…`,
 * `md:motherduck_token=…`) is no query hideUrlCredentials would mask, and the name is all a reader needs.
 */
function motherDuckShown(path: string): string {
  const name = /^(?:md|motherduck):[\w./-]*/i.exec(path)![0];
  const rest = path.slice(name.length);
  if (rest === '') return name;
  return /^[?#]/.test(rest) ? `${name}?…` : `${name}…`;
}

/** A file URL names a local path: said exactly, rather than guessed at (its percent-escapes, `localhost`, a drive). */
function fileUrlProblem(path: string, shown: string): RemotePathProblem {
  const what = `"${shown}" is a file URL, which would be read as a relative path (a directory named "file:")`;
  try {
    // The form of the platform whose paths the loader resolves (a Windows drive or share as C:\…, \\server\…).
    return { shown, what, fix: `write the local path ${fileURLToPath(path, { windows: sep === '\\' })}` };
  } catch {
    // On POSIX a host other than localhost (a share), or an escaped "/" in a name: no local path to name.
    const host = URL.canParse(path) ? new URL(path).hostname : '';
    return {
      shown,
      what: host ? `"${shown}" is a file URL of another host (${host})` : `"${shown}" is a file URL that names no local path`,
      fix: 'pass a local path (of a mounted share, for one)',
    };
  }
}
