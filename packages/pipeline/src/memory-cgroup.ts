// Smaller DuckDB settings when the process runs under a memory cgroup limit (a container's) too low for the
// defaults. Measured (OPERATIONS.md, "Memory in a container"): a first load of 60,000 cases peaks at ~350 MiB RSS
// with the defaults (192MB, 2 threads) and was killed by the kernel under caps of 192–240 MiB; with 96MB and 1
// thread it loaded under 208–288 MiB, in the same time within the run-to-run noise. Without a limit, or with one of
// 400 MiB or more, nothing changes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Below this cgroup limit the loader picks SMALL_DUCKDB_SETTINGS (the defaults' peak was 345–382 MiB at 60k cases). */
const SMALL_SETTINGS_BELOW_BYTES = 400 * 1024 * 1024;
const SMALL_DUCKDB_SETTINGS = { memoryLimit: '96MB', threads: 1 } as const;

/** cgroup v1 writes "no limit" as a huge page-rounded number (9223372036854771712); anything this large is none. */
const UNLIMITED_FROM = 2 ** 62;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function parseLimit(text: string | undefined): number | undefined {
  const value = text?.trim();
  if (value === undefined || !/^\d+$/.test(value)) return undefined; // v2 "max", or no such file
  const bytes = Number(value);
  return bytes > 0 && bytes < UNLIMITED_FROM ? bytes : undefined;
}

/**
 * The memory limit, in bytes, of the cgroup this process is in (from `<root>/proc/self/cgroup`): cgroup v1's
 * `memory.limit_in_bytes` under `/sys/fs/cgroup/memory`, else v2's `memory.max` under `/sys/fs/cgroup`. The lowest
 * over the cgroup and its ancestors, as each of them caps it; that walk also finds a container's own limit where
 * /proc/self/cgroup names the host's path (`/docker/…`) but the container sees its cgroup at the mount's root.
 * undefined without a limit or where none of it can be read (not Linux). `root` is for tests.
 */
export function memoryCgroupLimit(root = '/'): number | undefined {
  const lines = readText(join(root, 'proc/self/cgroup'))?.split('\n') ?? [];
  // "4:memory:/path" (v1; the memory controller may share its hierarchy: "4:cpu,memory:/path"), "0::/path" (v2)
  const v1 = lines.map((line) => /^\d+:([^:]*):(.*)$/.exec(line)).find((m) => m && m[1]!.split(',').includes('memory'));
  const v2 = lines.map((line) => /^0::(.*)$/.exec(line)).find((m) => m);
  const [mount, file, path] = v1 ? ['sys/fs/cgroup/memory', 'memory.limit_in_bytes', v1[2]!] : v2 ? ['sys/fs/cgroup', 'memory.max', v2[1]!] : [];
  if (mount === undefined || file === undefined || path === undefined) return undefined;
  const parts = path.split('/').filter((part) => part !== '' && part !== '..');
  let lowest: number | undefined;
  for (let depth = parts.length; depth >= 0; depth--) {
    const limit = parseLimit(readText(join(root, mount, ...parts.slice(0, depth), file)));
    if (limit !== undefined && (lowest === undefined || limit < lowest)) lowest = limit;
  }
  return lowest;
}

/**
 * DuckDB settings for a cgroup limit: SMALL_DUCKDB_SETTINGS below SMALL_SETTINGS_BELOW_BYTES, with a one-line
 * reason; null without a limit or above it (the defaults apply).
 */
export function settingsForMemoryLimit(limitBytes: number | undefined): { memoryLimit: string; threads: number; reason: string } | null {
  if (limitBytes === undefined || limitBytes >= SMALL_SETTINGS_BELOW_BYTES) return null;
  const mib = Math.floor(limitBytes / (1024 * 1024));
  return {
    ...SMALL_DUCKDB_SETTINGS,
    reason: `the process's memory cgroup allows ${mib} MiB (below ${SMALL_SETTINGS_BELOW_BYTES / (1024 * 1024)} MiB, where the defaults 192MB and 2 threads risk a kill)`,
  };
}
