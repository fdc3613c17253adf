import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { call, FIXED_NOW, getLogsPage, logsUrl, truthLines } from './helpers/sandbox.js';
import { responseProblems, spec, undeclaredKeys } from './helpers/spec.js';

// Every operation of the spec, answered by the sandbox, validates against the spec's own schemas.

let sandbox: Sandbox;
let apiKey: Record<string, string>;
let widgetId: string;
let caseIds: string[];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 7, cases: 600, widgets: 3, days: 30, now: FIXED_NOW });
  apiKey = { 'x-api-key': sandbox.credentials.apiKey };
  widgetId = sandbox.credentials.widgetIds[0] ?? '';
  caseIds = (await truthLines(sandbox)).map((line) => (JSON.parse(line) as { id: string }).id);
});

afterAll(() => sandbox.close());

const LOGS = '/api/v2/{orgId}/logs';

describe('the spec covers what the sandbox serves', () => {
  it('lists exactly the operations the sandbox implements', () => {
    const operations = Object.entries(spec.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((m) => ['get', 'put', 'post', 'delete', 'patch'].includes(m)).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /api/v2/{orgId}/logs',
        'GET /api/v1/chat/{widgetId}',
        'GET /api/v1/chat/poll/{caseId}',
        'POST /api/v1/chat',
        'PUT /api/v1/chat',
        'GET /public/api/v2/chat/{widgetId}/{caseId}/visitorTyping',
        'GET /public/api/v2/chat/{widgetId}',
        'GET /api/v1/widget.json',
        'GET /api/v1/user.json',
        'PUT /api/v1/user.json',
      ].sort(),
    );
  });
});

describe('the validator itself', () => {
  it('catches drifted bodies, undocumented statuses and undeclared keys', () => {
    const page = (text: string) => responseProblems(LOGS, 'GET', { status: 200, contentType: 'application/json; charset=utf-8', text });
    expect(page('{"cases":[{"id":"a"}]}')).toEqual([]);
    expect(page('{"cases":[{"id":5}]}')).not.toEqual([]);
    expect(page('{"cases":[{"id":"a","created_at_seconds":"2025-01-01"}]}')).not.toEqual([]);
    expect(page('{"kases":[]}')).not.toEqual([]);
    expect(responseProblems(LOGS, 'GET', { status: 418, contentType: null, text: '' })).not.toEqual([]);
    expect(responseProblems(LOGS, 'GET', { status: 404, contentType: 'application/json', text: '{}' })).not.toEqual([]);
    expect(undeclaredKeys('Case', { id: 'a', transcripts: [{ mesage: 'typo' }] })).toEqual(['.transcripts[0].mesage']);
  });
});

describe('the spec reads uncertain Case fields tolerantly', () => {
  it('accepts null lists and objects, and loose scalars', () => {
    const page = (text: string) => responseProblems(LOGS, 'GET', { status: 200, contentType: 'application/json', text });
    expect(page('{"cases":[{"id":"a","created_at_date":1714000000000}]}')).toEqual([]);
    expect(page('{"cases":[{"id":"a","requester_details":null,"transcripts":null,"labels":null,"operator_variables":null,"javascript_variables":null}]}')).toEqual([]);
    expect(page('{"cases":[{"id":"a","requester_details":{"emails":null,"phones":null,"social_profile_links":null,"age":"25-34"}}]}')).toEqual([]);
    expect(page('{"cases":[{"id":"a","requester_details":{"age":31.5},"proactive_chat":null}]}')).toEqual([]);
    expect(page('{"cases":[{"id":"a","javascript_variables":[{"name":"cartValue","value":12.5},{"name":"vip","value":true}]}]}')).toEqual([]);
    expect(page('{"cases":[{"id":"a","proactive_chat":"yes"}]}')).not.toEqual([]);
  });
});

