// What a schema contract left out stays in the file (`_pipeline_loads.contract_discards`), so that `show`,
// `openDataset(…).loads()` and a query see later that a load dropped data (NORMALIZATION.md, "Schema contracts").
// Real parts: cases served by the sandbox over loopback, loaded by runPipeline into a DuckDB file.
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, openDataset, runPipeline, type LoadInfo, type PipelineConfig } from '../src/index.js';
import { showDataset } from '../src/show.js';
import { describeLoadDiscards } from '../src/destination/load-discards.js';
import { admin, sandbox, tempDir, withQueries } from './helpers.js';

type LogsConfig = Exclude<NonNullable<PipelineConfig['resources']['logs']>, true>;

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let db: string;

beforeEach(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('contract-discards-recorded-');
  db = join(tmp.dir, 'discards.duckdb');
});
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
});

async function inject(cases: Array<Record<string, unknown>>): Promise<void> {
  await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases });
}

function run(logs: LogsConfig | true = true): Promise<LoadInfo> {
  return runPipeline(definePipeline({ resources: { logs }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: db } });
}

function query(sql: string): Promise<Array<Record<string, unknown>>> {
  return withQueries(db, (q) => q(sql));
}

/** Each load row's status and recorded discards (parsed), oldest first. */
async function recorded(): Promise<Array<{ status: unknown; discards: unknown }>> {
  const loads = await query(`SELECT status, CAST(contract_discards AS VARCHAR) AS d FROM snapengage_data._pipeline_loads ORDER BY load_id`);
  return loads.map((l) => ({ status: l.status, discards: l.d === null ? null : JSON.parse(String(l.d)) }));
}

/** Under discard_value for new columns and discard_row for new child tables: one value and one record left out. */
const contract = { schemaContract: { columns: 'discard_value', tables: 'discard_row' } } as const;
const transcript = (message: string) => ({ id: `t-${message}`, date: 1_700_000_000_000, alias: 'Ann', message });

