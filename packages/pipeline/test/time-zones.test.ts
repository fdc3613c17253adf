// Times as a user in another time zone meets them: a load made at a fixed instant (the sandbox's `now`, the clock faked
// for the loader), then read through the dataset API in child processes whose TZ is not UTC. The system tables hold
// UTC in TIMESTAMP columns (no zone) and case times are epoch numbers, so a session in the process's zone compared
// them off by the zone's offset; the dataset API's session is UTC.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { DATASET_FORMAT } from '../src/destination/system-tables.js';
import { DuckDBDestination, newLoadId } from '../src/destination/index.js';
import { admin, collectOutput, expectMatchesTruth, PACKAGE_DIR, query, sandbox, tempDir, truth, withQueries, type CliResult } from './helpers.js';

const NOW = Date.parse('2026-03-29T00:30:00Z');
const TSX_LOADER = pathToFileURL(join(PACKAGE_DIR, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let dbPath: string;

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], now: NOW });
  box = await sandbox({ cases: 60, widgets: 1, days: 3, now: NOW });
  tmp = tempDir('time-zones-');
  dbPath = join(tmp.dir, 'tz.duckdb');
  await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: dbPath } });
  vi.useRealTimers();
});
afterAll(async () => {
  vi.useRealTimers();
  await box?.close();
  tmp?.cleanup();
});

/** Runs `queries` through openDataset in a child process with the given TZ; their rows, in order. */
function queryIn(tz: string, queries: Array<[string, unknown[]]>): Promise<unknown[]> {
  const script = `
    const { openDataset } = await import(${JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'src', 'dataset.ts')).href)});
    const ds = await openDataset({ path: ${JSON.stringify(dbPath)}, dataset: 'snapengage_data' });
    const out = [];
    for (const [q, p] of ${JSON.stringify(queries)}) out.push(await ds.sql(q, p));
    await ds.close();
    process.stdout.write(JSON.stringify(out));`;
  const child = spawn(process.execPath, ['--conditions=snapengage-source', '--import', TSX_LOADER, '--input-type=module', '-e', script], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', TZ: tz },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout) as unknown[]) : reject(new Error(`child (TZ=${tz}) exited ${code}: ${stderr}`))));
  });
}

describe('the dataset API in a time zone other than UTC', () => {
  it.each(['Asia/Kolkata', 'America/Los_Angeles', 'Pacific/Kiritimati'])('compares and groups times in UTC (TZ=%s)', async (tz) => {
    const byUtcDay = new Map<string, number>();
    for (const c of await truth(box)) {
      const day = new Date(Number(c.created_at_seconds) * 1000).toISOString().slice(0, 10);
      byUtcDay.set(day, (byUtcDay.get(day) ?? 0) + 1);
    }
    const [loads, session, days] = await queryIn(tz, [
      // started_at is a TIMESTAMP holding UTC: compared with an instant, it must be read as UTC.
      ['SELECT started_at, started_at >= $1::TIMESTAMPTZ AS after, started_at < $2::TIMESTAMPTZ AS before FROM _pipeline_loads', [new Date(NOW - 60_000), new Date(NOW + 60_000)]],
      [`SELECT current_setting('TimeZone') AS tz`, []],
      ['SELECT strftime(to_timestamp(created_at_seconds)::DATE, \'%Y-%m-%d\') AS day, count(*) AS n FROM logs GROUP BY 1 ORDER BY 1', []],
    ]);
    expect(loads).toEqual([{ started_at: new Date(NOW).toISOString(), after: true, before: true }]);
    expect(session).toEqual([{ tz: 'UTC' }]);
    expect(days).toEqual([...byUtcDay].sort().map(([day, n]) => ({ day, n })));
  });
});

