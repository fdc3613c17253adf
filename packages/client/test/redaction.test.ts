// No credential in any error message, error JSON, inspect output, log line or warning, whatever fails.
import { inspect } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from 'snapengage-sandbox';
import { createSnapEngageClient, SnapEngageError, unwrap, type SnapEngageClient } from '../src/index.js';
import { startScriptedServer, type ScriptedServer } from './helpers/scripted-server.js';

const SECRETS = { apiToken: 'tok-Zq8Redact-1111', apiKey: 'key-Zq8Redact-2222', provisioningKey: 'prov-Zq8Redact-3333' };

let sandbox: Sandbox;
let echo: ScriptedServer;

beforeAll(async () => {
  sandbox = await startSandbox({ cases: 50, widgets: 1, days: 5, seed: 3 });
  // A hostile server: echoes the whole request (URL with api_key, and headers) in error bodies and in a
  // redirect, and sends a next link carrying the key to another host.
  echo = await startScriptedServer((req, res) => {
    const dump = JSON.stringify({ url: req.url, headers: req.headers });
    if (req.url.startsWith('/api/v1/widget.json')) {
      res.writeHead(302, { location: `http://evil.example${req.url}`, 'content-type': 'application/json' });
      res.end(dump);
    } else if (req.url.startsWith('/api/v2/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ cases: [], linkToNextSetOfResults: `http://evil.example/next?api_key=${SECRETS.provisioningKey}&t=${SECRETS.apiToken}` }));
    } else {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(`bad request ${dump}`);
    }
  });
});
afterAll(async () => {
  await sandbox?.close();
  await echo?.close();
});

async function failure(run: () => Promise<unknown>): Promise<SnapEngageError> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(SnapEngageError);
    return error as SnapEngageError;
  }
  throw new Error('expected a failure');
}

it('keeps every credential out of errors, logs and warnings', async () => {
  const lines: string[] = [];
  const logger = { request: (e: unknown) => lines.push(JSON.stringify(e)), warn: (m: string) => lines.push(m) };
  const make = (baseUrl: string, extra = {}): SnapEngageClient =>
    createSnapEngageClient({ baseUrl, ...SECRETS, logger, retryBaseDelayMs: 1, maxRetries: 1, ...extra });
  const wrong = make(sandbox.url);
  const hostile = make(echo.url);
  const closed = await startScriptedServer(() => undefined);
  const refused = make(closed.url);
  await closed.close();
  const { orgId, widgetIds, email } = sandbox.credentials;
  const widgetId = widgetIds[0] as string;

  const errors: SnapEngageError[] = [
    // 401 from the sandbox for each credential place
    await failure(async () => unwrap(await wrong.GET('/api/v2/{orgId}/logs', { params: { path: { orgId }, query: { widgetId, start: '2024-01-01', end: '2024-01-02' } } }))),
    await failure(async () => unwrap(await wrong.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } }))),
    await failure(async () => unwrap(await wrong.GET('/api/v1/user.json', { params: { query: { email } } }))),
    // bodies and redirects that echo the credentials back
    await failure(async () => unwrap(await hostile.GET('/api/v1/widget.json', { params: { query: { uuid: 'w', email } } }))),
    await failure(async () => unwrap(await hostile.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'w' } } }))),
    await failure(async () => {
      for await (const _c of hostile.iterateLogs({ orgId: 'o', widgetId: 'w', start: '2024-01-01', end: '2024-01-02' })) {
        // drain
      }
    }),
    // network error with the key in the URL, and a missing credential
    await failure(() => refused.GET('/api/v1/user.json', { params: { query: { email } } })),
    await failure(() => createSnapEngageClient({ baseUrl: sandbox.url, apiToken: SECRETS.apiToken }).GET('/api/v1/user.json', { params: { query: { email } } })),
  ];

  expect(errors.map((e) => e.kind)).toEqual(['auth', 'auth', 'auth', 'invalid_response', 'bad_request', 'invalid_response', 'network', 'config']);
  expect(errors[6]?.url).toContain('api_key=***');
  expect(lines.length).toBeGreaterThan(0);
  const outputs = [
    ...lines,
    ...errors.flatMap((e) => [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true }), String(e.bodyExcerpt)]),
  ];
  for (const secret of Object.values(SECRETS)) {
    for (const output of outputs) expect(output).not.toContain(secret);
  }
  // The hostile bodies really did carry the secrets, so the check above is not vacuous.
  expect(errors[4]?.bodyExcerpt).toContain('***');
});

