// A destination path that names remote storage (a URL: s3://, https://, …) or a MotherDuck database (md:…), as a user
// of dlt's destinations would write it: refused by its first check, before any request and before anything is made.
// Before: `s3://b/x.duckdb` loaded into a new local directory `s3:/b/`, and `md:mydb` into a local file named `md:mydb`.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { openDataset } from '../src/dataset.js';
import { checkDestinationNames } from '../src/destination-settings.js';
import { ConfigError } from '../src/errors.js';
import { runCli, sandbox, stats, tempDir } from './helpers.js';

const check = (path: string) => () => checkDestinationNames(path, 'snapengage_data');

describe('destination.path naming remote storage', () => {
  it('a URL of any scheme is refused in one line: what was given, why, and a local path to write', () => {
    for (const path of ['s3://bucket/loads/x.duckdb', 'gs://b/x.duckdb', 'gcs://b/x.duckdb', 'r2://b/x.duckdb', 'az://c/x.duckdb', 'azure://c/x.duckdb',
      'abfss://c@acct.dfs.core.windows.net/x.duckdb', 'http://host/x.duckdb', 'HTTPS://host/x.duckdb', 'hf://datasets/u/d/x.duckdb']) {
      expect(check(path), path).toThrow(ConfigError);
      expect(check(path), path).toThrow(/^destination\.path \(--duckdb\) ".*" is a URL \([a-z0-9]+:\/\/\): the loader writes a local DuckDB file; .*network.*SnapEngage base URL.*: pass a local path, such as x\.duckdb/);
    }
    expect(check('s3://bucket/loads/x.duckdb')).toThrow(
      'destination.path (--duckdb) "s3://bucket/loads/x.duckdb" is a URL (s3://): the loader writes a local DuckDB file; writing to remote storage needs a DuckDB extension downloaded over the network, and the loader makes no network request but to the SnapEngage base URL: pass a local path, such as x.duckdb, and copy the file there after the run (or ATTACH it from DuckDB)',
    );
  });

  it('a MotherDuck name (md:, motherduck:) is refused, its token never quoted', () => {
    expect(check('md:mydb')).toThrow(
      'destination.path (--duckdb) "md:mydb" is a MotherDuck database: the loader writes a local DuckDB file; MotherDuck needs a DuckDB extension downloaded over the network, and the loader makes no network request but to the SnapEngage base URL: pass a local path, such as snapengage.duckdb, and copy its tables to MotherDuck after the run (ATTACH the file in a MotherDuck session)',
    );
    for (const path of ['md:', 'MD:mydb', 'motherduck:mydb', 'md:mydb?motherduck_token=eyJhbGciOiJIUzI1NiJ9.secret-token', 'md:?motherduck_token=secret-token',
      // A token pasted without the "?": no query to mask (before: quoted whole).
      'md:mydb;motherduck_token=secret-token', 'md:mydb&motherduck_token=secret-token', 'md:motherduck_token=secret-token', 'MD:mydb motherduck_token=secret-token']) {
      expect(check(path), path).toThrow(/is a MotherDuck database/);
      let message = '';
      try {
        check(path)();
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message, path).not.toContain('secret-token');
    }
  });

  it('a leading space or tab does not make it a local path (before: a directory " s3:" or a file " md:mydb" here)', () => {
    expect(check(' s3://bucket/x.duckdb')).toThrow(/"s3:\/\/bucket\/x\.duckdb" is a URL \(s3:\/\/\)/);
    expect(check('\tmd:mydb')).toThrow(/"md:mydb" is a MotherDuck database/);
    expect(check('  ./md:mydb')).not.toThrow();
  });

  it('a URL with a user:password or a query is quoted without them', () => {
    let message = '';
    try {
      check('s3://AKIAKEY:s3cr3t@bucket/x.duckdb?s3_secret_access_key=s3cr3t')();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^destination\.path \(--duckdb\) "s3:\/\/\*\*\*@bucket\/x\.duckdb\?…" is a URL/);
    // The file name to suggest is the path's, without the mark of the masked query.
    expect(message).toContain(': pass a local path, such as x.duckdb, and copy');
    expect(message).not.toContain('s3cr3t');
    expect(message).not.toContain('AKIAKEY');
  });

  it('a file:// URL is refused with the local path it names', () => {
    expect(check('file:///srv/loads/x.duckdb')).toThrow(
      'destination.path (--duckdb) "file:///srv/loads/x.duckdb" is a file URL, which would be read as a relative path (a directory named "file:"): write the local path /srv/loads/x.duckdb',
    );
    expect(check('file://localhost/srv/my%20loads/x.duckdb')).toThrow(/: write the local path \/srv\/my loads\/x\.duckdb$/);
    expect(check('file://fileserver/share/x.duckdb')).toThrow(/"file:\/\/fileserver\/share\/x\.duckdb" is a file URL of another host \(fileserver\): pass a local path/);
  });

  it('dlt\'s way of writing a DuckDB location (duckdb:/x.duckdb, duckdb:///x.duckdb) is refused with the file path alone', () => {
    expect(check('duckdb:/snapengage.duckdb')).toThrow(/^destination\.path \(--duckdb\) "duckdb:\/snapengage\.duckdb" is dlt's form of a DuckDB location, which would be read as a relative path \(a directory named "duckdb:"\): write the file's path alone: snapengage\.duckdb$/);
    // A host and port is no file name to suggest.
    expect(check('https://example.com:8443')).toThrow(/: pass a local path, such as snapengage\.duckdb, and copy/);
  });

  it('dlt\'s credentials string names its directory too: four slashes an absolute path, three a relative one', () => {
    // dlt's docs (destinations/duckdb): `duckdb:///_storage/x.duckdb` is relative, `duckdb:////…` absolute.
    // Before: both were answered with the file name alone, "such as x.duckdb", a file in another directory.
    expect(check('duckdb:////srv/loads/x.duckdb')).toThrow(/is dlt's form of a DuckDB location, .*: write the file's path alone: \/srv\/loads\/x\.duckdb$/);
    expect(check('duckdb:///data/x.duckdb')).toThrow(/: write the file's path alone: data\/x\.duckdb$/);
    expect(check('duckdb:///x.duckdb?read_only=true')).toThrow(/"duckdb:\/\/\/x\.duckdb\?…" .*: write the file's path alone: x\.duckdb$/);
    expect(check('duckdb:///C:/data/x.duckdb')).toThrow(/: write the file's path alone: C:\/data\/x\.duckdb$/);
    expect(check('duckdb:////C:/data/x.duckdb')).toThrow(/: write the file's path alone: C:\/data\/x\.duckdb$/);
    // DuckDB's own prefix, no slash: before, a local file named "duckdb:x.duckdb".
    expect(check('duckdb:x.duckdb')).toThrow(/^destination\.path \(--duckdb\) "duckdb:x\.duckdb" has DuckDB's "duckdb:" prefix, which would be read as part of a local file's name: write the file's path alone: x\.duckdb$/);
    expect(check('duckdb:///')).toThrow(/: write the file's path alone, such as snapengage\.duckdb$/);
  });

  it('a duckdb: location around a MotherDuck name, a URL or another database is refused as that one, its token never quoted', () => {
    // duckdb_engine's (SQLAlchemy's) `duckdb:///md:db?motherduck_token=…`: before, the fix said to write `md:db` (refused
    // in turn), and a token pasted without its "?" was quoted twice, in the path and in the path to write.
    const messageOf = (path: string) => {
      try {
        check(path)();
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    };
    for (const path of ['duckdb:///md:db;motherduck_token=secret-token', 'duckdb:md:db;motherduck_token=secret-token', 'duckdb:///md:db?motherduck_token=secret-token']) {
      const message = messageOf(path);
      expect(message, path).toMatch(/^destination\.path \(--duckdb\) "duckdb:(\/\/\/)?md:db(\?)?…" (is dlt's form of a DuckDB location|has DuckDB's "duckdb:" prefix) naming a MotherDuck database: .*: pass a local path, such as snapengage\.duckdb, and copy its tables to MotherDuck/);
      expect(message, path).not.toContain('secret-token');
    }
    expect(messageOf('duckdb:///sqlite:data/x.db')).toMatch(/^destination\.path \(--duckdb\) "duckdb:\/\/\/sqlite:data\/x\.db" is dlt's form of a DuckDB location naming a SQLite database .*: pass a local path, such as data\/x\.duckdb,/);
    expect(messageOf('duckdb:///postgres:dbname=x password=s3cr3t')).not.toContain('s3cr3t');
    // One inside another reads as such, and still names the file to write.
    expect(messageOf('duckdb:duckdb:x.duckdb')).toMatch(/"duckdb:duckdb:x\.duckdb" has DuckDB's "duckdb:" prefix naming one that has DuckDB's "duckdb:" prefix, .*: write the file's path alone: x\.duckdb$/);
    expect(messageOf('duckdb:///s3://bucket/x.duckdb')).toMatch(/naming a URL \(s3:\/\/\): .*: pass a local path, such as x\.duckdb,/);
  });

  it('another database as DuckDB\'s ATTACH names it (sqlite:, postgres:, mysql:, ducklake:) is refused, naming a local file to write', () => {
    // Before: a local DuckDB file named "sqlite:data/x.db" (a directory "sqlite:data"), made after a whole extract.
    expect(check('sqlite:data/x.db')).toThrow(
      'destination.path (--duckdb) "sqlite:data/x.db" is a SQLite database as DuckDB\'s ATTACH names it (sqlite:…): the loader writes a local DuckDB file; a SQLite database needs a DuckDB extension downloaded over the network, and the loader makes no network request but to the SnapEngage base URL: pass a local path, such as data/x.duckdb, and copy its tables to the SQLite database after the run (ATTACH both in DuckDB)',
    );
    for (const [path, kind] of [['sqlite3:x.db', 'SQLite'], ['SQLITE:x.sqlite', 'SQLite'], ['sqlite_scanner:x.db', 'SQLite'], ['postgres:dbname=loads', 'PostgreSQL'],
      ['postgres_scanner:dbname=loads', 'PostgreSQL'], ['mysql:host=localhost database=loads', 'MySQL'], ['ducklake:metadata.ducklake', 'DuckLake']] as const) {
      expect(check(path), path).toThrow(new RegExp(`^destination\\.path \\(--duckdb\\) ".*" is an? ${kind}.* as DuckDB's ATTACH names it`));
    }
    // A connection string is not quoted: it may hold a password.
    let message = '';
    try {
      check('postgres:dbname=loads user=etl password=s3cr3t host=db')();
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/^destination\.path \(--duckdb\) "postgres:…" is a PostgreSQL database .*: pass a local path, such as snapengage\.duckdb, and copy its tables to the PostgreSQL database after the run/);
    expect(message).not.toContain('s3cr3t');
    // A part the quoted path masks (as user:password@) is not named by the file to write either.
    expect(check('sqlite:/srv/etl:s3cr3t@x.db')).toThrow(/"sqlite:\/\*\*\*@x\.db" is a SQLite database .*: pass a local path, such as snapengage\.duckdb, /);
  });

  it('the local file suggested for another database keeps its directory and drops a query; a prefix with nothing after it is quoted as it is', () => {
    // A URL of such a scheme (postgres://…) is a URL, not a prefix DuckDB's ATTACH reads.
    expect(check('postgres://etl:s3cr3t@db/loads')).toThrow(/^destination\.path \(--duckdb\) "postgres:\/\/\*\*\*@db\/loads" is a URL \(postgres:\/\/\)/);
    // The extension is the file name's, not a dot in a directory's name; a directory alone gets the default name.
    expect(check('sqlite:my.data/loads')).toThrow(/: pass a local path, such as my\.data\/loads\.duckdb, /);
    expect(check('sqlite:data/')).toThrow(/: pass a local path, such as snapengage\.duckdb, /);
    // A query is no part of the file's name (nor quoted: hideUrlCredentials masks it).
    expect(check('sqlite:data/x.db?cache=shared&vfs=unix.excl')).toThrow(/"sqlite:data\/x\.db\?…" .*: pass a local path, such as data\/x\.duckdb, /);
    expect(check('postgres:')).toThrow(/^destination\.path \(--duckdb\) "postgres:" is a PostgreSQL database /);
  });

  it('a name the quoted path masks a part of (read as user:password@) is not suggested: no such file was meant', () => {
    // Before: "write the file's path alone, such as ***@x.duckdb" and "pass a local path, such as ***@x.duckdb".
    expect(check('duckdb:///etl:s3cr3t@x.duckdb')).toThrow(/"duckdb:\/\/\/\*\*\*@x\.duckdb" .*: write the file's path alone, such as snapengage\.duckdb$/);
    expect(check('https://etl:s3cr3t@x.duckdb')).toThrow(/"https:\/\/\*\*\*@x\.duckdb" is a URL .*: pass a local path, such as snapengage\.duckdb, /);
  });

  it('local paths are left as they were: a colon later in a name, a name starting with a one-letter "scheme", :memory:', () => {
    for (const path of [':memory:', 'data/a:b.duckdb', 'a:b.duckdb', './md:mydb', './s3://b/x.duckdb', join(process.cwd(), 'x.duckdb'), 'snapengage.duckdb', 'C:/data/x.duckdb', 'C://data/x.duckdb',
      // A drive-relative Windows path; a word DuckDB knows as no database prefix; a local file so named, written as one.
      'C:x.duckdb', 'c:sqlite.duckdb', 'notes:2024.duckdb', 'data/sqlite:x.db', './sqlite:x.db', './postgres:dbname=x']) {
      expect(check(path), path).not.toThrow();
    }
  });
});

describe('the CLI and openDataset() with a remote destination path', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    box = await sandbox({ cases: 20, widgets: 1, days: 2 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });
  const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress'));

  it('run (--duckdb or destination.path) and show refuse it before any request, making no file or directory', async () => {
    writeFileSync(join(tmp.dir, 'remote.mjs'), `export const pipeline = { resources: { logs: true }, destination: { type: 'duckdb', path: 'gs://bucket/x.duckdb' } };\n`);
    const before = (await stats(box)).requests;
    const runs = [
      { args: ['run', '--resources', 'logs', '--duckdb', 's3://bucket/loads/x.duckdb'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "s3:\/\/bucket\/loads\/x\.duckdb" is a URL \(s3:\/\/\): / },
      { args: ['run', '--resources', 'logs', '--duckdb', 'md:mydb?motherduck_token=secret-token'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "md:mydb\?…" is a MotherDuck database: / },
      { args: ['run', '--config', 'remote.mjs'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "gs:\/\/bucket\/x\.duckdb" is a URL \(gs:\/\/\): / },
      { args: ['run', '--resources', 'logs', '--duckdb', 'file:///srv/x.duckdb'], line: /: write the local path \/srv\/x\.duckdb$/ },
      { args: ['run', '--resources', 'logs', '--duckdb', 'sqlite:x.db'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "sqlite:x\.db" is a SQLite database as DuckDB's ATTACH names it \(sqlite:…\): .*: pass a local path, such as x\.duckdb, / },
      { args: ['show', '--duckdb', 'postgres:dbname=x password=secret-token'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "postgres:…" is a PostgreSQL database / },
      // show: it said "No DuckDB file at md:mydb: load it first", which no run could ever make true.
      { args: ['show', '--duckdb', 'md:mydb?motherduck_token=secret-token'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "md:mydb\?…" is a MotherDuck database: / },
      { args: ['show', '--config', 'remote.mjs'], line: /^snapengage-pipeline: destination\.path \(--duckdb\) "gs:\/\/bucket\/x\.duckdb" is a URL/ },
    ];
    for (const { args, line } of runs) {
      const run = await runCli(args, { env: box.env, cwd: tmp.dir });
      expect(run.code, args.join(' ')).toBe(1);
      const lines = errorLines(run.stderr);
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0], args.join(' ')).toMatch(line);
      expect(`${run.stdout}${run.stderr}`).not.toContain('secret-token');
    }
    // Before: the s3:// run loaded into a new directory "s3:" here, the md: run into a local file named "md:mydb".
    expect(readdirSync(tmp.dir)).toEqual(['remote.mjs']);
    expect((await stats(box)).requests).toBe(before);
  }, 60_000);

  it('a local file so named (loaded by an earlier version, which took md:mydb as a relative path) is pointed to as ./md:mydb', async () => {
    const dir = join(tmp.dir, 'earlier');
    mkdirSync(dir);
    // The file an earlier version made of `--duckdb md:mydb`: the user's loaded data, there to be read again.
    const loaded = await runCli(['run', '--resources', 'logs', '--duckdb', './md:mydb'], { env: box.env, cwd: dir });
    expect(loaded.code, loaded.stderr).toBe(0);
    const show = await runCli(['show', '--duckdb', 'md:mydb'], { env: box.env, cwd: dir });
    expect(show.code).toBe(1);
    const lines = errorLines(show.stderr);
    expect(lines).toHaveLength(1);
    // Before: only "is a MotherDuck database … pass a local path, such as snapengage.duckdb", with the data right there.
    expect(lines[0]).toMatch(/is a MotherDuck database: .*; to use the local "md:mydb" that is in .*, write \.\/md:mydb$/);
    // What it says to write reads that file.
    const again = await runCli(['show', '--duckdb', './md:mydb'], { env: box.env, cwd: dir });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain('logs');
    // The same for a file an earlier version made of `--duckdb sqlite:x.db` (before: taken as that local file).
    expect((await runCli(['run', '--resources', 'logs', '--duckdb', './sqlite:x.db'], { env: box.env, cwd: dir })).code).toBe(0);
    const sqlite = await runCli(['show', '--duckdb', 'sqlite:x.db'], { env: box.env, cwd: dir });
    expect(sqlite.code).toBe(1);
    expect(errorLines(sqlite.stderr)[0]).toMatch(/is a SQLite database as DuckDB's ATTACH names it .*; to use the local "sqlite:x\.db" that is in .*, write \.\/sqlite:x\.db$/);
    const sqliteAgain = await runCli(['show', '--duckdb', './sqlite:x.db'], { env: box.env, cwd: dir });
    expect(sqliteAgain.code, sqliteAgain.stderr).toBe(0);
    expect(sqliteAgain.stdout).toContain('logs');
    // Not said when naming the file would quote a masked token.
    writeFileSync(join(dir, 'md:db?motherduck_token=secret-token'), '');
    const masked = await runCli(['show', '--duckdb', 'md:db?motherduck_token=secret-token'], { env: box.env, cwd: dir });
    expect(errorLines(masked.stderr)).toHaveLength(1);
    expect(masked.stderr).not.toContain('secret-token');
    expect(masked.stderr).not.toContain('to use the local');
  }, 60_000);

  it('openDataset() refuses it as one DestinationError line, its token masked', async () => {
    await expect(openDataset({ path: 'md:mydb?motherduck_token=secret-token', dataset: 'snapengage_data' })).rejects.toThrow(
      expect.objectContaining({ name: 'DestinationError', code: 'not_found', path: 'md:mydb?…', message: expect.stringMatching(/^opening the dataset: destination\.path "md:mydb\?…" is a MotherDuck database: [^\n]*$/) }),
    );
    await expect(openDataset({ path: 'https://host/x.duckdb', dataset: 'snapengage_data' })).rejects.toThrow(/^opening the dataset: destination\.path "https:\/\/host\/x\.duckdb" is a URL \(https:\/\/\)/);
  });
});
