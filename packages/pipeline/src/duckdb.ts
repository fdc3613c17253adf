// DuckDB's Node API, loaded with require(): the package is CommonJS, and an ESM `import` of it makes Node scan the
// source of every re-exported module for export names first (measured: 90 ms → 45 ms per process start, which is
// most of a rerun's fixed cost after Node itself). Only this module loads it (dataset-values.ts through duckdbApi).
import { requireHere } from './module-location.js';

type DuckDBApi = typeof import('@duckdb/node-api');
let api: DuckDBApi | undefined;

/**
 * The module, required on first use rather than when this file is imported: requiring it (~100 CommonJS files and
 * DuckDB's native library, 70–100 ms) is then paid by a command that opens a file, not by a run that stops at a
 * config error or a bad flag. Sync, as require() is: the callers are already about to open a file.
 */
export function duckdbApi(): DuckDBApi {
  if (api) return api;
  api = requireHere('@duckdb/node-api') as DuckDBApi;
  // @duckdb/node-api decodes every VARCHAR with `new TextDecoder()`, which takes a leading U+FEFF for a byte order
  // mark and drops it (stored '\uFEFFhi' read back as 'hi'). In a value it is data. The module looks its decoder up on
  // each call, so one that keeps it, set here, serves every read of this process. Checked by dataset-read.test.ts; a
  // version without this module just keeps its own behaviour.
  try {
    const accessors = requireHere('@duckdb/node-api/lib/vectors/dataAccessors.js') as { textDecoder?: TextDecoder };
    if (accessors.textDecoder instanceof TextDecoder && !accessors.textDecoder.ignoreBOM) {
      accessors.textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
    }
  } catch {
    // not there in this version of @duckdb/node-api
  }
  return api;
}

/**
 * Requires DuckDB now. A run calls it before its destination's error mapping, so a missing or broken install fails
 * the run as the module's own error (as when it was required at import), not as "opening the destination: …".
 */
export function loadDuckDB(): void {
  duckdbApi();
}

/** Opens (or creates) a DuckDB database: DuckDBInstance.create of @duckdb/node-api. */
export function createDuckDBInstance(path: string, options: Record<string, string>): Promise<DuckDBInstance> {
  return duckdbApi().DuckDBInstance.create(path, options);
}
export const blobValue: DuckDBApi['blobValue'] = (bytes) => duckdbApi().blobValue(bytes);
/** The DuckDB release this loader writes with, as DuckDB names it ("v1.5.6"). */
export const duckdbVersion = (): string => duckdbApi().version();
export type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance;
export type { DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
