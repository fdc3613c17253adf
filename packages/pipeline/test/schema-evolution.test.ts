// Schema changes as a user lives them, over several runs on one DuckDB file: the API starts sending a field the spec
// does not know, a field changes type or shape, a later key collides with a stored name, the user edits the spec to
// type a stored field otherwise. Each time nothing is lost, nothing fails, and the load info (and `show`) says what
// happened and what to do; the SQL that NORMALIZATION.md ("Variant columns", "Schema changes") gives is run as written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resources, type LoadableResource } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline, type LoadInfo } from '../src/index.js';
import { showDataset } from '../src/show.js';
import { PACKAGE_DIR, admin, query, sandbox, tempDir } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let widgetId: string;
beforeAll(async () => {
  box = await sandbox({ cases: 40, widgets: 1, days: 3 });
  widgetId = box.env.SNAPENGAGE_WIDGET_ID!.split(',')[0]!;
  tmp = tempDir('schema-evolution-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const catalog = resources as unknown as Record<string, LoadableResource>;
const savedLogs = catalog.logs!.recordSchema;
afterEach(() => {
  catalog.logs!.recordSchema = savedLogs;
});

const NORMALIZATION = readFileSync(join(PACKAGE_DIR, 'NORMALIZATION.md'), 'utf8');
const load = (path: string) => runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
const inject = async (cases: Array<Record<string, unknown>>) => ((await admin(box, 'cases', { widgetId, cases })) as { ids: string[] }).ids;
/** The load info's lines about schema changes. */
const schemaLines = (info: LoadInfo) => info.toString().split('\n').filter((l) => /^(Fields the spec|Values |Warning: .* the spec now declares|maxNestingDepth )/.test(l));

describe('fields the API starts sending, changing type or shape, and a later name collision', () => {
  const path = () => join(tmp.dir, 'evolving.duckdb');

  it('keeps every value and says, for each load, what it added and how to read it', async () => {
    expect(schemaLines(await load(path()))).toEqual([]); // the sandbox's cases are all declared

    const [a] = await inject([{ brand_new_field: 42, chat_duration: 'about ten minutes', extra_obj: { a: 1 } }]);
    const second = await load(path());
    expect(schemaLines(second)).toEqual([
      'Fields the spec does not declare, typed from their first value: new columns logs.brand_new_field BIGINT, logs.extra_obj__a BIGINT ' +
        '(to type them yourself, declare them in the spec: see "Schema changes" in the pipeline\'s NORMALIZATION.md)',
      'Values logs.chat_duration (BIGINT) does not take, kept in the new column logs.chat_duration__v_text VARCHAR: 1 value this run. ' +
        'Read both as one: SELECT coalesce("chat_duration"::VARCHAR, "chat_duration__v_text") FROM "snapengage_data"."logs" ' +
        '(see "Schema changes" in the pipeline\'s NORMALIZATION.md)',
    ]);
    expect(second.toJSON().schemaChanges?.logs?.newVariants).toEqual([
      { table: 'logs', column: 'chat_duration__v_text', type: 'VARCHAR', field: 'chat_duration', of: 'chat_duration', ofType: 'BIGINT', values: 1 },
    ]);
    // The query the load info prints reads the text beside the numbers.
    const printed = /Read both as one: (SELECT .*) FROM "snapengage_data"\."logs"/.exec(second.toString())![1]!;
    const both = await query(path(), `${printed} AS v, id FROM snapengage_data.logs WHERE chat_duration IS NOT NULL OR id = '${a}' ORDER BY id = '${a}' DESC LIMIT 2`);
    expect(both[0]!.v).toBe('about ten minutes');
    expect(both[1]!.v).toMatch(/^\d+$/);

    const [b] = await inject([{ brand_new_field: 'forty-two', extra_obj: [{ a: 2 }], tags_list: ['x', 'y'] }]);
    expect(schemaLines(await load(path()))).toEqual([
      expect.stringMatching(/^Fields the spec does not declare, typed from their first value: new columns logs\.tags_list VARCHAR\[\] \(/),
      expect.stringMatching(/^Values logs\.brand_new_field \(BIGINT\) does not take, kept in the new column logs\.brand_new_field__v_text VARCHAR: 1 value this run\. /),
      'Values of logs\'s field "extra_obj" that do not fit how it is stored (an object flattened into columns, or a child table), ' +
        'kept in the new column logs.extra_obj__v_json JSON: 1 value this run (see "Schema changes" in the pipeline\'s NORMALIZATION.md)',
    ]);

    const [c] = await inject([{ tags_list: [{ k: 'v' }], 'Brand New Field': 'collides' }]);
    expect(schemaLines(await load(path()))).toEqual([
      expect.stringMatching(/^Fields the spec does not declare, typed from their first value: new columns logs\.brand_new_field_1 VARCHAR \(key "Brand New Field", its name taken\) \(/),
      expect.stringMatching(/^Values logs\.tags_list \(VARCHAR\[\]\) does not take, kept in the new column logs\.tags_list__v_json JSON: 1 value this run\. Read both as one: SELECT coalesce\("tags_list"::VARCHAR, "tags_list__v_json"::VARCHAR\) /),
    ]);
    // A run that adds nothing says nothing about the schema, though it reads those records again.
    expect(schemaLines(await load(path()))).toEqual([]);

    const rows = await query(path(), `SELECT id, brand_new_field, brand_new_field__v_text, brand_new_field_1, chat_duration__v_text,
      extra_obj__a, extra_obj__v_json::VARCHAR AS obj_json, tags_list, tags_list__v_json::VARCHAR AS tags_json
      FROM snapengage_data.logs WHERE id IN ('${a}', '${b}', '${c}') ORDER BY id = '${a}' DESC, id = '${b}' DESC`);
    expect(rows).toEqual([
      { id: a, brand_new_field: '42', brand_new_field__v_text: null, brand_new_field_1: null, chat_duration__v_text: 'about ten minutes', extra_obj__a: '1', obj_json: null, tags_list: null, tags_json: null },
      { id: b, brand_new_field: null, brand_new_field__v_text: 'forty-two', brand_new_field_1: null, chat_duration__v_text: null, extra_obj__a: null, obj_json: '[{"a":2}]', tags_list: ['x', 'y'], tags_json: null },
      { id: c, brand_new_field: null, brand_new_field__v_text: null, brand_new_field_1: 'collides', chat_duration__v_text: null, extra_obj__a: null, obj_json: null, tags_list: null, tags_json: '[{"k":"v"}]' },
    ]);

    // `show` says which column each variant belongs to, and how to read them together.
    const shown = await showDataset({ path: path(), dataset: 'snapengage_data' });
    const variants = shown.slice(shown.indexOf('    variants: '), shown.indexOf('\n  logs__')).replace(/\n {4}/g, ' ');
    expect(variants).toBe('    variants: chat_duration__v_text of chat_duration, brand_new_field__v_text of brand_new_field, extra_obj__v_json, tags_list__v_json of tags_list');
    expect(shown).toContain(`  variants hold the values their column's type did not take; read both as one:\n  coalesce("chat_duration"::VARCHAR, "chat_duration__v_text") (NORMALIZATION.md, "Variant columns")`);
  });

  it("NORMALIZATION.md's query for a column with its variant runs as written", async () => {
    const recipe = /read as one text value with\s+`(coalesce\("chat_duration"::VARCHAR, "chat_duration__v_text"\))`/.exec(NORMALIZATION)?.[1];
    expect(recipe).toBeDefined();
    const values = await query(path(), `SELECT ${recipe} AS v FROM snapengage_data.logs`);
    expect(values.map((r) => r.v)).toContain('about ten minutes');
    // Every row with either holds its one value: none NULL where the case had a chat_duration.
    const [counts] = await query(path(), `SELECT count(*) FILTER (chat_duration IS NOT NULL OR chat_duration__v_text IS NOT NULL)::INTEGER AS either,
      count(${recipe})::INTEGER AS read FROM snapengage_data.logs`);
    expect(counts!.read).toBe(counts!.either);
  });
});

describe('a spec edit that types a stored field otherwise', () => {
  it('loads, warns on every load until the column is re-created as NORMALIZATION.md says, then stores the declared type', async () => {
    const path = join(tmp.dir, 'retyped.duckdb');
    await load(path);
    const plain = savedLogs as { properties: Record<string, unknown> };
    // As `npm run generate` writes it after `chat_duration: { type: [string, 'null'] }` in the spec.
    catalog.logs!.recordSchema = { ...plain, properties: { ...plain.properties, chat_duration: { type: ['string', 'null'] } } } as never;
    const [id] = await inject([{ chat_duration: 'ten minutes' }]);
    const warning = 'Warning: logs.chat_duration is stored as BIGINT, but the spec now declares VARCHAR: values BIGINT does not take go to its variant columns. ' +
      'To have it re-created as VARCHAR, drop the column and its variants (the next load re-creates it), or reload logs with --refresh --resources logs, which replaces its tables at the commit ' +
      '(see "Schema changes" in the pipeline\'s NORMALIZATION.md)';
    // Its variant column was made by the first load (the first describe's case): the warning alone.
    expect(schemaLines(await load(path))).toEqual([warning]);
    expect(schemaLines(await load(path))).toEqual([warning]);
    expect(await query(path, `SELECT chat_duration, chat_duration__v_text FROM snapengage_data.logs WHERE id = '${id}'`)).toEqual([{ chat_duration: null, chat_duration__v_text: 'ten minutes' }]);

    // The documented statements, as written.
    const drops = /until the column is re-created: `(ALTER TABLE [^`]+)`/.exec(NORMALIZATION)?.[1];
    expect(drops).toBeDefined();
    await query(path, drops!.replace(/\s+/g, ' '), 'READ_WRITE');
    const after = await load(path);
    expect(schemaLines(after)).toEqual([]);
    expect(after.toString()).toContain('Dropped since the last run: logs.chat_duration, logs.chat_duration__v_text. Re-created as logs loads from now on');
    expect(await query(path, `SELECT data_type FROM information_schema.columns WHERE table_schema = 'snapengage_data' AND table_name = 'logs' AND column_name LIKE 'chat_duration%'`))
      .toEqual([{ data_type: 'VARCHAR' }]);
    expect(await query(path, `SELECT chat_duration FROM snapengage_data.logs WHERE id = '${id}'`)).toEqual([{ chat_duration: 'ten minutes' }]);
  });
});

describe('maxNestingDepth changed between runs', () => {
  const loadAt = (path: string, maxNestingDepth?: number) => runPipeline(
    definePipeline({ resources: { logs: maxNestingDepth === undefined ? true : { maxNestingDepth } }, rateLimit: { requestsPerSecond: 0 } }),
    { env: box.env, destination: { path } },
  );

  it('raised: what earlier loads kept as JSON stays so, and every load says it and how to reload', async () => {
    const path = join(tmp.dir, 'depth-raised.duckdb');
    // The earlier tests' cases are in the sandbox: only the depth's line matters here.
    const depthLines = (info: LoadInfo) => schemaLines(info).filter((l) => l.startsWith('maxNestingDepth'));
    expect(depthLines(await loadAt(path, 0))).toEqual([]);
    const raised = depthLines(await loadAt(path));
    expect(raised).toEqual([
      'maxNestingDepth 4 of logs applies to new fields only: as earlier loads stored them, logs.requester_details, logs.javascript_variables, ' +
        'logs.operator_variables, logs.labels, logs.transcripts stay one JSON column. To store them as it says, reload it: snapengage-pipeline run --refresh --resources logs ' +
        '(see "Tables" in the pipeline\'s NORMALIZATION.md)',
    ]);
    // Nothing lost meanwhile: the transcripts are in the JSON column, as the first load stored them.
    const [row] = await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE json_array_length(transcripts) > 0`);
    expect(row!.n).toBeGreaterThan(0);
  });

  it('lowered: flattened objects and child tables stay, and every load says so', async () => {
    const path = join(tmp.dir, 'depth-lowered.duckdb');
    await inject([{ extra: { inner: { leaf: 1 } } }]);
    await loadAt(path);
    const lowered = schemaLines(await loadAt(path, 1));
    expect(lowered).toEqual([
      'maxNestingDepth 1 of logs applies to new fields only: as earlier loads stored them, logs.extra__inner__* ' +
        'stay flattened into columns or child tables. To store them as it says, reload it: snapengage-pipeline run --refresh --resources logs ' +
        '(see "Tables" in the pipeline\'s NORMALIZATION.md)',
    ]);
    expect(schemaLines(await loadAt(path, 4))).toEqual([]);
  });
});

describe('field names the API sends, as the load info quotes them', () => {
  it('are quoted with their terminal controls escaped and cut short when long, in the text and in the JSON', async () => {
    const path = join(tmp.dir, 'names.duckdb');
    await load(path);
    // Each pair makes one column name (snake_case): the second key's column is renamed, and its key quoted.
    const long = 'k'.repeat(5_000);
    await inject([{ 'ab 2 jc': 1, 'ab\u009b2Jc': 2, [long]: 3, [long.toUpperCase()]: 4 }]);
    const info = await load(path);
    const line = schemaLines(info).find((l) => l.startsWith('Fields the spec'))!;
    expect(line).toContain('(key "ab\\u009b2Jc", its name taken)');
    expect(line).not.toMatch(/[\u0080-\u009f]/);
    expect(line.length).toBeLessThan(1_000);
    const keys = info.toJSON().schemaChanges!.logs!.newColumns.map((c) => c.key).filter((k) => k !== undefined);
    expect(keys).toHaveLength(2);
    expect(Math.max(...keys.map((k) => k.length))).toBeLessThan(200);
  });
});
