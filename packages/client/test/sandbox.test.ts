// The client against the snapengage-sandbox emulator over loopback: every spec operation, auth per
// operation, pagination equal to the sandbox's ground truth (with and without injected faults), and the
// error kinds the sandbox can produce on demand.
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { apiOperations, createSnapEngageClient, SnapEngageError, unwrap, type Case, type RequestLogEvent, type SnapEngageClient, type SnapEngageClientOptions, type components } from '../src/index.js';
import { caught } from './helpers/caught.js';

let sandbox: Sandbox;
let widgetId: string;
let today: string;

beforeAll(async () => {
  sandbox = await startSandbox({ cases: 3000, widgets: 1, days: 60, seed: 11 });
  widgetId = sandbox.credentials.widgetIds[0] as string;
  today = new Date().toISOString().slice(0, 10);
});
afterAll(async () => {
  await sandbox?.close();
});

interface Sent {
  method: string;
  url: URL;
  authorization: string | null;
  apiKeyHeader: string | null;
}

/** Real fetch to the sandbox, recording what each request carried (an observer, not a mock). */
function recordingClient(extra: SnapEngageClientOptions = {}): { client: SnapEngageClient; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = createSnapEngageClient({
    baseUrl: sandbox.url,
    ...sandbox.credentials,
    retryBaseDelayMs: 1,
    fetch: (request) => {
      sent.push({ method: request.method, url: new URL(request.url), authorization: request.headers.get('authorization'), apiKeyHeader: request.headers.get('x-api-key') });
      return fetch(request);
    },
    ...extra,
  });
  return { client, sent };
}

async function admin(path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${sandbox.url}${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  expect(response.ok).toBe(true);
  return response;
}

async function apiRequestCount(): Promise<number> {
  return ((await (await admin('/__sandbox/stats')).json()) as { requests: number }).requests;
}

async function truthCases(query: Record<string, string>): Promise<Case[]> {
  const text = await (await admin(`/__sandbox/truth?${new URLSearchParams({ resource: 'logs', ...query })}`)).text();
  return text.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as Case);
}

/** One call per spec operation, keyed `METHOD /path`; each returns the raw openapi-fetch result. */
function operationCalls(client: SnapEngageClient): Record<string, () => Promise<{ data?: unknown; error?: unknown; response: Response }>> {
  const { orgId, email } = sandbox.credentials;
  let caseId = 'not-started';
  return {
    'GET /api/v2/{orgId}/logs': () => client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId }, query: { widgetId, start: sandbox.startDate, end: today } } }),
    'GET /api/v1/chat/{widgetId}': () => client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } }),
    'POST /api/v1/chat': async () => {
      const result = await client.POST('/api/v1/chat', { params: { query: { widgetId, email: 'visitor@example.com', visitorMessage: 'Hello' } } });
      caseId = result.data?.caseId ?? caseId;
      return result;
    },
    'GET /api/v1/chat/poll/{caseId}': () => client.GET('/api/v1/chat/poll/{caseId}', { params: { path: { caseId }, query: { index: 0 } } }),
    'PUT /api/v1/chat': () => client.PUT('/api/v1/chat', { params: { query: { caseId, messageType: 1, messageBody: 'More details' } } }),
    'GET /public/api/v2/chat/{widgetId}': () => client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId } } }),
    'GET /public/api/v2/chat/{widgetId}/{caseId}/visitorTyping': () =>
      client.GET('/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping', { params: { path: { widgetId, caseId } } }),
    'GET /api/v1/widget.json': () => client.GET('/api/v1/widget.json', { params: { query: { uuid: widgetId, email } } }),
    'GET /api/v1/user.json': () => client.GET('/api/v1/user.json', { params: { query: { email } } }),
    'PUT /api/v1/user.json': () =>
      client.PUT('/api/v1/user.json', { body: { email: `new-${Math.random().toString(36).slice(2)}@example.com`, name: 'New User', accountType: 'trial', password: 'pass-word-1' } }),
  };
}

/** Where the spec puts each operation's credential (written out here, not read from the catalog). */
const EXPECTED_PLACE: Record<string, 'authorization' | 'x-api-key' | 'api_key' | 'none'> = {
  '/api/v2/{orgId}/logs': 'authorization',
  '/api/v1/chat/{widgetId}': 'x-api-key',
  '/api/v1/chat': 'x-api-key',
  '/api/v1/chat/poll/{caseId}': 'x-api-key',
  '/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping': 'x-api-key',
  '/public/api/v2/chat/{widgetId}': 'none',
  '/api/v1/widget.json': 'api_key',
  '/api/v1/user.json': 'api_key',
};

