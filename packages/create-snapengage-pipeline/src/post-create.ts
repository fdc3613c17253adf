// Side effects after the files are in place: dependency install and git init. Both report failure instead of
// throwing, since the project itself is already complete and usable (main still exits 1 when the install failed).
import { spawn, spawnSync, type StdioOptions } from 'node:child_process';
import type { PackageManager } from './options.js';

export interface StepResult {
  ok: boolean;
  message: string;
  /** The user pressed Ctrl-C while it ran (the step was stopped, or had just finished when `ok`; the scaffolder was not). */
  interrupted?: boolean;
}

export async function installDependencies(dir: string, pm: PackageManager, stdio: StdioOptions, platform: NodeJS.Platform = process.platform): Promise<StepResult> {
  const args = pm === 'npm' ? ['install', '--no-fund', '--no-audit'] : ['install'];
  // Ctrl-C reaches the install and this process alike; with a listener, this one outlives it and says how to finish
  // (Node's default would end it at once, silently, with the project written and its dependencies half there). The
  // listener also records it: npm traps SIGINT and exits 1 ('npm error signal SIGINT'), which read as a failed
  // install, so git init ran after the Ctrl-C and the exit code was 1. An async spawn lets the listener run meanwhile.
  let sigint = false;
  const onSigint = () => {
    sigint = true;
  };
  process.on('SIGINT', onSigint);
  let result: { status: number | null; signal: NodeJS.Signals | null; error?: Error };
  try {
    result = await new Promise((resolve) => {
      // Windows: npm, pnpm and yarn are .cmd shims, which Node runs only through a shell. There the command goes as one
      // string: arguments beside `shell: true` are only concatenated, which Node 24 warns of (DEP0190) in the user's
      // terminal. These are fixed words, with nothing to quote.
      const child = platform === 'win32' ? spawn([pm, ...args].join(' '), { cwd: dir, stdio, shell: true }) : spawn(pm, args, { cwd: dir, stdio });
      // Piped output (the CLI run in-process on fake streams) is not shown: drained so the install never blocks on it.
      child.stdout?.resume();
      child.stderr?.resume();
      child.once('error', (error) => resolve({ status: null, signal: null, error }));
      child.once('close', (status, signal) => resolve({ status, signal }));
    });
    // The Ctrl-C came before the install's exit, but its listener may be called after 'close': give it that turn.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('SIGINT', onSigint);
  }
  return installOutcome(pm, result, sigint, platform);
}

/**
 * What an install that ended says, from how it ended (`sigint`: a Ctrl-C came meanwhile). Apart from
 * installDependencies for the tests: cmd's exit status 9009 cannot be made on another platform.
 */
export function installOutcome(
  pm: PackageManager,
  result: { status: number | null; signal: NodeJS.Signals | null; error?: Error },
  sigint: boolean,
  platform: NodeJS.Platform = process.platform,
): StepResult {
  // Spawned directly, a missing command is Node's ENOENT. On Windows the install goes through cmd, which exits 9009
  // ("'pnpm' is not recognized as an internal or external command") and Node reports no error: that read as a failed
  // install, `pnpm install failed (exit 9009)`, which did not say what to do.
  const notFound = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || (platform === 'win32' && result.status === 9009);
  if (notFound) {
    // Node's 'spawnSync pnpm ENOENT' did not say the fix, and the finishing command fails the same way until it is done.
    if (pm === 'npm') return { ok: false, message: 'npm is not on PATH: put it there (it comes with Node.js)' };
    const how = pm === 'pnpm' || pm === 'yarn' ? ` (corepack enable ${pm})` : '';
    return { ok: false, message: `${pm} is not on PATH (the project is set up for ${pm}, which npm_config_user_agent named): install ${pm} first${how}` };
  }
  if (result.error) return { ok: false, message: `could not run ${pm}: ${result.error.message}` };
  // An install that exited 0 is complete even when a Ctrl-C came as it finished (or one it ignored): saying it was
  // interrupted sent the user to install again; the Ctrl-C still stops what comes after it.
  if (result.status === 0 && !result.signal) return { ok: true, interrupted: sigint, message: `installed dependencies with ${pm}` };
  if (result.signal === 'SIGINT' || sigint) return { ok: false, interrupted: true, message: `${pm} install was interrupted (Ctrl-C)` };
  const how = result.signal ? `killed by ${result.signal}` : `exit ${result.status}`;
  return { ok: false, message: `${pm} install failed (${how})` };
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
