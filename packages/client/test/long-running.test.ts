// The client inside a long-running app: one client made at start-up, a shutdown signal given to it (or to every call),
// many calls at once, for days. What such an app notices is counted here (listeners on the shared signal, connections
// at the server), never timed. The long measurement (heap and listeners over ~50k calls) is test/long-running-bench.ts.
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { createSnapEngageClient, type SnapEngageClient, type SnapEngageClientOptions } from '../src/index.js';
import { caught } from './helpers/caught.js';
import { startScriptedServer } from './helpers/scripted-server.js';

const CONCURRENT = 15;

let sandbox: Sandbox;
beforeAll(async () => {
  sandbox = await startSandbox({ cases: 20, widgets: 1, days: 2, seed: 5 });
});
afterAll(async () => {
  await sandbox?.close();
});

function clientFor(extra: SnapEngageClientOptions) {
  return createSnapEngageClient({ baseUrl: sandbox.url, ...extra });
}

/** Widget Availability: a GET that needs no credential. */
function availability(client: SnapEngageClient) {
  return client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId: sandbox.credentials.widgetIds[0] as string } } });
}

/** `CONCURRENT` calls at once; the HTTP statuses they end with. */
async function concurrently(client: SnapEngageClient): Promise<number[]> {
  return (await Promise.all(Array.from({ length: CONCURRENT }, () => availability(client)))).map((r) => r.response.status);
}

/** Resolves `count()` once `n` callers have arrived; every caller then goes on. */
function barrier(n: number, count: () => number) {
  let arrived = 0;
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  const seen: number[] = [];
  return {
    seen,
    async wait(): Promise<void> {
      if (++arrived === n) {
        seen.push(count());
        open();
      }
      await opened;
    },
  };
}

/** MaxListenersExceededWarnings emitted while `run` runs (Node emits them on the next tick). */
async function maxListenerWarnings(run: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') warnings.push(warning.message);
  };
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('a client-level signal shared by concurrent calls', () => {
  // One listener per pending attempt, retry wait and beforeAttempt wait went on the client's signal: from the eleventh
  // call at once, Node printed "MaxListenersExceededWarning: Possible EventTarget memory leak detected" in the app's log.
  it('carries one listener while many attempts are in flight, and none after', async () => {
    const shutdown = new AbortController();
    const inFlight = barrier(CONCURRENT, () => getEventListeners(shutdown.signal, 'abort').length);
    const client = clientFor({ signal: shutdown.signal, fetch: async (request) => (await inFlight.wait(), fetch(request)) });
    let statuses: number[] = [];
    const warnings = await maxListenerWarnings(async () => (statuses = await concurrently(client)));
    expect(statuses).toEqual(Array(CONCURRENT).fill(200));
    expect(inFlight.seen).toEqual([1]);
    expect(warnings).toEqual([]);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('carries one listener while many calls wait in beforeAttempt (a rate limiter)', async () => {
    const shutdown = new AbortController();
    const queued = barrier(CONCURRENT, () => getEventListeners(shutdown.signal, 'abort').length);
    const client = clientFor({ signal: shutdown.signal, beforeAttempt: () => queued.wait() });
    let statuses: number[] = [];
    const warnings = await maxListenerWarnings(async () => (statuses = await concurrently(client)));
    expect(statuses).toEqual(Array(CONCURRENT).fill(200));
    expect(queued.seen).toEqual([1]);
    expect(warnings).toEqual([]);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('carries one listener while many calls wait to retry, and its abort ends every wait at once', async () => {
    await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: '500=1' }) });
    try {
      const shutdown = new AbortController();
      let waiting = 0;
      let listeners: number | undefined;
      const client = clientFor({
        signal: shutdown.signal,
        // An hour's backoff: the calls end only if the abort cancels their waits.
        retryBaseDelayMs: 3_600_000,
        logger: {
          // Called just before each call starts its wait, which listens synchronously.
          warn: () => {
            if (++waiting === CONCURRENT) {
              setImmediate(() => {
                listeners = getEventListeners(shutdown.signal, 'abort').length;
                shutdown.abort(new Error('shutting down'));
              });
            }
          },
        },
      });
      let kinds: string[] = [];
      const warnings = await maxListenerWarnings(async () => {
        kinds = await Promise.all(Array.from({ length: CONCURRENT }, async () => (await caught(availability(client))).kind));
      });
      expect(listeners).toBe(1);
      expect(kinds).toEqual(Array(CONCURRENT).fill('aborted'));
      expect(warnings).toEqual([]);
      expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    } finally {
      await fetch(`${sandbox.url}/__sandbox/reset`, { method: 'POST' });
    }
  });
});

