// Colour in the scaffolder's own lines (not clack's prompts, which only run on a TTY): as Node reads NO_COLOR,
// FORCE_COLOR and TERM for the stream written, so files, pipes and CI logs get no escape codes unless asked for.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, runCli } from './helpers.js';

let dir: string;
beforeAll(async () => {
  await ensureCliBuilt();
  dir = mkdtempSync(join(tmpdir(), 'create-colors-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('colour in the error line', () => {
  // Unset (spawn leaves undefined out) unless given: runCli sets NO_COLOR, and the test's own environment may set any.
  const unset = { NO_COLOR: undefined, FORCE_COLOR: undefined, CI: undefined } as unknown as Record<string, string>;
  const bogus = (env: Record<string, string>) => runCli(['my-pipeline', '--bogus'], dir, { ...unset, ...env });

  it('none in a CI log written to a file or a pipe (CI=true, no TTY)', () => {
    const run = bogus({ CI: 'true' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^error Unknown option '--bogus'/);
  });

  it('none with FORCE_COLOR=0, red with FORCE_COLOR=1', () => {
    expect(bogus({ CI: 'true', FORCE_COLOR: '0' }).stderr).toMatch(/^error /);
    expect(bogus({ FORCE_COLOR: '1' }).stderr).toMatch(/^\x1b\[31merror\x1b\[39m /);
  });
});
