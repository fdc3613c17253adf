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
  try {
    return report(out, files, values.check === true);
  } catch (err) {
    // An --out that is a file, or a directory that cannot be written: one line, not a stack trace from node:fs.
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code !== 'string' || typeof e.path !== 'string') throw err;
    const what = e.code === 'ENOTDIR' || e.code === 'EEXIST' ? `${out} is not a directory (--out names the directory the generated files go to)` : `cannot ${values.check ? 'read' : 'write'} ${e.path}: ${e.message}`;
    console.error(`generate: ${what}`);
    return 1;
  }
}

function report(out: string, files: Map<string, string>, check: boolean): number {
  const stale = staleFiles(out, files);
  if (check) {
    if (stale.length === 0) {
      console.log(`generate --check: ${out} is up to date`);
      return 0;
    }
    console.error(`generate --check: ${stale.length} stale file(s) in ${out} (run \`npm run generate\`):`);
    // Said per file: generate deletes a file it does not make, which a user who put it there should know first.
    for (const name of stale) {
      const why = !files.has(name) ? 'not a generated file: npm run generate removes it' : existsSync(join(out, name)) ? 'differs from what the spec generates' : 'missing';
      console.error(`  ${name} (${why})`);
    }
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
