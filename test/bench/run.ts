// npm run bench [-- --cases 200000 --widgets 3 --repeat 3 --json FILE]
// Starts the sandbox in its own process (so its memory is not counted), then times in the same run:
//   (a) the built `snapengage-pipeline run` of logs into a fresh DuckDB file, (b) a rerun with no new data,
//   (c) the bare baseline (test/bench/baseline.ts: fetch → NDJSON → read_json + unnest).
// Sandbox data spans --days (default 90, the sandbox's default); the rerun re-reads the lookback window only.
// Prints wall time, cases/s, peak RSS (from /usr/bin/time, else /proc/<pid>/status VmHWM polled) and the ratio.
// `--cases 50000,500000` runs the loader at each size (for the RSS scaling target) and the baseline at the first.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const LOADER_CLI = join(ROOT, 'packages/pipeline/dist/cli.js');
const SANDBOX_CLI = join(ROOT, 'packages/sandbox/dist/cli.js');
const BASELINE = join(ROOT, 'test/bench/baseline.ts');
const TIME = '/usr/bin/time';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '200000' },
    widgets: { type: 'string', default: '3' },
    days: { type: 'string', default: '90' },
    json: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
    repeat: { type: 'string', default: '3' },
  },
});
const sizes = values.cases.split(',').map(Number);
const repeat = Number(values.repeat);
if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new Error('--repeat must be an integer from 1 to 20');
if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--cases must be positive integers, e.g. 200000 or 50000,500000');
for (const file of [LOADER_CLI, SANDBOX_CLI]) {
  if (!existsSync(file)) {
    process.stderr.write(`bench: ${file} is missing; run \`npm run build\` first\n`);
    process.exit(2);
  }
}

interface Measure {
  wallMs: number;
  peakRssMiB: number;
  stdout: string;
}

/** Runs a command to completion and measures its wall time and peak RSS. */
async function measure(command: string[], env: Record<string, string>, cwd: string): Promise<Measure> {
  const useTime = existsSync(TIME);
  const timeDir = mkdtempSync(join(tmpdir(), 'bench-time-'));
  try {
    return await measureInto(join(timeDir, 'time.txt'), useTime, command, env, cwd);
  } finally {
    rmSync(timeDir, { recursive: true, force: true });
  }
}

async function measureInto(timeFile: string, useTime: boolean, command: string[], env: Record<string, string>, cwd: string): Promise<Measure> {
  const argv = useTime ? [TIME, '-f', '%M', '-o', timeFile, ...command] : command;
  const started = performance.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let polledKiB = 0;
  const poll = useTime ? undefined : setInterval(() => (polledKiB = Math.max(polledKiB, vmHwmKiB(child))), 50);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  const wallMs = performance.now() - started;
  if (poll) clearInterval(poll);
  if (code !== 0) throw new Error(`${command.join(' ')} exited ${code}: ${stderr.trim().split('\n').slice(-3).join(' / ')}`);
  const kib = useTime ? Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop()) : polledKiB;
  return { wallMs, peakRssMiB: kib / 1024, stdout };
}

function vmHwmKiB(child: ChildProcess): number {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
    return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function startSandbox(cases: number): Promise<{ env: Record<string, string>; stop(): void }> {
  const child = spawn(process.execPath, [SANDBOX_CLI, '--cases', String(cases), '--widgets', values.widgets, '--days', values.days], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const env: Record<string, string> = {};
  let buffer = '';
  await new Promise<void>((resolvePromise, reject) => {
    child.on('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const line of buffer.split('\n')) {
        const match = /^(SNAPENGAGE_\w+)=(.*)$/.exec(line.trim());
        if (match) env[match[1]!] = match[2]!;
      }
      if (env.SNAPENGAGE_BASE_URL && env.SNAPENGAGE_START_DATE && env.SNAPENGAGE_WIDGET_ID) resolvePromise();
    });
  });
  return { env, stop: () => child.kill('SIGTERM') };
}

/** A few pages through the sandbox first, so neither contestant pays for its JIT warm-up. */
async function warmUp(env: Record<string, string>): Promise<void> {
  const widget = env.SNAPENGAGE_WIDGET_ID!.split(',')[0];
  let url: string | undefined = `${env.SNAPENGAGE_BASE_URL}/api/v2/${env.SNAPENGAGE_ORG_ID}/logs?widgetId=${widget}&start=${env.SNAPENGAGE_START_DATE}&end=${new Date().toISOString().slice(0, 10)}`;
  for (let page = 0; url && page < 30; page++) {
    const body = (await (await fetch(url, { headers: { Authorization: env.SNAPENGAGE_API_TOKEN! } })).json()) as { linkToNextSetOfResults?: string };
    url = body.linkToNextSetOfResults;
  }
}

