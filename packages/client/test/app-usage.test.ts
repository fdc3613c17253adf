// The client as an app uses it on its own (no loader): arguments an app passes straight from its data (a path
// parameter that is empty or a dot segment, a page cap), and what iteratePages yields when a page has no body. Each
// of these failed quietly or with an untyped error before: a request went to another endpoint of the API with the
// credential, a TypeError came out of the app's own loop, or the cap's error said pages were fetched when none was.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { createSnapEngageClient, SnapEngageError } from '../src/index.js';

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

async function caught(promise: Promise<unknown>): Promise<SnapEngageError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SnapEngageError);
    return error as SnapEngageError;
  }
  throw new Error('expected a SnapEngageError, got a result');
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
