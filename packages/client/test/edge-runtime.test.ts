// The client in a web-standard runtime (Vercel's Edge Runtime, the `edge-runtime` package: fetch, streams and
// timers, but no `process`, `Buffer`, `require` or node: modules), bundled for the browser as an edge or worker app
// would bundle it, making real calls to the sandbox over loopback: auth, retries, a timeout, pagination and the
// maxResponseBytes cap. A Node-only global used at import time or in a call path fails here, where Node would hide it.
import { build } from 'esbuild';
import { EdgeRuntime } from 'edge-runtime';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';

let sandbox: Sandbox;
let bundle: string;

beforeAll(async () => {
  const result = await build({
    stdin: { contents: "export * from './src/index.ts';", resolveDir: fileURLToPath(new URL('..', import.meta.url)), loader: 'ts' },
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'SnapEngage',
    platform: 'browser',
    logLevel: 'silent',
  });
  bundle = result.outputFiles[0]!.text;
  sandbox = await startSandbox({ cases: 300, widgets: 1, days: 30, seed: 5 });
});
afterAll(async () => {
  await sandbox?.close();
});

async function setFaults(faults: string): Promise<void> {
  const response = await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults }) });
  expect(response.ok).toBe(true);
}

/**
 * Runs `body` (an async function body with `SnapEngage`, the bundled client, and `cfg`, the sandbox's connection
 * settings, in scope) inside a fresh Edge Runtime; what it returns crosses back as JSON. `before` runs first, to take a
 * global away as some runtimes lack it.
 */
async function inEdge(body: string, before = ''): Promise<Record<string, unknown>> {
  const runtime = new EdgeRuntime({ initialCode: `${before}\n${bundle}` });
  const cfg = JSON.stringify({ baseUrl: sandbox.url, ...sandbox.credentials, today: new Date().toISOString().slice(0, 10) });
  const json = (await runtime.evaluate(`(async () => { const cfg = ${cfg}; const out = await (async () => { ${body} })(); return JSON.stringify(out); })()`)) as string;
  return JSON.parse(json) as Record<string, unknown>;
}

/** The client options for the sandbox, built inside the runtime. */
const OPTIONS = `const { widgetIds, today, ...connection } = cfg; const widgetId = widgetIds[0];
const logs = (client, query = {}) => client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: cfg.orgId }, query: { widgetId, start: '2000-01-01', end: today, ...query } } });
const failure = async (promise) => { try { await promise; return 'no error'; } catch (e) { return SnapEngage.isSnapEngageError(e) ? { kind: e.kind, status: e.status, retries: e.retries, responseTooLarge: e.responseTooLarge, message: e.message } : String(e); } };`;

describe('in the Edge Runtime (no process, Buffer or node: modules)', () => {
  it('is a runtime without Node globals, so the checks below mean something', async () => {
    expect(await inEdge(`return { process: typeof process, Buffer: typeof Buffer, require: typeof require, fetch: typeof fetch };`)).toEqual({
      process: 'undefined',
      Buffer: 'undefined',
      require: 'undefined',
      fetch: 'function',
    });
  });

  it('pages through every case, with auth per operation', async () => {
    await setFaults('');
    const out = await inEdge(`${OPTIONS}
      const events = [];
      const client = SnapEngage.createSnapEngageClient({ ...connection, logger: { request: (e) => events.push(e), warn: () => {} } });
      let cases = 0;
      for await (const c of client.iterateLogs({ orgId: cfg.orgId, widgetId, start: '2000-01-01', end: today })) cases++;
      const chat = SnapEngage.unwrap(await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } }));
      const wrongToken = await failure(logs(SnapEngage.createSnapEngageClient({ ...connection, apiToken: 'wrong', maxRetries: 0 })).then((r) => SnapEngage.unwrap(r)));
      const noKey = await failure(SnapEngage.createSnapEngageClient({ baseUrl: connection.baseUrl }).GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } }));
      return { cases, pages: events.length, chat: typeof chat, wrongToken: wrongToken.kind + ' ' + wrongToken.status, noKey: noKey.kind, fromEnv: SnapEngage.credentialsFromEnv(), fromBinding: SnapEngage.credentialsFromEnv({ SNAPENGAGE_API_KEY: 'k' }) };`);
    const truth = await (await fetch(`${sandbox.url}/__sandbox/truth?resource=logs`)).text();
    expect(out.cases).toBe(truth.split('\n').filter((line) => line !== '').length);
    expect(out.pages).toBeGreaterThan(1);
    expect(out).toMatchObject({ chat: 'object', wrongToken: 'auth 401', noKey: 'config', fromEnv: {}, fromBinding: { apiKey: 'k' } });
  });

  it('retries, times out and caps a body', async () => {
    await setFaults('500=1');
    const retried = await inEdge(`${OPTIONS}
      return failure(logs(SnapEngage.createSnapEngageClient({ ...connection, maxRetries: 2, retryBaseDelayMs: 1 })).then((r) => SnapEngage.unwrap(r)));`);
    expect(retried).toMatchObject({ kind: 'server', status: 500, retries: 2 });

    await setFaults('slow=1,slowMs=1500');
    const timedOut = await inEdge(`${OPTIONS}
      return failure(logs(SnapEngage.createSnapEngageClient({ ...connection, maxRetries: 0, timeoutMs: 200 })));`);
    expect(timedOut).toMatchObject({ kind: 'timeout' });

    await setFaults('');
    const capped = await inEdge(`${OPTIONS}
      return failure(logs(SnapEngage.createSnapEngageClient({ ...connection, maxRetries: 0, maxResponseBytes: 100 })));`);
    expect(capped).toMatchObject({ kind: 'invalid_response', responseTooLarge: { limit: 100 } });
  });

  // Cloudflare Workers have FinalizationRegistry and WeakRef only from compatibility date 2025-05-05 (or the enable_weak_ref flag):
  // a module that constructs one at import time does not load in an older Worker.
  it('loads and calls without FinalizationRegistry or WeakRef', async () => {
    await setFaults('');
    const out = await inEdge(
      `${OPTIONS}
      const client = SnapEngage.createSnapEngageClient(connection);
      const streamed = await logs(client, { end: '2000-01-02' }).then(() => client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } }, parseAs: 'stream' }));
      const text = await new Response(streamed.data).text();
      return { registry: typeof FinalizationRegistry, weakRef: typeof WeakRef, streamed: JSON.parse(text) !== null };`,
      'delete globalThis.FinalizationRegistry; delete globalThis.WeakRef;',
    );
    expect(out).toEqual({ registry: 'undefined', weakRef: 'undefined', streamed: true });
  });
});