describe('a per-call signal shared by every call (a shutdown signal)', () => {
  // Given to openapi-fetch, the signal reached `new Request(…, { signal })`, and undici's Request leaves its listener on
  // it until the Request is garbage-collected (nodejs/undici#3157): between collections an app passing one signal to
  // every call piled up listeners on it, and past 1500 Node printed a MaxListenersExceededWarning for each new one.
  it('carries one listener while many calls are in flight, and none as soon as they end', async () => {
    const shutdown = new AbortController();
    const inFlight = barrier(CONCURRENT, () => getEventListeners(shutdown.signal, 'abort').length);
    const client = clientFor({ fetch: async (request) => (await inFlight.wait(), fetch(request)) });
    const statuses = await Promise.all(
      Array.from({ length: CONCURRENT }, async () => (await client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId: sandbox.credentials.widgetIds[0] as string } }, signal: shutdown.signal })).response.status),
    );
    expect(statuses).toEqual(Array(CONCURRENT).fill(200));
    expect(inFlight.seen).toEqual([1]);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('carries none after pages of iteratePages, a loop left with break, and a streamed body read to its end', async () => {
    const shutdown = new AbortController();
    const client = clientFor({ apiToken: sandbox.credentials.apiToken });
    const params = { path: { orgId: sandbox.credentials.orgId }, query: { widgetId: sandbox.credentials.widgetIds[0] as string, start: sandbox.startDate, end: '2100-01-01' } };
    let pages = 0;
    for await (const _ of client.iteratePages('/api/v2/{orgId}/logs', { params, signal: shutdown.signal })) pages++;
    expect(pages).toBeGreaterThan(0);
    for await (const _ of client.iterateLogs({ orgId: params.path.orgId, ...params.query, signal: shutdown.signal })) break;
    const streamed = await client.GET('/api/v2/{orgId}/logs', { params, parseAs: 'stream', signal: shutdown.signal });
    // While its body is unread, the caller's signal must still reach it: the call keeps following the signal.
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    expect(await new Response(streamed.data as unknown as ReadableStream).text()).toContain('"cases"');
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });

  it('still aborts a call in flight, with the signal\'s reason as the cause', async () => {
    const shutdown = new AbortController();
    const reason = new Error('shutting down');
    const inFlight = barrier(1, () => 0);
    const client = clientFor({ fetch: async (request) => (await inFlight.wait(), shutdown.abort(reason), fetch(request)) });
    const error = await caught(client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId: 'w1' } }, signal: shutdown.signal }));
    expect(error.kind).toBe('aborted');
    expect(error.cause).toBe(reason);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
  });
});

describe('connections', () => {
  // A redirect is refused without reading its body: the connection stayed busy until the Response was collected,
  // and each such call opened a new one.
  it('are reused after a refused redirect: its body is let go', async () => {
    const server = await startScriptedServer((_req, res) => {
      const body = 'x'.repeat(100_000);
      res.writeHead(302, { location: '/elsewhere', 'content-type': 'text/html', 'content-length': body.length });
      res.end(body);
    });
    try {
      const client = createSnapEngageClient({ baseUrl: server.url, maxRetries: 0 });
      for (let i = 0; i < 6; i++) expect((await caught(availability(client))).kind).toBe('invalid_response');
      // undici opens a second connection after the first request even for a plain fetch whose body is read.
      expect(server.connections()).toBeLessThanOrEqual(2);
    } finally {
      await server.close();
    }
  });
});
