// Files a run does not own are never removed by it: one another process holds (the run is refused and leaves it),
// and one another process created and left before the run (the run fails later and leaves it). Only a file the run
// itself created, and nothing committed to, goes again (read-while-loading.test.ts: a new file is created only to
// commit, so a run that fails earlier leaves no file at all).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runPipeline } from '../src/index.js';
import { refusingUrl, tempDir } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
// Port 9 (discard) is one fetch blocks: a run fails after opening the file, before committing anything.
const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w' };

describe('files a run does not own', () => {
  let holder: ChildProcess | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterEach(() => {
    if (holder && holder.exitCode === null) holder.kill('SIGKILL');
    tmp?.cleanup();
  });

  it('a file another process holds: the run is refused and leaves it, with its WAL', async () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'held.duckdb');
    const script = `const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); await c.run('CREATE TABLE t (x INT)');
      globalThis.keepOpen = [i, c]; console.log('ready'); setInterval(() => {}, 1000);`;
    holder = spawn(process.execPath, ['--input-type=module', '-e', script, path], { cwd: packageDir, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      holder!.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      holder!.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
    });
    const error = await runPipeline({ resources: { logs: true } }, { env: { ...env, SNAPENGAGE_DUCKDB_LOCK_WAIT: '0' }, destination: { path } }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/locked by another process \(PID \d+\)/);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}.wal`)).toBe(true);
  });

  it('a file another process created and left: not removed when the run fails before committing', async () => {
    tmp = tempDir();
    const path = join(tmp.dir, 'came-and-went.duckdb');
    const script = `const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); await c.run('CREATE TABLE t (x INT)');
      c.closeSync(); i.closeSync();`;
    holder = spawn(process.execPath, ['--input-type=module', '-e', script, path], { cwd: packageDir, stdio: 'inherit' });
    expect(await new Promise((resolve) => holder!.on('exit', resolve))).toBe(0);
    const refused = { ...env, SNAPENGAGE_BASE_URL: await refusingUrl() };
    const error = await runPipeline({ resources: { logs: true }, connection: { maxRetries: 0 } }, { env: refused, destination: { path } }).catch((e: unknown) => e);
    expect(String((error as Error).message)).toMatch(/cannot reach/);
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}.staging`)).toBe(false);
  });
});
