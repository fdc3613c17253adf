// Each published package's public surface (test/api-report/report.ts, from the built .d.ts) must match its committed
// packages/<dir>/api-report.md, so an export added, removed or retyped by accident fails here with a diff instead of
// reaching users as a silent semver break. A meant change: `npm run api-report` (builds what is stale), review, commit.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../packages/create-snapengage-pipeline/test/helpers.js';
import { buildApiReport, reportPath, reportedPackages, reportedWorkspaces, repoRoot } from './api-report/report.js';

describe('API reports', () => {
  // The reports are read from dist/: a source edited since the last build is built first (a no-op when fresh).
  beforeAll(() => ensureBuilt(reportedWorkspaces), 300_000);

  for (const packageDir of reportedPackages) {
    it(`packages/${packageDir}/api-report.md matches the built declarations`, () => {
      const path = reportPath(packageDir);
      let committed = '';
      try {
        // A checkout with core.autocrlf turns the committed report's line ends into CRLF.
        committed = readFileSync(path, 'utf8').replace(/\r\n/g, '\n');
      } catch {
        // No report yet: the comparison below fails with the whole fresh report as the diff.
      }
      const fresh = buildApiReport(packageDir);
      expect(
        fresh,
        `${relative(repoRoot, path)} is out of date with packages/${packageDir}'s exports. If the change is meant, run ` +
          '`npm run api-report` and commit the report (check the diff keeps semver); if not, undo the export change.',
      ).toBe(committed);
    });
  }
});
