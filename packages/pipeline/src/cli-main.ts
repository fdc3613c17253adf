// snapengage-pipeline run | show, started by the entry (cli.ts) once it has caught the signals. Exit codes: 0 ok, 1 the run failed, 2 bad usage, 130 interrupted (SIGINT), 143
// terminated (SIGTERM), 129 hung up (SIGHUP).
// Errors are one line on stderr; the load info goes to stdout, progress and verbose request logs to stderr.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { inspect, parseArgs } from 'node:util';
import type { PipelineConfig } from './config.js';
import { DEFAULT_CONFIG_FILE, loadPipelineConfig } from './config-loader.js';
import { newFileElsewhereNote, otherProject } from './config-project.js';
import { loadEnv, rememberConfigProject } from './env.js';
import { AbortedError, PipelineError, UsageError, firstLine, withCommitted, type InterruptedRun } from './errors.js';
import { interruptedRunNote } from './load-info.js';
import { signalExitCode, unlessAborted, type CliSignals } from './cli-signals.js';
import { checkResourceNames, DEFAULTS, isResourceName, planPipeline, type Plan } from './plan.js';
import { localRateLimitAfterNote, localRateLimitNote } from './rate-limit-note.js';
import { createProgressDisplay, formatLoadStep, formatRequest } from './progress-display.js';
import { glyphsFor, terminalJson, terminalText } from './terminal.js';
import { documentLine, failedDocument, loadedDocument } from './run-document.js';
import { LOADER_VERSION } from './version.js';
import { refuseBadCommand, unknownCommand, USAGE } from './cli-usage.js';
import { maskProcessWarnings, onUncaughtError, printed, secretMask, withoutSecrets } from './cli-mask.js';
// run.js and show.js are imported when a command needs them. run.js before the config: imported after tsx's loader is
// registered for a TS config, its modules load through it (~0.1 s slower, measured). DuckDB itself (70–100 ms) is
// required only when a file is opened (duckdb.ts): --help, --version and a config error do not pay for it.

const OPTIONS = {
  resources: { type: 'string' },
  duckdb: { type: 'string' },
  dataset: { type: 'string' },
  config: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  'limit-pages': { type: 'string' },
  refresh: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  // -V: -v is --verbose (run has long taken it); the scaffolder and the sandbox take -V too.
  version: { type: 'boolean', short: 'V' },
} as const;

type Flags = {
  resources?: string;
  duckdb?: string;
  dataset?: string;
  config?: string;
  verbose?: boolean;
  'limit-pages'?: string;
  refresh?: boolean;
  json?: boolean;
  help?: boolean;
  version?: boolean;
};

