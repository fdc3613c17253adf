// What the CLI says when --duckdb points at a file that is not a sound DuckDB database of this loader (another
// program's, damaged, of another DuckDB storage version), and that such a file is left exactly as it was.
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runCli, sandbox, stats, tempDir } from './helpers.js';

const errorLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('[progress'));

describe('--duckdb at a file that is not a sound DuckDB database', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  /** A file one run loaded (logs), copied by each test before it damages its copy. */
  let good: string;

  beforeAll(async () => {
    box = await sandbox({ cases: 120, widgets: 1, days: 3 });
    tmp = tempDir();
    good = join(tmp.dir, 'good.duckdb');
    const run = await runCli(['run', '--resources', 'logs', '--duckdb', good], { env: box.env, cwd: tmp.dir });
    expect(run.code).toBe(0);
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it("another program's file (SQLite, CSV) is refused before any request and left as it was", async () => {
    // DuckDB opened a SQLite file by downloading its sqlite extension (a request to extensions.duckdb.org; offline:
    // "Failed to download extension", online: the run's tables written into the SQLite file), and a .csv file as an
    // in-memory database with a view over it: the run extracted everything, then failed with a Catalog Error.
    const files: Array<[string, Buffer, RegExp]> = [
      ['app.sqlite', Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080)]), /app\.sqlite is a SQLite database: point --duckdb/],
      ['export.csv', Buffer.from('id,name\n1,a\n'), /export\.csv is not a DuckDB database: point --duckdb/],
    ];
    for (const [name, bytes, message] of files) {
      const path = join(tmp.dir, name);
      writeFileSync(path, bytes);
      const requests = (await stats(box)).requests;
      const run = await runCli(['run', '--resources', 'logs', '--duckdb', path], { env: box.env, cwd: tmp.dir });
      expect(run.code).toBe(1);
      expect(errorLines(run.stderr)).toEqual([expect.stringMatching(message)]);
      expect((await stats(box)).requests).toBe(requests);
      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(existsSync(`${path}.staging`) || existsSync(`${path}.wal`)).toBe(false);
    }
  });
});

