// Hostile inputs found by hand (env values, CLI flags, config modules): each is refused before anything is written,
// in one line that names what to fix, with no credential in it; or, for DuckDB's own failures, named as such.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { ConfigError, DestinationError, runPipeline } from '../src/index.js';
import { loadPipelineConfig } from '../src/config-loader.js';
import { planPipeline } from '../src/plan.js';
import { loadEnv } from '../src/env.js';
import { query, runCli, sandbox, stats, tempDir } from './helpers.js';

const env = {
  SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9',
  SNAPENGAGE_ORG_ID: 'org',
  SNAPENGAGE_API_TOKEN: 'tok',
  SNAPENGAGE_WIDGET_ID: 'w1,w2',
  SNAPENGAGE_START_DATE: '2025-01-01',
};
const logs = { resources: { logs: true as const } };

describe('inputs refused while planning', () => {
  it('a widget list with no item, or items joined by another separator or quoted', () => {
    for (const value of [',', ' , ,']) {
      expect(() => planPipeline(logs, { ...env, SNAPENGAGE_WIDGET_ID: value })).toThrow(/^SNAPENGAGE_WIDGET_ID holds no item .*separated by commas/);
    }
    for (const value of ['w1 w2', 'w1;w2', '"w1"', "w1,'w2'"]) {
      expect(() => planPipeline(logs, { ...env, SNAPENGAGE_WIDGET_ID: value })).toThrow(/^SNAPENGAGE_WIDGET_ID has an item with a space, a ";" or a quote/);
    }
    // The fix goes where the value came from: the .env file, or the environment (which wins over it).
    const dir = tempDir();
    try {
      const fromProcess = loadEnv(dir.dir, { ...env, SNAPENGAGE_WIDGET_ID: ',' });
      expect(() => planPipeline(logs, fromProcess)).toThrow(/holds no item \(got ","\): give one or more ids separated by commas: fix it in the environment \(set there, it wins over \.env\)$/);
      writeFileSync(join(dir.dir, '.env'), 'SNAPENGAGE_WIDGET_ID=w1;w2\n');
      const fromFile = loadEnv(dir.dir, { ...env, SNAPENGAGE_WIDGET_ID: '' });
      expect(() => planPipeline(logs, fromFile)).toThrow(`separate ids with commas only, without quotes: fix it in ${join(dir.dir, '.env')}`);
      // Blank in the environment but for spaces (`SNAPENGAGE_WIDGET_ID=' ' cmd`): the value is still .env's, and so is the fix.
      const underSpaces = loadEnv(dir.dir, { ...env, SNAPENGAGE_WIDGET_ID: '  ' });
      expect(() => planPipeline(logs, underSpaces)).toThrow(`separate ids with commas only, without quotes: fix it in ${join(dir.dir, '.env')}`);
    } finally {
      dir.cleanup();
    }
    // A dot segment: chat_availability's request for it failed after the others' as "GET /api/v1/chat/{widgetId} at :
    // … the path parameter widgetId is \"..\"", naming neither the variable nor the item.
    for (const value of ['w1,..', '.,w2']) {
      expect(() => planPipeline(logs, { ...env, SNAPENGAGE_WIDGET_ID: value })).toThrow(
        /^SNAPENGAGE_WIDGET_ID has an item that cannot be an id \("\.\.?"\): remove it/,
      );
    }
    // Spaces around the commas, duplicates and empty items between good ones stay fine.
    expect(() => planPipeline(logs, { ...env, SNAPENGAGE_WIDGET_ID: ' w1 , w2,,w1, ' })).not.toThrow();
  });

  it('a dataset DuckDB reads as one of its catalogs', () => {
    for (const dataset of ['temp', 'TEMP', 'system', 'information_schema', 'pg_catalog']) {
      expect(() => planPipeline({ ...logs, destination: { type: 'duckdb', dataset } }, env)).toThrow(new RegExp(`^destination.dataset \\(--dataset\\) "${dataset}" is a name DuckDB keeps`));
    }
    // The file's own catalog: `shop.duckdb` is the catalog `shop`.
    expect(() => planPipeline({ ...logs, destination: { type: 'duckdb', path: 'data/shop.v2.duckdb', dataset: 'Shop' } }, env)).toThrow(/"Shop" is the name DuckDB gives the file shop\.v2\.duckdb itself/);
    expect(() => planPipeline({ ...logs, destination: { type: 'duckdb', path: 'x.duckdb', dataset: '' } }, env)).toThrow(/destination.dataset \(--dataset\) must be a schema name/);
    expect(planPipeline({ ...logs, destination: { type: 'duckdb', dataset: 'main' } }, env).destination.dataset).toBe('main');
  });

  it('more DuckDB threads than a process can start', () => {
    expect(() => planPipeline(logs, { ...env, SNAPENGAGE_DUCKDB_THREADS: '100000' })).toThrow(/^SNAPENGAGE_DUCKDB_THREADS must be a whole number from 1 to 1024, got "100000"/);
    expect(planPipeline(logs, { ...env, SNAPENGAGE_DUCKDB_THREADS: '1024' }).destination.threads).toBe(1024);
  });

  it('a base URL with a query or a fragment, named by its variable and not echoed', () => {
    for (const url of ['http://127.0.0.1:9/?token=s3cr3t-value', 'http://127.0.0.1:9#s3cr3t-value']) {
      let message = '';
      try {
        planPipeline(logs, { ...env, SNAPENGAGE_BASE_URL: url });
      } catch (error) {
        message = (error as Error).message;
      }
      expect(message).toMatch(/^SNAPENGAGE_BASE_URL \(or connection.baseUrl\) must not carry a query/);
      expect(message).not.toContain('s3cr3t');
    }
  });
});

