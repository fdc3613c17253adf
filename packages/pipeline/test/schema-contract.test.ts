// Schema contracts (resources.<name>.schemaContract, NORMALIZATION.md "Schema contracts"), end to end: records injected
// into the sandbox over loopback, loaded by runPipeline into real DuckDB files. Each entity (new columns, values for a new
// variant column, new child tables) under each mode: freeze fails the run naming the field and leaves the file as it
// was, the discards leave out what they say and count it in the load info, and evolve (the default) loads it all.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DestinationError, definePipeline, runPipeline, type LoadInfo, type PipelineConfig } from '../src/index.js';
import { planPipeline } from '../src/plan.js';
import { admin, runCli, sandbox, tempDir, withQueries } from './helpers.js';

type Contract = NonNullable<Exclude<NonNullable<PipelineConfig['resources']['logs']>, true>['schemaContract']>;

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let db: string;

beforeEach(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('schema-contract-');
  db = join(tmp.dir, 'contract.duckdb');
});
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
});

/** Adds cases (each over a generated default case with a fresh id, created now) to the sandbox's widget. */
async function inject(cases: Array<Record<string, unknown>>): Promise<void> {
  await admin(box, 'cases', { widgetId: box.env.SNAPENGAGE_WIDGET_ID, cases });
}

function run(schemaContract?: Contract): Promise<LoadInfo> {
  const logs = schemaContract === undefined ? true : { schemaContract };
  return runPipeline(definePipeline({ resources: { logs }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: db } });
}

/** Everything a failed run must leave as it was: tables, columns, rows and the state (not the `failed` load rows). */
async function snapshot(): Promise<string> {
  return withQueries(db, async (q) => {
    const columns = await q(`SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = 'snapengage_data' ORDER BY ALL`);
    const out: unknown[] = [columns];
    for (const { table_name: t } of await q(`SELECT table_name FROM duckdb_tables() WHERE schema_name = 'snapengage_data' AND table_name <> '_pipeline_loads' ORDER BY 1`)) {
      out.push(t, await q(`SELECT * FROM snapengage_data."${String(t)}" ORDER BY ALL`));
    }
    return JSON.stringify(out);
  });
}

async function columnsOf(table: string): Promise<string[]> {
  const rows = await withQueries(db, (q) => q(`SELECT column_name FROM duckdb_columns() WHERE schema_name = 'snapengage_data' AND table_name = '${table}' ORDER BY column_index`));
  return rows.map((r) => String(r.column_name));
}

async function rows(sql: string): Promise<Array<Record<string, unknown>>> {
  return withQueries(db, (q) => q(sql));
}

const transcript = (message: string, extra: Record<string, unknown> = {}) => ({ id: `t-${message}`, date: 1_700_000_000_000, alias: 'Ann', message, ...extra });

