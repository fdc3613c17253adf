// A table of the user's with a FOREIGN KEY on a loader table, and the loads that drop or empty that table: `run
// --refresh` (DROP TABLE) and a `replace` load (DELETE). Each is refused in one line naming the user's table, its
// constraint and the loader table it blocks, with SQL that works in DuckDB 1.5, and leaves the file as it was
// (OPERATIONS.md, "Changing the dataset yourself"). Sandbox over loopback, real DuckDB files, the CLI as users run it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, query, runCli, sandbox, tempDir, withQueries } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
const FOREIGN_KEY = 'my_notes has FOREIGN KEY (case_id) REFERENCES snapengage_data.logs(id)';

describe("a user's table with a FOREIGN KEY on a loader table", () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let base: string;
  let caseId: string;
  let n = 0;

  beforeAll(async () => {
    box = await sandbox({ cases: 60, widgets: 1, days: 3 });
    tmp = tempDir();
    base = `${tmp.dir}/base.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path: base } });
    caseId = String((await query(base, `SELECT id FROM snapengage_data.logs ORDER BY created_at_seconds DESC LIMIT 1`))[0]!.id);
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  /** A copy of the loaded file where the user keyed logs by id and made a table of notes referencing one case. */
  async function withNotes(more = ''): Promise<string> {
    const path = `${tmp.dir}/fk-${++n}.duckdb`;
    await query(path, `ATTACH '${base}' AS src (READ_ONLY); COPY FROM DATABASE src TO "fk-${n}"; DETACH src;
      ALTER TABLE snapengage_data.logs ADD PRIMARY KEY (id);
      CREATE TABLE snapengage_data.my_notes (case_id VARCHAR REFERENCES snapengage_data.logs (id), note VARCHAR);
      INSERT INTO snapengage_data.my_notes VALUES ('${caseId}', 'call back'); ${more}`, 'READ_WRITE');
    return path;
  }

  /**
   * What a refused run must leave as it was: every table's rows and columns, the loaded loads, the state, the
   * registry, the constraints. `_pipeline_loads` gains the failed load's row, as with any failed run (checked apart).
   */
  async function snapshot(path: string): Promise<unknown> {
    // One connection for the six questions: opening the file for each cost ~20 ms.
    return withQueries(path, async (run) => {
      const tables = await run(`SELECT table_name, estimated_size::INTEGER AS rows, column_count::INTEGER AS columns
        FROM duckdb_tables() WHERE schema_name = 'snapengage_data' AND table_name <> '_pipeline_loads' ORDER BY table_name`);
      const counts = await run(`SELECT (SELECT count(*) FROM snapengage_data.logs)::INTEGER AS logs,
        (SELECT count(*) FROM snapengage_data.logs__transcripts)::INTEGER AS transcripts, (SELECT count(*) FROM snapengage_data.my_notes)::INTEGER AS notes`);
      const loads = await run(`SELECT load_id, resource, status FROM snapengage_data._pipeline_loads WHERE status = 'loaded' ORDER BY load_id`);
      const state = await run(`SELECT resource, CAST(state AS VARCHAR) AS state, load_id FROM snapengage_data._pipeline_state ORDER BY resource`);
      const registry = await run(`SELECT (SELECT count(*) FROM snapengage_data._pipeline_tables)::INTEGER AS tables, (SELECT count(*) FROM snapengage_data._pipeline_columns)::INTEGER AS columns`);
      const constraints = await run(`SELECT table_name, constraint_text FROM duckdb_constraints() WHERE schema_name = 'snapengage_data' ORDER BY ALL`);
      return { tables, counts, loads, state, registry, constraints };
    });
  }

  async function failedLoads(path: string): Promise<unknown[]> {
    return query(path, `SELECT resource, error FROM snapengage_data._pipeline_loads WHERE status = 'failed'`);
  }

  it('run --refresh is refused in one line naming the table, its constraint and the loader table, and changes nothing', async () => {
    const path = await withNotes();
    const before = await snapshot(path);
    const refused = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    expect(refused.code).not.toBe(0);
    // Before: `Catalog Error: Could not drop the table because this table is main key table of the table "my_notes": see
    // the DuckDB message; the database is unchanged`, naming no constraint, no loader table and no way out.
    const line = refused.stderr.split('\n').find((l) => l.includes('my_notes'));
    expect(line, refused.stderr).toBeDefined();
    expect(line).toContain(`--refresh cannot drop snapengage_data.logs: ${FOREIGN_KEY} (a table of yours)`);
    expect(line).toContain('nothing of logs was changed');
    expect(line).toContain('DuckDB cannot drop a FOREIGN KEY (ALTER TABLE … DROP CONSTRAINT is not implemented)');
    expect(line).toContain('DROP TABLE "snapengage_data"."my_notes";');
    expect(await snapshot(path)).toEqual(before);
    expect(await failedLoads(path)).toEqual([{ resource: 'logs', error: expect.stringContaining('--refresh cannot drop snapengage_data.logs') }]);
    // The copy it prints keeps the notes without the key, and the refresh then goes through.
    const copy = /or copy it without the key \([^)]*\): (.*?), then rerun/.exec(line!)?.[1];
    expect(copy).toBeDefined();
    await query(path, copy!, 'READ_WRITE');
    const again = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    expect(again.code, again.stderr).toBe(0);
    expect(await query(path, `SELECT n.note FROM snapengage_data.my_notes n JOIN snapengage_data.logs l ON l.id = n.case_id`)).toEqual([{ note: 'call back' }]);
  });

  it('run --refresh: the copy it prints works beside a table of yours named _copy, and says what a copy loses', async () => {
    const path = await withNotes(`CREATE TABLE snapengage_data._copy (mine VARCHAR); INSERT INTO snapengage_data._copy VALUES ('kept');`);
    const refused = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    const line = refused.stderr.split('\n').find((l) => l.includes('my_notes'));
    // Before: "(… CREATE TABLE … AS copies none)" nowhere here, and the copy went through a table named "_copy".
    expect(line).toContain("or copy it without the key (CREATE TABLE … AS copies none of the table's constraints, indexes or column defaults: make again those you keep): ");
    const copy = /or copy it without the key \([^)]*\): (.*?), then rerun/.exec(line!)?.[1];
    // Before: Catalog Error: Table with name "_copy" already exists!
    await query(path, copy!, 'READ_WRITE');
    expect(await query(path, `SELECT mine FROM snapengage_data._copy`)).toEqual([{ mine: 'kept' }]);
    const again = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    expect(again.code, again.stderr).toBe(0);
  });

  it('run --refresh names a table of yours that references yours, which DuckDB must lose first, and prints what then works', async () => {
    const path = await withNotes(`ALTER TABLE snapengage_data.my_notes ADD PRIMARY KEY (note);
      CREATE TABLE snapengage_data.my_tags (note VARCHAR REFERENCES snapengage_data.my_notes (note), tag VARCHAR);
      INSERT INTO snapengage_data.my_tags VALUES ('call back', 'urgent');`);
    const refused = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    const line = refused.stderr.split('\n').find((l) => l.includes('my_notes'));
    // Before: only DROP TABLE / the copy of my_notes, which DuckDB refuses (main key table of the table "my_tags").
    expect(line).toContain('first drop my_tags or copy it without its FOREIGN KEY on my_notes (DuckDB drops no table that another table\'s FOREIGN KEY references), then ');
    const copy = /or copy it without the key \([^)]*\): (.*?), then rerun/.exec(line!)?.[1];
    await expect(query(path, `DROP TABLE snapengage_data.my_notes`, 'READ_WRITE')).rejects.toThrow(/main key table of the table "my_tags"/);
    await query(path, `DROP TABLE snapengage_data.my_tags; ${copy!}`, 'READ_WRITE');
    const again = await runCli(['run', '--resources', 'logs', '--duckdb', path, '--refresh'], { env: box.env, cwd: tmp.dir });
    expect(again.code, again.stderr).toBe(0);
  });

  it('run --refresh of several resources: what was not changed is named by resource, as one committed before it was', async () => {
    const path = await withNotes();
    const logsBefore = await query(path, `SELECT count(*)::INTEGER AS n, max(_load_id) AS load FROM snapengage_data.logs`);
    // Children first, then in reverse order: widgets is refreshed and committed before logs is refused.
    const refused = await runCli(['run', '--resources', 'logs,widgets', '--duckdb', path, '--refresh', '--json'], { env: box.env, cwd: tmp.dir });
    expect(refused.code).not.toBe(0);
    expect(JSON.parse(refused.stdout).committedResources).toEqual(['widgets']);
    const line = refused.stderr.split('\n').find((l) => l.includes('my_notes'));
    expect(line, refused.stderr).toContain('widgets of this run was committed before it (refreshed)');
    // Before: "nothing was changed", beside the widgets refreshed by the same run.
    expect(line).not.toContain('nothing was changed');
    expect(line).toContain('nothing of logs was changed (its tables and state are as before this run');
    expect(await query(path, `SELECT count(*)::INTEGER AS n, max(_load_id) AS load FROM snapengage_data.logs`)).toEqual(logsBefore);
  });

  it('a replace load is refused with the foreign key first, as the cause, the other changes after it, and changes nothing', async () => {
    const path = await withNotes();
    const before = await snapshot(path);
    const replace = definePipeline({ ...config, resources: { logs: { writeDisposition: 'replace' } } });
    const failed = (await runPipeline(replace, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error & { code?: string };
    expect(failed).toBeInstanceOf(Error);
    expect(failed.code).toBe('schema');
    const message = String(failed.message);
    expect(message.split('\n')).toHaveLength(1);
    // Before: `… outside it: logs has PRIMARY KEY(id); my_notes has FOREIGN KEY …`, the cause last and unmarked.
    expect(message).toContain(`outside it: ${FOREIGN_KEY} (the cause of this failure); logs has PRIMARY KEY(id). Undo it with`);
    expect(message).toContain('nothing of this load was committed');
    expect(await snapshot(path)).toEqual(before);
    expect(await failedLoads(path)).toEqual([{ resource: 'logs', error: expect.stringContaining('(the cause of this failure)') }]);
  });

  it('the copies its undo prints keep your comments, on your table and on a loader column; the loader writes its own again', async () => {
    const path = await withNotes(`COMMENT ON TABLE snapengage_data.my_notes IS 'Call-backs to make';
      COMMENT ON COLUMN snapengage_data.my_notes.note IS 'What to say';
      COMMENT ON COLUMN snapengage_data.logs.id IS 'Our case key, the CRM joins on it';`);
    const comments = () => query(path, `SELECT table_name, column_name, comment FROM duckdb_columns()
      WHERE schema_name = 'snapengage_data' AND table_name IN ('logs', 'my_notes') AND comment IS NOT NULL
      UNION ALL SELECT table_name, NULL, comment FROM duckdb_tables()
      WHERE schema_name = 'snapengage_data' AND table_name IN ('logs', 'my_notes') AND comment IS NOT NULL ORDER BY ALL`);
    const before = await comments();
    const yours = [{ table_name: 'logs', column_name: 'id', comment: 'Our case key, the CRM joins on it' },
      { table_name: 'my_notes', column_name: 'note', comment: 'What to say' }, { table_name: 'my_notes', column_name: null, comment: 'Call-backs to make' }];
    expect(before).toEqual(expect.arrayContaining(yours));
    expect(before.some((c) => c.table_name === 'logs' && c.column_name === null)).toBe(true);
    const replace = definePipeline({ ...config, resources: { logs: { writeDisposition: 'replace' } } });
    const failed = (await runPipeline(replace, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    // Its undo: my_notes copied without its FOREIGN KEY, then logs without its PRIMARY KEY.
    const copies = String(failed?.message).match(/CREATE TABLE ".*?RENAME TO "[^"]+";(?: COMMENT ON [^;]*;)*/g);
    expect(copies, String(failed?.message)).toHaveLength(2);
    await query(path, copies!.join(' '), 'READ_WRITE');
    // Before: CREATE TABLE … AS keeps no comment and none was set again: all three of yours were gone.
    expect(await comments()).toEqual(expect.arrayContaining(yours));
    await runPipeline(replace, { env: box.env, destination: { path } });
    // The loader's texts on logs (left out of the copy) are written again; yours stay yours.
    expect(await comments()).toEqual(expect.arrayContaining([...before, ...yours]));
  });

  it('a NOT NULL the rows break is named first when another change on the tables is listed before it', async () => {
    const path = `${tmp.dir}/nn-${++n}.duckdb`;
    await query(path, `ATTACH '${base}' AS src (READ_ONLY); COPY FROM DATABASE src TO "nn-${n}"; DETACH src;
      ALTER TABLE snapengage_data.logs ALTER id SET NOT NULL;
      UPDATE snapengage_data.logs__labels SET name = 'x' WHERE name IS NULL;
      ALTER TABLE snapengage_data.logs__labels ALTER name SET NOT NULL;`, 'READ_WRITE');
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0], cases: [{ labels: [{ name: null, value: 'v' }] }] });
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    // Before: `… outside it: logs.id is NOT NULL; logs__labels.name is NOT NULL.`
    expect(String(failed?.message)).toContain('outside it: logs__labels.name is NOT NULL (the cause of this failure); logs.id is NOT NULL. Undo it with');
  });

  it('a NOT NULL on a column of yours whose name has a space is named as the cause', async () => {
    const path = `${tmp.dir}/nn-${++n}.duckdb`;
    await query(path, `ATTACH '${base}' AS src (READ_ONLY); COPY FROM DATABASE src TO "nn-${n}"; DETACH src;
      ALTER TABLE snapengage_data.logs ALTER id SET NOT NULL;
      ALTER TABLE snapengage_data.logs ADD COLUMN "My Col" VARCHAR; UPDATE snapengage_data.logs SET "My Col" = 'mine';
      ALTER TABLE snapengage_data.logs ALTER "My Col" SET NOT NULL;`, 'READ_WRITE');
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0], cases: [{ description: 'no My Col' }] });
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    // Before: DuckDB's "NOT NULL constraint failed: logs.My Col" was read as the column "my": nothing was marked.
    expect(String(failed?.message)).toContain('outside it: logs.My Col is NOT NULL (the cause of this failure); logs.id is NOT NULL. Undo it with');
  });
});
