// Writes a new project: everything is rendered in memory, written to a temporary directory, and moved into place at
// the end, so a failure or a cancelled prompt leaves nothing behind in the target.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultStartText, envVarsFor, perRecordResources, withParents, type ResourceChoice } from './catalog.js';
import { dependencySpecs } from './dependencies.js';
import { fsReason } from './errors.js';
import { renderDotEnv, type EnvVarContext } from './env-file.js';
import type { PackageManager } from './options.js';
import { packageManagerSettings } from './package-manager.js';
import { DEFAULT_DATASET, DEFAULT_DUCKDB_PATH, PIPELINE_FILE, renderPipelineSource } from './pipeline-source.js';
import { createRenderer, type Renderer } from './render.js';
import { crontabWord, shellWord } from './shell-word.js';
import { makeStagingRoot, type Target } from './target.js';

export interface ProjectPlan {
  target: Target;
  resources: readonly string[];
  startDate: string | null;
  credentials: Readonly<Record<string, string>> | null;
  /** Absolute directory of npm-pack tarballs, or null for published versions. */
  packagesDir: string | null;
  packageManager: PackageManager;
  /** The package manager's major version (from npm_config_user_agent), or null/absent when unknown. */
  packageManagerMajor?: number | null;
  overwrite: boolean;
}

export function packageManagerCommands(pm: PackageManager) {
  // `exec` runs a bin of the project's own dependencies (snapengage-sandbox).
  const exec = { npm: 'npx', pnpm: 'pnpm exec', yarn: 'yarn', bun: 'bunx' }[pm];
  // Scripts always go through `run`: the short form runs a built-in when one has the script's name (`pnpm show` is
  // `pnpm view`, a registry lookup; `yarn check` is yarn 1's integrity check; `bun test` is bun's own test runner).
  // `start` keeps the short form: no built-in of theirs is called `start`, so each runs the script.
  // `args` separates a script's own flags: npm needs `--`; pnpm, yarn and bun pass them on without it (yarn 1 warns
  // about a `--`, and pnpm and yarn 2+ hand it to the script).
  return { install: `${pm} install`, run: `${pm} run`, start: `${pm} start`, exec, args: pm === 'npm' ? ' --' : '', yarn: pm === 'yarn' };
}

export function envVarContexts(names: readonly string[], catalog: readonly ResourceChoice[]): EnvVarContext[] {
  return envVarsFor(names, catalog).map((v) => ({
    ...v,
    usedBy: catalog
      .filter((c) => names.includes(c.name) && c.envVars.some((e) => e.name === v.name))
      .map((c) => c.name)
      .join(', '),
  }));
}

/**
 * Start-date variables that src/pipeline.ts makes useless: with a start date every incremental resource gets
 * `incremental.startDate`, which wins over the variable in the loader, so it is left out of `.env.example`. A variable
 * still read by a chosen resource without that option stays.
 */
function startDateEnvsSetInConfig(names: readonly string[], catalog: readonly ResourceChoice[], startDate: string | null): string[] {
  if (startDate === null) return [];
  const chosen = catalog.filter((c) => names.includes(c.name));
  const candidates = [...new Set(chosen.flatMap((c) => (c.incremental && c.startDateEnv ? [c.startDateEnv] : [])))];
  return candidates.filter((env) =>
    chosen.every((c) => !c.envVars.some((v) => v.name === env) || (c.incremental && c.startDateEnv === env)),
  );
}

/** `` `A`, `B` and `C` `` */
function codeList(names: readonly string[]): string {
  const quoted = names.map((n) => `\`${n.replace(/`/g, '')}\``);
  return quoted.length <= 1 ? quoted.join('') : `${quoted.slice(0, -1).join(', ')} and ${quoted.at(-1)}`;
}

/**
 * The variables of every resource of the catalog (dlt's page loads them all), for the README's dlt table: the
 * credentials, and the ids the endpoints take (not the start date, which the README covers on its own).
 */
function catalogVariables(catalog: readonly ResourceChoice[]): { credentials: string; ids: string } {
  const startEnvs = new Set(catalog.flatMap((c) => (c.startDateEnv ? [c.startDateEnv] : [])));
  const all = catalog.flatMap((c) => c.envVars).filter((v) => !startEnvs.has(v.name));
  const distinct = (secret: boolean) => [...new Set(all.filter((v) => v.secret === secret).map((v) => v.name))];
  return { credentials: codeList(distinct(true)), ids: codeList(distinct(false)) };
}

