// Dependency specs of the emitted package.json: published semver ranges, or `file:` tarballs from `npm pack`
// (`--packages <dir>`) so a project can be created and installed offline from this repo.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UserError } from './errors.js';

/** Third-party versions the emitted project pins; the toolkit packages are released in lockstep with this one. */
const THIRD_PARTY = {
  typescript: '5.9.3',
  '@types/node': '^20.19.0',
  tsx: '^4.23.15',
} as const;

export function ownVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface DependencySpecs {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

class PackagesDirError extends UserError {}

/** The newest `<name>-<version>.tgz` in `dir` (npm pack's file name), as an absolute path. */
export function findTarball(dir: string, name: string): string {
  const pattern = new RegExp(`^${name}-(\\d+)\\.(\\d+)\\.(\\d+)(?:-[\\w.]+)?\\.tgz$`);
  const matches = existsSync(dir) ? readdirSync(dir).filter((f) => pattern.test(f)) : [];
  if (matches.length === 0) {
    throw new PackagesDirError(`--packages ${dir}: no ${name}-<version>.tgz there; run \`npm run pack:local\` in the repo`);
  }
  const key = (f: string) => pattern.exec(f)!.slice(1, 4).map(Number);
  matches.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!;
  });
  return resolve(dir, matches.at(-1)!);
}

export function dependencySpecs(packagesDir: string | null, version: string = ownVersion()): DependencySpecs {
  const toolkit = (name: string) => (packagesDir ? `file:${findTarball(packagesDir, name)}` : `^${version}`);
  // The client is named explicitly: the project's README has users call it (start_chat), which a transitive
  // dependency does not allow under pnpm; with tarballs npm also takes the pipeline's own snapengage-client
  // dependency from the tarball instead of asking the registry for it.
  const dependencies: Record<string, string> = { 'snapengage-pipeline': toolkit('snapengage-pipeline'), 'snapengage-client': toolkit('snapengage-client') };
  return {
    dependencies,
    devDependencies: {
      'snapengage-sandbox': toolkit('snapengage-sandbox'),
      ...THIRD_PARTY,
    },
  };
}

/** The packages the emitted project depends on: none of them is a name for the project (target.ts). */
export function dependencyNames(): string[] {
  const { dependencies, devDependencies } = dependencySpecs(null, '0.0.0');
  return [...Object.keys(dependencies), ...Object.keys(devDependencies)];
}

export function packagesDirPath(dir: string, cwd: string): string {
  const path = resolve(cwd, dir);
  const where = 'pass the directory of the .tgz files that `npm run pack:local` writes (.packs in the repo)';
  if (!existsSync(path)) throw new PackagesDirError(`--packages ${dir}: no such directory; ${where}`);
  // A tarball given for its directory (tab completion ends there) failed later as "ENOTDIR: … scandir", exit 1.
  if (!statSync(path).isDirectory()) throw new PackagesDirError(`--packages ${dir}: not a directory; ${where}, not one of them`);
  return path;
}
