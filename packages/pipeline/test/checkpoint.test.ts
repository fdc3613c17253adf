// The checkpoint at close (destination/checkpoint.ts): a real DuckDB file for the statement, and the line a failed one
// gives. A real full disk (DuckDB's own failure, said by the built CLI) is in full-disk.test.ts.
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkpoint, checkpointFailure } from '../src/destination/checkpoint.js';
import { createDuckDBInstance } from '../src/duckdb.js';
import { tempDir } from './helpers.js';

// DuckDB's words for a checkpoint that found the disk full (measured on a tmpfs).
const FULL = 'FATAL Error: Failed to create checkpoint because of error: Could not write file "/x.duckdb": No space left on device';

describe('the checkpoint at close', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('sepipe-checkpoint-');
  });
  afterEach(() => tmp.cleanup());

  it('folds the WAL into the file and reports nothing when it can', async () => {
    const file = join(tmp.dir, 'x.duckdb');
    const instance = await createDuckDBInstance(file, { threads: '1' });
    const conn = await instance.connect();
    try {
      await conn.run('CREATE TABLE t AS SELECT range AS i FROM range(1000)');
      expect(statSync(`${file}.wal`).size).toBeGreaterThan(0);
      expect(await checkpoint(conn)).toBeUndefined();
      // Folded in before the close: the WAL is empty (DuckDB removes it as the file closes).
      expect(existsSync(`${file}.wal`) ? statSync(`${file}.wal`).size : 0).toBe(0);
    } finally {
      conn.closeSync();
      instance.closeSync();
    }
  });

  it('a checkpoint that rejects with no error value is still a failure, not a checkpoint done', async () => {
    // Not DuckDB's way (it rejects with an Error), but `undefined` is what checkpoint() returns for "done": a stand-in
    // connection whose CHECKPOINT rejects with nothing must not read as a WAL folded in.
    const conn = { run: () => Promise.reject(undefined) } as unknown as Parameters<typeof checkpoint>[0];
    expect(await checkpoint(conn)).toBeInstanceOf(Error);
  });

  it("a full disk: one line naming the WAL, that the load is safe in it, and where to free space", async () => {
    const file = join(tmp.dir, 'x.duckdb');
    writeFileSync(`${file}.wal`, 'a committed load');
    expect(await checkpointFailure(new Error(FULL), file)).toEqual({
      wal: `${file}.wal`,
      message: `closing the destination: the disk is full at ${file}, so DuckDB could not fold the load into it: this run's load is committed and safe in ${file}.wal, which DuckDB folds into the file when it next opens it; free disk space at ${tmp.dir} (until then a run on this file may fail on the full disk)`,
    });
  });

  it("another failure: DuckDB's first line, the load still said safe in the WAL", async () => {
    const file = join(tmp.dir, 'x.duckdb');
    writeFileSync(`${file}.wal`, 'a committed load');
    const failure = await checkpointFailure(new Error('FATAL Error: Failed to create checkpoint because of error: something else\nmore'), file);
    expect(failure?.message).toBe(`closing the destination: DuckDB could not fold the load into ${file} (FATAL Error: Failed to create checkpoint because of error: something else): this run's load is committed and safe in ${file}.wal, which DuckDB folds into the file when it next opens it; if the next run fails, see the DuckDB message`);
  });

  it('says nothing when no WAL is left (nothing waits to be folded in)', async () => {
    const file = join(tmp.dir, 'x.duckdb');
    expect(await checkpointFailure(new Error(FULL), file)).toBeUndefined();
    writeFileSync(`${file}.wal`, '');
    expect(await checkpointFailure(new Error(FULL), file)).toBeUndefined();
  });
});
