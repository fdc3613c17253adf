// The scaffolder as an operator meets it in a container or CI: the built CLI, no TTY, a directory it may not write.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
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
});
