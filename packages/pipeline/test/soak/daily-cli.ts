// Daily cron runs of the built CLI on one DuckDB file, outside the test suite: `npm run build && npx tsx
// test/soak/daily-cli.ts [--days 60] [--per-day 100] [--widgets 2] [--every 10] [--keep]` (in packages/pipeline).
// Unlike year.ts (one process, runPipeline), each day is a new `snapengage-pipeline run` process, as cron starts it,
// so the file is opened, checkpointed and closed each time. The child's clock is faked by a preload (Date only) so its
// "today" is the simulated day; the sandbox's cases are added by its admin API with their creation times. Prints per
// `--every` days: run time, load-step times (from --verbose), file size, leftovers beside the file (.wal, .staging,
// .tmp), `_pipeline_loads` rows, state size, and `show`'s time and line count; then what deleting old cases and
// compacting with COPY FROM DATABASE give. Measures; checks only correctness (truth) at the end.
import { spawn } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { startSandbox } from 'snapengage-sandbox';
import { admin, expectMatchesTruth, PACKAGE_DIR, query, tempDir, truth } from '../helpers.js';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '60' },
    'per-day': { type: 'string', default: '100' },
    widgets: { type: 'string', default: '2' },
    every: { type: 'string', default: '10' },
    start: { type: 'string', default: '2025-03-01' },
    keep: { type: 'boolean', default: false },
  },
});

const DAY = 86_400_000;
const BIN = resolve(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');
const tmp = tempDir('daily-cli-');
const path = join(tmp.dir, 'snapengage.duckdb');
// Shifts Date by SOAK_NOW − the real time at start, so time still passes within a run.
const preload = join(tmp.dir, 'fake-clock.mjs');
writeFileSync(
  preload,
  `const RealDate = Date; const offset = Number(process.env.SOAK_NOW) - RealDate.now();
class FakeDate extends RealDate { constructor(...a) { if (a.length === 0) super(RealDate.now() + offset); else super(...a); }
  static now() { return RealDate.now() + offset; } }
globalThis.Date = FakeDate;\n`,
);

const t0 = Date.parse(`${values.start}T06:00:00Z`);
const box = await startSandbox({ port: 0, seed: 11, cases: 200, widgets: Number(values.widgets), days: 10, now: t0 });
const env: Record<string, string | undefined> = { ...box.env, SNAPENGAGE_START_DATE: new Date(t0 - 9 * DAY).toISOString().slice(0, 10), SNAPENGAGE_DUCKDB_THREADS: '2' };
const widgets = env.SNAPENGAGE_WIDGET_ID!.split(',');

function cli(args: string[], now: number): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp.dir,
      env: { PATH: process.env.PATH, ...env, SOAK_NOW: String(now), NODE_OPTIONS: `--import ${pathToFileURL(preload).href}` },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr, ms: performance.now() - started }));
  });
}

/** DuckDB's own count of the file's blocks: the free ones are what later runs reuse before the file grows. */
const blocks = async (file: string) => {
  const [b] = await query(file, `SELECT used_blocks, free_blocks FROM pragma_database_size() WHERE database_name = current_database()`);
  return `${b!.used_blocks} used + ${b!.free_blocks} free blocks`;
};
const leftovers = () => readdirSync(tmp.dir).filter((f) => f.startsWith('snapengage.duckdb.'));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
let seed = 12345;
const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
let recent: string[] = [];
const perDay = Number(values['per-day']);
const days = Number(values.days);
const runMs: number[] = [];
const steps: Record<string, number[]> = {};
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;

for (let day = 0; day <= days; day++) {
  const now = t0 + day * DAY;
  if (day > 0) {
    const updates = recent.filter(() => rand() < 0.2).map((caseId) => ({ caseId, survey_score: 1 + Math.floor(rand() * 5), survey_comments: `late ${day}` }));
    if (updates.length > 0) await admin(box, 'surveys', { updates });
    recent = [];
    for (const widgetId of widgets) {
      const cases = Array.from({ length: Math.round(perDay * (0.5 + rand())) }, () => ({ created_at_date: Math.floor(now - DAY + rand() * (DAY - 60_000)) }));
      recent.push(...((await admin(box, 'cases', { widgetId, cases })) as { ids: string[] }).ids);
    }
  }
  const run = await cli(['run', '--verbose'], now);
  if (run.code !== 0) throw new Error(`day ${day}: exit ${run.code}\n${run.stderr.slice(-2000)}`);
  runMs.push(run.ms);
  for (const m of run.stderr.matchAll(/^load \w+: (\w+)\S*(?: \S+)*? ([\d.]+) s$/gm)) (steps[m[1]!] ??= []).push(Number(m[2]) * 1000);
  if (day % Number(values.every) === 0 || day === days) {
    const [loads] = await query(path, `SELECT count(*) AS n FROM snapengage_data._pipeline_loads`);
    const [state] = await query(path, `SELECT count(*) AS n, sum(length(CAST(state AS VARCHAR))) AS bytes FROM snapengage_data._pipeline_state`);
    const [rows] = await query(path, `SELECT (SELECT count(*) FROM snapengage_data.logs) AS logs, (SELECT count(*) FROM snapengage_data.logs__transcripts) AS transcripts`);
    const show = await cli(['show'], now);
    console.log(
      `day ${String(day).padStart(3)}  run ${run.ms.toFixed(0)} ms (median of last ${Math.min(runMs.length, 10)}: ${median(runMs.slice(-10)).toFixed(0)}; ` +
        `in the loader ${/completed in ([\d.]+) seconds/.exec(run.stdout)?.[1]} s, ${run.stderr.match(/^GET /gm)?.length ?? 0} requests)  file ${mib(statSync(path).size)} (${await blocks(path)})  ` +
        `left beside it: ${JSON.stringify(leftovers())}  logs ${rows!.logs} transcripts ${rows!.transcripts}  loads ${loads!.n}  state ${state!.n} rows ${state!.bytes} B  ` +
        `show ${show.ms.toFixed(0)} ms ${show.stdout.split('\n').length} lines`,
    );
    console.log(`    load steps, median ms of the last 10 runs: ${Object.entries(steps).map(([k, v]) => `${k} ${median(v.slice(-10)).toFixed(0)}`).join(', ')}`);
  }
}
const problems = await expectMatchesTruth(path, 'snapengage_data', await truth(box));
console.log(`truth check: ${problems.length === 0 ? 'ok' : `FAILED\n  ${problems.slice(0, 5).join('\n  ')}`}`);
if (problems.length > 0) process.exitCode = 1;

