// A user coming from dlt's SnapEngage page has a DuckDB file dlt loaded: dataset snapengage_data (this loader's
// default too) with dlt's tables and columns. Pointing the loader at it must refuse before writing anything, naming
// dlt and a dataset to use instead; another dataset in the same file loads beside dlt's, which stays as it was.
// Real DuckDB files (dlt's layout made with @duckdb/node-api) and the CLI against the sandbox over loopback.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Sandbox } from 'snapengage-sandbox';
import { openDataset } from '../src/dataset.js';
import { DestinationError, DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { PACKAGE_DIR, query, runCli, sandbox, tempDir, thingsResource, withQueries } from './helpers.js';

/** The SQL statements of OPERATIONS.md's "Migrating from dlt", as written there. */
function migratingSql(): string[] {
  const section = readFileSync(join(PACKAGE_DIR, 'OPERATIONS.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Migrating from dlt')) ?? '';
  return [...section.matchAll(/`((?:SELECT|DROP) [^`]+;)`/g)].map((m) => m[1]!);
}

/** dlt 1.x's layout after `pipeline.run(snapengage_source())`: its three system tables and a root and child table. */
async function makeDltFile(path: string, dataset = 'snapengage_data'): Promise<void> {
  const s = `"${dataset}"`;
  const instance = await DuckDBInstance.create(path);
  const conn = await instance.connect();
  try {
    await conn.run(`CREATE SCHEMA ${s};
      CREATE TABLE ${s}._dlt_version (version BIGINT NOT NULL, engine_version BIGINT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, schema_name VARCHAR NOT NULL, version_hash VARCHAR NOT NULL, schema VARCHAR NOT NULL);
      CREATE TABLE ${s}._dlt_loads (load_id VARCHAR NOT NULL, schema_name VARCHAR, status BIGINT NOT NULL, inserted_at TIMESTAMPTZ NOT NULL, schema_version_hash VARCHAR);
      CREATE TABLE ${s}._dlt_pipeline_state (version BIGINT NOT NULL, engine_version BIGINT NOT NULL, pipeline_name VARCHAR NOT NULL, state VARCHAR NOT NULL, created_at TIMESTAMPTZ NOT NULL, version_hash VARCHAR, _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL UNIQUE);
      CREATE TABLE ${s}.logs (id VARCHAR, widget_id VARCHAR, created_at_seconds BIGINT, _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL UNIQUE);
      CREATE TABLE ${s}.logs__transcripts (id VARCHAR, text VARCHAR, _dlt_parent_id VARCHAR NOT NULL, _dlt_list_idx BIGINT NOT NULL, _dlt_id VARCHAR NOT NULL UNIQUE, _dlt_root_id VARCHAR);
      CREATE TABLE ${s}.widgets (id VARCHAR, name VARCHAR, _dlt_load_id VARCHAR NOT NULL, _dlt_id VARCHAR NOT NULL UNIQUE);
      INSERT INTO ${s}._dlt_version VALUES (2, 11, now(), 'snapengage_source', 'h1', '{}');
      INSERT INTO ${s}._dlt_loads VALUES ('1749667187.541553', 'snapengage_source', 0, now(), 'h1');
      INSERT INTO ${s}._dlt_pipeline_state VALUES (1, 4, 'snapengage_pipeline', 'eNo=', now(), 'h1', '1749667187.541553', 's1');
      INSERT INTO ${s}.logs VALUES ('c1', 'w1', 1749660000, '1749667187.541553', 'r1'), ('c2', 'w1', 1749660100, '1749667187.541553', 'r2');
      INSERT INTO ${s}.logs__transcripts VALUES ('t1', 'hi', 'r1', 0, 'k1', 'r1');
      INSERT INTO ${s}.widgets VALUES ('w1', 'Main', '1749667187.541553', 'x1');`);
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** Every table of the file with its row count and columns: what "the file is unchanged" compares. */
async function contents(path: string) {
  // One connection for every count: opening the file per table cost ~20 ms each.
  return withQueries(path, async (run) => {
    const tables = await run(`SELECT table_schema AS s, table_name AS t, string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) AS columns
      FROM information_schema.columns GROUP BY ALL ORDER BY s, t`);
    const out: Record<string, string> = {};
    for (const { s, t, columns } of tables) {
      const [row] = await run(`SELECT count(*) AS n FROM "${String(s)}"."${String(t)}"`);
      out[`${String(s)}.${String(t)}`] = `${String(row?.n)} rows: ${String(columns)}`;
    }
    return out;
  });
}

const refusal = (path: string, suggestion: string) =>
  `opening the destination: dataset snapengage_data in ${path} was loaded by dlt (it has _dlt_loads, _dlt_pipeline_state, _dlt_version; tables logs, logs__transcripts, widgets), ` +
  `and snapengage-pipeline does not write into another tool's dataset: load into a dataset of its own, such as --dataset ${suggestion} (or destination.dataset); ` +
  `if dlt's data is no longer needed, drop it first (DROP SCHEMA snapengage_data CASCADE in the DuckDB CLI). Nothing was written to the file`;

describe('a DuckDB file dlt loaded', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('dlt-file-');
  });
  afterAll(() => tmp?.cleanup());

  it('the destination refuses dlt\'s dataset before writing anything, even for a resource dlt has no table of', async () => {
    const path = join(tmp.dir, 'snapengage_pipeline.duckdb'); // dlt's default: <pipeline_name>.duckdb
    await makeDltFile(path);
    const before = await contents(path);
    // `things` has no table in dlt's dataset: it would have been loaded beside dlt's tables, mixing the two tools'.
    const error = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'p' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    expect((error as Error).message).toBe(refusal(path, 'snapengage'));
    expect(await contents(path)).toEqual(before);
  });

  it('suggests a dataset the file does not hold already, and matches dlt\'s tables in any case', async () => {
    const path = join(tmp.dir, 'taken.duckdb');
    await makeDltFile(path, 'snapengage');
    const error = await DuckDBDestination.open({ path, dataset: 'SnapEngage', pipelineName: 'p' }).catch((e: unknown) => e);
    expect((error as Error).message).toContain(`dataset SnapEngage in ${path} was loaded by dlt`);
    expect((error as Error).message).toContain('such as --dataset snapengage_ts (or destination.dataset)');
  });

  it('suggests a free plain name when every listed suggestion and <dataset>_ts are taken, or the dataset needs quoting', async () => {
    const path = join(tmp.dir, 'crowded.duckdb');
    await makeDltFile(path);
    await query(path, 'CREATE SCHEMA snapengage; CREATE SCHEMA snapengage_ts; CREATE SCHEMA snapengage_pipeline_data; CREATE SCHEMA snapengage_data_ts; CREATE SCHEMA snapengage_ts_2', 'READ_WRITE');
    const error = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'p' }).catch((e: unknown) => e);
    expect((error as Error).message).toContain('such as --dataset snapengage_ts_3 (or destination.dataset)');
    const quoted = join(tmp.dir, 'quoted.duckdb');
    await makeDltFile(quoted, 'my data');
    await query(quoted, 'CREATE SCHEMA snapengage; CREATE SCHEMA snapengage_ts; CREATE SCHEMA snapengage_pipeline_data', 'READ_WRITE');
    const refused = await DuckDBDestination.open({ path: quoted, dataset: 'my data', pipelineName: 'p' }).catch((e: unknown) => e);
    expect((refused as Error).message).toContain('such as --dataset snapengage_ts_2 (or destination.dataset)');
  });

  it('suggests a DROP SCHEMA the DuckDB CLI runs, also for a dataset named like a keyword (order, left, Order)', async () => {
    // Order: a keyword in another case, which duckdb_keywords() (lower case) does not list: bare, a syntax error too.
    for (const [i, dataset] of ['order', 'left', 'Order'].entries()) {
      const path = join(tmp.dir, `keyword-${i}.duckdb`); // not named by the dataset: order and Order are one file on macOS
      await makeDltFile(path, dataset);
      const error = await DuckDBDestination.open({ path, dataset, pipelineName: 'p' }).catch((e: unknown) => e);
      // Bare, `DROP SCHEMA order CASCADE` is a syntax error in DuckDB.
      const drop = /\((DROP SCHEMA .+ CASCADE) in the DuckDB CLI\)/.exec((error as Error).message)?.[1];
      expect(drop).toBe(`DROP SCHEMA "${dataset}" CASCADE`);
      await query(path, drop!, 'READ_WRITE');
      expect(await query(path, `SELECT schema_name FROM information_schema.schemata WHERE schema_name = '${dataset}'`)).toEqual([]);
    }
  });

  it('keeps loading a dataset where this loader had already committed loads before dlt\'s tables came', async () => {
    const path = join(tmp.dir, 'mixed.duckdb');
    const load = async () => {
      const dest = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'p' });
      try {
        const w = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
        await w.write([{ id: 'a' }]);
        await w.commit(null);
      } finally {
        await dest.close();
      }
    };
    await load();
    await makeDltFile(join(tmp.dir, 'other.duckdb'));
    await query(path, `ATTACH '${join(tmp.dir, 'other.duckdb')}' AS o; CREATE TABLE snapengage_data._dlt_loads AS SELECT * FROM o.snapengage_data._dlt_loads`, 'READ_WRITE');
    await load();
    expect(await query(path, 'SELECT id FROM snapengage_data.things')).toEqual([{ id: 'a' }]);
  });

  it('openDataset names dlt\'s dataset as dlt\'s, not as missing', async () => {
    const path = join(tmp.dir, 'read.duckdb');
    await makeDltFile(path);
    const error = await openDataset({ path, dataset: 'snapengage_data' }).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      `opening the dataset: dataset snapengage_data in ${path} was loaded by dlt (it has _dlt_loads), not by snapengage-pipeline: ` +
      `pass the dataset the pipeline loads (--dataset or destination.dataset; it holds no dataset of this loader yet); query dlt's tables in the DuckDB CLI`,
    );
  });

  describe('through the CLI', () => {
    let box: Sandbox;
    beforeAll(async () => {
      box = await sandbox({ cases: 40, widgets: 1, days: 2 });
    });
    afterAll(async () => {
      await box?.close();
    });

    it('run refuses the default dataset in one line and leaves the file as dlt left it; another dataset loads beside it and show reads it', async () => {
      // The file dlt's SnapEngage page prints, and this loader's default: dataset `snapengage` would be its catalog name.
      const path = join(tmp.dir, 'snapengage.duckdb');
      await makeDltFile(path);
      const before = await contents(path);
      const refused = await runCli(['run', '--resources', 'widgets', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      expect(refused.code).not.toBe(0);
      expect(refused.stdout).toBe('');
      expect(refused.stderr.trim()).toBe(`snapengage-pipeline: ${refusal(path, 'snapengage_ts')}`);
      expect(await contents(path)).toEqual(before);

      const run = await runCli(['run', '--resources', 'logs,widgets', '--duckdb', path, '--dataset', 'snapengage_ts'], { env: box.env, cwd: tmp.dir });
      expect(run.stderr).not.toMatch(/error|dlt/i);
      expect(run.code).toBe(0);
      const after = await contents(path);
      for (const [table, described] of Object.entries(before)) expect(after[table]).toBe(described);
      expect(await query(path, 'SELECT count(*) > 0 AS loaded FROM snapengage_ts.widgets')).toEqual([{ loaded: true }]);
      const show = await runCli(['show', '--duckdb', path, '--dataset', 'snapengage_ts'], { env: {}, cwd: tmp.dir });
      expect(show.code).toBe(0);
      expect(show.stdout).toMatch(/^ {2}widgets {2}\d+ rows?$/m);
      expect(show.stdout).not.toContain('_dlt');

      // OPERATIONS.md's SQL as written: the cases only dlt holds (its two, which the sandbox never served), then
      // dlt's dataset dropped, after which the default dataset loads.
      const [onlyDlt, drop] = migratingSql();
      expect(onlyDlt).toMatch(/^SELECT /);
      expect((await query(path, onlyDlt!)).map((r) => r.id)).toEqual(['c1', 'c2']);
      expect(drop).toBe('DROP SCHEMA snapengage_data CASCADE;');
      await query(path, drop!, 'READ_WRITE');
      const fresh = await runCli(['run', '--resources', 'widgets', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      expect(fresh.stderr).not.toMatch(/error|dlt/i);
      expect(fresh.code).toBe(0);
    });
  });
});
