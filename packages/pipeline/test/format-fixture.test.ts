// The upgrade promise (NORMALIZATION.md, Upgrading): a file that an earlier loader wrote, of this DATASET_FORMAT or an
// older one it migrates, is continued by this one as if this one had written it. Its stored ids (`_row_id`, `_parent_id`, `_root_id`), table and
// column names, types and incremental state are matched again; nothing is duplicated or rewritten. A change to how
// ids, names, types or state are made can pass the tests that start from an empty file and still break this promise,
// silently, for every user after `npm update`; this test catches it from a committed golden fixture.
//
// fixtures/dataset-format/source.json: the API records (hand-edited sandbox cases, with shapes the rules name).
// fixtures/dataset-format/format-N.json: every table of the dataset that the loader of DATASET_FORMAT N wrote from
// them (columns, types, rows in insertion order). The test restores it into a new DuckDB file, serves the same
// records plus a new case from the sandbox a day later and runs the current loader on the file.
//
// A format-N fixture is written once, when DATASET_FORMAT becomes N:
//   SNAPENGAGE_WRITE_FORMAT_FIXTURE=1 npx vitest run test/format-fixture.test.ts
// It refuses to overwrite one: a loader that cannot continue format-N files must raise DATASET_FORMAT. format-1.json
// was written by the loader of commit e3ca326 (among the first with DATASET_FORMAT 1), not by today's; format-2.json by the
// first loader with TIMESTAMPTZ system times (the widget_id column is there, NULL: the step takes the field off).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { DATASET_FORMAT } from '../src/destination/system-tables.js';
import { quoteIdent } from '../src/normalize/naming.js';
import { admin, PACKAGE_DIR, sandbox, tempDir, truth, withQueries } from './helpers.js';

const DIR = join(PACKAGE_DIR, 'test', 'fixtures', 'dataset-format');
const DATASET = 'snapengage_data';
const DAY = 86_400_000;

interface Source {
  now: string;
  seed: number;
  widgets: number;
  cases: Array<Record<string, unknown>>;
}
interface Table {
  columns: Array<[name: string, type: string]>;
  rows: Array<Record<string, unknown>>;
}
interface Fixture {
  format: number;
  widgetIds: string[];
  tables: Record<string, Table>;
}

/** The fixture file, one table row per line so that a change to it reads as a diff. */
function serialize(fixture: Fixture): string {
  const tables = Object.entries(fixture.tables).map(([name, t]) =>
    `${JSON.stringify(name)}: {"columns": ${JSON.stringify(t.columns)}, "rows": [\n${t.rows.map((r) => JSON.stringify(r)).join(',\n')}]}`);
  return `{"format": ${fixture.format}, "widgetIds": ${JSON.stringify(fixture.widgetIds)}, "tables": {\n${tables.join(',\n')}}}\n`;
}

const source = JSON.parse(readFileSync(join(DIR, 'source.json'), 'utf8')) as Source;
const NOW = Date.parse(source.now);
/**
 * Fields the spec added to a resource's records after the fixtures were written, with their column types: a change of
 * the spec, not of the dataset format (NORMALIZATION.md, Upgrading: the first run after it rewrites the records it
 * reads again, once). A step takes them off again, so the records are those the fixtures' loader read; their declared
 * columns (all NULL) are the only new columns a continued file may have.
 */
const ADDED_SINCE_FIXTURES: Record<string, Record<string, string>> = { logs: { widget_id: 'VARCHAR' } };
/**
 * System tables added after the fixtures were written that leave the format as it was: an older loader of the format
 * ignores them (it takes one for a table of the user's) and reads and writes everything else as before.
 * `_pipeline_comments`: the comments the loader wrote (destination/comments.ts).
 */
const TABLES_ADDED_SINCE_FIXTURES = new Set(['_pipeline_comments']);
const withoutAdded = (record: Record<string, unknown>) => {
  const copy = { ...record };
  for (const field of Object.keys(ADDED_SINCE_FIXTURES.logs!)) delete copy[field];
  return copy;
};
/** lookbackDays covers every source case again on the day after (so each one's stored ids are matched). */
const config = definePipeline({ resources: { logs: { incremental: { lookbackDays: 3 }, steps: [{ map: withoutAdded }] } }, rateLimit: { requestsPerSecond: 0 } });
const START_DATE = new Date(NOW - DAY).toISOString().slice(0, 10);

