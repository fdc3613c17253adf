// runPipeline's options as an app's JavaScript may pass them. TypeScript checks their types, plain JavaScript does
// not, and a wrong one failed deep inside the run with words about something else: the AbortController itself as the
// signal (an easy slip) was "DuckDB error on …: parent.addEventListener is not a function", a resources string
// "Cannot read properties of undefined (reading 'parent')". Refused here, before any request or file, with a
// TypeError naming the option, as openDataset() refuses its arguments. null counts as not given, as undefined does.
import type { RunOptions } from './run.js';
import { shownValue } from './shown-value.js';

const FUNCTIONS = ['progress', 'onRequest', 'onLoadStep', 'onLockWait', 'warn', 'fetch'] as const;

export function checkRunOptions(given: unknown): RunOptions {
  if (given === undefined) return {};
  if (given === null || typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`runPipeline(): options must be an object such as { signal, progress }, got ${shownValue(given)}`);
  }
  const options = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== null)) as Record<string, unknown>;
  // Callbacks may be methods of a class (on its prototype, which entries() skips): they were called before this check.
  for (const name of FUNCTIONS) {
    const value = (given as Record<string, unknown>)[name];
    if (!(name in options) && value !== undefined && value !== null) options[name] = value;
  }
  const { signal, env, resources } = options;
  if (signal !== undefined && !isAbortSignal(signal)) {
    const controller = typeof (signal as { abort?: unknown }).abort === 'function' && isAbortSignal((signal as { signal?: unknown }).signal);
    throw new TypeError(`runPipeline(): options.signal must be an AbortSignal${controller ? ': pass controller.signal, not the AbortController' : `, got ${shownValue(signal)}`}`);
  }
  for (const name of FUNCTIONS) {
    const value = options[name];
    if (value !== undefined && typeof value !== 'function') throw new TypeError(`runPipeline(): options.${name} must be a function, got ${shownValue(value)}`);
  }
  if (env !== undefined && typeof env !== 'object') {
    // Its type only: a string here is likely the .env file's text, API token and all.
    throw new TypeError(`runPipeline(): options.env must be an object of variables, such as process.env, got a ${typeof env}`);
  }
  if (env !== undefined) checkEnvValues(env as Record<string, unknown>);
  const { destination, refresh, collectGarbageBeforeCommit } = options;
  // Ignored before: a path given as `destination: 'mine.duckdb'` loaded snapengage.duckdb in the working directory.
  if (destination !== undefined && (typeof destination !== 'object' || Array.isArray(destination))) {
    const example = typeof destination === 'string' ? `{ path: ${JSON.stringify(destination)} }` : "{ path: 'snapengage.duckdb', dataset: 'snapengage_data' }";
    throw new TypeError(`runPipeline(): options.destination must be an object such as ${example}, got ${shownValue(destination)}`);
  }
  // Only `true` refreshes: `refresh: 'yes'` ran as a plain run.
  for (const [name, value] of [['refresh', refresh], ['collectGarbageBeforeCommit', collectGarbageBeforeCommit]] as const) {
    if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`runPipeline(): options.${name} must be true or false, got ${shownValue(value)}`);
  }
  if (resources !== undefined && !(Array.isArray(resources) && resources.every((name) => typeof name === 'string'))) {
    throw new TypeError(`runPipeline(): options.resources must be an array of resource names, such as ['logs', 'widgets'], got ${shownValue(resources)}`);
  }
  return options as RunOptions;
}

/**
 * The variables the loader reads are text, as in process.env: a number spread into it (`SNAPENGAGE_DUCKDB_THREADS: 2`)
 * failed as "value.trim is not a function". Named by their type only: the value may be a credential.
 */
function checkEnvValues(env: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(env)) {
    // null is not given, as for every option (a null proxy variable was read as unset before this check).
    if (value === undefined || value === null || typeof value === 'string' || !/^SNAPENGAGE_|^(?:https?|no)_proxy$/i.test(name)) continue;
    throw new TypeError(`runPipeline(): options.env.${name} must be a string (variables are text: String(value)), got a ${typeof value}`);
  }
}

/** By shape, not instanceof: a signal of another realm or of a polyfill works with the client as well. */
function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as AbortSignal).aborted === 'boolean' && typeof (value as AbortSignal).addEventListener === 'function';
}

