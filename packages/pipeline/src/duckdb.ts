// DuckDB's Node API, loaded with require(): the package is CommonJS, and an ESM `import` of it makes Node scan the
// source of every re-exported module for export names first (measured: 90 ms → 45 ms per process start, which is
// most of a rerun's fixed cost after Node itself).
import { createRequire } from 'node:module';

const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof import('@duckdb/node-api');

export const { DuckDBInstance } = duckdb;
export type DuckDBInstance = import('@duckdb/node-api').DuckDBInstance;
export type { DuckDBConnection, DuckDBResultReader, DuckDBValue } from '@duckdb/node-api';