describe('the spec reads the public/api/v2/chat envelopes tolerantly', () => {
  it('accepts a null data envelope from the unverified visitorTyping endpoint, as from public widget availability', () => {
    // One example on the dlt page is all there is of this body (snapengage-api.md §3.5), so null is tolerated as for
    // the corroborated availability envelope; a typing flag that is no boolean is still refused.
    const typing = (text: string) =>
      responseProblems('/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping', 'GET', { status: 200, contentType: 'application/json', text });
    expect(responseProblems('/public/api/v2/chat/{widgetId}', 'GET', { status: 200, contentType: 'application/json', text: '{"data":null}' })).toEqual([]);
    expect(typing('{"statusCode":1,"data":null}')).toEqual([]);
    expect(typing('{"statusCode":1,"data":{"typing":"true"}}')).toEqual([]);
    expect(typing('{"statusCode":1,"data":{"typing":"maybe"}}')).not.toEqual([]);
  });
});

describe('Logs API responses validate', () => {
  it('200 pages, every case without undeclared keys', async () => {
    const page = await getLogsPage(sandbox, logsUrl(sandbox, { widgetId, start: '2024-01-01', end: '2025-12-31' }));
    expect(page.cases).toHaveLength(100);
    expect(page.next).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    for (const line of await truthLines(sandbox)) expect(undeclaredKeys('Case', JSON.parse(line))).toEqual([]);
  });

  it('400, 401, 404 (empty body), 405', async () => {
    const token = { authorization: sandbox.credentials.apiToken };
    expect((await call(LOGS, 'GET', logsUrl(sandbox, { start: '2025-01-01' }), { headers: token })).status).toBe(400);
    expect((await call(LOGS, 'GET', logsUrl(sandbox, { start: 'x', end: '2025-01-01' }), { headers: token })).status).toBe(400);
    expect((await call(LOGS, 'GET', logsUrl(sandbox, { start: '2025-01-01', end: '2025-01-02' }))).status).toBe(401);
    const unknownWidget = await call(LOGS, 'GET', logsUrl(sandbox, { widgetId: 'nope', start: '2025-01-01', end: '2025-01-02' }), { headers: token });
    expect([unknownWidget.status, unknownWidget.text]).toEqual([404, '']);
    const unknownOrg = await call(LOGS, 'GET', `${sandbox.url}/api/v2/other-org/logs?start=2025-01-01&end=2025-01-02`, { headers: token });
    expect([unknownOrg.status, unknownOrg.text]).toEqual([404, '']);
    const wrongMethod = await fetch(logsUrl(sandbox, { start: '2025-01-01', end: '2025-01-02' }), { method: 'POST', headers: token });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
    expect(wrongMethod.headers.get('content-type')).toMatch(/^text\/plain/);
  });
});

