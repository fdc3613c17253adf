// The printed load info's layout (its notes: plan.test.ts and the tests of what each note reports).
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkDestinationNames } from '../src/destination-settings.js';
import { LoadInfo } from '../src/load-info.js';
import { PACKAGE_DIR } from './helpers.js';

describe('load info', () => {
  it('aligns the row counts by display width: a table named from a CJK key takes two columns a character', () => {
    const rowCounts = { logs: 1, logs__标签: 22, logs__labels_x: 333 };
    const text = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), rowCounts, {}, []).toString();
    const rows = text.split('\n').slice(text.split('\n').indexOf('Rows loaded:') + 1);
    expect(rows).toEqual(['  logs            1', '  logs__labels_x  333', '  logs__标签      22']);
  });

  it('lists the tables in the same order whatever the machine\'s locale (a Czech one put chats after hours)', async () => {
    // The default locale is read from LANG/LC_ALL when Node starts, so the layout is printed by a process started so.
    const script = `import { LoadInfo } from './src/load-info.ts';
      const text = new LoadInfo('p', 'ds', 'db.duckdb', '1', new Date(0), new Date(1000), { hours: 1, chats: 2, chats__labels: 3 }, {}, []).toString();
      console.log(JSON.stringify(text.split('\\n').slice(text.split('\\n').indexOf('Rows loaded:') + 1)));`;
    const rows = async (locale: string) => {
      const env = { ...process.env, LANG: locale, LC_ALL: locale };
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: PACKAGE_DIR, env, timeout: 30_000 });
      return JSON.parse(stdout) as string[];
    };
    const expected = ['  chats          2', '  chats__labels  3', '  hours          1'];
    expect(await rows('C.UTF-8')).toEqual(expected);
    expect(await rows('cs_CZ.UTF-8')).toEqual(expected);
  });

  it('counts the stored columns past the twelve it lists right after them, not after the next resource\'s note', () => {
    const typeMismatches = Array.from({ length: 14 }, (_, i) => ({ table: 'logs', column: `c${i}`, type: 'BIGINT', declared: 'VARCHAR', kind: 'column' as const }));
    const schemaChanges = {
      logs: { newColumns: [], newTables: [], newVariants: [], typeMismatches },
      transcripts: { newColumns: [], newTables: [], newVariants: [], typeMismatches: [], depthNotApplied: { maxNestingDepth: 1, deeper: ['transcripts__x'], json: [] } },
    };
    const lines = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], undefined, { schemaChanges }).toString().split('\n');
    const last = lines.findIndex((l) => l.startsWith('Warning: logs.c11 '));
    expect(lines[last + 1]).toBe('... and 2 more columns stored with another type than the spec declares');
    expect(lines[last + 2]).toMatch(/^maxNestingDepth 1 of transcripts /);
    // One past the twelve: one column.
    const thirteen = { logs: { ...schemaChanges.logs, typeMismatches: typeMismatches.slice(0, 13) } };
    expect(new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], undefined, { schemaChanges: thirteen }).toString())
      .toContain('\n... and 1 more column stored with another type than the spec declares');
  });
});

describe('load info notes and location', () => {
  const make = (notes: ConstructorParameters<typeof LoadInfo>[10], unchanged: Record<string, number> = {}, limitPages?: number, path = 'db.duckdb') =>
    new LoadInfo('p', 'ds', path, '1.000001', new Date(0), new Date(1000), { logs: 3 }, unchanged, [], limitPages, notes);

  it('names only the resources a count applies to: none with 0 unchanged records, or 0 sequences cut short', () => {
    expect(make({}, { logs: 0, users: 2 }).toString()).toMatch(/^Unchanged records, already stored as fetched \(not rewritten\): users 2$/m);
    expect(make({}, { logs: 0 }).toString()).not.toContain('Unchanged records');
    expect(make({ sampledCutShort: { logs: 0 } }, {}, 2).toString()).toContain('Sampled with --limit-pages 2: every request sequence ended within it;');
    expect(make({ sampledCutShort: { logs: 0, users: 1 } }, {}, 2).toString()).toContain('Sampled with --limit-pages 2: users stopped early in 1 request sequence (the API');
  });

  it('lists the reasons for retries most common first: what the API mostly did is what to look into', () => {
    const retries = { requests: 4, reasons: { 'HTTP 502': 1, timeout: 5, 'connection reset': 2 } };
    expect(make({ retries }).toString()).toContain('Retried after transient failures: 4 requests, 8 retries (5 timeout, 2 connection reset, 1 HTTP 502); --verbose logs each');
  });

  it('shows a DuckDB file under the working directory relative to it, one elsewhere by its absolute path in dlt\'s form', () => {
    expect(make({}, {}, undefined, join(process.cwd(), 'data', 'x.duckdb')).location).toBe('duckdb:/data/x.duckdb');
    const outside = resolve(process.cwd(), '..', 'elsewhere', 'x.duckdb');
    // dlt prints `duckdb:////abs/x.duckdb` (four slashes: `duckdb:///` and an absolute path); three would be relative.
    expect(make({}, {}, undefined, outside).location).toBe(`duckdb:///${outside}`);
    expect(make({}, {}, undefined, 'rel/x.duckdb').location).toBe('duckdb:/rel/x.duckdb');
  });

  it('a printed location pasted back into --duckdb is refused with the very path it names', () => {
    for (const path of [join(process.cwd(), 'data', 'x.duckdb'), resolve(process.cwd(), '..', 'elsewhere', 'x.duckdb')]) {
      const location = make({}, {}, undefined, path).location;
      let message = '';
      try {
        checkDestinationNames(location, 'snapengage_data');
      } catch (error) {
        message = (error as Error).message;
      }
      expect(resolve(message.replace(/^.*write the file's path alone: /s, ''))).toBe(path);
    }
  });
});

describe('a killed refresh before this run', () => {
  const info = (refreshed?: Record<string, { replacedTables: string[] }>) =>
    new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), {}, {}, [], undefined, {
      interruptedRun: { pid: 42, host: 'h', startedAt: 'then', refresh: ['logs', 'chat_poll'] },
      ...(refreshed ? { refreshed } : {}),
    }).toString();
  it('names the refresh still to run, less what this run refreshed itself', () => {
    expect(info()).toContain('it was a refresh of logs, chat_poll, which this run does not finish: run with --refresh --resources logs,chat_poll');
    expect(info({ logs: { replacedTables: ['logs'] } })).toContain('it was a refresh of chat_poll, which this run does not finish: run with --refresh --resources chat_poll (');
    expect(info({ logs: { replacedTables: [] }, chat_poll: { replacedTables: [] } })).not.toContain('it was a refresh');
  });

  it('carries a checkpoint that failed at close in its notes and --json, not in the text (the CLI says it on stderr)', () => {
    const checkpointFailed = { wal: '/d/x.duckdb.wal', message: 'closing the destination: the disk is full at /d/x.duckdb, …' };
    const info = new LoadInfo('p', 'ds', '/d/x.duckdb', '1', new Date(0), new Date(1000), {}, {}, [], undefined, { checkpointFailed });
    expect(info.toJSON()).toMatchObject({ status: 'LOADED', checkpointFailed });
    expect(info.toString()).not.toContain('x.duckdb.wal');
    expect(new LoadInfo('p', 'ds', '/d/x.duckdb', '1', new Date(0), new Date(1000), {}, {}, []).toJSON()).not.toHaveProperty('checkpointFailed');
  });
});