describe('columns: a field neither the spec declares nor the table has', () => {
  it('freeze fails the run in one line naming the resource, table, field and the fixes, and changes nothing; evolve then loads it', async () => {
    await inject([{ id: 'plain-1', transcripts: [transcript('hello')] }]);
    await run('freeze');
    const before = await snapshot();
    await inject([{ id: 'moody-1', mood: 'happy', transcripts: [transcript('hi')] }]);
    const error = await run({ columns: 'freeze' }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(DestinationError);
    const { message, code } = error as DestinationError;
    expect(code).toBe('schema');
    expect(message).not.toContain('\n');
    expect(message).toContain('logs: the schema contract (columns: freeze) refused a new column in table logs for field mood');
    expect(message).toContain('declare it in the spec (npm run generate), or set resources.logs.schemaContract.columns to "evolve", "discard_value" or "discard_row"');
    expect(message).not.toContain('happy'); // field names, never values
    expect(await snapshot()).toBe(before);
    const [failed] = await rows(`SELECT status, error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
    expect(String(failed?.error)).toContain('field mood');

    await run(); // evolve, the default
    expect(await rows(`SELECT id, mood FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'moody-1', mood: 'happy' }, { id: 'plain-1', mood: null }]);
    // Once the table has it, a frozen contract takes it: the column is no longer new.
    await inject([{ id: 'moody-2', mood: 'sad' }]);
    await run({ columns: 'freeze', tables: 'freeze', dataType: 'freeze' });
    expect(await rows(`SELECT mood FROM snapengage_data.logs WHERE id = 'moody-2'`)).toEqual([{ mood: 'sad' }]);
  });

  it('--refresh builds the tables from the spec alone, so freeze refuses there what only an earlier load added', async () => {
    await inject([{ id: 'r-1', mood: 'happy' }]);
    await run();
    const config = definePipeline({ resources: { logs: { schemaContract: 'freeze' } }, rateLimit: { requestsPerSecond: 0 } });
    const error = (await runPipeline(config, { env: box.env, destination: { path: db }, refresh: true }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain('refused a new column in table logs for field mood');
    // The stored table is being replaced: whether it has the column is not what was checked.
    expect(error.message).toContain("which the spec does not declare (--refresh builds logs's tables anew from the spec and this run's records: what earlier loads added is not kept)");
    expect(error.message).not.toContain('the dataset does not have');
    expect(await rows(`SELECT id, mood FROM snapengage_data.logs`)).toEqual([{ id: 'r-1', mood: 'happy' }]);
  });

  it('a column a user added by hand under the field\'s name is not the loader\'s: freeze says so', async () => {
    await inject([{ id: 'u-1' }]);
    await run();
    await withQueries(db, (q) => q('ALTER TABLE snapengage_data.logs ADD COLUMN Mood VARCHAR'), 'READ_WRITE');
    await inject([{ id: 'u-2', mood: 'happy' }]);
    const error = (await run({ columns: 'freeze' }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain("refused a new column in table logs for field mood, which the spec does not declare; the table's column Mood was added by hand, and the loader never writes into such a column (the field would get a new column beside it)");
    expect(error.message).not.toContain('the dataset does not have');
  });

  it('freeze names a child table row field by its path from the record', async () => {
    await inject([{ id: 'c-1', transcripts: [transcript('a'), transcript('b', { mood: 'odd' })] }]);
    const error = (await run('freeze').then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain('refused a new column in table logs__transcripts for field transcripts[].mood');
  });

  it('discard_value stores the record without the field (top level, nested, in a child row) and counts each value', async () => {
    await inject([
      { id: 'dv-1', mood: 'happy', requester_details: { name: 'Ann', shoe: 42 }, transcripts: [transcript('a', { mood: 'x' }), transcript('b')] },
      { id: 'dv-2', mood: 'sad', transcripts: [transcript('c')] },
      { id: 'dv-3', transcripts: [transcript('d')] },
    ]);
    const info = await run({ columns: 'discard_value' });
    expect(await rows(`SELECT id, requester_details__name AS name FROM snapengage_data.logs ORDER BY id`)).toEqual([
      { id: 'dv-1', name: 'Ann' }, { id: 'dv-2', name: expect.any(String) }, { id: 'dv-3', name: expect.any(String) },
    ]);
    expect(await rows(`SELECT message FROM snapengage_data.logs__transcripts ORDER BY message`)).toEqual([{ message: 'a' }, { message: 'b' }, { message: 'c' }, { message: 'd' }]);
    expect(await columnsOf('logs')).not.toContain('mood');
    expect(await columnsOf('logs')).not.toContain('requester_details__shoe');
    expect(await columnsOf('logs__transcripts')).not.toContain('mood');
    const discards = info.notes.contractDiscards?.logs;
    expect(discards?.records).toBe(0);
    expect(discards?.values).toBe(4);
    expect(discards?.fields).toEqual(expect.arrayContaining([
      { entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 2 },
      { entity: 'columns', mode: 'discard_value', table: 'logs', field: 'requester_details.shoe', count: 1 },
      { entity: 'columns', mode: 'discard_value', table: 'logs__transcripts', field: 'transcripts[].mood', count: 1 },
    ]));
    expect(String(info)).toContain('Left out by resources.logs.schemaContract: 4 values (discard_value); ');
    expect(String(info)).toContain('logs: mood (new column) 2');
    expect(info.toJSON().contractDiscards).toEqual(info.notes.contractDiscards);
    // Nothing else was changed: no variant, no `_overflow`, and the load's rows are as counted.
    expect(info.rowCounts).toMatchObject({ logs: 3, logs__transcripts: 4 });
  });

  it('discard_row leaves the whole record out, with its child rows, and counts it', async () => {
    await inject([
      { id: 'dr-1', transcripts: [transcript('kept')] },
      { id: 'dr-2', transcripts: [transcript('gone-1'), transcript('gone-2', { mood: 'x' })] },
      { id: 'dr-3', mood: 'happy', transcripts: [transcript('gone-3')] },
    ]);
    const info = await run({ columns: 'discard_row' });
    expect(await rows(`SELECT id FROM snapengage_data.logs`)).toEqual([{ id: 'dr-1' }]);
    expect(await rows(`SELECT message FROM snapengage_data.logs__transcripts`)).toEqual([{ message: 'kept' }]);
    expect(info.rowCounts).toMatchObject({ logs: 1, logs__transcripts: 1 });
    expect(info.notes.contractDiscards?.logs).toEqual({
      records: 2, values: 0,
      fields: expect.arrayContaining([
        { entity: 'columns', mode: 'discard_row', table: 'logs__transcripts', field: 'transcripts[].mood', count: 1 },
        { entity: 'columns', mode: 'discard_row', table: 'logs', field: 'mood', count: 1 },
      ]),
    });
    expect(String(info)).toContain('Left out by resources.logs.schemaContract: 2 records with their child rows (discard_row)');
  });
});

describe('discard_row: a dropped record leaves no trace in how later records are read', () => {
  it('an undeclared object a dropped record began is not an object for the next record: its scalar is a new column, left out too', async () => {
    // o-1 is dropped at extra.a (a new column); o-2's `extra` is a scalar: a new column, so it goes as well. Read as the
    // object o-1 began, it became a new variant column extra__v_text that the columns contract never saw.
    await inject([{ id: 'o-1', extra: { a: 1 } }, { id: 'o-2', extra: 'plain' }, { id: 'o-3' }]);
    const info = await run({ columns: 'discard_row' });
    expect(await rows(`SELECT id FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'o-3' }]);
    expect((await columnsOf('logs')).filter((c) => c.startsWith('extra'))).toEqual([]);
    expect(info.notes.contractDiscards?.logs).toEqual({
      records: 2, values: 0,
      fields: expect.arrayContaining([
        { entity: 'columns', mode: 'discard_row', table: 'logs', field: 'extra.a', count: 1 },
        { entity: 'columns', mode: 'discard_row', table: 'logs', field: 'extra', count: 1 },
      ]),
    });
  });
});

describe('primaryKey: a key field a map step sets is the config\'s, not a new column', () => {
  const keyed = (schemaContract: Contract) => runPipeline(definePipeline({
    // The key first: it is the first field the contract is asked about.
    resources: { logs: { primaryKey: ['ext_key'], schemaContract, steps: [{ map: (r) => ({ ext_key: `E-${String(r.id)}`, ...r }) }] } },
    rateLimit: { requestsPerSecond: 0 },
  }), { env: box.env, destination: { path: db } });

  it('is stored under discard_row and discard_value; other new fields are still left out', async () => {
    await inject([{ id: 'k-1', mood: 'x' }, { id: 'k-2' }]);
    // discard_row dropped every record (each brought ext_key), discard_value stored none of the merge's keys.
    const rowInfo = await keyed({ columns: 'discard_row' });
    expect(await rows(`SELECT id, ext_key FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'k-2', ext_key: 'E-k-2' }]);
    expect(rowInfo.notes.contractDiscards?.logs).toEqual({ records: 1, values: 0, fields: [{ entity: 'columns', mode: 'discard_row', table: 'logs', field: 'mood', count: 1 }] });
    const valueInfo = await keyed({ columns: 'discard_value' });
    expect(await rows(`SELECT id, ext_key FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'k-1', ext_key: 'E-k-1' }, { id: 'k-2', ext_key: 'E-k-2' }]);
    expect(valueInfo.notes.contractDiscards?.logs?.fields).toEqual([{ entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 1 }]);
  });

  it('freeze on a first load takes the key, and refuses the other new field', async () => {
    await inject([{ id: 'k-3', mood: 'x' }]);
    const error = (await keyed('freeze').then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain('refused a new column in table logs for field mood');
  });
});

describe('_overflow: a table at its column budget', () => {
  it('freeze takes what an evolve load kept in the table\'s _overflow, and more of it: no column is added', async () => {
    const wide = (from: number) => Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${from + i}`, i]));
    await inject([{ id: 'w-1', wide: wide(0) }]);
    const first = await run();
    expect(first.notes.overflowValues?.logs).toBeGreaterThan(0);
    const columns = await columnsOf('logs');
    expect(columns).toContain('_overflow');
    // w-1 is read again (merge): refused before, its wide.k113 being "a new column" though it is stored in _overflow.
    await inject([{ id: 'w-2', wide: wide(1000) }]);
    const frozen = await run('freeze');
    expect(frozen.notes.contractDiscards).toEqual({});
    expect(await columnsOf('logs')).toEqual(columns);
    const [row] = await rows(`SELECT _overflow::VARCHAR AS o FROM snapengage_data.logs WHERE id = 'w-2'`);
    expect(Object.keys((JSON.parse(String(row?.o)) as { wide: object }).wide)).toHaveLength(200);
  });
});

describe('dataType: a value its column does not take (a new variant column)', () => {
  it('freeze names the field, the column and its type, and the value type; the file is unchanged; evolve loads the variant', async () => {
    await inject([{ id: 'plain-1' }]);
    await run();
    const before = await snapshot();
    await inject([{ id: 'long-1', chat_duration: 'long' }]);
    const error = (await run({ dataType: 'freeze' }).then(() => undefined, (e: unknown) => e)) as DestinationError;
    expect(error).toBeInstanceOf(DestinationError);
    expect(error.message).toContain('logs: the schema contract (dataType: freeze) refused a string value in table logs, field chat_duration, whose BIGINT column chat_duration does not take it');
    expect(error.message).toContain('set resources.logs.schemaContract.dataType to "evolve", "discard_value" or "discard_row"');
    // The spec declares chat_duration (integer) already, and a stored column keeps its type: the fixes that work.
    expect(error.message).toContain('convert the value in a map step (resources.logs.steps), or set');
    expect(error.message).toContain('for a column of another type, declare that type in the spec (npm run generate) and reload logs with --refresh (a stored column keeps its type)');
    expect(error.message).not.toContain("declare the field's type");
    expect(error.message).not.toContain('long'); // types, never the value
    expect(await snapshot()).toBe(before);
    await run();
    expect(await rows(`SELECT chat_duration__v_text AS v FROM snapengage_data.logs WHERE id = 'long-1'`)).toEqual([{ v: 'long' }]);
    // The variant column is now the table's: freeze lets the next such value in.
    await inject([{ id: 'long-2', chat_duration: 'longer' }]);
    await run('freeze');
    expect(await rows(`SELECT chat_duration__v_text AS v FROM snapengage_data.logs WHERE id = 'long-2'`)).toEqual([{ v: 'longer' }]);
  });

  it('freeze names an object where a child table is, with its article', async () => {
    await inject([{ id: 'obj-1', transcripts: { id: 't-1', message: 'one, not a list' } }]);
    const error = (await run({ dataType: 'freeze' }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain('refused an object value in table logs, field transcripts, whose child table logs__transcripts (lists of objects) does not take it');
  });

  it('discard_value stores NULL and makes no variant column; discard_row leaves the record out', async () => {
    await inject([{ id: 'a', chat_duration: 'long' }, { id: 'b', chat_duration: 5, transcripts: [transcript('m', { date: 'soon' })] }]);
    const info = await run({ dataType: 'discard_value' });
    expect(await rows(`SELECT id, chat_duration FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'a', chat_duration: null }, { id: 'b', chat_duration: '5' }]);
    expect(await rows(`SELECT message, date FROM snapengage_data.logs__transcripts`)).toEqual([{ message: 'm', date: null }]);
    expect([...await columnsOf('logs'), ...await columnsOf('logs__transcripts')].filter((c) => c.includes('__v_'))).toEqual([]);
    expect(info.notes.contractDiscards?.logs?.fields).toEqual(expect.arrayContaining([
      { entity: 'dataType', mode: 'discard_value', table: 'logs', field: 'chat_duration', storedAs: 'BIGINT column chat_duration', valueType: 'string', count: 1 },
      { entity: 'dataType', mode: 'discard_value', table: 'logs__transcripts', field: 'transcripts[].date', storedAs: 'BIGINT column date', valueType: 'string', count: 1 },
    ]));
    expect(String(info)).toContain('logs: chat_duration (string for BIGINT column chat_duration) 1');

    await inject([{ id: 'c', chat_duration: 'long', transcripts: [transcript('n')] }]);
    const second = await run({ dataType: 'discard_row' });
    expect(await rows(`SELECT id FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'a' }, { id: 'b' }]);
    expect(await rows(`SELECT count(*)::INT AS n FROM snapengage_data.logs__transcripts WHERE message = 'n'`)).toEqual([{ n: 0 }]);
    // `a` and `b` are read again (today's window) and left out again, with `c`: rows stored before are not removed.
    expect(second.notes.contractDiscards?.logs?.records).toBe(3);
  });
});

describe('tables: a list of objects the spec does not declare', () => {
  it('freeze refuses it, discard_value drops the list, discard_row the record; evolve makes the table, its columns free', async () => {
    await inject([{ id: 'g-1', gifts: [{ what: 'book' }] }, { id: 'g-2' }]);
    const error = (await run({ tables: 'freeze' }).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toContain('logs: the schema contract (tables: freeze) refused a new child table for gifts (a list of objects) under logs');

    const dropped = await run({ tables: 'discard_value' });
    expect(await rows(`SELECT id FROM snapengage_data.logs ORDER BY id`)).toEqual([{ id: 'g-1' }, { id: 'g-2' }]);
    expect(await rows(`SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '%gifts%'`)).toEqual([]);
    expect(dropped.notes.contractDiscards?.logs).toEqual({ records: 0, values: 1, fields: [{ entity: 'tables', mode: 'discard_value', table: 'logs', field: 'gifts', count: 1 }] });

    const rowDropped = await run({ tables: 'discard_row' });
    expect(rowDropped.notes.contractDiscards?.logs?.records).toBe(1);

    // A table the load makes takes whatever columns its rows bring, as in dlt, though columns are frozen.
    await run({ tables: 'evolve', columns: 'freeze' });
    expect(await rows(`SELECT what FROM snapengage_data.logs__gifts`)).toEqual([{ what: 'book' }]);
  });
});

describe('config', () => {
  const env = { SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_WIDGET_ID: 'w' };
  const plan = (schemaContract: unknown) => planPipeline({ resources: { logs: { schemaContract } } } as PipelineConfig, env);

  it('takes one mode for all, or one per entity (the rest evolve)', () => {
    expect(plan(undefined).resources[0]!.schemaContract).toEqual({ tables: 'evolve', columns: 'evolve', dataType: 'evolve' });
    expect(plan('freeze').resources[0]!.schemaContract).toEqual({ tables: 'freeze', columns: 'freeze', dataType: 'freeze' });
    expect(plan({ columns: 'discard_row' }).resources[0]!.schemaContract).toEqual({ tables: 'evolve', columns: 'discard_row', dataType: 'evolve' });
  });

  it('refuses a bad mode naming the field and the modes, and a misspelt entity with a guess', () => {
    expect(() => plan({ columns: 'frozen' })).toThrow('resources.logs.schemaContract.columns must be one of "evolve", "freeze", "discard_row", "discard_value"; got "frozen"');
    expect(() => plan('strict')).toThrow('resources.logs.schemaContract must be one of "evolve", "freeze", "discard_row", "discard_value", or an object { tables, columns, dataType } of them; got "strict"');
    expect(() => plan(true)).toThrow('resources.logs.schemaContract must be one of');
    expect(() => plan({ data_type: 'freeze' })).toThrow('Unknown option "data_type" in resources.logs.schemaContract; did you mean "dataType"?');
  });
});

describe('the CLI', () => {
  /** `snapengage-pipeline run --json` with a config module holding the contract; the last stdout line parsed. */
  async function cli(schemaContract: Contract) {
    const config = join(tmp.dir, 'pipeline.mjs');
    writeFileSync(config, `export default { resources: { logs: { schemaContract: ${JSON.stringify(schemaContract)} } }, rateLimit: { requestsPerSecond: 0 } };\n`);
    const result = await runCli(['run', '--config', config, '--duckdb', db, '--json'], { env: box.env, cwd: tmp.dir });
    return { ...result, document: JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Record<string, any> };
  }

  it('counts discards in the --json document, and a freeze is a FAILED one with its line on stderr, exit 1', async () => {
    await inject([{ id: 'j-1', mood: 'happy' }, { id: 'j-2' }]);
    const frozen = await cli({ columns: 'freeze' });
    expect(frozen.code).toBe(1);
    expect(frozen.document).toMatchObject({ status: 'FAILED', committedResources: [], error: { name: 'DestinationError', exitCode: 1 } });
    expect(frozen.document.error.message).toContain('refused a new column in table logs for field mood');
    expect(frozen.stderr.trim().split('\n').filter((line) => line.includes('schema contract'))).toHaveLength(1);

    const loaded = await cli({ columns: 'discard_value' });
    expect(loaded.code).toBe(0);
    expect(loaded.document.contractDiscards).toEqual({
      logs: { records: 0, values: 1, fields: [{ entity: 'columns', mode: 'discard_value', table: 'logs', field: 'mood', count: 1 }] },
    });
  });
});