const fresh = join(tmp.dir, 'fresh', 'snapengage.duckdb');
const freshRun = await cli(['run', '--duckdb', fresh], t0 + days * DAY);
console.log(`fresh load of the same data: exit ${freshRun.code}, ${freshRun.ms.toFixed(0)} ms, ${mib(statSync(fresh).size)} (${await blocks(fresh)}) vs ${mib(statSync(path).size)} (${await blocks(path)}) after ${days + 1} daily runs`);

/** Runs SQL on a file with a DuckDB instance of its own, as a user's DuckDB CLI would, closed after (so it checkpoints). */
async function sql(file: string, statements: string[]) {
  const instance = await DuckDBInstance.create(file, { threads: '2' });
  const connection = await instance.connect();
  try {
    for (const statement of statements) await connection.run(statement);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

// A user keeping the last 30 days: delete older cases and their child rows (by `_root_id`), in a process of its own
// with no run going, then see what the file does at that close's checkpoint, at the next run, and compacted.
const cutoff = Math.floor((t0 + (days - 30) * DAY) / 1000);
const children = (await query(path, `SELECT table_name FROM duckdb_tables() WHERE schema_name = 'snapengage_data' AND starts_with(table_name, 'logs__')`)).map((r) => String(r.table_name));
const [kept] = await query(path, `SELECT count(*) FILTER (WHERE created_at_seconds >= ${cutoff}) AS kept, count(*) AS total FROM snapengage_data.logs`);
let started = performance.now();
await sql(path, [
  'BEGIN',
  ...children.map((t) => `DELETE FROM snapengage_data."${t}" WHERE _root_id IN (SELECT _row_id FROM snapengage_data.logs WHERE created_at_seconds < ${cutoff})`),
  `DELETE FROM snapengage_data.logs WHERE created_at_seconds < ${cutoff}`,
  'COMMIT',
]);
console.log(`deleted cases older than 30 days (${kept!.total} → ${kept!.kept}) in ${(performance.now() - started).toFixed(0)} ms: file ${mib(statSync(path).size)}, left beside it: ${JSON.stringify(leftovers())}`);
await sql(path, ['CHECKPOINT']);
console.log(`  after CHECKPOINT: ${mib(statSync(path).size)}`);
await sql(path, ['VACUUM']);
console.log(`  after VACUUM: ${mib(statSync(path).size)} (${await blocks(path)})`);
const next = t0 + (days + 1) * DAY;
for (const widgetId of widgets) await admin(box, 'cases', { widgetId, cases: [{ created_at_date: next - DAY / 2 }] });
let run = await cli(['run'], next);
const [after] = await query(path, `SELECT count(*) AS n, min(created_at_seconds) AS oldest FROM snapengage_data.logs`);
console.log(`  next day's run: exit ${run.code}, ${run.ms.toFixed(0)} ms, file ${mib(statSync(path).size)}, logs ${after!.n} (oldest ${new Date(Number(after!.oldest) * 1000).toISOString().slice(0, 10)}; deleted cases outside the lookback stay deleted)`);

// Compacting as OPERATIONS.md says: COPY FROM DATABASE into a new file, then run on that file.
const copied = join(tmp.dir, 'new.duckdb');
started = performance.now();
await sql(path, [`ATTACH '${copied}' AS new`, 'COPY FROM DATABASE snapengage TO new']);
console.log(`compacted with COPY FROM DATABASE in ${(performance.now() - started).toFixed(0)} ms: ${mib(statSync(path).size)} → ${mib(statSync(copied).size)} (${await blocks(copied)})`);
run = await cli(['run', '--duckdb', copied], next + DAY);
const show = await cli(['show', '--duckdb', copied], next + DAY);
const [onCopy] = await query(copied, `SELECT count(*) AS n FROM snapengage_data.logs`);
console.log(`  a run on the compacted file: exit ${run.code}, ${run.ms.toFixed(0)} ms, logs ${onCopy!.n}, file ${mib(statSync(copied).size)}; show exit ${show.code}${run.code === 0 ? '' : `\n${run.stderr.slice(-1000)}`}`);
if (run.code !== 0 || show.code !== 0) process.exitCode = 1;

if (values.keep) console.log(`kept ${tmp.dir}`);
await box.close();
if (!values.keep) tmp.cleanup();
