import { getHeapStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { releaseHeapBeforeCommit } from '../src/memory.js';

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
});