it('a credential no HTTP header can carry is a config error that does not quote it, and nothing is sent', async () => {
  // The sandbox's real credentials with a line break inside (a multi-line quoted .env value): Headers.set refuses the
  // value with a TypeError that quotes it whole.
  const { apiToken, apiKey, orgId, widgetIds } = sandbox.credentials;
  const widgetId = widgetIds[0] as string;
  const sent: string[] = [];
  const lines: string[] = [];
  const client = createSnapEngageClient({
    baseUrl: sandbox.url,
    apiToken: `${apiToken}\nsecond-line`,
    apiKey: `${apiKey}\0`,
    maxRetries: 0,
    logger: { request: (e) => lines.push(JSON.stringify(e)), warn: (m) => lines.push(m) },
    fetch: (request) => {
      sent.push(request.url);
      return fetch(request);
    },
  });
  const errors = [
    await failure(() => client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId }, query: { widgetId, start: '2024-01-01', end: '2024-01-02' } } })),
    await failure(() => client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId } } })),
  ];
  expect(errors.map((e) => e.kind)).toEqual(['config', 'config']);
  expect(errors[0]?.message).toContain('SNAPENGAGE_API_TOKEN');
  expect(errors[1]?.message).toContain('SNAPENGAGE_API_KEY');
  expect(sent).toEqual([]);
  const outputs = [...lines, ...errors.flatMap((e) => [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true })])];
  for (const output of outputs) {
    expect(output).not.toContain(apiToken);
    expect(output).not.toContain(apiKey);
  }
});

it('header text a server echoes a credential in (status text, request id, content type) reaches no error', async () => {
  // The sandbox's real credentials, sent to a server that quotes what it received in its status line and headers.
  const { apiToken, apiKey, provisioningKey, orgId, email } = sandbox.credentials;
  const echoing = await startScriptedServer((req, res) => {
    const heard = String(req.headers.authorization ?? req.headers['x-api-key'] ?? new URL(req.url, 'http://x').searchParams.get('api_key'));
    const headers = { 'x-request-id': `req-${heard}`, 'content-type': `text/html; note=${heard}` };
    if (req.url.startsWith('/api/v1/widget.json')) res.writeHead(200, `OK ${heard}`, headers).end('<html>not json</html>');
    else res.writeHead(401, `Unauthorized ${heard}`, headers).end('');
  });
  try {
    const client = createSnapEngageClient({ baseUrl: echoing.url, apiToken, apiKey, provisioningKey, maxRetries: 0 });
    const errors = [
      await failure(async () => unwrap(await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId }, query: { widgetId: 'w', start: '2024-01-01', end: '2024-01-02' } } }))),
      await failure(async () => unwrap(await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'w' } } }))),
      await failure(async () => unwrap(await client.GET('/api/v1/widget.json', { params: { query: { uuid: 'w', email } } }))),
    ];
    expect(errors.map((e) => e.kind)).toEqual(['auth', 'auth', 'invalid_response']);
    // The server did echo each one, so the check below is not vacuous.
    expect(errors.map((e) => e.requestId)).toEqual(['req-***', 'req-***', 'req-***']);
    for (const e of errors) {
      for (const output of [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true })]) {
        for (const secret of [apiToken, apiKey, provisioningKey]) expect(output).not.toContain(secret);
      }
    }
  } finally {
    await echoing.close();
  }
});

