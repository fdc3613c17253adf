// Plain shapes of what a run reports and a dataset reads back, exported by the package (LoadStep, DroppedTables,
// LoadRecord). Kept apart from the modules that make them, which import DuckDB's API: a public type declared there
// made every consumer's compiler read @duckdb/node-api's declarations, which fail under the legacy Node10 resolution
// without esModuleInterop (they default-import their bindings). Import nothing here that reaches DuckDB
// (test/consumer-types.test.ts checks that the package's declarations never do).
import type { ContractDiscards } from './normalize/contract.js';

/** One step of a commit: `schema` (new tables and columns), `adopt` (a merge taking over rows that append or replace
 * loaded; rows = records kept, see adopt.ts), `compare` (a merge finding records stored exactly as
 * staged; rows = those records), `delete` (old rows a merge or replace removes), `insert` (one table's rows),
 * `commit` (state, load record and COMMIT). */
export interface LoadStep {
  resource: string;
  step: 'schema' | 'adopt' | 'compare' | 'delete' | 'insert' | 'commit';
  table?: string;
  rows?: number;
  durationMs: number;
}

/** What `forgetDroppedTables` found for one resource. */
export interface DroppedTables {
  resource: string;
  tables: string[];
  columns: string[];
  /**
   * How it was repaired. `recreate`: child tables or columns are forgotten and re-created from the next load on
   * (the state stays: resetting it would append an append resource's history twice). `reload`: every table of the
   * resource is gone, so its state is reset and it loads again from the start. `blocked`: a table is gone but
   * tables below it are left (`remaining`), whose rows hang under its rows; nothing is changed and loading the
   * resource is refused until the user drops them too (or restores the table).
   */
  action: 'recreate' | 'reload' | 'blocked';
  remaining: string[];
  /** When blocked: the dropped table the remaining ones hang under. */
  under?: string;
}

/** One resource's record of one load in `_pipeline_loads`, as `openDataset(…).loads()` reads it. */
export interface LoadRecord {
  loadId: string;
  pipelineName: string;
  resource: string;
  status: 'loaded' | 'failed';
  /** ISO 8601 UTC. */
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  rowCounts: Record<string, number> | null;
  error: string | null;
  /** The `--limit-pages` of a sample (its state was not advanced), null for a full load. */
  limitPages: number | null;
  /** The SNAPENGAGE_ORG_ID the load ran with, null when unset or loaded by a version before it was recorded. */
  orgId: string | null;
  /** What the resource's schemaContract left out (as the load info's contractDiscards); null: nothing, or loaded by a version before it was recorded. */
  contractDiscards: ContractDiscards | null;
}
