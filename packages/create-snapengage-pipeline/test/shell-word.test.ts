// Paths the scaffolder prints as commands (the next steps' `cd`, the README's `--add` command from a clone), for the
// shells they are typed into: POSIX shells, and on Windows PowerShell, cmd and Git Bash alike.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadCatalog } from '../src/catalog.js';
import { main } from '../src/main.js';
import { cdStep, crontabWord, shellWord } from '../src/shell-word.js';

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
