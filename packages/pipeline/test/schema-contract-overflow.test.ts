// Schema contracts at a table's column budget (NORMALIZATION.md "Schema contracts", "Wide records"), end to end:
// cases injected into the sandbox over loopback, loaded by runPipeline into real DuckDB files. A table at its budget
// that has its `_overflow` column keeps a new field's value there, or a value its column does not take, as `evolve`
// does: nothing is added, so no mode refuses or leaves out anything. What would still add something is asked: a child
// table (the resource has room for one), a list item's `value` column or variant (exempt from the budget), the
// `_overflow` column itself, a column once the table has room again. The last block loads such records with the
// fast paths and row by row (fast-path-differential.test.ts's pattern) and compares every table.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { DuckDBDestination } from '../src/destination/index.js';
import { DestinationError, definePipeline, runPipeline, type LoadInfo, type SchemaContractModes } from '../src/index.js';
import { admin, sandbox, tempDir, withQueries } from './helpers.js';

type Mode = SchemaContractModes[keyof SchemaContractModes];
type Obj = Record<string, unknown>;

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let db: string;

beforeEach(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('schema-contract-overflow-');
  db = join(tmp.dir, 'overflow.duckdb');
});
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
});

async function inject(cases: Obj[]): Promise<void> {
  await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases });
}

function run(schemaContract?: Partial<SchemaContractModes> | Mode, maxNestingDepth?: number): Promise<LoadInfo> {
  const logs = { ...(schemaContract === undefined ? {} : { schemaContract }), ...(maxNestingDepth === undefined ? {} : { maxNestingDepth }) };
  return runPipeline(definePipeline({ resources: { logs }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: db } });
}

/** The run's error message ('' when it loaded). */
async function refusal(load: Promise<LoadInfo>): Promise<string> {
  const error = await load.then(() => undefined, (e: unknown) => e);
  if (error === undefined) return '';
  expect(error).toBeInstanceOf(DestinationError);
  return (error as DestinationError).message;
}

type Query = (sql: string) => Promise<Obj[]>;
interface Reader {
  rows: Query;
  columnsOf(table: string): Promise<string[]>;
  overflowOf(table: string, where: string): Promise<Obj>;
}

/**
 * The checks after a run on one read connection: each open of the file costs far more than a query on it (a test
 * here asks up to seven questions of one load). Closed before the next run, which takes the file read-write.
 */
function reading<T>(use: (read: Reader) => Promise<T>): Promise<T> {
  return withQueries(db, (q) => use({ rows: q, columnsOf: (table) => columnsOf(q, table), overflowOf: (table, where) => overflowOf(q, table, where) }));
}

async function rows(sql: string): Promise<Obj[]> {
  return withQueries(db, (q) => q(sql));
}

