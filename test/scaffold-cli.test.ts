// Flag mode and hostile input: the built CLI spawned with a non-TTY stdin into temp dirs, as CI or an agent runs it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, openSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCliBuilt, listTree, pipelineResources, runCli } from '../packages/create-snapengage-pipeline/test/helpers.js';

let cwd: string;

// As root, the CLI runs as nobody (setpriv), for whom root-owned files and directories are ones it cannot change.
const asRoot = process.getuid?.() === 0;
const canDropPrivileges = !asRoot || spawnSync('setpriv', ['--version']).error === undefined;
function runUnprivileged(args: string[], dir: string) {
  const node = [process.execPath, cliPath, ...args];
  const [command, ...rest] = asRoot ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  return spawnSync(command!, rest, { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1' }, timeout: 60_000 });
}

// A small file system of its own (tmpfs, as root on Linux), to run a write out of space part way.
const canMount = asRoot && process.platform === 'linux' && (() => {
  const probe = mkdtempSync(join(tmpdir(), 'scaffold-mount-probe-'));
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();
function withSmallDisk(kib: number, body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'scaffold-small-'));
  expect(spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k`, 'tmpfs', dir]).status).toBe(0);
  try {
    body(dir);
  } finally {
    spawnSync('umount', [dir]);
    rmSync(dir, { recursive: true, force: true });
  }
}
/** Fills the file system of `dir` up to its last byte. */
function fillUp(dir: string): void {
  spawnSync('dd', ['if=/dev/zero', `of=${join(dir, 'fill')}`, 'bs=1k'], { encoding: 'utf8' });
}

beforeAll(async () => {
  await ensureCliBuilt();
  cwd = mkdtempSync(join(tmpdir(), 'scaffold-cli-'));
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

describe('flag mode', () => {
  it('writes the project with exactly the chosen resources', () => {
    const run = runCli(['flags-one', '--resources', 'logs,widgets', '--start-date', '2025-04-01', '--no-install', '--no-git'], cwd);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('loading logs, widgets');
    const dir = join(cwd, 'flags-one');
    expect(listTree(dir)).toEqual(
      ['.env.example', '.gitignore', 'AGENTS.md', 'README.md', 'package.json', 'src/pipeline.ts', 'test/pipeline.test.ts', 'tsconfig.json'],
    );
    const source = readFileSync(join(dir, 'src/pipeline.ts'), 'utf8');
    expect(pipelineResources(source)).toEqual(['logs', 'widgets']);
    expect(source).toContain("startDate: '2025-04-01'");
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(pkg.name).toBe('flags-one');
    expect(Object.keys(pkg.scripts)).toEqual(['start', 'show', 'check', 'test']);
    // The start date in src/pipeline.ts wins over SNAPENGAGE_START_DATE, so .env.example does not offer the variable
    // and says why; the README says where the date lives.
    const envExample = readFileSync(join(dir, '.env.example'), 'utf8');
    expect(Object.keys(parseEnv(envExample)).sort()).toEqual(
      ['SNAPENGAGE_API_TOKEN', 'SNAPENGAGE_EMAIL', 'SNAPENGAGE_ORG_ID', 'SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_WIDGET_ID'],
    );
    expect(envExample).toMatch(/^# The first day to load \(2025-04-01\) is set in src\/pipeline\.ts .*\n# which wins over SNAPENGAGE_START_DATE/m);
    expect(readFileSync(join(dir, 'README.md'), 'utf8')).toMatch(/first run loads from `2025-04-01`, set as `incremental\.startDate` in `src\/pipeline\.ts`; it wins\nover `SNAPENGAGE_START_DATE`/);
    expect(readFileSync(join(dir, 'AGENTS.md'), 'utf8')).toContain('`incremental.startDate` (wins over `SNAPENGAGE_START_DATE`)');
    expect(existsSync(join(dir, '.env'))).toBe(false);
  });

  it('--yes takes the defaults: logs into ./my-snapengage-pipeline, its start date from SNAPENGAGE_START_DATE', () => {
    const sub = mkdtempSync(join(cwd, 'yes-'));
    const run = runCli(['--yes', '--no-install', '--no-git'], sub);
    expect(run.status).toBe(0);
    // Not ./snapengage-pipeline, its dependency's name (an import of it could resolve to the project itself).
    expect(JSON.parse(readFileSync(join(sub, 'my-snapengage-pipeline/package.json'), 'utf8')).name).toBe('my-snapengage-pipeline');
    const source = readFileSync(join(sub, 'my-snapengage-pipeline/src/pipeline.ts'), 'utf8');
    expect(pipelineResources(source)).toEqual(['logs']);
    // No start date in the config: the variable decides, so it is offered.
    expect(source).not.toContain('startDate');
    const envExample = readFileSync(join(sub, 'my-snapengage-pipeline/.env.example'), 'utf8');
    expect(Object.keys(parseEnv(envExample))).toContain('SNAPENGAGE_START_DATE');
    expect(envExample).not.toContain('The first day to load (');
  });

  it('adds the parent of a child resource', () => {
    const run = runCli(['child-only', '--resources', 'chat_poll', '--no-install', '--no-git'], cwd);
    expect(run.status).toBe(0);
    expect(pipelineResources(readFileSync(join(cwd, 'child-only/src/pipeline.ts'), 'utf8'))).toEqual(['logs', 'chat_poll']);
  });

  const hasGit = spawnSync('git', ['--version']).error === undefined;
  it.skipIf(!hasGit)('--git makes the project a git repository', () => {
    const run = runCli(['with-git', '--resources', 'users', '--no-install', '--git'], cwd);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toContain('initialized a git repository');
    const dir = join(cwd, 'with-git');
    expect(existsSync(join(dir, '.git'))).toBe(true);
    const status = spawnSync('git', ['status', '--porcelain', '--untracked-files=all'], { cwd: dir, encoding: 'utf8' });
    expect(status.status, status.stderr).toBe(0);
    expect(status.stdout.split('\n').filter(Boolean).sort()).toEqual(
      ['.env.example', '.gitignore', 'AGENTS.md', 'README.md', 'package.json', 'src/pipeline.ts', 'test/pipeline.test.ts', 'tsconfig.json'].map((f) => `?? ${f}`),
    );
  });

  it('--help and --version answer without writing anything', () => {
    const help = runCli(['--help'], cwd);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--resources');
    expect(help.stdout).toContain('logs, chat_availability, chat_poll');
    expect(runCli(['--version'], cwd).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('hostile input', () => {
  function refused(args: string[], pattern: RegExp) {
    const before = readdirSync(cwd).sort();
    const run = runCli(args, cwd);
    expect(run.status, run.stdout + run.stderr).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(pattern);
    expect(readdirSync(cwd).sort()).toEqual(before);
  }
  const flags = ['--resources', 'logs', '--no-install', '--no-git'];

  it('no TTY and no flags: exits 2 at once naming the missing flags', () => {
    refused([], /not a TTY.*--resources.*--install or --no-install.*--git or --no-git.*--yes/);
  });

  it.each([
    ['a path outside the cwd', '../escape', /outside the current directory/],
    ['an absolute path elsewhere', '/tmp/elsewhere-abs', /outside the current directory/],
  ])('rejects a directory name with %s', (_label, dir, pattern) => {
    refused([dir, ...flags], pattern);
  });

  it.each([
    ['My Pipeline', 'my-pipeline', /URL-friendly characters; name can no longer contain capital letters/],
    ['.hidden', 'hidden', /cannot start with a period/],
    ['_x', 'x', /cannot start with an underscore/],
    ['Été', 'ete', /URL-friendly/],
    [`it's-"quoted"`, 'it-s-quoted', /URL-friendly/],
    ['http', 'http-pipeline', /core module/],
  ])('a directory named %j that npm refuses as a package name keeps its name; package.json gets %j, and the output says so', (dir, name, why) => {
    const sub = mkdtempSync(join(cwd, 'derived-'));
    try {
      const run = runCli([dir, ...flags], sub);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(readdirSync(sub)).toEqual([dir]);
      expect(JSON.parse(readFileSync(join(sub, dir, 'package.json'), 'utf8')).name).toBe(name);
      const line = run.stdout.split('\n')[0]!;
      expect(line.startsWith(`package.json name: ${name} (${JSON.stringify(dir)} is not a valid npm package name (`), line).toBe(true);
      expect(line.endsWith('); the directory keeps its name)'), line).toBe(true);
      expect(line).toMatch(why);
    } finally {
      rmSync(sub, { recursive: true, force: true });
    }
  });

  it('`.` in a directory whose name npm refuses: package.json gets a valid name made from it', () => {
    const here = join(cwd, 'My Pipelines é');
    mkdirSync(here);
    try {
      const run = runCli(['.', ...flags], here);
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);
      expect(JSON.parse(readFileSync(join(here, 'package.json'), 'utf8')).name).toBe('my-pipelines-e');
    } finally {
      rmSync(here, { recursive: true, force: true });
    }
  });

  it('a path starting with ~ (not expanded: quoted, or an unknown user) says what to type instead', () => {
    refused(['~bob/pipe', ...flags], /^error "~bob\/pipe" starts with ~, which is not expanded here \(a shell expands it only unquoted, for a user it knows\); the project goes inside the current directory, so `cd ~bob` and run this again with `pipe`; or pass `\.\/~bob\/pipe` for a directory really named "~bob"\n$/);
    refused(['~', ...flags], /so `cd ~` and run this again with a directory name; or pass `\.\/~`/);
    // A home inside the current directory: the path from here.
    const home = mkdtempSync(join(cwd, 'home-'));
    try {
      const run = runCli(['~/sub/pipe', ...flags], cwd, { HOME: home });
      expect(run.status).toBe(2);
      expect(run.stderr).toBe(`error "~/sub/pipe" starts with ~, which is not expanded here (a shell expands it only unquoted, for a user it knows); pass \`${home.slice(cwd.length + 1)}/sub/pipe\` (what "~/sub/pipe" is from ${cwd}); or pass \`./~/sub/pipe\` for a directory really named "~"\n`);
      expect(readdirSync(home)).toEqual([]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
    // The way out the message offers works.
    const literal = mkdtempSync(join(cwd, 'literal-'));
    try {
      expect(runCli(['./~bob/pipe', ...flags], literal).status).toBe(0);
      expect(existsSync(join(literal, '~bob', 'pipe', 'package.json'))).toBe(true);
    } finally {
      rmSync(literal, { recursive: true, force: true });
    }
  });

  // Found by scaffolding into such directories and running the project's scripts offline: `#`, `%`, spaces and quotes
  // work; these do not.
  it.each([
    ['a ":" (the PATH separator: every npm script fails with "not found")', 'with:colon', /has a ":", the separator of PATH: npm scripts put the project's node_modules\/\.bin on PATH/],
    ['a "?" (tsx reads a query, DuckDB a mangled WAL path)', 'with?question', /has a "\?": tsx reads the rest as a URL query/],
    ['a backslash (tsc and Node read a separator)', 'with\\backslash', /has a "\\": tsc reads it as a path separator/],
  ])('refuses a project path with %s, in the parent directory or its own name', (_label, odd, pattern) => {
    const parent = join(cwd, odd);
    mkdirSync(parent);
    try {
      const run = runCli(['pipe', ...flags], parent);
      expect(run.status).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr).toContain(`the project path ${join(parent, 'pipe')} `);
      expect(readdirSync(parent)).toEqual([]);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
    refused([`pipe-${odd}`, ...flags], pattern);
  });

  it('lists unknown resources next to the valid ones', () => {
    refused(['ok-name', '--resources', 'logs,"; rm -rf /', '--no-install', '--no-git'], /unknown resource .*rm -rf.*valid: logs, chat_availability/);
  });

  it("says why start_chat, a resource of dlt's SnapEngage page, is not one to load", () => {
    refused(['ok-name', '--resources', 'logs,start_chat', '--no-install', '--no-git'], /^error --resources: "start_chat" \(POST \/api\/v1\/chat\) starts a chat; it changes state on the server, so it is never loaded: call it with snapengage-client; valid: logs, /);
  });

  it('refuses a non-empty directory unless --overwrite, keeping .git', () => {
    const dir = join(cwd, 'taken');
    mkdirSync(join(dir, '.git'), { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    refused(['taken', ...flags], /not empty \(notes\.txt\).*--overwrite/);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    const run = runCli(['taken', ...flags, '--overwrite'], cwd);
    expect(run.status).toBe(0);
    expect(existsSync(join(dir, 'notes.txt'))).toBe(false);
    expect(existsSync(join(dir, '.git'))).toBe(true);
    expect(existsSync(join(dir, 'src/pipeline.ts'))).toBe(true);
  });

  it.skipIf(!canDropPrivileges || process.platform === 'win32')('--overwrite that cannot move an entry leaves the directory as it was, and says so', () => {
    const base = mkdtempSync(join(tmpdir(), 'scaffold-locked-'));
    try {
      const dir = join(base, 'taken');
      mkdirSync(join(dir, 'locked'), { recursive: true });
      writeFileSync(join(dir, 'a-notes.txt'), 'mine');
      writeFileSync(join(dir, 'locked', 'keep.txt'), 'kept');
      writeFileSync(join(dir, 'z-data.txt'), 'mine too');
      if (asRoot) {
        for (const path of [base, dir, join(dir, 'a-notes.txt'), join(dir, 'z-data.txt')]) chownSync(path, 65534, 65534);
        chmodSync(base, 0o755);
      } else {
        chmodSync(join(dir, 'locked'), 0o555);
      }
      const run = runUnprivileged(['taken', ...flags, '--overwrite'], base);
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(`cannot write ${join(dir, 'locked')} (permission denied): make ${join(dir, 'locked')} yours (or remove it) or choose another directory; ${dir} is as it was`);
      expect(readdirSync(dir).sort()).toEqual(['a-notes.txt', 'locked', 'z-data.txt']);
      expect(readFileSync(join(dir, 'a-notes.txt'), 'utf8')).toBe('mine');
    } finally {
      if (!asRoot) chmodSync(join(base, 'taken', 'locked'), 0o755);
      rmSync(base, { recursive: true, force: true });
    }
  });

  it.skipIf(!canMount)('--overwrite on a disk that fills up part way leaves the directory as it was, and says so', () => {
    withSmallDisk(64, (base) => {
      const dir = join(base, 'taken');
      mkdirSync(join(dir, 'src'), { recursive: true });
      writeFileSync(join(dir, 'src', 'old.ts'), 'old');
      writeFileSync(join(dir, 'a-notes.txt'), 'mine');
      // Room for the new entries up to test/ (the staging directory is on another file system: each is copied).
      writeFileSync(join(dir, 'big.bin'), Buffer.alloc(28 * 1024));
      const run = runCli(['taken', ...flags, '--overwrite'], base);
      expect(run.status, run.stderr).toBe(1);
      expect(run.stderr).toMatch(/no space left on the device\): free some space and run it again; .*taken is as it was\n$/);
      // Before: the message said so, but the new test/ directory, copied part way, was left in it.
      expect(readdirSync(dir).sort()).toEqual(['a-notes.txt', 'big.bin', 'src']);
      expect(readdirSync(join(dir, 'src'))).toEqual(['old.ts']);
    });
  });

  it('a TMPDIR that does not exist: one line naming it and how to fix it, nothing written (was Node\'s bare ENOENT mkdtemp)', () => {
    const missing = join(cwd, 'no-such-tmp');
    const run = runCli(['tmp-missing', ...flags], cwd, { TMPDIR: missing });
    expect(run.status, run.stderr).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain(`cannot make a temporary directory in ${missing} (`);
    expect(run.stderr).toContain('set TMPDIR to a directory you can write to, then run it again; nothing was written');
    expect(existsSync(join(cwd, 'tmp-missing'))).toBe(false);
  });

  it('a path through an existing file: one line saying so, exit 2, not "partly written; delete it" with nothing written', () => {
    writeFileSync(join(cwd, 'a-file'), 'mine');
    refused(['a-file/proj', ...flags], new RegExp(`^error ${join(cwd, 'a-file')} is a file, not a directory, so ${join(cwd, 'a-file', 'proj')} cannot be made; choose another project directory\n$`));
    expect(readFileSync(join(cwd, 'a-file'), 'utf8')).toBe('mine');
  });

  it('--overwrite with --packages inside the target: refused, as emptying it would delete the tarballs the project names', () => {
    const packs = join(cwd, 'repack', 'packs');
    mkdirSync(packs, { recursive: true });
    for (const name of ['snapengage-pipeline', 'snapengage-client', 'snapengage-sandbox']) writeFileSync(join(packs, `${name}-0.1.0.tgz`), '');
    // Was exit 0, the tarballs deleted with the old contents and package.json pointing at them (`file:…/packs/…`).
    refused(['repack', ...flags, '--overwrite', '--packages', 'repack/packs'], /^error --packages repack\/packs is inside .*repack, which --overwrite empties: its tarballs would be deleted; move them out of it first\n$/);
    expect(readdirSync(packs).sort()).toEqual(['snapengage-client-0.1.0.tgz', 'snapengage-pipeline-0.1.0.tgz', 'snapengage-sandbox-0.1.0.tgz']);
  });

  it('re-run on a project it made: points to --add, and says --overwrite would delete .env and the data', () => {
    const dir = join(cwd, 'made-before');
    mkdirSync(join(dir, 'src'), { recursive: true });
    writeFileSync(join(dir, 'src/pipeline.ts'), '// mine');
    writeFileSync(join(dir, '.env'), 'SNAPENGAGE_API_TOKEN=secret');
    refused(['made-before', ...flags], /made-before already holds a pipeline project \(src\/pipeline\.ts\); to add resources to it pass that directory with `--add <resources>`; --overwrite would delete it, \.env and \*\.duckdb included\n$/);
    expect(readFileSync(join(dir, '.env'), 'utf8')).toBe('SNAPENGAGE_API_TOKEN=secret');
  });

  it('refuses a directory that leads out of the cwd through a symlink, even with --overwrite', () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'scaffold-outside-'));
    try {
      writeFileSync(join(elsewhere, 'keep.txt'), 'not yours');
      symlinkSync(elsewhere, join(cwd, 'linkdir'));
      refused(['linkdir', ...flags, '--overwrite'], /"linkdir" leads through a symlink to .*scaffold-outside-.*, outside the current directory; pass a real directory inside/);
      refused(['linkdir/inner-proj', ...flags], /"linkdir\/inner-proj" leads through a symlink to .*inner-proj, outside the current directory/);
      expect(readdirSync(elsewhere)).toEqual(['keep.txt']);
      // A link to a missing place would be created by writing through it.
      symlinkSync(join(elsewhere, 'gone'), join(cwd, 'dangling'));
      refused(['dangling', ...flags], /"dangling" goes through .*dangling, a symlink to a missing path/);
      expect(existsSync(join(elsewhere, 'gone'))).toBe(false);
    } finally {
      rmSync(join(cwd, 'linkdir'), { force: true });
      rmSync(join(cwd, 'dangling'), { force: true });
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('follows a symlink that stays inside the cwd', () => {
    mkdirSync(join(cwd, 'real-inner'));
    symlinkSync(join(cwd, 'real-inner'), join(cwd, 'inner-link'));
    const run = runCli(['inner-link', ...flags], cwd);
    expect(run.status, run.stderr).toBe(0);
    expect(existsSync(join(cwd, 'real-inner/src/pipeline.ts'))).toBe(true);
  });

  it('rejects unknown flags and bad dates with one line', () => {
    refused(['x-name', ...flags, '--frobnicate'], /Unknown option '--frobnicate'/);
    refused(['x-name', ...flags, '--start-date', '2025-13-01'], /--start-date "2025-13-01" is not a day YYYY-MM-DD: there is no such month/);
    refused(['x-name', ...flags, '--start-date', '2999-01-01'], /--start-date 2999-01-01 is after today \(\d{4}-\d{2}-\d{2} UTC\)/);
    refused(['x-name', ...flags, '--packages', 'no-such-dir'], /--packages no-such-dir: no such directory; pass the directory of the \.tgz files that `npm run pack:local` writes \(\.packs in the repo\)$/m);
    // One of the tarballs instead of their directory: was Node's "ENOTDIR: not a directory, scandir …", exit 1.
    writeFileSync(join(cwd, 'snapengage-pipeline-0.1.0.tgz'), '');
    refused(['x-name', ...flags, '--packages', 'snapengage-pipeline-0.1.0.tgz'], /^error --packages snapengage-pipeline-0\.1\.0\.tgz: not a directory; pass the directory of the \.tgz files that `npm run pack:local` writes \(\.packs in the repo\), not one of them\n$/);
    writeFileSync(join(cwd, 'a-file'), 'not a directory');
    refused(['a-file', ...flags], /a-file exists and is not a directory; choose another project directory$/m);
  });
});

describe('after the project is written', () => {
  it('exits 1 when the install fails, keeping the project and saying how to finish', () => {
    // A package manager that fails like an offline `npm install`, first on PATH; nothing touches the network.
    const bin = mkdtempSync(join(tmpdir(), 'scaffold-fake-npm-'));
    try {
      writeFileSync(join(bin, 'npm'), `#!/bin/sh\npwd > "${bin}/ran-in"\necho "$@" > "${bin}/args"\necho 'npm error network offline' >&2\nexit 1\n`);
      chmodSync(join(bin, 'npm'), 0o755);
      const run = runCli(['install-fails', '--resources', 'users', '--install', '--no-git'], cwd, { PATH: bin, npm_config_user_agent: 'npm/10.8.2 node/v20' });
      expect(run.status, run.stdout + run.stderr).toBe(1);
      expect(readFileSync(join(bin, 'ran-in'), 'utf8').trim()).toBe(join(cwd, 'install-fails'));
      expect(readFileSync(join(bin, 'args'), 'utf8').trim()).toBe('install --no-fund --no-audit');
      expect(run.stderr.trim().split('\n').at(-1)).toBe(
        `error npm install failed (exit 1); the project was created in ${join(cwd, 'install-fails')}: finish with \`cd install-fails && npm install\``,
      );
      expect(run.stdout).toMatch(/Created, but the install failed\. Next:\n  cd install-fails\n  npm install\n/);
      expect(pipelineResources(readFileSync(join(cwd, 'install-fails/src/pipeline.ts'), 'utf8'))).toEqual(['users']);

      // A package manager that is not installed at all fails the same way.
      const missing = runCli(['install-missing', '--resources', 'users', '--install', '--no-git'], cwd, { PATH: bin, npm_config_user_agent: 'pnpm/9.0.0 node/v20' });
      expect(missing.status, missing.stdout + missing.stderr).toBe(1);
      // Before: 'could not run pnpm: spawnSync pnpm ENOENT', and a finishing command that fails the same way.
      expect(missing.stderr).toMatch(/^error pnpm is not on PATH \(the project is set up for pnpm, which npm_config_user_agent named\): install pnpm first \(corepack enable pnpm\); the project was created in .*install-missing: finish with `cd install-missing && pnpm install`\n$/);
      expect(existsSync(join(cwd, 'install-missing/src/pipeline.ts'))).toBe(true);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('a reader that closes stdout early (`| head -1`) gets no EPIPE stack, and the exit code stays 0', async () => {
    const child = spawn(process.execPath, [cliPath, 'piped', '--resources', 'users', '--no-install', '--no-git'], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    // Closed before the CLI has started, so its first line already hits a closed pipe.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('close', (c, s) => resolve([c, s])));
    expect(stderr).toBe('');
    expect([code, signal]).toEqual([0, null]);
    expect(existsSync(join(cwd, 'piped/src/pipeline.ts'))).toBe(true);
  });

  // /dev/full fails every write with ENOSPC, as stdout redirected to a file on a full disk.
  it.skipIf(!existsSync('/dev/full'))('stdout on a full disk: one line on stderr and exit 1, not a stack trace; a usage error keeps its 2', () => {
    const toFull = (args: string[]) => {
      const out = openSync('/dev/full', 'w');
      try {
        return spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', stdio: ['ignore', out, 'pipe'], env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
      } finally {
        closeSync(out);
      }
    };
    const line = 'error cannot write to standard output (ENOSPC: no space left on device, write): free space where it goes or redirect it elsewhere\n';
    // Before: Node's stack trace for the error thrown from the stream's 'error' handler.
    const help = toFull(['--help']);
    expect([help.status, help.stderr]).toEqual([1, line]);
    const created = toFull(['full-stdout', '--resources', 'users', '--no-install', '--no-git']);
    expect([created.status, created.stderr]).toEqual([1, line]);
    expect(existsSync(join(cwd, 'full-stdout/src/pipeline.ts'))).toBe(true);
    // Nothing is written to stdout on a usage error: its line and its exit code, as without the full disk.
    const usage = toFull(['--bogus']);
    expect([usage.status, usage.stderr]).toEqual([2, "error Unknown option '--bogus'. Run with --help for the flags.\n"]);
    // stderr on the full disk too: no one to tell, and the code still says which failure it was (not a crash's 1).
    const out = openSync('/dev/full', 'w');
    try {
      const silent = spawnSync(process.execPath, [cliPath, '--bogus'], { cwd, stdio: ['ignore', out, out], env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000 });
      expect([silent.status, silent.signal]).toEqual([2, null]);
    } finally {
      closeSync(out);
    }
  });

  // An install between the writes: the "Created" line fails before it, the next steps after it. A file's stdout is not
  // destroyed by a failed write (Node's SyncWriteStream), so each later write fails anew: one line says it all the same.
  it('stdout that fails other than by a full disk (EBADF: a descriptor open for reading) is not told to free space', () => {
    const input = openSync(cliPath, 'r');
    try {
      const run = spawnSync(process.execPath, [cliPath, '--help'], { cwd, encoding: 'utf8', stdio: ['ignore', input, 'pipe'], timeout: 30_000 });
      expect([run.status, run.stderr]).toEqual([1, 'error cannot write to standard output (EBADF: bad file descriptor, write): redirect it elsewhere\n']);
    } finally {
      closeSync(input);
    }
  });

  it.skipIf(!existsSync('/dev/full'))('stdout on a full disk across an install: still one line on stderr and exit 1; an interrupted install keeps its 130', () => {
    const bin = mkdtempSync(join(tmpdir(), 'scaffold-fake-npm-'));
    const out = openSync('/dev/full', 'w');
    try {
      // An install that succeeds at once, offline.
      writeFileSync(join(bin, 'npm'), '#!/bin/sh\nexit 0\n');
      chmodSync(join(bin, 'npm'), 0o755);
      const env = { ...process.env, NO_COLOR: '1', PATH: `${bin}:${process.env.PATH ?? ''}`, npm_config_user_agent: 'npm/10.8.2 node/v20' };
      const run = spawnSync(process.execPath, [cliPath, 'full-install', '--resources', 'users', '--install', '--no-git'], { cwd, encoding: 'utf8', stdio: ['ignore', out, 'pipe'], env, timeout: 60_000 });
      // Before: the line twice, once for the write before the install and once for those after it.
      expect([run.status, run.stderr]).toEqual([1, 'error cannot write to standard output (ENOSPC: no space left on device, write): free space where it goes or redirect it elsewhere\n']);
      expect(existsSync(join(cwd, 'full-install/src/pipeline.ts'))).toBe(true);

      // An install stopped by Ctrl-C keeps its 130 with the output lost too: the failure's code, not the output's 1.
      writeFileSync(join(bin, 'npm'), '#!/bin/sh\nkill -INT $$\n');
      const stopped = spawnSync(process.execPath, [cliPath, 'full-stopped', '--resources', 'users', '--install', '--no-git'], { cwd, encoding: 'utf8', stdio: ['ignore', out, 'pipe'], env, timeout: 60_000 });
      expect(stopped.status, stopped.stderr).toBe(130);
      expect(stopped.stderr.split('\n')).toEqual([expect.stringMatching(/^error cannot write to standard output \(ENOSPC/), expect.stringMatching(/^error npm install was interrupted \(Ctrl-C\)/), '']);
    } finally {
      closeSync(out);
      rmSync(bin, { recursive: true, force: true });
    }
  });
});

describe('--add', () => {
  it.skipIf(!canMount)('a disk that fills up while it writes leaves every file as it was', () => {
    withSmallDisk(64, (base) => {
      expect(runCli(['full-add', '--resources', 'logs', '--no-install', '--no-git'], base).status).toBe(0);
      const dir = join(base, 'full-add');
      const pipelinePath = join(dir, 'src/pipeline.ts');
      // Just under a page of tmpfs, so the edited file needs a second one, which the full disk does not have.
      const padded = readFileSync(pipelinePath, 'utf8').replace(/^/, `// ${'x'.repeat(4090 - readFileSync(pipelinePath, 'utf8').length - 4)}\n`);
      writeFileSync(pipelinePath, padded);
      fillUp(base);
      const run = runCli(['--add', 'widgets'], dir);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toBe(`error cannot write ${pipelinePath} (no space left on the device); nothing was changed\n`);
      // Before: the message was the same, but src/pipeline.ts had been truncated at 4096 bytes of the new text.
      expect(readFileSync(pipelinePath, 'utf8')).toBe(padded);
      expect(readdirSync(join(dir, 'src'))).toEqual(['pipeline.ts']);
    });
  });

  it.skipIf(!canDropPrivileges || process.platform === 'win32')('a file it cannot write is refused before any is changed', () => {
    const base = mkdtempSync(join(tmpdir(), 'scaffold-add-locked-'));
    try {
      expect(runCli(['locked-add', '--resources', 'logs', '--no-install', '--no-git'], base).status).toBe(0);
      const dir = join(base, 'locked-add');
      const envExample = join(dir, '.env.example');
      if (asRoot) {
        // The project is nobody's but .env.example, which stays root's.
        chmodSync(base, 0o755);
        for (const path of [dir, join(dir, 'src'), join(dir, 'src/pipeline.ts'), join(dir, 'README.md')]) chownSync(path, 65534, 65534);
      } else {
        chmodSync(envExample, 0o444);
      }
      const before = readFileSync(join(dir, 'src/pipeline.ts'), 'utf8');
      const run = runUnprivileged(['--add', 'widgets'], dir);
      // Before: exit 1 with Node's 'EACCES: permission denied, open …/.env.example', src/pipeline.ts already edited.
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toBe(`error cannot write ${envExample} (permission denied): make it writable for you, or run as its owner; nothing was changed\n`);
      expect(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8')).toBe(before);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it.skipIf(!asRoot || !canDropPrivileges)('a file it may write but not replace (a sticky directory of another user) is refused before any is changed', () => {
    const base = mkdtempSync(join(tmpdir(), 'scaffold-add-sticky-'));
    try {
      expect(runCli(['sticky-add', '--resources', 'logs', '--no-install', '--no-git'], base).status).toBe(0);
      const dir = join(base, 'sticky-add');
      // Root's project, every file writable for all; its top directory sticky (+t, as /tmp), src/ not.
      chmodSync(base, 0o755);
      chmodSync(dir, 0o1777);
      chmodSync(join(dir, 'src'), 0o777);
      for (const file of ['src/pipeline.ts', '.env.example', 'README.md']) chmodSync(join(dir, file), 0o666);
      const before = readFileSync(join(dir, 'src/pipeline.ts'), 'utf8');
      const run = runUnprivileged(['--add', 'widgets'], dir);
      // Before: src/pipeline.ts renamed over, then the rename over .env.example refused ('src/pipeline.ts was
      // updated, the rest not'), though the files had been checked for writing first.
      expect(run.status, run.stderr).toBe(2);
      const envExample = join(dir, '.env.example');
      expect(run.stderr).toBe(
        `error cannot replace ${envExample}: ${dir} is sticky (mode +t) and neither it nor the file is yours: make them yours, or run as their owner; nothing was changed\n`,
      );
      expect(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8')).toBe(before);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it.skipIf(!canDropPrivileges || process.platform === 'win32')('a writable file in a directory it cannot write is refused, naming the directory', () => {
    const base = mkdtempSync(join(tmpdir(), 'scaffold-add-dir-'));
    try {
      expect(runCli(['dir-add', '--resources', 'logs', '--no-install', '--no-git'], base).status).toBe(0);
      const dir = join(base, 'dir-add');
      const src = join(dir, 'src');
      chmodSync(base, 0o755);
      // src/pipeline.ts writable for the user; src/, where its new text is staged, not.
      if (asRoot) for (const path of [dir, join(dir, '.env.example'), join(dir, 'README.md'), join(src, 'pipeline.ts')]) chownSync(path, 65534, 65534);
      else chmodSync(src, 0o555);
      const before = readFileSync(join(src, 'pipeline.ts'), 'utf8');
      const run = runUnprivileged(['--add', 'widgets'], dir);
      expect(run.status, run.stderr).toBe(2);
      expect(run.stderr).toBe(`error cannot write ${src} (permission denied): make it writable for you, or run as its owner; nothing was changed\n`);
      expect(readFileSync(join(src, 'pipeline.ts'), 'utf8')).toBe(before);
      expect(readdirSync(src)).toEqual(['pipeline.ts']);
    } finally {
      chmodSync(join(base, 'dir-add', 'src'), 0o755);
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('edits an existing project and refuses files it cannot edit safely', () => {
    expect(runCli(['add-me', '--resources', 'widgets', '--no-install', '--no-git'], cwd).status).toBe(0);
    const dir = join(cwd, 'add-me');
    const add = runCli(['--add', 'users'], dir);
    expect(add.status, add.stderr).toBe(0);
    expect(add.stdout).toContain('Added users to src/pipeline.ts.');
    expect(pipelineResources(readFileSync(join(dir, 'src/pipeline.ts'), 'utf8'))).toEqual(['widgets', 'users']);
    // users needs only variables widgets already listed.
    expect(add.stdout).not.toContain('.env.example');
    const again = runCli(['add-me', '--add', 'chat_availability'], cwd);
    expect(again.stdout).toContain('Added SNAPENGAGE_API_KEY to .env.example; set it in .env.');
    // A resource the user switched off stays off, and the output says so instead of "already in".
    const pipelinePath = join(dir, 'src/pipeline.ts');
    writeFileSync(pipelinePath, readFileSync(pipelinePath, 'utf8').replace(/widgets: true/, 'widgets: { selected: false }'));
    const off = runCli(['--add', 'widgets,users'], dir);
    expect(off.stdout).toContain('Already in src/pipeline.ts: users.');
    expect(off.stdout).toContain('In src/pipeline.ts but switched off (selected: false), left as is: widgets. Remove selected: false there to load it.');
    expect(readFileSync(pipelinePath, 'utf8')).toContain('widgets: { selected: false }');

    writeFileSync(join(dir, 'src/pipeline.ts'), "import { definePipeline } from 'snapengage-pipeline';\nconst r = {};\nexport default definePipeline({ resources: r });\n");
    const refusedAdd = runCli(['--add', 'logs'], dir);
    expect(refusedAdd.status).toBe(2);
    expect(refusedAdd.stderr).toMatch(/cannot edit src\/pipeline\.ts safely: `resources` is not an object literal/);
    expect(readFileSync(join(dir, '.env.example'), 'utf8')).not.toContain('SNAPENGAGE_API_TOKEN');
    expect(runCli(['--add', 'logs'], cwd).stderr).toMatch(/src\/pipeline\.ts not found/);
  });
});
