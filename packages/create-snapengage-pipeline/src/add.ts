// `--add <resources>` on an existing project: edits src/pipeline.ts with ts-morph (user edits stay), appends the
// new resources' variables to .env.example, and names them in README.md's generated Resources line while it is unedited.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withParents, type ResourceChoice } from './catalog.js';
import { appendEnvExample } from './env-file.js';
import { UserError } from './errors.js';
import { PIPELINE_FILE, addResourcesToSource } from './pipeline-source.js';
import { envVarContexts } from './project.js';
import { addToResourcesBlock } from './readme-block.js';
import { createRenderer } from './render.js';

export class AddError extends UserError {}

export interface AddSummary {
  added: string[];
  alreadyPresent: string[];
  switchedOff: string[];
  envVarsAdded: string[];
  /** null: nothing added, or no README.md. `mention`: the README was left as is; these names are for the user to add. */
  readme: { updated: true } | { updated: false; mention: string[] } | null;
}

export function addToProject(dir: string, cwd: string, names: readonly string[], catalog: readonly ResourceChoice[]): AddSummary {
  const root = resolve(cwd, dir);
  const pipelinePath = join(root, PIPELINE_FILE);
  if (!existsSync(pipelinePath)) {
    throw new AddError(`${pipelinePath} not found; --add edits a project made by create-snapengage-pipeline (pass its directory)`);
  }
  // Parents come along: a child resource reads its parent's records.
  const wanted = withParents(names, catalog);
  const choices = catalog.filter((c) => wanted.includes(c.name));
  const original = readFileSync(pipelinePath, 'utf8');
  const result = addResourcesToSource(original, choices, null);

  const envPath = join(root, '.env.example');
  const envText = existsSync(envPath) ? readFileSync(envPath, 'utf8') : '';
  const renderer = createRenderer();
  const env = appendEnvExample(envText, envVarContexts(result.added, catalog), renderer);
  const readmePath = join(root, 'README.md');
  const readme = result.added.length > 0 && existsSync(readmePath) ? addToResourcesBlock(readFileSync(readmePath, 'utf8'), result.added, renderer, catalog) : null;

  // Both edits are computed before either file is written, so a refusal leaves the project untouched.
  if (result.text !== original) writeFileSync(pipelinePath, result.text);
  if (env.added.length > 0) writeFileSync(envPath, env.text);
  if (readme?.updated) writeFileSync(readmePath, readme.text);
  return {
    added: result.added,
    alreadyPresent: result.alreadyPresent,
    switchedOff: result.switchedOff,
    envVarsAdded: env.added,
    readme: readme === null ? null : readme.updated ? { updated: true } : readme,
  };
}
