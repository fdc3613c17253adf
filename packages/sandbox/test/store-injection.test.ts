import { describe, expect, it } from 'vitest';
import { buildFixtures } from '../src/fixtures.js';
import { Rng, seedKey } from '../src/random.js';
import { compareKeys, CaseStore } from '../src/store.js';
import { FIXED_NOW } from './helpers/sandbox.js';

// Injected cases are kept in (time, id, injection serial) order across many POSTs: the order every listing (Logs API
// pages, truth) walks. Pinned against a plain sort of everything injected, since the store merges instead of sorting.

const DAY_MS = 86_400_000;

function newStore(): CaseStore {
  const key = seedKey(5);
  return new CaseStore(key, buildFixtures(key, 2).widgets, [50, 20], FIXED_NOW - 3 * DAY_MS, FIXED_NOW);
}

function listed(store: CaseStore, widgetIndex: number): Array<{ t: number; id: string; n: number }> {
  const all = [...store.entries({ widgetIndexes: [widgetIndex], fromMs: Number.NEGATIVE_INFINITY, toMs: Number.POSITIVE_INFINITY })];
  return all.filter((entry) => entry.injected).map((entry) => ({ t: entry.t, id: entry.id, n: entry.n ?? 0 }));
}

describe('CaseStore.inject', () => {
  it('lists cases injected in many batches (out of order, same times, repeated ids) in key order, each once', () => {
    const store = newStore();
    const rng = new Rng(99);
    const expected: Array<{ t: number; id: string; n: number }> = [];
    for (let batch = 0; batch < 40; batch++) {
      const size = rng.int(0, 100); // above and below SPLICE_MAX: both ways of inserting
      const given = Array.from({ length: size }, () => ({
        // Few distinct times and ids, so ties on time and on (time, id) are common.
        created_at_milliseconds: FIXED_NOW - rng.int(0, 5) * 1000,
        ...(rng.chance(0.5) ? { id: `same-${rng.int(0, 3)}` } : {}),
      }));
      for (const added of store.inject(batch % 2, given, FIXED_NOW, true)) if (batch % 2 === 0) expected.push({ t: added.t, id: added.id, n: added.n });
    }
    expected.sort(compareKeys);
    expect(expected.length).toBeGreaterThan(200);
    expect(listed(store, 0)).toEqual(expected);
  });

  it('takes 150,000 cases in one call (pushing them as call arguments overflowed the stack: a 500)', () => {
    const store = newStore();
    const given = Array.from({ length: 150_000 }, (_, i) => ({ created_at_milliseconds: FIXED_NOW - (i % 1000) }));
    expect(store.inject(1, given, FIXED_NOW, true)).toHaveLength(150_000);
    const all = listed(store, 1);
    expect(all).toHaveLength(150_000);
    expect(all[0]).toMatchObject({ t: FIXED_NOW - 999 });
    expect(all.every((entry, i) => i === 0 || compareKeys(all[i - 1]!, entry) < 0)).toBe(true);
  });
});
