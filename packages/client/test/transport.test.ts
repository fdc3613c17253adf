// Transport behaviour that needs exact control over the server: Retry-After dates, timeouts, non-JSON 2xx,
// POST replay, redirects, the pagination loop guard and the origin guard. Everything else runs against the
// sandbox (sandbox.test.ts).
import { createHmac } from 'node:crypto';
import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FetchResponse } from 'openapi-fetch';
import { describe, expect, expectTypeOf, it, vi } from 'vitest';
import { createSnapEngageClient, unwrap, type components, type RequestLogEvent, type SnapEngageClientOptions, type UnwrappedData } from '../src/index.js';
import { caught } from './helpers/caught.js';
import { scriptedServersPerTest, sendJson, type ScriptedServer } from './helpers/scripted-server.js';

const TOKEN = 'tok-SECRET-a1b2c3d4';
const API_KEY = 'key-SECRET-e5f6g7h8';
const PROV_KEY = 'prov-SECRET-i9j0k1l2';
const LOGS = '/api/v2/{orgId}/logs';

const serve = scriptedServersPerTest();

function clientFor(server: ScriptedServer, extra: SnapEngageClientOptions = {}) {
  const events: RequestLogEvent[] = [];
  const warnings: string[] = [];
  const client = createSnapEngageClient({
    baseUrl: server.url,
    apiToken: TOKEN,
    apiKey: API_KEY,
    provisioningKey: PROV_KEY,
    retryBaseDelayMs: 1,
    logger: { request: (e) => events.push(e), warn: (m) => warnings.push(m) },
    ...extra,
  });
  return { client, events, warnings };
}