describe('a load that its schema contract left data out of', () => {
  it('records the discards in its load row (nothing when nothing was left out), and show names them', async () => {
    await inject([{ id: 'plain', transcripts: [transcript('hello')] }]);
    await run(contract);
    await inject([
      { id: 'moody', mood: 'happy', transcripts: [transcript('hi')] },
      { id: 'gifted', gifts: [{ what: 'book' }], transcripts: [transcript('gone')] },
    ]);
    const info = await run(contract);
    const discards = info.notes.contractDiscards?.logs;
    expect(discards).toEqual({
      records: 1, values: 1,
      fields: expect.arrayContaining([
        { entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 1 },
        { entity: 'tables', mode: 'discard_row', table: 'logs', field: 'gifts', count: 1 },
      ]),
    });
    // The data: the moody case without its mood, the gifted one not at all.
    expect(await query(`SELECT id FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'moody' }, { id: 'plain' }]);
    expect(await query(`SELECT message FROM snapengage_data.logs__transcripts ORDER BY message`)).toEqual([{ message: 'hello' }, { message: 'hi' }]);
    // The first load left nothing out: nothing recorded. The second's row holds what its load info said.
    expect(await recorded()).toEqual([{ status: 'loaded', discards: null }, { status: 'loaded', discards }]);
    // Queryable as JSON, as an analyst would.
    expect(await query(`SELECT contract_discards.records::INTEGER AS r, contract_discards.values::INTEGER AS v FROM snapengage_data._pipeline_loads WHERE contract_discards IS NOT NULL`))
      .toEqual([{ r: 1, v: 1 }]);

    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads()).map((l) => l.contractDiscards)).toEqual([discards, null]);
    } finally {
      await ds.close();
    }

    const shown = (await showDataset({ path: db, dataset: 'snapengage_data' })).split('\n');
    const at = shown.findIndex((l) => l.includes(info.loadId));
    expect(at).toBeGreaterThan(0);
    // The load's own lines: up to the next load's (or the next section).
    const end = shown.findIndex((l, i) => i > at && !l.startsWith('      '));
    const said = shown.slice(at + 1, end).filter((l) => !/^ {6}logs=/.test(l) && !/^ {6}logs__/.test(l)).map((l) => l.trim()).join(' ');
    expect(said).toMatch(/^left out by schemaContract: 1 record \(discard_row\) and 1 value \(discard_value\): logs\.(mood 1 value, logs\.gifts 1 record|gifts 1 record, logs\.mood 1 value)$/);
    // Once, under its load only.
    expect(shown.filter((l) => l.includes('left out by schemaContract'))).toHaveLength(1);
  });

  it('records nothing when the load fails: no rows, no state, and its failed row holds no discards', async () => {
    await inject([{ id: 'plain' }]);
    await run(contract);
    const stateBefore = await query(`SELECT CAST(state AS VARCHAR) AS s FROM snapengage_data._pipeline_state`);
    await inject([
      { id: 'moody', mood: 'happy' },
      { id: 'gifted', gifts: [{ what: 'book' }] },
    ]);
    // Refused at the commit, once every record was normalized (the contract has left out a value and a record): a
    // primaryKey the stored rows have no value for (destination/new-key.ts).
    const rekeyed: LogsConfig = { ...contract, primaryKey: ['ext_key'], steps: [{ map: (r) => ({ ext_key: `E-${String(r.id)}`, ...r }) }] };
    await expect(run(rekeyed)).rejects.toThrow('resources.logs.primaryKey: "ext_key" has no value in any of the 1 rows logs holds');
    expect(await recorded()).toEqual([{ status: 'loaded', discards: null }, { status: 'failed', discards: null }]);
    expect(await query(`SELECT CAST(state AS VARCHAR) AS s FROM snapengage_data._pipeline_state`)).toEqual(stateBefore);
    expect(await query(`SELECT id FROM snapengage_data.logs`)).toEqual([{ id: 'plain' }]);
    expect(await showDataset({ path: db, dataset: 'snapengage_data' })).not.toContain('left out by schemaContract');
  });
});

describe('a file from before contract_discards', () => {
  it('is read as it is (no discards), and its first load with discards adds the column and records them', async () => {
    await inject([{ id: 'plain' }]);
    await run();
    // The layout of a file that loaders before the column wrote (the rest of it is what they wrote too).
    await withQueries(db, (q) => q(`ALTER TABLE snapengage_data._pipeline_loads DROP COLUMN contract_discards`), 'READ_WRITE');

    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads()).map((l) => [l.status, l.contractDiscards])).toEqual([['loaded', null]]);
    } finally {
      await ds.close();
    }
    expect(await showDataset({ path: db, dataset: 'snapengage_data' })).not.toContain('left out by schemaContract');

    await inject([{ id: 'moody', mood: 'happy' }]);
    const info = await run(contract);
    expect(info.notes.contractDiscards?.logs?.values).toBe(1);
    expect(await recorded()).toEqual([{ status: 'loaded', discards: null }, { status: 'loaded', discards: info.notes.contractDiscards?.logs }]);
    // A loader before the column names the columns it inserts: its load rows go on fitting the file, the column NULL.
    await withQueries(db, (q) => q(
      `INSERT INTO snapengage_data._pipeline_loads (load_id, pipeline_name, resource, status, started_at, finished_at, row_counts, row_ids, loader_version, dataset_format, limit_pages, org_id)
       VALUES ('9999', 'snapengage_pipeline', 'logs', 'loaded', now(), now(), '{}', 'load', 'older', 2, NULL, NULL)`,
    ), 'READ_WRITE');
    expect((await recorded()).at(-1)).toEqual({ status: 'loaded', discards: null });
  });
});

describe('a contract_discards value this version cannot read (edited by hand, or a later shape)', () => {
  it('is read without the fields it cannot read: show and loads() still work', async () => {
    await inject([{ id: 'moody', mood: 'happy' }]);
    await run(contract);
    const odd = '{"records":0,"values":3,"fields":[null,"mood",{"table":"logs"},{"entity":"columns","mode":"discard_value","table":"logs","field":"mood","count":3}]}';
    await withQueries(db, (q) => q(`UPDATE snapengage_data._pipeline_loads SET contract_discards = '${odd}'`), 'READ_WRITE');
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      expect((await ds.loads()).map((l) => l.contractDiscards)).toEqual([
        { records: 0, values: 3, fields: [{ entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 3 }] },
      ]);
    } finally {
      await ds.close();
    }
    expect(await showDataset({ path: db, dataset: 'snapengage_data' })).toContain('left out by schemaContract: 3 values (discard_value): logs.mood 3 values');
  });
});

describe("show's words for a load's discards", () => {
  it('name a few fields and say how many more the load row holds', () => {
    const fields = Array.from({ length: 7 }, (_, i) => ({ entity: 'columns' as const, mode: 'discard_value' as const, table: 'logs', field: `f${i}`, count: 1 }));
    expect(describeLoadDiscards({ records: 0, values: 7, fields })).toEqual([
      'left out by schemaContract: 7 values (discard_value): logs.f0 1 value', 'logs.f1 1 value', 'logs.f2 1 value', 'logs.f3 1 value', 'logs.f4 1 value',
      '2 more fields (_pipeline_loads.contract_discards)',
    ]);
    // No field it can name (a row edited by hand): the totals alone.
    expect(describeLoadDiscards({ records: 1, values: 0, fields: [] })).toEqual(['left out by schemaContract: 1 record (discard_row)']);
  });
});
