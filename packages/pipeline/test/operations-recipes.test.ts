// OPERATIONS.md's "Watching scheduled runs" queries, run as written on a file loaded from the sandbox, after a failed
// run and with its loads and windows moved back in time, in a session time zone west of UTC (where comparing the
// loader's UTC timestamps with now() alone misses a stale load) as well as in UTC.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import type { PipelineConfig } from '../src/config.js';
import { openDataset } from '../src/dataset.js';
import { runPipeline } from '../src/run.js';
import { PACKAGE_DIR, query, sandbox, tempDir, withQueries } from './helpers.js';

/** The ```sql blocks of OPERATIONS.md's section, by their first line's comment. */
function recipes(): Map<string, string> {
  const section = readFileSync(join(PACKAGE_DIR, 'OPERATIONS.md'), 'utf8').split(/^## /m).find((part) => part.startsWith('Watching scheduled runs')) ?? '';
  const blocks = [...section.matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]!);
  return new Map(blocks.map((sql) => [/^-- (.*)$/m.exec(sql)?.[1] ?? '', sql]));
}

const STALE_RESOURCES = 'resources with no complete load in the last 26 hours';
const LATEST_FAILED = 'resources whose latest run failed';
const WINDOW_NOT_ADVANCED = 'widgets whose window did not advance';
const OLD_NEWEST_RECORD = 'widgets whose newest record is old';

/** Each recipe's rows, in a session with the given time zone (the DuckDB CLI takes the machine's). */
async function runRecipes(db: string, timeZone: string): Promise<Record<string, Array<Record<string, unknown>>>> {
  return withQueries(db, async (run) => {
    await run(`SET TimeZone = '${timeZone}'`);
    const out: Record<string, Array<Record<string, unknown>>> = {};
    for (const [name, sql] of recipes()) out[name] = await run(sql);
    return out;
  });
}

