// Environment: `SNAPENGAGE_*` variables from the process, with `.env` in the working directory as a fallback (the
// process environment wins, as with dotenv, unless it is blank). Parsed with Node's own util.parseEnv: no dependency.
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { printable } from 'snapengage-client';
import { ConfigError } from './errors.js';
import { shellWord } from './shell-word.js';

export type Env = Readonly<Record<string, string | undefined>>;

/** Where an Env from loadEnv came from, for messages about a missing variable. */
const sources = new WeakMap<Env, EnvSource>();

/**
 * Tells the Env that --config named a file of the project at `project`, not of the working directory (see
 * config-project.ts): a missing variable then points at that project's .env rather than at creating one here.
 */
export function rememberConfigProject(env: Env, project: string): void {
  const source = sources.get(env);
  if (source) source.configProject = project;
}

/**
 * Where to put missing variables (`count` of them): the .env file loadEnv read, or how to create one; and for whoever
 * has no account yet, the README section that tries it against the local emulator, when the project has one.
 */
export function whereToSetEnv(env: Env, count = 1): string {
  const source = sources.get(env);
  const where = whereToPutEnv(source, count);
  const project = source ? source.configProject ?? projectAbove(dirname(source.file)) ?? dirname(source.file) : undefined;
  const heading = project === undefined ? undefined : noAccountHeading(join(project, 'README.md'));
  return heading ? `${where}; no account yet? ${join(project!, 'README.md')}, "${heading}", loads from a local SnapEngage emulator instead` : where;
}

type EnvSource = { file: string; found: boolean; fromFile: ReadonlySet<string>; configProject?: string };

function whereToPutEnv(source: EnvSource | undefined, count: number): string {
  const them = count === 1 ? 'it' : 'them';
  if (!source) return `set ${them} in the environment or in .env`;
  if (source.found) return `set ${them} in ${source.file} or in the environment`;
  // cron starts a command in HOME: `--config /srv/proj/src/pipeline.ts` from there reads ~/.env, not the project's.
  const configProject = source.configProject;
  const projectEnv = configProject === undefined ? undefined : join(configProject, '.env');
  if (configProject !== undefined && projectEnv !== undefined && existsSync(projectEnv)) {
    return `there is no ${source.file}: .env is read from the working directory, not from beside --config; ${projectEnv} is not read: run from ${configProject} (cd ${shellWord(configProject)} && …)`;
  }
  // Run from inside a project (its src/, say): a .env there is not what the user needs, running from the project is.
  const project = projectAbove(dirname(source.file));
  if (project) return `there is no ${source.file}: ${runFromProject(project)}`;
  const example = join(source.file, '..', '.env.example');
  return existsSync(example)
    ? `there is no ${source.file}: copy ${example} to .env and fill it in (or set ${them} in the environment)`
    : `there is no ${source.file}: create it with KEY=value lines (or set ${them} in the environment)`;
}

/**
 * The README's section on trying it with no account (a scaffolded project's "Try it without an account", this repo's
 * "Try it in a minute (no account, …)"), read from the file so that the name quoted is the heading as it is.
 */
function noAccountHeading(readme: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(readme, 'utf8');
  } catch {
    return undefined;
  }
  return /^## (Try it\b.*\b(?:without an account|no account)\b.*)$/m.exec(text)?.[1]?.trim();
}

/**
 * The nearest directory strictly above `dir` that holds src/pipeline.ts (a scaffolded project), if any; none when `dir`
 * is a project itself (one scaffolded into a repo that has a src/pipeline.ts of its own is run from where it is).
 */
export function projectAbove(dir: string): string | undefined {
  if (existsSync(join(resolve(dir), 'src', 'pipeline.ts'))) return undefined;
  for (let current = resolve(dir); ; ) {
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
    if (existsSync(join(current, 'src', 'pipeline.ts'))) return current;
  }
}

/** What to tell a CLI user whose working directory is inside the project at `project`. */
export function runFromProject(project: string): string {
  return `the project is ${project} (it has src/pipeline.ts): run from there (npm start and npm run show work from any of its directories)`;
}

/** Where to fix a variable that is set but wrong: the .env file it came from, or the environment, which wins over it. */
export function whereToFixEnv(env: Env, name: string): string {
  const source = sources.get(env);
  if (!source) return `fix ${name} where it is set`;
  return source.fromFile.has(name) ? `fix it in ${source.file}` : 'fix it in the environment (set there, it wins over .env)';
}

/** Why `.env` could not be read, and what to do: Node's 'EISDIR: illegal operation on a directory, read' said neither. */
function cannotRead(file: string, error: NodeJS.ErrnoException): string {
  if (error.code === 'EISDIR') return `Cannot read ${file} (it is a directory): .env must be a file of KEY=value lines; remove or rename that directory`;
  if (error.code === 'EACCES' || error.code === 'EPERM') {
    return `Cannot read ${file} (permission denied): run as the user who owns it, or give that user read access (chmod 600 keeps it private)`;
  }
  return `Cannot read ${file}: ${error.message}`;
}

/**
 * A `.env` that is a symbolic link to nothing (a secret a container or a deploy did not mount, a file moved): read as
 * no file, the run went on without its values, and the error for a missing variable said to create the .env that was
 * there. Undefined when `file` is no link.
 */
