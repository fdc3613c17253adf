// `--add <resources>` on an existing project: edits src/pipeline.ts with ts-morph (user edits stay) and appends the
// new resources' variables to .env.example.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { withParents, type ResourceChoice } from './catalog.js';
import { appendEnvExample } from './env-file.js';
import { UserError } from './errors.js';
import { PIPELINE_FILE, addResourcesToSource } from './pipeline-source.js';
import { envVarContexts } from './project.js';
import { createRenderer } from './render.js';

export class AddError extends UserError {}

export interface AddSummary {
  added: string[];
  alreadyPresent: string[];
  switchedOff: string[];
  envVarsAdded: string[];
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
  const env = appendEnvExample(envText, envVarContexts(result.added, catalog), createRenderer());

  // Both edits are computed before either file is written, so a refusal leaves the project untouched.
  if (result.text !== original) writeFileSync(pipelinePath, result.text);
  if (env.added.length > 0) writeFileSync(envPath, env.text);
  return { added: result.added, alreadyPresent: result.alreadyPresent, switchedOff: result.switchedOff, envVarsAdded: env.added };
}
