// Property: the scaffolder's non-interactive flags, at random, end in a project or one clear usage line (exit 2), never
// a stack or JavaScript's own words. main() runs in-process (it is what the bin runs, with the process's streams),
// in a nested temporary directory, always with --no-install --no-git (no network, no git), never --overwrite (a bug
// there must not empty a directory this test does not own) nor --interactive (no one answers).
//
// A fixed seed and few runs by default; more locally:
//   INPUT_FUZZ_RUNS=500 INPUT_FUZZ_SEED=7 npx vitest run packages/create-snapengage-pipeline/test/input-fuzz.test.ts
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadCatalog } from '../src/catalog.js';
import { main } from '../src/main.js';
import { resolveOptions } from '../src/options.js';

const RUNS = Number(process.env.INPUT_FUZZ_RUNS ?? 40);
const SEED = Number(process.env.INPUT_FUZZ_SEED ?? 20261128);
const catalog = loadCatalog();

/** Stack lines or JavaScript's own words about a wrong type: never in what the user reads. */
const NOT_CLEAR = /Cannot read properties|undefined is not|is not a function|\[object Object\]|Cannot convert|Invalid time value|URI malformed|\n\s+at /;

const value = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('', ' ', '-1', '--', 'logs', 'logs,widgets', 'chat_poll', 'logs,,', 'LOGS', 'start_chat', '2025-01-01', '2025-02-30', '1700000000', '2999-01-01', '1969-12-31', '.', '..', 'a b', 'my-pipeline', '\u00e9t\u00e9', 'node_modules', 'x'.repeat(300)),
);
const flag = fc.oneof(
  fc.tuple(fc.constantFrom('--resources', '--start-date', '--packages', '--add'), value).chain(([name, v]) => fc.constantFrom([name, v], [`${name}=${v}`], [name])),
  fc.constantFrom(['-y'], ['--yes'], ['--no-interactive'], ['-h'], ['-v'], ['-V'], ['--bogus'], ['-x'], ['--yes=1'], ['--']),
);
const argvArb = fc.tuple(fc.option(value, { nil: undefined }), fc.array(flag, { maxLength: 4 })).map(([dir, flags]) => [...(dir === undefined ? [] : [dir]), ...flags.flat()]);

describe('property: scaffolder flags end in a project or one clear line', () => {
  it('resolveOptions never throws, and its usage errors are one clear line', () => {
    fc.assert(
      fc.property(argvArb, fc.boolean(), fc.option(fc.string({ maxLength: 30 }), { nil: undefined }), (argv, isTTY, userAgent) => {
        const resolved = resolveOptions([...argv, '--no-install', '--no-git'], { npm_config_user_agent: userAgent }, isTTY, catalog);
        if (resolved.kind !== 'usage-error') return;
        expect(resolved.message, JSON.stringify(argv)).not.toContain('\n');
        expect(resolved.message).not.toMatch(NOT_CLEAR);
      }),
      { numRuns: RUNS * 25, seed: SEED },
    );
  });

  it('main() exits 0 or 2, with at most one line on stderr that is clear', async () => {
    const root = mkdtempSync(join(tmpdir(), 'create-input-fuzz-'));
    const cwd = join(root, 'work', 'here');
    mkdirSync(cwd, { recursive: true });
    try {
      await fc.assert(
        fc.asyncProperty(argvArb, async (argv) => {
          const args = [...argv, '--no-install', '--no-git'];
          const stdin = new PassThrough();
          stdin.end();
          let stderr = '';
          const err = new PassThrough();
          err.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          const out = new PassThrough();
          out.resume();
          const code = await main({ argv: args, env: {}, cwd, stdin, stdout: out, stderr: err, catalog });
          const context = `${JSON.stringify(args)} → ${code}: ${stderr}`;
          // 1 is a failed step (an install, git), neither of which runs here: anything else failing is a bug's message.
          expect([0, 2], context).toContain(code);
          expect(stderr.trim().split('\n').filter((line) => line !== '').length, context).toBeLessThanOrEqual(1);
          expect(stderr, context).not.toMatch(NOT_CLEAR);
        }),
        { numRuns: RUNS, seed: SEED },
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
