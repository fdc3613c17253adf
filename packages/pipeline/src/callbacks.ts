// The observer callbacks of runPipeline (progress, onRequest, onLoadStep, onLockWait, warn) are the app's code, called
// from inside the run. A throw there must not fail the run, or worse: onLoadStep throwing between two resources'
// commits left some committed and the rest failed, and progress throwing at the end rejected a run whose commit had
// gone through (as a "DuckDB error"), so a scheduler would retry a load that was done. So each one is guarded: its
// throw (or the rejection of the promise an async callback returns, which would otherwise be unhandled and end the
// process) is reported once per callback, through `warn` when the app gave one, else as a process warning.
import { firstLine } from './errors.js';

export interface ObserverCallbacks {
  progress?: ((...args: never[]) => void) | undefined;
  onRequest?: ((...args: never[]) => void) | undefined;
  onLoadStep?: ((...args: never[]) => void) | undefined;
  onLockWait?: ((...args: never[]) => void) | undefined;
  warn?: ((message: string) => void) | undefined;
}

/** Code of the process warning emitted when a callback throws and no `warn` callback was given. */
const CALLBACK_THREW = 'SNAPENGAGE_CALLBACK_THREW';

export function guardCallbacks<T extends ObserverCallbacks>(options: T): T {
  const reported = new Set<string>();
  const report = (name: string, error: unknown) => {
    if (reported.has(name)) return;
    reported.add(name);
    const why = firstLine(error instanceof Error ? error.message : String(error));
    const message = `the ${name} callback threw (${why}); the run went on without it (later throws of it are not reported)`;
    try {
      if (name !== 'warn' && options.warn) return options.warn(message);
    } catch {
      // warn threw too: fall back to the process warning.
    }
    process.emitWarning(message, { code: CALLBACK_THREW });
  };
  const guard = <F extends ((...args: never[]) => void) | undefined>(name: string, callback: F): F => {
    if (!callback) return callback;
    return ((...args: never[]) => {
      try {
        const result: unknown = callback(...args);
        if (result instanceof Promise) result.catch((error: unknown) => report(name, error));
      } catch (error) {
        report(name, error);
      }
    }) as F;
  };
  return {
    ...options,
    progress: guard('progress', options.progress),
    onRequest: guard('onRequest', options.onRequest),
    onLoadStep: guard('onLoadStep', options.onLoadStep),
    onLockWait: guard('onLockWait', options.onLockWait),
    warn: guard('warn', options.warn),
  };
}