function parse(argv: string[]): { command: string | undefined; flags: Flags } {
  let parsed;
  try {
    parsed = parseArgs({ args: withoutSeparator(argv), options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(`${usageMessage(error as Error & { code?: string })} (see --help)`);
  }
  // parseArgs keeps the last of a repeated option: `--resources logs --resources widgets` loaded widgets alone.
  const given = new Map<string, string[]>();
  for (const token of parsed.tokens) {
    if (token.kind === 'option' && token.value !== undefined) given.set(token.name, [...(given.get(token.name) ?? []), token.value]);
  }
  for (const [name, values] of given) {
    if (values.length < 2) continue;
    const list = name === 'resources' ? ` (several resources go in one comma list: --resources ${values.join(',')})` : '';
    throw new UsageError(`--${name} given ${values.length} times (${values.map((v) => JSON.stringify(v)).join(', ')}): give it once${list}`);
  }
  const [command, extra] = parsed.positionals;
  if (extra !== undefined) {
    // dlt's `dlt pipeline <name> show` (or `drop`) typed from habit: say what it is here instead of only refusing it.
    if (command === 'pipeline') throw new UsageError(unknownCommand(command, parsed.positionals));
    const hint =
      command === 'show'
        ? ': show takes no pipeline name (it reads --duckdb, else the destination of the config, else snapengage.duckdb)'
        : command === 'run' && isResourceName(extra)
          ? `: to load only it, use --resources ${extra}`
          : '';
    throw new UsageError(`Unexpected argument "${extra}"${hint} (see --help)`);
  }
  // `--duckdb "$DB"` with DB unset: an empty path meant the working directory and an empty dataset a confusing
  // DuckDB error, after the state read.
  for (const name of ['duckdb', 'dataset', 'config'] as const) {
    if (parsed.values[name] !== undefined && String(parsed.values[name]).trim() === '') throw new UsageError(`--${name} needs a value, got an empty one (see --help)`);
  }
  return { command: parsed.positionals[0], flags: parsed.values as Flags };
}

/**
 * The arguments without a bare `--`: `yarn start -- --resources logs` on yarn 2+ (and `npm run start -- -- …`) passes
 * it on, and parseArgs then read every flag after it as a positional ("Unexpected argument"). This CLI takes no
 * positional that starts with "-", so the separator means nothing here. A `--` that is a string option's value stays.
 */
function withoutSeparator(argv: readonly string[]): string[] {
  return argv.filter((arg, i) => {
    if (arg !== '--') return true;
    const previous = argv[i - 1];
    const name = previous?.startsWith('--') && !previous.includes('=') ? previous.slice(2) : undefined;
    return name !== undefined && name in OPTIONS && OPTIONS[name as keyof typeof OPTIONS].type === 'string';
  });
}

/** parseArgs' message, without the hint about positionals that starts with '-' (this CLI takes none such). */
function usageMessage(error: Error & { code?: string }): string {
  const message = firstLine(error.message);
  if (error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return message.replace(/\. To specify a positional argument.*$/, '');
  // `--limit-pages -1`: parseArgs' first line only says "argument is ambiguous"; the fix is in its second.
  const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message)?.[1];
  if (ambiguous) return `${ambiguous} is followed by a value that starts with "-": write it as ${ambiguous}=<value>, or give the value that was forgotten`;
  return message;
}

function parseLimitPages(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // Digits only: Number() also read `1e3`, `0x10` and ` 2` as page counts.
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--limit-pages must be an integer >= 1, got "${text}"`);
  return n;
}

async function destinationOf(flags: Flags, env: ReturnType<typeof loadEnv>): Promise<{ path: string; dataset: string }> {
  // show reads the config only for its destination, and only when one is there: it needs no credentials.
  let config: PipelineConfig | undefined;
  if (flags.config !== undefined || existsSync(resolve(DEFAULT_CONFIG_FILE))) config = (await loadPipelineConfig(flags.config, env)).config;
  return {
    path: flags.duckdb ?? config?.destination?.path ?? DEFAULTS.path,
    dataset: flags.dataset ?? config?.destination?.dataset ?? DEFAULTS.dataset,
  };
}

async function runCommand(flags: Flags, signals: CliSignals): Promise<number> {
  const limitPages = parseLimitPages(flags['limit-pages']);
  if (flags.refresh && limitPages !== undefined) {
    throw new UsageError('--refresh with --limit-pages would replace the full load of every resource the run loads with a sample: drop --limit-pages to refresh, or sample into another file (--duckdb sample.duckdb)');
  }
  const only = flags.resources !== undefined ? checkResourceNames(flags.resources.split(',').map((s) => s.trim()).filter(Boolean)) : undefined;
  if (only?.length === 0) throw new UsageError('--resources needs at least one resource name');
  // --json: stdout holds the document alone. What else writes there during the run (a config module's or a map
  // step's console.log) goes to stderr, or `| jq` failed on it and the document was no longer stdout's only line.
  if (flags.json) process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
  const display = createProgressDisplay(process.stderr);
  // The --verbose lines' arrow, as the terminal can show it (terminal.ts): read once, not per request.
  const arrow = glyphsFor(process.env).arrow;
  const controller = new AbortController();
  // Set by the run's 'committing' snapshot, which comes right after its last check of the signal. A signal after it
  // lets the commit finish (stopping between resources would leave some loaded): said at once, or Ctrl-C seemed
  // ignored until the run ended with exit 0.
  let committing = false;
  // What a second signal's FAILED document says: the run's load id, the resources whose commit had finished, and the
  // unfinished run before it whose lock it took over (its exit releases that lock: said now or never).
  let loadId: string | undefined;
  let interruptedRun: InterruptedRun | undefined;
  const committed: string[] = [];
  runSoFar = () => ({ committed, loadId, interruptedRun });
  const abort = (signal: NodeJS.Signals) => controller.abort(new AbortedError(`Interrupted (${signal})`));
  // Caught from the process's start (cli-signals.ts): one that came while the modules or the config loaded stops the
  // run before it starts. Where Node is PID 1 (a container without an init, which the kernel spares a signal's
  // default action) a SIGTERM then was lost: the run went on and loaded, and `docker stop` killed it 10 s later.
  if (signals.received) abort(signals.received);
  signals.onFirst = (signal) => {
    if (committing) display.log(`snapengage-pipeline: ${signal} during the commit: finishing it first, so that no resource is left half loaded`);
    abort(signal);
  };
  // A second signal stops at once, as the user asks; it used to kill the process with no line and no document.
  signals.onAgain = (signal) => {
    display.finish();
    const stopped = committing
      ? `${signal} again during the commit: stopped before it finished; ${committed.length > 0 ? `committed before it: ${committed.join(', ')}` : 'no resource was committed yet'} (the one being committed is rolled back when the file is next opened)`
      : `${signal} again: stopped at once; nothing of this run was committed`;
    const exitCode = signalExitCode(signal);
    reportFailure(withCommitted(new AbortedError(stopped), committed, loadId, interruptedRun), stopped, exitCode);
    exitOnceWritten(exitCode);
  };
  try {
    const env = loadEnv();
    const noConfig = flags.config === undefined && !existsSync(resolve(DEFAULT_CONFIG_FILE));
    const { runPipeline } = await import('./run.js');
    const config: PipelineConfig =
      noConfig && only
        ? { resources: Object.fromEntries(only.map((n) => [n, true])) }
        : (await unlessAborted(loadPipelineConfig(flags.config, env), controller.signal, cancelledBeforeStart)).config;
    // --config of a project run from elsewhere (cron's HOME): say where .env and the file are read from.
    const project = flags.config === undefined ? undefined : otherProject(flags.config);
    if (project !== undefined) {
      rememberConfigProject(env, project);
      // Not before a run refused anyway (a missing variable says the same of .env, in its one line).
      const elsewhere = flags.duckdb === undefined && planOrUndefined(config, env, only) ? newFileElsewhereNote(project, config.destination?.path ?? DEFAULTS.path) : undefined;
      if (elsewhere) process.stderr.write(`snapengage-pipeline: note: ${printed(elsewhere)}\n`);
    }

    // A signal while the modules or the config loaded: said as such, not as whatever the plan would refuse.
    if (controller.signal.aborted) throw cancelledBeforeStart();
    const plan = planOrUndefined(config, env, only);
    const configFile = noConfig ? null : flags.config ?? DEFAULT_CONFIG_FILE;
    const note = plan && localRateLimitNote(config, plan, configFile);
    if (note) process.stderr.write(`snapengage-pipeline: note: ${printed(note)}\n`);
    if (flags.verbose && plan?.duckdbSettingsNote) process.stderr.write(`snapengage-pipeline: note: ${plan.duckdbSettingsNote}\n`);
    // Useful from code (a test, a dry run); from the CLI the load info said LOADED of data that was gone at exit.
    if ((flags.duckdb ?? config.destination?.path) === ':memory:') {
      process.stderr.write(`snapengage-pipeline: note: ${flags.duckdb ? '--duckdb' : 'destination.path'} :memory: keeps nothing: the data and the incremental state are gone when this command exits (a dry run); pass a file path to keep them\n`);
    }

    const info = await runPipeline(config, {
      env,
      signal: controller.signal,
      resources: only,
      limitPages,
      refresh: flags.refresh === true,
      destination: { path: flags.duckdb, dataset: flags.dataset },
      progress: (snapshot) => {
        loadId = snapshot.loadId;
        interruptedRun = snapshot.interruptedRun;
        if (snapshot.phase === 'committing') committing = true;
        display.update(snapshot);
      },
      onRequest: flags.verbose ? (event) => display.log(terminalText(formatRequest(event, arrow))) : undefined,
      onLoadStep: (step) => {
        if (step.step === 'commit') committed.push(step.resource);
        if (flags.verbose) display.log(terminalText(formatLoadStep(step)));
      },
      collectGarbageBeforeCommit: true,
      // The client warns on every retry; worth seeing only while debugging.
      warn: flags.verbose ? (message) => display.log(`warning: ${printed(message)}`) : undefined,
      // Waiting for another program to close the file always shows: otherwise the run just seems to hang. Masked: it
      // names the file, and a credential pasted into --duckdb went to cron's log. Prefixed like the CLI's other notes, so
      // that in cron's mail or a shared log it reads as this program's line.
      onLockWait: (message) => display.log(`snapengage-pipeline: ${printed(message)}`),
    });
    display.finish();
    loadCommitted = true;
    // Masked as the error line is: the load info names the file, and a credential pasted into --duckdb went to cron's log.
    const mask = secretMask();
    if (!outcomeWritten) writeStdout(`${flags.json ? terminalJson(documentLine(loadedDocument(info), mask)) : terminalText(mask(info.toString()))}\n`);
    outcomeWritten = true;
    // On stderr, which cron mails and a scheduler's log keeps, beside the run's other notes: nothing else would say it
    // until the next run failed on the full disk. Exit 0 all the same: the load is committed, a rerun has nothing to add.
    const unfolded = info.notes.checkpointFailed;
    if (unfolded) process.stderr.write(`snapengage-pipeline: warning: ${printed(unfolded.message)}\n`);
    const after = plan && localRateLimitAfterNote(config, plan, info.resources, configFile);
    if (after) process.stderr.write(`snapengage-pipeline: note: ${printed(after)}\n`);
    return 0;
  } finally {
    display.finish();
  }
}

/** The run's plan, or undefined when it cannot be made (the run then reports why, in one line, and notes before it are noise). */
function planOrUndefined(config: PipelineConfig, env: ReturnType<typeof loadEnv>, only: ReturnType<typeof checkResourceNames> | undefined): Plan | undefined {
  try {
    return planPipeline(config, env, only);
  } catch {
    return undefined;
  }
}

async function main(argv: string[], signals: CliSignals): Promise<number> {
  // Before the flags are read: a flag parseArgs refuses (exit 2) is reported as JSON too when --json was asked for.
  // `--json=true` too, which parseArgs refuses (a boolean takes no value). With any command: a script that passes
  // --json reads stdout as JSON, and `show --json` or a mistyped command is refused as a document too.
  jsonOutput = argv.some((arg) => arg === '--json' || arg.startsWith('--json='));
  const { command, flags } = parse(argv);
  jsonOutput = flags.json === true;
  refreshRun = flags.refresh === true;
  // Refused before a signal is looked at: the refusal follows from the arguments alone, and with --json its FAILED
  // document is promised whatever the command. Released first, an early SIGTERM ended these with 143 and no document.
  if (!flags.help && !flags.version) refuseBadCommand(command, flags);
  // Other commands do not stop on a signal: it ends them as it would without a handler (--help and --version too,
  // with --json or not: they are not a run, and print text).
  if (command !== 'run' || flags.help || flags.version) signals.release();
  if (flags.version) {
    process.stdout.write(`${LOADER_VERSION}\n`);
    return 0;
  }
  if (flags.help || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (command === 'run') return runCommand(flags, signals);
  if (command === 'show') {
    const env = loadEnv();
    const { showDataset } = await import('./show.js');
    const configProject = flags.config === undefined || flags.duckdb !== undefined ? undefined : otherProject(flags.config);
    process.stdout.write(`${printed(await showDataset({ ...(await destinationOf(flags, env)), configProject }))}\n`);
    return 0;
  }
  throw new Error(`unreachable: command ${String(command)} passed refuseBadCommand`);
}

/** stdout's own write, kept before `run --json` sends other writes to stderr (runCommand). */
const writeStdout: (text: string, done?: (error?: Error | null) => void) => boolean = process.stdout.write.bind(process.stdout);
/** Set once the outcome (load info or failure) is written: there is one per process. */
let outcomeWritten = false;
/** Set once a run has committed: an output failure after it must not read as "nothing was loaded". */
let loadCommitted = false;
/** `run --json`: a failure is also written to stdout, as a FAILED document (run-document.ts). */
let jsonOutput = false;
/** `run --refresh`: a failed run's committed resources were refreshed (interruptedRunNote). */
let refreshRun = false;
const startedAt = new Date();
/** The run's progress so far, for the FAILED document of an uncaught error (set once `run` starts). */
let runSoFar: (() => { committed: readonly string[]; loadId: string | undefined; interruptedRun: InterruptedRun | undefined }) | undefined;

// stdout on a full disk (cron's `> run.log`) or closed early: one line, not Node's stack trace for an unhandled
// 'error' event. A reader that went away (`| head -1`) is not an error; stderr failing has no one to tell.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') return;
  const committed = loadCommitted ? '; the load itself was committed (see `snapengage-pipeline show`)' : '';
  // Free space is the fix for a full disk only (EIO from a terminal that went away, EACCES, … are not that).
  const fix = error.code === 'ENOSPC' || error.code === 'EDQUOT' ? 'free space where it goes or redirect it elsewhere' : 'redirect it elsewhere';
  process.stderr.write(`snapengage-pipeline: cannot write to standard output (${firstLine(error.message)}): ${fix}${committed}\n`);
  // A failure's own code stays (`run --json` writes its FAILED document here): a usage error is still 2, a SIGTERM 143.
  process.exitCode = process.exitCode || 1;
});
process.stderr.on('error', () => undefined);

/** The one error line on stderr and, with --json, the FAILED document on stdout. */
function reportFailure(error: unknown, message: string, exitCode: number): void {
  // Once: a run that ends while a second signal's document is being flushed adds no other.
  if (outcomeWritten) return;
  outcomeWritten = true;
  // A run that failed after taking over a killed run's lock releases it: said here, or never (LoadInfo says it on success).
  const dead = error instanceof PipelineError ? error.interruptedRun : undefined;
  if (dead) process.stderr.write(`snapengage-pipeline: note: ${printed(interruptedRunNote(dead, refreshRun ? (error as PipelineError).committedResources : []))}\n`);
  process.stderr.write(`snapengage-pipeline: ${terminalText(message)}\n`);
  process.exitCode = exitCode;
  if (jsonOutput) writeStdout(`${terminalJson(documentLine(failedDocument({ error, message, exitCode, startedAt }), secretMask()))}\n`);
}

/** Ends the process once stdout and stderr have taken what was written (pipes are asynchronous on macOS). */
function exitOnceWritten(exitCode: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(exitCode);
  };
  writeStdout('', done);
  process.stderr.write('', done);
  // A stream that never drains (a reader that stopped reading) does not keep the process alive.
  setTimeout(() => process.exit(exitCode), 2000).unref();
}

const cancelledBeforeStart = () => new AbortedError('Run cancelled before it started');

/** Runs the command, reports its outcome and sets the exit code; `signals` were caught by the entry (cli.ts). */
export function runCli(argv: string[], signals: CliSignals): void {
  maskProcessWarnings(secretMask);
  onUncaughtError(crashed);
  main(argv, signals).then(
    (code) => {
      // A failed write to stdout (its 'error' handler) already set 1.
      process.exitCode = process.exitCode || code;
      outcomeReported(signals);
    },
    (error: unknown) => {
      reportError(error, signals.received);
      outcomeReported(signals);
      // A config still loading (its timers, its sockets) would keep the process alive after the signal's line.
      if (error instanceof AbortedError && signals.received) exitOnceWritten(process.exitCode as number);
    },
  );
}

/**
 * An error no code caught (cli-crash.ts): the run's failure, masked, with what the run had committed; or, once the
 * outcome is out, one masked line. Then the process ends, as Node would have ended it (exit 1).
 */
function crashed(error: unknown): void {
  // Masked only: reportFailure escapes the line where it prints it, and the FAILED document keeps the text as it is.
  const line = `unexpected error: ${withoutSecrets(firstLine(error instanceof Error ? error.message : String(error)))}`;
  if (outcomeWritten) process.stderr.write(`snapengage-pipeline: ${terminalText(line)} (after the run's outcome)\n`);
  else {
    const run = runSoFar?.();
    const failure = run ? withCommitted(Object.assign(new PipelineError(line), { name: error instanceof Error ? error.name : 'Error' }), run.committed, run.loadId, run.interruptedRun) : error;
    reportFailure(failure, line, 1);
  }
  if (process.env.SNAPENGAGE_DEBUG) process.stderr.write(`${printed(inspect(error))}\n`);
  exitOnceWritten(1);
}

/** The outcome is out: a signal now only ends the process, with the exit code already set. */
function outcomeReported(signals: CliSignals): void {
  signals.onFirst = () => process.exit(process.exitCode ?? 0);
  signals.onAgain = signals.onFirst;
}

function reportError(error: unknown, interruptedBy: NodeJS.Signals | undefined): void {
  if (error instanceof AbortedError) {
    // The signal named: in a scheduler's log, SIGTERM is a stop or a timeout (systemd, docker stop, a CI cancel).
    // 128 + the signal's number, as shells report a process the signal ended: 130 for SIGINT, 143 for SIGTERM.
    reportFailure(error, `${error.message}${interruptedBy ? ` (${interruptedBy})` : ''}; nothing of this run was committed`, interruptedBy ? signalExitCode(interruptedBy) : 130);
  } else if (error instanceof PipelineError) {
    reportFailure(error, withoutSecrets(error.message), error.exitCode);
  } else {
    reportFailure(error, `unexpected error: ${withoutSecrets(firstLine(error instanceof Error ? error.message : String(error)))}`, 1);
    // The stack for a bug report, masked as the line above: it quotes the same message (and a cause's).
    if (process.env.SNAPENGAGE_DEBUG) process.stderr.write(`${printed(inspect(error))}\n`);
  }
}
