#!/usr/bin/env node
// `snapengage-sandbox`: starts the emulator on 127.0.0.1 and prints, on stdout and nothing else, the env
// lines a pipeline needs (KEY=value, one per line). Everything else goes to stderr. Bad flags exit 2.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SandboxOptionError, startSandbox, type Sandbox, type SandboxOptions } from './index.js';
import type { ChatBooleans, EndDay, LastPageLink } from './options.js';

const USAGE = `Usage: snapengage-sandbox [--port 0] [--seed 42] [--cases 5000] [--widgets 3] [--days 90] [--now TIME]
                          [--faults SPEC] [--last-page-link absent|empty|null] [--trailing-empty-page]
                          [--chat-booleans doc|string|boolean] [--quirks] [--end-day inclusive|exclusive]

  --port     TCP port on 127.0.0.1 (0 = any free port)
  --seed     seed of the generated data, credentials and faults
  --cases    number of generated cases over all widgets, 0 to 100000000 (computed on demand: start-up time and
             memory do not grow with it)
  --widgets  number of widgets, 1 to 5000
  --days     days of data, ending today (UTC), 1 to 3650
  --now      when the data ends instead of now: 2025-06-30 (00:00 UTC) or 2025-06-30T18:00:00Z (a zone is required);
             with --seed, the same data on any day (SNAPENGAGE_START_DATE follows it)
  --faults   e.g. 429=0.1,500=0.05,reset=0.02,truncate=0.02,slow=0.01,rps=20,slowMs=2000[,retryAfter=1|none]
             [,latencyMs=100,jitterMs=50,bodyKBps=500] (a real network: round trip before headers, body speed)
  --last-page-link       the Logs API's last page leaves linkToNextSetOfResults out (absent), sends "" or null
  --trailing-empty-page  a full page always links a next one; a sequence may end with a page of no cases
  --chat-booleans        Visitor Chat booleans as in the doc (availability "true"/"false", agentTyping true/false),
                         all strings, or all JSON booleans
  --quirks               cases take the other readings of what the docs leave unknown (created_at_milliseconds
                         as 0-999, extra and unlisted keys, other translations and javascript_variables shapes)
  --end-day              the Logs API's end date is inclusive (default) or exclusive (start = end: no cases)
  -h, --help   -v, -V, --version

Prints SNAPENGAGE_* env lines on stdout, then serves until SIGINT/SIGTERM.
`;

function fail(message: string): never {
  process.stderr.write(`snapengage-sandbox: ${message} (see --help)\n`);
  process.exit(2);
}

function integerFlag(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) fail(`--${name} must be a non-negative integer, got "${text}"`);
  // Past 2^53 Number() rounds, and the range error would quote a number the user never typed.
  if (!Number.isSafeInteger(Number(text))) fail(`--${name} must be at most ${Number.MAX_SAFE_INTEGER}, got ${text}`);
  return Number(text);
}

/**
 * `--now`: a UTC day or a date-time with its zone. One without a zone is refused, not read in the machine's zone:
 * the data would end at another instant on another machine, which is what the flag is there to avoid.
 */
function nowFlag(text: string | undefined): Date | undefined {
  if (text === undefined) return undefined;
  const form = /^\d{4}-\d{2}-\d{2}(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,3})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d))?$/;
  const hint = 'give a UTC day (2025-06-30) or a date-time with its zone (2025-06-30T18:00:00Z)';
  if (!form.test(text)) fail(`--now: ${hint}, got "${text}"`);
  const date = new Date(text);
  // Date rolls 2025-02-30 over to March 2nd: a day the calendar lacks is refused instead.
  const day = new Date(text.slice(0, 10));
  if (Number.isNaN(date.getTime()) || Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== text.slice(0, 10)) fail(`--now: ${text} is not a day of the calendar; ${hint}`);
  return date;
}

