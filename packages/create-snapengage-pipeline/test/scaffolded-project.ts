// A project as the scaffolder writes it (npm, no credentials, no start date), in a temp dir the caller removes.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCatalog } from '../src/catalog.js';
import { renderProjectFiles, writeProject } from '../src/project.js';

/** Writes the project with `resources` into `<new temp dir>/p`, pushes the temp dir to `dirs`, returns the project. */
export function scaffoldProject(resources: string[], dirs: string[], prefix: string): string {
  const cwd = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(cwd);
  const plan = {
    target: { path: join(cwd, 'p'), name: 'p' },
    resources,
    startDate: null,
    credentials: null,
    packagesDir: null,
    packageManager: 'npm' as const,
    overwrite: false,
  };
  writeProject(plan, renderProjectFiles(plan, loadCatalog()));
  return plan.target.path;
}
