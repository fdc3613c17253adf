// The dataset after other people and tools touched it: a column, index, constraint or type change someone made in the
// DuckDB CLI, and what the next run does with it (OPERATIONS.md, "Changing the dataset yourself"). Sandbox over
// loopback, real DuckDB files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, query, sandbox, tempDir } from './helpers.js';

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
    expect(message).toContain("the loaded rows break one of these changes made to the loader's tables outside it: logs.chat_agent_alias is INTEGER, the loader made it VARCHAR; logs__labels.name is NOT NULL; logs__transcripts has the unique index one_per_type.");
    const undo = /Undo it with (.*) \(or drop such a column/.exec(message)?.[1];
    expect(undo).toBe('ALTER TABLE "snapengage_data"."logs" ALTER "chat_agent_alias" SET DATA TYPE VARCHAR; ALTER TABLE "snapengage_data"."logs__labels" ALTER "name" DROP NOT NULL; DROP INDEX "snapengage_data"."one_per_type";');
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE chat_agent_alias::VARCHAR = 'Sam Q'`)).toEqual([{ n: 0 }]);
    await query(path, undo!, 'READ_WRITE');
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE chat_agent_alias = 'Sam Q'`)).toEqual([{ n: 1 }]);
  });
});
