// Records wider than DuckDB can insert in one transaction at the default memory limit (an object keyed by ids makes
// one column per id, a record with many lists of objects one table per list): the loader keeps the fields past its
// column budget as JSON in `_overflow` instead of failing the commit (it ran out of memory at ~800 columns).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { MAX_RESOURCE_COLUMNS, MAX_TABLE_COLUMNS } from '../src/normalize/table-tree.js';
import { admin, query, sandbox, tempDir, truth, withQueries, type TruthCase } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

/** A case whose `visitor_map` has `ids` keys of its own (two fields each), like a map keyed by visitor ids. */
const mapCase = (tag: string, ids: number) => ({
  description: `wide ${tag}`,
  visitor_map: Object.fromEntries(Array.from({ length: ids }, (_, k) => [`id_${tag}_${k}`, { seen: k, page: `/p/${tag}/${k}` }])),
});

/** The visitor_map of a stored logs row: its flattened columns merged with what `_overflow` holds of it. */
function storedMap(row: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const overflow = row._overflow === null || row._overflow === undefined ? {} : (JSON.parse(String(row._overflow)) as { visitor_map?: Record<string, Record<string, unknown>> });
  const map: Record<string, Record<string, unknown>> = structuredClone(overflow.visitor_map ?? {});
  for (const [name, value] of Object.entries(row)) {
    const m = /^visitor_map__(id_.+)__(seen|page)$/.exec(name);
    if (m && value !== null) (map[m[1]!] ??= {})[m[2]!] = m[2] === 'seen' ? Number(value) : value;
  }
  return map;
}

describe('records wider than the column budget', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;

  beforeAll(async () => {
    box = await sandbox({ cases: 20, widgets: 1, days: 3 });
    tmp = tempDir();
    path = `${tmp.dir}/wide.duckdb`;
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  async function expectMapsKept(): Promise<TruthCase[]> {
    const wide = (await truth(box)).filter((c) => String(c.description).startsWith('wide '));
    const rows = await query(path, 'SELECT * FROM snapengage_data.logs WHERE description LIKE \'wide %\'');
    expect(rows.map((r) => r.id).sort()).toEqual(wide.map((c) => c.id).sort());
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const c of wide) expect(storedMap(byId.get(c.id)!)).toEqual(c.visitor_map);
    return wide;
  }

  it('loads an object keyed by ids past the budget, every value kept (this failed the commit out of memory)', async () => {
    const widget = box.env.SNAPENGAGE_WIDGET_ID!;
    // 20 cases × 50 ids × 2 fields: 2,000 new columns.
    await admin(box, 'cases', { widgetId: widget, cases: Array.from({ length: 20 }, (_, i) => mapCase(`a${i}`, 50)) });
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    const columns = await query(path, "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'snapengage_data' AND table_name = 'logs'");
    expect(columns.length).toBeLessThanOrEqual(MAX_TABLE_COLUMNS + 3);
    expect(columns).toContainEqual({ column_name: '_overflow', data_type: 'JSON' });
    await expectMapsKept();
    const overflowed = Number(info.notes.overflowValues?.logs);
    expect(overflowed).toBeGreaterThan(500);
    expect(info.toString()).toContain(`Kept as JSON in _overflow columns, their tables having no room for more columns: logs ${overflowed} values (a table takes up to ${MAX_TABLE_COLUMNS} columns, a resource ${MAX_RESOURCE_COLUMNS}; see "Wide records" in the pipeline's NORMALIZATION.md)`);
  });

  it('keeps it so across runs: a rerun adds nothing, new ids of a later run overflow too', async () => {
    const before = await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs');
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual(before);
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!, cases: [mapCase('b', 30)] });
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info.notes.overflowValues?.logs).toBeGreaterThanOrEqual(60);
    const wide = await expectMapsKept();
    expect(wide).toHaveLength(21);
    const row = (await query(path, "SELECT _overflow FROM snapengage_data.logs WHERE description = 'wide b'"))[0]!;
    expect(Object.keys((JSON.parse(String(row._overflow)) as { visitor_map: object }).visitor_map)).toHaveLength(30);
  });

  it('stops making child tables at the resource budget; the other lists are kept whole in _overflow', async () => {
    const lists = Object.fromEntries(Array.from({ length: 60 }, (_, l) => [`list_${l}`, [Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`f${k}`, `v${l}.${k}`]))]]));
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!, cases: [{ description: 'lists', ...lists }] });
    await runPipeline(config, { env: box.env, destination: { path } });
    const tables = await query(path, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'snapengage_data' AND table_name LIKE 'logs__list_%'");
    expect(tables.length).toBeGreaterThan(0);
    expect(tables.length).toBeLessThan(60);
    const row = (await query(path, "SELECT _row_id, _overflow FROM snapengage_data.logs WHERE description = 'lists'"))[0]!;
    const overflow = JSON.parse(String(row._overflow)) as Record<string, unknown>;
    const inTables = new Set(tables.map((t) => String(t.table_name).replace(/^logs__/, '')));
    // One connection for the ~30 tables' reads: opening the file for each took most of this test's time.
    await withQueries(path, async (run) => {
      for (const [key, value] of Object.entries(lists)) {
        if (inTables.has(key)) {
          expect(overflow[key]).toBeUndefined();
          // The last table made may have run out of room itself: its rows keep the other fields in their _overflow.
          const stored = await run(`SELECT * EXCLUDE (_row_id, _parent_id, _root_id, _list_idx, _load_id) FROM snapengage_data."logs__${key}" WHERE _root_id = '${String(row._row_id)}'`);
          const rebuilt = stored.map(({ _overflow, ...columns }) => ({
            ...Object.fromEntries(Object.entries(columns).filter(([, v]) => v !== null)),
            ...(typeof _overflow === 'string' ? (JSON.parse(_overflow) as object) : {}),
          }));
          expect(rebuilt).toEqual(value);
        } else {
          expect(overflow[key]).toEqual(value);
        }
      }
    });
  });
});

