// Benchmark: the built CLI with 1,000,000 cases, paged through the Logs API with plain fetch over loopback.
// Reports pages/s (one client following next links, then 4 clients on separate date windows), the server's
// CPU time per page, the truth stream rate, and the server's peak RSS (VmHWM from /proc/<pid>/status).
//
//   npx tsx packages/sandbox/bench/sandbox-bench.ts [--cases 1000000] [--pages 2000] [--truth-lines 1000000]

import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '1000000' },
    pages: { type: 'string', default: '2000' },
    'truth-lines': { type: 'string', default: '1000000' },
  },
});
const CASES = Number(values.cases);
const MAX_PAGES = Number(values.pages);
const MAX_TRUTH_LINES = Number(values['truth-lines']);

const PACKAGE_DIR = fileURLToPath(new URL('..', import.meta.url));
const TSC = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url));
execFileSync(process.execPath, [TSC, '-p', 'tsconfig.build.json'], { cwd: PACKAGE_DIR, stdio: 'inherit' });

function memoryOf(pid: number): { hwmMb: number; rssMb: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { hwmMb: Math.round(kb('VmHWM') / 1024), rssMb: Math.round(kb('VmRSS') / 1024) };
}

const startedAt = performance.now();
const child = spawn(process.execPath, [fileURLToPath(new URL('../dist/cli.js', import.meta.url)), '--cases', String(CASES), '--seed', '42'], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
const env = await new Promise<Record<string, string>>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const lines = out.split('\n').filter(Boolean);
    if (lines.length >= 8) resolve(Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])));
  });
  child.once('exit', (code) => reject(new Error(`sandbox exited with ${code}`)));
});
const startupMs = performance.now() - startedAt;
const pid = child.pid ?? 0;
const headers = { authorization: env.SNAPENGAGE_API_TOKEN ?? '' };
const widget = env.SNAPENGAGE_WIDGET_ID?.split(',')[0] ?? '';
const today = new Date().toISOString().slice(0, 10);
const base = `${env.SNAPENGAGE_BASE_URL}/api/v2/${env.SNAPENGAGE_ORG_ID}/logs`;

/** Follows next links from `url` for at most `limit` pages; returns pages and cases read. */
async function scan(url: string, limit: number): Promise<{ pages: number; cases: number; bytes: number }> {
  let next: string | undefined = url;
  let pages = 0;
  let cases = 0;
  let bytes = 0;
  while (next && pages < limit) {
    const response = await fetch(next, { headers });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`status ${response.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { cases: unknown[]; linkToNextSetOfResults?: string };
    pages++;
    cases += body.cases.length;
    bytes += text.length;
    next = body.linkToNextSetOfResults;
  }
  return { pages, cases, bytes };
}

/** CPU milliseconds (user + system) the server process has used so far. */
function cpuMsOf(processId: number): number {
  const fields = readFileSync(`/proc/${processId}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in clock ticks of 10 ms
}

const cpuBefore = cpuMsOf(pid);
const sequentialStart = performance.now();
const sequential = await scan(`${base}?widgetId=${widget}&start=${env.SNAPENGAGE_START_DATE}&end=${today}`, MAX_PAGES);
const sequentialSeconds = (performance.now() - sequentialStart) / 1000;
const serverCpuMsPerPage = (cpuMsOf(pid) - cpuBefore) / sequential.pages;

// Four clients on four date windows of the same widget, at the same time.
const startDay = new Date(`${env.SNAPENGAGE_START_DATE}T00:00:00Z`).getTime();
const windows = [0, 1, 2, 3].map((i) => {
  const from = new Date(startDay + i * 20 * 86_400_000).toISOString().slice(0, 10);
  const to = new Date(startDay + (i * 20 + 19) * 86_400_000).toISOString().slice(0, 10);
  return `${base}?widgetId=${widget}&start=${from}&end=${to}`;
});
const parallelStart = performance.now();
const parallel = await Promise.all(windows.map((url) => scan(url, Math.ceil(MAX_PAGES / 4))));
const parallelSeconds = (performance.now() - parallelStart) / 1000;
const parallelPages = parallel.reduce((sum, r) => sum + r.pages, 0);

// The truth stream (all widgets), read line by line without keeping it.
const truthStart = performance.now();
let truthLines = 0;
let truthBytes = 0;
const truthResponse = await fetch(`${env.SNAPENGAGE_BASE_URL}/__sandbox/truth`);
const reader = truthResponse.body?.getReader();
while (reader && truthLines < MAX_TRUTH_LINES) {
  const { done, value } = await reader.read();
  if (done) break;
  truthBytes += value.length;
  for (let at = value.indexOf(10); at !== -1; at = value.indexOf(10, at + 1)) truthLines++;
}
await reader?.cancel();
const truthSeconds = (performance.now() - truthStart) / 1000;

const memory = memoryOf(pid);
child.kill('SIGTERM');
await new Promise((resolve) => child.once('exit', resolve));

const report = {
  cases: CASES,
  startupMs: Math.round(startupMs),
  sequential: {
    pages: sequential.pages,
    cases: sequential.cases,
    pagesPerSecond: Math.round(sequential.pages / sequentialSeconds),
    casesPerSecond: Math.round(sequential.cases / sequentialSeconds),
    mbPerSecond: Math.round(sequential.bytes / 1e6 / sequentialSeconds),
    serverCpuMsPerPage: Math.round(serverCpuMsPerPage * 100) / 100,
  },
  fourClients: { pages: parallelPages, pagesPerSecond: Math.round(parallelPages / parallelSeconds) },
  truth: { lines: truthLines, seconds: Math.round(truthSeconds * 10) / 10, linesPerSecond: Math.round(truthLines / truthSeconds), mb: Math.round(truthBytes / 1e6) },
  serverPeakRssMb: memory.hwmMb,
  serverRssAtEndMb: memory.rssMb,
};
console.log(JSON.stringify(report, null, 2));
