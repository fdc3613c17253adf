// Seeded fuzz of the normalize → load path against the sandbox and real DuckDB files (see fuzz/hostile.ts). A few
// seeds here; `npm run fuzz -w snapengage-pipeline -- 1-50` runs many.
import { describe, expect, it } from 'vitest';
import { fuzzSeed } from './fuzz/hostile.js';

describe('fuzzed hostile records', () => {
  // Seed 4 replaces (every fifth seed does); the others merge.
  it.each([1, 4, 7])('seed %i: every record rebuilt from DuckDB equals what the API served, over 4 runs', async (seed) => {
    expect(await fuzzSeed(seed, { runs: 4, perRun: 30 })).toEqual([]);
  });

  // Seed 27 nests hostile records into ~90 tables: moving every table's rows by copy ran out of memory at 192MB.
  it.each([2, 3, 27])('seed %i: append or replace, then merge: one row per key, as served last', async (seed) => {
    expect(await fuzzSeed(seed, { runs: 3, perRun: 30, switchToMerge: true })).toEqual([]);
  });
});
