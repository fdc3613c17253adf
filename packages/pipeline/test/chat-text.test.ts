// The text chat logs really carry (an emoji cut in half by a length limit, NUL and other control characters,
// U+2028/U+2029, byte order marks, CR, right-to-left and combining text, long messages, HTML, strings that look like
// numbers/booleans/dates/JSON, numbers at the edges of a double) loads without loss, reads back the same through the
// dataset API and through DuckDB SQL, and gives the same rows on the staged fast paths as on the row path.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBDestination } from '../src/destination/index.js';
import { openDataset } from '../src/dataset.js';
import { runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, sandbox, tempDir, thingsResource, truth, withQueries } from './helpers.js';

const CONTROL = Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)).join('') + '\u007f\u0085';
/** Chat text as it arrives; a lone surrogate is stored as U+FFFD (NORMALIZATION.md), everything else exactly. */
const TEXTS = [
  'hello 😀'.slice(0, 7), 'cut \ud83d', '\udc00 low half', 'a\u0000b', '\u0000', CONTROL, 'x\u2028y\u2029z',
  '\ufeffhi', '\ufeff', 'a\ufeffb', 'a\r\nb', 'a\rb', '\r', 'مرحبا بالعالم שלום', '\u202eevil\u202c',
  'e\u0301 a\u0308 Z̴̡̛̖̗͂a̶l̷g̵o', 'ü'.repeat(300_000), '&amp;&lt;b&gt; <b>hi</b><script>alert("x")</script>',
  '0012', '1e400', 'true', 'false', 'null', '{"a":1}', '[1,2]', '2025-01-01', '2025-01-01T00:00:00Z', 'NaN',
  '-0', '', '9007199254740993', '\\ud83d \\u0000',
];
const wf = (s: string) => s.toWellFormed();

