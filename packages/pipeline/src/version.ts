// The loader's own version, from its package.json (beside dist/ and src/ alike): sent as the User-Agent, printed by
// --version, and recorded with every load so that a file written by a newer loader can be recognised.
import { readFileSync } from 'node:fs';

function readOwnVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown'; // bundled into an app, away from its package.json: the version is only informative
  }
}

export const LOADER_VERSION: string = readOwnVersion();