describe('every operation of the spec', () => {
  it('succeeds with exactly the credential the spec names, in the place it names', async () => {
    const { client, sent } = recordingClient();
    const calls = operationCalls(client);
    expect(Object.keys(calls).sort()).toEqual(apiOperations.map((op) => `${op.method} ${op.path}`).sort());
    const { apiToken, apiKey, provisioningKey } = sandbox.credentials;
    for (const [label, call] of Object.entries(calls)) {
      const before = sent.length;
      const result = await call();
      expect(result.response.ok, `${label} → ${result.response.status}`).toBe(true);
      expect(unwrap(result), label).toBeTypeOf('object');
      expect(sent.length - before, label).toBe(1);
      const request = sent.at(-1) as Sent;
      const place = EXPECTED_PLACE[label.split(' ')[1] as string];
      expect(request.authorization, label).toBe(place === 'authorization' ? apiToken : null);
      expect(request.apiKeyHeader, label).toBe(place === 'x-api-key' ? apiKey : null);
      expect(request.url.searchParams.get('api_key'), label).toBe(place === 'api_key' ? provisioningKey : null);
    }
  });

  it('maps a wrong credential to a 401 auth error that names the option and env var', async () => {
    const wrong = createSnapEngageClient({ baseUrl: sandbox.url, apiToken: 'wrong-token-1', apiKey: 'wrong-key-22', provisioningKey: 'wrong-prov-333' });
    for (const [label, call] of Object.entries(operationCalls(wrong))) {
      if (label === 'PUT /api/v1/chat' || label.includes('{caseId}')) continue; // they need a case a wrong key cannot start
      if (EXPECTED_PLACE[label.split(' ')[1] as string] === 'none') continue; // takes no credential
      const result = await call();
      expect(result.response.status, label).toBe(401);
      let thrown: unknown;
      try {
        unwrap(result);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, label).toBeInstanceOf(SnapEngageError);
      const error = thrown as SnapEngageError;
      expect(error.kind).toBe('auth');
      expect(error.operation).toBe(label);
      expect(error.message).toMatch(/SNAPENGAGE_(API_TOKEN|API_KEY|PROVISIONING_KEY)/);
    }
  });

  it('fails before sending when the credential is missing, naming the option and its env var', async () => {
    const bare = createSnapEngageClient({ baseUrl: sandbox.url });
    const before = await apiRequestCount();
    const expected: Record<string, [string, string]> = {
      authorization: ['apiToken', 'SNAPENGAGE_API_TOKEN'],
      'x-api-key': ['apiKey', 'SNAPENGAGE_API_KEY'],
      api_key: ['provisioningKey', 'SNAPENGAGE_PROVISIONING_KEY'],
    };
    for (const [label, call] of Object.entries(operationCalls(bare))) {
      if (EXPECTED_PLACE[label.split(' ')[1] as string] === 'none') continue; // takes no credential: sent, answered
      const [option, env] = expected[EXPECTED_PLACE[label.split(' ')[1] as string] as string] as [string, string];
      // A project keeps its credentials in .env, which the pipeline CLI reads and credentialsFromEnv() does not: the
      // message says so, with the way to load it, instead of "set it" to a user who had.
      await expect(call(), label).rejects.toSatisfy(
        (e: unknown) =>
          e instanceof SnapEngageError && e.kind === 'config' && e.message.includes(option) && e.message.includes(env) && e.message.includes('reads the process environment, not a .env file (node --env-file=.env loads one)'),
      );
    }
    expect(await apiRequestCount()).toBe(before);
  });
});

