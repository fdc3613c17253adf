import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';
import { defaultServerConditions } from 'vite';

// Tests run against the TypeScript sources of the workspace packages (the "snapengage-source" export condition),
// so `npm test` never depends on a stale dist/. Spawned CLIs use the built dist/ (npm install builds it). The
// condition has a name of our own: a consumer resolving a generic "source" condition must get dist/, because the
// sources import this repo's generated/, which is not in the packages.
export default defineConfig({
  resolve: { conditions: ['snapengage-source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['snapengage-source', ...defaultServerConditions] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'generator/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // vitest's default is one worker less than the cores: on a 2-core CI machine, one, so every file ran in turn.
    // Most of a file's time is waiting (the sandbox over loopback, DuckDB files, spawned CLIs), so two files at once
    // share the cores well; each still runs in its own process with its own sandboxes and temp dirs.
    maxWorkers: 2,
    // The CLIs tests spawn are the built ones: a dist/ older than its sources is rebuilt first.
    // By absolute path: vitest resolves it from the working directory, which may be a package's.
    globalSetup: [fileURLToPath(new URL('./test/global-setup.ts', import.meta.url))],
  },
});
