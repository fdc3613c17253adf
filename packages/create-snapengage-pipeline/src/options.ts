// Turns argv + env + "is stdin a TTY" into what to do. Pure (no fs, no prompts) so every flag combination is
// unit-testable; prompting for what is missing, and checking the file system, happen later.
import { parseArgs } from 'node:util';
import { notLoadableReason } from 'snapengage-client';
import { defaultResources, defaultStartText, loadCatalog, unknownResources, type ResourceChoice } from './catalog.js';

export type PackageManager = 'npm' | 'pnpm' | 'yarn' | 'bun';

/** Every question the scaffolder asks; a flag answers each one. */
export interface Answers {
  dir: string;
  resources: string[];
  /** `YYYY-MM-DD`, or null for the catalog's default (the spec's `defaultStartDaysAgo`). */
  startDate: string | null;
  /** Env var → value, written only to the project's `.env`; null = "I'll add them later". */
  credentials: Record<string, string> | null;
  install: boolean;
  git: boolean;
  /** The package.json name, when asked for: the directory's name is not a valid one (default: one derived from it). */
  packageName?: string;
}

export type Resolved =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'usage-error'; message: string }
  | {
      kind: 'create';
      /** Prompt for the answers not given (false: take defaults, or fail when a required answer is missing). */
      interactive: boolean;
      given: Partial<Answers>;
      defaults: Answers;
      overwrite: boolean;
      packagesDir: string | null;
      packageManager: PackageManager;
      /** Its major version from the user agent (`pnpm/9.15.9` → 9), or null when not given there. */
      packageManagerMajor: number | null;
    }
  | { kind: 'add'; dir: string; resources: string[] };

// Not `snapengage-pipeline`: a project named like its dependency could import itself (target.ts, packageNameProblem).
const DEFAULT_DIR = 'my-snapengage-pipeline';

const flagSpec = {
  resources: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  'start-date': { type: 'string' },
  install: { type: 'boolean' },
  'no-install': { type: 'boolean' },
  git: { type: 'boolean' },
  'no-git': { type: 'boolean' },
  overwrite: { type: 'boolean' },
  packages: { type: 'string' },
  add: { type: 'string' },
  interactive: { type: 'boolean' },
  'no-interactive': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
  // -V as well, the version in the loader and the sandbox too (the loader's -v is --verbose). parseArgs takes one
  // short letter per option: an option named V is what -V reads as.
  V: { type: 'boolean' },
} as const;

const HELP = `Usage: create-snapengage-pipeline [dir] [flags]
       create-snapengage-pipeline [dir] --add <resources>     (edit an existing project)

Scaffolds a TypeScript project that loads SnapEngage resources into DuckDB.

Flags:
  --resources <a,b>        resources to load (${'{resources}'})
  --start-date YYYY-MM-DD  first day loaded by incremental resources (default: {defaultStart})
  -y, --yes                take the defaults for every answer not given as a flag
  --install / --no-install install dependencies (default: yes)
  --git / --no-git         run git init (default: yes, skipped inside an existing repository)
  --overwrite              empty a non-empty target directory first
  --packages <dir>         depend on npm-pack tarballs in <dir> instead of the published packages
  --add <a,b>              add resources to the project in [dir] (default: the current directory)
  --interactive / --no-interactive   ask questions (default: when stdin is a TTY, and not in CI)
  -h, --help               this help
  -v, -V, --version        the version

Without a TTY (or in CI) nothing is asked: pass [dir], --resources, --install or --no-install and --git or --no-git (the defaults
above are what --yes and the questions take), or --yes for all of them.
`;

export function helpText(catalog: readonly ResourceChoice[] = loadCatalog()): string {
  return HELP.replace('{resources}', catalog.map((c) => c.name).join(', '))
    .replace('{defaultStart}', defaultStartText(catalog) ?? 'none of the resources is incremental');
}

export function parseList(value: string): string[] {
  return [...new Set(value.split(',').map((s) => s.trim()).filter((s) => s.length > 0))];
}

/**
 * `YYYY-MM-DD` naming a real calendar day, not after today (UTC): the loader refuses a later start date on every run.
 * Returns an error message or null.
 */
