import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { FIXED_NOW, getLogsPage, logsUrl, postAdmin, truthLines } from './helpers/sandbox.js';
import { undeclaredKeys } from './helpers/spec.js';

// Admin API: injection (including hostile records and 50 MB bodies), late surveys, reset, stats, truth.

let sandbox: Sandbox;
let widgetId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 41, cases: 300, widgets: 2, days: 10, now: FIXED_NOW });
  widgetId = sandbox.credentials.widgetIds[0] ?? '';
});

afterAll(() => sandbox.close());

/** A Logs API page fetched without schema validation (hostile records are not meant to be valid). */
async function rawCases(query: Record<string, string>): Promise<string[]> {
  const response = await fetch(logsUrl(sandbox, query), { headers: { authorization: sandbox.credentials.apiToken } });
  expect(response.status).toBe(200);
  return ((await response.json()) as { cases: unknown[] }).cases.map((c) => JSON.stringify(c));
}

describe('POST /__sandbox/cases', () => {
  it('merges given fields over realistic defaults with a fresh id and "now"', async () => {
    const before = Date.now();
    const { status, body } = await postAdmin(sandbox, '/__sandbox/cases', { widgetId, cases: [{}, { description: 'given' }] });
    expect(status).toBe(201);
    expect(body.ids).toHaveLength(2);
    const records = (await truthLines(sandbox)).map((l) => JSON.parse(l) as Record<string, any>).filter((c) => body.ids.includes(c.id));
    expect(records).toHaveLength(2);
    for (const record of records) {
      expect(record.created_at_milliseconds).toBeGreaterThanOrEqual(before);
      expect(record.url).toBe(`https://www.snapengage.com/viewcase?c=${record.id}`);
      expect(undeclaredKeys('Case', record)).toEqual([]);
    }
    expect(records.find((r) => r.id === body.ids[1])?.description).toBe('given');
  });

  it('with bare: true, serves each object as the whole case, without any default key (every Case key is optional)', async () => {
    const t = Date.UTC(2025, 0, 26, 12);
    const bare = [{ id: 'bare-1', created_at_seconds: t / 1000 }, { id: 'bare-2' }, { created_at_milliseconds: t + 1000, description: 'no id' }];
    const { status, body } = await postAdmin(sandbox, '/__sandbox/cases', { widgetId, bare: true, cases: bare });
    expect(status).toBe(201);
    expect(body.ids.slice(0, 2)).toEqual(['bare-1', 'bare-2']);
    expect(body.ids[2]).toMatch(/^[0-9a-f-]{36}$/);
    // Ordered by their own creation time (a case without one: created now); served exactly as given.
    const served = await rawCases({ widgetId, start: '2025-01-26', end: '2025-01-26' });
    const given = served.filter((line) => !line.includes('"url"'));
    expect(given).toEqual([JSON.stringify(bare[0]), JSON.stringify(bare[2])]);
    expect((await truthLines(sandbox)).filter((line) => line === JSON.stringify(bare[1]))).toHaveLength(1);
    // An id-less case is still found (poll) under the id the injection returned.
    const poll = await fetch(new URL(`/api/v1/chat/poll/${body.ids[2]}`, sandbox.url), { headers: { 'x-api-key': sandbox.credentials.apiKey } });
    expect(poll.status).toBe(200);
    expect((await postAdmin(sandbox, '/__sandbox/cases', { widgetId, bare: 'yes', cases: [] })).status).toBe(400);
  });

  it('orders a case whose created_at_milliseconds is the 0-999 part of created_at_seconds (the facts leave it open) by its seconds', async () => {
    const t = Date.UTC(2025, 0, 27, 8);
    const { status, body } = await postAdmin(sandbox, '/__sandbox/cases', { widgetId, bare: true, cases: [{ id: 'ms-part', created_at_seconds: t / 1000, created_at_milliseconds: 523, created_at_date: 'Jan 27, 2025' }] });
    expect(status).toBe(201);
    expect(body.ids).toEqual(['ms-part']);
    expect((await rawCases({ widgetId, start: '2025-01-27', end: '2025-01-27' })).filter((line) => line.includes('"ms-part"'))).toHaveLength(1);
  });

  it('puts a case created exactly at midnight in the day it starts, not the one before, in the Logs API and the truth', async () => {
    // A window's end is the next day's first instant, excluded: an injected case at that instant listed in both days
    // would be fetched twice by a loader walking day windows, and the truth would hide it.
    const midnight = Date.UTC(2025, 0, 25);
    const cases = [{ id: 'edge-before', created_at_milliseconds: midnight - 1 }, { id: 'edge-midnight', created_at_milliseconds: midnight }];
    expect((await postAdmin(sandbox, '/__sandbox/cases', { widgetId, bare: true, cases })).status).toBe(201);
    const edgeIds = (lines: string[]) => lines.map((line) => (JSON.parse(line) as { id?: unknown }).id).filter((id) => String(id).startsWith('edge-'));
    for (const [day, expected] of [['2025-01-24', ['edge-before']], ['2025-01-25', ['edge-midnight']]] as const) {
      const query = { widgetId, start: day, end: day, timezone: 'Etc/UTC' };
      expect(edgeIds(await rawCases(query)), `Logs API ${day}`).toEqual(expected);
      expect(edgeIds(await truthLines(sandbox, query)), `truth ${day}`).toEqual(expected);
    }
  });

  it('keeps hostile records as given, and serves them identically in the truth and the Logs API', async () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 300; i++) deep = { level: deep };
    const hostile = [
      { id: 'hostile-1', created_at_milliseconds: Date.UTC(2025, 0, 25), 'weird key ✨': [1, { a: null }], '': 'empty key' },
      { id: 'hostile-2', created_at_seconds: Date.UTC(2025, 0, 25) / 1000 + 1, survey_score: 'high', transcripts: 'not a list', labels: [null, 3] },
      { id: 'hostile-3', created_at_date: Date.UTC(2025, 0, 25) + 2000, description: 'x'.repeat(200 * 1024), requester_details: deep },
      { id: 12345, created_at_milliseconds: Date.UTC(2025, 0, 25) + 3000, type: null },
    ];
    // JSON.stringify drops a literal __proto__ set through an object literal, so write that key by hand.
    const body = JSON.stringify({ widgetId, cases: hostile }).replace('"weird key ✨"', '"__proto__":{"polluted":true},"weird key ✨"');
    const { status, body: result } = await postAdmin(sandbox, '/__sandbox/cases', body);
    expect(status).toBe(201);
    expect(result.ids.slice(0, 3)).toEqual(['hostile-1', 'hostile-2', 'hostile-3']);
    const query = { widgetId, start: '2025-01-25', end: '2025-01-25' };
    const truth = await truthLines(sandbox, query);
    const served = await rawCases(query);
    expect(served).toEqual(truth.slice(0, 100));
    const injected = truth.filter((line) => /"id":("hostile|12345)/.test(line)).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(injected.map((c) => c.id)).toEqual(['hostile-1', 'hostile-2', 'hostile-3', 12345]);
    expect(Object.prototype.hasOwnProperty.call(injected[0], '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(injected[0]?.['']).toBe('empty key');
    expect(injected[1]?.survey_score).toBe('high');
    expect((injected[2]?.description as string).length).toBe(200 * 1024);
    expect(injected[3]?.type).toBeNull();
  });

  it('serves an integer beyond 2^53 with every digit, in the truth and the Logs API (JSON.parse would round it)', async () => {
    const text = `{"id": "big-int-case", "created_at_date": 946684800000, "big_id": 9007199254740993, "list": [-12345678901234567890, 1.5], "text": "9007199254740993"}`;
    const response = await fetch(`${sandbox.url}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"widgetId": ${JSON.stringify(widgetId)}, "bare": true, "cases": [${text}]}` });
    expect(response.status).toBe(201);
    const served = '{"id":"big-int-case","created_at_date":946684800000,"big_id":9007199254740993,"list":[-12345678901234567890,1.5],"text":"9007199254740993"}';
    expect((await truthLines(sandbox)).filter((l) => l.includes('big-int-case'))).toEqual([served]);
    const page = await fetch(logsUrl(sandbox, { widgetId, start: '2000-01-01', end: '2000-01-01' }), { headers: { authorization: sandbox.credentials.apiToken } });
    expect(await page.text()).toContain(served);
  });

  it('accepts a 50 MB body and refuses more than 64 MB with 413', async () => {
    const big = 'é'.repeat(100 * 1024); // 200 kB of UTF-8
    const cases = Array.from({ length: 250 }, (_, i) => ({ description: big, operator_variables: [{ name: 'n', value: String(i) }] }));
    const accepted = await postAdmin(sandbox, '/__sandbox/cases', { widgetId: sandbox.credentials.widgetIds[1], cases });
    expect(accepted.status).toBe(201);
    expect(accepted.body.ids).toHaveLength(250);
    const tooBig = await fetch(`${sandbox.url}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"cases":[],"pad":"${'x'.repeat(65 * 1024 * 1024)}"}` });
    expect(tooBig.status).toBe(413);
  });

  it('refuses a bad body with 400', async () => {
    expect((await postAdmin(sandbox, '/__sandbox/cases', '{"widgetId":')).status).toBe(400);
    expect((await postAdmin(sandbox, '/__sandbox/cases', { widgetId: 'nope', cases: [] })).status).toBe(400);
    expect((await postAdmin(sandbox, '/__sandbox/cases', { widgetId, cases: [1] })).status).toBe(400);
    expect((await postAdmin(sandbox, '/__sandbox/cases', { widgetId })).status).toBe(400);
    expect(await postAdmin(sandbox, '/__sandbox/cases', { cases: [] })).toMatchObject({ status: 400, body: { error: expect.stringContaining(`give one of ${widgetId}`) } });
  });

  it('refuses a body that is not UTF-8 instead of serving U+FFFD for its bytes', async () => {
    const before = await truthLines(sandbox);
    const post = async (bytes: Buffer): Promise<{ status: number; body: { error?: string } }> => {
      const response = await fetch(`${sandbox.url}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: new Uint8Array(bytes) });
      return { status: response.status, body: (await response.json()) as { error?: string } };
    };
    // "café" in Latin-1 (the é is 0xE9 alone), as a test that builds its body with Buffer.from(text, 'latin1') sends it.
    const latin1 = Buffer.from(`{"widgetId":"${widgetId}","cases":[{"requester_details":{"name":"café"}}]}`, 'latin1');
    expect(await post(latin1)).toEqual({ status: 400, body: { error: `the body is not valid UTF-8 (byte ${latin1.indexOf(0xe9)}): send JSON text encoded as UTF-8` } });
    const cut = Buffer.from(`{"widgetId":"${widgetId}","cases":[{"requester_details":{"name":"caf\xc3`, 'latin1');
    expect((await post(cut)).body.error).toContain('(a character cut at its end)');
    expect(await truthLines(sandbox)).toEqual(before);
    // The same text in UTF-8 is taken, and served with its accent.
    const utf8 = await post(Buffer.from(latin1.toString('latin1'), 'utf8'));
    expect(utf8.status).toBe(201);
    expect((await truthLines(sandbox)).join('\n')).toContain('"name":"café"');
  });

  it('refuses a misspelt key instead of ignoring it with a success', async () => {
    const before = await truthLines(sandbox);
    expect(await postAdmin(sandbox, '/__sandbox/cases', { widgetId, nochat: true, cases: [{}] })).toMatchObject({ status: 400, body: { error: expect.stringMatching(/unknown key "nochat".*noChat/) } });
    expect(await truthLines(sandbox)).toEqual(before);
    expect(await postAdmin(sandbox, '/__sandbox/paging', { trailingEmptyPages: true })).toMatchObject({ status: 400, body: { error: expect.stringContaining('unknown key "trailingEmptyPages"') } });
    expect(await postAdmin(sandbox, '/__sandbox/faults', { faults: '', spec: '500=1' })).toMatchObject({ status: 400 });
    expect(await postAdmin(sandbox, '/__sandbox/surveys', { updates: [], update: [] })).toMatchObject({ status: 400 });
    const misspelt = await fetch(`${sandbox.url}/__sandbox/truth?resource=logs&widgetID=${widgetId}`);
    expect(misspelt.status).toBe(400);
    expect(await misspelt.text()).toContain('unknown query parameter \\"widgetID\\"');
  });
});

describe('POST /__sandbox/surveys', () => {
  it('sets survey fields on generated and injected cases, all or nothing', async () => {
    const [generated] = (await truthLines(sandbox, { widgetId, start: '2025-01-22', end: '2025-01-22' })).map((l) => JSON.parse(l) as { id: string });
    const injectedId = (await postAdmin(sandbox, '/__sandbox/cases', { widgetId, cases: [{}] })).body.ids[0] as string;
    const refused = await postAdmin(sandbox, '/__sandbox/surveys', { updates: [{ caseId: generated?.id, survey_score: 1 }, { caseId: 'missing' }] });
    expect(refused).toMatchObject({ status: 404, body: { caseIds: ['missing'] } });
    const updates = [
      { caseId: generated?.id, survey_score: 80, survey_comments: 'Très bien 👍' },
      { caseId: injectedId, survey_score: 20 },
    ];
    expect(await postAdmin(sandbox, '/__sandbox/surveys', { updates })).toEqual({ status: 200, body: { updated: 2 } });
    const truth = (await truthLines(sandbox)).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(truth.find((c) => c.id === generated?.id)).toMatchObject({ survey_score: 80, survey_comments: 'Très bien 👍' });
    expect(truth.find((c) => c.id === injectedId)).toMatchObject({ survey_score: 20 });
    const page = await getLogsPage(sandbox, logsUrl(sandbox, { widgetId, start: '2025-01-22', end: '2025-01-22' }));
    expect(page.cases[0]).toMatchObject({ id: generated?.id, survey_score: 80 });
  });
});

describe('truth, stats, faults, reset', () => {
  it('streams other resources and refuses unknown ones', async () => {
    expect(await truthLines(sandbox, { resource: 'chat_availability' })).toHaveLength(2);
    expect((await truthLines(sandbox, { resource: 'users' })).length).toBeGreaterThanOrEqual(1);
    expect((await fetch(`${sandbox.url}/__sandbox/truth?resource=nope`)).status).toBe(400);
    expect((await fetch(`${sandbox.url}/__sandbox/truth?widgetId=nope`)).status).toBe(404);
    expect((await fetch(`${sandbox.url}/__sandbox/truth`, { method: 'DELETE' })).status).toBe(405);
  });

  it('counts API requests by status, but not admin requests', async () => {
    const fresh = await startSandbox({ seed: 1, cases: 10, now: FIXED_NOW });
    try {
      await fetch(`${fresh.url}/api/v1/chat/${fresh.credentials.widgetIds[0]}`, { headers: { 'x-api-key': fresh.credentials.apiKey } });
      await fetch(`${fresh.url}/api/v1/chat/${fresh.credentials.widgetIds[0]}`);
      await fetch(`${fresh.url}/nowhere`);
      const stats = await (await fetch(`${fresh.url}/__sandbox/stats`)).json();
      expect(stats).toMatchObject({ requests: 3, byStatus: { '200': 1, '401': 1, '404': 1 }, faults: {}, cases: { generated: 10, injected: 0 } });
    } finally {
      await fresh.close();
    }
  });

  it('validates the fault spec at run time', async () => {
    expect(await postAdmin(sandbox, '/__sandbox/faults', { faults: '429=2' })).toMatchObject({ status: 400, body: { error: expect.stringContaining('between 0 and 1') } });
    expect(await postAdmin(sandbox, '/__sandbox/faults', { faults: 'teapot=0.1' })).toMatchObject({ status: 400, body: { error: expect.stringContaining('unknown key') } });
    expect((await postAdmin(sandbox, '/__sandbox/faults', { faults: 0.1 })).status).toBe(400);
    expect(await postAdmin(sandbox, '/__sandbox/faults', { faults: '' })).toEqual({ status: 200, body: { faults: '' } });
  });

  it('resets to the seeded state', async () => {
    const seeded = await startSandbox({ seed: 41, cases: 300, widgets: 2, days: 10, now: FIXED_NOW });
    try {
      expect(await truthLines(sandbox)).not.toEqual(await truthLines(seeded));
      expect(await postAdmin(sandbox, '/__sandbox/reset', {})).toEqual({ status: 200, body: { reset: true } });
      expect(await truthLines(sandbox)).toEqual(await truthLines(seeded));
      expect(await truthLines(sandbox, { resource: 'users' })).toEqual(await truthLines(seeded, { resource: 'users' }));
      expect((await (await fetch(`${sandbox.url}/__sandbox/stats`)).json()).requests).toBe(0);
    } finally {
      await seeded.close();
    }
  });
});
