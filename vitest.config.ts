import { defineConfig } from 'vitest/config';
import { defaultServerConditions } from 'vite';

// Tests run against the TypeScript sources of the workspace packages (the "source" export condition),
// so `npm test` never depends on a stale dist/. Spawned CLIs use the built dist/ (npm install builds it).
export default defineConfig({
  resolve: { conditions: ['source', ...defaultServerConditions] },
  ssr: { resolve: { conditions: ['source', ...defaultServerConditions] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'generator/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
