// A year of scheduled runs, outside the test suite: `npx tsx --conditions=snapengage-source test/soak/year.ts
// [--days 365] [--per-day 100] [--widgets 2] [--hours 24] [--check 90] [--keep]`. One process fakes the clock (Date
// only; timers stay real), so the sandbox and the loader agree on "now": each simulated step of `--hours` injects that
// step's cases (about one step in eight has none) and late survey results for the previous step's cases, then runs
// the pipeline as cron would (from 06:00 UTC on). Prints per 30 days: the run's wall time, the DuckDB file size, `_pipeline_loads` rows, the
// state's size; checks the data against the sandbox's truth every `--check` days and at the end. Measures; asserts
// only correctness.
import { statSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '365' },
    'per-day': { type: 'string', default: '100' },
    widgets: { type: 'string', default: '2' },
    hours: { type: 'string', default: '24' },
    check: { type: 'string', default: '90' },
    start: { type: 'string', default: '2025-03-01' },
    keep: { type: 'boolean', default: false },
  },
});

// The fake clock: real time elapsed since the last jump, plus the simulated offset, so time still passes in a run.
const RealDate = Date;
let offsetMs = 0;
class FakeDate extends RealDate {
  constructor(...args: unknown[]) {
    if (args.length === 0) super(RealDate.now() + offsetMs);
    else super(...(args as [string]));
  }
  static override now(): number {
    return RealDate.now() + offsetMs;
  }
}
globalThis.Date = FakeDate as DateConstructor;
const setNow = (ms: number) => (offsetMs = ms - RealDate.now());

const { startSandbox } = await import('snapengage-sandbox');
const { runPipeline, showDataset } = await import('../../src/index.js');
const { admin, expectMatchesTruth, query, tempDir, truth } = await import('../helpers.js');

const DAY = 86_400_000;
const t0 = RealDate.parse(`${values.start}T06:00:00Z`);
setNow(t0);
const box = await startSandbox({ port: 0, seed: 11, cases: 200, widgets: Number(values.widgets), days: 10, now: t0 });
const tmp = tempDir('year-');
const path = `${tmp.dir}/year.duckdb`;
const env: Record<string, string | undefined> = { ...box.env, SNAPENGAGE_START_DATE: new Date(t0 - 9 * DAY).toISOString().slice(0, 10) };
const widgets = env.SNAPENGAGE_WIDGET_ID!.split(',');
const config = { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } } as const;

let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const perDay = Number(values['per-day']);
let recent: string[] = [];

const fileSize = () => {
  let size = 0;
  for (const f of [path, `${path}.wal`]) try { size += statSync(f).size; } catch { /* none */ }
  return size;
};

async function check(day: number) {
  const problems = await expectMatchesTruth(path, 'snapengage_data', await truth(box));
  console.log(`  day ${day}: truth check ${problems.length === 0 ? 'ok' : `FAILED\n    ${problems.slice(0, 5).join('\n    ')}`}`);
  if (problems.length > 0) process.exitCode = 1;
}

const totals: number[] = [];
const stepTotals: Record<string, number[]> = {};
const median = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)] ?? 0;
const days = Number(values.days);
const STEP = Number(values.hours) * 3_600_000;
const steps = Math.floor((days * DAY) / STEP);
const perStep = (perDay * STEP) / DAY;
let lastReport = -1;
for (let step = 0; step <= steps; step++) {
  const now = t0 + step * STEP;
  const day = Math.floor((step * STEP) / DAY);
  if (step > 0) {
    // The previous step's late surveys, then this step's cases (created since the previous run).
    setNow(now - STEP / 2);
    const updates = recent.filter(() => rand() < 0.2).map((caseId) => ({ caseId, survey_score: Math.floor(rand() * 5) + 1, survey_comments: `late ${step}` }));
    if (updates.length > 0) await admin(box, 'surveys', { updates });
    recent = [];
    for (const widgetId of widgets) {
      const n = rand() < 0.125 ? 0 : Math.round(perStep * (0.5 + rand()));
      const cases = Array.from({ length: n }, () => ({ created_at_date: Math.floor(now - STEP + rand() * (STEP - 60_000)) }));
      if (n > 0) recent.push(...((await admin(box, 'cases', { widgetId, cases })) as { ids: string[] }).ids);
    }
  }
  setNow(now);
  const started = performance.now();
  const stepMs: Record<string, number> = {};
  const info = await runPipeline(config, { env, destination: { path }, onLoadStep: (s) => (stepMs[s.step] = (stepMs[s.step] ?? 0) + s.durationMs) });
  const ms = performance.now() - started;
  totals.push(ms);
  for (const [name, v] of Object.entries(stepMs)) stepTotals[name] = [...(stepTotals[name] ?? []), v];
  if ((day % 30 === 0 && day !== lastReport) || step === steps) {
    lastReport = day;
    const [loads] = await query(path, `SELECT count(*) AS n FROM snapengage_data._pipeline_loads`);
    const [state] = await query(path, `SELECT sum(length(CAST(state AS VARCHAR))) AS bytes FROM snapengage_data._pipeline_state`);
    const [rows] = await query(path, `SELECT (SELECT count(*) FROM snapengage_data.logs) AS logs, (SELECT count(*) FROM snapengage_data.logs__transcripts) AS transcripts`);
    console.log(`day ${String(day).padStart(3)} ${new Date(now).toISOString().slice(0, 16)}  run ${ms.toFixed(0)} ms (median of last 30 runs: ${median(totals.slice(-30)).toFixed(0)})  file ${(fileSize() / 2 ** 20).toFixed(1)} MiB  logs ${rows!.logs} transcripts ${rows!.transcripts}  loads ${loads!.n}  state ${state!.bytes} B  unchanged ${JSON.stringify(info.unchangedRecords)}`);
    // Reruns with nothing new, back to back: the fixed cost of a run on a dataset of this age, without injection noise.
    const idle: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      await runPipeline(config, { env, destination: { path } });
      idle.push(performance.now() - t);
    }
    console.log(`    load steps (median ms of last 30 runs): ${Object.entries(stepTotals).map(([k, v]) => `${k} ${median(v.slice(-30)).toFixed(0)}`).join(', ')};  rerun with nothing new: median of 3 ${median(idle).toFixed(0)} ms`);
  }
  if (step === steps || (step > 0 && (step * STEP) % (Number(values.check) * DAY) === 0)) await check(day);
}
// The same data loaded once, into a new file: what the file of a year of merges compares with.
const fresh = `${tmp.dir}/fresh.duckdb`;
const freshStarted = performance.now();
await runPipeline(config, { env, destination: { path: fresh } });
const freshSize = statSync(fresh).size;
console.log(`fresh load of the same data: ${(performance.now() - freshStarted).toFixed(0)} ms, ${(freshSize / 2 ** 20).toFixed(1)} MiB vs ${(fileSize() / 2 ** 20).toFixed(1)} MiB after the runs`);
const started = performance.now();
const shown = await showDataset({ path, dataset: 'snapengage_data' });
console.log(`show: ${(performance.now() - started).toFixed(0)} ms, ${shown.split('\n').length} lines`);
if (values.keep) console.log(`kept ${path}`);
await box.close();
if (!values.keep) tmp.cleanup();