describe('chat text through the destination', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  /** Loads the records with or without the fast paths; the rows as the dataset API and as plain SQL read them. */
  async function load(name: string, records: Record<string, unknown>[], fastPath: boolean, resource = thingsResource) {
    const path = join(tmp.dir, `${name}-${fastPath}.duckdb`);
    rmSync(path, { force: true });
    const dest = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: '1.0', resource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4, fastPath });
    await w.write(records);
    // Lines staged whole (fast paths), per file (a private detail, looked at only here and in destination.test.ts).
    const files = (w as unknown as { staging: { get(key: string): { rows: number } | undefined } }).staging;
    const fastLines = { records: files.get(`${resource.name}\u0000record`)?.rows ?? 0, lists: files.get(`${resource.name}__items\u0000list`)?.rows ?? 0 };
    await w.commit(null);
    await dest.close();
    const read = async (table: string) => {
      const sql = `SELECT * EXCLUDE (_load_id) FROM ds.${table} ORDER BY ${table.includes('__') ? '_root_id, _list_idx' : 'id'}`;
      const ds = await openDataset({ path, dataset: 'ds' });
      try {
        return { api: await ds.sql(sql), sql: await withQueries(path, (run) => run(sql)) };
      } finally {
        await ds.close();
      }
    };
    return { read, fastLines };
  }

  it('keeps every text exactly and never re-types a string, on the row path and the fast paths alike', async () => {
    const fields = Object.fromEntries(TEXTS.map((t, i) => [`t${i}`, t]));
    // The first record decides the columns (row path); the later ones fit them and are staged whole (fast paths).
    const records = ['a', 'b', 'c'].map((id) => ({ id, ...fields, tags: TEXTS.slice(0, 12), items: TEXTS.map((k) => ({ k })) }));
    const results = [];
    for (const fastPath of [false, true]) {
      const { read, fastLines } = await load('text', records, fastPath);
      // Records b and c whole (a decided their columns), every item list (`items[].k` is declared).
      expect(fastLines).toEqual(fastPath ? { records: 2, lists: 3 } : { records: 0, lists: 0 });
      const roots = await read('things');
      const items = await read('things__items');
      for (const row of roots.api) {
        for (const [i, text] of TEXTS.entries()) expect(row[`t${i}`], `t${i}`).toBe(wf(text));
        expect(row.tags).toEqual(TEXTS.slice(0, 12).map(wf));
      }
      expect(items.api.map((r) => r.k)).toEqual([...TEXTS, ...TEXTS, ...TEXTS].map(wf));
      // Plain SQL reads the same values (its JSON-safe reading gives BIGINTs as text and lists as arrays).
      expect(roots.sql.map((r) => Object.fromEntries(TEXTS.map((_, i) => [`t${i}`, r[`t${i}`]])))).toEqual(roots.api.map((r) => Object.fromEntries(TEXTS.map((_, i) => [`t${i}`, r[`t${i}`]]))));
      expect(items.sql.map((r) => r.k)).toEqual(items.api.map((r) => r.k));
      results.push({ roots: roots.api, items: items.api });
    }
    expect(results[1]).toEqual(results[0]);
  });

  it('keeps a number beyond the double range (1e400, which JSON.parse reads as Infinity) in lists and JSON values, on both paths', async () => {
    // What the client hands over for such a page: JSON.parse's ±Infinity, which JSON.stringify writes as null.
    const page = JSON.parse(`[
      {"id":"a","transcripts":[{"id":"t1","translations":1e400},{"id":"t2","translations":{"de":[1e400,-1e400,1]}}],"scores":[1.5,1e400],"top":-1e400},
      {"id":"b","transcripts":[{"id":"t1","translations":-1e400},{"id":"t2","translations":{"de":[1e400,-1e400,1]}}],"scores":[2.5,-1e400],"top":1e400}
    ]`) as Array<Record<string, unknown>>;
    const results = [];
    for (const fastPath of [false, true]) {
      const { read } = await load('inf', page, fastPath, resources.logs);
      const roots = (await read('logs')).api;
      const transcripts = (await read('logs__transcripts')).api;
      const byId = new Map(roots.map((r) => [r.id, [r.scores, r.top]]));
      expect(Object.fromEntries(byId)).toEqual({ a: [[1.5, Infinity], -Infinity], b: [[2.5, -Infinity], Infinity] });
      expect(transcripts.map((r) => r.translations)).toEqual(expect.arrayContaining([Infinity, -Infinity, { de: [Infinity, -Infinity, 1] }]));
      // In SQL the JSON holds a number JSON.parse and DuckDB read as infinity, not the invalid token `Infinity`.
      const sql = await withQueries(join(tmp.dir, `inf-${fastPath}.duckdb`), (run) => run(`SELECT translations::VARCHAR AS t, (translations->'de'->0)::DOUBLE = 'infinity'::DOUBLE AS inf FROM ds.logs__transcripts ORDER BY _root_id, _list_idx`));
      expect(sql.map((r) => r.t).sort()).toEqual(['-1e999', '1e999', '{"de":[1e999,-1e999,1]}', '{"de":[1e999,-1e999,1]}']);
      expect(sql.filter((r) => r.inf === true)).toHaveLength(2);
      results.push({ roots, transcripts });
    }
    expect(results[1]).toEqual(results[0]);
  });
});

describe('a value deeper than any API answer', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('keeps an Infinity 400 levels down, and a cycle a map step made fails with JSON\'s own error, not a stack overflow', async () => {
    const dest = await DuckDBDestination.open({ path: join(tmp.dir, 'deep.duckdb'), dataset: 'ds', pipelineName: 'p' });
    try {
      const writer = () => dest.createResourceWriter({ loadId: '1.0', resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 0 });
      let deep: unknown = [Infinity, null];
      for (let i = 0; i < 400; i++) deep = { d: deep };
      const w = writer();
      await w.write([{ id: 'a', j: { d: 1 } }, { id: 'b', j: deep }]);
      await w.commit(null);
      const cycle: Record<string, unknown> = { a: 1 };
      cycle.self = cycle;
      const again = writer();
      // The first record decides the JSON column, so the second one is looked at for the fast path.
      const error = await again.write([{ id: 'c', j: { d: 1 } }, { id: 'd', j: cycle }]).then(() => again.commit(null)).catch((e: unknown) => e);
      expect((error as Error).message).toMatch(/Converting circular structure to JSON/);
    } finally {
      await dest.close();
    }
    const [row] = await withQueries(join(tmp.dir, 'deep.duckdb'), (run) => run(`SELECT j::VARCHAR AS j FROM ds.things WHERE id = 'b'`));
    expect(String(row!.j)).toContain('[1e999,null]');
  });
});

