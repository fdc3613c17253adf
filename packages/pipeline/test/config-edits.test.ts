// Config edits between runs against an existing DuckDB file: the user changes src/pipeline.ts (a primary key, a map
// step) and runs the pipeline again on the data loaded before. Each change either keeps the data whole (no record
// twice, none lost) or is refused before anything is written, naming the option and the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DestinationError, definePipeline, runPipeline, type SourceRecord } from '../src/index.js';
import { expectMatchesTruth, query, sandbox, tempDir, truth } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  box = await sandbox({ cases: 150, widgets: 2, days: 10 });
  tmp = tempDir('config-edits-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

const config = (resourceOptions: Record<string, unknown>) =>
  definePipeline({ resources: resourceOptions as never, rateLimit: { requestsPerSecond: 0 } });
const withKey = (writeDisposition: 'merge' | 'append', key: (r: SourceRecord) => unknown, rename = false) => ({
  logs: {
    writeDisposition,
    primaryKey: ['case_key'],
    steps: [{ map: (r: SourceRecord) => { r.case_key = key(r); if (rename) delete r.id; return r; } }],
  },
});
const snapshot = async (path: string) => ({
  logs: await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs'),
  transcripts: await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.logs__transcripts'),
  loads: await query(path, `SELECT load_id, resource, row_ids FROM snapengage_data._pipeline_loads WHERE status = 'loaded' ORDER BY load_id, resource`),
  state: await query(path, 'SELECT resource, state::VARCHAR AS s FROM snapengage_data._pipeline_state ORDER BY resource'),
  columns: await query(path, `SELECT column_name FROM information_schema.columns WHERE table_name = 'logs' ORDER BY column_name`),
});

describe('a primary key changed to a field the stored rows do not have (a map step adds it)', () => {
  // The stored rows have no value for the new key, so nothing can match them: each record the run reads again (its
  // lookback days) would be stored a second time. Before, both runs went through and left 2 rows for those records.
  for (const [label, first, second] of [
    ['merge, after merging on id', { logs: true }, withKey('merge', (r) => `K${String(r.id)}`)],
    ['merge, after appending', { logs: { writeDisposition: 'append' } }, withKey('merge', (r) => `K${String(r.id)}`)],
    ['append, after appending on id', { logs: { writeDisposition: 'append' } }, withKey('append', (r) => r.id)],
    ['append, renaming id', { logs: { writeDisposition: 'append' } }, withKey('append', (r) => r.id, true)],
    // A child is committed before its parent: the refusal comes before either, so chat_poll's windows stay too.
    ['merge, with chat_poll selected', { logs: true, chat_poll: true }, { ...withKey('merge', (r) => `K${String(r.id)}`), chat_poll: true }],
  ] as const) {
    it(`${label}: is refused, naming the option and the fix, with the database as it was`, async () => {
      const path = `${tmp.dir}/${label.replace(/\W+/g, '-')}.duckdb`;
      await runPipeline(config(first), { env: box.env, destination: { path } });
      const before = await snapshot(path);
      const run = runPipeline(config(second), { env: box.env, destination: { path } });
      await expect(run).rejects.toThrow(DestinationError);
      await expect(run).rejects.toThrow(
        /resources\.logs\.primaryKey: "case_key" has no value in any of the \d+ rows logs holds .*stored a second time: .*keep the primary key those rows were loaded with, or reload logs .*: snapengage-pipeline run --refresh --resources logs /,
      );
      expect(await snapshot(path)).toEqual(before);
      // The fix it names: the refresh loads every record once, under the new key.
      await runPipeline(config(second), { env: box.env, destination: { path }, resources: ['logs'], refresh: true });
      const [rows] = await query(path, 'SELECT count(*)::INTEGER AS n, count(DISTINCT case_key)::INTEGER AS d, count(case_key)::INTEGER AS keyed FROM snapengage_data.logs');
      expect(rows).toEqual({ n: 150, d: 150, keyed: 150 });
    });
  }

  it('is loaded when the new key gives the ids the stored rows have (id renamed by a map step): no record twice', async () => {
    const path = `${tmp.dir}/renamed.duckdb`;
    await runPipeline(config({ logs: true }), { env: box.env, destination: { path } });
    const info = await runPipeline(config(withKey('merge', (r) => r.id, true)), { env: box.env, destination: { path } });
    expect(info.rowCounts.logs).toBeGreaterThan(0);
    const [rows] = await query(path, 'SELECT count(*)::INTEGER AS n, count(DISTINCT coalesce(case_key, id))::INTEGER AS d FROM snapengage_data.logs');
    expect(rows!.n).toBe(150);
    expect(rows!.d).toBe(150);
  });

  it('is not mistaken for a key that holds an object (stored in the columns below it), kept between runs', async () => {
    const path = `${tmp.dir}/object-key.duckdb`;
    const objectKey = config({ logs: { primaryKey: ['ref'], steps: [{ map: (r: SourceRecord) => ({ ...r, ref: { case: r.id } }) }] } });
    await runPipeline(objectKey, { env: box.env, destination: { path } });
    await runPipeline(objectKey, { env: box.env, destination: { path } });
    const [rows] = await query(path, 'SELECT count(*)::INTEGER AS n, count(DISTINCT ref__case)::INTEGER AS d FROM snapengage_data.logs');
    expect(rows).toEqual({ n: 150, d: 150 });
  });
});

describe('a primaryKey override that is not unique', () => {
  // `type` is chat or offline: keyed on it, one record per type is kept. Taking over earlier rows said so (spec-edits
  // test), but a first load, or an append, kept 2 of 150 records without a word (an append counted the rest as
  // "Read again, primary key already stored", which they were not).
  for (const writeDisposition of ['merge', 'append'] as const) {
    it(`${writeDisposition}: says how many records of the run shared a key with another, naming the option`, async () => {
      const path = `${tmp.dir}/not-unique-${writeDisposition}.duckdb`;
      const info = await runPipeline(config({ logs: { writeDisposition, primaryKey: ['type'] } }), { env: box.env, destination: { path } });
      const [stored] = await query(path, 'SELECT count(*)::INTEGER AS n, count(DISTINCT type)::INTEGER AS d FROM snapengage_data.logs');
      expect(stored!.n).toBe(stored!.d);
      const lost = 150 - Number(stored!.n);
      expect(lost).toBeGreaterThan(100);
      expect(info.notes.repeatedKeyRecords).toEqual({ logs: lost });
      expect(info.notes.alreadyStoredRecords).toEqual({});
      expect(String(info)).toContain(
        `Primary key read more than once in this run, one record kept per key: logs ${lost} (if they are different records, resources.logs.primaryKey is not unique: the others were not loaded)`,
      );
    });
  }
});

describe('write disposition and selection changed between runs', () => {
  it('a primary key removed from an appended resource is refused before the run, with the database as it was', async () => {
    // Before, each run with `primaryKey: []` appended the records of the days it read again: 150 cases, then 177, 204.
    const path = `${tmp.dir}/key-removed.duckdb`;
    await runPipeline(config({ logs: { writeDisposition: 'append' } }), { env: box.env, destination: { path } });
    const before = await snapshot(path);
    const run = runPipeline(config({ logs: { writeDisposition: 'append', primaryKey: [] } }), { env: box.env, destination: { path } });
    await expect(run).rejects.toThrow(/^resources\.logs\.primaryKey is empty with writeDisposition "append": .*keep a primary key \(the catalog's: id\), or set writeDisposition "replace"$/);
    expect(await snapshot(path)).toEqual(before);
    expect(before.logs).toEqual([{ n: 150 }]);
  });

  it('merge → append → replace → merge, deselected and selected again, a new pipelineName: each case once, as the API has it', async () => {
    const path = `${tmp.dir}/dispositions.duckdb`;
    const cases = await truth(box);
    for (const [step, logs, extra] of [
      ['merge', { writeDisposition: 'merge' }, {}],
      ['append', { writeDisposition: 'append' }, {}],
      ['replace', { writeDisposition: 'replace' }, {}],
      ['merge after replace', { writeDisposition: 'merge' }, {}],
      ['deselected', { selected: false }, { widgets: true }],
      ['selected again, appended', { writeDisposition: 'append' }, {}],
      ['another pipelineName, merged', { writeDisposition: 'merge' }, { pipelineName: 'other' }],
    ] as const) {
      const { pipelineName, ...more } = extra as { pipelineName?: string };
      await runPipeline({ ...config({ logs, ...more }), ...(pipelineName ? { pipelineName } : {}) }, { env: box.env, destination: { path } });
      expect([step, await expectMatchesTruth(path, 'snapengage_data', cases)]).toEqual([step, []]);
    }
  });
});
