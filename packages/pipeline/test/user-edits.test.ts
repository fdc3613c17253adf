// The dataset after other people and tools touched it: a column, index, constraint or type change someone made in the
// DuckDB CLI, and what the next run does with it (OPERATIONS.md, "Changing the dataset yourself"). Sandbox over
// loopback, real DuckDB files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, query, sandbox, tempDir, truth } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('a dataset changed by hand between runs', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let base: string;
  let n = 0;

  beforeAll(async () => {
    box = await sandbox({ cases: 200, widgets: 1, days: 5 });
    tmp = tempDir();
    base = `${tmp.dir}/base.duckdb`;
    await runPipeline(config, { env: box.env, destination: { path: base } });
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  /** A copy of the loaded file with `sql` run on it (as in the DuckDB CLI), and a new case holding `fields`. */
  async function changed(sql: string, fields: Record<string, unknown>): Promise<string> {
    const path = `${tmp.dir}/edit-${++n}.duckdb`;
    await query(path, `ATTACH '${base}' AS src (READ_ONLY); COPY FROM DATABASE src TO "edit-${n}"; DETACH src; ${sql}`, 'READ_WRITE');
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0], cases: [fields] });
    return path;
  }

  it('a column of your own is never taken by a field the API adds later under its name, whatever its type', async () => {
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD COLUMN team_size INTEGER DEFAULT 3; ALTER TABLE snapengage_data.logs ADD COLUMN account_tier VARCHAR;
       UPDATE snapengage_data.logs SET account_tier = 'emea'`,
      { team_size: 'large', account_tier: 'from the API' },
    );
    // Before: the INTEGER column failed every run (a conversion error), the VARCHAR one was written into.
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info.toString()).toContain('new columns logs.team_size_1 VARCHAR (key "team_size", its name taken), logs.account_tier_1 VARCHAR (key "account_tier", its name taken)');
    const rows = await query(path, `SELECT team_size, account_tier, team_size_1, account_tier_1 FROM snapengage_data.logs WHERE account_tier_1 IS NOT NULL`);
    expect(rows).toEqual([{ team_size: 3, account_tier: null, team_size_1: 'large', account_tier_1: 'from the API' }]);
    const mine = await query(path, `SELECT count(*) FILTER (account_tier = 'emea')::INTEGER AS emea, count(*)::INTEGER AS cases FROM snapengage_data.logs`);
    expect(mine[0]!.emea).toBe(Number(mine[0]!.cases) - 1);
    // And the next run keeps the names it chose.
    const again = await runPipeline(config, { env: box.env, destination: { path } });
    expect(again.toString()).not.toContain('new columns');
  });

  it('a type, NOT NULL or unique index the new rows break is named with the statement that undoes it, which works', async () => {
    const path = await changed(
      `UPDATE snapengage_data.logs SET chat_agent_alias = '7';
       ALTER TABLE snapengage_data.logs ALTER chat_agent_alias SET DATA TYPE INTEGER;
       UPDATE snapengage_data.logs__labels SET name = 'x' WHERE name IS NULL;
       ALTER TABLE snapengage_data.logs__labels ALTER name SET NOT NULL;
       CREATE UNIQUE INDEX one_per_type ON snapengage_data.logs__transcripts (_row_id, _list_idx);`,
      { chat_agent_alias: 'Sam Q', labels: [{ name: null, value: 'v' }] },
    );
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error & { code?: string };
    // Before: `Conversion Error: Could not convert string 'Sam Q' to INT32 …: see the DuckDB message`, naming no change.
    expect(failed).toBeInstanceOf(Error);
    expect(failed.code).toBe('schema');
    const message = String(failed.message);
    expect(message.split('\n')).toHaveLength(1);
    // The change DuckDB's line names (NOT NULL constraint failed: logs__labels.name) first, the others after it.
    expect(message).toContain("the loaded rows break one of these changes made to the loader's tables outside it: logs__labels.name is NOT NULL (the cause of this failure); logs.chat_agent_alias is INTEGER, the loader made it VARCHAR; logs__transcripts has the unique index one_per_type.");
    const undo = /Undo it with (.*) \(or drop such a column of the loader/.exec(message)?.[1];
    // Index drops first: DuckDB alters no column of a table that has an index.
    expect(undo).toBe('DROP INDEX "snapengage_data"."one_per_type"; ALTER TABLE "snapengage_data"."logs" ALTER "chat_agent_alias" SET DATA TYPE VARCHAR; ALTER TABLE "snapengage_data"."logs__labels" ALTER "name" DROP NOT NULL;');
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE chat_agent_alias::VARCHAR = 'Sam Q'`)).toEqual([{ n: 0 }]);
    await query(path, undo!, 'READ_WRITE');
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE chat_agent_alias = 'Sam Q'`)).toEqual([{ n: 1 }]);
  });
  it('columns of your own keep their values when a merge rewrites the record, on the root and on child tables', async () => {
    // Cases the rerun reads again (its lookback days are yesterday and today), each with two transcript lines at least.
    const cases = await truth(box);
    const recent = cases.filter((c) => Number(c.created_at_seconds) * 1000 > Date.now() - 86_400_000 && (c.transcripts?.length ?? 0) >= 2);
    expect(recent.length).toBeGreaterThanOrEqual(4);
    const [rewritten, rewrittenNull, rewrittenBare, reread] = recent.map((c) => c.id);
    // And one it does not read again.
    const old = cases.find((c) => Number(c.created_at_seconds) * 1000 < Date.now() - 3 * 86_400_000)?.id;
    expect(old).toBeDefined();
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD COLUMN reviewed BOOLEAN;
       ALTER TABLE snapengage_data.logs ADD COLUMN "Team Note" VARCHAR DEFAULT 'x';
       ALTER TABLE snapengage_data.logs RENAME survey_comments TO "Survey_Comments";
       ALTER TABLE snapengage_data.logs__transcripts ADD COLUMN flagged BOOLEAN;
       UPDATE snapengage_data.logs SET reviewed = true, "Team Note" = 'checked by ' || id WHERE id IN ('${rewritten}', '${reread}', '${old}');
       UPDATE snapengage_data.logs SET reviewed = false, "Team Note" = NULL WHERE id = '${rewrittenNull}';
       UPDATE snapengage_data.logs__transcripts SET flagged = true WHERE _list_idx = 1
         AND _root_id = (SELECT _row_id FROM snapengage_data.logs WHERE id = '${rewritten}');`,
      { description: 'new after the annotations' },
    );
    // Late survey results: the rerun rewrites these three records (deletes their rows, inserts the new ones).
    await admin(box, 'surveys', { updates: [rewritten, rewrittenNull, rewrittenBare].map((caseId, i) => ({ caseId, survey_score: 90 + i, survey_comments: `late ${i}` })) });
    const [before] = await query(path, `SELECT max(_load_id) AS load FROM snapengage_data.logs`);
    await runPipeline(config, { env: box.env, destination: { path } });

    const rows = await query(path, `SELECT id, survey_score::INTEGER AS survey_score, reviewed, "Team Note" AS note, survey_comments AS comments, _load_id > '${before!.load}' AS rewritten
      FROM snapengage_data.logs WHERE id IN ('${rewritten}', '${rewrittenNull}', '${rewrittenBare}', '${reread}', '${old}') OR description = 'new after the annotations'`);
    const byId = (id: string | undefined) => rows.find((r) => r.id === id);
    // Before: the rewritten records had reviewed NULL and the note 'x' (the column's default) again. survey_comments,
    // renamed only in case, is still the loader's column: it takes the new comments, not the old ones back.
    expect(byId(rewritten)).toMatchObject({ survey_score: 90, comments: 'late 0', reviewed: true, note: `checked by ${rewritten}`, rewritten: true });
    expect(byId(rewrittenNull)).toMatchObject({ survey_score: 91, comments: 'late 1', reviewed: false, note: null, rewritten: true });
    expect(byId(rewrittenBare)).toMatchObject({ survey_score: 92, comments: 'late 2', reviewed: null, note: 'x', rewritten: true });
    expect(byId(reread)).toMatchObject({ reviewed: true, note: `checked by ${reread}`, rewritten: false });
    expect(byId(old)).toMatchObject({ reviewed: true, note: `checked by ${old}`, rewritten: false });
    // A new record gets the columns' defaults.
    const fresh = rows.filter((r) => r.id !== undefined && ![rewritten, rewrittenNull, rewrittenBare, reread, old].includes(String(r.id)));
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({ reviewed: null, note: 'x', rewritten: true });
    // The child row at the same place in the rewritten record's list keeps its value; the others have none.
    const flagged = await query(path, `SELECT t._list_idx, t.flagged, t._load_id > '${before!.load}' AS rewritten FROM snapengage_data.logs__transcripts t
      JOIN snapengage_data.logs l ON t._root_id = l._row_id WHERE l.id = '${rewritten}' ORDER BY t._list_idx`);
    expect(flagged.length).toBeGreaterThanOrEqual(2);
    expect(flagged.map((r) => r.flagged)).toEqual(flagged.map((r) => (Number(r._list_idx) === 1 ? true : null)));
    expect(flagged.every((r) => r.rewritten === true)).toBe(true);

    // A replace load rewrites every row: the columns stay, with their defaults. A refresh re-creates the tables without them.
    await runPipeline(definePipeline({ ...config, resources: { logs: { writeDisposition: 'replace' } } }), { env: box.env, destination: { path } });
    expect(await query(path, `SELECT count(*) FILTER (reviewed IS NOT NULL)::INTEGER AS reviewed, count(*) FILTER ("Team Note" IS DISTINCT FROM 'x')::INTEGER AS notes FROM snapengage_data.logs`))
      .toEqual([{ reviewed: 0, notes: 0 }]);
    await runPipeline(config, { env: box.env, destination: { path }, refresh: true });
    expect(await query(path, `SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'snapengage_data'
      AND column_name IN ('reviewed', 'Team Note', 'flagged', 'Survey_Comments')`)).toEqual([]);
  });

  it('the undo of a type change works on a table with an index (dropped first, made again after), and a widened type is not blamed', async () => {
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ALTER survey_score SET DATA TYPE VARCHAR;
       UPDATE snapengage_data.logs SET chat_agent_alias = '8';
       ALTER TABLE snapengage_data.logs ALTER chat_agent_alias SET DATA TYPE INTEGER;
       CREATE INDEX "By Alias" ON snapengage_data.logs (chat_agent_alias);`,
      { chat_agent_alias: 'Kim R' },
    );
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    const message = String(failed?.message);
    // Before: survey_score, widened to VARCHAR (which loads on), was named as a change the rows break, to be undone.
    expect(message).toContain("outside it: logs.chat_agent_alias is INTEGER, the loader made it VARCHAR. Undo it with");
    expect(message).not.toContain('survey_score');
    const undo = /Undo it with (.*) \(or drop such a column of the loader/.exec(message)?.[1];
    // Before: the ALTER alone, which DuckDB refuses on an indexed column (Cannot change the type of this column: an index depends on it!).
    await query(path, undo!, 'READ_WRITE');
    expect(await query(path, `SELECT index_name, sql FROM duckdb_indexes() WHERE schema_name = 'snapengage_data'`))
      .toEqual([{ index_name: 'By Alias', sql: 'CREATE INDEX "By Alias" ON snapengage_data.logs(chat_agent_alias);' }]);
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE chat_agent_alias = 'Kim R'`)).toEqual([{ n: 1 }]);
  });

  it('a NOT NULL on a column of your own that new rows leave empty is undone without being told to drop the column', async () => {
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD COLUMN owner VARCHAR; UPDATE snapengage_data.logs SET owner = 'me';
       ALTER TABLE snapengage_data.logs ALTER owner SET NOT NULL;
       ALTER TABLE snapengage_data.logs ADD COLUMN checked BOOLEAN DEFAULT false; ALTER TABLE snapengage_data.logs ALTER checked SET NOT NULL;`,
      { description: 'no owner yet' },
    );
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    const message = String(failed?.message);
    expect(message).toContain("NOT NULL constraint failed: logs.owner: the loaded rows break one of these changes made to the loader's tables outside it: logs.owner is NOT NULL. Undo it with");
    // Before: '(or drop such a column: the next load re-creates it)', of a column the loader never made, holding the user's
    // values. The NOT NULL of checked, which new rows fill with its default, is no cause: not named, nor undone.
    expect(message).not.toContain('checked');
    expect(message).not.toContain('drop such a column');
    const undo = /Undo it with (.*), then rerun/.exec(message)?.[1];
    expect(undo).toBe('ALTER TABLE "snapengage_data"."logs" ALTER "owner" DROP NOT NULL;');
    await query(path, undo!, 'READ_WRITE');
    await runPipeline(config, { env: box.env, destination: { path } });
    // The 200 cases of the base keep their value; the new case has none.
    expect(await query(path, `SELECT count(*) FILTER (owner = 'me')::INTEGER AS mine, count(*) FILTER (description = 'no owner yet' AND owner IS NULL)::INTEGER AS new FROM snapengage_data.logs`))
      .toEqual([{ mine: 200, new: 1 }]);
  });

  it('a foreign key of your own table on a loader table is named and undone first, before the copy of the table it references', async () => {
    // The newest case of the base file (cases the other tests added are not in it): the rerun reads it again.
    const caseId = String((await query(base, `SELECT id FROM snapengage_data.logs ORDER BY created_at_seconds DESC LIMIT 1`))[0]!.id);
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD PRIMARY KEY (id);
       CREATE TABLE snapengage_data.my_notes (case_id VARCHAR REFERENCES snapengage_data.logs (id), note VARCHAR);
       INSERT INTO snapengage_data.my_notes VALUES ('${caseId}', 'call back');`,
      { description: 'after the foreign key' },
    );
    await admin(box, 'surveys', { updates: [{ caseId, survey_score: 42, survey_comments: 'late' }] });
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    const message = String(failed?.message);
    // Before: only logs' PRIMARY KEY and the NOT NULL it implies were named, and the printed copy of logs failed on
    // DROP TABLE (Could not drop the table because this table is main key table of the table "my_notes").
    // The foreign key the merge's delete breaks first, as the cause (before that fix, last and unmarked).
    expect(message).toContain("outside it: my_notes has FOREIGN KEY (case_id) REFERENCES snapengage_data.logs(id) (the cause of this failure); logs has PRIMARY KEY(id). Undo it with");
    const undo = /Undo it with (.*), then rerun/.exec(message)?.[1]?.replaceAll(/a copy without it \((?:[^()]|\([^()]*\))*\): /g, '');
    expect(undo?.indexOf('DROP TABLE "snapengage_data"."my_notes"')).toBeLessThan(undo!.indexOf('DROP TABLE "snapengage_data"."logs"'));
    await query(path, undo!, 'READ_WRITE');
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, `SELECT survey_score::INTEGER AS score, n.note FROM snapengage_data.logs JOIN snapengage_data.my_notes n ON n.case_id = id WHERE id = '${caseId}'`))
      .toEqual([{ score: 42, note: 'call back' }]);
  });

  it('the copies of the undo work beside a table named _copy, say what a copy loses, and name a table of yours that references yours', async () => {
    const caseId = String((await query(base, `SELECT id FROM snapengage_data.logs ORDER BY created_at_seconds DESC LIMIT 1`))[0]!.id);
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD PRIMARY KEY (id);
       CREATE TABLE snapengage_data.my_notes (case_id VARCHAR REFERENCES snapengage_data.logs (id), note VARCHAR PRIMARY KEY);
       INSERT INTO snapengage_data.my_notes VALUES ('${caseId}', 'call back');
       CREATE TABLE snapengage_data.my_tags (note VARCHAR REFERENCES snapengage_data.my_notes (note), tag VARCHAR);
       CREATE TABLE snapengage_data._copy (mine VARCHAR); INSERT INTO snapengage_data._copy VALUES ('kept');`,
      { description: 'beside _copy' },
    );
    await admin(box, 'surveys', { updates: [{ caseId, survey_score: 43, survey_comments: 'later' }] });
    const failed = (await runPipeline(config, { env: box.env, destination: { path } }).then(() => undefined, (e: unknown) => e)) as Error;
    const message = String(failed?.message);
    // Before: "(DuckDB drops no such constraint; CREATE TABLE … AS copies none)", saying nothing of indexes or defaults.
    expect(message).toContain("a copy without it (DuckDB drops no such constraint; CREATE TABLE … AS copies none of the table's constraints, indexes or column defaults: make again those you keep");
    // Before: my_tags was not named, and the copy of my_notes failed (main key table of the table "my_tags").
    expect(message).toContain('first drop my_tags or copy it without its FOREIGN KEY on my_notes before it, as DuckDB drops no table that another table\'s FOREIGN KEY references): CREATE TABLE "snapengage_data"."my_notes_undo_copy"');
    const undo = /Undo it with (.*), then rerun/.exec(message)?.[1]?.replaceAll(/a copy without it \((?:[^()]|\([^()]*\))*\): /g, '');
    // Before: Catalog Error: Table with name "_copy" already exists!
    await query(path, `DROP TABLE snapengage_data.my_tags; ${undo!}`, 'READ_WRITE');
    expect(await query(path, `SELECT mine FROM snapengage_data._copy`)).toEqual([{ mine: 'kept' }]);
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, `SELECT survey_score::INTEGER AS score, n.note FROM snapengage_data.logs JOIN snapengage_data.my_notes n ON n.case_id = id WHERE id = '${caseId}'`))
      .toEqual([{ score: 43, note: 'call back' }]);
  });

  it('a column of your own named _overflow is not taken for the JSON of fields past the column budget', async () => {
    const path = await changed(
      `ALTER TABLE snapengage_data.logs ADD COLUMN _overflow VARCHAR; UPDATE snapengage_data.logs SET _overflow = 'mine';`,
      // More keys than the table has room for (MAX_TABLE_COLUMNS): the rest go to the overflow column, as JSON.
      { description: 'wide', visitor_map: Object.fromEntries(Array.from({ length: 200 }, (_, k) => [`id_${k}`, k])) },
    );
    await runPipeline(config, { env: box.env, destination: { path } });
    // Before: the loader took _overflow as its own (ADD COLUMN IF NOT EXISTS added nothing) and wrote the JSON into it.
    const [wide] = await query(path, `SELECT _overflow, _overflow_1 FROM snapengage_data.logs WHERE description = 'wide'`);
    expect(wide!._overflow).toBeNull();
    expect(Object.keys((JSON.parse(String(wide!._overflow_1)) as { visitor_map: object }).visitor_map).length).toBeGreaterThan(0);
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE _overflow = 'mine'`)).toEqual([{ n: 200 }]);
    // And the next run keeps the name it chose.
    expect(String(await runPipeline(config, { env: box.env, destination: { path } }))).not.toContain('new columns');
  });
});
