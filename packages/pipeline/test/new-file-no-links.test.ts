// A new DuckDB file on a file system without hard links (FAT, some network shares: link() fails with EPERM or
// ENOTSUP), new-file.ts placeDraft: the draft is renamed into place instead, which would replace a file another
// program made at the path since the first check, so it looks again first. link() is the only call replaced here
// (the file system of the tests has hard links); everything else, DuckDB included, is real.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

const hooks = vi.hoisted(() => ({ link: undefined as ((from: string, to: string) => void) | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  const link = async (from: string, to: string) => {
    hooks.link?.(from, to);
    return original.link(from, to);
  };
  return { ...original, default: { ...original, link }, link };
});
const { createDatabaseFile, NEW_DATABASE_DRAFT } = await import('../src/destination/new-file.js');
const { duckdbSettings } = await import('../src/destination/index.js');
const { tempDir } = await import('./helpers.js');

/** What link() throws on such a file system, or for another reason: Node's form, naming both paths. */
const linkFails = (code: string) => (from: string, to: string) => {
  throw Object.assign(new Error(`${code}: link '${from}' -> '${to}'`), { code, syscall: 'link' });
};
const hasDuckDBHeader = (path: string) => readFileSync(path).subarray(8, 12).toString('latin1') === 'DUCK';

describe('a new DuckDB file where link() fails', () => {
  let tmp: ReturnType<typeof tempDir>;
  let umask: number;
  beforeAll(() => {
    umask = process.umask(0o022);
    tmp = tempDir();
  });
  afterEach(() => {
    hooks.link = undefined;
  });
  afterAll(() => {
    process.umask(umask);
    tmp?.cleanup();
  });

  const setUp = (name: string) => {
    const staging = join(tmp.dir, `${name}.staging`);
    mkdirSync(staging);
    return { path: join(tmp.dir, `${name}.duckdb`), staging, draft: join(staging, NEW_DATABASE_DRAFT) };
  };

  it('without hard links (EPERM, ENOTSUP): the draft is renamed into place, a whole owner-only database', async () => {
    for (const code of ['EPERM', 'ENOTSUP']) {
      const { path, staging, draft } = setUp(`renamed-${code}`);
      hooks.link = linkFails(code);
      expect(await createDatabaseFile(path, staging, duckdbSettings({ threads: 1 }))).toBe('created');
      expect([hasDuckDBHeader(path), (statSync(path).mode & 0o777).toString(8), existsSync(draft)]).toEqual([true, '600', false]);
    }
  });

  it("without hard links, a file another program made at the path meanwhile is not replaced by the rename: 'found'", async () => {
    const { path, staging, draft } = setUp('other');
    hooks.link = (from, to) => {
      // Made after createDatabaseFile looked at the path, before the rename.
      writeFileSync(to, 'made by another program');
      linkFails('EPERM')(from, to);
    };
    expect(await createDatabaseFile(path, staging, duckdbSettings({ threads: 1 }))).toBe('found');
    expect([readFileSync(path, 'utf8'), existsSync(draft)]).toEqual(['made by another program', false]);
  });

  it('another failure of link() (EIO) is not taken for a file system without hard links: it fails, naming the file, not the draft', async () => {
    const { path, staging, draft } = setUp('io');
    hooks.link = linkFails('EIO');
    const error = await createDatabaseFile(path, staging, duckdbSettings({ threads: 1 })).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).not.toContain(NEW_DATABASE_DRAFT);
    expect([existsSync(path), existsSync(draft)]).toEqual([false, false]);
  });

  // The run lock is made the same way (run-lock.ts createExclusive): EISDIR is how Node reports exFAT on Windows.
  it.each(['EPERM', 'ENOTSUP', 'EISDIR'])('without hard links (%s) the run lock is made by an exclusive create instead, and released', async (code) => {
    const { acquireRunLock } = await import('../src/destination/run-lock.js');
    hooks.link = linkFails(code);
    const root = join(tmp.dir, `lock-${code}.duckdb.staging`);
    const lock = await acquireRunLock(root, join(tmp.dir, `lock-${code}.duckdb`));
    expect(JSON.parse(readFileSync(join(root, 'run.lock'), 'utf8'))).toMatchObject({ pid: process.pid, token: lock.holder.token });
    expect(await lock.stillHeld()).toBe(true);
    await lock.release();
    expect(existsSync(root)).toBe(false);
  });
});
