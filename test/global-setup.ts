// Before any test file: rebuild the client's and the loader's dist/ when older than their sources. Tests spawn the
// built CLI (as users run it: packages/pipeline/test/helpers.ts), so an edit to src/ must reach dist/ first. On a
// fresh `npm ci` (which builds) nothing is rebuilt; the check reads file times only.
import { ensureBuilt } from '../packages/create-snapengage-pipeline/test/helpers.js';

export default async function setup(): Promise<void> {
  try {
    await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
  } catch (error) {
    // A type error (an unused import while editing) fails tsc but not its output, which it writes all the same: the
    // tests still run, against what tsc wrote, and say why the build failed (`npm run typecheck` fails on it too).
    process.stderr.write(`global-setup: ${error instanceof Error ? error.message : String(error)}\n(the tests run against what tsc wrote)\n`);
  }
}
