// The built CLI's run in a pseudo-terminal (util-linux `script`), as a person or a CI runner that allocates one sees
// it: the live display only where someone watches, ASCII where the locale is not UTF-8, and the display on stderr's
// side alone when one of the two streams is a file.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { BUILT_CLI, sandbox, tempDir } from './helpers.js';

const hasScript = process.platform === 'linux' && spawnSync('script', ['--version']).status === 0;
const quoted = (word: string) => `'${word.replaceAll("'", "'\\''")}'`;
const CURSOR_UP = /\x1b\[\d+A/;

/** Everything the terminal got (stdout and stderr both, unless redirected in `redirect`), 80 columns wide. */
function inTerminal(args: string[], env: Record<string, string>, cwd: string, redirect = ''): Promise<{ code: number | null; screen: string }> {
  const command = `stty cols 80 rows 24; exec ${[process.execPath, BUILT_CLI, ...args].map(quoted).join(' ')} ${redirect}`;
  const child = spawn('script', ['-qfec', command, '/dev/null'], {
    cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TERM: 'xterm-256color', ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000, killSignal: 'SIGKILL',
  });
  let screen = '';
  child.stdout.on('data', (chunk: Buffer) => (screen += chunk.toString('latin1')));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, screen })));
}

describe.skipIf(!hasScript)('run in a terminal', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let n = 0;
  const run = (env: Record<string, string>, extra: string[] = [], redirect = '') =>
    inTerminal(['run', '--resources', 'logs', '--duckdb', join(tmp.dir, `t${n++}.duckdb`), ...extra], { ...box.env, ...env }, tmp.dir, redirect);

  beforeAll(async () => {
    box = await sandbox({ cases: 300, widgets: 2, days: 5 });
    tmp = tempDir();
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('draws the live display on a TTY, and plain lines with no escape code in CI (a runner that gives the job a TTY)', async () => {
    const live = await run({});
    expect(live.code).toBe(0);
    expect(live.screen).toMatch(CURSOR_UP);
    for (const env of [{ CI: 'true' }, { GITHUB_ACTIONS: 'true' }] as Record<string, string>[]) {
      const ci = await run(env);
      expect(ci.code).toBe(0);
      // Before: the cursor-up and clear of each redraw, every frame kept in the job's log.
      expect(ci.screen, JSON.stringify(env)).not.toContain('\x1b');
      expect(ci.screen).toMatch(/^\[progress [\d.]+s\] logs +\d+ pages/m);
      expect(ci.screen).toContain('is LOADED');
    }
  });

  it('under LANG=C or LC_ALL=POSIX writes only ASCII to the terminal, --verbose lines included', async () => {
    for (const env of [{ LANG: 'C' }, { LC_ALL: 'POSIX', LANG: 'en_US.UTF-8' }] as Record<string, string>[]) {
      const ascii = await run(env, ['--verbose']);
      expect(ascii.code).toBe(0);
      expect(ascii.screen).toMatch(CURSOR_UP); // still the live display
      expect(ascii.screen).toMatch(/^GET http:\/\/127\.0\.0\.1:\d+\/\S+ -> 200 \d+ ms/m);
      // Before: `▸`, `…` and `→` in UTF-8, shown as three characters each where the terminal's set is not UTF-8.
      expect(ascii.screen.match(/[^\x00-\x7f]/g), JSON.stringify(env)).toBeNull();
    }
    // A UTF-8 locale keeps them.
    expect((await run({ LANG: 'C.UTF-8' }, ['--verbose'])).screen).toContain(Buffer.from(' → ').toString('latin1'));
  });

  it('stderr to a file while stdout is the terminal: plain lines in the file; stdout to a file: the live display stays on stderr', async () => {
    const log = join(tmp.dir, 'stderr.log');
    const toFile = await run({}, [], `2> ${quoted(log)}`);
    expect(toFile.code).toBe(0);
    expect(toFile.screen).toContain('is LOADED');
    expect(toFile.screen).not.toContain('\x1b');
    expect(readFileSync(log, 'utf8')).not.toContain('\x1b');
    expect(readFileSync(log, 'utf8')).toMatch(/^\[progress [\d.]+s\] logs/m);

    const out = join(tmp.dir, 'stdout.log');
    const display = await run({}, [], `> ${quoted(out)}`);
    expect(display.code).toBe(0);
    expect(display.screen).toMatch(CURSOR_UP);
    expect(display.screen).not.toContain('is LOADED');
    expect(readFileSync(out, 'utf8')).toContain('is LOADED');
    expect(readFileSync(out, 'utf8')).not.toContain('\x1b');
  });
});
