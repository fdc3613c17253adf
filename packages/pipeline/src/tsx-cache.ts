// tsx caches its transforms in $TMPDIR/tsx-<uid>; config-loader.ts turns that off (TSX_DISABLE_CACHE) before tsx's
// loader starts. But on Node without in-thread hooks tsx runs in the ESM hooks thread, which copies process.env once,
// when the first `module.register` starts it: a host that registered hooks first (an APM's `node --import …/register`,
// any `module.register`) started it without our variable. There tsx cached in $TMPDIR, and where that cannot be
// created the config load failed (ENOTDIR, EACCES) or, under /proc, hung at 100 % CPU: node's recursive mkdir retries
// ENOENT there forever. This probe runs in that thread and turns tsx's cache off there too when $TMPDIR (as that
// thread sees it) cannot hold it. A tsx the host itself loaded into that thread has read the variable already.
import * as moduleApi from 'node:module';
import { moduleUrl } from './module-location.js';

// Runs once in the hooks thread (`initialize`), before tsx's module is evaluated there by our tsImport. It creates
// the cache directory only where tsx would have created it anyway (caching on), one level at a time: never a loop
// that cannot end.
const PROBE = `
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
function creatable(dir) {
  const missing = [];
  let at = resolve(dir);
  for (let depth = 0; ; depth += 1) {
    if (depth > 255) return false;
    try {
      if (!statSync(at).isDirectory()) return false;
      break;
    } catch (error) {
      if (error.code !== 'ENOENT') return false;
    }
    const up = dirname(at);
    if (up === at) return false;
    missing.unshift(at);
    at = up;
  }
  try {
    for (const level of missing) mkdirSync(level);
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
export function initialize() {
  if (process.env.TSX_DISABLE_CACHE) return;
  const user = process.geteuid ? process.geteuid() : userInfo().username;
  if (!creatable(join(tmpdir(), 'tsx-' + user))) process.env.TSX_DISABLE_CACHE = '1';
}
`;

let probed = false;

/**
 * Before a tsImport: makes sure tsx in an already-running hooks thread does not cache where it cannot. Once per
 * process (the thread's environment does not change after); a data: URL, so an app that bundles the loader keeps it.
 */
export function keepTsxCacheOffUnusableTmpdir(): void {
  if (probed) return;
  probed = true;
  // With in-thread hooks (module.registerHooks) tsx reads the main thread's environment, set by the caller; a hooks
  // thread then exists only if the host's --import/--loader started one, and starting one ourselves would route every
  // later import of the app through it.
  if (typeof (moduleApi as { registerHooks?: unknown }).registerHooks === 'function' && !hostRegisteredHooks()) return;
  moduleApi.register(`data:text/javascript,${encodeURIComponent(PROBE)}`, moduleUrl);
}

/** Whether node was started with a hook flag (`--import`, `--loader`), on its command line or in NODE_OPTIONS. */
function hostRegisteredHooks(): boolean {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  return flags.some((flag) => /^--(?:import|loader|experimental-loader)(?:=|$)/.test(flag));
}