describe('pagination', () => {
  it('iterateLogs over 3000 cases equals the sandbox truth, with the token on every page', async () => {
    const events: RequestLogEvent[] = [];
    const { client, sent } = recordingClient({ logger: { request: (e) => events.push(e) } });
    const cases: Case[] = [];
    for await (const c of client.iterateLogs({ orgId: sandbox.credentials.orgId, widgetId, start: sandbox.startDate, end: today })) cases.push(c);
    const truth = await truthCases({ widgetId, start: sandbox.startDate, end: today });
    expect(truth.length).toBeGreaterThanOrEqual(1000);
    expect(cases).toEqual(truth);
    expect(sent.length).toBe(Math.ceil(truth.length / 100) + (truth.length % 100 === 0 ? 1 : 0));
    expect(sent.every((s) => s.authorization === sandbox.credentials.apiToken && s.apiKeyHeader === null)).toBe(true);
    expect(events.every((e) => e.status === 200 && e.operation === 'GET /api/v2/{orgId}/logs')).toBe(true);
  });

  it('iteratePages with nextUrlPath null fetches one page', async () => {
    const { client, sent } = recordingClient();
    const pages = [];
    for await (const page of client.iteratePages('/api/v2/{orgId}/logs', { params: { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: today } } }, { nextUrlPath: null })) {
      pages.push(page);
    }
    expect(pages).toHaveLength(1);
    expect(pages[0]?.pageIndex).toBe(0);
    expect(sent).toHaveLength(1);
    // The page links a next one that was not followed: said, so a caller (the loader) can tell data was left unread.
    expect(pages[0]?.unfollowedNextLink).toBe(true);
    const followed = [];
    for await (const page of client.iteratePages('/api/v2/{orgId}/logs', { params: { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: today } } })) followed.push(page);
    expect(followed.length).toBeGreaterThan(1);
    expect(followed.map((page) => page.unfollowedNextLink)).toEqual(followed.map(() => false));
  });

  it('iteratePages types its params and pages by the spec', async () => {
    const { client } = recordingClient();
    const ids: string[] = [];
    const params = { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: today } };
    for await (const page of client.iteratePages('/api/v2/{orgId}/logs', { params })) {
      expectTypeOf(page.data).toEqualTypeOf<components['schemas']['LogsPage']>();
      ids.push(...(page.data.cases ?? []).map((c) => c.id ?? ''));
      if (page.pageIndex === 2) break;
    }
    expect(ids).toHaveLength(300);
    // Checked by `npm run typecheck`: the required dates, and a path without GET.
    const typeErrors = () => {
      // @ts-expect-error start and end are required
      void client.iteratePages('/api/v2/{orgId}/logs', { params: { path: { orgId: 'o' }, query: { widgetId: 'w' } } });
      // @ts-expect-error /api/v1/chat has no GET operation
      void client.iteratePages('/api/v1/chat', { params: {} });
    };
    expect(typeof typeErrors).toBe('function');
  });

  it('the returned response still holds the body as sent, with its byte length', async () => {
    const { client } = recordingClient();
    const query = { widgetId, start: sandbox.startDate, end: today };
    const { data, response } = await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: sandbox.credentials.orgId }, query } });
    const direct = await fetch(`${sandbox.url}/api/v2/${sandbox.credentials.orgId}/logs?${new URLSearchParams(query)}`, { headers: { Authorization: sandbox.credentials.apiToken } });
    const sentBytes = new Uint8Array(await direct.arrayBuffer());
    const text = await response.text();
    expect(JSON.parse(text)).toEqual(data);
    expect(new TextEncoder().encode(text)).toEqual(sentBytes);
    expect(response.headers.get('content-length')).toBe(String(sentBytes.byteLength));
  });
});

