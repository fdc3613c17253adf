import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { FIXED_NOW, logsUrl, postAdmin, truthLines } from './helpers/sandbox.js';

// The admin API misused the way a user's own test may: whatever it is sent, it answers a 4xx with a JSON
// error that says what to fix, and nothing it accepts can break the Logs API or the truth afterwards.

let sandbox: Sandbox;
let widgetId: string;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 43, cases: 50, widgets: 2, days: 5, now: FIXED_NOW });
  widgetId = sandbox.credentials.widgetIds[0] ?? '';
});

afterAll(() => sandbox.close());

/** Nested deeper than JSON.stringify can go (JSON.parse takes it), written by hand for the same reason. */
function tooDeep(depth = 200_000): string {
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

async function logsStatus(): Promise<number> {
  const response = await fetch(logsUrl(sandbox, { widgetId, start: '2025-01-01', end: '2025-02-28' }), { headers: { authorization: sandbox.credentials.apiToken } });
  await response.arrayBuffer();
  return response.status;
}

describe('records the sandbox could not serve', () => {
  it('refuses a case nested too deeply to serialize, instead of answering 500 on every page that holds it', async () => {
    const body = `{"widgetId":${JSON.stringify(widgetId)},"cases":[{},{"created_at_seconds":${FIXED_NOW / 1000 - 60},"requester_details":${tooDeep()}}]}`;
    const refused = await postAdmin(sandbox, '/__sandbox/cases', body);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^cases\[1\] .*nested too deeply/);
    // All or nothing: the valid first case was not added either, and the Logs API and the truth still answer.
    expect((await (await fetch(`${sandbox.url}/__sandbox/stats`)).json()).cases.injected).toBe(0);
    expect(await logsStatus()).toBe(200);
    expect((await truthLines(sandbox)).length).toBe(50);
  });

  it('refuses a survey value nested too deeply, naming its update', async () => {
    const [first] = (await truthLines(sandbox, { widgetId })).map((line) => JSON.parse(line) as { id: string });
    const body = `{"updates":[{"caseId":${JSON.stringify(first?.id)},"survey_comments":${tooDeep()}}]}`;
    const refused = await postAdmin(sandbox, '/__sandbox/surveys', body);
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^updates\[0\] .*nested too deeply/);
    expect(await logsStatus()).toBe(200);
  });

  it('says that widgetId is missing rather than "widgetId undefined"', async () => {
    const refused = await postAdmin(sandbox, '/__sandbox/cases', { cases: [{}] });
    expect(refused.status).toBe(400);
    expect(refused.body.error).toMatch(/^widgetId is required/);
    expect(refused.body.error).toContain(widgetId);
  });
});

describe('unknown admin endpoints and methods', () => {
  it.each(['/__sandbox/nope', '/__sandbox/', '/__sandbox', '/__sandbox/truth/logs'])('answers GET %s with a JSON 404 listing the endpoints', async (path) => {
    const response = await fetch(`${sandbox.url}${path}`);
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const { error } = (await response.json()) as { error: string };
    expect(error).toContain(`no admin endpoint ${path}`);
    expect(error).toContain('GET /__sandbox/truth');
    expect(error).toContain('POST /__sandbox/cases');
  });

  it('answers a wrong method with a JSON 405 naming the right one', async () => {
    const response = await fetch(`${sandbox.url}/__sandbox/cases`, { method: 'GET' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    expect(await response.json()).toEqual({ error: 'GET /__sandbox/cases is not supported: use POST /__sandbox/cases' });
  });
});

describe('truth filters', () => {
  it.each(['widgets', 'users', 'chat_availability'])('refuses a Logs filter with resource=%s instead of ignoring it', async (resource) => {
    const response = await fetch(`${sandbox.url}/__sandbox/truth?resource=${resource}&widgetId=${widgetId}`);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe(`widgetId filters resource=logs only; resource=${resource} streams every record`);
  });
});
