// `npm run api-report`: rewrites packages/<dir>/api-report.md from the built declarations (a package whose sources are
// newer than its dist/ is built first), for a change of a public surface that is meant; test/api-report.test.ts fails
// until they are rewritten.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { ensureBuilt } from '../../packages/create-snapengage-pipeline/test/helpers.js';
import { buildApiReport, reportPath, reportedPackages, reportedWorkspaces, repoRoot } from './report.js';

await ensureBuilt(reportedWorkspaces);

for (const packageDir of reportedPackages) {
  const path = reportPath(packageDir);
  const fresh = buildApiReport(packageDir);
  let old = '';
  try {
    old = readFileSync(path, 'utf8');
  } catch {
    // A first report.
  }
  if (old === fresh) console.log(`unchanged ${relative(repoRoot, path)}`);
  else {
    writeFileSync(path, fresh);
    console.log(`wrote     ${relative(repoRoot, path)}`);
  }
}
