// Paths the scaffolder prints as commands (the next steps' `cd`, the README's `--add` command from a clone), for the
// shells they are typed into: POSIX shells, and on Windows PowerShell, cmd and Git Bash alike.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../src/catalog.js';
import { main } from '../src/main.js';
import { cdStep, commandsInOrder, copyStep, crontabWord, nextStepLines, shellWord } from '../src/shell-word.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('the next steps', () => {
  it('cd into the project from a working directory that ends with a separator (/ in a container, C:\\ on Windows)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'shell-word-'));
    dirs.push(cwd);
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const argv = ['my-pipeline', '--resources', 'users', '--no-install', '--no-git'];
    const code = await main({ argv, env: {}, cwd: `${cwd}${sep}`, stdin: new PassThrough(), stdout, stderr: new PassThrough(), catalog: loadCatalog() });
    expect(code).toBe(0);
    expect(out).toMatch(/Next:\n {2}cd my-pipeline\n/);
  });

  /** main() on `platform`'s shells, in a new temporary directory: its exit code, stdout and stderr. */
  async function scaffold(argv: string[], platform: NodeJS.Platform) {
    const cwd = mkdtempSync(join(tmpdir(), 'shell-word-'));
    dirs.push(cwd);
    const [stdout, stderr] = [new PassThrough(), new PassThrough()];
    let [out, err] = ['', ''];
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await main({ argv, env: {}, cwd, stdin: new PassThrough(), stdout, stderr, catalog: loadCatalog(), platform });
    return { code, out, err, cwd };
  }

  it('on Windows, each line runs in cmd and in Windows PowerShell 5.1: `copy`, and the note on a line of its own', async () => {
    const argv = ['my-pipeline', '--resources', 'users', '--no-install', '--no-git'];
    const windows = await scaffold(argv, 'win32');
    expect(windows.code).toBe(0);
    // Before: `cp .env.example .env   # then fill in …`, which cmd ran as `cp` (not a command there) with `#` as text.
    expect(windows.out).toMatch(
      /\nDone\. Next:\n {2}cd my-pipeline\n {2}npm install\n {2}copy \.env\.example \.env\n {2}# then fill in the values \(no account\? README\.md: "Try it without an account"\)\n {2}npm start\n$/,
    );
    // Unchanged elsewhere.
    const posix = await scaffold(argv, 'linux');
    expect(posix.out).toMatch(/\nDone\. Next:\n {2}cd my-pipeline\n {2}npm install\n {2}cp \.env\.example \.env {3}# then fill in the values \(no account\? README\.md: "Try it without an account"\)\n {2}npm start\n$/);
  });

  it('on Windows, the finishing commands of a failed install are named one by one: PowerShell 5.1 rejects `&&`', async () => {
    // Through a shell, as on Windows (/bin/sh here), an npm that fails like an offline install, first on PATH.
    const bin = mkdtempSync(join(tmpdir(), 'shell-word-npm-'));
    dirs.push(bin);
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, 'npm'), 0o755);
    const path = process.env.PATH;
    process.env.PATH = bin;
    try {
      const { code, out, err, cwd } = await scaffold(['my-pipeline', '--resources', 'users', '--install', '--no-git'], 'win32');
      expect(code).toBe(1);
      // Before: finish with `cd my-pipeline && npm install`.
      expect(err).toBe(`error npm install failed (exit 1); the project was created in ${join(cwd, 'my-pipeline')}: finish with \`cd my-pipeline\`, then \`npm install\`\n`);
      expect(out).toMatch(/\nCreated, but the install failed\. Next:\n {2}cd my-pipeline\n {2}npm install\n {2}copy \.env\.example \.env\n/);
    } finally {
      process.env.PATH = path;
    }
  });

  it('nextStepLines, copyStep and commandsInOrder: POSIX as before, Windows without `#` after a command, `cp` or `&&`', () => {
    const steps = [{ command: 'cd p' }, { command: null }, { command: copyStep('a', 'b', 'linux'), note: 'then edit b' }, {}, { note: 'fill in X' }, { command: 'npm start' }];
    expect(nextStepLines(steps, 'linux')).toEqual(['cd p', 'cp a b   # then edit b', '# fill in X', 'npm start']);
    expect(copyStep('a', 'b', 'win32')).toBe('copy a b');
    expect(nextStepLines([{ command: copyStep('a', 'b', 'win32'), note: 'then edit b' }, { note: 'fill in X' }], 'win32')).toEqual(['copy a b', '# then edit b', '# fill in X']);
    // The Ctrl-C after the install names `cd` and `git init` this way too.
    expect(commandsInOrder(['cd p', 'git init'], 'linux')).toBe('`cd p && git init`');
    expect(commandsInOrder(['cd p', 'git init'], 'win32')).toBe('`cd p`, then `git init`');
    expect(commandsInOrder(['git init'], 'win32')).toBe('`git init`');
  });

  it('cdStep: relative, one word of the shell; none in the project itself', () => {
    expect(cdStep('/', '/my-pipeline', 'linux')).toBe('cd my-pipeline');
    expect(cdStep('/work', '/work/my projects/p', 'linux')).toBe("cd 'my projects/p'");
    expect(cdStep('/work', '/work', 'linux')).toBeNull();
    expect(cdStep('C:\\', 'C:\\my-pipeline', 'win32')).toBe('cd my-pipeline');
    // Forward slashes (Git Bash reads a backslash as an escape) and double quotes (cmd has no single quotes).
    expect(cdStep('C:\\work', 'C:\\work\\my projects\\p', 'win32')).toBe('cd "my projects/p"');
    expect(cdStep('C:\\Work', 'c:\\work\\p', 'win32')).toBe('cd p');
    expect(cdStep('C:\\work', 'C:\\work', 'win32')).toBeNull();
  });

  it('cdStep: a directory named with a leading dash is not read as an option of cd', () => {
    // `cd -dash` fails in bash (`-d: invalid option`) and PowerShell (a parameter name); `./-dash` is the same directory.
    expect(cdStep('/work', '/work/-dash', 'linux')).toBe('cd ./-dash');
    expect(cdStep('/work', '/work/-my pipe', 'linux')).toBe("cd './-my pipe'");
    expect(cdStep('C:\\work', 'C:\\work\\-dash', 'win32')).toBe('cd ./-dash');
    expect(cdStep('/work', '/work/a/-dash', 'linux')).toBe('cd a/-dash');
  });
});

