// Interactive mode: the real @clack/prompts questions, driven through injected streams that claim to be a TTY.
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv, stripVTControlCharacters } from 'node:util';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../packages/create-snapengage-pipeline/src/index.js';
import { cliPath, CTRL_C, DOWN, ENTER, ensureCliBuilt, fakeTerminal, pipelineResources } from '../packages/create-snapengage-pipeline/test/helpers.js';

let cwd: string;
beforeEach(() => {
  cwd = mkdtempSync(join(tmpdir(), 'scaffold-tty-'));
});
afterEach(() => rmSync(cwd, { recursive: true, force: true }));

describe('interactive prompts', () => {
  it('asks for the directory, resources, start date and credentials, and writes them', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'tty-proj', ENTER);
    // logs is preselected; move to widgets (5th) and toggle it.
    await term.answer('Which resources', DOWN, DOWN, DOWN, DOWN, ' ', ENTER);
    await term.answer('First day to load', '2025-05-06', ENTER);
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_API_TOKEN', 'tok-en"s3cret', ENTER);
    await term.answer('SNAPENGAGE_ORG_ID', 'org-1', ENTER);
    await term.answer('SNAPENGAGE_WIDGET_ID', 'w1,w2', ENTER);
    await term.answer('SNAPENGAGE_PROVISIONING_KEY', 'prov-key', ENTER);
    await term.answer('SNAPENGAGE_EMAIL', 'me@example.com', ENTER);
    expect(await done, term.errors()).toBe(0);

    const dir = join(cwd, 'tty-proj');
    expect(pipelineResources(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8'))).toEqual(['logs', 'widgets']);
    expect(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8')).toContain("startDate: '2025-05-06'");
    expect(parseEnv(readFileSync(join(dir, '.env'), 'utf8'))).toEqual({
      SNAPENGAGE_API_TOKEN: 'tok-en"s3cret',
      SNAPENGAGE_ORG_ID: 'org-1',
      SNAPENGAGE_WIDGET_ID: 'w1,w2',
      SNAPENGAGE_PROVISIONING_KEY: 'prov-key',
      SNAPENGAGE_EMAIL: 'me@example.com',
    });
    expect(statSync(join(dir, '.env')).mode & 0o077).toBe(0);
    // Secrets are masked on screen.
    expect(term.output()).not.toContain('s3cret');
    expect(term.output()).not.toContain('prov-key');
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toMatch(/^\.env$/m);
  });

  it('asks whether to install and to init git, and does what was answered', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['git-proj', '--resources', 'users'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Enter credentials now?', ENTER);
    await term.answer('Install dependencies with npm?', 'n');
    await term.answer('Initialize a git repository?', 'y');
    expect(await done, term.errors()).toBe(0);
    const dir = join(cwd, 'git-proj');
    expect(existsSync(join(dir, 'node_modules'))).toBe(false);
    expect(term.output()).toMatch(/Next:[\s\S]*npm install/);
    const git = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: dir, encoding: 'utf8' });
    if (git.error) {
      // No git on this machine: the scaffolder must say it skipped, not fail.
      expect(term.output()).toContain('git not found; skipped git init');
      return;
    }
    expect(term.output()).toContain('initialized a git repository');
    expect(existsSync(join(dir, '.git'))).toBe(true);
    expect(git.stdout).toContain('?? src/pipeline.ts');
  });

  it('credentials asked "now" but all left empty: no .env, so the next steps still say to make one', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['empty-creds', '--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_PROVISIONING_KEY', ENTER);
    await term.answer('SNAPENGAGE_EMAIL', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(existsSync(join(cwd, 'empty-creds', '.env'))).toBe(false);
    expect(term.output()).toMatch(/Next:[\s\S]*cp \.env\.example \.env/);
  });

  it('eleven questions in one run print no MaxListenersExceededWarning (each prompt left an abort listener behind)', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const term = fakeTerminal();
      const done = main({ argv: [], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
      await term.answer('Project directory?', 'many-questions', ENTER);
      await term.answer('Which resources', DOWN, DOWN, DOWN, DOWN, ' ', ENTER);
      await term.answer('First day to load', ENTER);
      await term.answer('Enter credentials now?', DOWN, ENTER);
      for (const name of ['SNAPENGAGE_API_TOKEN', 'SNAPENGAGE_ORG_ID', 'SNAPENGAGE_WIDGET_ID', 'SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_EMAIL']) {
        await term.answer(name, 'x', ENTER);
      }
      await term.answer('Install dependencies with npm?', 'n');
      await term.answer('Initialize a git repository?', 'n');
      expect(await done, term.errors()).toBe(0);
      // The warning is emitted on the next tick.
      await new Promise((r) => setImmediate(r));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('required credentials left empty among others given: the next steps name them before the start command', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['some-creds', '--resources', 'logs', '--start-date', '2025-01-01', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_API_TOKEN', 'tok', ENTER);
    await term.answer('SNAPENGAGE_ORG_ID', ENTER);
    await term.answer('SNAPENGAGE_WIDGET_ID', 'w1', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(parseEnv(readFileSync(join(cwd, 'some-creds', '.env'), 'utf8'))).toEqual({ SNAPENGAGE_API_TOKEN: 'tok', SNAPENGAGE_WIDGET_ID: 'w1' });
    const out = stripVTControlCharacters(term.output());
    expect(out).toMatch(/Next:[\s\S]*SNAPENGAGE_ORG_ID[^\n]*\.env[\s\S]*npm start/);
    expect(out).not.toMatch(/cp \.env\.example \.env/);
  });

  it('re-asks for widget ids separated by spaces (the pipeline refuses them at its first run); commas are kept', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['widget-ids', '--resources', 'chat_availability', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_API_KEY', 'key', ENTER);
    await term.answer('SNAPENGAGE_WIDGET_ID', 'w1 w2', ENTER);
    await term.answer('separate the ids with commas only', ...Array(5).fill('\x7f'), 'w1, w2', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(parseEnv(readFileSync(join(cwd, 'widget-ids', '.env'), 'utf8')).SNAPENGAGE_WIDGET_ID).toBe('w1, w2');
  });

  it('re-asks a credential pasted with its quotes (from a .env line or the docs), without showing it', async () => {
    // Written as is, .env held SNAPENGAGE_API_TOKEN='"s3cret-tok"': the quotes were sent with the token, refused at the
    // first run.
    const term = fakeTerminal();
    const done = main({ argv: ['quoted-creds', '--resources', 'logs', '--start-date', '2025-01-01', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Enter credentials now?', DOWN, ENTER);
    await term.answer('SNAPENGAGE_API_TOKEN', '"s3cret-tok"', ENTER);
    await term.answer('without the quotes around it', ...Array(12).fill('\x7f'), ' s3cret-tok ', ENTER);
    await term.answer('SNAPENGAGE_ORG_ID', "'org-1'", ENTER);
    await term.answer('without the quotes around it', ...Array(7).fill('\x7f'), 'org-1', ENTER);
    await term.answer('SNAPENGAGE_WIDGET_ID', 'w1', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(parseEnv(readFileSync(join(cwd, 'quoted-creds', '.env'), 'utf8'))).toEqual({ SNAPENGAGE_API_TOKEN: 's3cret-tok', SNAPENGAGE_ORG_ID: 'org-1', SNAPENGAGE_WIDGET_ID: 'w1' });
    expect(term.output()).not.toContain('s3cret');
  });

  it('re-asks for an invalid directory name instead of failing', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', '../out', ENTER);
    // The error shows under the prompt; clear the bad answer, then give a good one.
    await term.answer('outside the current directory', ...Array(6).fill('\x7f'), 'good-name', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done).toBe(0);
    expect(readdirSync(cwd)).toEqual(['good-name']);
  });

  it('a directory typed or pasted with spaces around it: the spaces are not part of the name (as create-vite trims it)', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    // Was a directory named "  spaced-proj ", and a question for a package name since that one is not valid.
    await term.answer('Project directory?', '  spaced-proj ', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(readdirSync(cwd)).toEqual(['spaced-proj']);
    expect(term.output()).not.toContain('Package name for package.json?');
    expect(term.output()).toContain('cd spaced-proj');
  });

  it('a first day pasted with spaces around it is taken, not re-asked as "not a day YYYY-MM-DD"', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['spaced-date', '--resources', 'logs', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('First day to load', ' 2025-02-03 ', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(readFileSync(join(cwd, 'spaced-date', 'src/pipeline.ts'), 'utf8')).toContain("startDate: '2025-02-03'");
  });

  it('re-asks for a directory under an existing file, instead of failing after every question', async () => {
    writeFileSync(join(cwd, 'notes.txt'), 'mine');
    const term = fakeTerminal();
    const done = main({ argv: ['--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'notes.txt/p', ENTER);
    await term.answer('is a file, not a directory', ...Array(11).fill('\x7f'), 'good-name', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done, term.errors()).toBe(0);
    expect(readdirSync(cwd).sort()).toEqual(['good-name', 'notes.txt']);
  });

  it('a directory name npm refuses as a package name: asks for the package name, a valid one made from it by default', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'My Pipeline', ENTER);
    await term.answer('Package name for package.json?');
    expect(term.output()).toContain('"My Pipeline" is not a valid npm package name');
    expect(term.output()).toContain('my-pipeline'); // the default, shown as the placeholder
    await term.answer('my-pipeline', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done).toBe(0);
    expect(readdirSync(cwd)).toEqual(['My Pipeline']);
    expect(JSON.parse(readFileSync(join(cwd, 'My Pipeline', 'package.json'), 'utf8')).name).toBe('my-pipeline');
    expect(term.output()).not.toContain('package.json name:'); // asked, so not said again
  });

  it('re-asks a package name npm refuses; a directory given as a flag is asked about too', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['_Odd Dir', '--resources', 'users', '--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Package name for package.json?', 'Bad Name', ENTER);
    await term.answer('"Bad Name" is not a valid npm package name', ...Array(8).fill('\x7f'), 'good-name', ENTER);
    await term.answer('Enter credentials now?', ENTER);
    expect(await done).toBe(0);
    expect(readdirSync(cwd)).toEqual(['_Odd Dir']);
    expect(JSON.parse(readFileSync(join(cwd, '_Odd Dir', 'package.json'), 'utf8')).name).toBe('good-name');
  });

  it('cancelling at a prompt exits 1 and leaves nothing behind', async () => {
    const term = fakeTerminal();
    const done = main({ argv: [], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'never-made', ENTER);
    await term.answer('Which resources', CTRL_C);
    expect(await done).toBe(1);
    expect(term.output()).toContain('nothing was written');
    expect(readdirSync(cwd)).toEqual([]);
  });
});

describe('--interactive when the input ends (stdin from /dev/null or a finished pipe)', () => {
  beforeAll(() => ensureCliBuilt());

  const HIDE = '\x1b[?25l';
  const SHOW = '\x1b[?25h';
  const message = 'error input ended before every question was answered; nothing was written. Pass the answers as flags (see --help) or --yes for the defaults\n';

  it.each<[string, SpawnSyncOptions]>([
    ['/dev/null', { stdio: ['ignore', 'pipe', 'pipe'] }],
    ['a pipe that sends one line and ends', { input: '\n' }],
  ])('stdin from %s: exits 1 with one line, the cursor shown again, nothing written', (_label, stdin) => {
    const run = spawnSync(process.execPath, [cliPath, '--interactive'], {
      ...stdin,
      cwd,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 30_000,
    });
    expect(run.stderr).toBe(message);
    expect(run.status).toBe(1);
    // A prompt was drawn (and hid the cursor); the last cursor command shows it again.
    expect(run.stdout).toContain('Project directory?');
    expect(run.stdout.lastIndexOf(SHOW)).toBeGreaterThan(run.stdout.lastIndexOf(HIDE));
    expect(run.stdout.lastIndexOf(HIDE)).toBeGreaterThanOrEqual(0);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('input ending after some answers cancels at the next question', async () => {
    const term = fakeTerminal();
    const done = main({ argv: ['--no-install', '--no-git'], env: {}, cwd, stdin: term.stdin, stdout: term.stdout, stderr: term.stderr });
    await term.answer('Project directory?', 'half-answered', ENTER);
    await term.answer('Which resources');
    term.stdin.end();
    expect(await done).toBe(1);
    expect(stripVTControlCharacters(term.errors())).toBe(message); // colors are on under CI=true
    expect(readdirSync(cwd)).toEqual([]);
  });
});
