// `show` after many loads (bounded by loads, not by resource lines), with failed loads, empty and child tables and
// variant columns. `show` while a run extracts: read-while-loading.test.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { showDataset } from '../src/show.js';
import { otherProcess, tempDir, thingsResource } from './helpers.js';

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('show-');
});
afterAll(() => tmp.cleanup());

describe('show', () => {
  it('before any run: one line that says how to load, in a scaffolded project and without one', async () => {
    const path = join(tmp.dir, 'never-loaded.duckdb');
    await expect(showDataset({ path, dataset: 'data' })).rejects.toThrow(
      `No DuckDB file at ${path}: load it first (\`npm start\` in a scaffolded project, else \`snapengage-pipeline run\`), or pass --duckdb <file>`,
    );
  });

  it('names the other datasets of the file (destination.dataset renamed: the old one stays, unseen otherwise), and none when alone', async () => {
    // Before, show of the new dataset looked like the whole file: the old dataset's tables and loads were not hinted at.
    const path = join(tmp.dir, 'two-datasets.duckdb');
    for (const dataset of ['snapengage_data', 'renamed']) {
      const dest = await DuckDBDestination.open({ path, dataset, pipelineName: 'p' });
      const w = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
      await w.write([{ id: 'a' }]);
      await w.commit(null);
      await dest.close();
      const lines = (await showDataset({ path, dataset })).split('\n');
      expect(lines.filter((line) => line.startsWith('Other datasets'))).toEqual(
        dataset === 'renamed' ? ['Other datasets in this file (each with its own tables, loads and state): snapengage_data (show --dataset snapengage_data)'] : [],
      );
    }
    expect((await showDataset({ path, dataset: 'snapengage_data' })).split('\n')[1]).toBe(
      'Other datasets in this file (each with its own tables, loads and state): renamed (show --dataset renamed)',
    );
  });

  it('a run lock that cannot be read is named as such, not as a run of PID 0', async () => {
    const path = join(tmp.dir, 'unreadable-lock.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
    await w.write([{ id: 'a' }]);
    await w.commit(null);
    await dest.close();
    mkdirSync(`${path}.staging`);
    writeFileSync(`${path}.staging/run.lock`, 'not json');
    const out = await showDataset({ path, dataset: 'data' });
    expect(out.split('\n')[1]).toBe(
      `A run lock ${path}.staging/run.lock that cannot be read is there: a pipeline run may be loading into this file (if none is, delete the lock).`,
    );
  });

  it('lists the last loads with every resource line of each, says how many are left out, and shows failures', async () => {
    const path = join(tmp.dir, 'many.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const other = { ...thingsResource, name: 'others' };
    for (let i = 0; i < 12; i++) {
      const loadId = newLoadId();
      for (const resource of [thingsResource, other]) {
        const writer = dest.createResourceWriter({ loadId, resource, writeDisposition: i === 11 ? 'replace' : 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
        // Load 3 sends a text where `count` is an integer (a variant column); the last load replaces with nothing.
        if (i < 11) await writer.write([{ id: `r${i}`, count: i === 3 ? 'many' : i, items: [{ k: String(i) }] }]);
        await writer.commit({ windows: { w1: { lastEnd: `2026-01-${String(i + 1).padStart(2, '0')}` } } });
      }
    }
    await dest.recordFailedLoad(newLoadId(), 'things', 'HTTP 500 from the API', new Date(Date.now() - 1500));
    await dest.close();

    const out = await showDataset({ path, dataset: 'data' });
    const section = out.slice(out.indexOf('Last loads'), out.indexOf('Incremental state')).trim().split('\n');
    expect(section[0]).toBe('Last loads (5 of 13)');
    // 5 loads: the failed one (one resource) and four with two resources each, then the note.
    expect(section).toHaveLength(1 + 1 + 4 * 2 + 1);
    expect(section[1]).toMatch(/^ {2}\d+\.\d+ {2}things +failed +\d+\.\d\d s {2}\S+Z {2}  error: HTTP 500 from the API$/);
    expect(section.at(-1)).toBe('  ... 8 earlier loads not shown (openDataset(...).loads(n) lists more)');
    const loadIds = section.slice(2, -1).map((line) => line.trim().split(/\s+/)[0]);
    expect(new Set(loadIds).size).toBe(4);

    // Columns wrapped at 80 (see 'show at 80 columns').
    expect(out).toMatch(/\n {2}things {2}0 rows\n {4}id VARCHAR, count BIGINT, never VARCHAR, _row_id VARCHAR, _load_id VARCHAR,\n {4}count__v_text VARCHAR\n/);
    expect(out).toMatch(/\n {2}things__items {2}0 rows\n {4}k VARCHAR, _row_id VARCHAR, _parent_id VARCHAR, _root_id VARCHAR,\n {4}_list_idx BIGINT, _load_id VARCHAR\n/);
    expect(out).toMatch(/\n {2}things {2}w1 {2}lastEnd 2026-01-12$/);
  });

  it('says one earlier load in the singular', async () => {
    const path = join(tmp.dir, 'six.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    for (let i = 0; i < 6; i++) {
      const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
      await writer.write([{ id: `r${i}`, count: i }]);
      await writer.commit({ windows: { w1: { lastEnd: `2026-01-0${i + 1}` } } });
    }
    await dest.close();
    const out = await showDataset({ path, dataset: 'data' });
    const section = out.slice(out.indexOf('Last loads'), out.indexOf('Incremental state')).trim().split('\n');
    expect(section[0]).toBe('Last loads (5 of 6)');
    expect(section.at(-1)).toBe('  ... 1 earlier load not shown (openDataset(...).loads(n) lists more)');
  });

  it("shows a child's windows through the parent that drove it, and no line for a resource that keeps no state", async () => {
    const path = join(tmp.dir, 'child-state.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const loadId = newLoadId();
    const child = { ...thingsResource, name: 'notes' };
    for (const [resource, state] of [[thingsResource, null], [child, { parents: { things: { windows: { w1: { lastEnd: '2026-02-03' } } } } }]] as const) {
      const w = dest.createResourceWriter({ loadId, resource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
      await w.write([{ id: 'a' }]);
      await w.commit(state);
    }
    await dest.close();
    const out = await showDataset({ path, dataset: 'data' });
    expect(out.slice(out.indexOf('Incremental state')).split('\n')).toEqual(['Incremental state', '  notes  (via things)  w1  lastEnd 2026-02-03']);
  });

  it('shows the days --limit-pages samples read per widget under the windows, a child\'s through its parent, many as one line', async () => {
    const path = join(tmp.dir, 'sampled-days.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const loadId = newLoadId();
    const child = { ...thingsResource, name: 'notes' };
    const many = { ...thingsResource, name: 'many' };
    const sampled = { w1: { firstStart: '2026-01-05' }, w2: { firstStart: '2026-01-10' } };
    // As a full load after a sample commits them: windows, and the sampled days beside them (resume.ts withSampled).
    const states = [
      [thingsResource, { windows: { w1: { lastEnd: '2026-02-03', firstStart: '2026-01-20' } }, sampled }],
      [child, { parents: { things: { windows: { w1: { lastEnd: '2026-02-03' } }, sampled } } }],
      [many, { windows: {}, sampled: Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`m${i}`, { firstStart: i < 9 ? '2026-01-05' : '2026-01-07' }])) }],
    ] as const;
    for (const [resource, state] of states) {
      const w = dest.createResourceWriter({ loadId, resource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
      await w.write([{ id: 'a' }]);
      await w.commit(state);
    }
    await dest.close();
    const out = await showDataset({ path, dataset: 'data' });
    // Resources by name (dataset.state()), each with its windows first.
    expect(out.slice(out.indexOf('Incremental state')).split('\n')).toEqual([
      'Incremental state',
      '  many  12 items  sampled from 2026-01-07 (3), 2026-01-05 (9) (--limit-pages)',
      '  notes  (via things)  w1  lastEnd 2026-02-03',
      '  notes  (via things)  w1  sampled from 2026-01-05 (--limit-pages)',
      '  notes  (via things)  w2  sampled from 2026-01-10 (--limit-pages)',
      '  things  w1  lastEnd 2026-02-03  from 2026-01-20',
      '  things  w1  sampled from 2026-01-05 (--limit-pages)',
      '  things  w2  sampled from 2026-01-10 (--limit-pages)',
    ]);
  });

  it("prints a stored error's terminal controls and line breaks escaped (a row an older version wrote from a server's body)", async () => {
    const path = join(tmp.dir, 'escapes.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const w = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
    await w.write([{ id: 'a' }]);
    await w.commit(null);
    await dest.recordFailedLoad(newLoadId(), 'things', 'the server said: \x1b]52;c;cm0gLXJmIH4=\x07\x1b[1A\x1b[2K\nfake line \u202eevil \u200fhidden\u200e', new Date(Date.now() - 10));
    await dest.close();
    const out = await showDataset({ path, dataset: 'data' });
    expect(out).toContain('error: the server said: \\u001b]52;c;cm0gLXJmIH4=\\u0007\\u001b[1A\\u001b[2K\\u000afake line \\u202eevil \\u200fhidden\\u200e');
    expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/);
  });

  it('two pipelines sharing a dataset: each load and state line says whose it is (one pipeline: no tag)', async () => {
    const path = join(tmp.dir, 'two-pipelines.duckdb');
    for (const [pipelineName, lastEnd] of [['nightly', '2026-02-01'], ['backfill', '2025-06-30']] as const) {
      const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName });
      const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
      await writer.write([{ id: pipelineName }]);
      await writer.commit({ windows: { w1: { lastEnd } } });
      await dest.close();
    }
    const out = await showDataset({ path, dataset: 'data' });
    expect(out).toMatch(/\n {2}\d+\.\d+ {2}\[nightly\] things +loaded /);
    expect(out).toMatch(/\n {2}\d+\.\d+ {2}\[backfill\] things +loaded /);
    expect(out).toMatch(/\n {2}\[nightly\] things {2}w1 {2}lastEnd 2026-02-01/);
    expect(out).toMatch(/\n {2}\[backfill\] things {2}w1 {2}lastEnd 2025-06-30/);
  });

  it('waits while a pipeline run has the file open for its commit; refuses at once a file held by another program', async () => {
    const path = join(tmp.dir, 'committing.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'merge', primaryKey: ['id'], maxNestingDepth: 4 });
    await writer.write([{ id: 'a' }]);
    await writer.commit(null);
    await dest.close();
    // Another process holds DuckDB's lock, as a run does while it commits; with `asRun` it also holds the run lock.
    const program = await otherProcess(path);
    try {
      await expect(showDataset({ path, dataset: 'data' })).rejects.toThrow(new RegExp(`is locked by another process \\(PID ${program.pid}\\)`));
    } finally {
      await program.release();
    }
    const run = await otherProcess(path, { asRun: true });
    const shown = showDataset({ path, dataset: 'data' });
    let settled = false;
    shown.then(() => (settled = true), () => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false); // still waiting for the run's commit
    await run.release();
    expect(await shown).toMatch(/\n {2}things {2}1 row\n/);
  }, 60_000);
});

describe('show at 80 columns', () => {
  it("wraps a wide table's columns onto lines of at most 80, each column whole, and a load's many row counts below it", async () => {
    const path = join(tmp.dir, 'wide.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'data', pipelineName: 'p' });
    const writer = dest.createResourceWriter({ loadId: newLoadId(), resource: thingsResource, writeDisposition: 'append', primaryKey: [], maxNestingDepth: 4 });
    const record: Record<string, unknown> = { id: 'a' };
    for (let i = 0; i < 40; i++) record[`requester_details_field_${i}`] = `v${i}`;
    for (const list of ['labels', 'transcripts', 'javascript_variables', 'operator_variables']) record[list] = [{ name: 'n', value: 'v' }];
    await writer.write([record]);
    await writer.commit(null);
    await dest.close();

    const lines = (await showDataset({ path, dataset: 'data' })).split('\n');
    // The first line names the file, whose path is as long as it is; a load's line has ~85 characters of fixed fields.
    for (const line of lines.slice(1)) expect(line.length, line).toBeLessThanOrEqual(/^ {2}\d+\.\d+ /.test(line) ? 120 : 80);
    const start = lines.indexOf('  things  1 row') + 1;
    const end = lines.findIndex((line, i) => i > start && !line.startsWith('    '));
    const columns = lines.slice(start, end).map((line) => line.trim()).join(' ').split(', ');
    expect(columns[0]).toBe('id VARCHAR');
    expect(columns.filter((c) => /^requester_details_field_\d+ VARCHAR$/.test(c))).toHaveLength(40);
    const loads = lines.slice(lines.findIndex((line) => line.startsWith('Last loads')) + 1, lines.indexOf('Incremental state') - 1);
    expect(loads[0]).toMatch(/^ {2}\d+\.\d+ {2}things +loaded/);
    expect(loads.slice(1).every((line) => line.startsWith('      '))).toBe(true);
    expect(loads.slice(1).join(' ').trim().split(/\s+/).sort()).toEqual(
      ['things=1', 'things__javascript_variables=1', 'things__labels=1', 'things__operator_variables=1', 'things__transcripts=1'],
    );
  });
});
