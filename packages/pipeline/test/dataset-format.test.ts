// Every load records the loader that wrote it and the layout of its tables and state (DATASET_FORMAT). A file that a
// newer loader wrote in a newer layout is refused by this one before it reads or changes anything: in a team, a cron
// job left on an old version must not misread the newer state (and write it back in the old layout).
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, DestinationError, runPipeline } from '../src/index.js';
import { DATASET_FORMAT } from '../src/destination/system-tables.js';
import { PACKAGE_DIR, query, runCli, sandbox, tempDir } from './helpers.js';

const ownVersion = (JSON.parse(readFileSync(`${PACKAGE_DIR}/package.json`, 'utf8')) as { version: string }).version;

describe('the dataset format', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  const config = definePipeline({ resources: { widgets: true }, rateLimit: { requestsPerSecond: 0 } });

  beforeAll(async () => {
    box = await sandbox({ cases: 20, widgets: 2, days: 3 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('each load row names the loader version and the format', async () => {
    const path = `${tmp.dir}/recorded.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path } });
    const rows = await query(path, 'SELECT resource, status, loader_version, dataset_format FROM snapengage_data._pipeline_loads');
    expect(rows).toEqual([{ resource: 'widgets', status: 'loaded', loader_version: ownVersion, dataset_format: DATASET_FORMAT }]);
  });

  it('a file written by a newer loader is refused, named, and left as it was', async () => {
    const path = `${tmp.dir}/newer.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path } });
    // What a future loader with another layout would have written.
    await query(path, `UPDATE snapengage_data._pipeline_loads SET loader_version = '9.0.0', dataset_format = ${DATASET_FORMAT + 1}`, 'READ_WRITE');
    // A newer layout may have dropped a table this loader would create again: it must not write anything there.
    await query(path, 'DROP TABLE snapengage_data._pipeline_columns', 'READ_WRITE');
    const before = await query(path, 'SELECT * FROM snapengage_data._pipeline_loads ORDER BY load_id');
    const run = runPipeline(config, { env: box.env, destination: { path } });
    await expect(run).rejects.toBeInstanceOf(DestinationError);
    await expect(run).rejects.toThrow(`was written by a newer snapengage-pipeline (9.0.0, dataset format ${DATASET_FORMAT + 1}) than this one (${ownVersion}, format ${DATASET_FORMAT})`);
    await expect(run).rejects.toThrow('npm install snapengage-pipeline@latest');
    expect(await query(path, 'SELECT * FROM snapengage_data._pipeline_loads ORDER BY load_id')).toEqual(before);
    expect(await query(path, "SELECT table_name FROM information_schema.tables WHERE table_name = '_pipeline_columns'")).toEqual([]);

    const cli = await runCli(['run', '--duckdb', path, '--resources', 'widgets'], { env: box.env });
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toContain('newer snapengage-pipeline (9.0.0');
  });

  it('a newer format written under this same version number is named by its format, not as a newer version', async () => {
    const path = `${tmp.dir}/same-version.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path } });
    // A build of newer source whose package version was not raised yet.
    await query(path, `UPDATE snapengage_data._pipeline_loads SET dataset_format = ${DATASET_FORMAT + 1}`, 'READ_WRITE');
    const run = runPipeline(config, { env: box.env, destination: { path } });
    await expect(run).rejects.toThrow(
      `was written by another build of snapengage-pipeline ${ownVersion} in a newer dataset format (${DATASET_FORMAT + 1}) than this one's (format ${DATASET_FORMAT}), which could misread its incremental state`,
    );
    await expect(run).rejects.not.toThrow('newer snapengage-pipeline (');
  });

  it('a newer format whose load rows name no loader version says so, not "null"', async () => {
    const path = `${tmp.dir}/no-version.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path } });
    await query(path, `UPDATE snapengage_data._pipeline_loads SET loader_version = NULL, dataset_format = ${DATASET_FORMAT + 1}`, 'READ_WRITE');
    await expect(runPipeline(config, { env: box.env, destination: { path } })).rejects.toThrow(
      `was written by a newer snapengage-pipeline (unknown version, dataset format ${DATASET_FORMAT + 1}) than this one (${ownVersion}, format ${DATASET_FORMAT})`,
    );
  });

  it('--version prints the package version', async () => {
    const cli = await runCli(['--version']);
    expect(cli.stdout.trim()).toBe(ownVersion);
  });
});
