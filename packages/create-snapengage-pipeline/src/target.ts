// Where the project goes and what it is called. The directory's name becomes the npm package name, or a valid one made
// from it; both are settled before anything is written.
import { accessSync, constants, existsSync, lstatSync, mkdtempSync, readdirSync, realpathSync, rmdirSync, statSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, delimiter, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import validateName from 'validate-npm-package-name';
import { dependencyNames } from './dependencies.js';
import { fsReason, UserError } from './errors.js';

export interface Target {
  /** Absolute path of the project directory. */
  path: string;
  /** npm package name of the project: the directory's base name, or one derived from it (`nameDerived`). */
  name: string;
  /** Why the directory's base name could not be the package name, when `name` was derived from it. */
  nameDerived?: string;
}

export class TargetError extends UserError {}

/** Returns an error message, or null when `name` can be published as a new npm package. */
export function checkPackageName(name: string): string | null {
  const problem = packageNameProblem(name);
  return problem && `${problem}; use lowercase letters, digits and dashes, e.g. my-snapengage-pipeline`;
}

function packageNameProblem(name: string): string | null {
  const result = validateName(name);
  if (!result.validForNewPackages) {
    const reasons = [...(result.errors ?? []), ...(result.warnings ?? [])].join('; ');
    return `${JSON.stringify(name)} is not a valid npm package name (${reasons})`;
  }
  // Node resolves a package's own name to the package itself once its package.json has "exports" (self-reference),
  // so `import 'snapengage-pipeline'` in a project of that name would load the project; npm's output names it like the
  // library too (`> snapengage-pipeline@0.1.0 start`).
  if (dependencyNames().includes(name)) return `${JSON.stringify(name)} is the name of a package the project depends on (with an "exports" field in package.json, Node would resolve its imports to the project itself)`;
  return null;
}

/** For a name with nothing usable in it (`~~`, `日本`). */
const FALLBACK_NAME = 'my-snapengage-pipeline';

/**
 * A valid package name close to `name` (`My Pipeline` → `my-pipeline`, `Été` → `ete`, `.hidden` → `hidden`), as
 * create-vite's toValidPackageName does, plus what npm also refuses and that regex lets through (accents, `~`, core
 * module names).
 */
function toValidPackageName(name: string): string {
  const like = name
    .normalize('NFD')
    .replace(/\p{M}+/gu, '') // é → e, not a dash
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .replace(/-{2,}/g, '-')
    .slice(0, 200);
  // `http`, `node_modules`: valid characters, names npm keeps for itself; `snapengage-pipeline`: a dependency's name.
  const candidates = dependencyNames().includes(like) ? [`my-${like}`] : [like, `${like}-pipeline`];
  for (const candidate of candidates) {
    if (like !== '' && packageNameProblem(candidate) === null) return candidate;
  }
  return FALLBACK_NAME;
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
 * `~`, `~/x`, `~bob/x`: no shell expanded it (typed at the question, quoted, or a user the shell does not know), so it
 * would make a directory named `~…` here. Refused with what to type instead: the path from here when the home is
 * inside the current directory, else a `cd` first, or `./~…` for a directory really named so.
 */
function refuseTilde(dir: string, cwd: string, home: string): void {
  const match = /^~([^/\\]*)(?:[/\\]+(.*))?$/s.exec(dir);
  if (!match) return;
  const [, user = '', rest = ''] = match;
  const literal = `; or pass \`./${dir}\` for a directory really named ${JSON.stringify(`~${user}`)}`;
  const start = `${JSON.stringify(dir)} starts with ~, which is not expanded here (a shell expands it only unquoted, for a user it knows)`;
  if (user === '') {
    const fromHere = relative(cwd, resolve(home, rest));
    if (rest !== '' && isInside(resolve(home, rest), cwd) && fromHere !== '') {
      throw new TargetError(`${start}; pass \`${fromHere}\` (what ${JSON.stringify(dir)} is from ${cwd})${literal}`);
    }
  }
  const name = rest === '' ? 'a directory name' : `\`${rest}\``;
  throw new TargetError(`${start}; the project goes inside the current directory, so \`cd ~${user}\` and run this again with ${name}${literal}`);
}

/**
 * Characters in the project's path that keep the written project from running, found by scaffolding into such paths
 * and running its scripts (`#`, `%`, spaces, quotes and `node_modules` above it all worked):
 * - the PATH separator (`:`, `;` on Windows): npm scripts put `<project>/node_modules/.bin` on PATH, which splits
 *   there, so every script fails with `tsc: not found`;
 * - `?`: tsx reads it as the start of a query and loads `<path before it>` (`npm test`), and DuckDB writes its WAL
 *   next to a mangled path, so the pipeline refuses such a DuckDB path (`npm start`);
 * - a backslash in a POSIX name: tsc reads it as a separator (finds no tsconfig.json) and Node refuses to import a
 *   file URL holding an encoded one (ERR_INVALID_MODULE_SPECIFIER), so no script runs.
 */
function unusablePathProblem(path: string): string | null {
  if (path.includes(delimiter)) {
    return `has a ${JSON.stringify(delimiter)}, the separator of PATH: npm scripts put the project's node_modules/.bin on PATH, so \`npm start\` and every other script would fail with "not found"`;
  }
  if (path.includes('?')) {
    return 'has a "?": tsx reads the rest as a URL query (`npm test` fails with ENOENT) and the pipeline refuses a DuckDB file there (`npm start`)';
  }
  if (sep === '/' && path.includes('\\')) {
    return 'has a "\\": tsc reads it as a path separator and Node refuses to import a file under it (ERR_INVALID_MODULE_SPECIFIER), so no script of the project would run';
  }
  return null;
}

/**
 * Why Windows cannot hold a directory named `name`, or null; checked on every platform, since a project made here may be
 * cloned there. A device name (`con`, `NUL.txt`: any case, any extension) opens the device instead of the directory,
 * and a trailing dot or space is dropped from a name, so git refuses to check out either.
 */
function windowsNameProblem(name: string): string | null {
  // COM¹–COM³ and LPT¹–LPT³ too: Windows reads superscript digits as digits there.
  if (/^(con|prn|aux|nul|com[1-9\u00b9\u00b2\u00b3]|lpt[1-9\u00b9\u00b2\u00b3])(\.|$)/i.test(name)) {
    return 'is a device name on Windows (CON, PRN, AUX, NUL, COM1 to COM9, LPT1 to LPT9, with any extension)';
  }
  if (/[. ]$/.test(name)) return 'ends with a dot or a space, which Windows drops from a name';
  return null;
}

/**
 * Resolves `dir` against `cwd`; rejects an unexpanded `~`, paths that leave `cwd`, as written or through a symlink
 * (where `--overwrite` would empty a directory elsewhere), paths the project could not run in, and a directory name
 * Windows cannot hold. A directory name npm would refuse as a package name gets a valid package name made from it
 * (`nameDerived` says why). `home`: where a `~` would have led, for the path to suggest instead.
 */
export function resolveTarget(dir: string, cwd: string, home = homedir()): Target {
  if (dir.trim() === '') throw new TargetError('the project directory is empty; give a name like my-snapengage-pipeline');
  if (dir.includes('\0')) throw new TargetError('the project directory contains a NUL character; give a name like my-snapengage-pipeline');
  // A line break (pasted) split the README's commands and its crontab line in two; a tab or escape garbles them. A C1
  // control (U+009B is a CSI as ESC [ is) and a bidi override or isolate went out as they were, in the "Created" and
  // `cd` lines and the README: one reorders what is read after it (a command that reads other than it runs).
  if (/[\u0001-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u.test(dir)) {
    throw new TargetError('the project directory contains a line break or another control character; give a name like my-snapengage-pipeline');
  }
  refuseTilde(dir, cwd, home);
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
  for (const location of new Set([path, real])) {
    const problem = unusablePathProblem(location);
    if (problem) throw new TargetError(`the project path ${location} ${problem}; create it in a directory whose path has no such character`);
  }
  const dirName = basename(path);
  const windows = windowsNameProblem(dirName);
  if (windows) {
    throw new TargetError(`the project directory ${JSON.stringify(dirName)} ${windows}, so the project could not be cloned or copied there; give a name like my-snapengage-pipeline`);
  }
  const problem = packageNameProblem(dirName);
  if (problem === null) return { path, name: dirName };
  // As create-vite: the directory keeps the name the user gave; package.json gets a valid one made from it (offered
  // as the default of a question on a TTY, said in the output otherwise).
  return { path, name: toValidPackageName(dirName), nameDerived: problem };
}

/** Entries that make a directory "non-empty" (a fresh `.git` alone does not count, as in create-vite). */
function existingEntries(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) throw new TargetError(`${path} exists and is not a directory; choose another project directory`);
  return readdirSync(path).filter((entry) => entry !== '.git');
}

/**
 * The directory the project's files or its missing directories would be made in: the target itself when it exists, else
 * its nearest existing ancestor. Found only when writing, a file there (`notes.txt/proj`) was reported as a target
 * "partly written; delete it" with nothing written, and a read-only one came after every question was answered (`.`:
 * named .env.example, a file that is not there, to "make yours").
 */
function checkCanCreate(path: string): void {
  let existing = path;
  // Bounded by the path's depth: each step goes one directory up, and the root is its own parent.
  for (let depth = 0; depth < 4096 && !existsSync(existing) && dirname(existing) !== existing; depth++) existing = dirname(existing);
  if (existing !== path && !statSync(existing).isDirectory()) {
    throw new TargetError(`${existing} is a file, not a directory, so ${path} cannot be made; choose another project directory`);
  }
  try {
    accessSync(existing, constants.W_OK | constants.X_OK);
  } catch (error) {
    // Exit 1 as when the write itself fails: the machine refuses, not the usage.
    throw new Error(`cannot write ${path} (${fsReason(error)}): run it in a directory you can write to; nothing was written`);
  }
}

/** Refuses a target that holds something (unless `overwrite`), or that cannot be made or written: before any question. */
export function checkTargetFree(target: Target, overwrite: boolean): void {
  const entries = existingEntries(target.path);
  checkCanCreate(target.path);
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

/**
 * `--overwrite` deletes the target's old contents: refused when the `--packages` directory (`shownAs`, as typed) is among
 * them, since the project's package.json names those tarballs (`file:`) and its install would find none.
 */
export function checkPackagesKept(target: Target, packagesDir: string | null, overwrite: boolean, shownAs: string): void {
  if (!overwrite || packagesDir === null || !existsSync(target.path)) return;
  const [packs, root] = [realpathSync.native(packagesDir), realpathSync.native(target.path)];
  if (!isInside(packs, root)) return; // the target itself is inside it too
  throw new TargetError(`--packages ${shownAs} is inside ${target.path}, which --overwrite empties: its tarballs would be deleted; move them out of it first`);
}

/**
 * The private directory the files are written in before they move into place (in TMPDIR). A TMPDIR that is missing or
 * not writable failed as Node's bare "ENOENT … mkdtemp", exit 1, after every question: tried before any.
 */
export function makeStagingRoot(): string {
  const base = tmpdir();
  try {
    return mkdtempSync(join(base, 'create-snapengage-'));
  } catch (error) {
    throw new Error(`cannot make a temporary directory in ${base} (${fsReason(error)}): set TMPDIR to a directory you can write to, then run it again; nothing was written`);
  }
}

export function checkStagingRoot(): void {
  rmdirSync(makeStagingRoot());
}