describe('under injected faults', () => {
  it('pagination still equals the truth with 429, 500, resets, truncated bodies and slow responses', async () => {
    const faulty = await startSandbox({ cases: 1500, widgets: 1, days: 30, seed: 5, faults: '429=0.1,500=0.05,reset=0.03,truncate=0.03,slow=0.03,slowMs=1500' });
    try {
      const w = faulty.credentials.widgetIds[0] as string;
      const events: RequestLogEvent[] = [];
      const client = createSnapEngageClient({
        baseUrl: faulty.url,
        ...faulty.credentials,
        retryBaseDelayMs: 1,
        retryAfterCapMs: 5,
        maxRetries: 10,
        timeoutMs: 400,
        logger: { request: (e) => events.push(e) },
      });
      const cases: Case[] = [];
      for await (const c of client.iterateLogs({ orgId: faulty.credentials.orgId, widgetId: w, start: faulty.startDate, end: today })) cases.push(c);
      const truthText = await (await fetch(`${faulty.url}/__sandbox/truth?resource=logs&widgetId=${w}&start=${faulty.startDate}&end=${today}`)).text();
      const truth = truthText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Case);
      expect(cases).toEqual(truth);
      const stats = (await (await fetch(`${faulty.url}/__sandbox/stats`)).json()) as { faults: Record<string, number> };
      expect(Object.values(stats.faults).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
      expect(events.some((e) => e.retries > 0)).toBe(true);
    } finally {
      await faulty.close();
    }
  });

  it.each([
    ['429=1', 'rate_limited'],
    ['500=1', 'server'],
    ['reset=1', 'network'],
    ['truncate=1', 'invalid_response'],
    ['slow=1,slowMs=2000', 'timeout'],
  ])('faults %s surface as kind %s after the retries', async (faults, kind) => {
    await admin('/__sandbox/faults', { faults });
    try {
      const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 1, retryBaseDelayMs: 1, retryAfterCapMs: 1, timeoutMs: 150 });
      const error = await (async () => {
        try {
          for await (const _c of client.iterateLogs({ orgId: sandbox.credentials.orgId, widgetId, start: sandbox.startDate, end: today })) {
            // drain
          }
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(SnapEngageError);
      expect(error).toMatchObject({ kind, retries: 1, operation: 'GET /api/v2/{orgId}/logs' });
    } finally {
      await admin('/__sandbox/faults', { faults: '' });
    }
  });

  it('a 429 on an operation that is never replayed does not say to raise maxRetries (it would change nothing)', async () => {
    await admin('/__sandbox/faults', { faults: '429=1' });
    try {
      const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials, maxRetries: 4, retryBaseDelayMs: 1, retryAfterCapMs: 1 });
      const start = await client.POST('/api/v1/chat', { params: { query: { widgetId, visitorMessage: 'Hello' } } });
      const error = (() => {
        try {
          unwrap(start);
        } catch (e) {
          return e as SnapEngageError;
        }
        throw new Error('unwrap did not throw');
      })();
      expect(error).toMatchObject({ kind: 'rate_limited', retries: 0, operation: 'POST /api/v1/chat' });
      expect(error.message).not.toContain('maxRetries');
      expect(error.message).toContain('POST /api/v1/chat is never retried');
      // An idempotent one still says how to get more retries.
      const get = await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } });
      expect(() => unwrap(get)).toThrow(/raise maxRetries/);
    } finally {
      await admin('/__sandbox/faults', { faults: '' });
    }
  });

  it('maps other HTTP errors: unknown widget → not_found, bad date → bad_request', async () => {
    const client = createSnapEngageClient({ baseUrl: sandbox.url, ...sandbox.credentials });
    const orgId = sandbox.credentials.orgId;
    const missing = await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'no-such-widget' } } });
    expect(() => unwrap(missing)).toThrow(expect.objectContaining({ kind: 'not_found', status: 404 }));
    const bad = await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId }, query: { widgetId, start: 'yesterday', end: today } } });
    expect(() => unwrap(bad)).toThrow(expect.objectContaining({ kind: 'bad_request', status: 400 }));
  });
});

