// Another program makes a file at the path while the first commit creates the new file's draft (new-file.ts): the
// draft is not linked over it, and the run treats it as a file it found, not as one it created. A failed run removed
// the files it created (close({ removeCreatedFile })) and took the group's and others' bits off them: here, another
// program's file. The moment is caught by a hook on createDuckDBInstance (the draft is made, not yet linked).
import { basename, join } from 'node:path';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

const hooks = vi.hoisted(() => ({ afterCreate: undefined as ((path: string) => Promise<void>) | undefined }));
vi.mock('../src/duckdb.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../src/duckdb.js')>();
  return {
    ...original,
    createDuckDBInstance: async (...args: Parameters<typeof original.createDuckDBInstance>) => {
      const instance = await original.createDuckDBInstance(...args);
      await hooks.afterCreate?.(args[0]);
      return instance;
    },
  };
});
const { createDatabaseFile, NEW_DATABASE_DRAFT } = await import('../src/destination/new-file.js');
const { DuckDBDestination, duckdbSettings } = await import('../src/destination/index.js');
const { DuckDBInstance } = await import('@duckdb/node-api');
const { tempDir } = await import('./helpers.js');

/** While the draft is made: another program's file at `path`, mode 0644, made by `make`. */
function otherProgramMeanwhile(path: string, make: (path: string) => Promise<void>): void {
  hooks.afterCreate = async (opened) => {
    if (basename(opened) !== NEW_DATABASE_DRAFT) return;
    hooks.afterCreate = undefined;
    await make(path);
    chmodSync(path, 0o644);
  };
}
const textFile = async (path: string) => writeFileSync(path, 'made by another program');
const emptyDatabase = async (path: string) => (await DuckDBInstance.create(path)).closeSync();
const mode = (path: string) => (statSync(path).mode & 0o777).toString(8);

describe('a file another program makes at the path while the first commit creates it', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir();
  });
  afterEach(() => {
    hooks.afterCreate = undefined;
  });
  afterAll(() => tmp?.cleanup());

  it('createDatabaseFile does not link over it and says it found it', async () => {
    const path = join(tmp.dir, 'unit.duckdb');
    const staging = join(tmp.dir, 'unit.staging');
    mkdirSync(staging);
    otherProgramMeanwhile(path, textFile);
    expect(await createDatabaseFile(path, staging, duckdbSettings({ threads: 1 }))).toBe('found');
    expect([readFileSync(path, 'utf8'), mode(path)]).toEqual(['made by another program', '644']);
    expect(existsSync(join(staging, NEW_DATABASE_DRAFT))).toBe(false);
  });

  it('a run that fails on it (not a DuckDB file) leaves it, instead of removing it as a file of its own', async () => {
    const path = join(tmp.dir, 'text.duckdb');
    const destination = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
    otherProgramMeanwhile(path, textFile);
    const error = await destination.reconnect().then(() => undefined, (e: unknown) => e);
    expect((error as Error).message).toMatch(/is not a readable DuckDB database/);
    await destination.close({ removeCreatedFile: true });
    expect([existsSync(path) && readFileSync(path, 'utf8'), existsSync(path) && mode(path)]).toEqual(['made by another program', '644']);
    expect(destination.createdFile).toBe(false);
  });

  it('a run that commits into it (an empty DuckDB database) keeps its mode, and a failure after leaves it', async () => {
    const path = join(tmp.dir, 'empty.duckdb');
    const destination = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
    otherProgramMeanwhile(path, emptyDatabase);
    await destination.reconnect();
    expect(mode(path)).toBe('644');
    await destination.close({ removeCreatedFile: true });
    expect([existsSync(path), destination.createdFile]).toEqual([true, false]);
  });

  it('without another program, the run created the file: owner-only, and a failed run removes it', async () => {
    const path = join(tmp.dir, 'own.duckdb');
    const destination = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
    await destination.reconnect();
    expect([destination.createdFile, mode(path)]).toEqual([true, '600']);
    await destination.close({ removeCreatedFile: true });
    expect([existsSync(path), existsSync(`${path}.wal`)]).toEqual([false, false]);
  });
});