/** This scaffolder's command line entry, for a project made from local tarballs to run `--add` with. */
const OWN_BIN = fileURLToPath(new URL('../bin/create-snapengage-pipeline.js', import.meta.url));

/** Every file of the project, path → content, without touching the disk. */
export function renderProjectFiles(
  plan: ProjectPlan,
  catalog: readonly ResourceChoice[],
  renderer: Renderer = createRenderer(),
): Map<string, string> {
  const names = withParents(plan.resources, catalog);
  const chosen = catalog.filter((c) => names.includes(c.name));
  const dependencies = dependencySpecs(plan.packagesDir);
  const inConfig = startDateEnvsSetInConfig(names, catalog, plan.startDate);
  const files = renderer.renderProject({
    projectName: plan.target.name,
    // The crontab line's `cd`: the directory's name, which is not the package name when npm refused it (`My Pipeline`).
    cronProjectDir: crontabWord(basename(plan.target.path)),
    pm: packageManagerCommands(plan.packageManager),
    resources: chosen,
    // The README's examples name a table the project really loads, and a resource it can still add.
    firstTable: chosen[0]?.name ?? null,
    addExample: catalog.find((c) => !names.includes(c.name))?.name ?? null,
    // A project made from local tarballs (--packages) has no published scaffolder to `npm create`: name this one.
    addCommand: plan.packagesDir ? `node ${shellWord(OWN_BIN)} . --add` : 'npm create snapengage-pipeline@latest . -- --add',
    destination: { path: DEFAULT_DUCKDB_PATH, dataset: DEFAULT_DATASET },
    catalog,
    catalogVariables: catalogVariables(catalog),
    envVars: envVarContexts(names, catalog).filter((v) => !inConfig.includes(v.name)),
    // The first day to load, when src/pipeline.ts sets it: the README and .env.example say it wins over the env var.
    startDate:
      plan.startDate && inConfig.length > 0
        ? { date: plan.startDate, envVars: inConfig.join(', '), resources: chosen.filter((c) => c.incremental).map((c) => c.name).join(', ') }
        : null,
    incremental: chosen.some((c) => c.incremental),
    // Resources that make one request per record of their parent: slow at the default rate limit, even locally.
    perRecord: perRecordResources(chosen),
    defaultStart: defaultStartText(chosen),
    startDateEnvs: [...new Set(chosen.flatMap((c) => (c.startDateEnv ? [c.startDateEnv] : [])))].join(', '),
    ...dependencies,
  });
  const settings = packageManagerSettings(plan.packageManager, plan.packageManagerMajor ?? null, dependencies, plan.packagesDir);
  if (Object.keys(settings.packageJson).length > 0) {
    const pkg = JSON.parse(files.get('package.json')!) as Record<string, unknown>;
    files.set('package.json', `${JSON.stringify({ ...pkg, ...settings.packageJson }, null, 2)}\n`);
  }
  for (const [path, content] of settings.files) files.set(path, content);
  const pm = packageManagerCommands(plan.packageManager);
  files.set(PIPELINE_FILE, renderPipelineSource({ resources: chosen, startDate: plan.startDate, commands: { start: pm.start, test: `${pm.run} test` } }));
  if (plan.credentials && Object.values(plan.credentials).some((v) => v !== '')) {
    files.set('.env', renderDotEnv(plan.credentials));
  }
  return files;
}

function moveEntry(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch (error) {
    // The temp dir may be on another file system; copy then delete.
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    cpSync(from, to, { recursive: true });
    rmSync(from, { recursive: true, force: true });
  }
}

/**
 * Writes the project; returns a note for the user when it was written but the old contents that --overwrite replaced
 * could not all be deleted (their path), else null. On a failure the target is as it was: the old entries are moved
 * aside (not deleted) until the new ones are all in, and put back if a move fails.
 */
