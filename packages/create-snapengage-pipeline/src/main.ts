// The CLI flow, free of process globals so tests can run it in-process with fake streams. Exit codes: 0 done,
// 1 cancelled, input ended at a question, or a step failed (a failed install leaves the project created),
// 2 bad usage (unknown flag, invalid name or path, missing answer without a TTY), 130 the install interrupted (Ctrl-C),
// or a Ctrl-C as it completed (git init skipped).
import type { Readable, Writable } from 'node:stream';
import pc from 'picocolors';
import { printable } from 'snapengage-client';
import { envVarsFor, loadCatalog, withParents, type ResourceChoice } from './catalog.js';
import { ownVersion, packagesDirPath } from './dependencies.js';
import { CancelledError, InputEndedError, UserError } from './errors.js';
import { helpText, resolveOptions, type Answers } from './options.js';
import { installDependencies, initGit } from './post-create.js';
import type { AskAnswers } from './prompts.js';
import { cdStep, commandsInOrder, copyStep, nextStepLines } from './shell-word.js';
import { checkPackagesKept, checkStagingRoot, checkTargetFree, resolveTarget, type Target } from './target.js';

/** The process globals main() would otherwise read, so it runs in a test or another program. */
export interface MainIo {
  /** The arguments after the command name (process.argv.slice(2)). */
  argv: readonly string[];
  /** Read for npm_config_user_agent (the package manager and its version) and FORCE_COLOR. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where a relative target directory resolves; the target must be inside it. */
  cwd: string;
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
  /** Defaults to the clack prompts on stdin/stdout. */
  ask?: AskAnswers;
  catalog?: readonly ResourceChoice[];
  /** Whose shells the commands it prints are for, and how it spawns the install; process.platform by default. */
  platform?: NodeJS.Platform;
}

/**
 * Colour on `stream` as Node reads the environment (tty.WriteStream.hasColors: NO_COLOR, FORCE_COLOR, TERM=dumb). Not
 * picocolors' own choice, made once by stdout and on whenever CI is set: `2> err.log` from a terminal, or any log file
 * written in CI, got escape codes, and it took FORCE_COLOR=0 as forcing colour.
 */
function colorsFor(stream: Writable & { isTTY?: boolean; hasColors?: (env?: object) => boolean }, env: MainIo['env']) {
  if (stream.isTTY && typeof stream.hasColors === 'function') return pc.createColors(stream.hasColors(env));
  // A file, a pipe, a CI log: plain, unless FORCE_COLOR asks for colour ('0' and 'false' ask for none, as in Node).
  return pc.createColors(env.FORCE_COLOR !== undefined && ['', '1', '2', '3', 'true'].includes(env.FORCE_COLOR));
}

