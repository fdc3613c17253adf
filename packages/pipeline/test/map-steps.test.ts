// What a config's filter and map steps may return, against the sandbox over loopback into real DuckDB files: every
// value is stored loss-free (the same on the row path and the fast paths, and unchanged on a rerun), or the run is
// refused before anything is written, naming the step or column, the field and the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { ConfigError, definePipeline, openDataset, runPipeline, type SourceRecord } from '../src/index.js';
import { query, sandbox, tempDir } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let n = 0;
beforeAll(async () => {
  box = await sandbox({ cases: 20, widgets: 1, days: 3 });
  tmp = tempDir('map-steps-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

type Transcript = Record<string, unknown>;
type Step = { map: (r: SourceRecord) => unknown } | { filter: (r: SourceRecord) => unknown };
const run = (steps: Step[], path = `${tmp.dir}/run-${n++}.duckdb`) =>
  runPipeline(definePipeline({ resources: { logs: { steps: steps as never } }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
const eachTranscript = (edit: (t: Transcript) => void) => ({
  map: (r: SourceRecord) => {
    for (const t of (r.transcripts as Transcript[] | null) ?? []) edit(t);
    return r;
  },
});

describe('NaN from a map step', () => {
  it('is kept in DOUBLE columns and lists, and the rerun finds every record unchanged', async () => {
    const path = `${tmp.dir}/nan-double.duckdb`;
    const steps = [{ map: (r: SourceRecord) => ({ ...r, latitude: NaN, ratios: [1.5, NaN] }) }];
    const first = await run(steps, path);
    expect(first.rowCounts.logs).toBe(20);
    const rows = await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE isnan(latitude) AND isnan(ratios[2]) AND ratios[1] = 1.5`);
    expect(rows).toEqual([{ n: 20 }]); // the list's NaN was null
    const again = await run(steps, path);
    expect(again.rowCounts.logs ?? 0).toBe(0);
    expect(again.unchangedRecords.logs).toBeGreaterThan(0);
  });

  // transcripts[].translations is a JSON column (declared without a type). On the list fast path NaN was staged as
  // null; on the row path (a new key in the items) as the token NaN, which failed every read of the table.
  it.each([
    ['the list fast path', (t: Transcript) => (t.translations = NaN)],
    ['the row path', (t: Transcript) => ((t.translations = NaN), (t.extra = 1))],
    ['inside an object', (t: Transcript) => ((t.translations = { score: NaN }), (t.extra = 1))],
  ])('is refused in a JSON column, naming it (%s)', async (_, edit) => {
    const path = `${tmp.dir}/nan-json-${n++}.duckdb`;
    const failure = run([eachTranscript(edit)], path);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(
      'resources.logs: a map step returned NaN for logs__transcripts.translations, a JSON column, and JSON has no NaN: return null or a number there',
    );
  });
});

describe('values no column holds', () => {
  it.each([
    ['a Map', { m: new Map([['a', 1]]) }, 'whose m is a Map, which no column can hold: return Object.fromEntries(map)'],
    ['a Set', { s: new Set([1]) }, 'whose s is a Set, which no column can hold: return [...set]'],
    ['a function', { f: () => 1 }, 'whose f is a function'],
    ['a symbol', { s: Symbol('x') }, 'whose s is a symbol'],
    ['an invalid Date', { at: { when: new Date('not a date') } }, 'whose at.when is an invalid Date, which no column can hold: return a valid Date, a text or null'],
    ['bytes', { list: [{ bytes: new Uint8Array([1]) }] }, 'whose list[0].bytes is a Uint8Array'],
  ])('%s is refused, naming the step and the field', async (_, extra, message) => {
    const path = `${tmp.dir}/refused-${n++}.duckdb`;
    const failure = run([{ filter: () => true }, { map: (r) => ({ ...r, ...extra }) }], path);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(`resources.logs.steps[1] (map) returned a record ${message}`);
  });

  it('a cycle is refused, naming where it closes', async () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    await expect(run([{ map: (r) => ({ ...r, cyclic }) }])).rejects.toThrow(
      'resources.logs.steps[0] (map) returned a record whose cyclic.self is the object it is inside (a cycle)',
    );
  });
});

describe('objects with toJSON', () => {
  it('are stored as what toJSON returns, for every record (row path and fast path alike)', async () => {
    const path = `${tmp.dir}/to-json.duckdb`;
    class Money {
      amount = 5;
      toJSON() {
        return 'USD 5';
      }
    }
    // The first record took the row path, which flattened the instance's own fields (price__amount); the others
    // took the fast path, whose JSON.stringify called toJSON, so their price__amount was null.
    const steps = [{ map: (r: SourceRecord) => ({ ...r, price: new Money(), raw: Buffer.from('hi'), own: { toJSON: () => 7 } }) }];
    await run(steps, path);
    const rows = await query(path, `SELECT price, raw__type, raw__data::VARCHAR AS data, own, count(*)::INTEGER AS n FROM snapengage_data.logs GROUP BY ALL`);
    expect(rows).toEqual([{ price: 'USD 5', raw__type: 'Buffer', data: '[104, 105]', own: '7', n: 20 }]);
    const again = await run(steps, path);
    expect(again.rowCounts.logs ?? 0).toBe(0);
  });
});

describe('what a step returns', () => {
  it('an async filter or map is refused (a Promise kept every record, or stored them as one empty row)', async () => {
    await expect(run([{ filter: async () => false }])).rejects.toThrow(
      'resources.logs.steps[0] (filter) returned a Promise: steps run synchronously, so an async step is not supported',
    );
    await expect(run([{ map: async (r) => r }])).rejects.toThrow('resources.logs.steps[0] (map) returned a Promise');
  });

  it('a filter returning undefined (a missing return) is refused: it dropped every record, and the windows moved past them', async () => {
    const path = `${tmp.dir}/filter-undefined.duckdb`;
    const failure = run([{ filter: (r) => { r.type === 'chat'; } }], path);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow('resources.logs.steps[0] (filter) returned undefined: return true to keep the record, false to drop it');
    // An optional chain is undefined for a record without the field (the sandbox's cases have no `tags`): named in the fix.
    await expect(run([{ filter: (r) => (r as { tags?: string[] }).tags?.includes('vip') as boolean }], path)).rejects.toThrow(
      "an optional chain such as record.tags?.includes('vip') is undefined for a record without the field: end it with ?? false",
    );
    const kept = await run([{ filter: (r) => r.type === 'chat' || null }], path);
    expect(kept.rowCounts.logs).toBeGreaterThan(0); // null (and any other value) is still read as JavaScript reads it
  });

  it('one object returned for two records is refused (it was stored as the last one, for both)', async () => {
    const out: SourceRecord = {};
    await expect(run([{ map: (r) => Object.assign(out, r) }])).rejects.toThrow(
      'resources.logs.steps[0] (map) returned the same object for two records: return a new object for each',
    );
  });

  it('a step that throws something not an Error is named too, and nothing is written', async () => {
    const path = `${tmp.dir}/throws.duckdb`;
    await run([], path);
    const before = await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs');
    await expect(run([{ map: () => { throw null; } }], path)).rejects.toThrow('resources.logs.steps[0] threw: null');
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual(before);
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads(1))[0]).toMatchObject({ status: 'failed', error: expect.stringMatching(/^resources\.logs\.steps\[0\] threw: null \(on the logs record id "[^"]+"\)$/) });
    } finally {
      await ds.close();
    }
  });

  it('a step whose error has line breaks fails with one line that keeps every line of it', async () => {
    // Before, the message went out as it was: a validator's list of issues printed as several lines on stderr and in
    // _pipeline_loads.error, against the CLI's one line per error.
    const path = `${tmp.dir}/throws-lines-${n++}.duckdb`;
    await run([], path);
    const failure = run([{ filter: () => { throw new Error('invalid record:\r\n  - name: required\n\n  - age: not a number\n'); } }], path);
    const error = await failure.then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/^resources\.logs\.steps\[0\] threw: invalid record: - name: required; - age: not a number \(on the logs record id "[^"]+"\)$/);
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads(1))[0]?.error).toBe(error?.message);
    } finally {
      await ds.close();
    }
  });

  it('a toJSON method that throws in what a map step returned names the step and the field, on one line', async () => {
    // Before: "Extracting logs failed: invalid amount" (an ExtractError), naming neither, its second line lost.
    const amount = { toJSON() { throw new Error('invalid amount\nexpected a number'); } };
    const failure = run([{ map: (r) => ({ ...r, payment: { amount } }) }]);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(/^resources\.logs\.steps\[0\] \(map\) returned a record whose payment\.amount has a toJSON method that threw: invalid amount; expected a number$/);
  });

  it('a step that throws on one record names that record by its id, as the API sent it, and writes nothing', async () => {
    // Before, the message said which step threw but not on which of the run's records: the one to look at was unknown.
    const path = `${tmp.dir}/throws-on-one.duckdb`;
    await run([], path);
    const before = await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs');
    // One case by its url (unique per case); the first step renames the id away, so only the record as sent has it.
    const [{ id, url } = {}] = await query(path, 'SELECT id, url FROM snapengage_data.logs WHERE url IN (SELECT url FROM snapengage_data.logs GROUP BY url HAVING count(*) = 1) ORDER BY id LIMIT 1 OFFSET 3');
    expect(typeof url).toBe('string');
    const failure = run([{ map: (r) => ({ ...r, id: 'renamed' }) }, { map: (r) => { if (r.url === url) throw new TypeError('no survey'); return r; } }], path);
    await expect(failure).rejects.toThrow(`resources.logs.steps[1] threw: no survey (on the logs record id "${String(id)}")`);
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual(before);
    // A key that is not an id (users by email) is not echoed: messages name ids, not personal values (PRIVACY.md).
    const users = runPipeline(definePipeline({ resources: { users: { steps: [{ map: () => { throw new Error('nope'); } }] } }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
    await expect(users).rejects.toThrow(/^resources\.users\.steps\[0\] threw: nope$/);
  });
});
