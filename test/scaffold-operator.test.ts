// The scaffolder as an operator meets it in a container or CI: the built CLI, no TTY, a directory it may not write.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ensureCliBuilt } from '../packages/create-snapengage-pipeline/test/helpers.js';

let cwd: string;

beforeAll(async () => {
  await ensureCliBuilt();
  cwd = mkdtempSync(join(tmpdir(), 'scaffold-operator-'));
  chmodSync(cwd, 0o755);
});
afterAll(() => rmSync(cwd, { recursive: true, force: true }));

/** The built CLI; as root, as an unprivileged user (root writes anywhere, so a read-only directory would not be). */
function runAsUser(args: string[], dir: string) {
  const asRoot = process.getuid?.() === 0;
  return spawnSync(process.execPath, [cliPath, ...args], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: dir, NO_COLOR: '1', CI: 'true' },
    timeout: 60_000,
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
}

const stagingDirs = () => readdirSync(tmpdir()).filter((name) => name.startsWith('create-snapengage-')).sort();

describe('scaffolder, operator failures', () => {
  it('a directory it cannot write is one line naming it and the fix, exit 1, nothing left in the temp dir', () => {
    const readOnly = join(cwd, 'read-only');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    const before = stagingDirs();
    const run = runAsUser(['my-pipeline', '--resources', 'logs', '--no-install', '--no-git'], readOnly);
    expect(run.status).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`error cannot write ${join(readOnly, 'my-pipeline')} (permission denied): run it in a directory you can write to; nothing was written`);
    expect(run.stderr).not.toContain(tmpdir() + '/create-snapengage-');
    expect(existsSync(join(readOnly, 'my-pipeline'))).toBe(false);
    expect(stagingDirs()).toEqual(before);
  });

  it('a directory it cannot write is refused before any question, naming that directory (not a file it would write there)', () => {
    const readOnly = join(cwd, 'read-only-here');
    mkdirSync(readOnly);
    chmodSync(readOnly, 0o555);
    // `.`: the message named .env.example, which is not there, and told the user to make it theirs or remove it.
    const here = runAsUser(['.', '--resources', 'logs', '--no-install', '--no-git'], readOnly);
    expect({ code: here.status, stderr: here.stderr }).toEqual({ code: 1, stderr: `error cannot write ${readOnly} (permission denied): run it in a directory you can write to; nothing was written\n` });
    // Questions are asked only for a place the project can go: here the input ends at the first one, which was reached
    // before (exit 1 "input ended") although the answers could never have been written.
    const asked = runAsUser(['nested/proj', '--interactive'], readOnly);
    expect({ code: asked.status, stderr: asked.stderr }).toEqual({ code: 1, stderr: `error cannot write ${join(readOnly, 'nested', 'proj')} (permission denied): run it in a directory you can write to; nothing was written\n` });
    expect(asked.stdout).not.toContain('Which resources');
    expect(readdirSync(readOnly)).toEqual([]);
  });

  it('the project directory gets the usual permissions (umask), not the private temp dir\'s 0700', () => {
    const dir = join(cwd, 'writable');
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    const run = runAsUser(['shared', '--resources', 'logs', '--no-install', '--no-git'], dir);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const made = join(dir, 'made-by-mkdir');
    mkdirSync(made);
    // Same umask as the child (inherited): a directory made the ordinary way has these bits.
    expect((statSync(join(dir, 'shared')).mode & 0o777).toString(8)).toBe((statSync(made).mode & 0o777).toString(8));
    expect((statSync(join(dir, 'shared', 'src')).mode & 0o777).toString(8)).toBe((statSync(made).mode & 0o777).toString(8));
  });

  it('Ctrl-C during the install: the scaffolder says how to finish (exit 130) instead of dying silently', async () => {
    // A stand-in `npm` first on PATH: it says it started, then waits to be interrupted like a long install.
    const bin = join(cwd, 'slow-npm-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\necho started > "$MARKER"\nexec sleep 30\n', { mode: 0o755 });
    const dir = join(cwd, 'interrupted');
    mkdirSync(dir);
    const marker = join(cwd, 'npm-started');
    // Its own process group, as a terminal's foreground job: Ctrl-C signals the scaffolder and the install alike.
    const child = spawn(process.execPath, [cliPath, 'my-pipeline', '--resources', 'logs', '--install', '--no-git'], {
      cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir, NO_COLOR: '1', CI: 'true', MARKER: marker, npm_config_user_agent: 'npm/10.0.0 node/v20' },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.resume();
    for (let i = 0; i < 400 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(marker)).toBe(true);
    process.kill(-child.pid!, 'SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(130);
    expect(stderr).toContain(`npm install was interrupted (Ctrl-C); the project was created in ${join(dir, 'my-pipeline')}: finish with \`cd my-pipeline && npm install\``);
    expect(existsSync(join(dir, 'my-pipeline', 'src', 'pipeline.ts'))).toBe(true);
  }, 60_000);

  it('Ctrl-C during an install that catches it and exits 1 (as npm does): still "interrupted", 130, and no git init', async () => {
    // Real npm traps SIGINT, prints 'npm error signal SIGINT' and exits 1: the scaffolder read that as a failed install,
    // went on to git init, and exited 1.
    const bin = join(cwd, 'trapping-npm-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\ntrap \'kill $!; echo "npm error signal SIGINT" >&2; exit 1\' INT\necho started > "$MARKER"\nsleep 30 &\nwait\n', { mode: 0o755 });
    const dir = join(cwd, 'interrupted-trapped');
    mkdirSync(dir);
    const marker = join(cwd, 'trapping-npm-started');
    const child = spawn(process.execPath, [cliPath, 'my-pipeline', '--resources', 'logs', '--install', '--git'], {
      cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir, NO_COLOR: '1', CI: 'true', MARKER: marker, npm_config_user_agent: 'npm/10.0.0 node/v20' },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    for (let i = 0; i < 400 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(marker)).toBe(true);
    process.kill(-child.pid!, 'SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(stdout).toContain('Created, but the install was interrupted. Next:');
    expect({ code, stderr }).toMatchObject({ code: 130, stderr: expect.stringContaining('npm install was interrupted (Ctrl-C); the project was created in') });
    expect(existsSync(join(dir, 'my-pipeline', '.git'))).toBe(false);
  }, 60_000);

  it('Ctrl-C as an install completes (exit 0): the install counts as done, git init is skipped, 130', async () => {
    // The SIGINT listener stays on until just after the install's exit; a Ctrl-C in that window (or one the package
    // manager ignores) was read as an interrupted install: 'npm install was interrupted … finish with npm install'.
    const bin = join(cwd, 'finishing-npm-bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'npm'), '#!/bin/sh\nkill -INT $PPID\nsleep 0.3\nexit 0\n', { mode: 0o755 });
    const dir = join(cwd, 'interrupted-after');
    mkdirSync(dir);
    const run = spawnSync(process.execPath, [cliPath, 'my-pipeline', '--resources', 'logs', '--install', '--git'], {
      cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000,
      env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: dir, NO_COLOR: '1', CI: 'true', npm_config_user_agent: 'npm/10.0.0 node/v20' },
    });
    expect(run.stdout).toContain('installed dependencies with npm');
    expect(run.stdout).not.toContain('npm install\n');
    expect(run.stdout).toContain('Created, but stopped (Ctrl-C) before git init. Next:');
    expect({ code: run.status, stderr: run.stderr }).toEqual({
      code: 130,
      stderr: `error stopped (Ctrl-C) after the install; the project was created in ${join(dir, 'my-pipeline')}: finish with \`cd my-pipeline && git init\`\n`,
    });
    expect(existsSync(join(dir, 'my-pipeline', '.git'))).toBe(false);
  }, 60_000);
});
