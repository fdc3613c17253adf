// Spec edits between runs against an existing DuckDB file: the user edits spec/snapengage.openapi.yaml, runs
// `npm run generate`, and runs the pipeline again on the data loaded before. The catalog is changed here as the
// generator writes it (generated/catalog.ts), and restored after each test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resources, type LoadableResource } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { ConfigError, definePipeline, runPipeline } from '../src/index.js';
import { declaredShapeProperties } from '../src/normalize/table-tree.js';
import { admin, expectMatchesTruth, query, sandbox, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 150, widgets: 2, days: 10 });
  tmp = tempDir('spec-edits-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const catalog = resources as unknown as Record<string, LoadableResource>;
const saved = new Map(Object.entries(catalog).map(([name, r]) => [name, r.recordSchema]));
const savedHints = new Map(Object.entries(catalog).map(([name, r]) => [name, { incremental: r.incremental, params: r.params, parent: r.parent, envVars: r.envVars, paginator: r.paginator }]));
afterEach(() => {
  for (const [name, schema] of saved) catalog[name]!.recordSchema = schema;
  for (const [name, hints] of savedHints) Object.assign(catalog[name]!, hints);
});

const config = (resourceOptions: Record<string, unknown>) =>
  definePipeline({ resources: resourceOptions as never, rateLimit: { requestsPerSecond: 0 } });

describe('a record schema split into compositions', () => {
  it('declares the fields of allOf and oneOf branches, and checks a primaryKey override against them', async () => {
    const path = `${tmp.dir}/composed.duckdb`;
    await runPipeline(config({ logs: true }), { env: box.env, destination: { path } });
    const before = await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs');

    // What `npm run generate` writes for `Case: { allOf: [{ $ref: CaseCore }, { type: object, properties: … }] }` and
    // `Widget: { oneOf: [{ $ref: WidgetCore }, { type: 'null' }] }`: the properties sit in the branches.
    const plainLogs = saved.get('logs')!;
    const plainWidgets = saved.get('widgets')!;
    catalog.logs!.recordSchema = {
      allOf: [plainLogs, { type: 'object', properties: { handled_by: { type: ['string', 'null'] } } }],
      properties: {},
    };
    catalog.widgets!.recordSchema = { oneOf: [plainWidgets, { type: 'null' }], properties: {} };
    expect(Object.keys(declaredShapeProperties(catalog.widgets!.recordSchema))).toEqual(Object.keys(declaredShapeProperties(plainWidgets)));

    // A misspelt key would make every record keyless (merged by content: a duplicate per changed record).
    const refused = await runPipeline(config({ logs: { primaryKey: ['ID'] } }), { env: box.env, destination: { path } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String(refused)).toMatch(/resources\.logs\.primaryKey: "ID" is not a field of logs records in the spec \(id, url, /);
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')).toEqual(before);

    // A field declared in a branch exists even though no record has a value for it, typed as declared.
    await runPipeline(config({ logs: true, widgets: true }), { env: box.env, destination: { path } });
    const columns = await query(path, `SELECT table_name, column_name, data_type FROM information_schema.columns
      WHERE table_schema = 'snapengage_data' AND column_name IN ('handled_by', 'destination_email') ORDER BY 1`);
    expect(columns).toEqual([
      { table_name: 'logs', column_name: 'handled_by', data_type: 'VARCHAR' },
      { table_name: 'widgets', column_name: 'destination_email', data_type: 'VARCHAR' },
    ]);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });
});

describe('a primary key changed to a field that is not unique', () => {
  it('says how many stored records the takeover removed, instead of losing them silently', async () => {
    const path = `${tmp.dir}/coarser-key.duckdb`;
    await runPipeline(config({ logs: true }), { env: box.env, destination: { path } });
    // `type` is chat or offline: merged on it, the records loaded by id collapse into one row per type.
    const [stored] = await query(path, `SELECT count(type)::INTEGER AS rows, count(DISTINCT type)::INTEGER AS keys FROM snapengage_data.logs`);
    expect(stored!.rows).toBeGreaterThan(stored!.keys as number);

    const info = await runPipeline(config({ logs: { primaryKey: ['type'] } }), { env: box.env, destination: { path } });
    const removed = (stored!.rows as number) - (stored!.keys as number);
    expect(info.notes.adoptionRemovedRecords).toEqual({ logs: removed });
    expect(String(info)).toContain(`Warning: taking over logs's earlier rows removed ${removed} stored records (with their child rows) whose primary key a newer row has too`);
    expect(String(info)).toContain('check resources.logs.primaryKey');

    // Back on a unique key, a takeover of the merged rows removes nothing: no warning.
    const back = await runPipeline(config({ logs: true }), { env: box.env, destination: { path } });
    expect(back.notes.adoptionRemovedRecords).toEqual({});
    expect(String(back)).not.toContain('Warning: taking over');
  });
});

describe('incremental options of a resource that has no date window', () => {
  it('are refused, not ignored', async () => {
    const path = `${tmp.dir}/window-dropped.duckdb`;
    const startDate = box.env.SNAPENGAGE_START_DATE!;
    // A child is driven by its parent's window: a lookback of its own would do nothing (it used to load as if unset).
    const child = await runPipeline(config({ logs: true, chat_poll: { incremental: { lookbackDays: 3 } } }), { env: box.env, destination: { path } }).catch((e: unknown) => e);
    expect(child).toBeInstanceOf(ConfigError);
    expect(String(child)).toMatch(/resources\.chat_poll\.incremental: chat_poll is not incremental \(it is read per record of logs, whose window drives it\); remove the option/);

    // A start date kept in src/pipeline.ts after the spec dropped the resource's date window (and its start/end
    // parameters): said before any request, not answered by the API's 400 for a missing `start`.
    const scaffolded = config({ logs: { incremental: { startDate } } });
    await runPipeline(scaffolded, { env: box.env, destination: { path } });
    const before = await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads');
    const { start: _start, end: _end, ...params } = catalog.logs!.params;
    Object.assign(catalog.logs!, { incremental: null, params });
    const refused = await runPipeline(scaffolded, { env: box.env, destination: { path } }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String(refused)).toMatch(/resources\.logs\.incremental: logs is not incremental \(its spec has no x-snapengage-resource incremental\); remove the option/);
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads')).toEqual(before);
  });
});

describe('a child of a child (a spec edit makes visitor_typing a child of chat_poll)', () => {
  it('appended, does not store the records its grandparent window re-reads again', async () => {
    const one = await sandbox({ cases: 40, widgets: 1, days: 5 });
    try {
      const path = `${tmp.dir}/grandchild.duckdb`;
      // A catalog with `parent: chat_poll`, `widgetId: { from: env }`, `caseId: { from: parent, field: caseId }`: what
      // `npm run generate` wrote before it refused a child of a child below an incremental resource; the loader's
      // dedupe is kept for catalogs built otherwise.
      const typing = catalog.visitor_typing!;
      Object.assign(typing, {
        parent: 'chat_poll',
        params: {
          widgetId: { in: 'path', required: true, from: 'env', env: 'SNAPENGAGE_WIDGET_ID' },
          caseId: { in: 'path', required: true, from: 'parent', resource: 'chat_poll', field: 'caseId' },
        },
        envVars: [...typing.envVars, { name: 'SNAPENGAGE_WIDGET_ID', description: 'Value of the "widgetId" parameter', secret: false, required: true }],
      });
      const appended = config({ visitor_typing: { writeDisposition: 'append' } });
      const first = await runPipeline(appended, { env: one.env, destination: { path } });
      expect(first.rowCounts.visitor_typing).toBe(40);
      const second = await runPipeline(appended, { env: one.env, destination: { path } });
      expect(second.rowCounts.visitor_typing).toBe(0);
      expect(second.notes.alreadyStoredRecords).toEqual({ visitor_typing: 40 });
      expect(await query(path, 'SELECT count(*)::INTEGER AS n, count(DISTINCT case_id)::INTEGER AS cases FROM snapengage_data.visitor_typing')).toEqual([{ n: 40, cases: 40 }]);
    } finally {
      await one.close();
    }
  });
});

describe("a child's parameter taken from a parent field that some records lack", () => {
  it('counts the parent records it could not request, instead of skipping them silently', async () => {
    const path = `${tmp.dir}/missing-param.duckdb`;
    // The spec edit: chat_poll's caseId from a field the spec declares but the API leaves null or out in most cases.
    const poll = catalog.chat_poll!;
    Object.assign(poll, { params: { ...poll.params, caseId: { in: 'path', required: true, from: 'parent', resource: 'logs', field: 'survey_comments' } } });
    // An empty text is no value either: sent, it made the path /api/v1/chat/poll/ (another endpoint, or a 404).
    // Nor are `.` and `..` in a path (they resolve to another path; the client refuses them, failing the run before).
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0]!, cases: [{ survey_comments: '' }, { survey_comments: '..' }, { survey_comments: '.' }] });
    const info = await runPipeline(config({ logs: true, chat_poll: true }), { env: box.env, destination: { path } });
    const cases = await truth(box);
    expect(cases.some((c) => c.survey_comments === '')).toBe(true);
    const without = cases.filter((c) => !['string', 'number', 'boolean'].includes(typeof c.survey_comments) || ['', '.', '..'].includes(c.survey_comments as string)).length;
    expect(without).toBeGreaterThan(0);
    expect(info.notes.missingParentValues).toEqual({ chat_poll: { records: without, of: cases.length, param: 'caseId', field: 'logs.survey_comments' } });
    expect(String(info)).toContain(
      `No request for these parent records, a parameter's field missing or not a value: chat_poll ${without} of ${cases.length} (caseId from logs.survey_comments)`,
    );
  });
});