describe('a table at the column budget with thousands of records', () => {
  it('loads and merges again at the default memory limit (the merge\'s compare ran out of memory at 8,000 records)', async () => {
    const box = await sandbox({ cases: 10, widgets: 1, days: 3 });
    const tmp = tempDir();
    try {
      const path = `${tmp.dir}/budget.duckdb`;
      // Every record has the same keys: the table stays just under the budget, and no value overflows.
      const keys = MAX_TABLE_COLUMNS - 45;
      const record = (i: number) => ({ description: `full ${i}`, form: Object.fromEntries(Array.from({ length: keys }, (_, k) => [`field_${k}`, `value ${i}.${k}`])) });
      for (let i = 0; i < 8000; i += 2000) {
        await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!, cases: Array.from({ length: 2000 }, (_, j) => record(i + j)) });
      }
      const first = await runPipeline(config, { env: box.env, destination: { path } });
      expect(first.rowCounts.logs).toBe(8010);
      const columns = await query(path, "SELECT count(*)::INTEGER AS n FROM information_schema.columns WHERE table_schema = 'snapengage_data' AND table_name = 'logs'");
      expect(columns[0]!.n).toBeGreaterThan(MAX_TABLE_COLUMNS - 10);
      expect(columns[0]!.n).toBeLessThanOrEqual(MAX_TABLE_COLUMNS + 2);
      expect(first.notes.overflowValues?.logs).toBeUndefined();
      // Changed survey results: the rerun compares every stored record with the one read again.
      const wide = (await truth(box)).filter((c) => String(c.description).startsWith('full ')).slice(0, 5);
      await admin(box, 'surveys', { updates: wide.map((c, i) => ({ caseId: c.id, survey_score: 50 + i })) });
      const again = await runPipeline(config, { env: box.env, destination: { path } });
      // The 8,000 records stay as stored (the sandbox's own 10 cases may get late survey results too).
      expect(again.unchangedRecords.logs).toBeGreaterThanOrEqual(7995);
      expect(again.unchangedRecords.logs).toBeLessThanOrEqual(8005);
      const scores = await query(path, `SELECT survey_score::INTEGER AS s FROM snapengage_data.logs WHERE id IN (${wide.map((c) => `'${c.id}'`).join(', ')}) ORDER BY s`);
      expect(scores.map((r) => r.s)).toEqual([50, 51, 52, 53, 54]);
      expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual([{ n: 8010 }]);
    } finally {
      tmp.cleanup();
      await box.close();
    }
  }, 120_000);
});


