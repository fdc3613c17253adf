// DuckDB's Node API, loaded with require(): the package is CommonJS, and an ESM `import` of it makes Node scan the
// source of every re-exported module for export names first (measured: 90 ms → 45 ms per process start, which is
// most of a rerun's fixed cost after Node itself).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const duckdb = require('@duckdb/node-api') as typeof import('@duckdb/node-api');

// @duckdb/node-api decodes every VARCHAR with `new TextDecoder()`, which takes a leading U+FEFF for a byte order
// mark and drops it (stored '\uFEFFhi' read back as 'hi'). In a value it is data. The module looks its decoder up on
// each call, so one that keeps it, set here, serves every read of this process. Checked by dataset-read.test.ts; a
// version without this module just keeps its own behaviour.
try {
  const accessors = require('@duckdb/node-api/lib/vectors/dataAccessors.js') as { textDecoder?: TextDecoder };
  if (accessors.textDecoder instanceof TextDecoder && !accessors.textDecoder.ignoreBOM) {
    accessors.textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });
  }
} catch {
  // not there in this version of @duckdb/node-api
}

export const { DuckDBInstance, blobValue } = duckdb;
/** The DuckDB release this loader writes with, as DuckDB names it ("v1.5.6"). */
export const duckdbVersion = (): string => duckdb.version();
export type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance;
export type { DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
