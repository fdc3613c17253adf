// Side effects after the files are in place: dependency install and git init. Both report failure instead of
// throwing, since the project itself is already complete and usable (main still exits 1 when the install failed).
import { spawnSync, type StdioOptions } from 'node:child_process';
import type { PackageManager } from './options.js';

export interface StepResult {
  ok: boolean;
  message: string;
  /** The user pressed Ctrl-C while it ran (the step was stopped, the scaffolder was not). */
  interrupted?: boolean;
}

export function installDependencies(dir: string, pm: PackageManager, stdio: StdioOptions): StepResult {
  const args = pm === 'npm' ? ['install', '--no-fund', '--no-audit'] : ['install'];
  // Ctrl-C reaches the install and this process alike; with a listener, this one outlives it and says how to finish
  // (Node's default would end it at once, silently, with the project written and its dependencies half there).
  const keepRunning = () => undefined;
  process.on('SIGINT', keepRunning);
  let result: ReturnType<typeof spawnSync>;
  try {
    result = spawnSync(pm, args, { cwd: dir, stdio, shell: process.platform === 'win32' });
  } finally {
    process.off('SIGINT', keepRunning);
  }
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    // Node's 'spawnSync pnpm ENOENT' did not say the fix, and the finishing command fails the same way until it is done.
    if (pm === 'npm') return { ok: false, message: 'npm is not on PATH: put it there (it comes with Node.js)' };
    const how = pm === 'pnpm' || pm === 'yarn' ? ` (corepack enable ${pm})` : '';
    return { ok: false, message: `${pm} is not on PATH (the project is set up for ${pm}, which npm_config_user_agent named): install ${pm} first${how}` };
  }
  if (result.error) return { ok: false, message: `could not run ${pm}: ${result.error.message}` };
  if (result.signal === 'SIGINT') return { ok: false, interrupted: true, message: `${pm} install was interrupted (Ctrl-C)` };
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
