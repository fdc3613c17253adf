// What the CLI loads before it answers: a command that stops before opening a file (--help, --version, a bad flag, a
// config error, show of no file) must not load DuckDB's Node API and native library (70–100 ms of every such answer;
// duckdb.ts).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { collectOutput, PACKAGE_DIR, query, runCli, sandbox, tempDir } from './helpers.js';

/** Preloaded: requiring @duckdb/node-api throws, as a missing or broken install (no native library) does. */
const BROKEN_DUCKDB = `const Module = require('node:module');
const load = Module._load;
Module._load = function (request, ...rest) {
  if (request === '@duckdb/node-api') throw new Error('DuckDB cannot be loaded here (test)');
  return load.call(this, request, ...rest);
};
`;

/** Preloaded into the CLI's process: at exit, one stderr line saying whether any @duckdb module was required. */
const PROBE = `process.on('exit', () => {
  const loaded = Object.keys(require.cache).some((file) => file.includes('@duckdb'));
  process.stderr.write('duckdb-loaded: ' + loaded + '\\n');
});
`;

describe('snapengage-pipeline start-up', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let probe: string;

  beforeAll(async () => {
    box = await sandbox({ cases: 50, widgets: 1, days: 2 });
    tmp = tempDir();
    probe = join(tmp.dir, 'probe.cjs');
    writeFileSync(probe, PROBE);
    writeFileSync(join(tmp.dir, 'bad.config.mjs'), 'export default { resources: { logs: true }, concurrency: "x" };\n');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  const run = (args: string[]) => runCli(args, { env: box.env, cwd: tmp.dir, nodeArgs: ['--require', probe] });
  const loaded = (stderr: string) => /duckdb-loaded: (true|false)/.exec(stderr)?.[1];

  it('loads DuckDB for a run that opens its file (the probe sees it)', async () => {
    const result = await run(['run', '--resources', 'logs', '--limit-pages', '1', '--duckdb', join(tmp.dir, 'startup.duckdb')]);
    expect(result.code).toBe(0);
    expect(loaded(result.stderr)).toBe('true');
  });

  it('reports a DuckDB that cannot be loaded as its own error, after the config is checked, not as a destination error', async () => {
    const broken = join(tmp.dir, 'broken-duckdb.cjs');
    writeFileSync(broken, BROKEN_DUCKDB);
    const args = ['run', '--resources', 'logs', '--duckdb', join(tmp.dir, 'broken.duckdb')];
    const result = await runCli(args, { env: box.env, cwd: tmp.dir, nodeArgs: ['--require', broken] });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('snapengage-pipeline: unexpected error: DuckDB cannot be loaded here (test)');
  });

  it('reports a DuckDB that cannot be loaded as its own error for show of a file, not as a failure to open the dataset', async () => {
    const broken = join(tmp.dir, 'broken-duckdb.cjs');
    writeFileSync(broken, BROKEN_DUCKDB);
    const file = join(tmp.dir, 'show-broken.duckdb');
    await query(file, 'SELECT 1', 'READ_WRITE'); // an empty DuckDB file
    const result = await runCli(['show', '--duckdb', file], { env: box.env, cwd: tmp.dir, nodeArgs: ['--require', broken] });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toBe('snapengage-pipeline: unexpected error: DuckDB cannot be loaded here (test)');
  });

  it('openDataset() of the built package reports such a DuckDB as its own error too, not as a failure to open the dataset', async () => {
    const broken = join(tmp.dir, 'broken-duckdb.cjs');
    writeFileSync(broken, BROKEN_DUCKDB);
    const file = join(tmp.dir, 'library-broken.duckdb');
    await query(file, 'SELECT 1', 'READ_WRITE');
    const script = `const { openDataset } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'dist', 'index.js')).href)});
      await openDataset({ path: ${JSON.stringify(file)}, dataset: 'snapengage_data' }).then(() => console.log('opened'), (e) => console.log(e.message));`;
    const child = spawn(process.execPath, ['--require', broken, '--input-type=module', '-e', script], { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    const result = await collectOutput(child);
    expect(result.stdout.trim()).toBe('DuckDB cannot be loaded here (test)');
  });

  it.each([
    ['--help', ['--help'], 0],
    ['--version', ['--version'], 0],
    ['an unknown flag', ['run', '--bogus'], 2],
    ['a config that plans no run', ['run', '--config', 'bad.config.mjs'], 1],
    ['a config file that is not there', ['run', '--config', 'missing.config.mjs'], 2],
    ['show of a file that is not there', ['show', '--duckdb', 'missing.duckdb'], 1],
  ] as const)('does not load DuckDB for %s', async (_name, args, code) => {
    const result = await run([...args]);
    expect(result.code).toBe(code);
    expect(loaded(result.stderr)).toBe('false');
  });
});
