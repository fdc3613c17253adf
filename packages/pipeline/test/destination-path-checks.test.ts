// The local destination path checks that need no file (destination-settings.ts), each on its own: a leading `~` the
// shell did not expand, and `:memory:`, which names no file and so no directory.
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkDestinationNames, unexpandedTildeFix } from '../src/destination-settings.js';
import { tempDir } from './helpers.js';

const check = (path: string) => () => checkDestinationNames(path, 'snapengage_data');

describe('a leading ~ in destination.path', () => {
  it('~ alone is refused (it would be a file named "~" here), with the default file in the home directory to write', () => {
    expect(check('~')).toThrow(/^destination\.path \(--duckdb\) "~" would name "~" in .*: ~ is expanded only by a shell/);
    expect(unexpandedTildeFix('~')).toContain(`, such as ${join(homedir(), 'snapengage.duckdb')}`);
  });

  it('~user/… is refused without a guess at that user\'s home directory', () => {
    const fix = unexpandedTildeFix('~alice/x.duckdb');
    expect(fix).toBe('~ is expanded only by a shell (not in a config, a quoted word or --duckdb=~/…): write the full path');
    expect(check('~alice/x.duckdb')).toThrow(/would name "~alice" in /);
  });

  it('a ~ that is not first, or a name that starts with ~ and has no directory after it, is a local name', () => {
    for (const path of ['data/~/x.duckdb', '~x.duckdb', './~/x.duckdb']) expect(unexpandedTildeFix(path), path).toBeUndefined();
  });
});

describe(':memory:', () => {
  const cwd = process.cwd();
  const tmp = tempDir();
  afterEach(() => {
    process.chdir(cwd);
    tmp.cleanup();
  });

  it('is not refused in a working directory whose path has a "?" (it names no file, so DuckDB writes no log there)', () => {
    const dir = join(tmp.dir, 'what?now');
    mkdirSync(dir);
    process.chdir(dir);
    expect(check(':memory:')).not.toThrow();
    expect(check('x.duckdb')).toThrow(/is in a directory whose path has a "\?"/);
  });
});