describe('Visitor Chat API responses validate', () => {
  it('availability, poll, start, send, visitorTyping: 200', async () => {
    const availability = await call('/api/v1/chat/{widgetId}', 'GET', `${sandbox.url}/api/v1/chat/${widgetId}`, { headers: apiKey });
    expect(JSON.parse(availability.text)).toMatchObject({ widgetId, online: 'true' });
    for (const caseId of caseIds.slice(0, 50)) {
      await call('/api/v1/chat/poll/{caseId}', 'GET', `${sandbox.url}/api/v1/chat/poll/${caseId}?index=0`, { headers: apiKey });
    }
    const started = await call('/api/v1/chat', 'POST', `${sandbox.url}/api/v1/chat?widgetId=${widgetId}&visitorMessage=Hello`, {
      headers: { ...apiKey, 'content-type': 'application/x-www-form-urlencoded' },
    });
    const { caseId } = JSON.parse(started.text) as { caseId: string };
    await call('/api/v1/chat/poll/{caseId}', 'GET', `${sandbox.url}/api/v1/chat/poll/${caseId}`, { headers: apiKey });
    await call('/api/v1/chat', 'PUT', `${sandbox.url}/api/v1/chat?caseId=${caseId}&messageType=1&messageBody=hi`, { headers: apiKey });
    await call(
      '/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping',
      'GET',
      `${sandbox.url}/public/api/v2/chat/${widgetId}/${caseId}/visitorTyping`,
      { headers: apiKey },
    );
  });

  it('public widget availability: no credential, the data envelope, 404 with an empty body (snapengage-api.md §3.5, §6)', async () => {
    const PUBLIC = '/public/api/v2/chat/{widgetId}';
    const open = await call(PUBLIC, 'GET', `${sandbox.url}/public/api/v2/chat/${widgetId}`);
    expect(JSON.parse(open.text)).toEqual({ data: { online: 'true' } });
    // A client that sends its Visitor Chat key anyway is answered the same.
    expect((await call(PUBLIC, 'GET', `${sandbox.url}/public/api/v2/chat/${widgetId}`, { headers: apiKey })).text).toBe(open.text);
    const unknown = await call(PUBLIC, 'GET', `${sandbox.url}/public/api/v2/chat/unknown-widget`);
    expect([unknown.status, unknown.text]).toEqual([404, '']);
    expect((await fetch(`${sandbox.url}/public/api/v2/chat/${widgetId}`, { method: 'POST' })).status).toBe(405);
  });

  it('400, 401, 404 (empty body), 405', async () => {
    expect((await call('/api/v1/chat', 'POST', `${sandbox.url}/api/v1/chat`, { headers: apiKey })).status).toBe(400);
    expect((await call('/api/v1/chat', 'PUT', `${sandbox.url}/api/v1/chat?caseId=${caseIds[0]}&messageType=9`, { headers: apiKey })).status).toBe(400);
    expect((await call('/api/v1/chat/poll/{caseId}', 'GET', `${sandbox.url}/api/v1/chat/poll/${caseIds[0]}?index=-1`, { headers: apiKey })).status).toBe(400);
    expect((await call('/api/v1/chat/{widgetId}', 'GET', `${sandbox.url}/api/v1/chat/${widgetId}`)).status).toBe(401);
    for (const [path, url] of [
      ['/api/v1/chat/{widgetId}', `${sandbox.url}/api/v1/chat/unknown-widget`],
      ['/api/v1/chat/poll/{caseId}', `${sandbox.url}/api/v1/chat/poll/00000000-0000-4000-8000-000000000000`],
      ['/public/api/v2/chat/{widgetId}/{caseId}/visitorTyping', `${sandbox.url}/public/api/v2/chat/${widgetId}/nope/visitorTyping`],
    ] as const) {
      const response = await call(path, 'GET', url, { headers: apiKey });
      expect([response.status, response.text]).toEqual([404, '']);
    }
    const wrongMethod = await fetch(`${sandbox.url}/api/v1/chat/${widgetId}`, { method: 'DELETE', headers: apiKey });
    expect(wrongMethod.status).toBe(405);
  });
});

describe('Provisioning API responses validate', () => {
  it('widget.json, user.json GET and PUT', async () => {
    const key = `api_key=${sandbox.credentials.provisioningKey}`;
    const email = encodeURIComponent(sandbox.credentials.email);
    const widget = await call('/api/v1/widget.json', 'GET', `${sandbox.url}/api/v1/widget.json?${key}&uuid=${widgetId}&email=${email}`);
    expect(JSON.parse(widget.text)).toMatchObject({ uuid: widgetId, email: sandbox.credentials.email });
    const user = await call('/api/v1/user.json', 'GET', `${sandbox.url}/api/v1/user.json?${key}&email=${email}`);
    expect(JSON.parse(user.text)).toMatchObject({ email: sandbox.credentials.email });
    const created = await call('/api/v1/user.json', 'PUT', `${sandbox.url}/api/v1/user.json?${key}`, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'New.Agent@Example.com', name: 'Jimbo Something', password: '12345', phone: '555-617-8980', accountType: 'enterprise' }),
    });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.text)).toEqual({ email: 'new.agent@example.com', name: 'Jimbo Something', phone: '555-617-8980', accountType: 'enterprise' });
    expect((await call('/api/v1/widget.json', 'GET', `${sandbox.url}/api/v1/widget.json?${key}&uuid=${widgetId}`)).status).toBe(400);
    expect((await call('/api/v1/widget.json', 'GET', `${sandbox.url}/api/v1/widget.json?uuid=${widgetId}&email=${email}`)).status).toBe(401);
    expect((await call('/api/v1/widget.json', 'GET', `${sandbox.url}/api/v1/widget.json?${key}&uuid=nope&email=${email}`)).text).toBe('');
    expect((await call('/api/v1/user.json', 'GET', `${sandbox.url}/api/v1/user.json?${key}&email=nobody%40example.com`)).status).toBe(404);
    expect((await fetch(`${sandbox.url}/api/v1/user.json?${key}`, { method: 'POST' })).status).toBe(405);
  });
});