/** The create-snapengage-pipeline command; resolves to its exit code (0, 1 failed, 2 bad usage, 130 interrupted). */
export async function main(io: MainIo): Promise<number> {
  const catalog = io.catalog ?? loadCatalog();
  const platform = io.platform ?? process.platform;
  const out = colorsFor(io.stdout, io.env);
  const say = (line: string) => io.stdout.write(`${line}\n`);
  const fail = (message: string, code = 2) => {
    // Escaped: a message quotes the flags as given (`--resources`, `--start-date`, an unknown option), controls and all.
    io.stderr.write(`${colorsFor(io.stderr, io.env).red('error')} ${message.replace(/[^\n\t]+/g, (line) => printable(line))}\n`);
    return code;
  };
  const resolved = resolveOptions(io.argv, io.env, io.stdin.isTTY === true, catalog);
  if (resolved.kind === 'help') return say(helpText(catalog)), 0;
  if (resolved.kind === 'version') return say(ownVersion()), 0;
  if (resolved.kind === 'usage-error') return fail(resolved.message);

  try {
    if (resolved.kind === 'add') {
      // ts-morph and handlebars are loaded only when needed: --help and usage errors stay fast.
      const { addToProject } = await import('./add.js');
      const summary = addToProject(resolved.dir, io.cwd, resolved.resources, catalog);
      if (summary.added.length > 0) say(`Added ${summary.added.join(', ')} to src/pipeline.ts.`);
      // A parent brought along and already there (logs for `--add chat_poll`) is no news; one switched off is, below.
      const on = summary.alreadyPresent.filter((name) => !summary.switchedOff.includes(name) && resolved.resources.includes(name));
      if (on.length > 0) say(`Already in src/pipeline.ts: ${on.join(', ')}.`);
      if (summary.switchedOff.length > 0) {
        say(`In src/pipeline.ts but switched off (selected: false), left as is: ${summary.switchedOff.join(', ')}. Remove selected: false there to load ${summary.switchedOff.length === 1 ? 'it' : 'them'}.`);
      }
      if (summary.envVarsAdded.length > 0) {
        say(`Added ${summary.envVarsAdded.join(', ')} to .env.example; set ${summary.envVarsAdded.length === 1 ? 'it' : 'them'} in .env.`);
      }
      if (summary.readme?.updated) say('Updated the Resources line of README.md.');
      else if (summary.readme) {
        say(`Left README.md as is (its generated Resources line was edited or removed): add ${summary.readme.mention.join(', ')} there by hand if it lists them.`);
      }
      return 0;
    }

    const packagesDir = resolved.packagesDir ? packagesDirPath(resolved.packagesDir, io.cwd) : null;
    // Flag answers are checked before any question, so a bad flag fails fast.
    const checkTarget = (target: Target) => {
      checkTargetFree(target, resolved.overwrite);
      checkPackagesKept(target, packagesDir, resolved.overwrite, resolved.packagesDir ?? '');
    };
    if (resolved.given.dir !== undefined) checkTarget(resolveTarget(resolved.given.dir, io.cwd));
    checkStagingRoot();
    let answers: Answers;
    const prompts = resolved.interactive ? await import('./prompts.js') : null;
    if (prompts) {
      const ask = io.ask ?? prompts.askWithClack;
      answers = await ask({
        given: resolved.given,
        defaults: resolved.defaults,
        catalog,
        packageManager: resolved.packageManager,
        cwd: io.cwd,
        overwrite: resolved.overwrite,
        input: io.stdin,
        output: io.stdout,
      });
    } else {
      answers = { ...resolved.defaults, ...resolved.given };
    }

    const target = resolveTarget(answers.dir, io.cwd);
    checkTarget(target);
    if (answers.packageName !== undefined) target.name = answers.packageName;
    // Not asked (no TTY, --yes): the name in package.json is not the one typed, so say which it is and why.
    else if (target.nameDerived) say(`package.json name: ${target.name} (${target.nameDerived}; the directory keeps its name)`);
    const plan = {
      target,
      resources: answers.resources,
      startDate: answers.startDate,
      credentials: answers.credentials,
      packagesDir,
      packageManager: resolved.packageManager,
      packageManagerMajor: resolved.packageManagerMajor,
      overwrite: resolved.overwrite,
    };
    const { packageManagerCommands, renderProjectFiles, writeProject } = await import('./project.js');
    const files = renderProjectFiles(plan, catalog);
    const leftOver = writeProject(plan, files);
    if (leftOver) say(out.yellow(leftOver));
    const loaded = withParents(answers.resources, catalog);
    say(`Created ${target.path} (${files.size} files) loading ${loaded.join(', ')}.`);

    let installed = false;
    let installFailure: string | null = null;
    let interrupted = false;
    if (answers.install) {
      const step = await installDependencies(target.path, resolved.packageManager, ['ignore', io.stdout === process.stdout ? 'inherit' : 'pipe', 'inherit'], platform);
      if (step.ok) say(step.message);
      else installFailure = step.message;
      installed = step.ok;
      interrupted = step.interrupted === true;
    }
    if (answers.git && !interrupted) {
      const step = initGit(target.path);
      say(step.ok ? step.message : out.yellow(step.message));
    }

    const pm = packageManagerCommands(resolved.packageManager);
    // Relative with path.relative: cutting the cwd's length off the path dropped a letter where the cwd ends with a
    // separator (`/` in a container, `C:\` on Windows): `cd y-pipeline`.
    const cd = cdStep(io.cwd, target.path, platform);
    const required = new Set(envVarsFor(loaded, catalog).filter((v) => v.required).map((v) => v.name));
    const leftEmpty = Object.entries(answers.credentials ?? {}).filter(([name, value]) => value === '' && required.has(name)).map(([name]) => name);
    const next = nextStepLines([
      { command: cd },
      { command: installed ? null : pm.install },
      // Credentials asked "now" but all left empty write no .env: the user still has to make one.
      files.has('.env') ? {} : { command: copyStep('.env.example', '.env', platform), note: 'then fill in the values (no account? README.md: "Try it without an account")' },
      // Asked "now" and some left empty: `npm start` would refuse to run, so say which before it does.
      files.has('.env') && leftEmpty.length > 0 ? { note: `fill in ${leftEmpty.join(', ')} in .env: left empty, and needed to start` } : {},
      { command: pm.start },
    ], platform);
    const headline = installFailure
      ? interrupted
        ? 'Created, but the install was interrupted.'
        : 'Created, but the install failed.'
      : interrupted
        ? `Created, but stopped (Ctrl-C) ${answers.git ? 'before git init' : 'after the install'}.`
        : 'Done.';
    const message = `${headline} Next:\n  ${next.join('\n  ')}`;
    if (prompts && !io.ask) prompts.outroMessage(message, io.stdout);
    else say(message);
    // The project is complete without node_modules, but a script or CI must notice that the install did not happen.
    if (installFailure) {
      const finish = commandsInOrder([cd, pm.install].filter((s): s is string => s !== null), platform);
      // 130: a Ctrl-C, as a shell reports it.
      return fail(`${installFailure}; the project was created in ${target.path}: finish with ${finish}`, interrupted ? 130 : 1);
    }
    // A Ctrl-C as the install completed: it is done, but the user asked to stop, so git init was skipped.
    if (interrupted) {
      const rest = answers.git ? `: finish with ${commandsInOrder([cd, 'git init'].filter((s): s is string => s !== null), platform)}` : '';
      return fail(`stopped (Ctrl-C) after the install; the project was created in ${target.path}${rest}`, 130);
    }
    return 0;
  } catch (error) {
    if (error instanceof InputEndedError) return fail(error.message, 1);
    if (error instanceof CancelledError) {
      const { cancelMessage } = await import('./prompts.js');
      cancelMessage(io.stdout);
      return 1;
    }
    if (error instanceof UserError) return fail(error.message);
    return fail((error as Error).message, 1);
  }
}
