// open-files.ts on its own: the claims this process holds on a DuckDB file. The runs' side (a second run refused, a
// hard link seen as the same file) is in same-process-runs.test.ts; this pins what a release gives back.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { holdFile } from '../src/destination/open-files.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('open-files-');
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
});
