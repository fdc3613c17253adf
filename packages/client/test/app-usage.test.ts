// The client as an app uses it on its own (no loader): arguments an app passes straight from its data (a path
// parameter that is empty or a dot segment, a page cap), and what iteratePages yields when a page has no body. Each
// of these failed quietly or with an untyped error before: a request went to another endpoint of the API with the
// credential, a TypeError came out of the app's own loop, or the cap's error said pages were fetched when none was.
import type { Middleware } from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { createSnapEngageClient, unwrap, type RequestLogEvent } from '../src/index.js';
import { caught } from './helpers/caught.js';
import { startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

let sandbox: Sandbox;
let widgetId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ cases: 150, widgets: 1, days: 5, seed: 23 });
  widgetId = sandbox.credentials.widgetIds[0] as string;
});
afterAll(async () => {
  await sandbox?.close();
});

async function apiRequestCount(): Promise<number> {
  const response = await fetch(`${sandbox.url}/__sandbox/stats`);
  return ((await response.json()) as { requests: number }).requests;
}

async function drain(pages: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of pages) n++;
  return n;
}

describe('path parameters an app passes from its data', () => {
  // `..` and `.` are dot segments: the URL parser removes them, so `/api/v1/chat/poll/..` went out as `/api/v1/chat/`
  // and `/public/api/v2/chat/../../visitorTyping` as `/public/api/visitorTyping`, credential attached. An empty value
  // requested `/api/v1/chat/poll/`, and a missing one (plain JS) the literal `{caseId}`.
  it.each([
    ['empty', ''],
    ['a dot segment', '..'],
    ['a single dot', '.'],
    ['missing', undefined],
  ])('refuses a path parameter that is %s before anything is sent, naming it', async (_what, caseId) => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
    const before = await apiRequestCount();
    const error = await caught(client.GET('/api/v1/chat/poll/{caseId}', { params: { path: { caseId: caseId as string } } }));
    expect(error.kind).toBe('config');
    expect(error.operation).toBe('GET /api/v1/chat/poll/{caseId}');
    expect(error.message).toContain('caseId');
    expect(await apiRequestCount()).toBe(before);
    const typing = await caught(client.GET('/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping', { params: { path: { widgetId, caseId: caseId as string } } }));
    expect(typing.kind).toBe('config');
    expect(await apiRequestCount()).toBe(before);
  });

  it('still sends a value with dots or slashes inside it, encoded as one segment', async () => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
    for (const caseId of ['..x', 'a/../b', '...']) {
      const result = await client.GET('/api/v1/chat/poll/{caseId}', { params: { path: { caseId } } });
      // The sandbox knows no such case: a 404 from the poll endpoint itself, not a request to another path.
      expect(result.response.status).toBe(404);
    }
  });
});

describe('pagination bounds', () => {
  it.each([0, -1, 1.5, Number.NaN])('refuses maxPages=%s before fetching (it used to say pages had been fetched)', async (maxPages) => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials });
    const before = await apiRequestCount();
    const params = { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: '2100-01-01' } };
    const error = await caught(drain(client.iteratePages('/api/v2/{orgId}/logs', { params }, { maxPages })));
    expect(error.kind).toBe('config');
    expect(error.message).toContain('maxPages');
    expect(await apiRequestCount()).toBe(before);
  });

  it('maxPages 1 still fetches one page, and stops with an error while the API links another', async () => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials });
    const params = { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: '2100-01-01' } };
    const seen: number[] = [];
    const error = await caught((async () => {
      for await (const { data } of client.iteratePages('/api/v2/{orgId}/logs', { params }, { maxPages: 1 })) seen.push(data.cases.length);
    })());
    expect(seen).toEqual([100]);
    expect(error.message).toContain('maxPages=1');
  });

  it('iterateLogs takes the same cap: an app can bound it without falling back to iteratePages', async () => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials });
    const args = { orgId: sandbox.credentials.orgId, widgetId, start: sandbox.startDate, end: '2100-01-01' };
    let cases = 0;
    const error = await caught((async () => {
      for await (const _ of client.iterateLogs({ ...args, maxPages: 1 })) cases++;
    })());
    expect(cases).toBe(100);
    expect(error.message).toContain('maxPages=1');
    expect(await drain(client.iterateLogs({ ...args, maxPages: 2 }))).toBe(150);
  });
});