const FIX = 'If ids (_row_id/_parent_id/_root_id), table or column names, types or the state changed on purpose: raise DATASET_FORMAT in src/destination/system-tables.ts, migrate older files when they are opened, and write the new format\'s fixture (test/format-fixture.test.ts says how). Otherwise the change is a bug.';
/** Why a failure matters, for the developer who sees it. */
const CONTINUED = (format: number) => `The current loader does not continue a file that a loader of DATASET_FORMAT ${format} wrote: after \`npm update\` every user's next merge would duplicate or rewrite stored records. ${FIX}`;
const SAME = (format: number) => `A file of DATASET_FORMAT ${format}, continued by the current loader, differs from a file it writes anew from the same records: users' old and new files would silently differ. ${FIX}`;

async function serve(box: Sandbox, cases: Array<Record<string, unknown>>): Promise<void> {
  const widgetIds = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
  // Each case goes to a widget by its index, so the state holds a window per widget.
  for (const [w, widgetId] of widgetIds.entries()) {
    const mine = cases.filter((_, i) => i % widgetIds.length === w);
    if (mine.length > 0) await admin(box, 'cases', { widgetId, bare: true, cases: mine });
  }
}

/** The dataset's tables as the fixture stores them: columns in order, rows in insertion (rowid) order. */
async function dump(path: string): Promise<Record<string, Table>> {
  return withQueries(path, async (run) => {
    const tables: Record<string, Table> = {};
    const names = await run(`SELECT table_name FROM information_schema.tables WHERE table_schema = '${DATASET}' ORDER BY table_name`);
    for (const { table_name: name } of names) {
      const columns = (await run(`SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '${DATASET}' AND table_name = '${String(name)}' ORDER BY ordinal_position`))
        .map((c) => [String(c.column_name), String(c.data_type)] as [string, string]);
      // to_json keeps each value's type (lists as arrays, JSON as JSON), which the restore's casts read back.
      const rows = (await run(`SELECT to_json(t)::VARCHAR AS j FROM (SELECT * FROM ${quoteIdent(DATASET)}.${quoteIdent(String(name))} ORDER BY rowid) t`))
        .map((r) => JSON.parse(String(r.j)) as Record<string, unknown>);
      tables[String(name)] = { columns, rows };
    }
    return tables;
  });
}

/** A new DuckDB file holding the fixture's tables, as the loader of its format left them. */
async function restore(path: string, tables: Record<string, Table>, scratch: string): Promise<void> {
  await withQueries(path, async (run) => {
    await run(`CREATE SCHEMA ${quoteIdent(DATASET)}`);
    for (const [name, table] of Object.entries(tables)) {
      const target = `${quoteIdent(DATASET)}.${quoteIdent(name)}`;
      await run(`CREATE TABLE ${target} (${table.columns.map(([c, t]) => `${quoteIdent(c)} ${t}`).join(', ')})`);
      if (table.rows.length === 0) continue;
      const file = join(scratch, `${name}.ndjson`);
      writeFileSync(file, table.rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
      const columns = table.columns.map(([c, t]) => `${JSON.stringify(c)}: '${t}'`).join(', ');
      await run(`INSERT INTO ${target} SELECT * FROM read_json('${file}', format = 'newline_delimited', columns = {${columns}})`);
    }
    return undefined;
  }, 'READ_WRITE');
}

/** Rows as sorted JSON lines with their columns by name (a file that grew over loads has them in the order they were
 * added, a new one in one go), for multiset comparisons. */
const lines = (table: Table | undefined, omit: string[] = []) =>
  (table?.rows ?? []).map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([c]) => !omit.includes(c)).sort(([a], [b]) => (a < b ? -1 : 1))))).sort();

const formats = readdirSync(DIR).map((f) => /^format-(\d+)\.json$/.exec(f)?.[1]).filter((n) => n !== undefined).map(Number).sort((a, b) => a - b);

