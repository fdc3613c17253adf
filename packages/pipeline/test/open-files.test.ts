// open-files.ts on its own: the claims this process holds on a DuckDB file. The runs' side (a second run refused, a
// hard link seen as the same file) is in same-process-runs.test.ts; this pins what a release gives back.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { holdFile } from '../src/destination/open-files.js';
import { acquireRunLock, activeRun } from '../src/destination/run-lock.js';
import { tempDir } from './helpers.js';

// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('open-files-');
});
afterAll(() => tmp.cleanup());

describe('holdFile', () => {
  it('releases a claim once, however often its release is called: a second call gives back no other claim', () => {
    const path = join(tmp.dir, 'held.duckdb');
    const releaseFirst = holdFile(path, 'read');
    const releaseSecond = holdFile(path, 'read');
    releaseFirst();
    releaseFirst();
    // One reader is still there: a writer is refused.
    expect(() => holdFile(path, 'write')).toThrow(/is open in this process through openDataset\(\)/);
    releaseSecond();
    expect(() => holdFile(path, 'write')()).not.toThrow();
  });

  it("makes a run lock of this process's PID an active run for show only while its 'run' claim is held", async () => {
    const db = join(tmp.dir, 'shown.duckdb');
    const root = join(tmp.dir, 'shown.duckdb.staging');
    const lock = await acquireRunLock(root, db);
    try {
      // The lock alone is a leftover of this PID (a run that ended without releasing it): no run to show.
      expect(await activeRun(root, db)).toBeUndefined();
      const release = holdFile(db, 'run');
      expect(await activeRun(root, db)).toMatchObject({ pid: process.pid, token: lock.holder.token });
      release();
      expect(await activeRun(root, db)).toBeUndefined();
    } finally {
      await lock.release();
    }
  });
});