export function writeProject(plan: ProjectPlan, files: ReadonlyMap<string, string>): string | null {
  // The temp dir is private (0700: .env holds credentials until it is moved); the project is a directory inside it,
  // made as any other, so the moved project has the usual permissions (umask), not 0700.
  const root = makeStagingRoot();
  const staging = join(root, 'project');
  try {
    mkdirSync(staging);
    for (const [path, content] of files) {
      const full = join(staging, path);
      mkdirSync(dirname(full), { recursive: true });
      // .env holds credentials: readable by the owner only.
      writeFileSync(full, content, path === '.env' ? { mode: 0o600 } : {});
    }
    if (!existsSync(plan.target.path)) {
      // mkdirSync returns the first directory it made: removed on a failure, with the parents it made for the target.
      let made: string | undefined;
      try {
        made = mkdirSync(dirname(plan.target.path), { recursive: true });
        moveEntry(staging, plan.target.path);
      } catch (error) {
        // A copy across file systems (EXDEV) may have stopped half way.
        const leftover = made ?? plan.target.path;
        try {
          rmSync(leftover, { recursive: true, force: true });
        } catch {
          throw targetWriteError(error, plan.target.path, plan.target.path, `${leftover} is partly written; delete it`);
        }
        throw targetWriteError(error, plan.target.path, plan.target.path, null, 'nothing was written');
      }
      return null;
    }
    return replaceContents(plan.target.path, staging, plan.overwrite);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Moves the staged entries into an existing target. With `overwrite` its old entries (but .git) first go into a
 * hidden directory inside it, a rename on the same file system, and are deleted only once every new entry is in.
 */
function replaceContents(target: string, staging: string, overwrite: boolean): string | null {
  let failedAt = target;
  const held: string[] = [];
  const moved: string[] = [];
  let aside: string | null = null;
  try {
    if (overwrite) {
      const old = readdirSync(target).filter((entry) => entry !== '.git');
      if (old.length > 0) {
        aside = mkdtempSync(join(target, '.replaced-'));
        for (const entry of old) {
          failedAt = join(target, entry);
          renameSync(failedAt, join(aside, entry));
          held.push(entry);
        }
      }
    }
    for (const entry of readdirSync(staging)) {
      failedAt = join(target, entry);
      // Listed before the move, for the roll-back: a copy across file systems (EXDEV) that fails part way (a full
      // disk) leaves part of the entry behind. Nothing is there before (the old entries are aside, .git is not staged).
      if (!existsSync(failedAt)) moved.push(entry);
      moveEntry(join(staging, entry), failedAt);
    }
  } catch (error) {
    throw targetWriteError(error, target, failedAt, rollBack(target, aside, held, moved));
  }
  if (aside === null) return null;
  try {
    rmSync(aside, { recursive: true, force: true });
    return null;
  } catch {
    return `the project was written, but its old contents could not all be deleted: they are in ${aside}; delete it yourself`;
  }
}

/** Undoes replaceContents' moves; returns null when the target is as it was, else what is left where. */
function rollBack(target: string, aside: string | null, held: readonly string[], moved: readonly string[]): string | null {
  const problems: string[] = [];
  for (const entry of moved) {
    try {
      rmSync(join(target, entry), { recursive: true, force: true });
    } catch {
      problems.push(`the new ${entry} is still in it`);
    }
  }
  if (aside === null) return problems.length > 0 ? problems.join('; ') : null;
  for (const entry of held) {
    try {
      renameSync(join(aside, entry), join(target, entry));
    } catch {
      problems.push(`its old ${entry} is in ${aside}`);
    }
  }
  if (problems.length === 0) rmSync(aside, { recursive: true, force: true });
  return problems.length > 0 ? problems.join('; ') : null;
}

/**
 * A file-system refusal at the target as one line naming the entry and the fix (not the temp dir's path, nor a
 * stack), and whether the target is as it was (`unchanged`): `leftover` says what a failed roll-back left, else null.
 */
function targetWriteError(error: unknown, target: string, at: string, leftover: string | null = null, unchanged = `${target} is as it was`): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const state = leftover === null ? unchanged : `${target} is partly changed: ${leftover}`;
  const reason = fsReason(error);
  const fix =
    code === 'ENOSPC' ? 'free some space and run it again'
    : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? (at === target ? 'run it in a directory you can write to' : `make ${at} yours (or remove it) or choose another directory`)
    : 'fix that and run it again';
  return new Error(`cannot write ${at} (${reason}): ${fix}; ${state}`);
}