describe('a dataset that an earlier loader wrote', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('format-fixture-');
  });
  afterAll(() => {
    vi.useRealTimers();
    tmp?.cleanup();
  });

  it.runIf(process.env.SNAPENGAGE_WRITE_FORMAT_FIXTURE === '1')('writes the fixture of a new DATASET_FORMAT', async () => {
    const file = join(DIR, `format-${DATASET_FORMAT}.json`);
    expect(existsSync(file), `${file} exists: a fixture is written once per format; a loader that cannot continue it must raise DATASET_FORMAT`).toBe(false);
    vi.useFakeTimers({ toFake: ['Date'], now: NOW });
    const box = await sandbox({ seed: source.seed, cases: 0, widgets: source.widgets, days: 2, now: NOW });
    try {
      const path = join(tmp.dir, 'write.duckdb');
      const env = { ...box.env, SNAPENGAGE_START_DATE: START_DATE };
      // Two loads, so the file holds rows of different loads and columns added by the second, as a user's does.
      await serve(box, source.cases.slice(0, 6));
      await runPipeline(config, { env, destination: { path } });
      vi.setSystemTime(NOW + 3_600_000);
      await serve(box, source.cases.slice(6));
      await runPipeline(config, { env, destination: { path } });
      writeFileSync(file, serialize({ format: DATASET_FORMAT, widgetIds: box.env.SNAPENGAGE_WIDGET_ID!.split(','), tables: await dump(path) }));
    } finally {
      vi.useRealTimers();
      await box.close();
    }
  });

  it('has a fixture for the current DATASET_FORMAT', () => {
    expect(formats, `no test/fixtures/dataset-format/format-${DATASET_FORMAT}.json: write it as test/format-fixture.test.ts says`).toContain(DATASET_FORMAT);
  });

  // Files of the current format are continued as they are; older ones may be migrated (rewritten), but end the same.
  it.each(formats)('of DATASET_FORMAT %i is continued: stored ids matched again, nothing duplicated or rewritten, the state goes on', async (format) => {
    const fixture = JSON.parse(readFileSync(join(DIR, `format-${format}.json`), 'utf8')) as Fixture;
    const current = format === DATASET_FORMAT;
    const path = join(tmp.dir, `format-${format}.duckdb`);
    await restore(path, fixture.tables, tmp.dir);
    const tomorrow = NOW + DAY;
    vi.useFakeTimers({ toFake: ['Date'], now: tomorrow });
    const box = await sandbox({ seed: source.seed, cases: 0, widgets: source.widgets, days: 2, now: NOW });
    try {
      expect(box.env.SNAPENGAGE_WIDGET_ID!.split(','), 'the sandbox seeds other widget ids than when the fixture was written (its state is kept per widget id): keep the sandbox\'s ids for this seed').toEqual(fixture.widgetIds);
      const at = tomorrow - 3_600_000;
      const next = { id: 'after-the-upgrade', type: 'offline', description: 'a case of the next day', created_at_date: at, created_at_seconds: Math.floor(at / 1000), created_at_milliseconds: at };
      await serve(box, [...source.cases, next]);
      const env = { ...box.env, SNAPENGAGE_START_DATE: START_DATE };
      const info = await runPipeline(config, { env, destination: { path } });
      const after = await dump(path);

      const problems: string[] = [];
      if (current) {
        // Re-read records are recognised as stored: with other ids, names or types they would be loaded again.
        if (info.unchangedRecords.logs !== source.cases.length) problems.push(`unchanged logs records: ${info.unchangedRecords.logs ?? 0}, want all ${source.cases.length} (every one is read again)`);
        if (info.rowCounts.logs !== 1) problems.push(`logs rows written: ${info.rowCounts.logs}, want 1 (the new case)`);
        // Nor are its loads taken for another kind of load (`_pipeline_loads.row_ids` read otherwise), or its tables for dropped ones.
        const { adoptedRecords, adoptionRemovedRecords, notTakenOver, droppedTables } = info.notes;
        for (const [note, value] of Object.entries({ adoptedRecords, adoptionRemovedRecords, notTakenOver, droppedTables })) {
          if (Object.keys(value ?? {}).length > 0) problems.push(`load info notes.${note}: ${JSON.stringify(value)}, want none`);
        }
        for (const [name, table] of Object.entries(fixture.tables)) {
          const now = after[name];
          if (!now) {
            problems.push(`${name} is gone`);
            continue;
          }
          if (name === '_pipeline_loads' || name === '_pipeline_state') continue; // a run adds to them; the state is checked below
          const added = now.columns.filter(([c, t]) => !table.columns.some(([c2, t2]) => c === c2 && t === t2) && ADDED_SINCE_FIXTURES[name]?.[c] !== t);
          if (added.length > 0) problems.push(`${name}: new columns ${JSON.stringify(added)}`);
          const kept = new Set(lines(now, Object.keys(ADDED_SINCE_FIXTURES[name] ?? {})));
          // Both sides without the added fields: a fixture written after one was added (format 2 on) has its column, NULL.
          const lost = lines(table, Object.keys(ADDED_SINCE_FIXTURES[name] ?? {})).filter((l) => !kept.has(l));
          if (lost.length > 0) problems.push(`${name}: ${lost.length} stored rows rewritten or removed, first ${lost[0]}`);
        }
        for (const name of Object.keys(after)) if (!(name in fixture.tables) && !TABLES_ADDED_SINCE_FIXTURES.has(name)) problems.push(`new table ${name}`);
      }
      // Each case once: the keyed ones by id, the keyless one (merged by its content id) once too.
      const cases = await truth(box);
      const [counts] = await withQueries(path, (run) => run(`SELECT count(*)::INTEGER AS n, count(DISTINCT id)::INTEGER AS ids, count(*) FILTER (id IS NULL)::INTEGER AS keyless FROM ${DATASET}.logs`));
      const want = { n: cases.length, ids: cases.filter((c) => c.id !== undefined).length, keyless: cases.filter((c) => c.id === undefined).length };
      if (JSON.stringify(counts) !== JSON.stringify(want)) problems.push(`logs rows ${JSON.stringify(counts)}, want ${JSON.stringify(want)}`);
      // The state goes on: each widget's window from the fixture's first day, or the first day this run's lookback
      // (3 days) re-read if earlier (INCREMENTAL.md, Backfill), to today.
      type State = { windows: Record<string, { lastEnd: string; firstStart: string }> };
      const stateOf = (t: Table | undefined) => (t?.rows.find((r) => r.resource === 'logs')?.state ?? { windows: {} }) as State;
      for (const widgetId of fixture.widgetIds) {
        const [before, now] = [stateOf(fixture.tables._pipeline_state).windows[widgetId], stateOf(after._pipeline_state).windows[widgetId]];
        const today = new Date(tomorrow).toISOString().slice(0, 10);
        const reread = before ? new Date(Date.parse(before.lastEnd) - 3 * DAY).toISOString().slice(0, 10) : undefined;
        const first = before && reread! < before.firstStart ? reread : before?.firstStart;
        if (now?.firstStart !== first || now?.lastEnd !== today) problems.push(`logs window of ${widgetId}: ${JSON.stringify(now)}, want firstStart ${first} and lastEnd ${today}`);
      }
      // Its loads (the fixture's, from before `_pipeline_loads.contract_discards`, and this run's, which left nothing out)
      // record no schema-contract discards; the column is there for the next load's.
      const loads = after._pipeline_loads;
      if (!loads?.columns.some(([c, t]) => c === 'contract_discards' && t === 'JSON')) problems.push('_pipeline_loads has no JSON column contract_discards');
      else if (loads.rows.some((r) => r.contract_discards !== null)) problems.push(`_pipeline_loads.contract_discards: ${JSON.stringify(loads.rows.map((r) => r.contract_discards))}, want all NULL`);
      expect(problems, CONTINUED(format)).toEqual([]);

      // The continued file equals what this loader writes anew from the same records (ids included).
      const scratch = join(tmp.dir, `format-${format}-fresh.duckdb`);
      await runPipeline(config, { env, destination: { path: scratch } });
      const fromScratch = await dump(scratch);
      const differences: string[] = [];
      for (const name of new Set([...Object.keys(fromScratch), ...Object.keys(after)].filter((n) => !n.startsWith('_pipeline_')))) {
        const continued = lines(after[name], ['_load_id']);
        const fresh = new Set(lines(fromScratch[name], ['_load_id']));
        const extra = continued.filter((l) => !fresh.has(l));
        if (extra.length > 0 || continued.length !== fresh.size) differences.push(`${name}: ${continued.length} rows continued, ${fresh.size} anew; ${extra.length} differ, first ${extra[0] ?? '-'}`);
      }
      expect(differences, SAME(format)).toEqual([]);
      // Its tables and columns get the comments a new file has (comments.ts): the file had none, as the loaders before
      // them left it, and they are set on its next load without a row rewritten (checked above).
      const commentsOf = (file: string) => withQueries(file, (run) => run(`
        SELECT table_name AS t, NULL AS c, comment FROM duckdb_tables() WHERE schema_name = '${DATASET}' AND NOT starts_with(table_name, '_pipeline_')
        UNION ALL SELECT table_name, column_name, comment FROM duckdb_columns() WHERE schema_name = '${DATASET}' AND NOT starts_with(table_name, '_pipeline_')
        ORDER BY t, c NULLS FIRST`));
      const continuedComments = await commentsOf(path);
      expect(continuedComments.filter((r) => r.comment !== null).length, 'the continued file has no comments at all').toBeGreaterThan(0);
      expect(continuedComments, `A file of DATASET_FORMAT ${format}, continued by the current loader, lacks comments a new file has (or has others): NORMALIZATION.md promises them on its next load`).toEqual(await commentsOf(scratch));
    } finally {
      vi.useRealTimers();
      await box.close();
    }
  });
});
