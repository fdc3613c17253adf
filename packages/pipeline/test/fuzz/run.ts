// Many fuzz seeds, outside the test suite: `npm run fuzz -w snapengage-pipeline -- 1-50 [--runs 4] [--per-run 30]
// [--switch]`. Prints each seed's problems; exits 1 when any seed failed.
import { parseArgs } from 'node:util';
import { fuzzSeed } from './hostile.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string', default: '4' }, 'per-run': { type: 'string', default: '30' }, switch: { type: 'boolean', default: false } },
});
const seeds = (positionals[0] ?? '1-6').split(',').flatMap((part) => {
  const [from, to] = part.split('-').map(Number) as [number, number | undefined];
  return to === undefined ? [from] : Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
});
const options = { runs: Number(values.runs), perRun: Number(values['per-run']), switchToMerge: values.switch };
let failed = 0;
for (const seed of seeds) {
  const started = Date.now();
  const problems = await fuzzSeed(seed, options);
  console.log(`seed ${seed}: ${problems.length ? 'FAIL' : 'ok'} (${Date.now() - started} ms)`);
  for (const problem of problems.slice(0, 25)) console.log(`    ${problem.slice(0, 700)}`);
  if (problems.length) failed++;
}
console.log(`${seeds.length - failed} of ${seeds.length} seeds ok`);
process.exitCode = failed ? 1 : 0;
