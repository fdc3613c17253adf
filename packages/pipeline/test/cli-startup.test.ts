// What the CLI loads before it answers: a command that stops before opening a file (--help, --version, a bad flag, a
// config error, show of no file) must not load DuckDB's Node API and native library (70–100 ms of every such answer;
// duckdb.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { SUPPORTED_NODE, unsupportedNode } from '../src/node-version.js';
import { collectOutput, PACKAGE_DIR, query, runCli, sandbox, stats, tempDir } from './helpers.js';

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

  it('refuses a Node too old to load its modules in one line and a FAILED document, before loading anything else', async () => {
    // A scheduler's PATH finds another node than the shell (cron's /usr/bin/node: a distribution's Node 18). There the
    // command's modules failed to link: Node's stack trace ("does not provide an export named 'parseEnv'"), no
    // document. The preload makes this process report Node 18.20.4, as the version check reads it.
    const old = join(tmp.dir, 'old-node.cjs');
    writeFileSync(old, "Object.defineProperty(process.versions, 'node', { value: '18.20.4' });\n");
    const requests = (await stats(box)).requests;
    const file = join(tmp.dir, 'old-node.duckdb');
    const result = await runCli(['run', '--resources', 'widgets', '--duckdb', file, '--json'], { env: box.env, cwd: tmp.dir, nodeArgs: ['--require', old, '--require', probe] });
    const message = `Node.js 18.20.4 (${process.execPath}) cannot run snapengage-pipeline, which needs Node.js ^20.19.0 || >=22.12.0; a scheduler's PATH (cron's is /usr/bin:/bin) may find another node than your shell: put the directory of a supported one first in it (nvm's, such as ~/.nvm/versions/node/v22.12.0/bin), or start that node by its full path`;
    expect(result.stderr).toBe(`snapengage-pipeline: ${message}\nduckdb-loaded: false\n`);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toMatchObject({ status: 'FAILED', loadId: null, committedResources: [], error: { name: 'ConfigError', message, exitCode: 1 } });
    expect((await stats(box)).requests).toBe(requests);
    expect(existsSync(file)).toBe(false);
    // `--json=true`, which the CLI reads as --json too (cli-main.ts): the document as well.
    const valued = await runCli(['run', '--resources', 'widgets', '--duckdb', file, '--json=true'], { env: box.env, cwd: tmp.dir, nodeArgs: ['--require', old] });
    expect(valued.code).toBe(1);
    expect(JSON.parse(valued.stdout)).toMatchObject({ status: 'FAILED', error: { name: 'ConfigError', message, exitCode: 1 } });
  });

  it("refuses the versions without util.parseEnv, naming package.json's engines; later ones, which run, are not refused", () => {
    expect(SUPPORTED_NODE).toBe(JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')).engines.node);
    const versions = ['16.20.2', '18.20.4', '19.9.0', '20.11.1', '20.12.0', '20.18.3', '20.19.0', '21.6.2', '21.7.0', '22.0.0', '22.12.0', '24.11.1'];
    expect(versions.filter((v) => unsupportedNode(v, 'node') !== undefined)).toEqual(['16.20.2', '18.20.4', '19.9.0', '20.11.1', '21.6.2']);
  });
});
