// Programmatic API of create-snapengage-pipeline (the CLI is src/cli.ts).
export { main, type MainIo } from './main.js';
export { resolveOptions, helpText, detectPackageManager, type Answers, type Resolved, type PackageManager } from './options.js';
export { loadCatalog, withParents, envVarsFor, type ResourceChoice, type EnvVarChoice } from './catalog.js';
export { renderPipelineSource, addResourcesToSource, PipelineEditError, PIPELINE_FILE, type PipelineSourceOptions, type AddResult } from './pipeline-source.js';
export { renderProjectFiles, writeProject, type ProjectPlan } from './project.js';
export { addToProject, AddError, type AddSummary } from './add.js';
export { dependencySpecs, findTarball, THIRD_PARTY, type DependencySpecs } from './dependencies.js';
export { resolveTarget, checkPackageName, checkTargetFree, TargetError, type Target } from './target.js';
export { formatEnvValue, renderDotEnv } from './env-file.js';
export { askWithClack, type AskAnswers, type PromptContext } from './prompts.js';
export { UserError, CancelledError, InputEndedError } from './errors.js';