// The DuckDB CLI, a notebook or a BI tool reads in the machine's zone, not the dataset API's UTC session. The loader's
// own times are TIMESTAMPTZ, so such a session reads the instant they are (as the CLI's `SET TimeZone` shows it):
// stored as TIMESTAMP holding UTC (format 1), `started_at >= now() - INTERVAL 1 HOUR` was off by the zone's offset.
describe('the loader\'s times in a DuckDB session of another zone', () => {
  it('are instants: compared with now() or a TIMESTAMPTZ, and shown, in the session\'s zone', async () => {
    const rows = await withQueries(dbPath, async (run) => {
      await run(`SET TimeZone = 'America/Los_Angeles'`);
      return run(`SELECT typeof(l.started_at) AS loads_type, typeof(s.updated_at) AS state_type,
          l.started_at::VARCHAR AS shown, l.started_at >= TIMESTAMPTZ '${new Date(NOW - 60_000).toISOString()}' AS is_after,
          l.finished_at < TIMESTAMPTZ '${new Date(NOW + 60_000).toISOString()}' AS is_before, epoch_ms(s.updated_at)::DOUBLE AS updated_ms
        FROM snapengage_data._pipeline_loads l JOIN snapengage_data._pipeline_state s USING (load_id)`);
    });
    // Pacific Daylight Time on 2026-03-29: 00:30 UTC is 17:30 the day before, at -07.
    expect(rows).toEqual([{ loads_type: 'TIMESTAMP WITH TIME ZONE', state_type: 'TIMESTAMP WITH TIME ZONE', shown: '2026-03-28 17:30:00-07', is_after: true, is_before: true, updated_ms: NOW }]);
  });

  it('a file a format-1 loader wrote (TIMESTAMP holding UTC) is migrated by the next run, keeping every instant', async () => {
    const path = await formatOneFile('format-1-times.duckdb');
    const savedTz = process.env.TZ;
    try {
      // The next run, a day later, on a machine whose zone is not UTC.
      process.env.TZ = 'Asia/Kolkata';
      vi.useFakeTimers({ toFake: ['Date'], now: NOW + 86_400_000 });
      await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
      vi.useRealTimers();
    }
    const rows = await withQueries(path, async (run) => {
      await run(`SET TimeZone = 'Asia/Kolkata'`);
      return run(`SELECT typeof(started_at) AS type, epoch_ms(started_at)::DOUBLE AS started_ms, dataset_format FROM snapengage_data._pipeline_loads ORDER BY load_id`);
    });
    expect(rows).toEqual([
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW, dataset_format: 1 },
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW + 86_400_000, dataset_format: DATASET_FORMAT },
    ]);
  });
});