const logsQuery = { params: { path: { orgId: 'org1' }, query: { widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' } } };

describe('retries', () => {
  it('honours Retry-After given as an HTTP date, capped by retryAfterCapMs', async () => {
    const server = await serve((_req, res, i) => {
      if (i === 0) sendJson(res, 429, { error: 'slow down' }, { 'retry-after': new Date(Date.now() + 3_600_000).toUTCString() });
      else sendJson(res, 200, { cases: [{ id: 'c1' }] });
    });
    const { client, events, warnings } = clientFor(server, { retryAfterCapMs: 40 });
    const result = await client.GET(LOGS, logsQuery);
    expect(unwrap(result).cases).toEqual([{ id: 'c1' }]);
    expect(server.requests).toHaveLength(2);
    // The computed wait is the cap (not the hour the server asked for, nor the 1 ms backoff).
    // Which request it is (of a widget, a window, a case): the URL, credentials masked, as errors end with it.
    expect(warnings).toEqual([`${'GET ' + LOGS}: HTTP 429; retry 1 of 4 in 40 ms | ${server.url}/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-31`]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ method: 'GET', status: 200, retries: 1, retryReasons: ['HTTP 429'], operation: `GET ${LOGS}` });
  });

  it('logs why each retry was made, in order, and nothing for a request answered at once', async () => {
    const server = await serve((_req, res, i) => {
      if (i === 0) sendJson(res, 500, { error: 'boom' });
      else if (i === 1) res.socket?.destroy();
      else sendJson(res, 200, { cases: [] });
    });
    const { client, events } = clientFor(server);
    await client.GET(LOGS, logsQuery);
    await client.GET(LOGS, logsQuery);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ status: 200, retries: 2, retryReasons: ['HTTP 500', 'network'] });
    expect(events[1]).toMatchObject({ status: 200, retries: 0 });
    expect(events[1]).not.toHaveProperty('retryReasons');
  });

  it('returns the HTTP error after maxRetries, and unwrap() turns it into a typed error', async () => {
    const server = await serve((_req, res) => sendJson(res, 503, { message: 'down' }, { 'x-request-id': 'req-42' }));
    const { client, events } = clientFor(server, { maxRetries: 2 });
    const result = await client.GET(LOGS, logsQuery);
    expect(result.response.status).toBe(503);
    expect(result.error).toEqual({ message: 'down' });
    expect(server.requests).toHaveLength(3);
    const error = await caught(Promise.resolve().then(() => unwrap(result)));
    expect(error).toMatchObject({ kind: 'server', status: 503, operation: `GET ${LOGS}`, requestId: 'req-42', retries: 2 });
    expect(error.bodyExcerpt).toContain('down');
    expect(events[0]).toMatchObject({ status: 503, kind: 'server', retries: 2, retryReasons: ['HTTP 503', 'HTTP 503'] });
  });

  it('does not retry a 404 and maps it to not_found', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    const { client } = clientFor(server);
    const result = await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'nope' } } });
    expect(server.requests).toHaveLength(1);
    expect(() => unwrap(result)).toThrow(expect.objectContaining({ kind: 'not_found', status: 404 }));
  });

  it('never replays a POST that reached the server, even on 429 or a dropped connection', async () => {
    const server = await serve((req, res, i) => {
      if (i === 0) sendJson(res, 429, {}, { 'retry-after': '0' });
      else res.socket?.destroy();
    });
    const { client } = clientFor(server);
    const first = await client.POST('/api/v1/chat', { params: { query: { widgetId: 'w1', visitorMessage: 'hi' } } });
    expect(first.response.status).toBe(429);
    expect(server.requests).toHaveLength(1);
    const error = await caught(client.POST('/api/v1/chat', { params: { query: { widgetId: 'w1' } } }));
    expect(error.kind).toBe('network');
    expect(error.retries).toBe(0);
    expect(server.requests).toHaveLength(2);
    expect(server.requests.every((r) => r.method === 'POST' && r.headers['x-api-key'] === API_KEY)).toBe(true);
  });

  it('never replays the send-message PUT: the spec marks it x-snapengage-idempotent: false', async () => {
    const server = await serve((_req, res) => sendJson(res, 503, {}));
    const { client } = clientFor(server);
    const result = await client.PUT('/api/v1/chat', { params: { query: { caseId: 'c1', messageType: 1, messageBody: 'hello' } } });
    expect(result.response.status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it('never replays the create-user PUT either: a second call would fail on the user the first created', async () => {
    const server = await serve((_req, res) => sendJson(res, 503, {}));
    const { client } = clientFor(server);
    const body = { email: 'new@example.com', name: 'New', accountType: 'agent', password: 'x' } as never;
    const result = await client.PUT('/api/v1/user.json', { body });
    expect(result.response.status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a TLS failure no retry can fix: https:// against a plain-http server', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const client = createSnapEngageClient({ baseUrl: server.url.replace(/^http:/, 'https:'), apiToken: TOKEN, maxRetries: 3, retryBaseDelayMs: 1 });
    const error = await caught(client.GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'network', retries: 0 });
    expect(error.causeSummary).toContain('ERR_SSL_');
  });

  it('fails at once, as config, on a fetch rejection that is a mistake in the request (an unparsable URL, an invalid header value); a network TypeError is still retried', async () => {
    // Before, both were retried as network errors: maxRetries identical failures, then "network error".
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    for (const [what, send, said] of [
      // An app's fetch that rebuilt the URL without its scheme: undici's "Failed to parse URL from …".
      ['an unparsable URL', (request: Request) => fetch(request.url.replace(/^http:\/\//, '')), 'Failed to parse URL from 127.0.0.1:'],
      // An app's fetch that adds a header from text with a line break in it.
      ['an invalid header value', (request: Request) => fetch(request, { headers: { 'x-trace': 'a\nb' } }), 'is an invalid header value'],
      // A wrapper's own bug.
      ['a wrapper calling what is not a function', (request: Request) => (undefined as unknown as (r: Request) => Promise<Response>)(request), 'is not a function'],
      // A wrapper that signs the request with a key from an unset variable: Node's ERR_INVALID_ARG_TYPE, in words no
      // pattern knows ("The \"key\" argument must be of type …"), so only its code says it is a mistake.
      ['a wrapper handing Node an argument of the wrong type', (request: Request) => Promise.resolve().then(() => (createHmac('sha256', undefined as unknown as string), fetch(request))), 'argument must be of type'],
    ] as const) {
      let calls = 0;
      const { client, warnings } = clientFor(server, { maxRetries: 3, fetch: (request) => (calls++, send(request)) });
      const error = await caught(client.GET(LOGS, logsQuery));
      expect(error, what).toMatchObject({ kind: 'config', retries: 0 });
      expect(error.message, what).toContain(said);
      expect(error.message, what).toContain('a mistake in how it was made, not a network fault, so it was not retried');
      expect(error.message, what).not.toContain(TOKEN);
      expect([calls, warnings], what).toEqual([1, []]);
    }
    expect(server.requests).toHaveLength(0);
    // undici's TypeError for a network fault ("fetch failed", the reset as its cause) is retried as before.
    const resets = await serve((_req, res, i) => (i === 0 ? res.socket?.destroy() : sendJson(res, 200, { cases: [] })));
    const rejections: unknown[] = [];
    const { client, events } = clientFor(resets, { fetch: (request) => fetch(request).catch((error: unknown) => (rejections.push(error), Promise.reject(error))) });
    await client.GET(LOGS, logsQuery);
    expect(rejections).toHaveLength(1);
    expect(rejections[0]).toBeInstanceOf(TypeError);
    expect((rejections[0] as Error).message).toBe('fetch failed');
    expect(events[0]).toMatchObject({ status: 200, retries: 1, retryReasons: ['network'] });
    // A TypeError in words not known as a mistake (another runtime's network error) is retried too: tolerant.
    let first = true;
    const other = clientFor(server, { fetch: (request) => (first ? ((first = false), Promise.reject(new TypeError('Network connection lost.'))) : fetch(request)) });
    await other.client.GET(LOGS, logsQuery);
    expect(other.events[0]).toMatchObject({ status: 200, retries: 1, retryReasons: ['network'] });
  });

  it('reads a TypeError from the body of an answer as the failed read it is, not as a request fetch rejected', async () => {
    // fetch resolved: the request was made right. An app fetch whose body stream fails (its own transform's bug) in
    // words that name a mistake is a body that could not be read, retried as a network error.
    let calls = 0;
    const failing = () => new ReadableStream({ pull: () => Promise.reject(new TypeError('transform is not a function')) });
    const fetch = async () => (calls++, new Response(failing(), { headers: { 'content-type': 'application/json' } }));
    const error = await caught(createSnapEngageClient({ baseUrl: 'http://127.0.0.1:9', apiToken: TOKEN, fetch, maxRetries: 1, retryBaseDelayMs: 1 }).GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'network', retries: 1 });
    expect(error.message).not.toContain('fetch rejected the request');
    expect(calls).toBe(2);
  });

  it('retries a POST whose connection was refused (it never reached a server)', async () => {
    const server = await serve(() => undefined);
    const url = server.url;
    await server.close();
    const client = createSnapEngageClient({ baseUrl: url, apiKey: API_KEY, maxRetries: 2, retryBaseDelayMs: 1 });
    const error = await caught(client.POST('/api/v1/chat', { params: { query: { widgetId: 'w1' } } }));
    expect(error).toMatchObject({ kind: 'network', retries: 2, operation: 'POST /api/v1/chat' });
    expect(error.causeSummary).toContain('ECONNREFUSED');
  });

  it('re-sends the JSON body on a retry: a create-user PUT whose connection was refused is sent again, whole', async () => {
    // Nothing listens at first (connection refused: the request never left); the server comes up before the retry.
    const probe = await serve(() => undefined);
    const port = Number(new URL(probe.url).port);
    await probe.close();
    let revived: Promise<ScriptedServer> | undefined;
    const client = createSnapEngageClient({
      baseUrl: probe.url,
      provisioningKey: PROV_KEY,
      retryBaseDelayMs: 300,
      logger: { warn: () => void (revived ??= serve((_req, res) => sendJson(res, 201, { email: 'a@b.c' }), port)) },
    });
    const body = { email: 'a@b.c', name: 'A', accountType: 'trial' as const, password: 'pw-12345' };
    const result = await client.PUT('/api/v1/user.json', { body });
    const server = await revived!;
    expect(unwrap(result)).toEqual({ email: 'a@b.c' });
    expect(server.requests.map((r) => JSON.parse(r.body))).toEqual([body]);
    expect(new URL(server.requests[0]!.url, server.url).searchParams.get('api_key')).toBe(PROV_KEY);
  });
});

describe('timeouts, cancellation and bad responses', () => {
  it('times out a hanging response per attempt and retries idempotent calls', async () => {
    const server = await serve(() => undefined); // never answers
    const { client, events } = clientFor(server, { timeoutMs: 100, maxRetries: 1 });
    const error = await caught(client.GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'timeout', retries: 1 });
    expect(error.message).toContain('timeoutMs=100');
    expect(server.requests).toHaveLength(2);
    expect(events[0]).toMatchObject({ kind: 'timeout', retries: 1, retryReasons: ['timeout'] });
  });

  it('times out a POST without sending it again: it reached the server, which may have started the chat', async () => {
    const server = await serve(() => undefined); // never answers
    const { client } = clientFor(server, { timeoutMs: 100, maxRetries: 2 });
    const error = await caught(client.POST('/api/v1/chat', { params: { query: { widgetId: 'w1', visitorMessage: 'hi' } } }));
    expect(error).toMatchObject({ kind: 'timeout', retries: 0 });
    expect(server.requests).toHaveLength(1);
  });

  it("retries an error status of a parseAs: 'stream' call as any other, and hands back the good answer's stream", async () => {
    // A stream is handed back as it comes only on success: an error status is read, retried when it may pass.
    const page = { cases: [{ id: 'c1' }] };
    const server = await serve((_req, res, i) => (i === 0 ? sendJson(res, 503, { error: 'busy' }) : sendJson(res, 200, page)));
    const { client, events } = clientFor(server, { maxRetries: 2 });
    const streamed = await client.GET(LOGS, { ...logsQuery, parseAs: 'stream' });
    expect(streamed.response.status).toBe(200);
    expect(JSON.parse(await new Response(streamed.data as ReadableStream).text())).toEqual(page);
    expect(server.requests).toHaveLength(2);
    expect(events[0]).toMatchObject({ status: 200, retries: 1 });
  });

  it('beforeAttempt runs before every attempt, outside its timeoutMs, and its signal aborts with the caller', async () => {
    let calls = 0;
    const server = await serve((req, res) => (calls++ === 0 ? sendJson(res, 503, {}) : sendJson(res, 200, { cases: [] })));
    let waits = 0;
    // A limiter's queue longer than timeoutMs: the attempts are not timed out by it. (A timeout a loopback request on
    // a loaded machine does not reach: at 100 ms one could, and the call then failed by its own timeout.)
    const beforeAttempt = async () => {
      waits++;
      await new Promise((resolve) => setTimeout(resolve, 600));
    };
    const { client, events } = clientFor(server, { timeoutMs: 400, maxRetries: 1, beforeAttempt });
    const callStart = Date.now();
    expect(unwrap(await client.GET(LOGS, logsQuery))).toEqual({ cases: [] });
    const callMs = Date.now() - callStart;
    expect(waits).toBe(2); // the first attempt and the retry
    expect(server.requests).toHaveLength(2);
    // The queue's time is reported apart (queuedMs: two waits of 600 ms timers), not as the request's duration: a
    // verbose line said the API took the limiter's seconds. Both come out of the call's time.
    const [event] = events;
    expect(event?.queuedMs).toBeGreaterThanOrEqual(2 * 595);
    expect(event!.durationMs + event!.queuedMs!).toBeLessThanOrEqual(callMs + 1);

    const perCall = new AbortController();
    let seen: AbortSignal | undefined;
    const held = clientFor(server, { beforeAttempt: (signal) => ((seen = signal), new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)))) }).client;
    const pending = held.GET(LOGS, { ...logsQuery, signal: perCall.signal });
    setTimeout(() => perCall.abort(), 20);
    expect((await caught(pending)).kind).toBe('aborted');
    expect(seen?.aborted).toBe(true);
    expect(server.requests).toHaveLength(2); // nothing sent
  });

  it('passes an error of its own beforeAttempt hook to the caller as thrown, on the first attempt and on a retry', async () => {
    let calls = 0;
    const server = await serve((req, res) => (calls++ === 0 ? sendJson(res, 503, {}) : sendJson(res, 200, { cases: [] })));
    const broken = new Error('limiter state lost');
    let waits = 0;
    for (const failOn of [1, 2]) {
      waits = 0;
      calls = 0;
      const { client } = clientFor(server, { maxRetries: 1, beforeAttempt: async () => { if (++waits === failOn) throw broken; } });
      await expect(client.GET(LOGS, logsQuery)).rejects.toBe(broken);
      expect(waits).toBe(failOn);
    }
    expect(server.requests).toHaveLength(1); // only the first run's first attempt was sent
  });

  it('honours the per-call and the client-level AbortSignal', async () => {
    const server = await serve(() => undefined);
    const perCall = new AbortController();
    const { client } = clientFor(server);
    const pending = client.GET(LOGS, { ...logsQuery, signal: perCall.signal });
    setTimeout(() => perCall.abort(), 20);
    expect((await caught(pending)).kind).toBe('aborted');

    const clientLevel = new AbortController();
    clientLevel.abort();
    const aborted = clientFor(server, { signal: clientLevel.signal }).client;
    expect((await caught(aborted.GET(LOGS, logsQuery))).kind).toBe('aborted');
  });

  it('honours the per-call AbortSignal through an app middleware that rebuilds the request, and on every page', async () => {
    // The first page links to a second one, which hangs; so does widget `hang`.
    const server = await serve((req, res) => {
      if (!/next=2|hang/.test(req.url)) sendJson(res, 200, { cases: [{ id: 'first' }], linkToNextSetOfResults: `${server.url}/api/v2/org1/logs?widgetId=w1&next=2` });
    });
    const { client } = clientFor(server, { timeoutMs: 5_000 });
    // The app's request follows openapi-fetch's (and that one the caller's signal) only while openapi-fetch's request
    // lives: once it was collected, the caller's abort reached nothing and the call ran into its timeout.
    client.use({ onRequest: ({ request }) => new Request(request, { headers: { 'x-app': '1' } }) });
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collectThenAbort = async (controller: AbortController) => {
      for (let i = 0; i < 5; i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      controller.abort(new Error('the caller gave up'));
    };
    const perCall = new AbortController();
    const single = client.GET(LOGS, { ...logsQuery, params: { ...logsQuery.params, query: { ...logsQuery.params.query, widgetId: 'hang' } }, signal: perCall.signal });
    const started = Date.now();
    await collectThenAbort(perCall);
    expect((await caught(single)).kind).toBe('aborted');
    const perRun = new AbortController();
    const ids: string[] = [];
    const paging = (async () => {
      for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31', signal: perRun.signal })) {
        ids.push(c.id ?? '');
        setTimeout(() => void collectThenAbort(perRun), 50);
      }
    })();
    expect((await caught(paging)).kind).toBe('aborted');
    expect(ids).toEqual(['first']);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('reports a 2xx whose body is not JSON as invalid_response (after retrying a GET)', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>maintenance</html>');
    });
    const { client } = clientFor(server, { maxRetries: 1 });
    const error = await caught(client.GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'invalid_response', status: 200, retries: 1 });
    expect(error.bodyExcerpt).toContain('maintenance');
  });

  it("shows a body's terminal control characters escaped in the excerpt and message, not raw (a hostile or broken server's text reaches a terminal)", async () => {
    // OSC 52 writes the terminal's clipboard; cursor-up and erase-line hide the lines above; a bidi override reorders text.
    const hostile = 'bad \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[1A\x1b[2K \x9b31m \u202eevil';
    const server = await serve((_req, res) => {
      // A header is latin1: 0x9b is C1's CSI, as the body's \x9b is once decoded.
      res.writeHead(400, { 'content-type': 'text/plain', 'x-request-id': 'req-\x9b2J' });
      res.end(hostile);
    });
    const { client } = clientFor(server, { maxRetries: 0 });
    const error = await caught(Promise.resolve(client.GET(LOGS, logsQuery)).then(unwrap));
    expect(error).toMatchObject({ kind: 'bad_request', status: 400, requestId: 'req-\\u009b2J' });
    expect(error.bodyExcerpt).toBe('bad \\u001b]52;c;cm0gLXJmIH4=\\u0007 \\u001b[1A\\u001b[2K \\u009b31m \\u202eevil');
    expect(error.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/);
  });

  it("escapes a server's C1 controls in the status text, a Content-Type and an unparsable Location as in the body (all three are quoted in the message); a status text with a byte that is no UTF-8 is a SnapEngageError", async () => {
    // Header text and the reason phrase are latin1: 0x9b is C1's CSI, which terminals that honour C1 read as ESC [.
    const C1 = /[\u0080-\u009f]/;
    // The reason phrase is read as UTF-8: C2 9B is U+009B, and a lone latin1 byte (a proxy's "Requ\xeate") U+FFFD,
    // which Response's ByteString check refused with a bare TypeError instead of the call's SnapEngageError.
    const status = await serve((_req, res) => {
      res.writeHead(400, 'Requ\xeate \xc2\x9b2J', { 'content-type': 'application/json' });
      res.end('{}');
    });
    const statusError = await caught(Promise.resolve(clientFor(status, { maxRetries: 0 }).client.GET(LOGS, logsQuery)).then(unwrap));
    expect(statusError).toMatchObject({ kind: 'bad_request', status: 400 });
    expect(statusError.message).toContain('HTTP 400 Requ\\ufffdte \\u009b2J');
    expect(statusError.message).not.toMatch(C1);
    const contentType = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; x=\x9b2J' });
      res.end('<html>');
    });
    const typeError = await caught(Promise.resolve(clientFor(contentType, { maxRetries: 0 }).client.GET(LOGS, logsQuery)).then(unwrap));
    expect(typeError.message).toContain('x=\\u009b2J');
    expect(typeError.message).not.toMatch(C1);
    const location = await serve((_req, res) => {
      res.writeHead(302, { location: 'http://a\x9b2J/' });
      res.end();
    });
    const redirectError = await caught(Promise.resolve(clientFor(location, { maxRetries: 0 }).client.GET(LOGS, logsQuery)).then(unwrap));
    expect(redirectError.message).toContain('a\\u009b2J');
    expect(redirectError.message).not.toMatch(C1);
  });

  it('does not follow redirects (credentials stay on the configured host)', async () => {
    const other = await serve((_req, res) => sendJson(res, 200, {}));
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: `${other.url}/api/v1/widget.json?api_key=${PROV_KEY}` });
      res.end();
    });
    const { client } = clientFor(server);
    const error = await caught(client.GET('/api/v1/widget.json', { params: { query: { uuid: 'w1', email: 'a@b.c' } } }));
    expect(error.kind).toBe('invalid_response');
    expect(other.requests).toHaveLength(0);
    expect(error.message).not.toContain(PROV_KEY);
  });

  it("reports a browser's opaque redirect (status 0) as a redirect with no status, not as HTTP status 0", async () => {
    // What a browser's fetch answers with redirect: 'manual': type 'opaqueredirect', status 0, no headers.
    const opaque = () => Object.defineProperties(new Response(null), { type: { value: 'opaqueredirect' }, status: { value: 0 }, ok: { value: false } });
    const client = createSnapEngageClient({ baseUrl: 'http://127.0.0.1:9', apiToken: TOKEN, fetch: async () => opaque(), maxRetries: 0 });
    const error = await caught(client.GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'invalid_response', status: undefined });
    expect(error.message).toContain('to an unknown location');
  });
});