describe('config modules that do not export a config object', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('one that throws null, exports a Promise or exports a function', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['null.mjs', 'throw null;', /Cannot load pipeline config .*null\.mjs: null$/],
      ['number.mjs', 'throw 42;', /Cannot load pipeline config .*number\.mjs: 42$/],
      // An object that is no Error but has a message (what some libraries throw): its message, not [object Object].
      ['object.mjs', "throw { code: 'E_CONF', message: 'no widget configured' };", /Cannot load pipeline config .*object\.mjs: no widget configured$/],
      ['promise.mjs', 'export default Promise.resolve({ resources: { logs: true } });', /promise\.mjs exports a Promise, not a pipeline config object: await it in the module/],
      ['fn.mjs', 'export default () => ({ resources: { logs: true } });', /fn\.mjs exports a function, not a pipeline config object: export what it returns/],
    ];
    for (const [file, text, message] of cases) {
      writeFileSync(join(dir.dir, file), text);
      const error = await loadPipelineConfig(file, env, dir.dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('the CLI on hostile flags and files', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    box = await sandbox({ cases: 40, widgets: 2, days: 3 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a repeated flag is refused, not the last one taken', async () => {
    const run = await runCli(['run', '--resources', 'widgets', '--resources', 'users', '--duckdb', join(tmp.dir, 'rep.duckdb')], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe('snapengage-pipeline: --resources given 2 times ("widgets", "users"): give it once (several resources go in one comma list: --resources widgets,users)');
    const show = await runCli(['show', '--duckdb', 'a.duckdb', '--duckdb', 'b.duckdb'], { env: {}, cwd: tmp.dir });
    expect(show.code).toBe(2);
    expect(show.stderr).toMatch(/--duckdb given 2 times/);
    expect(existsSync(join(tmp.dir, 'rep.duckdb'))).toBe(false);
  });

  it('--limit-pages takes decimal digits only, and says how to pass a value that starts with "-"', async () => {
    for (const value of ['0x10', '1e3', ' 2', '1.0']) {
      const run = await runCli(['run', '--resources', 'widgets', '--limit-pages', value], { env: box.env, cwd: tmp.dir });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`--limit-pages must be an integer >= 1, got "${value}"`);
    }
    const negative = await runCli(['run', '--limit-pages', '-1'], { env: box.env, cwd: tmp.dir });
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--limit-pages is followed by a value that starts with "-": write it as --limit-pages=<value>/);
  });

  it('SNAPENGAGE_WIDGET_ID="," is refused before any request', async () => {
    const before = (await stats(box)).requests;
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'w.duckdb')], { env: { ...box.env, SNAPENGAGE_WIDGET_ID: ',' }, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/SNAPENGAGE_WIDGET_ID holds no item \(got ","\)/);
    expect((await stats(box)).requests).toBe(before);
    expect(existsSync(join(tmp.dir, 'w.duckdb'))).toBe(false);
  });

  it('--dataset temp on an existing file leaves it loadable (it used to leave a `temp` schema that broke every commit)', async () => {
    const db = join(tmp.dir, 'kept.duckdb');
    expect((await runCli(['run', '--resources', 'widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir })).code).toBe(0);
    const refused = await runCli(['run', '--resources', 'widgets', '--duckdb', db, '--dataset', 'temp'], { env: box.env, cwd: tmp.dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^snapengage-pipeline: destination.dataset \(--dataset\) "temp" is a name DuckDB keeps for its own catalogs/);
    expect(await query(db, `SELECT schema_name FROM duckdb_schemas() WHERE lower(schema_name) = 'temp' AND NOT internal`)).toEqual([]);
    const again = await runCli(['run', '--resources', 'widgets', '--duckdb', db, '--dataset', 'other_data'], { env: box.env, cwd: tmp.dir });
    expect(again.stderr).not.toMatch(/error/i);
    expect(again.code).toBe(0);
  });

  it('a file that already holds a `temp` schema (left by an older version run with --dataset temp) still loads', async () => {
    const db = join(tmp.dir, 'stray-temp.duckdb');
    expect((await runCli(['run', '--resources', 'logs,widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir })).code).toBe(0);
    await query(db, 'CREATE SCHEMA "temp"; CREATE TABLE "stray-temp"."temp"."_matched" (x INTEGER)', 'READ_WRITE');
    // A rerun merges (its temp tables _matched, _unchanged, …): `temp."_matched"` named that schema, not DuckDB's
    // temp catalog, and every commit failed; the loader now names them `temp.main."…"`.
    const again = await runCli(['run', '--resources', 'logs,widgets', '--duckdb', db], { env: box.env, cwd: tmp.dir });
    expect(again.stderr).not.toMatch(/error/i);
    expect(again.code).toBe(0);
  });

  it('a credential in a config module\'s own error is masked', async () => {
    const token = box.env.SNAPENGAGE_API_TOKEN!;
    writeFileSync(join(tmp.dir, 'throws.mjs'), 'throw new Error(`token ${process.env.SNAPENGAGE_API_TOKEN} refused`);');
    const run = await runCli(['run', '--config', 'throws.mjs'], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/throws\.mjs: token \*\*\* refused/);
    expect(run.stderr + run.stdout).not.toContain(token);
  });

  it('a memory limit too small for DuckDB names the variable to raise', async () => {
    const error = await runPipeline({ resources: { widgets: true } }, {
      env: { ...box.env, SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '1KB' },
      destination: { path: join(tmp.dir, 'oom.duckdb') },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as DestinationError).code).toBe('out_of_memory');
    expect((error as Error).message).toMatch(/DuckDB ran out of memory .*: raise SNAPENGAGE_DUCKDB_MEMORY_LIMIT/);
    expect(existsSync(join(tmp.dir, 'oom.duckdb'))).toBe(false);
  });
});

describe('a start date with a mistyped year', () => {
  it('is refused before the epoch, as the scaffolder refuses it', () => {
    expect(() => planPipeline(logs, { ...env, SNAPENGAGE_START_DATE: '0024-01-01' })).toThrow(/^SNAPENGAGE_START_DATE is 0024-01-01, before 1970-01-01: no case is that old; check the year$/);
    expect(() => planPipeline({ resources: { logs: { incremental: { startDate: '1969-12-31' } } } }, env)).toThrow(/^resources\.logs\.incremental\.startDate is 1969-12-31, before 1970-01-01/);
    expect(planPipeline(logs, { ...env, SNAPENGAGE_START_DATE: '1970-01-01' }).resources[0]?.incremental?.startDate).toBe('1970-01-01');
  });
});
