// `npm run api-report`: rewrites packages/<dir>/api-report.md from the built declarations (run `npm run build` first),
// for a change of a package's public surface that is meant. test/api-report.test.ts fails until they are rewritten.
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { buildApiReport, reportPath, reportedPackages, repoRoot } from './report.js';

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
