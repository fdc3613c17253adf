// Faults and hostile data: 429s, 500s, connection resets and truncated bodies must still give exactly the truth, and
// records with hostile keys and values must load without loss.
import { createServer, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, query, sandbox, stats, tempDir, truth } from './helpers.js';

describe('faults and hostile records', () => {
  let box: Sandbox | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  afterEach(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('429=0.1,500=0.05,reset=0.02,truncate=0.02 still loads exactly the truth', async () => {
    // Retry-After 0: the sandbox's default of 1 s holds every request for a second per 429 (the limiter's hold is
    // tested on its own below, 'a request waiting out a 429 hold').
    box = await sandbox({ cases: 500, widgets: 2, days: 5, faults: '429=0.1,500=0.05,reset=0.02,truncate=0.02,retryAfter=0' });
    tmp = tempDir();
    const path = `${tmp.dir}/faults.duckdb`;
    const config = {
      resources: { logs: true as const },
      rateLimit: { requestsPerSecond: 0 },
      // Short backoff (20 ms base, not 500) keeps the test quick; the truth is what is tested, not the waits.
      connection: { maxRetries: 8, retryBaseDelayMs: 20 },
    };
    await runPipeline(config, { env: box.env, destination: { path } });
    await runPipeline(config, { env: box.env, destination: { path } });
    await admin(box, 'faults', { faults: '' });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('the load info counts the retries other than 429s, by reason, as the faults the sandbox served', async () => {
    box = await sandbox({ cases: 3000, widgets: 2, days: 20, faults: '500=0.1,reset=0.1,retryAfter=0' });
    tmp = tempDir();
    const info = await runPipeline(
      // Short backoff: the retries' count is tested, not their waits.
      { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, connection: { maxRetries: 8, retryBaseDelayMs: 20 } },
      { env: box.env, destination: { path: `${tmp.dir}/retries.duckdb` } },
    );
    const served = (await stats(box)).faults;
    expect(served['500']).toBeGreaterThan(0);
    expect(served.reset).toBeGreaterThan(0);
    // Every fault was retried (the run loaded), so the retries are exactly the faults: a 500 as such, a reset as network.
    expect(info.notes.retries?.reasons).toEqual({ 'HTTP 500': served['500'], network: served.reset });
    expect(info.notes.retries?.requests).toBeLessThanOrEqual(served['500']! + served.reset!);
    const line = info.toString().split('\n').find((l) => l.startsWith('Retried after transient failures:'));
    expect(line).toMatch(new RegExp(`^Retried after transient failures: \\d+ requests?, ${served['500']! + served.reset!} retries \\(.*${served['500']} HTTP 500.*\\); --verbose logs each$`));
  });

  it('connection.retryBaseDelayMs reaches the client: every retry it announces waits within that base, doubled per retry', async () => {
    // 500s and resets carry no Retry-After, so each wait is the backoff: base * 2^(retry - 1), half of it fixed and half
    // jitter. With the option not passed on, the client's default base (500 ms) announces waits of 250 ms and more.
    box = await sandbox({ cases: 300, widgets: 1, days: 5, faults: '500=0.3,reset=0.1' });
    tmp = tempDir();
    const base = 20;
    const warnings: string[] = [];
    await runPipeline(
      { resources: { logs: true }, rateLimit: { requestsPerSecond: 0 }, connection: { maxRetries: 8, retryBaseDelayMs: base } },
      { env: box.env, destination: { path: `${tmp.dir}/backoff.duckdb` }, warn: (message) => warnings.push(message) },
    );
    const waits = warnings.flatMap((line) => {
      const match = /; retry (\d+) of 8 in (\d+) ms \| /.exec(line);
      return match ? [{ retry: Number(match[1]), ms: Number(match[2]) }] : [];
    });
    // One announcement per retry, so one per fault served (the run loaded, so every fault was retried).
    const served = (await stats(box)).faults;
    expect(waits).toHaveLength(served['500']! + served.reset!);
    expect(waits.length).toBeGreaterThan(0);
    for (const { retry, ms } of waits) {
      const doubled = base * 2 ** (retry - 1);
      expect(ms, `retry ${retry}`).toBeGreaterThanOrEqual(doubled / 2);
      expect(ms, `retry ${retry}`).toBeLessThanOrEqual(doubled);
    }
  });

  it('the other readings of what the docs leave unknown (sandbox quirks) load exactly the truth', async () => {
    // snapengage-api.md §1/§9: created_at_milliseconds as 0-999, unlisted keys, requester_details "age…", other
    // translations and javascript_variables shapes. The loader must keep them all, not drop or choke on them.
    box = await sandbox({ cases: 300, widgets: 2, days: 10, quirks: true });
    tmp = tempDir();
    const path = `${tmp.dir}/quirks.duckdb`;
    await runPipeline({ resources: { logs: true } }, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
    const columns = (await query(path, "SELECT column_name FROM information_schema.columns WHERE table_schema = 'snapengage_data' AND table_name = 'logs'")).map((r) => r.column_name);
    expect(columns).toEqual(expect.arrayContaining(['widget_id', 'requester_details__age', 'requester_details__company']));
  });

  it('a connection the server reset mid-response is named as dropped, not as a server it cannot reach', async () => {
    // With reset=1 the server answers every request's headers and half its body, then resets: the error said
    // "cannot reach …: is the local server (snapengage-sandbox) running?", sending the user to restart a server that
    // was up and answering.
    box = await sandbox({ cases: 20, widgets: 1, days: 2, faults: 'reset=1' });
    tmp = tempDir();
    const error = await runPipeline(
      { resources: { users: true }, connection: { maxRetries: 1, retryBaseDelayMs: 20 } },
      { env: box.env, destination: { path: `${tmp.dir}/reset.duckdb` } },
    ).then(() => undefined, (e: unknown) => e);
    const message = String((error as Error).message);
    expect(message).toMatch(/the connection to http:\/\/127\.0\.0\.1:\d+ was dropped after 1 retry \(terminated ← .+\): the server \(or a proxy between\) closed it mid-request: retry later/);
    expect(message).not.toContain('cannot reach');
  });

  it('a port that closes or resets every connection before answering is not named as a dropped connection', async () => {
    // Read as "dropped … closed it mid-request: retry later; lower concurrency": a port of something else (an https
    // server named as http://, a proxy with nothing behind it) fails every request that way, and the fix is the URL.
    for (const mode of ['close', 'reset'] as const) {
      const server = createNetServer((socket) => socket.once('data', () => (mode === 'reset' ? socket.resetAndDestroy() : socket.destroy())));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      tmp = tempDir();
      try {
        const env = { SNAPENGAGE_BASE_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_ORG_ID: '1', SNAPENGAGE_WIDGET_ID: 'w' };
        const error = await runPipeline({ resources: { logs: true }, connection: { maxRetries: 0 } }, { env, destination: { path: `${tmp.dir}/${mode}.duckdb` } }).then(() => undefined, (e: unknown) => e);
        const message = String((error as Error).message);
        expect(message, mode).toMatch(/http:\/\/127\.0\.0\.1:\d+ closed the connection without answering \(fetch failed ← .*(other side closed|ECONNRESET)\): check SNAPENGAGE_BASE_URL: it may name a port that is not the API's/);
        expect(message, mode).not.toContain('dropped');
      } finally {
        server.close();
        tmp.cleanup();
        tmp = undefined;
      }
    }
  });

  it('an API that allows fewer requests per second than the loader sends (no Retry-After) slows it down instead of failing it', async () => {
    // The real API's limits are undocumented. At the default 10/s against 2/s, requests retried on 429 until one ran
    // out of retries (2 of 3 runs failed); the bucket now halves its rate on 429s and holds everyone meanwhile.
    box = await sandbox({ cases: 200, widgets: 3, days: 30, faults: 'rps=2,retryAfter=none' });
    tmp = tempDir();
    const path = `${tmp.dir}/rate-limited.duckdb`;
    const info = await runPipeline({ resources: { logs: true, widgets: true, chat_availability: true } }, { env: box.env, destination: { path } });
    const limited = info.notes.rateLimit!;
    expect(limited.throttled).toBeGreaterThan(0);
    expect(limited.configured).toBe(10);
    expect(limited.lowest).toBeLessThanOrEqual(2.5);
    expect(String(info)).toMatch(/Rate limited: the API answered 429 \d+ times?; requests slowed from 10 down to [\d.]+\/s at the lowest$/m);
    await admin(box, 'faults', { faults: '' });
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
    const [{ n }] = (await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.chat_availability')) as [{ n: number }];
    expect(n).toBe(3);
  });

  it('a request waiting out a 429 hold in the rate limiter is not timed out by the wait (the hold is outside timeoutMs)', async () => {
    // The first response becomes a 429 with Retry-After: 2. Every request the loader makes meanwhile waits ~2 s in the
    // bucket; that wait used to count toward the attempt's timeoutMs (300 ms here), so each such request timed out,
    // was retried into the same hold, timed out again and failed the run.
    box = await sandbox({ cases: 40, widgets: 2, days: 3 });
    tmp = tempDir();
    const path = `${tmp.dir}/held.duckdb`;
    let first = true;
    const fetch = async (request: Request): Promise<Response> => {
      const response = await globalThis.fetch(request);
      if (!first) return response;
      first = false;
      await response.arrayBuffer();
      return new Response('{}', { status: 429, headers: { 'retry-after': '2', 'content-type': 'application/json' } });
    };
    // A configured rate far above what the test sends: the 429 holds and cuts it the same way as at the default 10/s,
    // but the ~45 requests after the hold then go at once instead of at 5/s stepping back up (~8 s more).
    const info = await runPipeline(
      { resources: { logs: true, chat_poll: true }, concurrency: 4, rateLimit: { requestsPerSecond: 1000 }, connection: { timeoutMs: 300, maxRetries: 1 } },
      { env: box.env, destination: { path }, fetch },
    );
    expect(info.notes.rateLimit?.throttled).toBe(1);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('loads hostile keys and values without loss', async () => {
    box = await sandbox({ cases: 20, widgets: 1, days: 2 });
    tmp = tempDir();
    const path = `${tmp.dir}/hostile.duckdb`;
    const widget = box.env.SNAPENGAGE_WIDGET_ID!;
    const big = 'x'.repeat(200_000);
    let deep: Record<string, unknown> = { leaf: 'bottom' };
    for (let i = 0; i < 12; i++) deep = { [`level${i}`]: deep };
    const hostile = {
      description: 'hostile case',
      'a; DROP TABLE x': 'sql in a key',
      'A B': 'upper with space',
      a_b: 'snake',
      'quote"d\'key': 'it\'s "quoted"',
      '😀 emoji': '🎉 party',
      big,
      chat_duration: 'not a number',
      deep,
      transcripts: [{ message: 'first 😀' }, { message: "'; DROP TABLE logs; --" }, { message: 'cut low \udc00 half' }],
      // An emoji cut in half by the API: a lone surrogate, which UTF-8 (and so DuckDB) cannot hold.
      cut_emoji: 'cut \ud83d here',
      '\ud83d key': 'lone surrogate key',
      // Not a surrogate: a backslash followed by the letters "ud83d".
      literal_escape: 'text \\ud83d stays',
    };
    const { ids } = (await admin(box, 'cases', { widgetId: widget, cases: [hostile] })) as { ids: string[] };
    const info = await runPipeline({ resources: { logs: true } }, { env: box.env, destination: { path } });
    expect(info.rowCounts.logs).toBe(21);

    // Lone surrogates are stored as U+FFFD, as String.prototype.toWellFormed would make them.
    const cases = wellFormed(await truth(box));
    const problems = await expectMatchesTruth(path, 'snapengage_data', cases);
    expect(problems).toEqual([]);
    const rows = await query(path, `SELECT * FROM snapengage_data.logs WHERE id = '${ids[0]}'`);
    expect(rows).toHaveLength(1);
    const values = Object.values(rows[0]!).map((v) => (typeof v === 'string' ? v : JSON.stringify(v)));
    // Every hostile value is somewhere in the row (its column names are the normalizer's business).
    for (const expected of ['sql in a key', 'upper with space', 'snake', 'it\'s "quoted"', '🎉 party', 'not a number', 'cut \ufffd here', 'lone surrogate key', 'text \\ud83d stays']) {
      expect(values.some((v) => v?.includes(expected))).toBe(true);
    }
    expect(values.some((v) => v?.length === 200_000 || v?.includes(big))).toBe(true);
    expect(values.some((v) => v?.includes('bottom'))).toBe(true);
    const messages = await query(path, `SELECT message FROM snapengage_data.logs__transcripts WHERE _root_id = '${String(rows[0]!._row_id)}' ORDER BY _list_idx`);
    expect(messages.map((m) => m.message)).toEqual(['first 😀', "'; DROP TABLE logs; --", 'cut low \ufffd half']);
    // The other tables are still there.
    const tables = await query(path, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'snapengage_data'`);
    expect(tables.map((t) => t.table_name)).toContain('logs__transcripts');
  });
});

/** The value with every string made well-formed (a lone surrogate becomes U+FFFD), keys included. */
function wellFormed<T>(value: T): T {
  const fix = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
  if (typeof value === 'string') return fix(value) as T;
  if (Array.isArray(value)) return value.map(wellFormed) as T;
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [fix(k), wellFormed(v)])) as T;
  }
  return value;
}

describe('a 200 answer that is no record, for a resource whose record is the whole body', () => {
  let box: Sandbox | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  let proxy: { url: string; close(): Promise<void> } | undefined;
  afterEach(async () => {
    await proxy?.close();
    await box?.close();
    tmp?.cleanup();
  });

  it.each([
    ['an empty body', ''],
    ['null', 'null'],
  ])('a chat_poll answer with %s fails the run instead of loading no poll and advancing its parent windows', async (_what, body) => {
    box = await sandbox({ cases: 30, widgets: 1, days: 2 });
    tmp = tempDir();
    proxy = await startGateway(box.url, (res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(body);
    });
    const gateway = proxy.url;
    const path = `${tmp.dir}/poll-empty.duckdb`;
    const run = runPipeline(
      { resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } },
      { env: { ...box.env, SNAPENGAGE_BASE_URL: gateway }, destination: { path } },
    );
    // Refused by the client's iteratePages: a page with no body is not the JSON the spec declares.
    await expect(run).rejects.toThrow(/chat_poll.*\(HTTP 200\).*not the expected JSON.*SNAPENGAGE_BASE_URL/);
  });
});

describe('204 No Content', () => {
  it('is read as no records for that request, counted in the load info, instead of failing the run (dlt #1849)', async () => {
    const box = await sandbox({ cases: 30, widgets: 1, days: 2 });
    const tmp = tempDir();
    let answered204 = 0;
    // A third of the cases' polls answer 204 (the sandbox never does: SnapEngage's 204s are undocumented).
    const gateway = await startGateway(box.url, (res, caseId, forward) => {
      if (hash(caseId) % 3 !== 0) return forward();
      answered204++;
      res.writeHead(204).end();
    });
    try {
      const path = `${tmp.dir}/no-content.duckdb`;
      const info = await runPipeline(
        { resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } },
        { env: { ...box.env, SNAPENGAGE_BASE_URL: gateway.url }, destination: { path } },
      );
      const cases = await truth(box);
      expect(answered204).toBeGreaterThan(0);
      expect(info.notes.noContent).toEqual({ chat_poll: answered204 });
      expect(String(info)).toContain(`No content (HTTP 204), read as no records: chat_poll ${answered204} request${answered204 === 1 ? '' : 's'}`);
      expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
      const [{ n }] = (await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.chat_poll')) as [{ n: number }];
      expect(n).toBe(cases.length - answered204);
    } finally {
      await gateway.close();
      await box.close();
      tmp.cleanup();
    }
  });
});

/**
 * A gateway in front of the sandbox (a real HTTP server on 127.0.0.1): `poll` answers each chat poll, or forwards it
 * with `forward()`; every other request is forwarded, next links pointed at the gateway.
 */
async function startGateway(
  upstream: string,
  poll: (res: ServerResponse, caseId: string, forward: () => void) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const forward = () => {
      fetch(`${upstream}${req.url}`, { headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host') as Array<[string, string]>) })
        .then(async (answer) => {
          const text = await answer.text();
          res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' });
          res.end(text.split(upstream).join(url));
        })
        .catch(() => res.destroy());
    };
    if (req.url?.startsWith('/api/v1/chat/poll/')) return poll(res, req.url.slice('/api/v1/chat/poll/'.length).split('?')[0]!, forward);
    forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

/** A stable small hash of a text, to pick the same cases on every run. */
function hash(text: string): number {
  let h = 0;
  for (const ch of text) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}
