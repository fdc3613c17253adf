import { execFileSync } from 'node:child_process';
import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { releaseHeapBeforeCommit } from '../src/memory.js';
import { PACKAGE_DIR } from './helpers.js';

const MiB = 1024 * 1024;

describe('releaseHeapBeforeCommit', () => {
  it('collects a large heap without --expose-gc and frees what is no longer referenced', () => {
    let junk: Array<{ i: number; s: string }> | undefined = Array.from({ length: 1_500_000 }, (_, i) => ({ i, s: `x${i}` }));
    expect(junk.length).toBe(1_500_000);
    expect(getHeapStatistics().total_heap_size).toBeGreaterThan(64 * MiB);
    junk = undefined;
    const before = getHeapStatistics().used_heap_size;
    expect(releaseHeapBeforeCommit()).toBe(true);
    expect(getHeapStatistics().used_heap_size).toBeLessThan(before - 40 * MiB);
  });

  it('leaves a small heap alone: no collection (its pause would give back too little)', () => {
    // A fresh process (this one's heap is past the threshold): ~10 MiB of heap at start.
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e',
      "import('./src/memory.ts').then((m) => console.log(JSON.stringify(m.releaseHeapBeforeCommit())))"], { cwd: PACKAGE_DIR, encoding: 'utf8', timeout: 30_000 });
    expect(JSON.parse(out)).toBe(false);
  });
});
