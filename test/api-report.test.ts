// Each published package's public surface (test/api-report/report.ts, from the built .d.ts) must match its committed
// packages/<dir>/api-report.md, so an export added, removed or retyped by accident fails here with a diff instead of
// reaching users as a silent semver break. A meant change: `npm run build && npm run api-report`, review, commit.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApiReport, reportPath, reportedPackages, repoRoot, staleBuildHint } from './api-report/report.js';

describe('API reports', () => {
  for (const packageDir of reportedPackages) {
    it(`packages/${packageDir}/api-report.md matches the built declarations`, () => {
      const path = reportPath(packageDir);
      let committed = '';
      try {
        committed = readFileSync(path, 'utf8');
      } catch {
        // No report yet: the comparison below fails with the whole fresh report as the diff.
      }
      const fresh = buildApiReport(packageDir);
      expect(
        fresh,
        `${relative(repoRoot, path)} is out of date with packages/${packageDir}'s exports. If the change is meant, run ` +
          '`npm run build && npm run api-report` and commit the report (check the diff keeps semver); if not, undo the export change.' +
          staleBuildHint(packageDir),
      ).toBe(committed);
    });
  }
});
