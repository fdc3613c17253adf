// Programmatic API of create-snapengage-pipeline (the CLI is src/cli.ts): what README.md's "API" names, the inputs
// those functions take (loadCatalog, resolveTarget) and their types and errors. Helpers only the CLI and the tests
// use stay in their modules (tests import them from there), so they can change without a semver major.
export { main, type MainIo } from './main.js';
export { resolveOptions, type Answers, type Resolved, type PackageManager } from './options.js';
export { loadCatalog, type ResourceChoice, type EnvVarChoice } from './catalog.js';
export { renderPipelineSource, addResourcesToSource, PipelineEditError, type PipelineSourceOptions, type AddResult } from './pipeline-source.js';
export { renderProjectFiles, writeProject, type ProjectPlan } from './project.js';
export { addToProject, AddError, type AddSummary } from './add.js';
export { dependencySpecs, type DependencySpecs } from './dependencies.js';
export { resolveTarget, TargetError, type Target } from './target.js';
export { askWithClack, type AskAnswers, type PromptContext } from './prompts.js';
export { UserError, CancelledError, InputEndedError } from './errors.js';
