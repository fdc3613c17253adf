// The choice of smaller DuckDB settings under a memory cgroup limit, from real cgroup file contents written under a
// temporary root (as /proc/self/cgroup and /sys/fs/cgroup read on a v1 host, a v2 host and in a container).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { duckdbTuning } from '../src/destination-settings.js';
import { memoryCgroupLimit } from '../src/memory-cgroup.js';
import { tempDir } from './helpers.js';

const MiB = 1024 * 1024;
const V1_UNLIMITED = '9223372036854771712\n';
const dirs: Array<{ cleanup: () => void }> = [];
afterEach(() => dirs.splice(0).forEach((d) => d.cleanup()));

/** A fake root holding the given files (path relative to the root → content). */
function root(files: Record<string, string>): string {
  const tmp = tempDir('cgroup-');
  dirs.push(tmp);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(tmp.dir, path)), { recursive: true });
    writeFileSync(join(tmp.dir, path), content);
  }
  return tmp.dir;
}

const V1_SELF = '9:name=systemd:/\n4:memory:/process_api/b1332d\n3:cpuset:/\n0::/\n';

describe('memoryCgroupLimit', () => {
  it('reads cgroup v1 memory.limit_in_bytes of the process cgroup, taking the lowest of it and its ancestors', () => {
    const base = 'sys/fs/cgroup/memory';
    expect(memoryCgroupLimit(root({
      'proc/self/cgroup': V1_SELF,
      [`${base}/memory.limit_in_bytes`]: V1_UNLIMITED,
      [`${base}/process_api/memory.limit_in_bytes`]: V1_UNLIMITED,
      [`${base}/process_api/b1332d/memory.limit_in_bytes`]: `${256 * MiB}\n`,
    }))).toBe(256 * MiB);
    expect(memoryCgroupLimit(root({
      'proc/self/cgroup': '5:cpu,memory:/a/b\n',
      [`${base}/a/memory.limit_in_bytes`]: `${300 * MiB}\n`,
      [`${base}/a/b/memory.limit_in_bytes`]: V1_UNLIMITED,
    }))).toBe(300 * MiB);
  });

  it('reads cgroup v2 memory.max, "max" meaning no limit', () => {
    expect(memoryCgroupLimit(root({
      'proc/self/cgroup': '0::/system.slice/job.service\n',
      'sys/fs/cgroup/system.slice/memory.max': `${320 * MiB}\n`,
      'sys/fs/cgroup/system.slice/job.service/memory.max': 'max\n',
    }))).toBe(320 * MiB);
    expect(memoryCgroupLimit(root({ 'proc/self/cgroup': '0::/user.slice\n', 'sys/fs/cgroup/user.slice/memory.max': 'max\n' }))).toBeUndefined();
  });

  it("finds a container's own limit at the mount's root when /proc/self/cgroup names the host's path", () => {
    expect(memoryCgroupLimit(root({
      'proc/self/cgroup': '0::/docker/3f2a\n',
      'sys/fs/cgroup/memory.max': `${224 * MiB}\n`,
    }))).toBe(224 * MiB);
  });

  it('is undefined with no limit or nothing to read (a host without one, not Linux)', () => {
    expect(memoryCgroupLimit(root({ 'proc/self/cgroup': V1_SELF, 'sys/fs/cgroup/memory/memory.limit_in_bytes': V1_UNLIMITED }))).toBeUndefined();
    expect(memoryCgroupLimit(root({}))).toBeUndefined();
    // A hybrid host: v1 holds the memory controller, so the empty v2 hierarchy is not read as a limit.
    expect(memoryCgroupLimit(root({ 'proc/self/cgroup': V1_SELF, 'sys/fs/cgroup/memory.max': `${100 * MiB}\n` }))).toBeUndefined();
  });
});

describe('duckdbTuning under a memory cgroup limit', () => {
  it('picks 96MB and 1 thread below 400 MiB and says why; nothing without a limit or from 400 MiB', () => {
    const limit = memoryCgroupLimit(root({ 'proc/self/cgroup': '0::/job\n', 'sys/fs/cgroup/job/memory.max': `${256 * MiB}\n` }));
    const tuning = duckdbTuning({}, limit);
    expect(tuning).toMatchObject({ memoryLimit: '96MB', threads: 1 });
    expect(tuning.note).toBe("DuckDB memory_limit 96MB, 1 thread: the process's memory cgroup allows 256 MiB (below 400 MiB, where the defaults 192MB and 2 threads risk a kill); SNAPENGAGE_DUCKDB_MEMORY_LIMIT / SNAPENGAGE_DUCKDB_THREADS override");
    expect(duckdbTuning({}, undefined)).toEqual({});
    expect(duckdbTuning({}, 400 * MiB)).toEqual({});
    expect(duckdbTuning({}, 399 * MiB)).toMatchObject({ memoryLimit: '96MB', threads: 1 });
  });

  it('lets the variables win, choosing only the setting neither gives', () => {
    expect(duckdbTuning({ SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '160MB', SNAPENGAGE_DUCKDB_THREADS: '2' }, 200 * MiB)).toEqual({ memoryLimit: '160MB', threads: 2 });
    const threadsOnly = duckdbTuning({ SNAPENGAGE_DUCKDB_MEMORY_LIMIT: '64MB' }, 200 * MiB);
    expect(threadsOnly).toMatchObject({ memoryLimit: '64MB', threads: 1 });
    expect(threadsOnly.note).toMatch(/^DuckDB 1 thread: the process's memory cgroup allows 200 MiB/);
    expect(duckdbTuning({ SNAPENGAGE_DUCKDB_THREADS: '2' }, 200 * MiB)).toMatchObject({ memoryLimit: '96MB', threads: 2 });
  });
});