describe('a page without a body', () => {
  let server: ScriptedServer;
  afterAll(async () => {
    await server?.close();
  });

  // openapi-fetch answers an empty 2xx body with `data: undefined` (and the JSON `null` is null), while iteratePages
  // types each page's data as the spec's 200 body: the app's `data.cases` threw a TypeError of its own.
  it.each([
    ['an empty body', ''],
    ['a JSON null', 'null'],
  ])('is an invalid_response error, not a page of undefined data (%s)', async (_what, body) => {
    server = await startScriptedServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const client = createSnapEngageClient({ baseUrl: server.url, apiToken: 'token-1', maxRetries: 0 });
    const params = { path: { orgId: 'org1' }, query: { widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' } };
    const error = await caught(drain(client.iteratePages('/api/v2/{orgId}/logs', { params })));
    expect(error.kind).toBe('invalid_response');
    expect(error.status).toBe(200);
    expect(error.message).toMatch(/page 0 has no body/);
    const logs = await caught(drain(client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' })));
    expect(logs.kind).toBe('invalid_response');
    await server.close();
  });
});

describe('a Logs page without "cases"', () => {
  // Whether the API leaves the list out of an empty answer is unknown; the loader reads such a first page as no
  // records, and iterateLogs threw on it ("page 0 has no cases array") where an app asked for a quiet day.
  it('is no cases on the first page; on a page a next link led to, or with cases that are no list, an error', async () => {
    const bodies: Record<string, string> = {
      '/first': '{}',
      '/later': '{"cases":[{"id":"c1"}],"linkToNextSetOfResults":"/api/v2/org1/logs?page=2"}',
      '/scalar': '{"cases":"none"}',
    };
    let scenario = '/first';
    const server = await startScriptedServer((req, res) => {
      const body = req.url?.includes('page=2') ? '{}' : bodies[scenario]!;
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    try {
      const client = createSnapEngageClient({ baseUrl: server.url, apiToken: 'token-1', maxRetries: 0 });
      const args = { orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' };
      expect(await drain(client.iterateLogs(args))).toBe(0);
      scenario = '/later';
      const later = await caught(drain(client.iterateLogs(args)));
      expect(later.kind).toBe('invalid_response');
      expect(later.message).toMatch(/page 1 has no "cases" array/);
      scenario = '/scalar';
      expect((await caught(drain(client.iterateLogs(args)))).message).toMatch(/page 0 has no "cases" array/);
    } finally {
      await server.close();
    }
  });
});

describe('a base URL on a port fetch blocks', () => {
  // undici refuses the Fetch standard's "bad ports" before connecting (nothing needs to listen there): the client took
  // it for a network error and retried it maxRetries times, each failing the same way, and said only "bad port".
  it('fails at once, naming the port and the fix, without a retry', async () => {
    const client = createSnapEngageClient({ baseUrl: 'http://127.0.0.1:6000', apiToken: 'token-1', maxRetries: 2, retryBaseDelayMs: 1 });
    const error = await caught(client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: 'org1' }, query: { widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' } } }));
    expect(error.kind).toBe('network');
    expect(error.retries).toBe(0);
    expect(error.message).toContain('fetch refuses port 6000 (one of the ports the Fetch standard blocks');
    expect(error.message).toContain('serve the API on another port and change the base URL');
  });
});

describe('the host a request goes to', () => {
  // openapi-fetch takes a per-call baseUrl, and an app middleware may return a Request for another URL: the transport
  // put the credentials on it all the same, and sent them to that host.
  it('is the client’s baseUrl origin only: another one is a config error, with nothing sent there', async () => {
    const other = await startScriptedServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    try {
      const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
      const widget = { params: { path: { widgetId } } };
      const perCall = await caught(client.GET('/api/v1/chat/{widgetId}', { ...widget, baseUrl: other.url }));
      expect(perCall).toMatchObject({ kind: 'config', operation: 'GET /api/v1/chat/{widgetId}' });
      expect(perCall.message).toContain(`not the client's baseUrl origin ${sandbox.url}`);
      const provisioning = await caught(client.GET('/api/v1/widget.json', { params: { query: { uuid: widgetId, email: sandbox.credentials.email } }, baseUrl: other.url }));
      expect(provisioning.kind).toBe('config');
      expect(JSON.stringify({ ...provisioning, message: provisioning.message })).not.toContain(sandbox.credentials.provisioningKey);

      const rerouting = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
      rerouting.use({ onRequest: ({ request }) => new Request(request.url.replace(sandbox.url, other.url), request) });
      expect((await caught(rerouting.GET('/api/v1/chat/{widgetId}', widget))).kind).toBe('config');
      expect(other.requests).toEqual([]);

      // The same origin by a per-call baseUrl (a trailing slash) still goes out, with its credential.
      expect((await client.GET('/api/v1/chat/{widgetId}', { ...widget, baseUrl: `${sandbox.url}/` })).response.status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('the request id of a logged request', () => {
  // What a support ticket needs is the server's request id: errors carried it, but the logger's events did not, so an
  // app that logs every request (and so learns of a failure from its log) had no id to quote.
  it('is on the logger event, for a success and for an HTTP error status', async () => {
    const events: RequestLogEvent[] = [];
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0, logger: { request: (e) => events.push(e) } });
    const ok = await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } });
    const missing = await caught(client.GET('/api/v1/chat/poll/{caseId}', { params: { path: { caseId: 'no-such-case' } } }).then(unwrap));
    expect(missing.kind).toBe('not_found');
    expect(events.map((e) => e.status)).toEqual([200, 404]);
    expect(events[0]?.requestId).toBe(ok.response.headers.get('x-request-id'));
    expect(events[0]?.requestId).toMatch(/\S/);
    expect(events[1]?.requestId).toBe(missing.requestId);
    expect(events[1]?.requestId).toMatch(/\S/);
  });
});

describe('an app’s onError', () => {
  // openapi-fetch runs onError only when its fetch rejects. The transport finds a reset mid-body or a truncated JSON
  // body after the headers came, in its onResponse, and threw from there: the app's onError never saw those final
  // errors (a timeout before the headers it did), so an onError that logs failures or answers from a cache missed them.
  it.each([
    ['reset=1', 'network'],
    ['truncate=1', 'invalid_response'],
  ])('gets the final error of faults %s (%s), found after the headers came, and may answer the call', async (faults, kind) => {
    await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults }) });
    try {
      const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 1, retryBaseDelayMs: 1 });
      const seen: string[] = [];
      let answer = false;
      const middleware: Middleware = {
        onError: ({ error, request }) => {
          seen.push(`${error instanceof Error && 'kind' in error ? String(error.kind) : String(error)} ${request.headers.get('x-api-key') ?? 'no key'}`);
          return answer ? Response.json({ data: { online: 'cached' } }) : undefined;
        },
        onResponse: ({ response }) => void seen.push(`onResponse ${response.status}`),
      };
      client.use(middleware);
      const call = () => client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } });
      const error = await caught(call());
      expect(error).toMatchObject({ kind, retries: 1 });
      expect(seen).toEqual([`${kind} no key`]);
      answer = true;
      expect((await call()).data).toEqual({ data: { online: 'cached' } });
      expect(seen).toEqual([`${kind} no key`, `${kind} no key`, 'onResponse 200']);
      // Ejected, it answers no more.
      client.eject(middleware);
      expect(await caught(call())).toMatchObject({ kind });
      expect(seen).toHaveLength(3);
    } finally {
      await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: '' }) });
    }
  });
});