describe('streamed bodies', () => {
  it('lets the per-call signal abort a streamed body (long after the call returned), and lets go once a body is read', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"cases":[');
      if (!req.url.includes('hang')) res.end(']}');
    });
    const clientSignal = new AbortController();
    const { client } = clientFor(server, { timeoutMs: 2_000, signal: clientSignal.signal });
    const caller = new AbortController();
    const hanging = await client.GET(LOGS, { ...logsQuery, params: { ...logsQuery.params, query: { ...logsQuery.params.query, widgetId: 'hang' } }, parseAs: 'stream', signal: caller.signal });
    const reader = (hanging.data as unknown as ReadableStream<Uint8Array>).getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('{"cases":[');
    setTimeout(() => caller.abort(new Error('caller gave up')), 50);
    const started = Date.now();
    await expect(reader.read()).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1_500);

    // Only the transport listens to the client-level signal: once a body is read, nothing is left on it.
    const complete = await client.GET(LOGS, { ...logsQuery, parseAs: 'stream' });
    expect(await new Response(complete.data as unknown as ReadableStream).text()).toBe('{"cases":[]}');
    expect(getEventListeners(clientSignal.signal, 'abort')).toHaveLength(0);
  });

  it('a streamed body that fails part-way rejects with a SnapEngageError: network for a dropped connection, aborted (the caller\'s reason as cause) for an abort', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"cases":[');
      if (req.url.includes('drop')) setTimeout(() => res.destroy(), 20);
    });
    const { client } = clientFor(server, { timeoutMs: 5_000 });
    const query = (widgetId: string) => ({ ...logsQuery, params: { ...logsQuery.params, query: { ...logsQuery.params.query, widgetId } } });
    const read = async (body: unknown) => {
      const reader = (body as ReadableStream<Uint8Array>).getReader();
      for (let i = 0; i < 100; i++) if ((await reader.read()).done) return;
    };

    const dropped = await client.GET(LOGS, { ...query('drop'), parseAs: 'stream' });
    const network = await caught(read(dropped.data));
    expect(network.kind).toBe('network');
    expect(network.operation).toBe('GET /api/v2/{orgId}/logs');
    expect(network.message).toContain('while reading the streamed body');
    expect(network.message).not.toContain(TOKEN);

    const caller = new AbortController();
    const reason = new Error('caller gave up');
    const hanging = await client.GET(LOGS, { ...query('hang'), parseAs: 'stream', signal: caller.signal });
    setTimeout(() => caller.abort(reason), 20);
    const aborted = await caught(read(hanging.data));
    expect(aborted.kind).toBe('aborted');
    expect(aborted.cause).toBe(reason);
  });

  /** Reads a chunk, collects garbage, then aborts the caller's signal: the next read must fail as that abort. */
  async function expectAbortAfterCollection(reader: ReadableStreamDefaultReader<Uint8Array>, caller: AbortController): Promise<void> {
    const reason = new Error('shutting down');
    await reader.read();
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    setTimeout(() => caller.abort(reason), 20);
    const failed = await Promise.race([caught(reader.read()), new Promise<undefined>((resolve) => setTimeout(resolve, 2_000))]);
    expect(failed?.kind).toBe('aborted');
    expect(failed?.cause).toBe(reason);
  }

  it('a caller\'s abort still ends a streamed body being read after a garbage collection', async () => {
    // fetch follows the attempt's signal through a Request of its own that undici links weakly and nobody holds once
    // the headers came: collected, the abort no longer reached the body, and the read hung until the server gave up.
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"cases":[');
    });
    const { client } = clientFor(server, { timeoutMs: 5_000 });
    const caller = new AbortController();
    const streamed = await client.GET(LOGS, { ...logsQuery, parseAs: 'stream', signal: caller.signal });
    const reader = (streamed.data as unknown as ReadableStream<Uint8Array>).getReader();
    await expectAbortAfterCollection(reader, caller);
  });

  it('a caller\'s abort ends a streamed body whose app kept only its reader, after a garbage collection', async () => {
    // An app that takes the reader and drops the response: only the reader holds the body, so it alone must keep what
    // the client's abort listener reaches (the listener holds it weakly, so that a dropped body can go).
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"cases":[');
    });
    const { client } = clientFor(server, { timeoutMs: 5_000 });
    const caller = new AbortController();
    const readerOnly = async () => ((await client.GET(LOGS, { ...logsQuery, parseAs: 'stream', signal: caller.signal })).data as unknown as ReadableStream<Uint8Array>).getReader();
    const reader = await readerOnly();
    await expectAbortAfterCollection(reader, caller);
  });

  it('lets go of the caller\'s signal at once after an empty streamed answer (Content-Length: 0), which openapi-fetch never hands over', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' });
      res.end();
    });
    const { client } = clientFor(server);
    const caller = new AbortController();
    for (let i = 0; i < 3; i++) expect((await client.GET(LOGS, { ...logsQuery, parseAs: 'stream', signal: caller.signal })).data).toBeUndefined();
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });

  it('lets go of a streamed body an app onResponse drops (throws, or returns another Response)', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const clientSignal = new AbortController();
    const { client } = clientFor(server, { signal: clientSignal.signal });
    let replace = false;
    client.use({
      onResponse: () => {
        if (replace) return Response.json({ cases: [{ id: 'replaced' }] });
        throw new Error('middleware failed');
      },
    });
    for (let i = 0; i < 4; i++) await expect(client.GET(LOGS, { ...logsQuery, parseAs: 'stream' })).rejects.toThrow('middleware failed');
    replace = true;
    for (let i = 0; i < 4; i++) expect(await new Response((await client.GET(LOGS, { ...logsQuery, parseAs: 'stream' })).data as unknown as ReadableStream).json()).toEqual({ cases: [{ id: 'replaced' }] });
    // Nobody can read or cancel those bodies: each attempt kept its listener on the client's signal for good.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 20 && getEventListeners(clientSignal.signal, 'abort').length > 0; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(getEventListeners(clientSignal.signal, 'abort')).toHaveLength(0);
  });
});

