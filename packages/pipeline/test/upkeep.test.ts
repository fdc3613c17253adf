// OPERATIONS.md's "Deleting old data, compacting a file", run as written on a file loaded from the sandbox: the delete
// leaves no orphan child rows and names every child table of logs, later runs neither fail nor bring the deleted cases
// back, and runs load on into the compacted copy with their state.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/run.js';
import { PACKAGE_DIR, query, sandbox, tempDir, withQueries } from './helpers.js';

const section = readFileSync(join(PACKAGE_DIR, 'OPERATIONS.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Deleting old data')) ?? '';
const [deleteSql = '', perCaseSql = ''] = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
const compactSql = /`(ATTACH '[^`]*)`/.exec(section)?.[1] ?? '';
const config = { resources: { logs: true, chat_poll: true, visitor_typing: true }, rateLimit: { requestsPerSecond: 0 } } as const;
/** The tables of the resources read per case, which name it by case_id. */
const PER_CASE = ['chat_poll', 'visitor_typing'];
const D = 'snapengage_data';

describe('OPERATIONS.md: deleting old data, compacting a file', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  beforeAll(async () => {
    box = await sandbox({ cases: 300, widgets: 2, days: 20, now: Date.parse('2025-06-30T18:00:00Z') });
    tmp = tempDir('upkeep-');
    path = join(tmp.dir, 'snapengage.duckdb');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('the delete names every child table of logs, leaves no orphans, and stays deleted through later runs', async () => {
    // A fixed now: the sandbox's cases end then, and the loader's "today" must be that day too.
    const env = { ...box.env };
    await runPipeline(config, { env, destination: { path } });
    const children = await query(path, `SELECT table_name FROM ${D}._pipeline_tables WHERE resource = 'logs' AND parent_table IS NOT NULL ORDER BY 1`);
    const named = [...deleteSql.matchAll(/DELETE FROM snapengage_data\.(logs__\w+)/g)].map((m) => m[1]);
    expect(named.sort()).toEqual(children.map((r) => r.table_name));

    const cutoffDay = '2025-06-20';
    const cutoff = Date.parse(`${cutoffDay}T00:00:00Z`) / 1000;
    const [before] = await query(path, `SELECT count(*) FILTER (WHERE created_at_seconds >= ${cutoff})::INTEGER AS kept, count(*) FILTER (WHERE created_at_seconds < ${cutoff})::INTEGER AS old FROM ${D}.logs`);
    expect(before!.old).toBeGreaterThan(0);
    // Every table of a resource read per case is named in the second block.
    const perCase = await query(path, `SELECT table_name FROM ${D}._pipeline_tables WHERE resource IN ('chat_poll', 'visitor_typing') ORDER BY 1`);
    expect(perCase.length).toBeGreaterThan(PER_CASE.length);
    expect([...perCaseSql.matchAll(/DELETE FROM snapengage_data\.(\w+)/g)].map((m) => m[1]).sort()).toEqual(perCase.map((r) => r.table_name));
    const statements = `${deleteSql}${perCaseSql}`.replace("'2025-01-01 00:00:00+00'", `'${cutoffDay} 00:00:00+00'`).split(/;\s*$/m).filter((s) => s.trim() !== '');
    await withQueries(path, async (run) => {
      for (const statement of statements) await run(statement);
    }, 'READ_WRITE');

    const check = async (file: string) => {
      const [logs] = await query(file, `SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE created_at_seconds < ${cutoff})::INTEGER AS old FROM ${D}.logs`);
      expect(logs).toEqual({ n: before!.kept, old: 0 });
      for (const t of named) {
        const [orphans] = await query(file, `SELECT count(*)::INTEGER AS n FROM ${D}."${t}" WHERE _root_id NOT IN (SELECT _row_id FROM ${D}.logs)`);
        expect([t, orphans!.n]).toEqual([t, 0]);
      }
      // No chat or typing status is kept of a deleted case, nor a message of a deleted chat_poll row.
      for (const t of PER_CASE) {
        const [rows] = await query(file, `SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE case_id NOT IN (SELECT id FROM ${D}.logs))::INTEGER AS stray FROM ${D}."${t}"`);
        expect([t, (rows!.n as number) > 0, rows!.stray]).toEqual([t, true, 0]);
      }
      const [messages] = await query(file, `SELECT count(*)::INTEGER AS n FROM ${D}.chat_poll__message_list WHERE _root_id NOT IN (SELECT _row_id FROM ${D}.chat_poll)`);
      expect(messages!.n).toBe(0);
    };
    await check(path);
    // The next run reads only the lookback, so the deleted cases stay deleted.
    const info = await runPipeline(config, { env, destination: { path } });
    expect(info.rowCounts.logs ?? 0).toBeLessThan(before!.kept as number);
    await check(path);

    // Compacted as written (the new file's path made absolute), then loaded on with the state it copied.
    const copy = join(tmp.dir, 'new.duckdb');
    expect(compactSql).toContain('COPY FROM DATABASE snapengage TO new');
    await withQueries(path, async (run) => {
      for (const statement of compactSql.replace("'new.duckdb'", `'${copy}'`).split(';').filter((s) => s.trim() !== '')) await run(statement);
    }, 'READ_WRITE');
    await check(copy);
    const [loads] = await query(copy, `SELECT count(*)::INTEGER AS n FROM ${D}._pipeline_loads`);
    expect(loads!.n).toBe(2 * 3); // two runs, a row per resource
    await runPipeline(config, { env, destination: { path: copy } });
    await check(copy);
    const [state] = await query(copy, `SELECT count(*)::INTEGER AS n FROM ${D}._pipeline_state WHERE resource = 'logs'`);
    expect(state!.n).toBe(1);
  });
});