describe('cancellation keeps the caller’s abort reason as `cause`', () => {
  /** The reason an app aborts with: its own object, with a marker that must stay out of the message and JSON. */
  class Shutdown extends Error {
    readonly marker = 'APP-REASON-7f3c';
  }
  const logsCall = (client: SnapEngageClient, signal?: AbortSignal) =>
    client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: sandbox.credentials.orgId }, query: { widgetId, start: sandbox.startDate, end: today } }, ...(signal ? { signal } : {}) });
  const base = (): SnapEngageClientOptions => ({ baseUrl: sandbox.url, ...sandbox.credentials, retryBaseDelayMs: 1 });

  async function abortedWith(reason: unknown, pending: Promise<unknown>): Promise<SnapEngageError> {
    const error = await caught(pending);
    expect(error.kind).toBe('aborted');
    expect(error.cause).toBe(reason);
    // The error's own fields stay as they were: the reason is in neither the message nor the JSON.
    expect(error.message).toMatch(/^GET \/api\/v2\/\{orgId\}\/logs: aborted by the caller’s AbortSignal/);
    expect(error.message).not.toContain('APP-REASON');
    expect(JSON.stringify(error)).not.toContain('APP-REASON');
    expect(Object.keys(error.toJSON())).not.toContain('cause');
    return error;
  }

  it('for a per-call and a client-level signal aborted while the response is pending', async () => {
    await admin('/__sandbox/faults', { faults: 'slow=1,slowMs=3000' });
    try {
      const perCall = new AbortController();
      const reason = new Shutdown('app shutting down');
      const pending = logsCall(createSnapEngageClient(base()), perCall.signal);
      setTimeout(() => perCall.abort(reason), 50);
      await abortedWith(reason, pending);

      const clientLevel = new AbortController();
      const clientReason = new Shutdown('client closed');
      const pendingClient = logsCall(createSnapEngageClient({ ...base(), signal: clientLevel.signal }));
      setTimeout(() => clientLevel.abort(clientReason), 50);
      await abortedWith(clientReason, pendingClient);

      // Already aborted before the call, with no reason given: the signal's default AbortError is the cause.
      const before = new AbortController();
      before.abort();
      await abortedWith(before.signal.reason, logsCall(createSnapEngageClient(base()), before.signal));
    } finally {
      await admin('/__sandbox/faults', { faults: '' });
    }
  });

  it('while waiting to retry, and while an app’s beforeAttempt hook waits', async () => {
    await admin('/__sandbox/faults', { faults: '500=1' });
    try {
      const waiting = new AbortController();
      const reason = new Shutdown('stop retrying');
      const pending = logsCall(createSnapEngageClient({ ...base(), retryBaseDelayMs: 10_000 }), waiting.signal);
      setTimeout(() => waiting.abort(reason), 200);
      const error = await abortedWith(reason, pending);
      expect(error.message).toContain('while waiting to retry');
    } finally {
      await admin('/__sandbox/faults', { faults: '' });
    }
    const limiter = new AbortController();
    const limiterReason = { app: 'APP-REASON-7f3c', not: 'an Error' };
    const held = createSnapEngageClient({
      ...base(),
      beforeAttempt: (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
    });
    const pendingHeld = logsCall(held, limiter.signal);
    setTimeout(() => limiter.abort(limiterReason), 50);
    await abortedWith(limiterReason, pendingHeld);
  });

  it('at once while a beforeAttempt hook that does not listen to its signal waits (a limiter that takes none)', async () => {
    let release = (): void => undefined;
    const limiter = new Promise<void>((resolve) => (release = resolve));
    const client = createSnapEngageClient({ ...base(), beforeAttempt: () => limiter });
    const before = await apiRequestCount();
    const controller = new AbortController();
    const reason = new Shutdown('user left the page');
    const pending = logsCall(client, controller.signal);
    setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    // Before, the call waited for the limiter (here: forever) and only then failed as aborted.
    const outcome = await Promise.race([abortedWith(reason, pending), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2_000))]);
    expect(outcome).not.toBe('still waiting');
    expect(Date.now() - started).toBeLessThan(1_000);
    release();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await apiRequestCount()).toBe(before); // nothing sent, not even once the limiter let it through
  });
});

describe('integers beyond 2^53 in a page (an undeclared field of a Java API may hold a long)', () => {
  it("are the nearest double by default, as JSON.parse reads them, and BigInts with every digit under largeIntegers: 'bigint'", async () => {
    const box = await startSandbox({ cases: 0, widgets: 1, days: 2 });
    try {
      const widget = box.credentials.widgetIds[0] as string;
      // Raw text: JSON.stringify of a JS number could not write 9007199254740993.
      const posted = await fetch(`${box.url}/__sandbox/cases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: `{"widgetId": ${JSON.stringify(widget)}, "cases": [{"id": "big", "big_id": 9007199254740993, "ok": 9007199254740991, "text": "9007199254740993 as text", "ratio": 1.5e300, "nested": [{"n": -12345678901234567890}]}]}`,
      });
      expect(posted.status).toBe(201);
      const read = async (options: SnapEngageClientOptions) => {
        const client = createSnapEngageClient({ baseUrl: box.url, ...box.credentials, ...options });
        const out: Array<Record<string, unknown>> = [];
        for await (const c of client.iterateLogs({ orgId: box.credentials.orgId, widgetId: widget, start: box.startDate, end: new Date().toISOString().slice(0, 10) })) out.push(c as Record<string, unknown>);
        return out.find((c) => c.id === 'big');
      };
      expect(await read({})).toMatchObject({ big_id: 9007199254740992, ok: 9007199254740991, nested: [{ n: -12345678901234567000 }] });
      expect(await read({ largeIntegers: 'bigint' })).toMatchObject({
        big_id: 9007199254740993n, ok: 9007199254740991, text: '9007199254740993 as text', ratio: 1.5e300, nested: [{ n: -12345678901234567890n }],
      });
      expect(() => createSnapEngageClient({ baseUrl: box.url, largeIntegers: 'BigInt' as 'bigint' })).toThrow(`largeIntegers: must be 'number' or 'bigint', got "BigInt"`);
    } finally {
      await box.close();
    }
  });
});
