// `npm run pack:local`: builds every workspace package and packs it into .packs/ (gitignored), so a scaffolded
// project can depend on this checkout with `create-snapengage-pipeline --packages .packs` and install offline.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { shellWord } from '../packages/create-snapengage-pipeline/src/shell-word.js';

export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
export const packsDir = join(repoRoot, '.packs');
export const packageNames = ['snapengage-client', 'snapengage-sandbox', 'snapengage-pipeline', 'create-snapengage-pipeline'];

export interface PackOptions {
  /** Run `npm run build` first (default true). */
  build?: boolean;
  /** Where npm's own output goes (default: inherited). */
  quiet?: boolean;
}

/**
 * npm as a command to spawn: under `npm run`, its own CLI file (npm_execpath) run by this node. `npm` itself is a
 * `npm.cmd` on Windows, which spawn without a shell cannot start (ENOENT; EINVAL since Node 20.12), so `npm run demo`
 * and `npm run pack:local` failed there at their first step; a shell would split the paths with spaces in the args.
 */
export function npmCommand(args: readonly string[], env: NodeJS.ProcessEnv = process.env): [string, string[]] {
  const cli = env.npm_execpath;
  return cli && /npm-cli\.c?js$/.test(cli) ? [process.execPath, [cli, ...args]] : ['npm', [...args]];
}

/** Returns the tarball file names written to .packs/. */
export function packLocal(options: PackOptions = {}): string[] {
  const stdio = options.quiet ? 'pipe' : 'inherit';
  if (options.build !== false) {
    try {
      execFileSync(...npmCommand(['run', 'build']), { cwd: repoRoot, stdio });
    } catch (error) {
      const output = (error as { stdout?: Buffer }).stdout?.toString().split('\n').filter((l) => l.includes('error')).join('\n');
      throw new Error(`pack:local: \`npm run build\` failed; fix the build first${output ? `:\n${output}` : ''}`);
    }
  }
  // Old tarballs would be picked up by --packages if a version went down; start clean.
  rmSync(packsDir, { recursive: true, force: true });
  mkdirSync(packsDir, { recursive: true });
  // Scripts are skipped: the build above (or the caller) already made dist/, and prepack rebuilding it again would
  // rewrite files other processes may be running.
  const args = ['pack', '--pack-destination', packsDir, '--silent', '--ignore-scripts', ...packageNames.flatMap((name) => ['-w', name])];
  execFileSync(...npmCommand(args), { cwd: repoRoot, stdio: ['ignore', 'pipe', options.quiet ? 'pipe' : 'inherit'] });
  return readdirSync(packsDir).filter((f) => f.endsWith('.tgz')).sort();
}

/** The `npm install` of the toolkit's tarballs, each path one shell word: a clone under `~/My Projects` split them. */
export function reinstallCommand(files: readonly string[], dir: string = packsDir, platform: NodeJS.Platform = process.platform): string {
  const toolkit = files.filter((f) => /^snapengage-(client|pipeline|sandbox)-/.test(f)).map((f) => shellWord(join(dir, f), platform));
  return `npm install ${toolkit.join(' ')}`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const files = packLocal();
  console.log(`Packed ${files.length} packages into ${packsDir}:\n  ${files.join('\n  ')}`);
  // The tarballs keep their names from build to build, so a project's lockfile still matches them and `npm install`
  // keeps the copies it installed before.
  console.log(`A project scaffolded with --packages before keeps its installed copies; to take this build, run there:\n  ${reinstallCommand(files)}`);
}