export function checkStartDate(value: string, now: Date = new Date()): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match) {
    const date = new Date(`${value}T00:00:00Z`);
    if (!Number.isNaN(date.getTime()) && date.toISOString().startsWith(value)) {
      const today = now.toISOString().slice(0, 10);
      if (value > today) return `--start-date ${value} is after today (${today} UTC); use the first day to load, in the past`;
      // As the pipeline refuses it (a mistyped year): a project that could never run.
      return value < '1970-01-01' ? `--start-date ${value} is before 1970-01-01: no case is that old; check the year` : null;
    }
  }
  // The day a time or an epoch number falls on is offered only if it would be taken in turn.
  const { hint, lead, day } = notADayHint(value);
  const today = now.toISOString().slice(0, 10);
  const fix = day === undefined ? hint : day > today ? `${lead}, after today (${today} UTC): use the first day to load, in the past` : day < '1970-01-01' ? `${lead}, before 1970-01-01: check the year` : hint;
  return `--start-date ${JSON.stringify(value)} is not a day YYYY-MM-DD: ${fix}`;
}

/** "…; use <day>": the hint that names the day to write, with that day and what it says before it. */
function offering(lead: string, day: string): { hint: string; lead: string; day: string } {
  return { hint: `${lead}; use ${day}`, lead, day };
}

/**
 * What to type instead of a time, an epoch number or a day the calendar lacks: the UTC day it falls on, as the loader
 * says of SNAPENGAGE_START_DATE (windows are whole UTC days), so the fix is a copy away. Restated here, not imported:
 * the scaffolder depends on the loader's config type only.
 */
function notADayHint(value: string): { hint: string; lead?: string; day?: string } {
  const text = value.trim();
  const utcDay = (ms: number): string | undefined => (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString().slice(0, 10) : undefined);
  const dateTime = /^(\d{4})-(\d{2})-(\d{2})[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text);
  const dayPart = dateTime ? text.slice(0, 10) : /^\d{4}-\d{2}-\d{2}$/.test(text) ? text : undefined;
  if (dayPart) {
    const [year, month, day] = dayPart.split('-').map(Number) as [number, number, number];
    if (month < 1 || month > 12) return { hint: 'there is no such month; use YYYY-MM-DD, e.g. 2025-01-31' };
    const days = new Date(Date.UTC(year, month, 0)).getUTCDate();
    if (day < 1 || day > days) return { hint: `there is no such day: ${dayPart.slice(0, 7)} has ${days} days` };
  }
  if (dateTime) {
    const lead = 'a day is enough, not a time: windows are whole UTC days';
    if (dateTime[4] === undefined) return offering(lead, dayPart!);
    const zone = dateTime[4].toUpperCase() === 'Z' ? 'Z' : dateTime[4].replace(/^([+-]\d{2}):?(\d{2})$/, '$1:$2');
    const day = utcDay(Date.parse(`${text.replace(' ', 'T').replace(/\s*(Z|[+-]\d{2}:?\d{2})$/i, '')}${zone}`));
    if (day) return offering(`${lead}, and that instant falls on ${day} in UTC`, day);
  }
  if (/^\d{10}$|^\d{13}$/.test(text)) {
    const day = utcDay(text.length === 10 ? Number(text) * 1000 : Number(text));
    if (day) return offering(`a day, not epoch ${text.length === 10 ? 'seconds' : 'milliseconds'}: that instant falls on ${day} in UTC`, day);
  }
  return { hint: 'use YYYY-MM-DD, e.g. 2025-01-31 (a whole UTC day)' };
}

function checkResources(names: readonly string[], catalog: readonly ResourceChoice[], flag: string): string | null {
  if (names.length === 0) return `${flag} is empty; choose from: ${catalog.map((c) => c.name).join(', ')}`;
  const unknown = unknownResources(names, catalog);
  if (unknown.length === 0) return null;
  const valid = catalog.map((c) => c.name);
  const other = unknown.filter((n) => notLoadableReason(n) === undefined);
  const parts: string[] = [];
  if (other.length > 0) {
    const listed = other.map((n) => {
      const guess = guessResource(n, valid);
      return `${JSON.stringify(n)}${guess ? ` (did you mean "${guess}"?)` : ''}`;
    });
    parts.push(`unknown resource ${listed.join(', ')}`);
  }
  for (const n of unknown) {
    const reason = notLoadableReason(n);
    if (reason) parts.push(reason);
  }
  return `${flag}: ${parts.join('; ')}; valid: ${valid.join(', ')}`;
}

