// The loader's own version, from its package.json (beside dist/ and src/ alike): sent as the User-Agent, printed by
// --version, and recorded with every load so that a file written by a newer loader can be recognised.
import { readFileSync } from 'node:fs';

function readOwnVersion(): string {
  try {
    const own = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
    // Bundled into an app's dist/, "../package.json" is the app's: its version is not the loader's.
    if (own.name === 'snapengage-pipeline' && typeof own.version === 'string') return own.version;
  } catch {
    // bundled into an app, away from any package.json
  }
  return 'unknown'; // the version is only informative (the dataset format is what opening a file checks)
}

export const LOADER_VERSION: string = readOwnVersion();
