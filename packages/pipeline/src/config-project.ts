// A --config file of another project than the working directory. `.env` and a relative destination.path are read
// from the working directory (as documented), and cron starts a command in HOME: `snapengage-pipeline run --config
// /srv/proj/src/pipeline.ts` from there, with the variables in the crontab, loaded everything again into a new
// ~/snapengage.duckdb, exit 0, while the project's file fell behind unnoticed.
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { shellWord } from './shell-word.js';

/** The nearest directory at or above the config file's that holds a package.json: the project the config is part of. */
function projectOf(configFile: string): string | undefined {
  for (let current = dirname(resolve(configFile)); ; ) {
    if (existsSync(join(current, 'package.json'))) return current;
    const parent = dirname(current);
    if (parent === current) return undefined;
    current = parent;
  }
}

/**
 * The config's project when it is not the working directory (undefined when it is, or when there is none). Compared
 * by real path: the working directory is always the real one, while the config's path may go through a link (`cd
 * /srv/app/current && … --config /srv/app/current/src/pipeline.ts`, current/ a deploy's link to a release).
 */
export function otherProject(configFile: string, cwd: string = process.cwd()): string | undefined {
  const project = projectOf(resolve(cwd, configFile));
  return project !== undefined && realPath(project) !== realPath(cwd) ? project : undefined;
}

function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

/**
 * A `note:` for a run whose config is of `project` while the run's relative destination.path would create a new
 * file in the working directory; undefined when the path is absolute or the file is there already (a setup used so
 * on purpose, run after run). For `show` (which creates nothing, and reads no credentials from .env): why that file
 * is not there.
 */
export function newFileElsewhereNote(project: string, destinationPath: string, cwd: string = process.cwd(), command: 'run' | 'show' = 'run'): string | undefined {
  if (destinationPath === ':memory:' || isAbsolute(destinationPath)) return undefined;
  const file = resolve(cwd, destinationPath);
  if (existsSync(file)) return undefined;
  const env = command === 'run' && existsSync(join(project, '.env')) && !existsSync(join(cwd, '.env')) ? `, and ${join(project, '.env')} is not read` : '';
  const found = command === 'run' ? `is a new file ${file}` : `is no file there (${file})`;
  const verb = command === 'run' ? 'load' : 'show';
  return `--config names a file of the project ${project}, but relative paths are read from the working directory ${resolve(cwd)}: destination.path ${destinationPath} ${found}${env}; to ${verb} the project's file, run from ${project} (cd ${shellWord(project)} && …) or make destination.path absolute`;
}
