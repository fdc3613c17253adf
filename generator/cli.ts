// npm run generate [-- --check] [--spec FILE] [--out DIR]
import { parseArgs } from 'node:util';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_OUT, DEFAULT_SPEC, generate, staleFiles, writeGenerated } from './generate.js';
import { SpecError } from './validate-spec.js';

const USAGE = 'usage: npm run generate -- [--check] [--spec spec/snapengage.openapi.yaml] [--out generated]';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        check: { type: 'boolean', default: false },
        spec: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`generate: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const spec = values.spec ? resolve(values.spec) : DEFAULT_SPEC;
  const out = values.out ? resolve(values.out) : DEFAULT_OUT;
  let files;
  try {
    files = await generate(spec);
  } catch (err) {
    if (err instanceof SpecError) {
      console.error(`generate: the spec has ${err.problems.length} problem(s); ${out} was left untouched:`);
      console.error(err.message);
      return 1;
    }
    throw err;
  }
  const stale = staleFiles(out, files);
  if (values.check) {
    if (stale.length === 0) {
      console.log(`generate --check: ${out} is up to date`);
      return 0;
    }
    console.error(`generate --check: ${stale.length} stale file(s) in ${out} (run \`npm run generate\`):`);
    for (const name of stale) console.error(`  ${name}`);
    return 1;
  }
  writeGenerated(out, files);
  const written = stale.filter((name) => files.has(name));
  const removed = stale.filter((name) => !files.has(name) && !existsSync(join(out, name)));
  // A scratch directory of a generate still running is kept (writeGenerated).
  const left = stale.filter((name) => !files.has(name) && existsSync(join(out, name)));
  const done = [
    written.length ? `wrote ${written.join(', ')}` : '',
    removed.length ? `removed ${removed.join(', ')}` : '',
    left.length ? `left ${left.join(', ')} (another generate is running)` : '',
  ].filter(Boolean).join(' and ');
  console.log(stale.length ? `generate: ${done} in ${out}` : `generate: ${out} already up to date`);
  return 0;
}

process.exitCode = await main();
