import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { FIXED_NOW, logsUrl } from './helpers/sandbox.js';

// Each SnapEngage auth scheme: the right credential in the right place → 200; missing, wrong, in the wrong
// place or with a "Bearer " prefix → 401.

let sandbox: Sandbox;

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 1, cases: 50, now: FIXED_NOW });
});

afterAll(() => sandbox.close());

async function status(url: string, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(url, { headers });
  await response.arrayBuffer();
  return response.status;
}

describe('Logs API: raw token in Authorization', () => {
  const url = (): string => logsUrl(sandbox, { start: '2025-01-01', end: '2025-01-31' });

  it('accepts the raw token', async () => {
    expect(await status(url(), { authorization: sandbox.credentials.apiToken })).toBe(200);
  });

  it.each([
    ['missing', {}],
    ['wrong', { authorization: 'f'.repeat(40) }],
    ['Bearer-prefixed', { authorization: 'Bearer TOKEN' }],
    ['in x-api-key', { 'x-api-key': 'TOKEN' }],
    ['the Visitor Chat key', { authorization: 'APIKEY' }],
  ])('refuses a %s token with 401', async (_, headers: Record<string, string>) => {
    const resolved = Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [name, value.replace('TOKEN', sandbox.credentials.apiToken).replace('APIKEY', sandbox.credentials.apiKey)]),
    );
    expect(await status(url(), resolved)).toBe(401);
  });
});

describe('Visitor Chat API: x-api-key header', () => {
  const url = (): string => `${sandbox.url}/api/v1/chat/${sandbox.credentials.widgetIds[0]}`;

  it('accepts the key, whatever the case of the header name', async () => {
    expect(await status(url(), { 'x-api-key': sandbox.credentials.apiKey })).toBe(200);
    expect(await status(url(), { 'X-Api-Key': sandbox.credentials.apiKey })).toBe(200);
  });

  it('refuses a missing, wrong, Bearer-prefixed or misplaced key with 401', async () => {
    expect(await status(url())).toBe(401);
    expect(await status(url(), { 'x-api-key': 'wrong' })).toBe(401);
    expect(await status(url(), { 'x-api-key': `Bearer ${sandbox.credentials.apiKey}` })).toBe(401);
    expect(await status(url(), { authorization: sandbox.credentials.apiKey })).toBe(401);
    expect(await status(`${url()}?api_key=${sandbox.credentials.apiKey}`)).toBe(401);
    expect(await status(url(), { 'x-api-key': sandbox.credentials.apiToken })).toBe(401);
  });
});

describe('Provisioning API: api_key query parameter', () => {
  const url = (key?: string): string =>
    `${sandbox.url}/api/v1/user.json?email=${encodeURIComponent(sandbox.credentials.email)}${key === undefined ? '' : `&api_key=${key}`}`;

  it('accepts the key in the query', async () => {
    expect(await status(url(sandbox.credentials.provisioningKey))).toBe(200);
  });

  it('refuses a missing, wrong or misplaced key with 401', async () => {
    expect(await status(url())).toBe(401);
    expect(await status(url('wrong'))).toBe(401);
    expect(await status(url(`Bearer%20${sandbox.credentials.provisioningKey}`))).toBe(401);
    expect(await status(url(), { 'x-api-key': sandbox.credentials.provisioningKey })).toBe(401);
    expect(await status(url(), { authorization: sandbox.credentials.provisioningKey })).toBe(401);
  });
});

describe('credentials', () => {
  it('are four distinct secrets and the ids a pipeline needs', () => {
    const { orgId, apiToken, apiKey, provisioningKey, widgetIds, email } = sandbox.credentials;
    expect(new Set([orgId, apiToken, apiKey, provisioningKey]).size).toBe(4);
    expect(widgetIds).toHaveLength(3);
    expect(email).toMatch(/@/);
    expect(sandbox.env.SNAPENGAGE_WIDGET_ID).toBe(widgetIds.join(','));
    expect(sandbox.env.SNAPENGAGE_START_DATE).toBe('2024-11-03');
  });
});
