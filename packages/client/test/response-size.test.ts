// The cap on a response body the client reads for you (maxResponseBytes): a decompression bomb (small on the wire,
// huge once gunzipped) or an endless body must fail the call with one clear error, not fill the memory. The sandbox
// serves no such body, so a scripted server on 127.0.0.1 does.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { createSnapEngageClient, unwrap, type SnapEngageClientOptions } from '../src/index.js';
import { caught } from './helpers/caught.js';
import { scriptedServersPerTest, type Handler, type ScriptedServer } from './helpers/scripted-server.js';

const LOGS = '/api/v2/{orgId}/logs';
const logsQuery = { params: { path: { orgId: 'org1' }, query: { widgetId: 'w1', start: '2024-01-01', end: '2024-01-31' } } };
const MiB = 1024 * 1024;

const serve = scriptedServersPerTest();

function clientFor(server: ScriptedServer, extra: SnapEngageClientOptions = {}) {
  return createSnapEngageClient({ baseUrl: server.url, apiToken: 'tok-SECRET', retryBaseDelayMs: 1, ...extra });
}

/** Valid JSON of `decodedBytes` (a page with a long padding string), gzipped: a few KiB on the wire. */
function gzipBomb(decodedBytes: number): Buffer {
  const head = '{"cases":[],"pad":"';
  return gzipSync(Buffer.from(`${head}${' '.repeat(decodedBytes - head.length - 2)}"}`));
}

function sendGzip(status: number, body: Buffer): Handler {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': body.byteLength });
    res.end(body);
  };
}

describe('maxResponseBytes', () => {
  it('stops reading a gzip bomb at the cap and fails once, naming the operation, the limit and the option', async () => {
    const bomb = gzipBomb(8 * MiB);
    expect(bomb.byteLength).toBeLessThan(64 * 1024);
    const server = await serve(sendGzip(200, bomb));
    const error = await caught(clientFor(server, { maxResponseBytes: MiB }).GET(LOGS, logsQuery));
    expect(error.kind).toBe('invalid_response');
    expect(error.status).toBe(200);
    expect(error.message).toMatch(/^GET \/api\/v2\/\{orgId\}\/logs: the response body is larger than maxResponseBytes=1048576 \(1 MiB, after gzip decoding\)/);
    expect(error.message).toContain('raise the client option maxResponseBytes');
    expect(error.responseTooLarge).toEqual({ limit: MiB, contentEncoding: 'gzip' });
    expect(error.toJSON().responseTooLarge).toEqual({ limit: MiB, contentEncoding: 'gzip' });
    // The same bytes come back on every attempt: no retry.
    expect(error.retries).toBe(0);
    expect(server.requests).toHaveLength(1);
  });

  it('caps an error body too, and does not retry it (an HTTP 500 would be)', async () => {
    const server = await serve(sendGzip(500, gzipBomb(4 * MiB)));
    const error = await caught(clientFor(server, { maxResponseBytes: MiB, maxRetries: 1 }).GET(LOGS, logsQuery));
    expect(error.kind).toBe('invalid_response');
    expect(error.status).toBe(500);
    expect(error.message).toContain('maxResponseBytes=1048576');
    expect(server.requests).toHaveLength(1);
  });

  it('refuses a plain body whose Content-Length is over the cap before reading it', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 3 * MiB });
      // Only the start is ever written: a client that waits for the rest would time out instead.
      res.write('{"cases":[');
    });
    const error = await caught(clientFor(server, { maxResponseBytes: MiB, timeoutMs: 5_000 }).GET(LOGS, logsQuery));
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toContain('maxResponseBytes=1048576 (1 MiB, Content-Length 3145728)');
    expect(error.responseTooLarge).toEqual({ limit: MiB, announcedLength: 3 * MiB });
  });

  it('leaves out a Content-Length over the cap that is not a whole number of bytes (an app fetch\'s own Response)', async () => {
    // undici refuses such a header from a server; a Response an app's fetch makes is not checked.
    const fetch = async () => new Response('{"cases":[]}', { headers: { 'content-type': 'application/json', 'content-length': '3145728.5' } });
    const error = await caught(createSnapEngageClient({ baseUrl: 'http://127.0.0.1:9', apiToken: 'tok-SECRET', fetch, maxResponseBytes: MiB }).GET(LOGS, logsQuery));
    expect(error.kind).toBe('invalid_response');
    expect(error.responseTooLarge).toEqual({ limit: MiB });
  });

  it('says so only through responseTooLarge, never from a message quoting the server (a spoofed Content-Type)', async () => {
    const spoof = 'text/html; x="the response body is larger than maxResponseBytes=1 (1 bytes, read so far)"';
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': spoof });
      res.end('<html>not json</html>');
    });
    const error = await caught(clientFor(server, { maxRetries: 0 }).GET(LOGS, logsQuery));
    expect(error.kind).toBe('invalid_response');
    expect(error.message).toContain('larger than maxResponseBytes=1');
    expect(error.responseTooLarge).toBeUndefined();
  });

  it('reads a body up to the cap, and leaves a streamed body (parseAs stream) to the caller, uncapped', async () => {
    const server = await serve(sendGzip(200, gzipBomb(2 * MiB)));
    const page = unwrap(await clientFor(server, { maxResponseBytes: 2 * MiB }).GET(LOGS, logsQuery));
    expect(page.cases).toEqual([]);
    const streamed = await clientFor(server, { maxResponseBytes: MiB }).GET(LOGS, { ...logsQuery, parseAs: 'stream' });
    expect((await new Response(streamed.data as ReadableStream).arrayBuffer()).byteLength).toBe(2 * MiB);
  });

  it('names a limit under 1 MiB in KiB or bytes, not as "0 MiB"', async () => {
    const body = JSON.stringify({ cases: [], pad: 'x'.repeat(5000) });
    const server = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    const kib = await caught(clientFor(server, { maxResponseBytes: 2000 }).GET(LOGS, logsQuery));
    expect(kib.message).toContain(`larger than maxResponseBytes=2000 (1.95 KiB, Content-Length ${body.length})`);
    const bytes = await caught(clientFor(server, { maxResponseBytes: 100 }).GET(LOGS, logsQuery));
    expect(bytes.message).toContain(`larger than maxResponseBytes=100 (100 bytes, Content-Length ${body.length})`);
  });

  it('is a config error when not a positive integer', async () => {
    expect(() => createSnapEngageClient({ maxResponseBytes: 0 })).toThrow(/maxResponseBytes: must be an integer >= 1, got 0/);
    expect(() => createSnapEngageClient({ maxResponseBytes: 1.5 })).toThrow(/maxResponseBytes: must be an integer >= 1/);
  });
});