async function columnsOf(q: Query, table: string): Promise<string[]> {
  const found = await q(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'snapengage_data' AND table_name = '${table}' ORDER BY column_index`);
  return found.map((r) => String(r.column_name));
}

async function overflowOf(q: Query, table: string, where: string): Promise<Obj> {
  const [row] = await q(`SELECT _overflow::VARCHAR AS o FROM snapengage_data."${table}" WHERE ${where}`);
  return JSON.parse(String(row?.o ?? 'null')) as Obj;
}

/** `count` keys `<prefix>0`… with integer values: fields the spec does not declare. */
const wide = (prefix: string, count = 200): Obj => Object.fromEntries(Array.from({ length: count }, (_, i) => [`${prefix}${i}`, i]));
const transcript = (message: string, extra: Obj = {}) => ({ id: `t-${message}`, date: 1_700_000_000_000, alias: 'Ann', message, ...extra });
const ALL = (mode: Mode): SchemaContractModes => ({ tables: mode, columns: mode, dataType: mode });

/** An evolve load that fills `logs` and `logs__transcripts` past their budget: both get `_overflow`. */
async function loadWide(): Promise<{ logs: string[]; transcripts: string[] }> {
  await inject([{ id: 'w-0', wide: wide('k'), transcripts: [transcript('first', wide('c'))] }]);
  const info = await run();
  expect(info.notes.overflowValues?.logs).toBeGreaterThan(0);
  const cols = await reading(async (r) => ({ logs: await r.columnsOf('logs'), transcripts: await r.columnsOf('logs__transcripts') }));
  expect(cols.logs).toContain('_overflow');
  expect(cols.transcripts).toContain('_overflow');
  return cols;
}

describe('a table at its budget with its _overflow column: what evolve keeps there is no new column or type', () => {
  it.each(['freeze', 'discard_row', 'discard_value'] as const)('%s: new fields, a stored overflow key of another type or shape, a value its column does not take: all kept in _overflow', async (mode) => {
    const before = await loadWide();
    // w-1: top-level and child-row fields nobody has seen; w-2: keys `_overflow` holds (k190 was an integer) as text
    // and as an object; w-3: a string for BIGINT chat_duration, an object for BIGINT transcripts[].date.
    await inject([
      { id: 'w-1', mood: 'happy', transcripts: [transcript('a', { shoe: 42 })] },
      { id: 'w-2', wide: { k190: 'text', k191: { deep: true } } },
      { id: 'w-3', chat_duration: 'long', transcripts: [transcript('b', { date: { when: 'soon' } })] },
    ]);
    const info = await run(ALL(mode));
    expect(info.notes.contractDiscards ?? {}).toEqual({});
    await reading(async (r) => {
      expect(await r.columnsOf('logs')).toEqual(before.logs);
      expect(await r.columnsOf('logs__transcripts')).toEqual(before.transcripts);
      expect(await r.overflowOf('logs', `id = 'w-1'`)).toEqual({ mood: 'happy' });
      expect(await r.overflowOf('logs__transcripts', `message = 'a'`)).toEqual({ shoe: 42 });
      expect(await r.overflowOf('logs', `id = 'w-2'`)).toEqual({ wide: { k190: 'text', k191: { deep: true } } });
      expect(await r.overflowOf('logs', `id = 'w-3'`)).toEqual({ chat_duration: 'long' });
      expect(await r.overflowOf('logs__transcripts', `message = 'b'`)).toEqual({ date: { when: 'soon' } });
    });
  });
});

describe('a table at its budget: what would still add something is asked', () => {
  it('a new list of objects makes a child table (the resource has room): tables freeze refuses it, discard_value leaves it out', async () => {
    const before = await loadWide();
    await inject([{ id: 'g-1', gifts: [{ what: 'book' }] }]);
    expect(await refusal(run({ tables: 'freeze' }))).toContain('refused a new child table for gifts (a list of objects) under logs');
    const info = await run({ tables: 'discard_value' });
    expect(info.notes.contractDiscards?.logs?.fields).toEqual([{ entity: 'tables', mode: 'discard_value', table: 'logs', field: 'gifts', count: 1 }]);
    await reading(async (r) => {
      expect(await r.columnsOf('logs')).toEqual(before.logs);
      expect(await r.rows(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%gifts%'`)).toEqual([]);
    });
  });

  it("a list item's value column and its variants are exempt from the budget: columns and dataType are asked about them", async () => {
    await loadWide();
    await inject([{ id: 'e-1', transcripts: [transcript('x'), 7] }]);
    expect(await refusal(run({ columns: 'freeze' }))).toContain('refused a new column in table logs__transcripts for field transcripts[]');
    await run(); // evolve: the `value` column (BIGINT)
    expect(await reading((r) => r.columnsOf('logs__transcripts'))).toContain('value');
    await inject([{ id: 'e-2', transcripts: [transcript('y'), 'seven'] }]);
    expect(await refusal(run({ dataType: 'freeze' }))).toContain('refused a string value in table logs__transcripts, field transcripts[]');
  });

  it('a table at its budget without _overflow: making it is a new column, refused or left out like one', async () => {
    await inject([{ id: 'f-0' }]);
    await run();
    // Fill logs to exactly its budget of 150 columns (system columns not counted), so no value overflowed yet.
    const free = 150 - ((await reading((r) => r.columnsOf('logs'))).length - 2);
    await inject([{ id: 'f-1', fill: wide('f', free) }]);
    const filled = await run();
    expect(filled.notes.overflowValues?.logs ?? 0).toBe(0);
    const before = await reading((r) => r.columnsOf('logs'));
    expect(before).toHaveLength(152);
    await inject([{ id: 'f-2', mood: 'happy' }]);
    expect(await refusal(run({ columns: 'freeze' }))).toContain('refused a new column in table logs for field mood');
    const info = await run({ columns: 'discard_value' });
    expect(info.notes.contractDiscards?.logs?.fields).toEqual([{ entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 1 }]);
    expect(await reading((r) => r.columnsOf('logs'))).toEqual(before);
    // dataType alike: a value its column does not take would make `_overflow`.
    await inject([{ id: 'f-3', chat_duration: 'long' }]);
    // (f-2, read again, has its mood left out: under `columns: 'evolve'` it would make `_overflow`.)
    expect(await refusal(run({ columns: 'discard_value', dataType: 'freeze' }))).toContain('refused a string value in table logs, field chat_duration');
    expect(await reading((r) => r.columnsOf('logs'))).toEqual(before);
  });

  it('a table with _overflow that has room again (columns dropped by hand): a new field is a new column', async () => {
    await loadWide();
    // 150 data columns and `_overflow`: two dropped leave room for one. w-0, read again, brings wide.k0 first.
    await withQueries(db, (q) => q('ALTER TABLE snapengage_data.logs DROP COLUMN wide__k0; ALTER TABLE snapengage_data.logs DROP COLUMN wide__k1'), 'READ_WRITE');
    expect(await refusal(run({ columns: 'freeze' }))).toContain('refused a new column in table logs for field wide.k0');
    // discard_value adds nothing, so the room stays and each key after wide.k0 is a new column too.
    const info = await run({ columns: 'discard_value' });
    expect(info.notes.contractDiscards?.logs?.fields[0]).toEqual({ entity: 'columns', mode: 'discard_value', table: 'logs', field: 'wide.k0', count: 1 });
    expect((await reading((r) => r.columnsOf('logs'))).filter((c) => /^wide__k[01]$/.test(c))).toEqual([]);
    // A value its column does not take is asked about alike: it would make a variant column.
    await inject([{ id: 'd-1', chat_duration: 'long' }]);
    expect(await refusal(run({ columns: 'discard_value', dataType: 'freeze' }))).toContain('refused a string value in table logs, field chat_duration');
  });

  it('an object holding no value past maxNestingDepth is stored nowhere, so no mode refuses or counts it', async () => {
    // maxNestingDepth 1: wide.* are columns of logs, and an object below them would be a JSON column, if there were room.
    await inject([{ id: 'n-0', wide: wide('k') }]);
    await run(undefined, 1);
    const before = await reading((r) => r.columnsOf('logs'));
    await inject([{ id: 'n-1', wide: { empty: {}, nulls: { a: null } } }]);
    expect(await refusal(run({ columns: 'freeze' }, 1))).toBe('');
    for (const mode of ['discard_row', 'discard_value'] as const) {
      const info = await run({ columns: mode }, 1);
      expect(info.notes.contractDiscards ?? {}, mode).toEqual({});
    }
    await reading(async (r) => {
      expect(await r.rows(`SELECT id, _overflow FROM snapengage_data.logs WHERE id = 'n-1'`)).toEqual([{ id: 'n-1', _overflow: null }]);
      expect(await r.columnsOf('logs')).toEqual(before);
    });
  });
});

