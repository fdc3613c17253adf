// Integers beyond 2^53 read back as the API sent them: a case served by the sandbox over loopback holds
// 12345678901234567891 (beyond BIGINT too) in a declared integer field, an undeclared one, a JSON column and a
// table's `_overflow`; it is loaded into a DuckDB file and read with openDataset's rows(), sql() and iterate(). A JSON
// value was handed to JSON.parse, which rounded such a number (…891 → …000) silently. And what a map step gets and
// returns: a BigInt, stored exactly.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, openDataset, runPipeline, type SourceRecord } from '../src/index.js';
import { MAX_TABLE_COLUMNS } from '../src/normalize/table-tree.js';
import { sandbox, tempDir, withQueries } from './helpers.js';

const HUGE = '12345678901234567891';
const BIG = '9007199254740993';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('large-integers-');
  // An object with more keys than a table has columns: the last ones, `zbig` among them, go to `_overflow`.
  const wide = Array.from({ length: MAX_TABLE_COLUMNS + 10 }, (_, k) => `"k${k}": ${k}`).join(', ');
  // Raw JSON text: JSON.stringify of a JS object could not write these integers exactly.
  const text = `{"widgetId": ${JSON.stringify(box.env.SNAPENGAGE_WIDGET_ID)}, "cases": [
    {"id": "huge-1", "chat_waittime": ${HUGE}, "undeclared_huge": ${HUGE}, "undeclared_big": ${BIG},
     "transcripts": [{"id": "", "message": "hi", "translations": {"n": ${HUGE}, "list": [-${HUGE}, ${BIG}, 1, 123456789012345678901234567890], "text": "${HUGE}", "f": 1.5}}],
     "wide": {${wide}, "zbig": ${HUGE}}}
  ]}`;
  const response = await fetch(`${box.url}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  expect(response.status, await response.clone().text()).toBe(201);
}, 60_000);
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const load = (path: string, steps?: unknown[]) =>
  runPipeline(definePipeline({ resources: { logs: steps === undefined ? true : { steps: steps as never } }, rateLimit: { requestsPerSecond: 0 } }), {
    env: box.env,
    destination: { path },
  });

describe('integers beyond 2^53 read back through openDataset', () => {
  let path: string;
  beforeAll(async () => {
    path = join(tmp.dir, 'plain.duckdb');
    await load(path);
  }, 60_000);

  it('are stored exactly (SQL reads every digit), in the columns the docs name', async () => {
    const rows = await withQueries(path, (run) => run(`SELECT chat_waittime, chat_waittime__v_text, undeclared_huge, undeclared_big,
        _overflow->'wide'->>'zbig' AS zbig FROM snapengage_data.logs`));
    expect(rows).toEqual([{ chat_waittime: null, chat_waittime__v_text: HUGE, undeclared_huge: HUGE, undeclared_big: BIG, zbig: HUGE }]);
    const translations = await withQueries(path, (run) => run(`SELECT translations->>'n' AS n, translations->'list'->>0 AS first FROM snapengage_data.logs__transcripts`));
    expect(translations).toEqual([{ n: HUGE, first: `-${HUGE}` }]);
  });

  it('rows(), sql() and iterate() give them as their decimal text, as a BIGINT beyond 2^53, also inside JSON values', async () => {
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      const translations = { n: HUGE, list: [`-${HUGE}`, BIG, 1, '123456789012345678901234567890'], text: HUGE, f: 1.5 };
      expect((await ds.rows('logs__transcripts')).map((r) => r.translations)).toEqual([translations]);
      expect(await ds.sql('SELECT translations, translations->\'list\' AS list FROM logs__transcripts')).toEqual([{ translations, list: translations.list }]);
      const batches: unknown[] = [];
      for await (const batch of ds.iterate('SELECT translations FROM logs__transcripts')) batches.push(...batch.map((r) => r.translations));
      expect(batches).toEqual([translations]);
      // JSON nested in a list (any depth) too.
      expect(await ds.sql('SELECT [translations] AS nested FROM logs__transcripts')).toEqual([{ nested: [translations] }]);

      const [logs] = await ds.rows('logs');
      expect(logs).toMatchObject({ chat_waittime: null, chat_waittime__v_text: HUGE, undeclared_huge: HUGE, undeclared_big: BIG });
      const overflow = logs!._overflow as { wide: Record<string, unknown> };
      expect(overflow.wide.zbig).toBe(HUGE);
      // Ordinary numbers in JSON stay numbers.
      const ordinary = Object.entries(overflow.wide).filter(([k]) => k !== 'zbig');
      expect(ordinary.length).toBeGreaterThan(0);
      expect(ordinary.every(([k, v]) => v === Number(k.slice(1)))).toBe(true);
      // Every value is JSON-safe as the docs say: JSON.stringify does not throw.
      expect(JSON.parse(JSON.stringify(logs))._overflow.wide.zbig).toBe(HUGE);
    } finally {
      await ds.close();
    }
  });
});

describe('a map step and integers beyond 2^53', () => {
  it('gets them as BigInts, and what it returns with BigInts (alone, in a list, inside JSON) is stored exactly', async () => {
    const path = join(tmp.dir, 'mapped.duckdb');
    const seen: string[] = [];
    await load(path, [
      {
        map: (r: SourceRecord) => {
          seen.push(`${typeof r.chat_waittime} ${typeof r.undeclared_huge} ${typeof r.undeclared_big} ${typeof (r.wide as Record<string, unknown>).zbig}`);
          const next = (r.undeclared_big as bigint) + 1n;
          // Without `wide`, whose keys would fill the table: the new fields get columns of their own.
          const { wide: _wide, ...rest } = r;
          return { ...rest, next_big: next, big_list: [next, 2n], deep: { a: { b: { c: { d: { e: next * 10n + 1n } } } } } };
        },
      },
    ]);
    expect(seen).toEqual(['bigint bigint bigint bigint']);
    const rows = await withQueries(path, (run) => run(`SELECT next_big, big_list, typeof(next_big) AS type, deep__a__b__c__d->>'e' AS e FROM snapengage_data.logs`));
    expect(rows).toEqual([{ next_big: '9007199254740994', big_list: ['9007199254740994', '2'], type: 'BIGINT', e: '90071992547409941' }]);
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      const [row] = await ds.sql('SELECT next_big, big_list, deep__a__b__c__d AS deep FROM logs');
      expect(row).toEqual({ next_big: '9007199254740994', big_list: ['9007199254740994', 2], deep: { e: '90071992547409941' } });
    } finally {
      await ds.close();
    }
  });
});
