// Flag mode and hostile input: the built CLI spawned with a non-TTY stdin into temp dirs, as CI or an agent runs it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCliBuilt, listTree, pipelineResources, runCli } from '../packages/create-snapengage-pipeline/test/helpers.js';

let cwd: string;

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
    expect(Object.keys(parseEnv(readFileSync(join(dir, '.env.example'), 'utf8'))).sort()).toEqual(
      ['SNAPENGAGE_API_TOKEN', 'SNAPENGAGE_EMAIL', 'SNAPENGAGE_ORG_ID', 'SNAPENGAGE_PROVISIONING_KEY', 'SNAPENGAGE_START_DATE', 'SNAPENGAGE_WIDGET_ID'],
    );
    expect(existsSync(join(dir, '.env'))).toBe(false);
  });

  it('--yes takes the defaults: logs into ./snapengage-pipeline', () => {
    const sub = mkdtempSync(join(cwd, 'yes-'));
    const run = runCli(['--yes', '--no-install', '--no-git'], sub);
    expect(run.status).toBe(0);
    expect(pipelineResources(readFileSync(join(sub, 'snapengage-pipeline/src/pipeline.ts'), 'utf8'))).toEqual(['logs']);
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
    ['quotes', `it's-"quoted"`, /not a valid npm package name/],
    ['a path outside the cwd', '../escape', /outside the current directory/],
    ['an absolute path elsewhere', '/tmp/elsewhere-abs', /outside the current directory/],
    ['unicode', 'pipeliné-ü', /not a valid npm package name/],
    ['a reserved npm name', 'node_modules', /not a valid npm package name/],
    ['a core module name', 'http', /core module/],
    ['upper case and spaces', 'My Pipeline', /not a valid npm package name/],
    ['a leading dot', '.hidden', /cannot start with a period/],
  ])('rejects a directory name with %s', (_label, dir, pattern) => {
    refused([dir, ...flags], pattern);
  });

  it('lists unknown resources next to the valid ones', () => {
    refused(['ok-name', '--resources', 'logs,"; rm -rf /', '--no-install', '--no-git'], /unknown resource .*rm -rf.*valid: logs, chat_availability/);
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

  it('rejects unknown flags and bad dates with one line', () => {
    refused(['x-name', ...flags, '--frobnicate'], /Unknown option '--frobnicate'/);
    refused(['x-name', ...flags, '--start-date', '2025-13-01'], /--start-date "2025-13-01" is not a date/);
    refused(['x-name', ...flags, '--packages', 'no-such-dir'], /--packages no-such-dir: no such directory/);
  });
});

describe('--add', () => {
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
    expect(again.stdout).toContain('Added SNAPENGAGE_API_KEY to .env.example');

    writeFileSync(join(dir, 'src/pipeline.ts'), "import { definePipeline } from 'snapengage-pipeline';\nconst r = {};\nexport default definePipeline({ resources: r });\n");
    const refusedAdd = runCli(['--add', 'logs'], dir);
    expect(refusedAdd.status).toBe(2);
    expect(refusedAdd.stderr).toMatch(/cannot edit src\/pipeline\.ts safely: `resources` is not an object literal/);
    expect(readFileSync(join(dir, '.env.example'), 'utf8')).not.toContain('SNAPENGAGE_API_TOKEN');
    expect(runCli(['--add', 'logs'], cwd).stderr).toMatch(/src\/pipeline\.ts not found/);
  });
});
