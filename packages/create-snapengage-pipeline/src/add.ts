// `--add <resources>` on an existing project: edits src/pipeline.ts with ts-morph (user edits stay), appends the
// new resources' variables to .env.example (and names them in the "Needed by:" of those it has), and names them in
// README.md's generated Resources line while it is unedited.
import { accessSync, chmodSync, chownSync, constants, existsSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { withParents, type ResourceChoice } from './catalog.js';
import { appendEnvExample } from './env-file.js';
import { fsReason, UserError } from './errors.js';
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
    throw new AddError(`${pipelinePath} not found; --add edits a project made by create-snapengage-pipeline (pass its directory)${unexpandedTilde(dir)}`);
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

  // Every edit is computed, and every file checked for writing, before one is written, so a refusal leaves the
  // project untouched: a second --add does not redo a half-done one (the resources already in src/pipeline.ts are
  // "already present", so their variables would never reach .env.example).
  const writes: Array<[string, string]> = [];
  if (result.text !== original) writes.push([pipelinePath, result.text]);
  if (env.text !== envText) writes.push([envPath, env.text]);
  if (readme?.updated) writes.push([readmePath, readme.text]);
  for (const [path] of writes) checkWritable(path);
  // Each new text is written next to its file first and only then renamed over it: written in place, a disk that
  // filled up part way left src/pipeline.ts truncated (and the message said nothing was changed). A failure while
  // staging removes what was staged; renames do not need space.
  const staged: Array<{ path: string; temp: string }> = [];
  for (const [path, text] of writes) {
    try {
      staged.push(stageNextTo(path, text));
    } catch (error) {
      for (const { temp } of staged) rmSync(temp, { force: true });
      throw new AddError(`cannot write ${path} (${fsReason(error)}); nothing was changed`);
    }
  }
  const written: string[] = [];
  for (const [i, { path, temp }] of staged.entries()) {
    try {
      renameSync(temp, path);
    } catch (error) {
      for (const rest of staged.slice(i)) rmSync(rest.temp, { force: true });
      const done = written.length > 0 ? `${written.join(' and ')} ${written.length === 1 ? 'was' : 'were'} updated, the rest not: add what is missing by hand` : 'nothing was changed';
      throw new AddError(`cannot write ${path} (${fsReason(error)}); ${done}`);
    }
    written.push(relative(root, writes[i]![0]));
  }
  return {
    added: result.added,
    alreadyPresent: result.alreadyPresent,
    switchedOff: result.switchedOff,
    envVarsAdded: env.added,
    readme: readme === null ? null : readme.updated ? { updated: true } : readme,
  };
}

/**
 * `~/proj` that no shell expanded (quoted, or typed where no shell runs): looked for as a directory named `~` here. The
 * hint names the path it most likely meant.
 */
function unexpandedTilde(dir: string): string {
  const match = /^~([^/\\]*)(?:[/\\]+(.*))?$/s.exec(dir);
  if (!match) return '';
  const [, user = '', rest = ''] = match;
  return user === ''
    ? `; ~ is not expanded here (a shell expands it only unquoted): pass ${JSON.stringify(resolve(homedir(), rest))}`
    : `; ~${user} is not expanded here (a shell expands it only unquoted, for a user it knows): pass the full path`;
}

/**
 * Refuses, before anything is written, a file this user cannot write, or its directory (the new text is written
 * beside the file first: stageNextTo).
 */
function checkWritable(path: string): void {
  const file = existsSync(path) ? realpathSync(path) : undefined;
  for (const checked of file === undefined ? [dirname(path)] : [file, dirname(file)]) {
    try {
      accessSync(checked, constants.W_OK);
    } catch (error) {
      throw new AddError(`cannot write ${checked} (${fsReason(error)}): make it writable for you, or run as its owner; nothing was changed`);
    }
  }
  // The new text is renamed over the file, which a sticky directory (mode 0o1000, +t, as /tmp) allows only the owner
  // of the file or of the directory, though both be writable: refused at the rename, after the files before it were
  // replaced.
  const uid = process.getuid?.();
  if (file === undefined || uid === undefined || uid === 0) return;
  const dir = dirname(file);
  const dirStat = statSync(dir);
  if ((dirStat.mode & 0o1000) !== 0 && dirStat.uid !== uid && statSync(file).uid !== uid) {
    throw new AddError(`cannot replace ${file}: ${dir} is sticky (mode +t) and neither it nor the file is yours: make them yours, or run as their owner; nothing was changed`);
  }
}

/**
 * Writes `text` to a new file beside `path` (beside the file a symlink points to: the link stays) with its mode, and
 * its owner when root runs it, so the rename that follows changes the content only.
 */
function stageNextTo(path: string, text: string): { path: string; temp: string } {
  const target = existsSync(path) ? realpathSync(path) : path;
  const temp = join(dirname(target), `.${basename(target)}.add-${process.pid}`);
  try {
    writeFileSync(temp, text, { flag: 'wx' });
    if (existsSync(path)) {
      const stat = statSync(target);
      chmodSync(temp, stat.mode & 0o7777);
      if (process.getuid?.() === 0) chownSync(temp, stat.uid, stat.gid);
    }
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  return { path: target, temp };
}