it('a base URL that does not parse is not echoed with the password it carries', () => {
  const { apiToken } = sandbox.credentials;
  let caught: unknown;
  try {
    createSnapEngageClient({ baseUrl: `https://user:${apiToken}@127.0.0.1:99999`, apiToken });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(SnapEngageError);
  const error = caught as SnapEngageError;
  expect(error.kind).toBe('config');
  expect(error.message).toContain('"https://***@127.0.0.1:99999" is not an absolute URL');
  for (const output of [error.message, String(error.stack), JSON.stringify(error), inspect(error, { showHidden: true })]) expect(output).not.toContain(apiToken);
});

it('a base URL that does not parse is not echoed with its password or query, whatever its slashes', () => {
  const { apiToken } = sandbox.credentials;
  // No "//" after the scheme (a typo), a scheme URL parsing does not accept, a query key: each throws in new URL().
  for (const [baseUrl, shown] of [
    [`https:user:${apiToken}@www snapengage.com`, '"https:***@www snapengage.com"'],
    [`my_user:${apiToken}@127.0.0.1`, '"***@127.0.0.1"'],
    [`https://127.0.0.1:99999/?api_key=${apiToken}`, '"https://127.0.0.1:99999/?…"'],
  ]) {
    let caught: unknown;
    try {
      createSnapEngageClient({ baseUrl, apiToken: 'x' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(SnapEngageError);
    const error = caught as SnapEngageError;
    expect(error.message).toContain(`${shown} is not an absolute URL`);
    for (const output of [error.message, String(error.stack), JSON.stringify(error), inspect(error, { showHidden: true })]) expect(output).not.toContain(apiToken);
  }
});

/** Ways a server may write a value back: as sent, percent-encoded in either hex case, decoded without turning `+`
 * into a space, or escaped in a JSON string (by JSON.stringify, or Gson-style `\u003d`). */
function echoForms(secret: string): string[] {
  const query = new URLSearchParams({ s: secret }).toString().slice(2);
  const gson = [...secret].map((ch) => (/[=&"\\]/.test(ch) ? `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}` : ch)).join('');
  return [secret, encodeURIComponent(secret), query, query.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()), decodeURIComponent(query), JSON.stringify(secret).slice(1, -1), gson];
}

it('a credential a server echoes partly encoded or JSON-escaped, and the account email, reach no error or log line', async () => {
  // Credentials with characters that encode: a quote and a backslash (JSON-escaped in a JSON echo), a space, `+`, `=`,
  // `&` and `%` (a query that is decoded as a path would be keeps the `+`), and regex syntax.
  const secrets = { apiToken: 'tok"Zq8\\Echo/==', apiKey: 'key(Zq8).*Echo[2]|^$', provisioningKey: 'prov Zq8+Echo/&=%41' };
  const email = 'bob.secret@corp.example';
  const echoing = await startScriptedServer((req, res) => {
    const query = req.url.slice(req.url.indexOf('?') + 1);
    const lower = query.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    // The credential headers Gson-style, first: the error keeps only the body's first 300 characters (an echo of all
    // the headers after the rest never reached an output, so a redactor blind to `\u003d` passed).
    const credentialHeaders = Object.fromEntries(Object.entries(req.headers).filter(([, value]) => String(value).includes('Zq8')));
    const gson = JSON.stringify(credentialHeaders).replace(/[=&]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
    const body = `${gson} no account for ${email}: ${JSON.stringify({ url: req.url, headers: req.headers })} ${lower} ${decodeURIComponent(query)}`;
    res.writeHead(req.url.startsWith('/api/v1/widget.json') ? 404 : 500, { 'content-type': 'text/plain' }).end(body);
  });
  const lines: string[] = [];
  try {
    const client = createSnapEngageClient({
      baseUrl: echoing.url,
      ...secrets,
      maxRetries: 1,
      retryBaseDelayMs: 1,
      logger: { request: (e) => lines.push(JSON.stringify(e)), warn: (m) => lines.push(m) },
    });
    const errors = [
      await failure(async () => unwrap(await client.GET('/api/v2/{orgId}/logs', { params: { path: { orgId: 'o' }, query: { widgetId: 'w', start: '2024-01-01', end: '2024-01-02' } } }))),
      await failure(async () => unwrap(await client.GET('/api/v1/chat/{widgetId}', { params: { path: { widgetId: 'w' } } }))),
      await failure(async () => unwrap(await client.GET('/api/v1/widget.json', { params: { query: { uuid: 'w', email } } }))),
    ];
    expect(errors.map((e) => e.kind)).toEqual(['server', 'server', 'not_found']);
    const outputs = [...lines, ...errors.flatMap((e) => [e.message, String(e.stack), JSON.stringify(e), inspect(e, { depth: 10, showHidden: true })])];
    for (const output of outputs) {
      for (const secret of Object.values(secrets)) for (const form of echoForms(secret)) expect(output).not.toContain(form);
      // Every secret holds `Zq8`: none is left in any mix of escapes (Gson's is JSON's for `"` and `\\`, \\u00XX for `=`).
      expect(output).not.toContain('Zq8');
      expect(output).not.toMatch(/bob\.secret/);
    }
    // The email keeps its first letter and domain, in the URL and in the body excerpt, so it is still recognisable.
    expect(errors[2]?.url).toContain('email=b***%40corp.example');
    expect(errors[2]?.bodyExcerpt).toContain('no account for b***@corp.example');
    expect(lines.some((line) => line.includes('email=b***%40corp.example'))).toBe(true);
  } finally {
    await echoing.close();
  }
});