function readOptions(argv: string[]): SandboxOptions {
  let values: Record<string, string | boolean | undefined>;
  // The option named V exists only to read -V: parseArgs would take `--V` for it too.
  const end = argv.indexOf('--');
  if ((end === -1 ? argv : argv.slice(0, end)).some((arg) => arg === '--V' || arg.startsWith('--V='))) fail(`Unknown option '--V' (the version is -V or --version)`);
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string' },
        seed: { type: 'string' },
        cases: { type: 'string' },
        widgets: { type: 'string' },
        days: { type: 'string' },
        now: { type: 'string' },
        faults: { type: 'string' },
        'last-page-link': { type: 'string' },
        'trailing-empty-page': { type: 'boolean' },
        'chat-booleans': { type: 'string' },
        quirks: { type: 'boolean' },
        'end-day': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        // -V as well: parseArgs takes one short letter per option, and an option named V is what -V reads as.
        V: { type: 'boolean' },
      },
    }));
  } catch (caught) {
    const message = (caught as Error).message.split('\n')[0] ?? 'bad arguments';
    // `--cases --port 0`: parseArgs' first line only says "argument is ambiguous"; the fix is in its second.
    const ambiguous = /^Option '(--[\w-]+)' argument is ambiguous/.exec(message)?.[1];
    fail(ambiguous ? `${ambiguous} is followed by a value that starts with "-": write it as ${ambiguous}=<value>, or give the value that was forgotten` : message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values.version || values.V) {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${pkg.version}\n`);
    process.exit(0);
  }
  const text = (name: string): string | undefined => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const options: SandboxOptions = {};
  const port = integerFlag('port', text('port'));
  const seed = integerFlag('seed', text('seed'));
  const cases = integerFlag('cases', text('cases'));
  const widgets = integerFlag('widgets', text('widgets'));
  const days = integerFlag('days', text('days'));
  if (port !== undefined) options.port = port;
  if (seed !== undefined) options.seed = seed;
  if (cases !== undefined) options.cases = cases;
  if (widgets !== undefined) options.widgets = widgets;
  if (days !== undefined) options.days = days;
  const now = nowFlag(text('now'));
  if (now !== undefined) options.now = now;
  const faults = text('faults');
  if (faults !== undefined) options.faults = faults;
  // Checked by startSandbox: its message names the option (lastPageLink), which asFlags turns into the flag.
  const lastPageLink = text('last-page-link');
  if (lastPageLink !== undefined) options.lastPageLink = lastPageLink as LastPageLink;
  if (values['trailing-empty-page'] === true) options.trailingEmptyPage = true;
  if (values.quirks === true) options.quirks = true;
  const endDay = text('end-day');
  if (endDay !== undefined) options.endDay = endDay as EndDay;
  const chatBooleans = text('chat-booleans');
  if (chatBooleans !== undefined) options.chatBooleans = chatBooleans as ChatBooleans;
  return options;
}

/** The option's message in the CLI's words: `lastPageLink must…` becomes `--last-page-link must…`, `faults: …` `--faults: …`. */
function asFlags(caught: SandboxOptionError): string {
  const flag = (name: string): string => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const option = caught.option;
  const message = option && /^[ :]/.test(caught.message.slice(option.length)) && caught.message.startsWith(option) ? `${flag(option)}${caught.message.slice(option.length)}` : caught.message;
  // "use port 0" is the library's advice; on the command line it is the flag.
  return option === 'port' ? message.replace(/\bport 0\b/, '--port 0') : message;
}

async function main(): Promise<void> {
  const options = readOptions(process.argv.slice(2));
  // Handlers go in before anything is printed: a supervisor may signal as soon as it reads the env lines.
  let sandbox: Sandbox | undefined;
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (!sandbox) process.exit(0);
    void sandbox.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // Its reader gone (`snapengage-sandbox | head -1`, a supervisor that died): nobody gets the credentials to use it,
  // and the write's EPIPE ended the process with a stack trace. One line, then stop.
  process.stdout.on('error', (caught: NodeJS.ErrnoException) => {
    process.stderr.write(`snapengage-sandbox: cannot write its SNAPENGAGE_ lines: stdout was closed (${caught.code ?? caught.message}); stopping\n`);
    process.exitCode = 1;
    if (stopping) return;
    stopping = true;
    void (sandbox ? sandbox.close() : Promise.resolve()).then(() => process.exit(1));
  });
  try {
    sandbox = await startSandbox(options);
  } catch (caught) {
    if (caught instanceof SandboxOptionError) fail(asFlags(caught));
    process.stderr.write(`snapengage-sandbox: cannot start: ${(caught as Error).message}\n`);
    process.exit(1);
  }
  if (stopping) {
    await sandbox.close();
    process.exit(0);
  }
  const url = sandbox.url;
  // "serving" once the lines are out: a failed write ends the process instead (the 'error' handler above).
  process.stdout.write(Object.entries(sandbox.env).map(([name, value]) => `${name}=${value}\n`).join(''), (caught) => {
    if (!caught) process.stderr.write(`snapengage-sandbox: serving ${url} (admin API at ${url}/__sandbox/); Ctrl-C to stop\n`);
  });
}

void main();