const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** The run with the median wall time (its peak RSS comes with it). */
function median(runs: Measure[]): Measure {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
const results: Record<string, unknown>[] = [];

for (const [index, cases] of sizes.entries()) {
  const sandbox = await startSandbox(cases);
  await warmUp(sandbox.env);
  const work = mkdtempSync(join(tmpdir(), 'se-bench-'));
  try {
    // The bench config lifts the proactive rate limit (the sandbox has none) and fetches all widgets at once.
    const config = join(work, 'bench-pipeline.mjs');
    writeFileSync(config, `export default { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, concurrency: 4 };\n`);
    const db = join(work, 'loader.duckdb');
    const loaderCommand = [process.execPath, LOADER_CLI, 'run', '--config', config, '--duckdb', db];
    // Runs alternate (loader, rerun, baseline) --repeat times against the same warm sandbox, and medians are
    // reported: a single run on 2 shared cores varies by ±15 %, and whichever side ran first paid for warm-up.
    const runBaseline = index === 0 && !values['no-baseline'];
    const loaders: Measure[] = [];
    const reruns: Measure[] = [];
    const baselines: Measure[] = [];
    for (let round = 0; round < repeat; round++) {
      rmSync(db, { force: true });
      rmSync(`${db}.wal`, { force: true });
      loaders.push(await measure(loaderCommand, sandbox.env, work));
      reruns.push(await measure(loaderCommand, sandbox.env, work));
      if (runBaseline) {
        const out = join(work, 'baseline.duckdb');
        rmSync(out, { force: true });
        baselines.push(await measure([process.execPath, '--import', 'tsx', BASELINE, out], sandbox.env, ROOT));
      }
    }
    const loader = median(loaders);
    const rerun = median(reruns);
    // Memory: the highest peak of all runs, not the median's.
    loader.peakRssMiB = Math.max(...loaders.map((m) => m.peakRssMiB));
    const row: Record<string, unknown> = {
      cases,
      widgets: Number(values.widgets),
      repeat,
      loader: { wallMs: Math.round(loader.wallMs), casesPerSecond: Math.round(cases / (loader.wallMs / 1000)), peakRssMiB: +loader.peakRssMiB.toFixed(1), runsMs: loaders.map((m) => Math.round(m.wallMs)) },
      rerun: { wallMs: Math.round(rerun.wallMs), fractionOfFullLoad: +(rerun.wallMs / loader.wallMs).toFixed(4), runsMs: reruns.map((m) => Math.round(m.wallMs)) },
    };
    console.log(`\n${cases} cases, ${values.widgets} widgets (median of ${repeat})`);
    console.log(`  loader    ${fmt(loader.wallMs).padStart(9)}  ${String(row.loader && (row.loader as { casesPerSecond: number }).casesPerSecond).padStart(7)} cases/s  peak RSS ${loader.peakRssMiB.toFixed(1)} MiB`);
    console.log(`  rerun     ${fmt(rerun.wallMs).padStart(9)}  (${((rerun.wallMs / loader.wallMs) * 100).toFixed(1)} % of the full load; target ≤ 3 %)`);
    if (runBaseline) {
      const baseline = median(baselines);
      baseline.peakRssMiB = Math.max(...baselines.map((m) => m.peakRssMiB));
      const ratio = loader.wallMs / baseline.wallMs;
      row.baseline = { wallMs: Math.round(baseline.wallMs), casesPerSecond: Math.round(cases / (baseline.wallMs / 1000)), peakRssMiB: +baseline.peakRssMiB.toFixed(1), tables: JSON.parse(baseline.stdout), runsMs: baselines.map((m) => Math.round(m.wallMs)) };
      row.ratio = +ratio.toFixed(3);
      console.log(`  baseline  ${fmt(baseline.wallMs).padStart(9)}  ${String(Math.round(cases / (baseline.wallMs / 1000))).padStart(7)} cases/s  peak RSS ${baseline.peakRssMiB.toFixed(1)} MiB`);
      console.log(`  ratio loader/baseline ${ratio.toFixed(2)} (target ≤ 1.0); loader peak RSS target ≤ 200 MiB`);
    }
    results.push(row);
  } finally {
    sandbox.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
if (results.length > 1) {
  const first = results[0]!.loader as { peakRssMiB: number };
  const last = results[results.length - 1]!.loader as { peakRssMiB: number };
  console.log(`\nRSS(${sizes[sizes.length - 1]}) / RSS(${sizes[0]}) = ${(last.peakRssMiB / first.peakRssMiB).toFixed(2)} (target ≤ 1.1)`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ node: process.version, results }, null, 2)}\n`);
