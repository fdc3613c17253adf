// Destination behaviour that needs a second process: a lock held elsewhere, and a SIGKILL during loads.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import { DestinationError, DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { openDataset } from '../src/dataset.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const destinationModule = fileURLToPath(new URL('../src/destination/index.ts', import.meta.url));

let dir: string;
let dbPath: string;
let child: ChildProcess | undefined;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'dest-proc-'));
  dbPath = join(dir, 'test.duckdb');
});
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  child = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Resolves with the child's stdout once `pattern` appears in it (rejects if the child exits first). */
function waitForOutput(proc: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (pattern.test(out)) resolve(out);
    });
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    proc.on('exit', (code) => reject(new Error(`child exited (${code}) before ${pattern}: ${out} ${err}`)));
  });
}

describe('DuckDBDestination across processes', () => {
  it('reports a database locked by another process in one line', async () => {
    const holder = `const { DuckDBInstance } = await import('@duckdb/node-api');
      const i = await DuckDBInstance.create(process.argv[1]); const c = await i.connect(); await c.run('CREATE TABLE t (x INT)');
      globalThis.keepOpen = [i, c]; // a GC of an unreferenced instance would close it and release the lock
      console.log('ready'); setInterval(() => {}, 1000);`;
    child = spawn(process.execPath, ['--input-type=module', '-e', holder, dbPath], { cwd: packageDir, stdio: ['ignore', 'pipe', 'pipe'] });
    await waitForOutput(child, /ready/);
    const error = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    const e = error as DestinationError;
    expect(e.code).toBe('locked');
    expect(e.message).toContain(dbPath);
    expect(e.message).toContain(`PID ${child.pid}`);
    expect(e.message).not.toContain('\n');
    expect(e.hint).toMatch(/wait for the other program using it to finish .* or close it/);
  });

  it('a SIGKILL during loads leaves only whole loads, and the next run completes', async () => {
    const resourceFile = join(dir, 'resource.json');
    writeFileSync(resourceFile, JSON.stringify(resources.logs));
    const script = join(dir, 'loader.mts');
    // Each round loads 2000 new cases with 3 transcript rows each, state {round}, then the next round.
    writeFileSync(script, `
      import { readFileSync } from 'node:fs';
      import { DuckDBDestination, newLoadId } from ${JSON.stringify(destinationModule)};
      const [path, resourcePath] = process.argv.slice(2);
      const resource = JSON.parse(readFileSync(resourcePath, 'utf8'));
      const dest = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p' });
      for (let round = 0; round < 1000; round++) {
        const w = dest.createResourceWriter({ loadId: newLoadId(), resource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
        const cases = Array.from({ length: 2000 }, (_, i) => ({ id: 'r' + round + '-' + i, transcripts: [{ message: 'a' }, { message: 'b' }, { message: 'c' }] }));
        await w.write(cases);
        console.log('committing ' + round);
        await w.commit({ round });
      }
    `);
    child = spawn(process.execPath, ['--conditions=snapengage-source', '--import', 'tsx', script, dbPath, resourceFile], {
      cwd: packageDir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForOutput(child, /committing 3/);
    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));

    // The killed run left its run lock (a dead PID) and its staging: the next open takes the lock over and clears the rest.
    expect(readdirSync(`${dbPath}.staging`)).toContain('run.lock');
    const dest = await DuckDBDestination.open({ path: dbPath, dataset: 'ds', pipelineName: 'p' });
    expect(readdirSync(`${dbPath}.staging`)).toEqual(['run.lock']);
    const state = (await dest.readState('logs')) as { round: number };
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: resources.logs, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    await w.write([{ id: 'after-crash', transcripts: [{ message: 'x' }] }]);
    await w.commit({ round: 'after' });
    await dest.close();
    expect(existsSync(`${dbPath}.staging`)).toBe(false);

    const ds = await openDataset({ path: dbPath, dataset: 'ds' });
    try {
      const committedRounds = state.round + 1;
      expect(committedRounds).toBeGreaterThanOrEqual(3);
      const [counts] = await ds.sql(`SELECT (SELECT count(*) FROM logs) AS cases, (SELECT count(*) FROM logs__transcripts) AS transcripts,
        (SELECT count(*) FROM _pipeline_loads WHERE status = 'loaded') AS loads`);
      // Every committed round is complete (cases, children, load row), nothing of the killed one is visible.
      expect(counts).toEqual({ cases: committedRounds * 2000 + 1, transcripts: committedRounds * 6000 + 1, loads: committedRounds + 1 });
      expect((await ds.state())[0]?.state).toEqual({ round: 'after' });
    } finally {
      await ds.close();
    }
  });
});