describe('shellWord', () => {
  it('POSIX: bare when safe, else single quotes', () => {
    expect(shellWord('/home/me/repo/bin/x.js', 'linux')).toBe('/home/me/repo/bin/x.js');
    expect(shellWord("/home/o'neil/x.js", 'darwin')).toBe("'/home/o'\\''neil/x.js'");
  });

  it('Windows: forward slashes, double quotes when needed, never single quotes for cmd to choke on', () => {
    expect(shellWord('C:\\Users\\me\\repo\\bin\\x.js', 'win32')).toBe('C:/Users/me/repo/bin/x.js');
    expect(shellWord('C:\\Users\\Jane Doe\\repo\\bin\\x.js', 'win32')).toBe('"C:/Users/Jane Doe/repo/bin/x.js"');
    expect(shellWord('\\\\server\\share\\x.js', 'win32')).toBe('//server/share/x.js');
    expect(shellWord('C:\\100%\\x.js', 'win32')).toBe('"C:/100%/x.js"');
    // PowerShell and Git Bash expand `$` inside double quotes: single quotes then (cmd users rarely have such a folder).
    expect(shellWord('C:\\$work\\x.js', 'win32')).toBe("'C:/$work/x.js'");
    // A backtick too (PowerShell's escape character), and a quote inside single quotes is doubled.
    expect(shellWord('C:\\a`b\\x.js', 'win32')).toBe("'C:/a`b/x.js'");
    expect(shellWord("C:\\$o'neil\\x.js", 'win32')).toBe("'C:/$o''neil/x.js'");
  });

  it('Windows: a comma or a leading @ is quoted (PowerShell reads `a,b` as an array and `@name` as a splatted variable)', () => {
    expect(shellWord('C:\\runs,2026\\repo\\x.js', 'win32')).toBe('"C:/runs,2026/repo/x.js"');
    expect(cdStep('C:\\work', 'C:\\work\\@team', 'win32')).toBe('cd "@team"');
    expect(shellWord('C:\\me@work\\x.js', 'win32')).toBe('C:/me@work/x.js');
    expect(cdStep('/work', '/work/@team', 'linux')).toBe('cd @team');
  });
});

describe('crontabWord', () => {
  it('escapes every %, not only the first (cron reads each as a line break)', () => {
    expect(crontabWord('100%%x')).toBe('100\\%\\%x');
    expect(crontabWord('a%b c%d')).toBe("'a\\%b c\\%d'");
  });

  it('quotes for a POSIX shell wherever the project was scaffolded: crontab runs on Unix, not in cmd', () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
    try {
      expect(crontabWord('My Pipeline')).toBe("'My Pipeline'");
    } finally {
      Object.defineProperty(process, 'platform', platform);
    }
  });
});
