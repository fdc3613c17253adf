// Two runs started at once on a new file: both see no file, one creates and locks it, the other fails on the lock.
// The loser must not treat the file as its own and delete it (with the winner's WAL and staging) from under the winner.
// The race is made deterministic by hiding the file from the run's "did it exist before?" check, as it was then.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { runPipeline } from '../src/index.js';
import { tempDir } from './helpers.js';

const hidden = vi.hoisted(() => ({ path: '' }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const existsSync = (p: Parameters<typeof fs.existsSync>[0]) => (p === hidden.path ? false : fs.existsSync(p));
  return { ...fs, existsSync, default: { ...fs, existsSync } };
});
const { existsSync } = await vi.importActual<typeof import('node:fs')>('node:fs');

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('two runs racing for a new file', () => {
  let holder: ChildProcess | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterEach(() => {
    if (holder && holder.exitCode === null) holder.kill('SIGKILL');
    tmp?.cleanup();
  });

  it('the run that loses the lock leaves the winner’s file in place', async () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'race.duckdb');
    const script = `const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); await c.run('CREATE TABLE t (x INT)');
      globalThis.keepOpen = [i, c]; console.log('ready'); setInterval(() => {}, 1000);`;
    holder = spawn(process.execPath, ['--input-type=module', '-e', script, path], { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      holder!.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    hidden.path = path; // this run looked before the winner created the file

    const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w' };
    const error = await runPipeline({ resources: { logs: true } }, { env, destination: { path } }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/locked by another process/);
    expect(existsSync(path)).toBe(true);
  });

  it('a file another run created and left between the look and the open is not removed when this run fails', async () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'came-and-went.duckdb');
    const script = `const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); await c.run('CREATE TABLE t (x INT)');
      c.closeSync(); i.closeSync();`;
    holder = spawn(process.execPath, ['--input-type=module', '-e', script, path], { cwd: packageDir, stdio: 'inherit' });
    expect(await new Promise((resolve) => holder!.on('exit', resolve))).toBe(0);
    hidden.path = path; // this run looked before the other one created the file

    // Port 9 (discard) refuses: the run fails after opening the file, before committing anything.
    const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w' };
    const error = await runPipeline({ resources: { logs: true }, connection: { maxRetries: 0 } }, { env, destination: { path } }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/cannot reach/);
    expect(existsSync(path)).toBe(true);
  });

  it('a new file this run made is still removed when it fails before committing anything', async () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'own.duckdb');
    const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w' };
    const error = await runPipeline({ resources: { logs: true }, connection: { maxRetries: 0 } }, { env, destination: { path } }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/cannot reach/);
    expect(existsSync(path)).toBe(false);
  });
});
