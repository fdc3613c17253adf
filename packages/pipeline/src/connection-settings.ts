// Checks of the connection (the config's `connection` and SNAPENGAGE_BASE_URL) that need no request, done while
// planning (planPipeline promises every error a run would throw without a request). The client checked its options only when the run created it, after planning:
// planPipeline passed `timeoutMs: -1`, and a base URL given as a URL object (`new URL(…)`) failed there with the
// client's "trim is not a function"; a wrong type was echoed as "[object Object]".
import { createSnapEngageClient, defaultBaseUrl, hideUrlCredentials, redactSecrets, securitySchemes, SnapEngageError } from 'snapengage-client';
import type { PipelineConfig } from './config.js';
import { ConfigError, firstLine } from './errors.js';
import { shownValue } from './shown-value.js';

const NUMBER_OPTIONS = ['timeoutMs', 'maxRetries', 'retryBaseDelayMs', 'maxResponseBytes'] as const;
type NumberOption = (typeof NUMBER_OPTIONS)[number];

/** The connection numbers a config sets, as the client's options (an absent or null one: the client's default). */
export function clientNumberOptions(connection: Partial<Record<NumberOption, number | null | undefined>> | null | undefined): Partial<Record<NumberOption, number>> {
  return Object.fromEntries(NUMBER_OPTIONS.flatMap((name) => (connection?.[name] != null ? [[name, connection[name]]] : [])));
}

/** Refuses a connection option of the wrong type, naming it (before the base URL is read: a URL object parsed as one). */
function checkConnectionTypes(connection: PipelineConfig['connection'], credentials: Record<string, string>): void {
  const given: unknown = connection?.baseUrl;
  if (given !== undefined && given !== null && typeof given !== 'string') {
    const fix = given instanceof URL ? ': pass its text (url.href)' : ', such as "https://www.snapengage.com"';
    // A URL object's JSON is its whole href: shown without user, password, query and fragment, as a string's parts
    // are never echoed either (they hold credentials); in anything else, the environment's keys are masked.
    const shown = given instanceof URL ? shownValue(`${given.origin}${given.pathname}`) : redactSecrets(shownValue(given), Object.values(credentials));
    throw new ConfigError(`connection.baseUrl must be a string${fix}, got ${shown}`);
  }
  for (const name of NUMBER_OPTIONS) {
    const value = connection?.[name];
    if (value !== undefined && value !== null && typeof value !== 'number') throw new ConfigError(`connection.${name} must be a number, got ${shownValue(value)}`);
  }
}

/** Whatever the client refuses of the base URL (checked as a URL before) and the numbers (their ranges). */
function checkClientOptions(connection: PipelineConfig['connection'], baseUrl: string, credentials: Record<string, string>): void {
  // The client's own rules (ranges, the API's origin over plain http or with a path), by making one: no request is sent.
  try {
    createSnapEngageClient({
      baseUrl,
      ...clientNumberOptions(connection),
    });
  } catch (error) {
    throw connectionSettingsError(error, credentials);
  }
}

/**
 * The client's option errors (a base URL the API's paths would be doubled under, a number out of range) as one config
 * line; anything else as it is. The client echoes the base URL it refuses, and is not always given the credentials to
 * mask: a key pasted into its path is masked, and the client's error then not kept as the cause (its message holds it).
 */
export function connectionSettingsError(error: unknown, credentials: Record<string, string>): unknown {
  if (!(error instanceof SnapEngageError && error.kind === 'config')) return error;
  const said = firstLine(error.message);
  const masked = redactSecrets(said, Object.values(credentials));
  return new ConfigError(`connection settings: ${masked}`, masked === said ? { cause: error } : undefined);
}

/**
 * The base URL a run uses (connection.baseUrl, else SNAPENGAGE_BASE_URL, else the API's), checked: its type, a URL,
 * http(s), no credentials, no query; then the client's own rules and the connection numbers. `credentials` are masked
 * in what is echoed of it.
 */
export function checkedBaseUrl(connection: PipelineConfig['connection'], fromEnv: string | undefined, credentials: Record<string, string>): string {
  checkConnectionTypes(connection, credentials);
  const baseUrl = connection?.baseUrl ?? fromEnv ?? defaultBaseUrl;
  // Two .env lines joined into one carry a key: `…com SNAPENGAGE_API_TOKEN=…` (pasted), or `…comSNAPENGAGE_API_TOKEN=…`
  // (a file without a final newline, then a line appended), which parses as a URL whose host holds the key, so every
  // request's error (and _pipeline_loads.error) would name it. Refused either way, echoed up to the second assignment.
  const joined = typeof baseUrl === 'string' ? joinedAssignment(baseUrl) : null;
  let url: URL;
  try {
    if (joined) throw new Error('two assignments');
    url = new URL(baseUrl);
  } catch {
    // Echoed without a user:password part (the password may hold an `@`, so up to the last one), with or without
    // the slashes after the scheme, and without a query or fragment: those are credentials.
    // Also cut at a second assignment (see above).
    const shown = typeof baseUrl === 'string' ? redactSecrets(hideUrlCredentials(joined ? baseUrl.slice(0, joined.index) : baseUrl), Object.values(credentials)) : baseUrl;
    const cut = joined ? ', then another variable (each goes on its own line in .env)' : '';
    throw new ConfigError(`SNAPENGAGE_BASE_URL (or connection.baseUrl) is not a URL: ${shownValue(shown)}${cut}; use e.g. ${defaultBaseUrl}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`SNAPENGAGE_BASE_URL (or connection.baseUrl) must be an http(s) URL, got one with ${url.protocol}; use e.g. ${defaultBaseUrl}`);
  }
  if (url.username !== '' || url.password !== '') {
    // Not echoed: the user part is a credential.
    throw new ConfigError(`SNAPENGAGE_BASE_URL (or connection.baseUrl) must not carry a user or password; credentials go in ${orList(Object.values(securitySchemes).map((s) => s.env))}`);
  }
  if (url.search !== '' || url.hash !== '') {
    // Not echoed either (a query may hold a key). The client refused it too, but as "connection settings: baseUrl",
    // naming neither the variable nor the fix.
    throw new ConfigError(`SNAPENGAGE_BASE_URL (or connection.baseUrl) must not carry a query (?…) or a fragment (#…); use only the origin, e.g. ${defaultBaseUrl}`);
  }
  checkClientOptions(connection, baseUrl, credentials);
  return baseUrl;
}

/** A second `NAME=` in a value: two .env lines joined into one, pasted (`… NAME=…`) or after a file without a final newline (`…SNAPENGAGE_…=…`). */
export function joinedAssignment(value: string): RegExpExecArray | null {
  return /\s+[A-Za-z_][A-Za-z0-9_]*=/.exec(value) ?? /SNAPENGAGE_[A-Z0-9_]*=/.exec(value);
}

/** `A, B or C`. */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
