// The Node.js the CLI runs on, checked by the entry (cli.ts) before it loads the command's modules. A scheduler's PATH
// often finds another node than the user's shell (cron's /usr/bin:/bin: a distribution's Node 18 where nvm's is 22),
// and there the run died linking them (`SyntaxError: The requested module 'node:util' does not provide an export
// named 'parseEnv'`): Node's stack trace, exit 1, and with --json no document. This module imports nothing, so that
// it loads on any Node that runs ES modules.

/** package.json's engines: ^20.19.0 || >=22.12.0, the versions tested, which the message names. */
export const SUPPORTED_NODE = '^20.19.0 || >=22.12.0';

/**
 * Why `version` (process.versions.node) cannot run the CLI, or undefined when it can. Refused: the versions whose
 * node:util has no parseEnv (before 20.12 and 21.7), which cannot link the command's modules. Those between that and
 * the engines' range are not refused: they run (20.18.3 loaded a run and a TypeScript config), untested, and a
 * scheduled run that worked must not start failing with an upgrade of the loader.
 */
export function unsupportedNode(version: string, execPath: string): string | undefined {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  if ((major === 20 && minor >= 12) || (major === 21 && minor >= 7) || major >= 22) return undefined;
  return `Node.js ${version} (${execPath}) cannot run snapengage-pipeline, which needs Node.js ${SUPPORTED_NODE}; a scheduler's PATH (cron's is /usr/bin:/bin) may find another node than your shell: put the directory of a supported one first in it (nvm's, such as ~/.nvm/versions/node/v22.12.0/bin), or start that node by its full path`;
}

/**
 * Refuses an unsupported Node in one stderr line, exit 1, and with --json (anywhere in `argv`, as the CLI reads it) the
 * FAILED document of run-document.ts, whose module cannot load there. True when it refused.
 */
export function refuseUnsupportedNode(argv: readonly string[]): boolean {
  const message = unsupportedNode(process.versions.node, process.execPath);
  if (message === undefined) return false;
  const at = new Date().toISOString();
  process.stderr.write(`snapengage-pipeline: ${message}\n`);
  if (argv.some((arg) => arg === '--json' || arg.startsWith('--json='))) {
    const error = { name: 'ConfigError', message, exitCode: 1 };
    process.stdout.write(`${JSON.stringify({ status: 'FAILED', startedAt: at, finishedAt: at, loadId: null, committedResources: [], error })}\n`);
  }
  process.exitCode = 1;
  return true;
}
