// Per-call `maxRetries` and `timeoutMs`, passed with the call's other options (`client.GET(path, { params, maxRetries:
// 0 })`), as generated clients take them (Stainless's per-request maxRetries/timeout). openapi-fetch's types let any
// extra key through, so before they were honoured such a call compiled and silently used the client's settings.
import { describe, expect, it } from 'vitest';
import { createSnapEngageClient, unwrap, type RequestLogEvent } from '../src/index.js';
import { caught } from './helpers/caught.js';
import { scriptedServersPerTest, sendJson, type Handler, type ScriptedServer } from './helpers/scripted-server.js';

const LOGS = '/api/v2/{orgId}/logs';
const logsQuery = { params: { path: { orgId: 'org1' }, query: { widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' } } };

const serve = scriptedServersPerTest();

function clientFor(server: ScriptedServer, maxRetries: number, timeoutMs = 30_000) {
  const events: RequestLogEvent[] = [];
  const client = createSnapEngageClient({ baseUrl: server.url, apiToken: 'tok', retryBaseDelayMs: 1, maxRetries, timeoutMs, logger: { request: (e) => events.push(e) } });
  return { client, events };
}

const always503: Handler = (_req, res) => sendJson(res, 503, { error: 'busy' });

describe('per-call maxRetries', () => {
  it('0 on one call turns off the client’s retries for that call only', async () => {
    const server = await serve(always503);
    const { client } = clientFor(server, 3);
    const result = await client.GET(LOGS, { ...logsQuery, maxRetries: 0 });
    expect(result.response.status).toBe(503);
    expect(server.requests).toHaveLength(1);
    // The next call without it keeps the client's 3.
    const error = await caught(client.GET(LOGS, logsQuery).then(unwrap));
    expect(error.retries).toBe(3);
    expect(server.requests).toHaveLength(5);
  });

  it('raises the client’s maxRetries for one call', async () => {
    const server = await serve((_req, res, i) => (i < 2 ? sendJson(res, 503, { error: 'busy' }) : sendJson(res, 200, { cases: [] })));
    const { client, events } = clientFor(server, 0);
    expect(unwrap(await client.GET(LOGS, { ...logsQuery, maxRetries: 2 })).cases).toEqual([]);
    expect(server.requests).toHaveLength(3);
    expect(events[0]).toMatchObject({ status: 200, retries: 2 });
  });

  it.each([-1, 1.5, '2', Number.NaN])('refuses maxRetries %s before anything is sent, naming it', async (maxRetries) => {
    const server = await serve(always503);
    const { client } = clientFor(server, 0);
    const error = await caught(client.GET(LOGS, { ...logsQuery, maxRetries: maxRetries as number }));
    expect(error.kind).toBe('config');
    expect(error.message).toContain('maxRetries');
    expect(server.requests).toHaveLength(0);
  });
});

describe('per-call timeoutMs', () => {
  it('times out one call sooner than the client’s timeoutMs, and says which it was', async () => {
    // Answers only the request without `hang` in it; the hanging ones are closed with the server.
    const server = await serve((req, res) => (req.url.includes('hang') ? undefined : sendJson(res, 200, { cases: [] })));
    const { client } = clientFor(server, 0, 20_000);
    const started = Date.now();
    const hang = { params: { ...logsQuery.params, query: { ...logsQuery.params.query, widgetId: 'hang' } } };
    const error = await caught(client.GET(LOGS, { ...hang, timeoutMs: 50 }));
    expect(error.kind).toBe('timeout');
    expect(error.message).toContain('timeoutMs=50');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(unwrap(await client.GET(LOGS, logsQuery)).cases).toEqual([]);
  });

  it.each([0, -5, 2 ** 31, 'fast'])('refuses timeoutMs %s before anything is sent, naming it', async (timeoutMs) => {
    const server = await serve(always503);
    const { client } = clientFor(server, 0);
    const error = await caught(client.GET(LOGS, { ...logsQuery, timeoutMs: timeoutMs as number }));
    expect(error.kind).toBe('config');
    expect(error.message).toContain('timeoutMs');
    expect(server.requests).toHaveLength(0);
  });
});

describe('per-call options of the paginators', () => {
  it('iteratePages and iterateLogs take maxRetries and timeoutMs for each page they fetch', async () => {
    const server = await serve(always503);
    const { client } = clientFor(server, 3);
    const drain = async (pages: AsyncIterable<unknown>) => {
      for await (const _ of pages);
    };
    const pagesError = await caught(drain(client.iteratePages(LOGS, { ...logsQuery, maxRetries: 0 })));
    expect(pagesError.status).toBe(503);
    expect(server.requests).toHaveLength(1);
    const logsError = await caught(drain(client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31', maxRetries: 1 })));
    expect(logsError.retries).toBe(1);
    expect(server.requests).toHaveLength(3);
    const bad = await caught(drain(client.iterateLogs({ orgId: 'org1', widgetId: 'w1', start: '2024-01-01', end: '2024-01-31', timeoutMs: -1 })));
    expect(bad.kind).toBe('config');
    expect(server.requests).toHaveLength(3);
  });
});
