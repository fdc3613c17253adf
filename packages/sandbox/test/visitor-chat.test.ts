import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { FIXED_NOW, getLogsPage, logsUrl, truthLines } from './helpers/sandbox.js';

// Visitor Chat API behaviour: poll works for every case the Logs API returns, started chats are real cases.

let sandbox: Sandbox;
let widgetId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 21, cases: 400, widgets: 2, days: 10, now: FIXED_NOW });
  widgetId = sandbox.credentials.widgetIds[0] ?? '';
});

afterAll(() => sandbox.close());

const headers = (): Record<string, string> => ({ 'x-api-key': sandbox.credentials.apiKey });

async function send(method: string, path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${sandbox.url}${path}`, { method, ...init, headers: { ...headers(), ...(init.headers as Record<string, string>) } });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('poll', () => {
  it('answers 200 for every case id of the Logs API, with agent lines from the transcript', async () => {
    const cases = (await truthLines(sandbox)).map((l) => JSON.parse(l) as { id: string; transcripts: Array<{ id: string; message: string }> });
    expect(cases).toHaveLength(400);
    for (const c of cases) {
      const { status, body } = await send('GET', `/api/v1/chat/poll/${c.id}`);
      expect(status).toBe(200);
      expect(body.caseId).toBe(c.id);
      const agentLines = c.transcripts.filter((t) => t.id !== '').map((t) => t.message);
      expect(body.messageList.filter((m: { type: string }) => m.type === 'agent').map((m: { text: string }) => m.text)).toEqual(agentLines);
      for (const m of body.messageList.filter((m: { type: string }) => m.type === 'system')) expect(m.text).toMatch(/^\/NIC .* $/);
    }
  });

  it('returns only messages with index >= index', async () => {
    const cases = (await truthLines(sandbox)).map((l) => JSON.parse(l) as { id: string; transcripts: unknown[] });
    const long = cases.find((c) => c.transcripts.length > 6);
    const all = (await send('GET', `/api/v1/chat/poll/${long?.id}`)).body.messageList as Array<{ index: number }>;
    const from = all[2]?.index ?? 0;
    const later = (await send('GET', `/api/v1/chat/poll/${long?.id}?index=${from}`)).body.messageList;
    expect(later).toEqual(all.filter((m) => m.index >= from));
  });

  it('answers 404 for an unknown or foreign-seed case id', async () => {
    const other = await startSandbox({ seed: 22, cases: 5, widgets: 1, now: FIXED_NOW });
    try {
      const foreignId = (JSON.parse((await truthLines(other))[0] ?? '{}') as { id: string }).id;
      expect((await send('GET', `/api/v1/chat/poll/${foreignId}`)).status).toBe(404);
      expect((await send('GET', '/api/v1/chat/poll/not-a-uuid')).status).toBe(404);
    } finally {
      await other.close();
    }
  });
});

describe('cases the Visitor Chat API does not know (injected with noChat)', () => {
  it('are listed by the Logs API and answer 404 to poll, visitorTyping and send', async () => {
    const box = await startSandbox({ seed: 23, cases: 10, widgets: 1, now: FIXED_NOW });
    const call = async (method: string, path: string) => (await fetch(`${box.url}${path}`, { method, headers: { 'x-api-key': box.credentials.apiKey } })).status;
    try {
      const widget = box.credentials.widgetIds[0]!;
      const inject = async (noChat: unknown) => fetch(`${box.url}/__sandbox/cases`, { method: 'POST', body: JSON.stringify({ widgetId: widget, noChat, cases: [{}] }) });
      expect((await inject('yes')).status).toBe(400);
      const { ids: [gone] } = (await (await inject(true)).json()) as { ids: string[] };
      const { ids: [kept] } = (await (await inject(false)).json()) as { ids: string[] };
      const listed = (await truthLines(box)).map((l) => (JSON.parse(l) as { id: string }).id);
      expect(listed).toEqual(expect.arrayContaining([gone, kept]));
      expect(await call('GET', `/api/v1/chat/poll/${gone}`)).toBe(404);
      expect(await call('GET', `/public/api/v2/chat/${widget}/${gone}/visitorTyping`)).toBe(404);
      expect(await call('PUT', `/api/v1/chat?caseId=${gone}&messageBody=hi`)).toBe(404);
      expect(await call('GET', `/api/v1/chat/poll/${kept}`)).toBe(200);
      expect(await call('GET', `/public/api/v2/chat/${widget}/${kept}/visitorTyping`)).toBe(200);
    } finally {
      await box.close();
    }
  });
});

describe('a chat started through the API', () => {
  it('is a case in the Logs API and the truth, polls, answers messages, and closes', async () => {
    const started = await send('POST', `/api/v1/chat?widgetId=${widgetId}&email=ana%40example.com&locale=pt-BR`, {
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'visitorMessage=Ol%C3%A1%20%F0%9F%91%8B&phone=%2B351%20912',
    });
    expect(started).toMatchObject({ status: 200, body: { widgetId } });
    const caseId = started.body.caseId as string;

    const first = (await send('GET', `/api/v1/chat/poll/${caseId}?index=0&isTyping=true`)).body;
    expect(first.messageList.map((m: { type: string; text: string }) => m.type)).toEqual(['system', 'system', 'agent']);
    expect(first.messageList[1].text).toMatch(/^\/NIC \S+ $/);
    const typing = await send('GET', `/public/api/v2/chat/${widgetId}/${caseId}/visitorTyping`);
    expect(typing.body).toEqual({ statusCode: 1, data: { typing: true } });

    const echo = await send('PUT', `/api/v1/chat?caseId=${caseId}&messageType=1&messageBody=${encodeURIComponent('Merci ✨')}`);
    expect(echo).toEqual({ status: 200, body: { caseId, messageBody: 'Merci ✨', messageType: '1' } });
    const nextIndex = (first.messageList.at(-1).index as number) + 1;
    const second = (await send('GET', `/api/v1/chat/poll/${caseId}?index=${nextIndex}`)).body;
    expect(second.messageList).toHaveLength(1);
    expect(second.messageList[0].index).toBeGreaterThan(nextIndex); // the visitor's own message took an index

    // messageBody is optional (spec and docs): a message without one is acknowledged and adds nothing.
    const empty = await send('PUT', `/api/v1/chat?caseId=${caseId}&messageType=1`);
    expect(empty).toEqual({ status: 200, body: { caseId, messageBody: '', messageType: '1' } });
    const afterEmpty = (await send('GET', `/api/v1/chat/poll/${caseId}?index=${(second.messageList[0].index as number) + 1}`)).body;
    expect(afterEmpty.messageList).toEqual([]);

    expect((await send('PUT', `/api/v1/chat?caseId=${caseId}&messageType=2`)).body.messageType).toBe('2');
    expect((await send('PUT', `/api/v1/chat?caseId=${caseId}&messageType=1&messageBody=late`)).status).toBe(400);

    const record = (await truthLines(sandbox)).map((l) => JSON.parse(l) as Record<string, any>).find((c) => c.id === caseId);
    expect(record).toMatchObject({ type: 'chat', requested_by: 'ana@example.com', description: 'Olá 👋', language_code: 'pt-BR' });
    expect(record?.requester_details.phones).toEqual(['+351 912']);
    expect(record?.transcripts.map((t: { message: string }) => t.message)).toContain('Merci ✨');
    expect(record).not.toHaveProperty('survey_score');

    const today = new Date().toISOString().slice(0, 10);
    const page = await getLogsPage(sandbox, logsUrl(sandbox, { widgetId, start: today, end: today }));
    expect(page.cases.map((c) => c.id)).toContain(caseId);
  });

  it('sends an offline message as an offline case', async () => {
    const started = await send('POST', `/api/v1/chat?widgetId=${widgetId}&isOffline=true&visitorMessage=call%20me`);
    const record = (await truthLines(sandbox)).map((l) => JSON.parse(l) as Record<string, unknown>).find((c) => c.id === started.body.caseId);
    expect(record).toMatchObject({ type: 'offline', description: 'call me' });
    expect(record).not.toHaveProperty('chat_agent_id');
  });

  it('refuses bad parameters with 400 and unknown ids with 404', async () => {
    expect((await send('POST', '/api/v1/chat')).status).toBe(400);
    expect((await send('POST', `/api/v1/chat?widgetId=${widgetId}&isOffline=maybe`)).status).toBe(400);
    expect((await send('POST', '/api/v1/chat?widgetId=unknown')).status).toBe(404);
    expect((await send('PUT', '/api/v1/chat?messageType=1&messageBody=x')).status).toBe(400);
    expect((await send('PUT', '/api/v1/chat?caseId=unknown&messageType=1&messageBody=x')).status).toBe(404);
    expect((await send('GET', `/api/v1/chat/poll/x?isTyping=perhaps`)).status).toBe(400);
  });

  it('enforces emailRequired and messageRequired from the availability', async () => {
    for (const id of sandbox.credentials.widgetIds) {
      const availability = (await send('GET', `/api/v1/chat/${id}`)).body;
      for (const flag of ['online', 'emailRequired', 'messageRequired', 'screenshotRequired']) expect(['true', 'false']).toContain(availability[flag]);
      const bare = await send('POST', `/api/v1/chat?widgetId=${id}`);
      const needsSomething = availability.emailRequired === 'true' || availability.messageRequired === 'true';
      expect(bare.status).toBe(needsSomething ? 400 : 200);
    }
  });

  it('checks each required field on its own, the email\'s form, the messageType, and reads booleans in any case', async () => {
    const box = await startSandbox({ seed: 21, cases: 10, widgets: 12, days: 1, now: FIXED_NOW });
    try {
      const call = async (method: string, path: string) => (await fetch(`${box.url}${path}`, { method, headers: { 'x-api-key': box.credentials.apiKey } })).status;
      const start = (id: string, query: string) => call('POST', `/api/v1/chat?widgetId=${id}${query}`);
      const flags = await Promise.all(box.credentials.widgetIds.map(async (id) => ({ id, ...(await (await fetch(`${box.url}/api/v1/chat/${id}`, { headers: { 'x-api-key': box.credentials.apiKey } })).json()) })));
      // The seed gives widgets that require the email only and the message only: each is checked without the other.
      const emailOnly = flags.find((f) => f.emailRequired === 'true' && f.messageRequired === 'false');
      const messageOnly = flags.find((f) => f.emailRequired === 'false' && f.messageRequired === 'true');
      const free = flags.find((f) => f.emailRequired === 'false' && f.messageRequired === 'false')!;
      expect(emailOnly && messageOnly).toBeTruthy();
      expect(await start(emailOnly!.id, '&visitorMessage=hi')).toBe(400);
      expect(await start(emailOnly!.id, '&email=a%40b.c')).toBe(200);
      expect(await start(messageOnly!.id, '&email=a%40b.c')).toBe(400);
      expect(await start(messageOnly!.id, '&visitorMessage=hi')).toBe(200);
      expect(await start(free.id, '&email=not-an-email')).toBe(400);
      expect(await start(free.id, '&isOffline=TRUE')).toBe(200);
      expect(await start(free.id, '&isOffline=yes')).toBe(400);
      const started = await (await fetch(`${box.url}/api/v1/chat?widgetId=${free.id}`, { method: 'POST', headers: { 'x-api-key': box.credentials.apiKey } })).json();
      expect(await call('PUT', `/api/v1/chat?caseId=${started.caseId}&messageType=3&messageBody=x`)).toBe(400);
      expect(await call('PUT', `/api/v1/chat?caseId=${started.caseId}&messageType=1&messageBody=x`)).toBe(200);
    } finally {
      await box.close();
    }
  });

  it('visitorTyping is 404 when the case belongs to another widget', async () => {
    const started = await send('POST', `/api/v1/chat?widgetId=${widgetId}`);
    expect((await send('GET', `/public/api/v2/chat/${sandbox.credentials.widgetIds[1]}/${started.body.caseId}/visitorTyping`)).status).toBe(404);
  });
});

describe('boolean wire types (documented Boolean, strings in the doc example: unknown)', () => {
  it.each([
    ['doc', 'true', true],
    ['string', 'true', 'true'],
    ['boolean', true, true],
  ] as const)('chatBooleans %s: availability online %o, visitorTyping %o, in the API and the truth', async (mode, online, typing) => {
    const box = await startSandbox({ seed: 21, cases: 20, widgets: 1, days: 2, now: FIXED_NOW, chatBooleans: mode });
    try {
      const key = { 'x-api-key': box.credentials.apiKey };
      const widget = box.credentials.widgetIds[0] ?? '';
      const availability = (await (await fetch(`${box.url}/api/v1/chat/${widget}`, { headers: key })).json()) as Record<string, unknown>;
      expect(availability.online).toBe(online);
      expect(typeof availability.emailRequired).toBe(typeof online);
      const truth = await truthLines(box, { resource: 'chat_availability' });
      expect(truth).toEqual([JSON.stringify(availability)]);
      const caseId = (JSON.parse((await truthLines(box))[0] ?? '{}') as { id: string }).id;
      const poll = (await (await fetch(`${box.url}/api/v1/chat/poll/${caseId}?isTyping=true`, { headers: key })).json()) as Record<string, unknown>;
      expect(poll.agentTyping).toBe(typeof typing === 'string' ? 'false' : false);
      const typed = (await (await fetch(`${box.url}/public/api/v2/chat/${widget}/${caseId}/visitorTyping`, { headers: key })).json()) as { data: { typing: unknown } };
      expect(typed.data.typing).toBe(typing);
    } finally {
      await box.close();
    }
  });

  it('refuses an unknown mode', async () => {
    await expect(startSandbox({ chatBooleans: 'yes' as never })).rejects.toThrow(/chatBooleans must be one of/);
  });
});