function danglingLink(file: string): string | undefined {
  try {
    if (!lstatSync(file).isSymbolicLink()) return undefined;
    return `Cannot read ${file}: it is a symbolic link to ${readlinkSync(file)}, which does not exist (a secret not mounted, a file moved): restore what it points to, or remove the link`;
  } catch {
    return undefined;
  }
}

/**
 * The working directory, which .env, src/pipeline.ts and relative paths are read from. One removed after the shell
 * entered it (a deploy that replaced the release directory, `rm -rf` of a checkout re-cloned since) made Node's
 * process.cwd() throw, and the run failed with "unexpected error: ENOENT: no such file or directory, uv_cwd".
 */
function workingDirectory(): string {
  try {
    return process.cwd();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new ConfigError('The working directory no longer exists (removed or replaced after this process was started in it, such as by a deploy): start the command from the project again (cd into it); .env, src/pipeline.ts and relative paths are read from there');
  }
}

/** Reads `<dir>/.env` (absent file = empty) and overlays `processEnv` on top of it. */
export function loadEnv(dir: string = workingDirectory(), processEnv: Env = process.env): Env {
  const file = join(dir, '.env');
  let text: string;
  try {
    text = decodeEnvFile(readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      const dangling = danglingLink(file);
      if (dangling !== undefined) throw new ConfigError(dangling);
      const env = { ...processEnv };
      sources.set(env, { file, found: false, fromFile: new Set() });
      return env;
    }
    throw new ConfigError(cannotRead(file, error as NodeJS.ErrnoException));
  }
  let fileValues: Record<string, string>;
  try {
    // A byte order mark (Windows editors save one) is gone (decodeEnvFile): parseEnv kept it in the first name, so the
    // first variable was silently missing (or, SNAPENGAGE_BASE_URL, the default API used instead).
    fileValues = parseEnv(text) as Record<string, string>;
  } catch (error) {
    throw new ConfigError(`Cannot parse ${file}: ${(error as Error).message} (expected KEY=value lines)`);
  }
  const merged: Record<string, string | undefined> = { ...fileValues };
  for (const [key, value] of Object.entries(processEnv)) {
    // A blank variable counts as unset (envValue), so it does not hide a value in .env: `FOO= cmd` is not "missing".
    if (value !== undefined && (value.trim() !== '' || !(key in fileValues))) merged[key] = value;
  }
  // The file's value stands where the process has none or a blank one (the rule above).
  const fromFile = new Set(Object.keys(fileValues).filter((key) => (processEnv[key] ?? '').trim() === ''));
  sources.set(merged, { file, found: true, fromFile });
  return merged;
}

/**
 * The text of a .env file. Windows PowerShell 5.1 writes UTF-16 (with a byte order mark) for `>`, `Out-File` and
 * `Set-Content -Encoding Unicode`, and Notepad can save so: read as UTF-8, every name held NUL bytes, so each variable
 * was silently missing and the error said to set in .env what was there. UTF-8's mark is removed as well (parseEnv
 * kept it in the first name).
 */
function decodeEnvFile(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return bytes.subarray(2).toString('utf16le');
  // Big-endian: bytes swapped in pairs (a stray last byte dropped: swap16 needs an even length).
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return Buffer.from(bytes.subarray(2, bytes.length - (bytes.length % 2))).swap16().toString('utf16le');
  const text = bytes.toString('utf8');
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** A value is present when set and not blank. */
export function envValue(env: Env, name: string): string | undefined {
  // null (from JavaScript: runPipeline's env) is unset, as runPipeline reads null options.
  const value = (env[name] as string | null | undefined) ?? undefined;
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/** Splits a comma list (`each: true` params such as SNAPENGAGE_WIDGET_ID) into distinct, non-empty items. */
export function envList(env: Env, name: string): string[] {
  const value = envValue(env, name);
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((item) => item.trim()).filter((item) => item !== ''))];
}

/** A value of the environment quoted in a message: JSON.stringify leaves C1 controls and bidi overrides as they are. */
function quoted(value: string): string {
  return printable(JSON.stringify(value));
}

/**
 * What is wrong with a comma list's value (`each: true` params such as SNAPENGAGE_WIDGET_ID), or undefined. A value
 * with no item (`,`) counted as set, so the requests went out without the parameter: for the Logs API that is every
 * widget at once, which the API does not page (the first 100 cases, silently). An item with a space, a `;` or a quote
 * is a list typed with another separator or quoted in the environment (a `.env` line's quotes are removed): each
 * request was a 404 naming the whole list as one id.
 */
export function envListProblem(env: Env, name: string): string | undefined {
  const value = envValue(env, name);
  if (value === undefined) return undefined;
  if (envList(env, name).length === 0) return `${name} holds no item (got ${quoted(value)}): give one or more ids separated by commas`;
  const odd = envList(env, name).find((item) => /[\s;"'`]/.test(item));
  if (odd !== undefined) return `${name} has an item with a space, a ";" or a quote (${quoted(odd)}): separate ids with commas only, without quotes`;
  // A dot segment: as a path parameter (chat_availability's widget) the URL would resolve to another path, so the client
  // refuses it, which failed the run only after the other widgets were read, in words naming neither list nor item.
  const dots = envList(env, name).find((item) => item === '.' || item === '..');
  if (dots !== undefined) return `${name} has an item that cannot be an id (${quoted(dots)}): remove it`;
  return undefined;
}

