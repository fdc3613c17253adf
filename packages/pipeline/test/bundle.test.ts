// An app that bundles the loader (esbuild, --platform=node), as OPERATIONS.md says ("Using it from an app"): DuckDB's
// native module and tsx stay external, installed beside the bundle. The bundle loads a TypeScript config, runs it
// against the sandbox into a real DuckDB file, and records the loader's version, not the app's: the bundle sits in
// the app's dist/, so the loader's "../package.json" is the app's own package.json there.
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { PACKAGE_DIR, query, sandbox, tempDir } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 40, widgets: 1, days: 2 });
  tmp = tempDir('bundle-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

it('bundled with esbuild for Node (DuckDB and tsx external), loads a TS config and records its own version', async () => {
  const app = join(tmp.dir, 'app');
  mkdirSync(join(app, 'src'), { recursive: true });
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'some-app', version: '9.9.9', type: 'module', private: true }));
  // The externals resolve from the bundle's folder at run time, as they would from the app's own node_modules.
  symlinkSync(join(PACKAGE_DIR, '../../node_modules'), join(app, 'node_modules'), 'dir');
  writeFileSync(join(app, 'src/pipeline.ts'), `import { definePipeline } from 'snapengage-pipeline';
const lookbackDays: number = 1;
export default definePipeline({ resources: { logs: { incremental: { lookbackDays } } }, rateLimit: { requestsPerSecond: 0 } });
`);
  writeFileSync(join(app, 'src/main.ts'), `import { loadPipelineConfig, runPipeline } from 'snapengage-pipeline';
const env = JSON.parse(process.env.APP_ENV ?? '{}');
const { config } = await loadPipelineConfig('src/pipeline.ts', env);
const info = await runPipeline(config, { env, destination: { path: 'app.duckdb' } });
console.log(JSON.stringify({ ok: !info.hasFailedJobs }));
`);
  await build({
    entryPoints: [join(app, 'src/main.ts')],
    outfile: join(app, 'dist/main.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['@duckdb/node-api', 'tsx'],
    logLevel: 'silent',
  });
  const { stdout } = await promisify(execFile)(process.execPath, [join(app, 'dist/main.mjs')], {
    cwd: app,
    timeout: 60_000,
    env: { ...process.env, APP_ENV: JSON.stringify(box.env), SNAPENGAGE_DUCKDB_THREADS: '1' },
  });
  expect(JSON.parse(stdout.trim())).toEqual({ ok: true });
  const versions = await query(join(app, 'app.duckdb'), `SELECT DISTINCT loader_version FROM snapengage_data._pipeline_loads`);
  // Bundled, the loader cannot know its version: 'unknown' is honest, the app's 9.9.9 would be wrong.
  expect(versions).toEqual([{ loader_version: 'unknown' }]);
}, 90_000);

// CommonJS is esbuild's default output for Node and AWS CDK's NodejsFunction's: `import.meta` is empty there, so the
// loader finds DuckDB and tsx, and a config's cache entry, through the bundle's own require (module-location.ts). It
// used to fail at load (createRequire's ERR_INVALID_ARG_VALUE).
it('bundled as CommonJS, loads a TS config and a JS config edited between loads, and runs', async () => {
  const app = join(tmp.dir, 'cjs-app');
  mkdirSync(join(app, 'src'), { recursive: true });
  // No "type": a CommonJS package, so pipeline.js below is CommonJS too (kept in require's cache).
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'some-cjs-app', version: '1.2.3', private: true }));
  symlinkSync(join(PACKAGE_DIR, '../../node_modules'), join(app, 'node_modules'), 'dir');
  writeFileSync(join(app, 'src/pipeline.ts'), `import { definePipeline } from 'snapengage-pipeline';
const lookbackDays: number = 1;
export default definePipeline({ resources: { logs: { incremental: { lookbackDays } } }, rateLimit: { requestsPerSecond: 0 } });
`);
  const jsConfig = (days: number) => `module.exports = { resources: { logs: { incremental: { lookbackDays: ${days} } } } };\n`;
  writeFileSync(join(app, 'src/pipeline.js'), jsConfig(2));
  // Paths from APP_DIR: the app runs from another directory, where nothing is installed, so DuckDB and tsx must be
  // found from the bundle's folder (its own require), not from the working directory.
  writeFileSync(join(app, 'src/main.ts'), `import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPipelineConfig, runPipeline } from 'snapengage-pipeline';
async function main() {
  const env = JSON.parse(process.env.APP_ENV ?? '{}');
  const app = process.env.APP_DIR!;
  const lookback = async (file: string) => ((await loadPipelineConfig(file, env, app)).config.resources as any).logs.incremental.lookbackDays;
  const js = [await lookback('src/pipeline.js')];
  writeFileSync(join(app, 'src/pipeline.js'), process.env.EDITED!);
  js.push(await lookback('src/pipeline.js'));
  const { config } = await loadPipelineConfig('src/pipeline.ts', env, app);
  const info = await runPipeline(config, { env, destination: { path: join(app, 'app.duckdb') } });
  console.log(JSON.stringify({ ok: !info.hasFailedJobs, js, ts: (config.resources as any).logs.incremental.lookbackDays, logs: info.rowCounts.logs }));
}
main().catch((error) => { console.error(error); process.exitCode = 1; });
`);
  await build({
    entryPoints: [join(app, 'src/main.ts')],
    outfile: join(app, 'dist/main.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    external: ['@duckdb/node-api', 'tsx'],
    logLevel: 'silent',
  });
  const elsewhere = join(tmp.dir, 'elsewhere');
  mkdirSync(elsewhere);
  const { stdout } = await promisify(execFile)(process.execPath, [join(app, 'dist/main.js')], {
    cwd: elsewhere,
    timeout: 60_000,
    env: { ...process.env, APP_DIR: app, APP_ENV: JSON.stringify(box.env), EDITED: jsConfig(3), SNAPENGAGE_DUCKDB_THREADS: '1' },
  });
  expect(JSON.parse(stdout.trim())).toEqual({ ok: true, js: [2, 3], ts: 1, logs: 40 });
  expect(await query(join(app, 'app.duckdb'), `SELECT count(DISTINCT id)::INTEGER AS n, any_value(loader_version) AS v FROM snapengage_data.logs, snapengage_data._pipeline_loads`))
    .toEqual([{ n: 40, v: 'unknown' }]);
}, 90_000);
