// Before any test file: rebuild the client's and the loader's dist/ when older than their sources. Tests spawn the
// built CLI (as users run it: packages/pipeline/test/helpers.ts), so an edit to src/ must reach dist/ first. On a
// fresh `npm ci` (which builds) nothing is rebuilt; the check reads file times only.
import { ensureBuilt } from '../packages/create-snapengage-pipeline/test/helpers.js';

export default async function setup(): Promise<void> {
  await ensureBuilt(['snapengage-client', 'snapengage-pipeline']);
}
