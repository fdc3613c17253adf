// Where the project goes and what it is called. A directory name becomes the npm package name, so both are checked
// before anything is written.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve } from 'node:path';
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
  const result = validateName(name);
  if (result.validForNewPackages) return null;
  const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])].join('; ');
  return `${JSON.stringify(name)} is not a valid npm package name (${reasons}); use lowercase letters, digits and dashes, e.g. my-snapengage-pipeline`;
}

/** Resolves `dir` against `cwd`; rejects paths that leave `cwd` and names npm would refuse. */
export function resolveTarget(dir: string, cwd: string): Target {
  if (dir.trim() === '') throw new TargetError('the project directory is empty; give a name like my-snapengage-pipeline');
  if (dir.includes('\0')) throw new TargetError('the project directory contains a NUL character');
  const path = resolve(cwd, dir);
  const rel = relative(cwd, path);
  if (rel.startsWith('..') || isAbsolute(rel)) {
    throw new TargetError(`${JSON.stringify(dir)} is outside the current directory; pass a path inside ${cwd}`);
  }
  const name = basename(path);
  const problem = checkPackageName(name);
  if (problem) throw new TargetError(`project directory ${problem}`);
  return { path, name };
}

/** Entries that make a directory "non-empty" (a fresh `.git` alone does not count, as in create-vite). */
export function existingEntries(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) throw new TargetError(`${path} exists and is not a directory`);
  return readdirSync(path).filter((entry) => entry !== '.git');
}

export function checkTargetFree(target: Target, overwrite: boolean): void {
  const entries = existingEntries(target.path);
  if (entries.length > 0 && !overwrite) {
    const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
    throw new TargetError(
      `${target.path} is not empty (${shown}); choose another directory or pass --overwrite to replace its contents`,
    );
  }
}