/** Runs an ES module `script` (with the package's sources) in a child process whose TZ is `tz`; how it ended. */
function runIn(tz: string, script: string): Promise<CliResult> {
  return collectOutput(spawn(process.execPath, ['--conditions=snapengage-source', '--import', TSX_LOADER, '--input-type=module', '-e', script], {
    cwd: PACKAGE_DIR,
    env: { PATH: process.env.PATH ?? '', TZ: tz },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
}

/** A file as a format-1 loader left it: its system times TIMESTAMP columns holding UTC, its rows format 1. */
async function formatOneFile(name: string): Promise<string> {
  const path = join(tmp.dir, name);
  vi.useFakeTimers({ toFake: ['Date'], now: NOW });
  try {
    await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
  } finally {
    vi.useRealTimers();
  }
  await withQueries(path, async (run) => {
    await run(`SET TimeZone = 'UTC'`);
    for (const [table, column] of [['_pipeline_loads', 'started_at'], ['_pipeline_loads', 'finished_at'], ['_pipeline_state', 'updated_at']]) {
      await run(`ALTER TABLE snapengage_data.${table} ALTER ${column} SET DATA TYPE TIMESTAMP`);
    }
    await run(`UPDATE snapengage_data._pipeline_loads SET dataset_format = 1`);
  }, 'READ_WRITE');
  return path;
}

describe('the migration of a format-1 file cut short', () => {
  it('by SIGKILL after its commit, before a checkpoint: the file opens (its WAL replays) with every instant kept, in any zone', async () => {
    const path = await formatOneFile('format-1-killed.duckdb');
    // The loader's own opening of the file (its session in UTC), then the migration, then kill -9: the migration is
    // committed to the WAL only, and the next open replays it (in a session of the machine's zone).
    const src = (file: string) => JSON.stringify(pathToFileURL(join(PACKAGE_DIR, 'src', 'destination', file)).href);
    const killed = await runIn('Asia/Kolkata', `
      const { openDuckDBFile } = await import(${src('open-file.ts')});
      const { migrateSystemTimes } = await import(${src('system-tables.ts')});
      const { conn } = await openDuckDBFile({ path: ${JSON.stringify(path)}, settings: {}, waitMs: 0, forCommit: false, onLockWait: () => {}, beforeOpen: async () => {} });
      await conn.run('BEGIN TRANSACTION');
      await migrateSystemTimes(conn, 'snapengage_data');
      await conn.run('COMMIT');
      process.kill(process.pid, 'SIGKILL');`);
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    expect(existsSync(`${path}.wal`)).toBe(true);
    const read = await runIn('Asia/Kolkata', `
      const { DuckDBInstance } = await import('@duckdb/node-api');
      const instance = await DuckDBInstance.create(${JSON.stringify(path)});
      const conn = await instance.connect();
      const rows = (await conn.runAndReadAll(\`SELECT typeof(l.started_at) AS type, epoch_ms(l.started_at)::DOUBLE AS started_ms,
        epoch_ms(s.updated_at)::DOUBLE AS updated_ms FROM snapengage_data._pipeline_loads l JOIN snapengage_data._pipeline_state s USING (load_id)\`)).getRowObjectsJS();
      process.stdout.write(JSON.stringify(rows));`);
    expect(read.code, read.stderr).toBe(0);
    expect(JSON.parse(read.stdout)).toEqual([{ type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW, updated_ms: NOW }]);
  });
});

// The loader's days are UTC days whatever the process's TZ (Node reads a TZ set at run time): runs just before and
// after local midnight, UTC midnight and a DST change lose and duplicate nothing, and lastEnd is the UTC day.
describe('incremental windows in a time zone other than UTC', () => {
  const scenarios: Array<{ tz: string; runs: string[]; cases: string[]; lastEnd: string }> = [
    {
      tz: 'Pacific/Kiritimati', // UTC+14: local midnight is 10:00 UTC, and the local day is a day ahead for 14 hours
      runs: ['2026-03-28T09:59:59Z', '2026-03-28T10:00:01Z', '2026-03-29T00:00:30Z', '2026-03-29T10:30:00Z'],
      cases: ['2026-03-28T09:59:58Z', '2026-03-28T10:00:00Z', '2026-03-29T00:00:00Z', '2026-03-29T10:15:00Z'],
      lastEnd: '2026-03-29',
    },
    {
      tz: 'Europe/London', // clocks go forward at 01:00 UTC on 2026-03-29; from then local midnight is 23:00 UTC
      runs: ['2026-03-29T00:59:59Z', '2026-03-29T01:00:01Z', '2026-03-29T23:00:01Z', '2026-03-29T23:59:59Z'],
      cases: ['2026-03-29T00:59:58Z', '2026-03-29T01:00:00Z', '2026-03-29T23:00:00Z', '2026-03-29T23:59:58Z'],
      lastEnd: '2026-03-29',
    },
  ];
  it.each(scenarios)('TZ=$tz', async ({ tz, runs, cases, lastEnd }) => {
    const savedTz = process.env.TZ;
    const start = Date.parse(runs[0]!) - 3_600_000;
    vi.useFakeTimers({ toFake: ['Date'], now: start });
    const local = await sandbox({ cases: 20, widgets: 1, days: 2, now: start });
    const path = join(tmp.dir, `windows-${tz.replace('/', '-')}.duckdb`);
    try {
      process.env.TZ = tz;
      const env = { ...local.env, SNAPENGAGE_START_DATE: new Date(start - 86_400_000).toISOString().slice(0, 10) };
      const widgetId = local.env.SNAPENGAGE_WIDGET_ID!;
      for (const [i, run] of runs.entries()) {
        // The case is created (the API knows it) just before the run that follows it.
        vi.setSystemTime(Date.parse(cases[i]!) + 500);
        await admin(local, 'cases', { widgetId, cases: [{ created_at_date: Date.parse(cases[i]!) }] });
        vi.setSystemTime(Date.parse(run));
        await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env, destination: { path } });
      }
      expect(await expectMatchesTruth(path, 'snapengage_data', await truth(local))).toEqual([]);
      const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'logs'`);
      expect((JSON.parse(String(row!.state)) as { windows: Record<string, { lastEnd: string }> }).windows[widgetId]?.lastEnd).toBe(lastEnd);
    } finally {
      if (savedTz === undefined) delete process.env.TZ;
      else process.env.TZ = savedTz;
      vi.useRealTimers();
      await local.close();
    }
  });
});

describe('the migration of a format-1 file comes with the first format-2 load row', () => {
  const layout = (path: string) => withQueries(path, (run) => run(
    `SELECT typeof(started_at) AS type, max(dataset_format) AS format FROM snapengage_data._pipeline_loads GROUP BY ALL`,
  ));

  // An older loader refuses a file only by its load rows' format: converted columns without a format-2 row (a run
  // killed after opening the file) let it write its zone-less times into TIMESTAMPTZ columns, off by its zone.
  it('a run that opens the file and ends before writing a load row leaves it format 1, as an older loader expects', async () => {
    const path = await formatOneFile('format-1-opened.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'snapengage' });
    await dest.close();
    expect(await layout(path)).toEqual([{ type: 'TIMESTAMP', format: 1 }]);
  });

  // NORMALIZATION.md (Upgrading) tells an upgraded user to run `--refresh --resources logs` to fill logs.widget_id. A
  // refresh deletes the resource's state row early in the commit's transaction; converting `_pipeline_state` after
  // that failed the COMMIT ("another transaction has altered this table"), so the first refresh after an upgrade failed.
  it('a --refresh run as the first format-2 run converts the times and commits, every instant kept', async () => {
    const path = await formatOneFile('format-1-refresh.duckdb');
    vi.useFakeTimers({ toFake: ['Date'], now: NOW + 60_000 });
    try {
      const info = await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path }, refresh: true });
      expect(info.rowCounts.logs).toBe((await truth(box)).length);
    } finally {
      vi.useRealTimers();
    }
    const rows = await withQueries(path, (run) => run(
      `SELECT typeof(l.started_at) AS type, epoch_ms(l.started_at)::DOUBLE AS started_ms, l.status, l.dataset_format,
         epoch_ms(s.updated_at)::DOUBLE AS updated_ms
       FROM snapengage_data._pipeline_loads l LEFT JOIN snapengage_data._pipeline_state s USING (load_id) ORDER BY l.load_id`,
    ));
    expect(rows).toEqual([
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW, status: 'loaded', dataset_format: 1, updated_ms: null },
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW + 60_000, status: 'loaded', dataset_format: DATASET_FORMAT, updated_ms: NOW + 60_000 },
    ]);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it("a failed load's row converts the times in its own transaction, every instant kept", async () => {
    const path = await formatOneFile('format-1-failed.duckdb');
    const dest = await DuckDBDestination.open({ path, dataset: 'snapengage_data', pipelineName: 'snapengage' });
    try {
      await dest.recordFailedLoad(newLoadId(), 'logs', 'boom', new Date(NOW + 60_000));
    } finally {
      await dest.close();
    }
    const rows = await withQueries(path, (run) => run(
      `SELECT typeof(started_at) AS type, epoch_ms(started_at)::DOUBLE AS started_ms, dataset_format FROM snapengage_data._pipeline_loads ORDER BY load_id`,
    ));
    expect(rows).toEqual([
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW, dataset_format: 1 },
      { type: 'TIMESTAMP WITH TIME ZONE', started_ms: NOW + 60_000, dataset_format: DATASET_FORMAT },
    ]);
  });
});
