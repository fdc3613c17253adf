// PipelineConfig: the one typed shape that describes a pipeline. It is the only contract between the loader and the
// scaffolder (which writes `definePipeline({...})` into src/pipeline.ts), so keep it plain data plus optional
// filter/map functions, and keep every field optional except what has no sensible default.
import type { ResourceName, ResourceRecords } from 'snapengage-client';

export type { ResourceName, ResourceRecords };

export type WriteDisposition = 'merge' | 'append' | 'replace';

/**
 * dlt's schema contract modes: `evolve` lets a load add what its records bring, `freeze` fails the run instead,
 * `discard_row` leaves the whole record out (with its child rows), `discard_value` leaves only the value out.
 */
export type SchemaContractMode = 'evolve' | 'freeze' | 'discard_row' | 'discard_value';

/** dlt's `schema_contract` dict, per entity; an entity left out is `evolve` (NORMALIZATION.md "Schema contracts"). */
export interface SchemaContractSettings {
  /** A child table for a list of objects that the spec does not declare and the dataset does not have. */
  tables?: SchemaContractMode | undefined;
  /** A column for a field that the spec does not declare for its table and the table does not have. */
  columns?: SchemaContractMode | undefined;
  /** A value its column's type does not take, which would make a new variant column `<col>__v_<type>` (dlt's `data_type`). */
  dataType?: SchemaContractMode | undefined;
}

/** Where the data goes. A union so more destinations can be added without breaking existing configs. */
export type DestinationConfig = DuckDBDestination;

export interface DuckDBDestination {
  type: 'duckdb';
  /** DuckDB database file; default `snapengage.duckdb` (relative to the working directory). */
  path?: string | undefined;
  /** Schema the tables are created in; default `snapengage_data`. */
  dataset?: string | undefined;
}

/** A record as it arrives from the API, before normalization. */
export type SourceRecord = Record<string, unknown>;

export interface ResourceOptions<R extends SourceRecord = SourceRecord> {
  /** false skips the resource without removing it from the config. Default true. */
  selected?: boolean | undefined;
  /** Default: the catalog's (merge where the resource has a primary key). */
  writeDisposition?: WriteDisposition | undefined;
  /** Overrides the catalog's primary key (field names of the record). */
  primaryKey?: string[] | undefined;
  /** Incremental resources only (refused before the run on others: a child follows its parent's window). */
  incremental?: {
    /** First day to load, `YYYY-MM-DD`. Default: env SNAPENGAGE_START_DATE, else the catalog's default (the spec's `defaultStartDaysAgo`: 30 days ago for logs). */
    startDate?: string | undefined;
    /** Days re-read before the last loaded day on every run, merged on the primary key. Default: the catalog's (1). */
    lookbackDays?: number | undefined;
    /**
     * The date window is requested in slices of at most this many days, fetched concurrently (each pages on its
     * own), so one large widget does not become one long sequential chain. Default: the catalog's (7).
     */
    sliceDays?: number | undefined;
    /**
     * Whether the API returns the cases of the `end` day it is asked for: `inclusive` (the catalog's, inferred) or
     * `exclusive`, when the loader asks for the day after. A widget's first load asks again for the two days ending
     * on the day of a record it was given, and stops with an error naming this option if the record comes back only
     * once the day after is added (INCREMENTAL.md, "End day").
     */
    endDay?: 'inclusive' | 'exclusive' | undefined;
  } | undefined;
  /** Nested objects deeper than this are stored as JSON instead of more columns / child tables. Default 4. */
  maxNestingDepth?: number | undefined;
  /** What a load may add to the resource's tables: one mode for all three entities, or one per entity. Default `evolve`. */
  schemaContract?: SchemaContractMode | SchemaContractSettings | undefined;
  /** Steps applied in order to every record before normalization: a filter drops records, a map reshapes them. */
  steps?: Array<{ filter: (record: R) => boolean } | { map: (record: R) => SourceRecord }> | undefined;
}

export type ResourcesConfig = {
  [N in keyof ResourceRecords]?: ResourceOptions<ResourceRecords[N] & SourceRecord> | true | undefined;
};

export interface PipelineConfig {
  /** Names the pipeline in `_pipeline_loads` and `_pipeline_state`; default `snapengage_pipeline`. */
  pipelineName?: string | undefined;
  /** Default `{ type: 'duckdb', path: 'snapengage.duckdb', dataset: 'snapengage_data' }`. */
  destination?: DestinationConfig | undefined;
  /** The resources to load, by catalog name. `true` = catalog defaults. */
  resources: ResourcesConfig;
  /** Proactive client-side limit, requests per second across all resources. Default 10. */
  rateLimit?: { requestsPerSecond: number } | undefined;
  /** Requests in flight at once. Default 8. */
  concurrency?: number | undefined;
  /** Connection settings. Default: environment variables (`SNAPENGAGE_*`, also read from `.env`). */
  connection?: {
    baseUrl?: string | undefined;
    /** Per-request timeout in milliseconds. */
    timeoutMs?: number | undefined;
    /** Re-sends of a failed request after the first attempt; default 4, 0 disables retries. */
    maxRetries?: number | undefined;
    /**
     * First backoff delay before a retry, in milliseconds; it doubles on each retry (with jitter), up to 20 s. Default
     * 500. A 429's `Retry-After` is waited instead, when the API sends one.
     */
    retryBaseDelayMs?: number | undefined;
    /** Largest response body read, in bytes after decompression; default 268435456 (256 MiB), far above any page. */
    maxResponseBytes?: number | undefined;
  } | undefined;
}

/** Identity function that gives a config its type (and editor completion) in `src/pipeline.ts`. */
export function definePipeline<const C extends PipelineConfig>(config: C): C {
  return config;
}
