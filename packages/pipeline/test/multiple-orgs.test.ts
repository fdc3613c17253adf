// Several SnapEngage organisations (an agency's clients, a staging and a production org, a move from one org to
// another) loaded with one DuckDB file: each org in a dataset of its own works, and a run of another org into a
// dataset that holds one is refused before it writes anything. Two sandboxes of different seeds are two orgs (their
// org ids, credentials, widgets and cases differ; both have the same owner email, as an agency's staff are users of
// each client's org). Before, the second org's run loaded into the first's tables: 300 + 400 cases in one `logs`,
// both orgs' widgets side by side and one `users` row for the two orgs' owners, with nothing recording which org.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { DestinationError, definePipeline, openDataset, runPipeline } from '../src/index.js';
import { showDataset } from '../src/show.js';
import { admin, gatedRun, query, runCli, sandbox, tempDir, truth, withQueries } from './helpers.js';

let orgA: Sandbox;
let orgB: Sandbox;
let tmp: ReturnType<typeof tempDir>;
beforeAll(async () => {
  [orgA, orgB] = await Promise.all([sandbox({ seed: 7, cases: 120, widgets: 2, days: 5 }), sandbox({ seed: 8, cases: 90, widgets: 2, days: 5 })]);
  tmp = tempDir('multiple-orgs-');
});
afterAll(async () => {
  await orgA?.close();
  await orgB?.close();
  tmp?.cleanup();
});

const config = (pipelineName?: string) => definePipeline({
  resources: { logs: true, widgets: true, users: true, chat_availability: true },
  rateLimit: { requestsPerSecond: 0 },
  ...(pipelineName ? { pipelineName } : {}),
});
const ids = async (path: string, dataset: string) =>
  (await query(path, `SELECT id FROM ${dataset}.logs ORDER BY id`)).map((r) => String(r.id));
const truthIds = async (box: Sandbox) => (await truth(box)).map((c) => c.id).sort();
/** One connection for the five questions: opening the file for each cost ~20 ms. */
async function snapshot(path: string) {
  return withQueries(path, async (run) => ({
    logs: await run('SELECT id, _load_id FROM snapengage_data.logs ORDER BY id'),
    widgets: await run('SELECT uuid FROM snapengage_data.widgets ORDER BY uuid'),
    users: await run('SELECT email, _load_id FROM snapengage_data.users ORDER BY email'),
    loads: await run('SELECT load_id, pipeline_name, resource, status FROM snapengage_data._pipeline_loads ORDER BY load_id, resource'),
    state: await run('SELECT pipeline_name, resource, state::VARCHAR AS s FROM snapengage_data._pipeline_state ORDER BY pipeline_name, resource'),
  }));
}