describe('a primary key whose field found no room for a column', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    // No cases of its own: the first record the loader sees is a wide one, which fills the table before its key.
    box = await sandbox({ cases: 0, widgets: 1, days: 3 });
    tmp = tempDir();
    const filler = (i: number) => Object.fromEntries(Array.from({ length: MAX_TABLE_COLUMNS + 20 }, (_, k) => [`field_${k}`, `v${i}.${k}`]));
    await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID!, cases: Array.from({ length: 6 }, (_, i) => ({ description: `keyed ${i}`, ...filler(i), ext_key: `K${i}` })) });
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  // The key is a field the spec does not declare (a map step may set one): it comes last, past the table's budget.
  const logs = (writeDisposition: 'append' | 'merge') => definePipeline({
    resources: { logs: { writeDisposition, primaryKey: ['ext_key'], steps: [{ map: (r) => r }] } }, rateLimit: { requestsPerSecond: 0 },
  });
  const perKey = (path: string) => query(path, "SELECT _overflow->>'ext_key' AS k, count(*)::INTEGER AS n FROM snapengage_data.logs GROUP BY k ORDER BY k");
  const once = Array.from({ length: 6 }, (_, i) => ({ k: `K${i}`, n: 1 }));

  it('appends a record read again once, its key read from _overflow (every rerun appended it again)', async () => {
    const path = `${tmp.dir}/append.duckdb`;
    const first = await runPipeline(logs('append'), { env: box.env, destination: { path } });
    expect(first.rowCounts.logs).toBe(6);
    expect(await query(path, "SELECT count(*)::INTEGER AS n FROM information_schema.columns WHERE table_schema = 'snapengage_data' AND table_name = 'logs' AND column_name = 'ext_key'")).toEqual([{ n: 0 }]);
    const again = await runPipeline(logs('append'), { env: box.env, destination: { path } });
    expect(again.notes.alreadyStoredRecords).toEqual({ logs: 6 });
    expect(await perKey(path)).toEqual(once);
  });

  it('takes appended rows over in the first merge, their key read from _overflow (they stayed beside the merged ones)', async () => {
    const path = `${tmp.dir}/takeover.duckdb`;
    await runPipeline(logs('append'), { env: box.env, destination: { path } });
    const merged = await runPipeline(logs('merge'), { env: box.env, destination: { path } });
    expect(merged.notes.adoptedRecords).toEqual({ logs: 6 });
    expect(await perKey(path)).toEqual(once);
    // Taken over with the ids a merge gives them: a rerun finds every record stored as it is.
    const again = await runPipeline(logs('merge'), { env: box.env, destination: { path } });
    expect(again.unchangedRecords.logs).toBe(6);
    expect(await perKey(path)).toEqual(once);
  });
});

describe('a merge run again after the run that filled the table', () => {
  it('finds every record unchanged, objects that held nothing included (they were rewritten, stored otherwise)', async () => {
    const box = await sandbox({ cases: 0, widgets: 1, days: 3 });
    const tmp = tempDir();
    try {
      const path = `${tmp.dir}/filled.duckdb`;
      const filler = Object.fromEntries(Array.from({ length: MAX_TABLE_COLUMNS }, (_, k) => [`field_${k}`, k]));
      // `meta` is first seen empty while the table has room, then the table fills; its next values find no room.
      await admin(box, 'cases', {
        widgetId: box.env.SNAPENGAGE_WIDGET_ID!,
        cases: [{ description: 'empty meta', meta: {}, ...filler }, { description: 'null in meta', meta: { a: 1, b: null } }, { description: 'nulls only', meta: { b: null } }],
      });
      const first = await runPipeline(config, { env: box.env, destination: { path } });
      expect(first.rowCounts.logs).toBe(3);
      const stored = await query(path, 'SELECT description, _overflow->\'meta\' AS meta FROM snapengage_data.logs ORDER BY description');
      const again = await runPipeline(config, { env: box.env, destination: { path } });
      expect(again.unchangedRecords.logs).toBe(3);
      expect(await query(path, 'SELECT description, _overflow->\'meta\' AS meta FROM snapengage_data.logs ORDER BY description')).toEqual(stored);
      expect(stored).toEqual([
        { description: 'empty meta', meta: null },
        { description: 'null in meta', meta: '{"a":1,"b":null}' },
        { description: 'nulls only', meta: null },
      ]);
    } finally {
      tmp.cleanup();
      await box.close();
    }
  });
});
