// Public surface of snapengage-pipeline: the config type and definePipeline, runPipeline, LoadInfo, the dataset API
// and the error classes. The CLI (src/cli.ts) is built on exactly these.
export * from './config.js';
export { runPipeline, type RunOptions, type ProgressSnapshot, type RequestEvent } from './run.js';
export type { LoadStep } from './destination/index.js';
export { LoadInfo, type LoadNotes, type ResourceStats } from './load-info.js';
export { openDataset } from './dataset.js';
export type * from './dataset.js';
export { loadEnv, type Env } from './env.js';
export { loadPipelineConfig, defaultConfig } from './config-loader.js';
export { planPipeline, type Plan, type ResourcePlan } from './plan.js';
export { showDataset } from './show.js';
export type { WindowState } from './windows.js';
export { PipelineError, ConfigError, UsageError, ExtractError, DestinationError, AbortedError, type DestinationErrorCode } from './errors.js';