describe('two orgs in one DuckDB file', () => {
  it('each in a dataset of its own: both load, each dataset holds its org alone, and records which org', async () => {
    const path = `${tmp.dir}/agency.duckdb`;
    await runPipeline(config(), { env: orgA.env, destination: { path, dataset: 'org_a' } });
    await runPipeline(config(), { env: orgB.env, destination: { path, dataset: 'org_b' } });
    expect(await ids(path, 'org_a')).toEqual(await truthIds(orgA));
    expect(await ids(path, 'org_b')).toEqual(await truthIds(orgB));
    expect((await query(path, 'SELECT uuid FROM org_b.widgets ORDER BY uuid')).map((r) => r.uuid)).toEqual([...orgB.credentials.widgetIds].sort());
    // Across orgs, as OPERATIONS.md ("Several organisations") shows: in the file, and attached to another session.
    const perOrg = [{ org: 'org_a', cases: (await truthIds(orgA)).length }, { org: 'org_b', cases: (await truthIds(orgB)).length }];
    const ds = await openDataset({ path, dataset: 'org_a' });
    try {
      expect(await ds.sql(`SELECT org, count(*)::INTEGER AS cases FROM (SELECT 'org_a' AS org, * FROM org_a.logs UNION ALL BY NAME SELECT 'org_b'
        AS org, * FROM org_b.logs) GROUP BY org ORDER BY org`)).toEqual(perOrg);
    } finally {
      await ds.close();
    }
    const instance = await DuckDBInstance.create(':memory:');
    const session = await instance.connect();
    try {
      await session.run(`ATTACH '${path}' AS agency (READ_ONLY)`);
      const rows = (await session.runAndReadAll(`SELECT org, count(*)::INTEGER AS cases FROM (SELECT 'org_a' AS org, * FROM agency.org_a.logs
        UNION ALL BY NAME SELECT 'org_b' AS org, * FROM agency.org_b.logs) GROUP BY org ORDER BY org`)).getRowObjectsJS();
      expect(rows).toEqual(perOrg);
    } finally {
      session.closeSync();
      instance.closeSync();
    }
    for (const [dataset, box] of [['org_a', orgA], ['org_b', orgB]] as const) {
      const ds = await openDataset({ path, dataset });
      try {
        const loads = await ds.loads();
        expect(loads.length).toBe(4);
        expect(new Set(loads.map((l) => l.orgId))).toEqual(new Set([box.credentials.orgId]));
      } finally {
        await ds.close();
      }
      expect((await showDataset({ path, dataset })).split('\n')[0]).toBe(`Dataset ${dataset} in ${path}, SnapEngage org ${box.credentials.orgId}`);
    }
  });

  it("show names an org once however its loads spell it, and not the org of a load that failed", async () => {
    const path = `${tmp.dir}/spelled.duckdb`;
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    const id = orgA.credentials.orgId;
    // One load as if its SNAPENGAGE_ORG_ID had been typed in capitals (the org check compares ids case-insensitively),
    // and a failed load of another org id (a typo's: it wrote no rows, so it is no org of the data).
    await query(path, `UPDATE snapengage_data._pipeline_loads SET org_id = upper(org_id) WHERE load_id = (SELECT max(load_id) FROM snapengage_data._pipeline_loads)`, 'READ_WRITE');
    await query(path, `INSERT INTO snapengage_data._pipeline_loads SELECT * REPLACE ('9' || load_id AS load_id, 'failed' AS status, 'not-an-org' AS org_id) FROM snapengage_data._pipeline_loads LIMIT 1`, 'READ_WRITE');
    expect((await showDataset({ path, dataset: 'snapengage_data' })).split('\n')[0]).toMatch(new RegExp(`^Dataset snapengage_data in \\S+, SnapEngage org (${id}|${id.toUpperCase()})$`));
  });

  it('two orgs at the same time into one file: the second is refused, naming the dataset the first loads and why', async () => {
    // The run lock is the file's (DuckDB has one writer per file); before, the refusal named a run but not that it
    // loaded another dataset, which read as a stale lock to a user loading org_b while org_a's run was on.
    const path = `${tmp.dir}/same-time.duckdb`;
    const first = gatedRun(config(), { env: orgA.env, destination: { path, dataset: 'org_a' } });
    await first.extracting;
    try {
      // From another process, as a second cron line or terminal starts it.
      const second = await runCli(['run', '--duckdb', path, '--dataset', 'org_b'], { env: { ...orgB.env, SNAPENGAGE_DUCKDB_THREADS: '1' }, cwd: tmp.dir });
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(new RegExp(
        `^snapengage-pipeline: opening the destination: DuckDB file \\S+same-time\\.duckdb is being loaded by another pipeline run \\(PID ${process.pid}, started \\S+\\) into dataset org_a \\(one run at a time loads a file, whatever its dataset: run them one after another, or give each a file of its own\\): wait for that run to finish, then retry; if it is gone, delete \\S+same-time\\.duckdb\\.staging/run\\.lock\n$`,
      ));
    } finally {
      first.release();
    }
    await first.run;
    await runPipeline(config(), { env: orgB.env, destination: { path, dataset: 'org_b' } });
    expect(await ids(path, 'org_a')).toEqual(await truthIds(orgA));
    expect(await ids(path, 'org_b')).toEqual(await truthIds(orgB));
  });

  it('a failed load records its org as a loaded one does (loads() orgId is the run\'s SNAPENGAGE_ORG_ID, not null)', async () => {
    // Before, the failed row named no org: loads() said null, which its doc reserves for a run without the variable.
    const path = `${tmp.dir}/failed-load.duckdb`;
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    const failing = definePipeline({ resources: { logs: { steps: [{ map: () => { throw new Error('boom'); } }] } }, rateLimit: { requestsPerSecond: 0 } });
    await expect(runPipeline(failing, { env: orgA.env, destination: { path } })).rejects.toThrow(/boom/);
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      const [latest] = await ds.loads();
      expect({ status: latest?.status, resource: latest?.resource, orgId: latest?.orgId }).toEqual({ status: 'failed', resource: 'logs', orgId: orgA.credentials.orgId });
    } finally {
      await ds.close();
    }
    // A failed row is no load of an org's rows: the check counts loaded ones, so the same org loads on.
    await runPipeline(config(), { env: orgA.env, destination: { path } });
  });

  it('show names the org of the loaded rows, not one whose run failed there before any row was loaded', async () => {
    // A failed load records its org, but wrote no rows: the check ignores it, so another org may load the dataset.
    const path = `${tmp.dir}/failed-then-other-org.duckdb`;
    await runPipeline(config(), { env: orgA.env, destination: { path, dataset: 'org_a' } });
    const failing = definePipeline({ resources: { logs: { steps: [{ map: () => { throw new Error('boom'); } }] } }, rateLimit: { requestsPerSecond: 0 } });
    await expect(runPipeline(failing, { env: orgB.env, destination: { path, dataset: 'shared' } })).rejects.toThrow(/boom/);
    await runPipeline(config(), { env: orgA.env, destination: { path, dataset: 'shared' } });
    expect((await showDataset({ path, dataset: 'shared' })).split('\n')[0]).toBe(`Dataset shared in ${path}, SnapEngage org ${orgA.credentials.orgId}`);
  });

  it('the second org into the first org\'s dataset (no --dataset) is refused, naming both orgs and the fix, with the dataset as it was', async () => {
    const path = `${tmp.dir}/forgot-dataset.duckdb`;
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    const before = await snapshot(path);
    const run = runPipeline(config(), { env: orgB.env, destination: { path } });
    await expect(run).rejects.toThrow(DestinationError);
    await expect(run).rejects.toThrow(new RegExp(
      `dataset snapengage_data in .*forgot-dataset\\.duckdb holds SnapEngage org ${orgA.credentials.orgId} \\(1 run, the last at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d UTC\\), and this run is for org ${orgB.credentials.orgId} \\(SNAPENGAGE_ORG_ID\\).*: load each org into a dataset of its own, such as --dataset snapengage_${orgB.credentials.orgId.slice(0, 8)} \\(or destination\\.dataset\\).*Nothing was written to the file`,
    ));
    expect(await snapshot(path)).toEqual(before);
    // Byte for byte (DuckDB's WAL included), and a --refresh of every resource is refused too: it replaces the
    // resources' rows, not the other org's loads (OPERATIONS.md, Moving to another org).
    const bytes = () => [path, `${path}.wal`].map((file) => (existsSync(file) ? createHash('sha256').update(readFileSync(file)).digest('hex') : 'none'));
    const unchanged = bytes();
    await expect(runPipeline(config(), { env: orgB.env, destination: { path }, refresh: true })).rejects.toThrow(/holds SnapEngage org/);
    expect(bytes()).toEqual(unchanged);
    // The fix it names loads the second org beside the first.
    const dataset = `snapengage_${orgB.credentials.orgId.slice(0, 8)}`;
    await runPipeline(config(), { env: orgB.env, destination: { path, dataset } });
    expect(await ids(path, dataset)).toEqual(await truthIds(orgB));
    // The first org goes on loading its dataset.
    await admin(orgA, 'cases', { widgetId: orgA.credentials.widgetIds[0], cases: [{}, {}] });
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    expect(await ids(path, 'snapengage_data')).toEqual(await truthIds(orgA));
  });

  it('the refusal\'s DROP SCHEMA runs in DuckDB for a dataset named like a keyword (order), and the second org then loads there', async () => {
    const path = `${tmp.dir}/keyword-dataset.duckdb`;
    const logs = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(logs, { env: orgA.env, destination: { path, dataset: 'order' } });
    const refused = await runPipeline(logs, { env: orgB.env, destination: { path, dataset: 'order' } }).catch((e: unknown) => e);
    // Bare, `DROP SCHEMA order CASCADE` is a syntax error in DuckDB.
    const drop = /\((DROP SCHEMA .+ CASCADE) in the DuckDB CLI\)/.exec((refused as Error).message)?.[1];
    expect(drop).toBe('DROP SCHEMA "order" CASCADE');
    await query(path, drop!, 'READ_WRITE');
    await runPipeline(logs, { env: orgB.env, destination: { path, dataset: 'order' } });
    expect(await ids(path, '"order"')).toEqual(await truthIds(orgB));
  });

  it('a run of resources whose requests do not send the org id (widgets, users) neither records nor checks it', async () => {
    const path = `${tmp.dir}/provisioning-only.duckdb`;
    const provisioning = definePipeline({ resources: { widgets: true, users: true }, rateLimit: { requestsPerSecond: 0 } });
    // A stale SNAPENGAGE_ORG_ID beside the provisioning key: it is not what these requests read, so it says nothing.
    await runPipeline(provisioning, { env: { ...orgA.env, SNAPENGAGE_ORG_ID: 'stale-org-id' }, destination: { path } });
    const ds = await openDataset({ path, dataset: 'snapengage_data' });
    try {
      expect(new Set((await ds.loads()).map((l) => l.orgId))).toEqual(new Set([null]));
    } finally {
      await ds.close();
    }
    // The logs of the right org then load into it (they were refused as "another org" when the stale id was recorded).
    await runPipeline(config(), { env: orgA.env, destination: { path } });
    expect(await ids(path, 'snapengage_data')).toEqual(await truthIds(orgA));
  });

  it('another pipelineName of another org on the same dataset is refused too (the data tables are shared)', async () => {
    const path = `${tmp.dir}/two-pipelines.duckdb`;
    await runPipeline(config('client_a'), { env: orgA.env, destination: { path } });
    const before = await snapshot(path);
    await expect(runPipeline(config('client_b'), { env: orgB.env, destination: { path } })).rejects.toThrow(
      new RegExp(`holds SnapEngage org ${orgA.credentials.orgId} .* this run is for org ${orgB.credentials.orgId}`),
    );
    expect(await snapshot(path)).toEqual(before);
    // Another pipeline of the same org is not an org's mix: it loads (from the start date, merged onto the same rows).
    await runPipeline(config('client_a_hourly'), { env: orgA.env, destination: { path } });
    expect(await ids(path, 'snapengage_data')).toEqual(await truthIds(orgA));
  });
});
