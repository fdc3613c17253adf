// The dependency install as Windows runs it: npm, pnpm and yarn are .cmd shims there, which Node spawns only through
// a shell. That path is taken here on Linux too (the platform is a parameter), with /bin/sh as the shell.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { installDependencies, installOutcome } from '../src/post-create.js';

describe('installDependencies through a shell (Windows)', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('installs without Node 24\'s DEP0190 warning (arguments passed beside shell: true) in the user\'s terminal', async () => {
    dir = mkdtempSync(join(tmpdir(), 'post-create-'));
    // No dependencies: npm installs nothing, offline, and writes its lock file.
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'p', version: '1.0.0', private: true }));
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => warnings.push(`${warning.code ?? warning.name}: ${warning.message}`);
    process.on('warning', onWarning);
    try {
      const result = await installDependencies(dir, 'npm', 'ignore', 'win32');
      // Warnings are emitted on a later tick than the spawn.
      await new Promise((resolve) => setImmediate(resolve));
      expect(result).toEqual({ ok: true, interrupted: false, message: 'installed dependencies with npm' });
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});

describe('a package manager that is not installed', () => {
  it('on Windows: cmd\'s exit 9009 ("not recognized") is said like Node\'s ENOENT elsewhere, with the fix', () => {
    const enoent = Object.assign(new Error('spawn pnpm ENOENT'), { code: 'ENOENT' });
    const notOnPath = installOutcome('pnpm', { status: null, signal: null, error: enoent }, false, 'linux');
    expect(notOnPath.message).toMatch(/^pnpm is not on PATH .*\(corepack enable pnpm\)$/);
    // yarn comes with corepack too (mutation post-create.ts I5: the hint for pnpm only, survived); bun does not.
    expect(installOutcome('yarn', { status: null, signal: null, error: enoent }, false, 'linux').message).toMatch(/^yarn is not on PATH .*: install yarn first \(corepack enable yarn\)$/);
    expect(installOutcome('bun', { status: null, signal: null, error: enoent }, false, 'linux').message).toMatch(/^bun is not on PATH .*: install bun first$/);
    // Before: `pnpm install failed (exit 9009)`.
    expect(installOutcome('pnpm', { status: 9009, signal: null }, false, 'win32')).toEqual(notOnPath);
    expect(installOutcome('npm', { status: 9009, signal: null }, false, 'win32').message).toBe('npm is not on PATH: put it there (it comes with Node.js)');
    // Another failure stays one; 9009 means "not found" only from cmd.
    expect(installOutcome('pnpm', { status: 1, signal: null }, false, 'win32').message).toBe('pnpm install failed (exit 1)');
    expect(installOutcome('pnpm', { status: 9009, signal: null }, false, 'linux').message).toBe('pnpm install failed (exit 9009)');
  });
});