describe('a paged endpoint the spec reads as a single page', () => {
  it('says which resource left linked pages unread, instead of loading part of it silently', async () => {
    const path = `${tmp.dir}/single-page.duckdb`;
    // More than a page (100 cases) in one request: today's window of the first widget.
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0]!, cases: Array.from({ length: 120 }, () => ({})) });
    Object.assign(catalog.logs!, { paginator: { type: 'single_page' } });
    const info = await runPipeline(config({ logs: true }), { env: box.env, destination: { path } });
    const cases = await truth(box);
    const [{ n }] = (await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs')) as [{ n: number }];
    expect(n).toBeLessThan(cases.length);
    expect(info.notes.unfollowedNextLinks).toEqual({ logs: 1 });
    expect(String(info)).toContain('Only the first page read, the API linked more: logs (1 response). The spec reads it as a single page; '
      + 'set its x-snapengage-resource paginator to { type: next_url, nextUrlPath: <the link field> } and run npm run generate');
  });
});

describe('a date-windowed endpoint the spec reads as a single page', () => {
  it('is still asked slice by slice: a window asked whole would be cut to its first page', async () => {
    const own = await sandbox({ cases: 0, widgets: 1, days: 20 });
    try {
      const path = `${tmp.dir}/single-page-slices.duckdb`;
      // 80 cases 15 days ago and 80 today: each 7-day slice holds one page (100 cases) at most, the window does not.
      const at = (daysAgo: number) => Date.now() - daysAgo * 86_400_000;
      const cases = [15, 0].flatMap((daysAgo) => Array.from({ length: 80 }, (_, i) => ({ created_at_milliseconds: at(daysAgo) - i * 1000 })));
      await admin(own, 'cases', { widgetId: own.credentials.widgetIds[0]!, cases });
      Object.assign(catalog.logs!, { paginator: { type: 'single_page' } });
      const info = await runPipeline(config({ logs: true }), { env: own.env, destination: { path } });
      expect(info.notes.unfollowedNextLinks ?? {}).toEqual({});
      expect(info.rowCounts.logs).toBe(160);
      expect(await expectMatchesTruth(path, 'snapengage_data', await truth(own))).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
