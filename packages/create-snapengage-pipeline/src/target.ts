// Where the project goes and what it is called. A directory name becomes the npm package name, so both are checked
// before anything is written.
import { existsSync, lstatSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import validateName from 'validate-npm-package-name';
import { UserError } from './errors.js';

export interface Target {
  /** Absolute path of the project directory. */
  path: string;
  /** npm package name of the project (the directory's base name). */
  name: string;
}

export class TargetError extends UserError {}

/** Returns an error message, or null when `name` can be published as a new npm package. */
export function checkPackageName(name: string): string | null {
  const problem = packageNameProblem(name);
  return problem && `${problem}; use lowercase letters, digits and dashes, e.g. my-snapengage-pipeline`;
}

function packageNameProblem(name: string): string | null {
  const result = validateName(name);
  if (result.validForNewPackages) return null;
  const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])].join('; ');
  return `${JSON.stringify(name)} is not a valid npm package name (${reasons})`;
}

/** A valid package name close to `name` (`My Pipeline` → `my-pipeline`), for a hint. */
function packageNameLike(name: string): string {
  const like = name.toLowerCase().replace(/[^a-z0-9._~-]+/g, '-').replace(/^[-._]+|[-._]+$/g, '').replace(/-{2,}/g, '-');
  return like !== '' && packageNameProblem(like) === null ? like : 'my-snapengage-pipeline';
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return !(rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel));
}

/**
 * Where `path` really is on disk: symlinks resolved in its longest existing ancestor, the missing rest appended.
 * A symlink whose destination is missing is refused, since writing through it would create that destination.
 */
function realLocation(path: string, shownAs: string): string {
  const missing: string[] = [];
  let existing = path;
  // Bounded by the path's depth: each step goes one directory up, and the root is its own parent.
  for (let depth = 0; depth < 4096; depth++) {
    try {
      return join(realpathSync.native(existing), ...missing);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') throw new TargetError(`${JSON.stringify(shownAs)} goes through a symlink loop at ${existing}; pass a real directory`);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
    if (isSymlink(existing)) {
      throw new TargetError(`${JSON.stringify(shownAs)} goes through ${existing}, a symlink to a missing path; remove it or pass another directory`);
    }
    const parent = dirname(existing);
    if (parent === existing) break;
    missing.unshift(basename(existing));
    existing = parent;
  }
  return path;
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Resolves `dir` against `cwd`; rejects paths that leave `cwd`, as written or through a symlink (where `--overwrite`
 * would empty a directory elsewhere), and names npm would refuse.
 */
export function resolveTarget(dir: string, cwd: string): Target {
  if (dir.trim() === '') throw new TargetError('the project directory is empty; give a name like my-snapengage-pipeline');
  if (dir.includes('\0')) throw new TargetError('the project directory contains a NUL character; give a name like my-snapengage-pipeline');
  const path = resolve(cwd, dir);
  if (!isInside(path, cwd)) {
    throw new TargetError(`${JSON.stringify(dir)} is outside the current directory; pass a path inside ${cwd}`);
  }
  const real = realLocation(path, dir);
  if (!isInside(real, realLocation(cwd, cwd))) {
    throw new TargetError(
      `${JSON.stringify(dir)} leads through a symlink to ${real}, outside the current directory; pass a real directory inside ${cwd}`,
    );
  }
  const name = basename(path);
  const problem = packageNameProblem(name);
  if (problem === null) return { path, name };
  const like = packageNameLike(name);
  // `.`: "use lowercase letters…" asked for another argument, when it is the directory the user is in that needs
  // another name (the project's package.json takes it).
  if (path === resolve(cwd)) {
    throw new TargetError(
      `the current directory's name ${problem}, and the project's package.json takes its name from its directory: rename the directory (to ${like}, say) or create the project in a new directory inside it (\`${like}\` instead of \`.\`)`,
    );
  }
  throw new TargetError(`project directory ${problem}; use lowercase letters, digits and dashes, e.g. ${like}`);
}

/** Entries that make a directory "non-empty" (a fresh `.git` alone does not count, as in create-vite). */
function existingEntries(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) throw new TargetError(`${path} exists and is not a directory; choose another project directory`);
  return readdirSync(path).filter((entry) => entry !== '.git');
}

export function checkTargetFree(target: Target, overwrite: boolean): void {
  const entries = existingEntries(target.path);
  if (entries.length > 0 && !overwrite) {
    // Someone re-running the scaffolder on a project it made most likely wants more resources; --overwrite, the fix
    // offered for any other directory, would delete their credentials and loaded data with it.
    if (existsSync(join(target.path, 'src', 'pipeline.ts'))) {
      throw new TargetError(
        `${target.path} already holds a pipeline project (src/pipeline.ts); to add resources to it pass that directory with \`--add <resources>\`; --overwrite would delete it, .env and *.duckdb included`,
      );
    }
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    throw new TargetError(
      `${target.path} is not empty (${shown}); choose another directory or pass --overwrite to replace its contents`,
    );
  }
}
