// The client in a browser app's bundle: it must bundle for the browser platform (no Node-only import), and an app
// that makes calls and pages through logs must not carry the loader's part of the catalog (each resource's record
// schema, columns and env hints: about a third of the bundle when the paginator read its paths from `resources`).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = `
import { createSnapEngageClient, unwrap, isSnapEngageError } from './src/index.ts';
const client = createSnapEngageClient({ baseUrl: 'https://example.test', apiToken: 't' });
for await (const c of client.iterateLogs({ orgId: 'o', widgetId: 'w', start: '2024-01-01', end: '2024-01-02' })) console.log(c.id);
try { console.log(unwrap(await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'w' } } }))); } catch (e) { console.log(isSnapEngageError(e) && e.kind); }
`;

describe('browser bundle', () => {
  it('bundles for the browser without the loader-only catalog', async () => {
    const result = await build({
      stdin: { contents: entry, resolveDir: fileURLToPath(new URL('..', import.meta.url)), loader: 'ts' },
      bundle: true,
      write: false,
      minify: true,
      format: 'esm',
      platform: 'browser',
      logLevel: 'silent',
    });
    const code = result.outputFiles[0]!.text;
    // A boolean, not the match: on failure vitest would print the whole bundle.
    expect(/recordSchema|writeDisposition|SNAPENGAGE_START_DATE/.test(code), 'the bundle carries the loader part of the catalog').toBe(false);
    // 47 kB minified with the whole catalog; about 32 kB without it (38.2 kB with the maxResponseBytes cap, 40.5 kB
    // with the largeIntegers reader, 42.7 kB with the blocked-port and request-mistake checks). The pattern above is
    // what tells the catalog's loader part apart; this bound catches a large dependency slipping in.
    expect(code.length).toBeLessThan(45_000);
  });
});