describe('chat text through the sandbox', () => {
  let box: Sandbox;
  const tmp = tempDir();
  beforeAll(async () => {
    box = await sandbox({ cases: 5, widgets: 1, days: 2 });
  });
  afterAll(async () => {
    await box?.close();
    tmp.cleanup();
  });

  it('loads the truth exactly, and the dataset API and SQL read the same rows', async () => {
    const mk = (i: number) => ({
      description: TEXTS[i % TEXTS.length],
      requester_details: { name: TEXTS[(i + 1) % TEXTS.length], emails: TEXTS.slice(0, 6) },
      transcripts: TEXTS.map((message) => ({ message, alias: 'v' })),
      javascript_variables: TEXTS.map((value, j) => ({ name: `v${j}`, value })),
      looks_like: { bool: 'true', num: '0012', exp: '1e400', json: '{"a":1}', date: '2025-01-01' },
      'é': 'nfc', 'e\u0301': 'nfd', Name: 'upper', name: 'lower',
      nums: { big: 2 ** 53 + 2, max: 1.7976931348623157e308, e308: 1e308, tiny: 5e-324 },
    });
    // Several copies, so that the later ones are staged on the fast paths.
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases: Array.from({ length: 8 }, (_, i) => mk(i)) });
    const path = join(tmp.dir, 'sandbox.duckdb');
    const config = { resources: { logs: true as const }, rateLimit: { requestsPerSecond: 0 } };
    await runPipeline(config, { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(await expectMatchesTruth(path, 'snapengage_data', cases.map(wellFormedDeep))).toEqual([]);
    // A rerun re-reads the same records: nothing changes, nothing is lost.
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', cases.map(wellFormedDeep))).toEqual([]);

    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      const messages = await ds.sql(`SELECT t.message FROM snapengage_data.logs__transcripts t JOIN snapengage_data.logs l ON t._root_id = l._row_id
        WHERE l.looks_like__bool IS NOT NULL ORDER BY l.id, t._list_idx`);
      expect(messages.map((m) => m.message)).toEqual(Array.from({ length: 8 }, () => TEXTS.map(wf)).flat());
      const [row] = await ds.sql('SELECT looks_like__bool, looks_like__num, looks_like__exp, looks_like__json, looks_like__date, nums__big FROM snapengage_data.logs WHERE looks_like__bool IS NOT NULL LIMIT 1');
      expect(row).toEqual({ looks_like__bool: 'true', looks_like__num: '0012', looks_like__exp: '1e400', looks_like__json: '{"a":1}', looks_like__date: '2025-01-01', nums__big: String(2 ** 53 + 2) });
      for (const table of ['logs', 'logs__transcripts', 'logs__javascript_variables']) {
        const sql = `SELECT * FROM snapengage_data.${table} ORDER BY _row_id`;
        const types = new Map((await ds.sql(`DESCRIBE ${sql}`)).map((c) => [String(c.column_name), String(c.column_type)]));
        // Plain SQL's JSON-safe reading gives a JSON column as its text and a BIGINT as a string.
        const plain = (await withQueries(path, (run) => run(sql))).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => {
          if (typeof v !== 'string') return [k, v];
          if (types.get(k) === 'JSON') return [k, JSON.parse(v)];
          return [k, types.get(k) === 'BIGINT' && Number.isSafeInteger(Number(v)) ? Number(v) : v];
        })));
        expect(await ds.sql(sql)).toEqual(plain);
      }
    } finally {
      await ds.close();
    }
  });
});

/** The value with every string made well-formed (a lone surrogate becomes U+FFFD), keys included. */
function wellFormedDeep<T>(value: T): T {
  if (typeof value === 'string') return wf(value) as T;
  if (Array.isArray(value)) return value.map(wellFormedDeep) as T;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [wf(k), wellFormedDeep(v)])) as T;
  return value;
}
