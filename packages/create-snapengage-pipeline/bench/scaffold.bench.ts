// Benchmark (not a test): how long scaffolding takes without the dependency install, which is what the user waits
// for between the last answer and "Done". Target: median ≤ 1 s for the spawned CLI. Run after `npm run build`:
//   npm run bench -w create-snapengage-pipeline [-- --runs 15]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const runsFlag = process.argv.indexOf('--runs');
const runs = Math.min(100, Math.max(3, Number(runsFlag > 0 ? process.argv[runsFlag + 1] : 15) || 15));

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(0)} ms, p90 ${at(0.9).toFixed(0)} ms, min ${sorted[0]!.toFixed(0)} ms`;
}

const root = mkdtempSync(join(tmpdir(), 'scaffold-bench-'));
try {
  const cases: Array<[string, string[]]> = [
    ['--help (startup only)', ['--help']],
    ['scaffold logs', ['--resources', 'logs']],
    ['scaffold all resources', ['--resources', 'logs,chat_availability,chat_poll,visitor_typing,widgets,users']],
  ];
  for (const [label, args] of cases) {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      const dir = `p${label.length}-${i}`;
      const started = performance.now();
      const result = spawnSync(process.execPath, [cli, dir, ...args, '--no-install', '--no-git'], { cwd: root, stdio: 'pipe' });
      samples.push(performance.now() - started);
      if (result.status !== 0) throw new Error(`${label} failed: ${result.stderr.toString()}`);
    }
    console.log(`${label.padEnd(26)} ${stats(samples)}  (${runs} runs, spawned CLI)`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
