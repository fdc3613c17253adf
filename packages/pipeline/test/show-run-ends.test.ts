// `show` against a run that ends between show's failed open and its look at the run lock: the file is free by then,
// and show must read it rather than call it held by another program. The moment is made exact by ending the other
// process inside show's look at the run lock (the real activeRun, called once the process has exited), which no
// sleep could hit every time; the lock and the file are real.
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { otherProcess, tempDir, thingsResource } from './helpers.js';

const hooks = vi.hoisted(() => ({ beforeLook: undefined as undefined | (() => Promise<void>) }));
vi.mock('../src/destination/run-lock.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/destination/run-lock.js')>();
  return {
    ...original,
    activeRun: async (...args: Parameters<typeof original.activeRun>) => {
      const before = hooks.beforeLook;
      hooks.beforeLook = undefined;
      await before?.();
      return original.activeRun(...args);
    },
  };
});
const { showDataset } = await import('../src/show.js');

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('show-run-ends-');
});
afterAll(() => tmp.cleanup());

it('reads the file when the run that held it ends between the failed open and the look at its run lock', async () => {
  const path = join(tmp.dir, 'ending.duckdb');
  const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
  const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
  await writer.write([{ id: 'a' }]);
  await writer.commit(null);
  await dest.close();

  const run = await otherProcess(path, { asRun: true });
  let looked = false;
  hooks.beforeLook = async () => {
    looked = true;
    await run.release(); // the run closes the file and exits: its run lock names a dead process now
  };
  try {
    expect(await showDataset({ path, dataset: 'data' })).toMatch(/\n {2}things {2}1 row\n/);
    expect(looked, 'show never met the locked file, so the moment was not tested').toBe(true);
  } finally {
    await run.release();
  }
}, 60_000);
