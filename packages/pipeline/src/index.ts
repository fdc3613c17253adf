// Public surface of snapengage-pipeline: the config type and definePipeline, runPipeline, LoadInfo, the dataset API
// and the error classes. The CLI (src/cli.ts) is built on exactly these.
export * from './config.js';
export { runPipeline, type RunOptions, type ProgressSnapshot, type RequestEvent } from './run.js';
export type { LoadStep } from './run-records.js';
export { LoadInfo, type LoadNotes, type ResourceStats } from './load-info.js';
// The types LoadInfo's notes, the error classes and the functions below name, so a user can write them down.
export type { CursorState, OutOfWindow } from './cursor.js';
export type { DroppedTables } from './run-records.js';
export type { RateLimitReport } from './limits.js';
export type { RetryReport } from './extract-counts.js';
export type { SchemaReport } from './normalize/schema-report.js';
export type { ContractDiscard, ContractDiscards, ContractEntity, SchemaContractModes } from './normalize/contract.js';
export type { InterruptedRun } from './errors.js';
export { openDataset } from './dataset.js';
export type * from './dataset.js';
export { loadEnv, type Env } from './env.js';
export { loadPipelineConfig, defaultConfig, type LoadedConfig } from './config-loader.js';
export { planPipeline, type Plan, type ResourcePlan } from './plan.js';
export { showDataset, type ShowOptions } from './show.js';
export type { WindowState } from './windows.js';
export { PipelineError, ConfigError, UsageError, ExtractError, DestinationError, AbortedError, type DestinationErrorCode, type ExtractErrorKind } from './errors.js';