describe('odd responses', () => {
  it('reads a body in the charset its header names when it is not UTF-8 (a Java servlet\'s ISO-8859-1), and UTF-8 bytes as UTF-8 whatever the header says', async () => {
    const page = { cases: [{ id: 'c1', description: 'café für Zoë' }] };
    const server = await serve((req, res) => {
      const latin1 = req.url.includes('widgetId=latin1');
      res.writeHead(200, { 'content-type': 'application/json;charset=ISO-8859-1' });
      // The same header on both: only bytes that are not UTF-8 are read as ISO-8859-1.
      res.end(Buffer.from(JSON.stringify(page), latin1 ? 'latin1' : 'utf8'));
    });
    const { client } = clientFor(server);
    for (const widgetId of ['latin1', 'utf8']) {
      const result = await client.GET(LOGS, { params: { path: { orgId: 'org1' }, query: { widgetId, start: '2024-01-01', end: '2024-01-31' } } });
      expect(result.data).toEqual(page);
    }
  });

  it('drops a byte order mark before the body (UTF-8, or UTF-16 under its charset) and keeps one inside a text, and an escaped lone surrogate', async () => {
    // A chat cut in the middle of an emoji by a length limit arrives as a lone surrogate escape, valid JSON.
    const page = { cases: [{ id: 'c1', description: '\ufeffstarts with a BOM', transcripts: [{ message: 'cut \ud83d' }] }] };
    const server = await serve((req, res) => {
      const utf16 = req.url.includes('widgetId=utf16');
      res.writeHead(200, { 'content-type': utf16 ? 'application/json; charset=utf-16' : 'application/json' });
      const text = JSON.stringify(page);
      res.end(utf16 ? Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) : Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]));
    });
    const { client } = clientFor(server);
    for (const widgetId of ['utf8', 'utf16']) {
      const result = await client.GET(LOGS, { params: { path: { orgId: 'org1' }, query: { widgetId, start: '2024-01-01', end: '2024-01-31' } } });
      expect(result.data).toEqual(page);
    }
  });

  it("reads an error body and a parseAs: 'text' body in the charset the header names too, not only a JSON page", async () => {
    const server = await serve((req, res) => {
      const failed = req.url.includes('widgetId=bad');
      res.writeHead(failed ? 400 : 200, { 'content-type': 'application/json;charset=ISO-8859-1' });
      res.end(Buffer.from(JSON.stringify(failed ? { error: 'Paramètre invalide' } : { cases: [{ id: 'c1', description: 'café' }] }), 'latin1'));
    });
    const { client } = clientFor(server);
    const query = (widgetId: string) => ({ params: { path: { orgId: 'org1' }, query: { widgetId, start: '2024-01-01', end: '2024-01-31' } } });
    // openapi-fetch reads an error body, and a body asked for as text, with response.text().
    expect((await client.GET(LOGS, query('bad'))).error).toEqual({ error: 'Paramètre invalide' });
    // An error body is read as text whatever the call asked the data for: as bytes too.
    expect((await client.GET(LOGS, { ...query('bad'), parseAs: 'arrayBuffer' })).error).toEqual({ error: 'Paramètre invalide' });
    expect((await client.GET(LOGS, { ...query('ok'), parseAs: 'text' })).data).toBe(JSON.stringify({ cases: [{ id: 'c1', description: 'café' }] }));
  });

  it('gives every reader of such a body its text, not only openapi-fetch: a clone, an app middleware that logs or re-wraps it', async () => {
    const server = await serve((req, res) => {
      const failed = req.url.includes('widgetId=bad');
      res.writeHead(failed ? 400 : 200, { 'content-type': 'application/json;charset=ISO-8859-1' });
      res.end(Buffer.from(JSON.stringify(failed ? { error: 'Paramètre invalide' } : { cases: [{ id: 'c1', description: 'café' }] }), 'latin1'));
    });
    const query = (widgetId: string) => ({ params: { path: { orgId: 'org1' }, query: { widgetId, start: '2024-01-01', end: '2024-01-31' } } });
    const page = { cases: [{ id: 'c1', description: 'café' }] };
    const plain = clientFor(server).client;
    const ok = await plain.GET(LOGS, query('ok'));
    expect(await ok.response.clone().json()).toEqual(page);
    // What was decoded is labelled so: the header no longer names a charset the bytes are not in.
    expect(ok.response.headers.get('content-type')).toBe('application/json;charset=utf-8');
    // Bytes asked for as bytes are the server's own.
    const raw = await plain.GET(LOGS, { ...query('ok'), parseAs: 'arrayBuffer' });
    expect(Buffer.from(raw.data as ArrayBuffer).toString('latin1')).toBe(JSON.stringify(page));
    expect(raw.response.headers.get('content-type')).toBe('application/json;charset=ISO-8859-1');
    // An app's onResponse that logs the body (from a clone) and one that hands back a Response of its own (the
    // pattern call-meta.ts keeps the meta for): neither reads the transport's Response through its text().
    const seen: string[] = [];
    const { client } = clientFor(server);
    client.use(
      { onResponse: ({ response }) => new Response(response.body, response) },
      { onResponse: async ({ response }) => void seen.push(await response.clone().text()) },
    );
    expect((await client.GET(LOGS, query('bad'))).error).toEqual({ error: 'Paramètre invalide' });
    expect((await client.GET(LOGS, query('ok'))).data).toEqual(page);
    expect(seen).toEqual([JSON.stringify({ error: 'Paramètre invalide' }), JSON.stringify(page)]);
  });

  it('lets go of an attempt whose response never reached the transport (a user middleware threw first)', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const controller = new AbortController();
    // The attempts' listeners go when the calls fail, well before their timeouts (50 ms here once: on a loaded machine a
    // loopback request took longer, and the call failed by its timeout, not by the middleware).
    const { client } = clientFor(server, { timeoutMs: 30_000, signal: controller.signal });
    client.use({ onResponse: () => { throw new Error('middleware failed'); } });
    for (let i = 0; i < 12; i++) await expect(client.GET(LOGS, logsQuery)).rejects.toThrow('middleware failed');
    await vi.waitFor(() => expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0), { timeout: 5_000, interval: 50 });
  });

  it('keeps the transport innermost: an app middleware sees requests without credentials and only final responses', async () => {
    const server = await serve((req, res, i) => {
      if (i === 0) sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '0' });
      else sendJson(res, 200, { cases: [{ id: 'c1' }], seen: req.headers['x-app'] ?? null });
    });
    const { client, events } = clientFor(server);
    const seen: string[] = [];
    for (const name of ['first', 'second']) {
      client.use({
        onRequest: ({ request }) => {
          seen.push(`${name} request ${request.url} ${JSON.stringify([...request.headers])}`);
          const headers = new Headers(request.headers);
          headers.set('x-app', name);
          return new Request(request, { headers });
        },
        onResponse: ({ response }) => void seen.push(`${name} response ${response.status}`),
      });
    }
    const result = await client.GET(LOGS, logsQuery);
    expect(result.data).toEqual({ cases: [{ id: 'c1' }], seen: 'second' });
    expect(events.map((e) => e.retries)).toEqual([1]);
    expect(seen.filter((line) => line.includes('response'))).toEqual(['second response 200', 'first response 200']);
    expect(seen.join('\n')).not.toMatch(new RegExp(`${TOKEN}|${API_KEY}|${PROV_KEY}`));
  });

  it('hands an app onResponse and onError the request without its credentials, though it went out with them', async () => {
    const server = await serve((req, res) => (req.url.includes('widgetId=down') ? res.socket?.destroy() : sendJson(res, 200, { cases: [] })));
    const { client } = clientFor(server, { maxRetries: 0 });
    const seen: string[] = [];
    const show = (hook: string, request: Request) => {
      const copy = request.clone();
      seen.push(`${hook} ${request.url} ${JSON.stringify([...request.headers])} ${copy.url} ${copy.clone().url} ${JSON.stringify([...copy.headers])}`);
    };
    client.use({
      onRequest: ({ request }) => new Request(request, { headers: { ...Object.fromEntries(request.headers), 'x-app': 'mine' } }),
      onResponse: ({ request }) => void show('onResponse', request),
      onError: ({ request }) => void show('onError', request),
    });
    // The Authorization header (apiToken), and the api_key query parameter (provisioningKey).
    await client.GET(LOGS, logsQuery);
    await client.GET('/api/v1/widget.json', { params: { query: { uuid: 'w1', email: 'a@b.c' } } });
    await caught(client.GET(LOGS, { params: { path: { orgId: 'org1' }, query: { widgetId: 'down', start: '2024-01-01', end: '2024-01-31' } } }));
    expect(server.requests.map((r) => [r.headers.authorization ?? null, new URL(r.url, server.url).searchParams.get('api_key'), r.headers['x-app']])).toEqual([
      [TOKEN, null, 'mine'],
      [null, PROV_KEY, 'mine'],
      [TOKEN, null, 'mine'],
    ]);
    expect(seen.map((line) => line.split(' ')[0])).toEqual(['onResponse', 'onResponse', 'onError']);
    // The request openapi-fetch hands them is the one the transport sent: it carried every credential.
    expect(seen.join('\n')).not.toMatch(new RegExp(`${TOKEN}|${API_KEY}|${PROV_KEY}`));
    expect(seen[1]).toContain('api_key=***');
    expect(seen.every((line) => line.includes('"x-app","mine"'))).toBe(true);
  });

  it('keeps the transport when use() refuses a middleware', async () => {
    const server = await serve((req, res, i) => {
      if (i === 0) sendJson(res, 429, { error: 'slow down' }, { 'retry-after': '0' });
      else sendJson(res, 200, { cases: [], auth: req.headers.authorization ?? null });
    });
    const { client } = clientFor(server);
    expect(() => client.use({} as never)).toThrow('Middleware must be an object');
    // Without it the request went out without its token and the 429 came back unretried.
    const result = await client.GET(LOGS, logsQuery);
    expect(result.data).toEqual({ cases: [], auth: TOKEN });
    expect(server.requests).toHaveLength(2);
  });

  it('keeps what it knows of a response an app middleware replaced: the page URL for links and the loop guard, the body for errors', async () => {
    const server = await serve((req, res) => {
      if (req.url.includes('widgetId=bad')) return sendJson(res, 400, { message: 'start is after end' }, { 'x-request-id': 'req-7' });
      // Page 1 links to page 2 with a relative path; page 2 links back to itself.
      sendJson(res, 200, { cases: [{ id: req.url }], linkToNextSetOfResults: req.url.includes('next') ? '?next=2' : 'logs?next=2' });
    });
    const { client } = clientFor(server);
    client.use({ onResponse: ({ response }) => new Response(response.body, response) });
    const ids: string[] = [];
    const error = await caught((async () => {
      for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })) ids.push(c.id ?? '');
    })());
    // Without the page's URL the link went to baseUrl (/?next=2), and the same page was fetched up to maxPages times.
    expect(error.message).toContain('repeats a page already fetched');
    expect(server.requests.map((r) => r.url.replace(/[?&]api_key=[^&]*/, ''))).toEqual([
      '/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-31',
      '/api/v2/org1/logs?next=2',
    ]);
    const failed = await client.GET(LOGS, { params: { path: { orgId: 'org1' }, query: { widgetId: 'bad', start: '2024-01-01', end: '2024-01-31' } } });
    const bad = await caught(Promise.resolve().then(() => unwrap(failed)));
    expect(bad).toMatchObject({ kind: 'bad_request', operation: `GET ${LOGS}`, requestId: 'req-7' });
    expect(bad.message).toContain('start is after end');
  });

  it('hands the final error to an app onError, which may answer the call', async () => {
    const server = await serve((_req, res) => res.socket?.destroy());
    const { client } = clientFor(server, { maxRetries: 1 });
    const seen: unknown[] = [];
    let answer = false;
    client.use({ onError: ({ error }) => (seen.push(error), answer ? Response.json({ cases: [{ id: 'offline' }] }) : undefined) });
    // The transport threw its error from its own onError, so no app onError ever ran.
    const error = await caught(client.GET(LOGS, logsQuery));
    expect(error).toMatchObject({ kind: 'network', retries: 1 });
    expect(seen).toEqual([error]);
    answer = true;
    expect((await client.GET(LOGS, logsQuery)).data).toEqual({ cases: [{ id: 'offline' }] });
    expect(seen).toHaveLength(2);
    expect(server.requests).toHaveLength(4);
  });

  it('lets an app middleware answer a request itself', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const { client } = clientFor(server);
    client.use({ onRequest: () => Response.json({ cases: [{ id: 'cached' }] }) });
    expect((await client.GET(LOGS, logsQuery)).data).toEqual({ cases: [{ id: 'cached' }] });
    expect(server.requests).toHaveLength(0);
  });

  it('keeps nothing of a call whose response never reached the transport, once the call is over', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const { client } = clientFor(server);
    // The call's `options` object is what the transport's per-call state hangs on; it must become collectable.
    const collected = new Set<number>();
    const registry = new FinalizationRegistry<number>((call) => collected.add(call));
    let call = 0;
    client.use({
      onRequest: ({ options }) => void registry.register(options, call),
      onResponse: () => { throw new Error('middleware failed'); },
    });
    for (call = 0; call < 3; call++) await expect(client.GET(LOGS, logsQuery)).rejects.toThrow('middleware failed');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    for (let i = 0; i < 20 && collected.size < 3; i++) {
      gc();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect([...collected].sort()).toEqual([0, 1, 2]);
  });

  it('reports a redirect to an unparsable location as invalid_response, without the credentials', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(302, { location: 'http://[oops' });
      res.end();
    });
    const { client } = clientFor(server);
    const error = await caught(client.GET('/api/v1/widget.json', { params: { query: { uuid: 'w1', email: 'a@b.c' } } }));
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toContain('"http://[oops"');
    expect(JSON.stringify({ ...error, message: error.message, cause: String(error.cause) })).not.toContain(PROV_KEY);
  });

  it('answers a 2xx body of only whitespace as an empty body', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('\n  \n');
    });
    const { client } = clientFor(server);
    const result = await client.GET(LOGS, logsQuery);
    expect(result.response.ok).toBe(true);
    expect(result.data).toBeUndefined();
  });

  it('unwrap throws invalid_response for a 2xx with no body on an operation whose spec promises one (its type has no undefined)', async () => {
    // What the sandbox never sends: a 204, a 200 with Content-Length 0, a 200 of only whitespace.
    const server = await serve((req, res, i) => {
      if (i === 0) res.writeHead(204, { 'x-request-id': 'req-204' }).end();
      else if (i === 1) res.writeHead(200, { 'content-type': 'application/json', 'content-length': '0' }).end();
      else if (i === 2) res.writeHead(200, { 'content-type': 'application/json' }).end(' \n');
      else res.writeHead(204).end();
    });
    const { client } = clientFor(server);
    const widget = { params: { path: { widgetId: 'w1' } } };
    const first = await client.GET('/api/v1/chat/{widgetId}', widget);
    expect(first.data).toBeUndefined(); // openapi-fetch's own answer stays as it was
    const noContent = (() => {
      try {
        return unwrap(first);
      } catch (error) {
        return error;
      }
    })();
    expect(noContent).toMatchObject({ kind: 'invalid_response', status: 204, operation: 'GET /api/v1/chat/{widgetId}', requestId: 'req-204', url: `${server.url}/api/v1/chat/w1` });
    expect((noContent as Error).message).toContain('HTTP 204 with no body');
    for (const status of [200, 200]) {
      const result = await client.GET('/api/v1/chat/{widgetId}', widget);
      expect(() => unwrap(result)).toThrow(expect.objectContaining({ kind: 'invalid_response', status }));
    }
    // An operation that is never replayed (start chat) got a success status: the error says it may have acted.
    const started = await client.POST('/api/v1/chat', { params: { query: { widgetId: 'w1', visitorMessage: 'hi' } } });
    expect(() => unwrap(started)).toThrow(/HTTP 204 with no body.*; POST \/api\/v1\/chat may still have acted on the server \(a chat started, a user created\): check before calling it again/);
    expect((noContent as Error).message).not.toContain('may still have acted');
    // The data type: no undefined where every success response of the spec has content (all of them today) …
    expectTypeOf(unwrap<typeof first>).returns.toEqualTypeOf<components['schemas']['WidgetAvailability']>();
    const logsData = async () => unwrap(await client.GET(LOGS, logsQuery)); // typed only, never called
    expectTypeOf(logsData).returns.resolves.toEqualTypeOf<components['schemas']['LogsPage']>();
    // … undefined where one may have none (a 204 without content, as openapi-typescript writes it) …
    type WithNoContent = {
      responses: {
        200: { headers: { [name: string]: unknown }; content: { 'application/json': { ok: boolean } } };
        204: { headers: { [name: string]: unknown }; content?: never };
        404: { headers: { [name: string]: unknown }; content: { 'application/json': { error: string } } };
      };
    };
    expectTypeOf<UnwrappedData<FetchResponse<WithNoContent, {}, 'application/json'>>>().toEqualTypeOf<{ ok: boolean } | undefined>();
    // … and a loosely typed result keeps its data type.
    expectTypeOf(unwrap<{ data?: unknown; response: Response }>).returns.toEqualTypeOf<unknown>();
  });

  it('never replays a POST to a path outside the spec on a 5xx: HTTP semantics make it not idempotent', async () => {
    // An app may call its own endpoints through the client; a replayed POST there could act twice as well.
    const server = await serve((_req, res) => sendJson(res, 503, {}));
    const { client } = clientFor(server);
    const loose = client as unknown as { POST: (path: string, init?: object) => Promise<{ response: Response }> };
    const result = await loose.POST('/api/v1/custom/thing', { body: { n: 1 } });
    expect(result.response.status).toBe(503);
    expect(server.requests).toHaveLength(1);
  });

  it('unwrap leaves an empty 2xx alone where no spec operation promises a body (a path or method outside the spec)', async () => {
    // The client sends paths outside the spec (with no credential, by HTTP semantics): the spec promises them nothing,
    // so a 204 there is an answer, not an invalid response "where the spec promises one".
    const server = await serve((_req, res) => res.writeHead(204).end());
    const { client } = clientFor(server);
    type Loose = (path: string, init?: object) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
    const loose = client as unknown as { DELETE: Loose; HEAD: Loose };
    const removed = await loose.DELETE('/api/v1/custom/thing');
    expect(removed.response.status).toBe(204);
    expect(unwrap(removed)).toBeUndefined();
    const head = await loose.HEAD('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'w1' } } });
    expect(unwrap(head)).toBeUndefined();
  });

  it('rejects a timer option longer than a timer can wait', () => {
    expect(() => createSnapEngageClient({ timeoutMs: Number.MAX_SAFE_INTEGER })).toThrow(/timeoutMs: must be at most 2147483647 ms/);
    expect(() => createSnapEngageClient({ retryAfterCapMs: 2 ** 31 })).toThrow(/retryAfterCapMs: must be at most 2147483647 ms/);
  });
});