/** The resource a typo most likely meant (`log` → `logs`): the closest within one edit per four letters, case ignored. */
function guessResource(name: string, names: readonly string[]): string | undefined {
  const typed = name.toLowerCase();
  const maxEdits = Math.max(1, Math.floor(typed.length / 4));
  let best: { name: string; edits: number } | undefined;
  for (const candidate of names) {
    const edits = editDistance(typed, candidate.toLowerCase());
    if (edits <= maxEdits && (best === undefined || edits < best.edits)) best = { name: candidate, edits };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

export function detectPackageManager(userAgent: string | undefined): PackageManager {
  const name = (userAgent ?? '').split(' ')[0]?.split('/')[0];
  return name === 'pnpm' || name === 'yarn' || name === 'bun' ? name : 'npm';
}

/** `pnpm/9.15.9 npm/? node/v20…` → 9: where pnpm reads its settings and what yarn writes depend on the major. */
export function detectPackageManagerMajor(userAgent: string | undefined): number | null {
  const match = /^[\w-]+\/(\d+)/.exec(userAgent ?? '');
  return match ? Number(match[1]) : null;
}

function pickBoolean(values: Record<string, unknown>, name: string): boolean | undefined | 'conflict' {
  const yes = values[name] === true;
  const no = values[`no-${name}`] === true;
  if (yes && no) return 'conflict';
  return yes ? true : no ? false : undefined;
}

/** A flag with a value given more than once, as a message; undefined when there is none. */
function repeatedFlag(tokens: ReadonlyArray<{ kind: string; name?: string; value?: string | undefined }>): string | undefined {
  const given = new Map<string, string[]>();
  for (const token of tokens) {
    if (token.kind === 'option' && token.name !== undefined && token.value !== undefined) given.set(token.name, [...(given.get(token.name) ?? []), token.value]);
  }
  for (const [name, values] of given) {
    if (values.length < 2) continue;
    const list = name === 'resources' || name === 'add' ? ` (several resources go in one comma list: --${name} ${values.join(',')})` : '';
    return `--${name} given ${values.length} times (${values.map((v) => JSON.stringify(v)).join(', ')}): give it once${list}`;
  }
  return undefined;
}

/** Whether a resource, or a resource it is read per record of, loads by date window. */
function windowed(name: string, catalog: readonly ResourceChoice[]): boolean {
  const seen = new Set<string>();
  for (let at = catalog.find((c) => c.name === name); at !== undefined && !seen.has(at.name); at = catalog.find((c) => c.name === at!.parent)) {
    if (at.incremental) return true;
    seen.add(at.name);
  }
  return false;
}

export function resolveOptions(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  isTTY: boolean,
  catalog: readonly ResourceChoice[] = loadCatalog(),
): Resolved {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: flagSpec, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    // parseArgs messages already name the flag ("Unknown option '--foo'"); its hint about positionals that start
    // with '-' is left out (a directory name is never one).
    let message = (error as Error).message.split('\n')[0]!.replace(/\. To specify a positional argument.*$/, '').replace(/\.$/, '');
    // `--start-date --yes`: parseArgs' first line only says "argument is ambiguous"; the fix is in its second.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message)?.[1];
    if (ambiguous) message = `${ambiguous} is followed by a value that starts with "-": write it as ${ambiguous}=<value>, or give the value that was forgotten`;
    return { kind: 'usage-error', message: `${message}. Run with --help for the flags.` };
  }
  const { values, positionals } = parsed;
  // parseArgs keeps the last of a repeated flag: `--resources logs --resources widgets` made a widgets-only project.
  const repeated = repeatedFlag(parsed.tokens);
  if (repeated) return { kind: 'usage-error', message: repeated };
  // The option named V exists only to read -V: parseArgs would take `--V` for it too.
  if (parsed.tokens.some((t) => t.kind === 'option' && t.rawName === '--V')) return { kind: 'usage-error', message: `Unknown option '--V' (the version is -V or --version). Run with --help for the flags.` };
  if (values.help) return { kind: 'help' };
  if (values.version || values.V) return { kind: 'version' };
  if (positionals.length > 1) {
    return { kind: 'usage-error', message: `expected one directory, got ${positionals.length}: ${positionals.join(' ')}` };
  }
  const dir = positionals[0];
  const packagesDir = values.packages ?? null;
  if (packagesDir === '') return { kind: 'usage-error', message: '--packages needs a directory of npm pack tarballs' };

  if (values.add !== undefined) {
    // These shape a new project; --add took them without a word, so a start date or a resource the user meant to add
    // was silently dropped. (--install, --git, --yes and --interactive stay accepted: they ask nothing of --add.)
    const ignored: [string, unknown, string][] = [
      ['--resources', values.resources, 'list every resource to add in --add (e.g. --add widgets,users)'],
      ['--start-date', values['start-date'], '--add only adds resources; set incremental.startDate in src/pipeline.ts instead'],
      ['--overwrite', values.overwrite, '--add never replaces a project; drop the flag'],
      ['--packages', values.packages, "--add changes no dependency (package.json keeps the ones it has); drop the flag"],
    ];
    const given = ignored.find(([, value]) => value !== undefined);
    if (given) return { kind: 'usage-error', message: `${given[0]} does nothing with --add: ${given[2]}` };
    const resources = parseList(values.add);
    const problem = checkResources(resources, catalog, '--add');
    if (problem) return { kind: 'usage-error', message: problem };
    return { kind: 'add', dir: dir ?? '.', resources };
  }

  const given: Partial<Answers> = {};
  if (dir !== undefined) given.dir = dir;
  if (values.resources !== undefined) {
    given.resources = parseList(values.resources);
    const problem = checkResources(given.resources, catalog, '--resources');
    if (problem) return { kind: 'usage-error', message: problem };
  }
  if (values['start-date'] !== undefined) {
    const problem = checkStartDate(values['start-date']);
    if (problem) return { kind: 'usage-error', message: problem };
    given.startDate = values['start-date'];
    // Only resources read by date window (or children, whose parent comes with them) take it: not a silent no-op.
    if (given.resources !== undefined && !given.resources.some((name) => windowed(name, catalog))) {
      const incremental = catalog.filter((c) => c.incremental).map((c) => c.name);
      return { kind: 'usage-error', message: `--start-date does nothing for ${given.resources.join(', ')}: only ${incremental.join(', ')} (and the resources read per record of it) load from a start date; drop the flag or add one of them` };
    }
  }
  for (const name of ['install', 'git'] as const) {
    const value = pickBoolean(values, name);
    if (value === 'conflict') return { kind: 'usage-error', message: `--${name} and --no-${name} contradict each other` };
    if (value !== undefined) given[name] = value;
  }
  const interactiveFlag = pickBoolean(values, 'interactive');
  if (interactiveFlag === 'conflict') {
    return { kind: 'usage-error', message: '--interactive and --no-interactive contradict each other' };
  }
  // With --yes nothing is asked; otherwise ask exactly when a person can answer (create-vite's rule). Not in CI even on
  // a TTY: a runner that gives the job a pseudo-terminal (Buildkite, `script`, `docker run -t`) left the first
  // question waiting until the job's timeout, with no one to answer it (create-next-app takes CI as no one too).
  const ci = ciVariable(env);
  const interactive = values.yes ? false : (interactiveFlag ?? (isTTY && ci === undefined));
  const defaults: Answers = {
    dir: DEFAULT_DIR,
    resources: defaultResources(catalog),
    startDate: null,
    credentials: null,
    install: true,
    git: true,
  };

  if (!interactive && !values.yes) {
    // Never wait for input nobody can type: name every missing flag on one line and stop.
    const missing = [
      given.dir === undefined ? '[dir]' : null,
      given.resources === undefined ? '--resources <a,b>' : null,
      given.install === undefined ? '--install or --no-install' : null,
      given.git === undefined ? '--git or --no-git' : null,
    ].filter((m): m is string => m !== null);
    if (missing.length > 0) {
      return {
        kind: 'usage-error',
        message: `${whyNotAsked(isTTY, interactiveFlag === false, ci)}, so nothing can be asked; missing: ${missing.join(', ')} (or pass --yes for the defaults)`,
      };
    }
  }
  return {
    kind: 'create',
    interactive,
    given,
    defaults,
    overwrite: values.overwrite === true,
    packagesDir,
    packageManager: detectPackageManager(env.npm_config_user_agent),
    packageManagerMajor: detectPackageManagerMajor(env.npm_config_user_agent),
  };
}

/**
 * Why a run with answers missing asks none: said as it is (`--no-interactive` on a TTY was told stdin was not one),
 * naming the variable that made it a CI job (Azure Pipelines sets TF_BUILD, not CI: "CI is set" sent one looking for it).
 */
function whyNotAsked(isTTY: boolean, noInteractive: boolean, ci: string | undefined): string {
  if (!isTTY) return 'stdin is not a TTY';
  if (noInteractive) return '--no-interactive was given';
  return ci !== undefined ? `this is a CI job (${ci}; --interactive asks anyway)` : 'nothing is asked';
}

/**
 * A CI job: CI set (GitHub Actions, GitLab, CircleCI, Buildkite, Travis…) to anything but false/0, or Azure Pipelines'
 * TF_BUILD (the pipeline's progress display reads it the same way: packages/pipeline/src/terminal.ts). Returns what
 * says so, for the refusal, or undefined outside CI.
 */
function ciVariable(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const ci = env.CI?.trim().toLowerCase();
  if (ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0') return 'CI is set';
  if (env.GITHUB_ACTIONS === 'true') return 'GITHUB_ACTIONS=true';
  return env.TF_BUILD !== undefined ? 'TF_BUILD is set' : undefined;
}