describe('OPERATIONS.md: watching scheduled runs', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let db: string;
  let widgets: string[];
  const config: PipelineConfig = { resources: { logs: true, widgets: true }, rateLimit: { requestsPerSecond: 0 } };

  beforeAll(async () => {
    box = await sandbox({ cases: 60, widgets: 2, days: 3 });
    tmp = tempDir('recipes-');
    db = join(tmp.dir, 'snapengage.duckdb');
    widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
    await runPipeline(config, { env: box.env, destination: { path: db } });
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('the section has its four queries', () => {
    expect([...recipes().keys()]).toEqual([STALE_RESOURCES, LATEST_FAILED, WINDOW_NOT_ADVANCED, OLD_NEWEST_RECORD]);
  });

  it('right after a load, every query returns no row, in UTC and west of it; through openDataset too', async () => {
    for (const zone of ['UTC', 'Pacific/Honolulu', 'Pacific/Kiritimati']) {
      const rows = await runRecipes(db, zone);
      expect({ zone, rows }).toEqual({ zone, rows: { [STALE_RESOURCES]: [], [LATEST_FAILED]: [], [WINDOW_NOT_ADVANCED]: [], [OLD_NEWEST_RECORD]: [] } });
    }
    const ds = await openDataset({ path: db, dataset: 'snapengage_data' });
    try {
      for (const sql of recipes().values()) expect(await ds.sql(sql)).toEqual([]);
    } finally {
      await ds.close();
    }
  });

  it('a resource only ever sampled with --limit-pages, or only failed, is stale: no complete load', async () => {
    const sampled = join(tmp.dir, 'sampled.duckdb');
    await runPipeline({ ...config, resources: { logs: true } }, { env: box.env, destination: { path: sampled }, limitPages: 1 });
    await expect(runPipeline({ ...config, resources: { widgets: true } }, { env: { ...box.env, SNAPENGAGE_API_KEY: 'not-the-key', SNAPENGAGE_API_TOKEN: 'not-the-token', SNAPENGAGE_PROVISIONING_KEY: 'not-the-key' }, destination: { path: sampled } })).rejects.toThrow(/HTTP 40/);
    const rows = await runRecipes(sampled, 'UTC');
    expect(rows[STALE_RESOURCES]).toEqual([
      { pipeline_name: 'snapengage_pipeline', resource: 'logs', last_loaded: null },
      { pipeline_name: 'snapengage_pipeline', resource: 'widgets', last_loaded: null },
    ]);
    expect(rows[LATEST_FAILED]!.map((r) => r.resource)).toEqual(['widgets']);
  });

  it('a --limit-pages sample tried after a failed run does not hide the failure', async () => {
    const file = join(tmp.dir, 'sample-after-failure.duckdb');
    await runPipeline({ ...config, resources: { logs: true } }, { env: box.env, destination: { path: file } });
    await expect(runPipeline({ ...config, resources: { logs: true } }, { env: { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token' }, destination: { path: file } })).rejects.toThrow(/HTTP 401/);
    await runPipeline({ ...config, resources: { logs: true } }, { env: box.env, destination: { path: file }, limitPages: 1 });
    const rows = await runRecipes(file, 'UTC');
    expect(rows[LATEST_FAILED]).toEqual([expect.objectContaining({ resource: 'logs', error: expect.stringMatching(/HTTP 401/) })]);
  });

  it("a child resource loaded without its parent is watched through its copy of the parent's windows", async () => {
    const child = join(tmp.dir, 'child.duckdb');
    await runPipeline({ ...config, resources: { chat_poll: true } }, { env: box.env, destination: { path: child } });
    expect((await runRecipes(child, 'UTC'))[WINDOW_NOT_ADVANCED]).toEqual([]);
    await withQueries(child, async (run) => {
      const behind = new Date(Date.now() - 4 * 86_400_000);
      const window = { lastEnd: behind.toISOString().slice(0, 10), lastValueAt: `${behind.toISOString().slice(0, 19)}Z` };
      await run(
        `UPDATE snapengage_data._pipeline_state SET state = json_merge_patch(state, '${JSON.stringify({ parents: { logs: { windows: { [widgets[1]!]: window } } } })}') WHERE resource = 'chat_poll'`,
      );
    }, 'READ_WRITE');
    const rows = await runRecipes(child, 'UTC');
    expect(rows[WINDOW_NOT_ADVANCED]!.map((r) => [r.resource, r.widget])).toEqual([['chat_poll', widgets[1]]]);
    expect(rows[OLD_NEWEST_RECORD]!.map((r) => [r.resource, r.widget])).toEqual([['chat_poll', widgets[1]]]);
  });

  it('a failed run shows with its error; a stale load and a widget left behind show, in every time zone', async () => {
    await expect(runPipeline({ ...config, resources: { logs: true } }, { env: { ...box.env, SNAPENGAGE_API_TOKEN: 'not-the-token' }, destination: { path: db } })).rejects.toThrow(/HTTP 401/);
    // Time passes: every load 30 hours back; one widget's window and newest record left 4 days behind.
    await withQueries(db, async (run) => {
      await run(`UPDATE snapengage_data._pipeline_loads SET started_at = started_at - INTERVAL 30 HOUR, finished_at = finished_at - INTERVAL 30 HOUR`);
      const behind = new Date(Date.now() - 4 * 86_400_000);
      const window = { lastEnd: behind.toISOString().slice(0, 10), lastValueAt: `${behind.toISOString().slice(0, 19)}Z` };
      await run(
        `UPDATE snapengage_data._pipeline_state SET state = json_merge_patch(state, '${JSON.stringify({ windows: { [widgets[0]!]: window } })}') WHERE resource = 'logs'`,
      );
    }, 'READ_WRITE');

    for (const zone of ['UTC', 'Pacific/Honolulu', 'Pacific/Kiritimati']) {
      const rows = await runRecipes(db, zone);
      expect(rows[STALE_RESOURCES]!.map((r) => r.resource), zone).toEqual(['logs', 'widgets']);
      expect(rows[LATEST_FAILED], zone).toEqual([expect.objectContaining({ resource: 'logs', error: expect.stringMatching(/HTTP 401.*SNAPENGAGE_API_TOKEN/) })]);
      expect(rows[WINDOW_NOT_ADVANCED]!.map((r) => [r.resource, r.widget]), zone).toEqual([['logs', widgets[0]]]);
      expect(rows[OLD_NEWEST_RECORD]!.map((r) => [r.resource, r.widget]), zone).toEqual([['logs', widgets[0]]]);
    }
    // finished_at is TIMESTAMPTZ (format 2): compared with now() alone it is right in Kiritimati's session (UTC+14) too.
    // The format-1 form, with now() AT TIME ZONE 'UTC' (a TIMESTAMP, read in the session's zone), misses the stale loads
    // there: OPERATIONS.md tells a user with saved queries to drop it.
    const [plain, formatOne] = await withQueries(db, async (run) => {
      await run(`SET TimeZone = 'Pacific/Kiritimati'`);
      const stale = (now: string) => run(`SELECT resource FROM snapengage_data._pipeline_loads WHERE status = 'loaded' GROUP BY resource HAVING max(finished_at) < ${now} - INTERVAL 26 HOUR ORDER BY resource`);
      return [await stale('now()'), await stale(`(now() AT TIME ZONE 'UTC')`)];
    });
    expect(plain!.map((r) => r.resource)).toEqual(['logs', 'widgets']);
    expect(formatOne).toEqual([]);
    expect(await query(db, `SELECT count(*)::INTEGER AS n FROM snapengage_data._pipeline_loads WHERE status = 'failed'`)).toEqual([{ n: 1 }]);
  });
});