describe('the resource at its budget (1,500 columns): a new list of objects goes to _overflow too', () => {
  it('tables freeze takes it, as evolve keeps it: no child table is made', async () => {
    // Eleven lists of 200-key objects: their child tables and logs fill the resource's 1,500 columns.
    const lists = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`list${i}`, [wide(`l${i}k`)]]));
    await inject([{ id: 'r-0', wide: wide('k'), ...lists }]);
    await run();
    const tables = await rows(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'snapengage_data' ORDER BY 1`);
    await inject([{ id: 'r-1', gifts: [{ what: 'book' }] }]);
    const info = await run({ tables: 'freeze' });
    expect(info.notes.contractDiscards ?? {}).toEqual({});
    await reading(async (r) => {
      expect(await r.overflowOf('logs', `id = 'r-1'`)).toEqual({ gifts: [{ what: 'book' }] });
      expect(await r.rows(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'snapengage_data' ORDER BY 1`)).toEqual(tables);
    });
  });
});

describe('fast paths against the row path, at the budget under each contract', () => {
  /** Every data table's columns and rows, and the name mapping (as fast-path-differential.test.ts's dump). */
  async function dump(path: string): Promise<string> {
    return withQueries(path, async (q) => {
      const out: unknown[] = [];
      const tables = await q(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'ds' AND table_name NOT LIKE '\\_pipeline\\_%' ESCAPE '\\' ORDER BY 1`);
      for (const { table_name: t } of tables) {
        out.push(t, await q(`SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'ds' AND table_name = '${String(t)}' ORDER BY column_index`));
        out.push(await q(`SELECT * FROM ds."${String(t)}" ORDER BY ALL`));
      }
      out.push(await q('SELECT * FROM ds._pipeline_columns ORDER BY ALL'));
      return JSON.stringify(out);
    });
  }

  async function load(path: string, loads: Array<[Obj[], SchemaContractModes | undefined]>, fastPath: boolean): Promise<number> {
    rmSync(path, { force: true });
    let fastLines = 0;
    for (const [i, [records, schemaContract]] of loads.entries()) {
      const dest = await DuckDBDestination.open({ path, dataset: 'ds', pipelineName: 'p', threads: 1 });
      try {
        const w = dest.createResourceWriter({
          loadId: `${1_700_000_000 + i}.000000`, resource: resources.logs, primaryKey: ['id'], fastPath, writeDisposition: 'merge',
          maxNestingDepth: 4, ...(schemaContract ? { schemaContract } : {}),
        });
        await w.write(structuredClone(records));
        const files = (w as unknown as { staging: { files: Map<string, { rows: number }> } }).staging.files;
        for (const [key, file] of files) if (/\u0000(record|list)$/.test(key)) fastLines += file.rows;
        await w.commit({ load: i });
      } finally {
        await dest.close();
      }
    }
    return fastLines;
  }

  it.each(['freeze', 'discard_row', 'discard_value'] as const)('%s: the same tables either way', async (mode) => {
    const base = { wide: { k0: 1 }, transcripts: [transcript('plain')] };
    const loads: Array<[Obj[], SchemaContractModes | undefined]> = [
      [[{ id: 'w-0', wide: wide('k'), transcripts: [transcript('first', wide('c'))] }, { id: 'p-0', ...base }], undefined],
      [[
        { id: 'p-1', ...base }, // fits every column: staged whole
        { id: 'w-1', mood: 'happy', transcripts: [transcript('a', { shoe: 42 })] },
        { id: 'w-2', wide: { k0: 2, k190: 'text', k191: { deep: true } } },
        { id: 'w-3', chat_duration: 'long', transcripts: [transcript('b', { date: { when: 'soon' } })] },
        ...(mode === 'freeze' ? [] : [{ id: 'g-1', gifts: [{ what: 'book' }], transcripts: [transcript('c'), 7] }]),
      ], ALL(mode)],
    ];
    const fast = join(tmp.dir, 'fast.duckdb');
    const slow = join(tmp.dir, 'rows.duckdb');
    expect(await load(fast, loads, true)).toBeGreaterThan(0);
    expect(await load(slow, loads, false)).toBe(0);
    expect(await dump(fast)).toBe(await dump(slow));
  });
});
