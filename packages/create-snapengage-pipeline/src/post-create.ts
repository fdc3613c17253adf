// Side effects after the files are in place: dependency install and git init. Both report failure instead of
// throwing, since the project itself is already complete and usable (main still exits 1 when the install failed).
import { spawnSync, type StdioOptions } from 'node:child_process';
import type { PackageManager } from './options.js';

export interface StepResult {
  ok: boolean;
  message: string;
}

export function installDependencies(dir: string, pm: PackageManager, stdio: StdioOptions): StepResult {
  const args = pm === 'npm' ? ['install', '--no-fund', '--no-audit'] : ['install'];
  const result = spawnSync(pm, args, { cwd: dir, stdio, shell: process.platform === 'win32' });
  if (result.error) return { ok: false, message: `could not run ${pm}: ${result.error.message}` };
  if (result.status !== 0) {
    const how = result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
    return { ok: false, message: `${pm} install failed (${how})` };
  }
  return { ok: true, message: `installed dependencies with ${pm}` };
}

/** Like create-t3-app: skipped when git is missing or the directory is already inside a repository. */
export function initGit(dir: string): StepResult {
  const inside = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, stdio: 'pipe' });
  if (inside.error) return { ok: false, message: 'git not found; skipped git init' };
  if (inside.status === 0 && inside.stdout.toString().trim() === 'true') {
    return { ok: true, message: 'already inside a git repository; skipped git init' };
  }
  const init = spawnSync('git', ['init', '--quiet'], { cwd: dir, stdio: 'pipe' });
  if (init.status !== 0) return { ok: false, message: `git init failed: ${init.stderr.toString().trim()}` };
  return { ok: true, message: 'initialized a git repository' };
}