describe('routing', () => {
  it('answers an unknown path with 404 and an empty body, and every response carries x-request-id', async () => {
    const response = await fetch(`${sandbox.url}/api/v3/whatever`);
    expect(response.status).toBe(404);
    expect(await response.text()).toBe('');
    expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('sends JSON as application/json; charset=utf-8', async () => {
    const response = await fetch(`${sandbox.url}/api/v1/chat/${widgetId}`, { headers: apiKey });
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
  });
});

describe('quirks: the other readings of what the reference leaves unknown (snapengage-api.md §1, §5, §9.2-3)', () => {
  it('serves them, still valid for the spec, from the seed, and leaves the default data unchanged', async () => {
    const options = { seed: 7, cases: 600, widgets: 3, days: 30, now: FIXED_NOW } as const;
    const quirky = await startSandbox({ ...options, quirks: true });
    const again = await startSandbox({ ...options, quirks: true });
    try {
      const plain = await truthLines(sandbox);
      const lines = await truthLines(quirky);
      expect(await truthLines(again)).toEqual(lines);
      expect(lines.map((line) => (JSON.parse(line) as { id: string }).id)).toEqual(caseIds);
      const cases = lines.map((line) => JSON.parse(line) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      const plainCases = plain.map((line) => JSON.parse(line) as Record<string, any>); // eslint-disable-line @typescript-eslint/no-explicit-any
      // created_at_milliseconds as the 0-999 part of the second, consistently (the time itself unchanged).
      for (const [i, c] of cases.entries()) {
        expect(c.created_at_milliseconds).toBeGreaterThanOrEqual(0);
        expect(c.created_at_milliseconds).toBeLessThan(1000);
        expect(c.created_at_seconds * 1000 + c.created_at_milliseconds).toBe(plainCases[i]?.created_at_date);
      }
      const transcriptLines = cases.flatMap((c) => (c.transcripts ?? []) as Array<Record<string, unknown>>);
      expect(transcriptLines.every((t) => (t.date_milliseconds as number) < 1000)).toBe(true);
      // Unlisted keys, the cut-off "age", and other shapes of translations and javascript_variables values.
      expect(cases.some((c) => 'widget_id' in c)).toBe(true);
      expect(cases.some((c) => c.requester_details && 'age' in c.requester_details)).toBe(true);
      expect(cases.some((c) => c.requester_details && 'company' in c.requester_details)).toBe(true);
      expect(new Set(transcriptLines.map((t) => (t.translations === null ? 'null' : Array.isArray(t.translations) ? 'array' : typeof t.translations)))).toEqual(
        new Set(['string', 'array', 'object', 'null']),
      );
      const jsValues = cases.flatMap((c) => (c.javascript_variables ?? []) as Array<{ value: unknown }>).map((v) => typeof v.value);
      expect(new Set(jsValues)).toEqual(new Set(['string', 'number', 'boolean']));
      // The spec reads all of it (unlisted keys are allowed), page by page.
      const quirkyWidget = quirky.credentials.widgetIds[0] ?? '';
      const page = await getLogsPage(quirky, logsUrl(quirky, { widgetId: quirkyWidget, start: '2024-01-01', end: '2025-12-31' }));
      expect(page.cases.length).toBeGreaterThan(0);
      // Without the option nothing of this appears.
      expect(plainCases.some((c) => 'widget_id' in c || (c.requester_details && 'age' in c.requester_details))).toBe(false);
    } finally {
      await Promise.all([quirky.close(), again.close()]);
    }
  });

  it('refuses a quirks value that is not a boolean', async () => {
    await expect(startSandbox({ quirks: 'yes' as unknown as boolean })).rejects.toThrow(/^quirks must be true or false/);
  });
});
