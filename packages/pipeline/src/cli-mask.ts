// Masking of the CLI's output. Every known credential's value is masked in what the CLI prints (secretMask), and in
// what Node itself prints for the CLI's process, past the loader's own lines: its warnings (process.emitWarning, from
// a config module, a map step or a dependency) and the trace of an uncaught exception or an unhandled rejection (a
// config's timer that throws, a step's promise nobody awaited). Both quoted what they were given as it was, a
// credential included, and an uncaught error ended the run with Node's trace instead of the one error line (with
// --json, no FAILED document on stdout). So Node's own warning printer is handed a masked copy, and an uncaught error
// goes to the CLI's handler, which reports it as the run's failure, masked.
import { secretRedactor, securitySchemes } from 'snapengage-client';
import { loadEnv } from './env.js';
import { terminalText } from './terminal.js';

/**
 * The last line of defence for the one-line error: every known credential's value is masked, whatever put it there.
 * A config module's own error (`throw new Error(\`bad token ${token}\`)`), or a credential pasted into another
 * variable or option, was echoed as it was.
 */
export function withoutSecrets(text: string): string {
  return secretMask()(text);
}

/** A line (or lines) the CLI prints: withoutSecrets, then its terminal controls escaped (terminal.ts terminalText). */
export function printed(text: string): string {
  return terminalText(withoutSecrets(text));
}

/** withoutSecrets for many texts (each string of a JSON document), reading the environment and `.env` once. */
export function secretMask(): (text: string) => string {
  let env: Record<string, string | undefined> = process.env;
  try {
    env = loadEnv();
  } catch {
    // An unreadable .env: the process environment is all there is to mask.
  }
  // One redactor for all the texts: built per text, masking --json's windows of 4,000 widgets took 5 s.
  return secretRedactor(Object.values(securitySchemes).map((scheme) => env[scheme.env]));
}

/**
 * Node's warning printer is a 'warning' listener it installs at start (unless --no-warnings or NODE_NO_WARNINGS=1):
 * each one there now is kept, for its format and its flags (--trace-warnings, --redirect-warnings), and given a copy
 * of the warning with every known credential masked. `mask` is asked per warning: `.env` may be read meanwhile.
 */
export function maskProcessWarnings(mask: () => (text: string) => string): void {
  for (const print of process.listeners('warning')) {
    process.removeListener('warning', print);
    process.on('warning', (warning: Error) => print(maskedWarning(warning, mask())));
  }
}

function maskedWarning(warning: Error, mask: (text: string) => string): Error {
  const copy = new Error(mask(String(warning.message)));
  copy.name = warning.name;
  if (typeof warning.stack === 'string') copy.stack = mask(warning.stack);
  const { code, detail } = warning as Error & { code?: unknown; detail?: unknown };
  if (code !== undefined) Object.assign(copy, { code: typeof code === 'string' ? mask(code) : code });
  if (typeof detail === 'string') Object.assign(copy, { detail: mask(detail) });
  return copy;
}

/**
 * `handle` gets every error no code caught. Under Node's default --unhandled-rejections=throw an unhandled rejection
 * is raised as an uncaught exception when no 'unhandledRejection' listener is set, so this one listener sees both.
 * `handle` must end the process: after an uncaught error the run's state is unknown, so it is not carried on.
 */
export function onUncaughtError(handle: (error: unknown) => void): void {
  process.on('uncaughtException', (error) => handle(error));
}