describe('pagination guards', () => {
  it('stops before fetching a page again: a link back to the first page, a fragment or reordered parameters', async () => {
    const links = (url: string) => [
      `${url}/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-31`,
      `${url}/api/v2/org1/logs?widgetId=w1&next=2#top`,
      `${url}/api/v2/org1/logs?end=2024-01-31&start=2024-01-01&widgetId=w1`,
    ];
    for (const pick of [0, 1, 2]) {
      const server = await serve((req, res) => {
        const next = new URL(req.url, server.url).searchParams.get('next');
        // Page 1 links to page 2; page 2 links back as `pick` says (for pick 1, page 2 links to itself with a fragment).
        sendJson(res, 200, { cases: [{ id: next ?? 'first' }], linkToNextSetOfResults: next === null ? `${server.url}/api/v2/org1/logs?widgetId=w1&next=2` : links(server.url)[pick] });
      });
      const { client } = clientFor(server);
      const ids: string[] = [];
      const error = await caught((async () => {
        for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })) ids.push(c.id ?? '');
      })());
      expect(error.message).toContain('repeats a page already fetched');
      expect(ids).toEqual(['first', '2']);
      expect(server.requests).toHaveLength(2);
    }
  });

  it('shows an app middleware each page at its next link, keeps what it changes, and still stops at a page fetched before', async () => {
    const server = await serve((req, res) => {
      const next = new URL(req.url, server.url).searchParams.get('next');
      // Page 1 links to page 2, which links to page 3, which links back to page 2 (the link as the server made it).
      const link = next === null ? 2 : next === '2' ? 3 : 2;
      sendJson(res, 200, { cases: [{ id: next ?? 'first' }], linkToNextSetOfResults: `${server.url}/api/v2/org1/logs?widgetId=w1&next=${link}` });
    });
    const { client } = clientFor(server);
    const seen: string[] = [];
    client.use({
      onRequest: ({ request }) => {
        const url = new URL(request.url);
        seen.push(url.pathname + url.search);
        url.searchParams.set('tenant', 'acme');
        return new Request(url, request);
      },
    });
    const ids: string[] = [];
    const error = await caught((async () => {
      for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })) ids.push(c.id ?? '');
    })());
    expect(error.message).toContain('repeats a page already fetched');
    expect(ids).toEqual(['first', '2', '3']);
    // The transport put the next link on the request after the app's middleware: it saw /logs without a query, and its
    // parameter was dropped on every page after the first.
    expect(seen).toEqual(['/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-31', '/api/v2/org1/logs?widgetId=w1&next=2', '/api/v2/org1/logs?widgetId=w1&next=3']);
    expect(server.requests.map((r) => new URL(r.url, server.url).searchParams.get('tenant'))).toEqual(['acme', 'acme', 'acme']);
  });

  it('resolves a relative next link against the page that carried it, not against baseUrl', async () => {
    const server = await serve((req, res) => {
      const next = new URL(req.url, server.url).searchParams.get('next');
      // Page 1 links with a relative path, page 2 with a query only; page 3 is the last.
      const link = next === null ? 'logs?next=2' : next === '2' ? '?next=3' : null;
      sendJson(res, 200, { cases: [{ id: next ?? 'first' }], linkToNextSetOfResults: link });
    });
    const { client } = clientFor(server);
    const ids: string[] = [];
    for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })) ids.push(c.id ?? '');
    expect(ids).toEqual(['first', '2', '3']);
    expect(server.requests.map((r) => new URL(r.url, server.url).pathname + new URL(r.url, server.url).search.replace(/&?api_key=[^&]*/, ''))).toEqual([
      '/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-31',
      '/api/v2/org1/logs?next=2',
      '/api/v2/org1/logs?next=3',
    ]);
  });

  it('does not follow a next link that carries a user or password', async () => {
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [{ id: 'a' }], linkToNextSetOfResults: server.url.replace('http://', 'http://u:p@') + '/api/v2/org1/logs?next=2' }));
    const { client } = clientFor(server);
    const error = await caught((async () => {
      for await (const _c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-02' })) {
        // drain
      }
    })());
    expect(error.message).toContain('the next link carries a user or password');
    expect(server.requests).toHaveLength(1);
  });

  it('stops with an error when the next link repeats', async () => {
    const server = await serve((req, res) => {
      sendJson(res, 200, { cases: [{ id: req.url }], linkToNextSetOfResults: `${server.url}/api/v2/org1/logs?widgetId=w1&next=same` });
    });
    const { client } = clientFor(server);
    const seen: unknown[] = [];
    const error = await caught((async () => {
      for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })) seen.push(c);
    })());
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toContain('repeats');
    expect(server.requests).toHaveLength(2);
    expect(seen).toHaveLength(2);
    expect(server.requests.every((r) => r.headers.authorization === TOKEN)).toBe(true);
  });

  it('stops at maxPages with an error', async () => {
    const server = await serve((req, res, i) => sendJson(res, 200, { cases: [], linkToNextSetOfResults: `${server.url}/api/v2/org1/logs?next=${i + 1}` }));
    const { client } = clientFor(server);
    const pages = client.iteratePages(LOGS, logsQuery, { maxPages: 3 });
    const error = await caught((async () => {
      for await (const _page of pages) {
        // drain
      }
    })());
    expect(error.message).toContain('maxPages=3');
    // Names the last page fetched, instead of ending on an empty " | " part.
    expect(error.url).toBe(`${server.url}/api/v2/org1/logs?next=2`);
    expect(error.message).toMatch(/raise maxPages if the data really is that large \| http:\/\/127\.0\.0\.1:\d+\/api\/v2\/org1\/logs\?next=2$/);
    expect(server.requests).toHaveLength(3);
  });

  it('refuses a next link on another origin', async () => {
    const other = await serve((_req, res) => sendJson(res, 200, { cases: [] }));
    const server = await serve((_req, res) => sendJson(res, 200, { cases: [{ id: 'a' }], linkToNextSetOfResults: `${other.url}/api/v2/org1/logs?next=2` }));
    const { client } = clientFor(server);
    const error = await caught((async () => {
      for await (const _c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-02' })) {
        // drain
      }
    })());
    expect(error.message).toContain('never sent to another host');
    expect(other.requests).toHaveLength(0);
  });

  it('follows the absolute next link through the same auth and retry middleware', async () => {
    const server = await serve((req, res, i) => {
      const next = new URL(req.url, server.url).searchParams.get('next');
      if (i === 1) return sendJson(res, 500, {}); // first try of page 2 fails, then is retried
      if (next === null) return sendJson(res, 200, { cases: [{ id: '1' }], linkToNextSetOfResults: `${server.url}/api/v2/org1/logs?widgetId=w1&next=p2` });
      return sendJson(res, 200, { cases: [{ id: '2' }], linkToNextSetOfResults: '' });
    });
    const { client } = clientFor(server);
    const ids: string[] = [];
    for await (const c of client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-02' })) ids.push(c.id ?? '');
    expect(ids).toEqual(['1', '2']);
    expect(server.requests.map((r) => r.url)).toEqual([
      '/api/v2/org1/logs?widgetId=w1&start=2024-01-01&end=2024-01-02',
      '/api/v2/org1/logs?widgetId=w1&next=p2',
      '/api/v2/org1/logs?widgetId=w1&next=p2',
    ]);
    expect(server.requests.every((r) => r.headers.authorization === TOKEN && r.headers['x-api-key'] === undefined)).toBe(true);
  });
});
