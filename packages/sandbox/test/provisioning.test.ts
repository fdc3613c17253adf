import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { FIXED_NOW, truthLines } from './helpers/sandbox.js';

// Provisioning API behaviour: widgets of the account, user lookup, user creation with the documented rules.

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 31, cases: 10, widgets: 2, now: FIXED_NOW });
});

afterAll(() => sandbox.close());

function userUrl(query = ''): string {
  return `${sandbox.url}/api/v1/user.json?api_key=${sandbox.credentials.provisioningKey}${query}`;
}

async function createUser(body: unknown): Promise<{ status: number; body: any }> {
  const response = await fetch(userUrl(), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

const valid = { email: 'Jimbo@Example.com', name: 'Jimbo Something', password: '12345', accountType: 'biz' };

describe('widget.json', () => {
  it('returns each widget with its agents, for the owning account only', async () => {
    const served: unknown[] = [];
    for (const id of sandbox.credentials.widgetIds) {
      const url = `${sandbox.url}/api/v1/widget.json?api_key=${sandbox.credentials.provisioningKey}&uuid=${id}&email=${encodeURIComponent(sandbox.credentials.email)}`;
      const widget = (await (await fetch(url)).json()) as { uuid: string; agents: Array<Record<string, string>> };
      served.push(widget);
      expect(widget.uuid).toBe(id);
      expect(widget.agents.length).toBeGreaterThanOrEqual(2);
      for (const agent of widget.agents) expect(Object.keys(agent)).toEqual(['agentId', 'agentAlias', 'agentAvatar', 'agentType']);
      expect((await fetch(url.replace(/email=[^&]+/, 'email=someone%40else.com'))).status).toBe(404);
    }
    const truth = (await truthLines(sandbox, { resource: 'widgets' })).map((l) => JSON.parse(l) as { uuid: string });
    expect(truth.map((w) => w.uuid)).toEqual(sandbox.credentials.widgetIds);
    // Field for field what the API serves: a loader compared with the truth must not differ where the API does not.
    expect(truth).toEqual(served);
  });
});

describe('user.json', () => {
  it('creates a user (201, lower-cased email, no password) that GET then finds', async () => {
    const created = await createUser(valid);
    expect(created).toEqual({ status: 201, body: { email: 'jimbo@example.com', name: 'Jimbo Something', phone: null, accountType: 'biz' } });
    const found = await (await fetch(userUrl('&email=JIMBO%40example.com'))).json();
    expect(found).toEqual(created.body);
    expect(JSON.stringify(found)).not.toContain('12345');
    expect((await truthLines(sandbox, { resource: 'users' })).map((l) => JSON.parse(l).email)).toContain('jimbo@example.com');
  });

  it.each([
    [{ ...valid, email: undefined }, 'email is required'],
    [{ ...valid, email: 'not-an-email' }, 'not an email'],
    [{ ...valid, email: `${'a'.repeat(95)}@example.com` }, 'email must be'],
    [{ ...valid, name: '' }, 'name must be'],
    [{ ...valid, password: '1234' }, 'password must be'],
    [{ ...valid, password: 'x'.repeat(101) }, 'password must be'],
    [{ ...valid, accountType: 'Enterprise' }, 'accountType must be one of'],
    [{ ...valid, phone: 5556178980 }, 'phone must be a string'],
    ['{"email":', 'JSON object'],
    [[valid], 'JSON object'],
  ])('refuses %o with 400', async (body, message) => {
    const response = await createUser(body);
    expect(response.status).toBe(400);
    expect(response.body.error).toContain(message);
  });

  it('refuses a second user with the same email', async () => {
    const body = { ...valid, email: 'twice@example.com' };
    expect((await createUser(body)).status).toBe(201);
    expect((await createUser({ ...body, email: 'TWICE@example.com' })).status).toBe(400);
  });

  it('answers 400 without email and 404 for an unknown user', async () => {
    expect((await fetch(userUrl())).status).toBe(400);
    expect((await fetch(userUrl('&email=ghost%40example.com'))).status).toBe(404);
  });
});