describe('the onError pass over several app middlewares, as openapi-fetch runs it', () => {
  it('runs them from the last registered out, hands on an Error one returns, lets a Response answer, and refuses anything else', async () => {
    await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: 'truncate=1' }) });
    try {
      const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
      const seen: string[] = [];
      const message = (error: unknown) => (error instanceof Error && 'kind' in error ? String(error.kind) : error instanceof Error ? error.message : String(error));
      // Registered outermost first: the last one registered sees the error first (openapi-fetch's own order).
      client.use(
        { onError: ({ error }) => (seen.push(`outer saw ${message(error)}`), Response.json({ data: { online: 'from outer' } })) },
        { onError: ({ error }) => (seen.push(`middle saw ${message(error)}`), new Error('replaced by middle')) },
        { onError: ({ error }) => void seen.push(`inner saw ${message(error)}`) },
      );
      const call = () => client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } });
      const expected = ['inner saw invalid_response', 'middle saw invalid_response', 'outer saw replaced by middle'];
      expect((await call()).data).toEqual({ data: { online: 'from outer' } });
      expect(seen).toEqual(expected);
      // The same order on the next call: the pass leaves the app's middleware as it was.
      seen.length = 0;
      expect((await call()).data).toEqual({ data: { online: 'from outer' } });
      expect(seen).toEqual(expected);
      // An onError that returns neither a Response nor an Error is a mistake, said as openapi-fetch says it.
      const odd = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 0 });
      odd.use({ onError: () => 'cached' as unknown as Response });
      await expect(odd.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } })).rejects.toThrow(new Error('onError: must return new Response() or instance of Error'));
    } finally {
      await fetch(`${sandbox.url}/__sandbox/faults`, { method: 'POST', body: JSON.stringify({ faults: '' }) });
    }
  });
});

describe('a TLS failure', () => {
  // https:// against a plain-http port (the sandbox, a local proxy): OpenSSL's text ends in a line break, which split
  // the one-line message (and a log line quoting it) before the URL it names.
  it('is one line naming the cause and the URL, not retried', async () => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url.replace(/^http:/, 'https:'), ...sandbox.credentials, retryBaseDelayMs: 1 });
    const error = await caught(client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } }));
    expect(error).toMatchObject({ kind: 'network', retries: 0 });
    expect(error.causeSummary).toMatch(/SSL/);
    expect(error.message).not.toMatch(/[\r\n]/);
    expect(error.causeSummary).not.toMatch(/[\r\n]/);
    expect(error.message).toMatch(/SSL.* \| https:\/\/127\.0\.0\.1:\d+\/api\/v1\/chat\//);
  });
});
