import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The CLI: env lines first on stdout, serves, exits 0 on SIGTERM/SIGINT; bad flags exit 2. It runs from its
// TypeScript source through tsx's loader (the same node process, so signals reach it directly): rebuilding
// dist/ here would race with other test files that spawn the built CLI.

const CLI_SOURCE = fileURLToPath(new URL('../src/cli.ts', import.meta.url));
const CLI = ['--import', 'tsx', CLI_SOURCE];
const ENV_NAMES = [
  'SNAPENGAGE_BASE_URL',
  'SNAPENGAGE_ORG_ID',
  'SNAPENGAGE_API_TOKEN',
  'SNAPENGAGE_API_KEY',
  'SNAPENGAGE_PROVISIONING_KEY',
  'SNAPENGAGE_WIDGET_ID',
  'SNAPENGAGE_EMAIL',
  'SNAPENGAGE_START_DATE',
];

interface Started {
  child: ChildProcess;
  env: Record<string, string>;
  stdout: () => string;
  stderr: () => string;
}

/** Spawns the CLI and waits (bounded by the test timeout) until it printed the eight env lines. */
async function startCli(args: string[], nodeArgs: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [...nodeArgs, ...CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').length > ENV_NAMES.length) resolve();
    });
    child.once('exit', (code) => reject(new Error(`CLI exited early with ${code}: ${stderr}`)));
  });
  const env = Object.fromEntries(stdout.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
  return { child, env, stdout: () => stdout, stderr: () => stderr };
}

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [...CLI, ...args], { stdio: 'pipe', encoding: 'utf8' });
    return { status: 0, stdout, stderr: '' };
  } catch (caught) {
    const failure = caught as { status: number | null; stdout: string; stderr: string };
    return { status: failure.status, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('snapengage-sandbox CLI', () => {
  it('stdout closed before the env lines (`| head -0`): one stderr line, exit 1, not an EPIPE stack trace', async () => {
    const child = spawn(process.execPath, [...CLI, '--cases', '10'], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed at once: the sandbox takes far longer to start than this takes.
    child.stdout?.destroy();
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual(['snapengage-sandbox: cannot write its SNAPENGAGE_ lines: stdout was closed (EPIPE); stopping']);
  });

  it('prints exactly the env lines, serves real data, and exits 0 on SIGTERM', async () => {
    const started = await startCli(['--port', '0', '--seed', '5', '--cases', '120', '--widgets', '2', '--days', '7']);
    expect(Object.keys(started.env)).toEqual(ENV_NAMES);
    const { env } = started;
    expect(env.SNAPENGAGE_BASE_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(env.SNAPENGAGE_WIDGET_ID?.split(',')).toHaveLength(2);
    expect(env.SNAPENGAGE_START_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const today = new Date().toISOString().slice(0, 10);
    const url = `${env.SNAPENGAGE_BASE_URL}/api/v2/${env.SNAPENGAGE_ORG_ID}/logs?widgetId=${env.SNAPENGAGE_WIDGET_ID?.split(',')[1]}&start=${env.SNAPENGAGE_START_DATE}&end=${today}`;
    const page = (await (await fetch(url, { headers: { authorization: env.SNAPENGAGE_API_TOKEN ?? '' } })).json()) as { cases: unknown[] };
    expect(page.cases).toHaveLength(40);
    started.child.kill('SIGTERM');
    const [code] = await once(started.child, 'exit');
    expect(code).toBe(0);
    expect(started.stdout().trim().split('\n')).toHaveLength(ENV_NAMES.length);
    expect(started.stderr()).toContain('serving');
  });

  it('--now ends the data at that time: the same seed gives the same cases on any day', async () => {
    const args = ['--seed', '5', '--cases', '60', '--widgets', '1', '--days', '3', '--now', '2025-06-30T18:00:00Z'];
    const pages: unknown[] = [];
    for (let run = 0; run < 2; run++) {
      const started = await startCli(args);
      const { env } = started;
      expect(env.SNAPENGAGE_START_DATE).toBe('2025-06-28');
      const url = `${env.SNAPENGAGE_BASE_URL}/api/v2/${env.SNAPENGAGE_ORG_ID}/logs?widgetId=${env.SNAPENGAGE_WIDGET_ID}&start=2025-06-01&end=2025-07-31`;
      const page = (await (await fetch(url, { headers: { authorization: env.SNAPENGAGE_API_TOKEN ?? '' } })).json()) as { cases: Array<{ created_at_seconds: number }> };
      expect(page.cases).toHaveLength(60);
      for (const c of page.cases) {
        expect(c.created_at_seconds).toBeGreaterThanOrEqual(Date.parse('2025-06-28T00:00:00Z') / 1000);
        expect(c.created_at_seconds).toBeLessThanOrEqual(Date.parse('2025-06-30T18:00:00Z') / 1000);
      }
      pages.push(page.cases);
      started.child.kill('SIGTERM');
      await once(started.child, 'exit');
    }
    expect(pages[1]).toEqual(pages[0]);
  });

  it('exits 0 on SIGINT too', async () => {
    const started = await startCli(['--cases', '10']);
    started.child.kill('SIGINT');
    const [code] = await once(started.child, 'exit');
    expect(code).toBe(0);
  });

  it('refuses to inject more cases than its heap holds with a 413, instead of dying of "heap out of memory"', async () => {
    // A small heap stands for a big injection: 100,000 `{}` (a 300 kB body) take ~270 MB once given their defaults.
    const started = await startCli(['--cases', '10'], ['--max-old-space-size=128']);
    const { env } = started;
    const widgetId = env.SNAPENGAGE_WIDGET_ID?.split(',')[0];
    const inject = async (count: number): Promise<{ status: number; body: { error?: string } }> => {
      const body = JSON.stringify({ widgetId, cases: Array.from({ length: count }, () => ({})) });
      const response = await fetch(`${env.SNAPENGAGE_BASE_URL}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return { status: response.status, body: (await response.json()) as { error?: string } };
    };
    try {
      const refused = await inject(100_000);
      expect(refused.status).toBe(413);
      expect(refused.body.error).toMatch(/^100000 cases would take about 391 MB of heap and \d+ MB is left \(of \d+ MB\): inject fewer, give node more \(NODE_OPTIONS=--max-old-space-size=MB\)/);
      // Still serving, and a batch that fits is taken.
      expect((await inject(100)).status).toBe(201);
      const stats = (await (await fetch(`${env.SNAPENGAGE_BASE_URL}/__sandbox/stats`)).json()) as { cases: { injected: number } };
      expect(stats.cases.injected).toBe(100);
    } finally {
      started.child.kill('SIGTERM');
      if (started.child.exitCode === null && started.child.signalCode === null) await once(started.child, 'exit');
    }
    expect(started.stderr()).not.toContain('heap out of memory');
  });

  it.each([
    [['--cases', 'many'], '--cases must be a non-negative integer'],
    [['--bogus'], 'Unknown option'],
    [['--cases', '--port', '0'], '--cases is followed by a value that starts with "-": write it as --cases=<value>, or give the value that was forgotten (see --help)'],
    [['--widgets', '0'], 'widgets must be an integer between 1'],
    [['--faults', 'teapot=1'], 'unknown key "teapot"'],
    [['extra'], 'positional'],
    [['--last-page-link', 'missing'], '--last-page-link must be one of absent, empty, null, got "missing"'],
    [['--chat-booleans', 'nope'], '--chat-booleans must be one of doc, string, boolean, got "nope"'],
    [['--now', '2025-06-30 18:00'], '--now: give a UTC day (2025-06-30) or a date-time with its zone (2025-06-30T18:00:00Z), got "2025-06-30 18:00"'],
    [['--now', '2025-06-30T18:00:00'], 'a date-time with its zone'],
    [['--now', '2025-02-30'], '--now: 2025-02-30 is not a day of the calendar'],
    [['--now', '2025-06-30T24:30:00Z'], '--now: give a UTC day (2025-06-30) or a date-time with its zone (2025-06-30T18:00:00Z), got "2025-06-30T24:30:00Z"'],
    [['--now', '1969-12-31'], '--now must be a time between 1970-01-01 and 9999-12-31 (UTC), got 1969-12-31T00:00:00.000Z'],
  ])('refuses %o with one stderr line and exit 2', (args, message) => {
    const result = runCli(args);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(message);
  });

  it('prints usage for --help', () => {
    const result = runCli(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: snapengage-sandbox');
  });

  it('prints its version for --version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(runCli(['--version'])).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('takes -v and -V for --version, as the scaffolder does (and -V as the loader does), and says so in --help', () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['-v', '-V']) expect(runCli([flag]), flag).toEqual({ status: 0, stdout: `${pkg.version}\n`, stderr: '' });
    // Not --V, which parseArgs reads as the option named V that holds -V.
    expect(runCli(['--V'])).toMatchObject({ status: 2, stdout: '', stderr: expect.stringContaining("Unknown option '--V'") });
    expect(runCli(['--help']).stdout).toContain('-h, --help   -v, -V, --version');
  });
});
