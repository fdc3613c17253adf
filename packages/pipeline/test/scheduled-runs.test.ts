// The BUILT command as a scheduler starts it (`npm run build` first): cron's bare environment (no HOME, PATH
// only, LANG=C), a container whose temporary directory cannot be written, no TTY. Each spawn gets exactly the
// variables listed, as `env -i` would.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { PACKAGE_DIR, query, sandbox, tempDir, type CliResult } from './helpers.js';

const BIN = join(PACKAGE_DIR, 'bin', 'snapengage-pipeline.js');

function runBuilt(args: string[], options: { env: Record<string, string>; cwd: string }): Promise<CliResult> {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL' });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
}

describe('scheduled runs, built CLI', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;

  beforeAll(async () => {
    if (!existsSync(join(PACKAGE_DIR, 'dist', 'cli.js'))) throw new Error('run `npm run build` first: these tests spawn the built CLI');
    box = await sandbox({ cases: 100, widgets: 1, days: 5 });
    tmp = tempDir('sepipe-scheduled-');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a TypeScript config loads where the temporary directory cannot be written (read-only root filesystem)', async () => {
    // tsx cached its transforms in $TMPDIR/tsx-<uid>, and failed the import (so the whole run) when it could not
    // create it. A TMPDIR under a regular file cannot be created by anyone, root included, as /tmp of a container
    // with a read-only root filesystem cannot.
    const project = join(tmp.dir, 'project');
    mkdirSync(join(project, 'src'), { recursive: true });
    writeFileSync(join(project, 'src', 'pipeline.ts'), [
      "const destination: { type: 'duckdb'; path: string; dataset: string } = { type: 'duckdb', path: 'data/snapengage.duckdb', dataset: 'snapengage_data' };",
      'export default { resources: { users: true }, destination };',
      '',
    ].join('\n'));
    const notADirectory = join(tmp.dir, 'tmp-is-a-file');
    writeFileSync(notADirectory, '');
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', TMPDIR: join(notADirectory, 'tmp'), ...box.env };

    const run = await runBuilt(['run'], { env, cwd: project });
    expect(run.stderr).not.toMatch(/Cannot load pipeline config/);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('is LOADED');
    expect(await query(join(project, 'data', 'snapengage.duckdb'), 'SELECT count(*)::INTEGER AS n FROM snapengage_data.users')).toEqual([{ n: 1 }]);

    const show = await runBuilt(['show'], { env, cwd: project });
    expect(show.stderr).toBe('');
    expect(show.code).toBe(0);
    expect(show.stdout).toContain('users  1 row\n');
  }, 60_000);
});
