// Files that hold customer data (chat transcripts) are the user's alone when the loader creates them: the staging
// directory 0700 and its NDJSON files 0600, the DuckDB file 0600 on its first creation. Under the usual umask 022
// they were world-readable (0755/0644). A file or directory the user already has keeps its mode.
import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import type { DuckDBResourceWriter } from '../src/destination/resource-writer.js';
import { runPipeline } from '../src/index.js';
import { sandbox, tempDir, thingsResource } from './helpers.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe.skipIf(process.platform === 'win32')('modes of the files the loader creates', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;

  beforeAll(async () => {
    // The common default, which made every file world-readable (vitest's pool is forks: umask is the process's own).
    umask = process.umask(0o022);
    box = await sandbox({ cases: 60, widgets: 1, days: 3 });
    tmp = tempDir();
  });
  afterAll(async () => {
    process.umask(umask);
    await box?.close();
    tmp?.cleanup();
  });

  it('a first run over the sandbox creates the DuckDB file 0600; a rerun keeps the mode the user gave it', async () => {
    const path = join(tmp.dir, 'new', 'chats.duckdb');
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(mode(path).toString(8)).toBe('600');
    // The directory it made for the file is not the loader's to close: the user may share it.
    expect(mode(join(tmp.dir, 'new')).toString(8)).toBe('755');
    chmodSync(path, 0o640);
    await runPipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }, { env: box.env, destination: { path } });
    expect(mode(path).toString(8)).toBe('640');
  });

  it('stages rows in a 0700 directory, in 0600 files, beside the file and in the temp directory of an in-memory run', async () => {
    for (const path of [join(tmp.dir, 'staged.duckdb'), ':memory:']) {
      const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
      try {
        const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 }) as DuckDBResourceWriter;
        await writer.write([{ id: 'a', count: 1, items: [{ k: 'x' }] }]);
        // Staged files are written out whole before the commit reads them.
        await writer.checkBeforeCommit();
        const dir = writer.stagingDir;
        const files = readdirSync(dir);
        expect(files.length).toBeGreaterThan(0);
        expect({ dir: mode(dir).toString(8), files: files.map((f) => mode(join(dir, f)).toString(8)) }).toEqual({ dir: '700', files: files.map(() => '600') });
        if (path !== ':memory:') expect(mode(`${path}.staging`).toString(8)).toBe('700');
        await writer.commit(null);
      } finally {
        await dest.close();
      }
    }
  });

  it('leaves a staging directory the user made (--staging-dir, an older version) as it is', async () => {
    const stagingDir = join(tmp.dir, 'my-staging');
    mkdirSync(stagingDir, { mode: 0o755 });
    const dest = await DuckDBDestination.open({ path: join(tmp.dir, 'own-staging.duckdb'), dataset: 'data', pipelineName: 'p', stagingDir });
    try {
      expect(mode(stagingDir).toString(8)).toBe('755');
    } finally {
      await dest.close();
    }
  });
});
