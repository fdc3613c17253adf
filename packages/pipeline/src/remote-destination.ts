// A destination path that names no local file: a URL (s3://, https://, …), a MotherDuck database (md:…), a file://
// URL or dlt's `duckdb:/…` location. Users of dlt's destinations write these; here each was resolved as a relative
// path (a directory `s3:` or a file `md:mydb` in the working directory) after a whole extract. The loader writes a
// local file, and remote storage or MotherDuck need DuckDB extensions downloaded over the network, a request to
// somewhere other than the SnapEngage base URL, so they are refused with what to write instead.
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
const FILE_URL = /^file:\//i;
const DLT_DUCKDB_LOCATION = /^duckdb:\//i;
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
  const fileName = (fallback: string) => {
    const name = basename(shown.replace(/\?…$/, ''));
    return name.includes('.') && !name.includes(':') ? name : fallback;
  };
  if (MOTHERDUCK.test(path)) {
    const shown = motherDuckShown(path);
    return {
      shown,
      what: `"${shown}" is a MotherDuck database: the loader writes a local DuckDB file; MotherDuck needs a DuckDB extension downloaded over the network, ${NO_NETWORK}`,
      fix: 'pass a local path, such as snapengage.duckdb, and copy its tables to MotherDuck after the run (ATTACH the file in a MotherDuck session)',
    };
  }
  if (FILE_URL.test(path)) return fileUrlProblem(path, shown);
  if (DLT_DUCKDB_LOCATION.test(path)) {
    return {
      shown,
      what: `"${shown}" is dlt's form of a DuckDB location, which would be read as a relative path (a directory named "duckdb:")`,
      fix: `write the file's path alone, such as ${fileName('snapengage.duckdb')}`,
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
