// What snapengage-pipeline accepts: its usage text, and the commands and flags it refuses from the arguments alone
// (before a signal is looked at, so that `--json` gets its FAILED document whatever came: cli-main.ts).
import { DEFAULT_CONFIG_FILE } from './config-loader.js';
import { UsageError } from './errors.js';
import { DEFAULTS, isResourceName } from './plan.js';

/** The flags these refusals read: show refuses a run's own; -v without a command was likely meant as the version. */
interface CommandFlags {
  verbose?: boolean | undefined;
  resources?: string | undefined;
  'limit-pages'?: string | undefined;
  json?: boolean | undefined;
  refresh?: boolean | undefined;
}

export const USAGE = `Usage:
  snapengage-pipeline run  [--resources logs,widgets] [--duckdb ${DEFAULTS.path}] [--dataset ${DEFAULTS.dataset}]
                           [--config ${DEFAULT_CONFIG_FILE}] [-v|--verbose] [--limit-pages N] [--refresh] [--json]
  snapengage-pipeline show [--duckdb ${DEFAULTS.path}] [--dataset ${DEFAULTS.dataset}] [--config ${DEFAULT_CONFIG_FILE}]
  snapengage-pipeline -h, --help | -V, --version

Options:
  --resources a,b   load only these resources (replaces the config's selection)
  --duckdb FILE     the DuckDB file (made by the first run); --dataset NAME: the schema in it
  --config FILE     a TypeScript or JavaScript config (default ${DEFAULT_CONFIG_FILE}, if it exists)
  -v, --verbose     every request, retry and load step on stderr (not the version: that is -V or --version)
  --limit-pages N   a sample of N pages per resource: rows are stored, incremental state is not advanced
  --refresh         reload the resources as if never loaded, replacing their tables and state at the commit
  --json            the load info (or the failure) as one JSON line on stdout

Credentials and ids come from SNAPENGAGE_* environment variables, also read from .env (the environment wins).
Without --config and without ${DEFAULT_CONFIG_FILE}, run loads every top-level resource whose variables are set.`;

export function unknownCommand(command: string, positionals: readonly string[] = []): string {
  // `dlt pipeline <name> show` or `… drop [resources]`, typed from habit by someone coming from dlt.
  const [, , verb, ...resources] = positionals;
  const list = resources.length > 0 && resources.every(isResourceName) ? resources.join(',') : '<name>';
  const dlt = command !== 'pipeline'
    ? ':'
    : verb === 'drop'
      // dlt drops first and loads later; here a refresh reloads and swaps the tables at its commit: no separate drop.
      ? `: dlt's \`dlt pipeline <name> drop\` is \`snapengage-pipeline run --refresh --resources ${list}\` here (\`npm start -- --refresh --resources ${list}\` in a project), with no pipeline name: it reloads them, replacing their tables at its commit (there is no separate drop);`
      : ": dlt's `dlt pipeline <name> show` is `snapengage-pipeline show` here (`npm run show` in a project), with no pipeline name;";
  return `Unknown command "${command}"${dlt} use run or show (see --help)`;
}

/** A missing or unknown command, or a flag show does not take. */
export function refuseBadCommand(command: string | undefined, flags: CommandFlags): void {
  if (command === 'run' || command === 'help') return;
  if (command === 'show') {
    if (flags.resources !== undefined || flags['limit-pages'] !== undefined || flags.json !== undefined || flags.refresh !== undefined) throw new UsageError('show takes only --duckdb, --dataset and --config');
    return;
  }
  const verbose = flags.verbose ? ' (-v is --verbose, for run; the version is -V or --version)' : '';
  throw new UsageError(command === undefined ? `Missing command: run or show${verbose}\n${USAGE}` : unknownCommand(command));
}
