import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ChatRoom } from './chats.js';
import { utcDay } from './dates.js';
import { FaultPlan, parseFaultSpec, type FaultOutcome } from './faults.js';
import { buildFixtures, type SandboxCredentials, type UserRecord } from './fixtures.js';
import { bodyBytes, buildHeaders, error, methodNotAllowed, notFound, writeReply, type Reply } from './http-kit.js';
import { resolveOptions, resolvePagingEnd, SandboxOptionError, type SandboxOptions } from './options.js';
import { seedKey } from './random.js';
import { adminMisses, adminRoutes } from './routes/admin.js';
import { logsRoutes } from './routes/logs.js';
import { provisioningRoutes } from './routes/provisioning.js';
import { visitorChatRoutes } from './routes/visitor-chat.js';
import { writePaced } from './pace.js';
import { matchRoute, type Route, type RouteMisses, type SandboxState } from './state.js';
import { CaseStore } from './store.js';
import { casesPerWidget, firstDayStart } from './timeline.js';

/** A running sandbox. */
export interface Sandbox {
  /** `http://127.0.0.1:<port>`: the base URL of every SnapEngage API and of the admin API (`/__sandbox/`). */
  url: string;
  /** The credentials this sandbox accepts (it refuses others); also in `env`. */
  credentials: SandboxCredentials;
  /** First day of the generated data, YYYY-MM-DD (UTC). */
  startDate: string;
  /** The environment a pipeline needs (SNAPENGAGE_BASE_URL, …), in the order the CLI prints it. */
  env: Record<string, string>;
  /** Stops listening and drops open connections. Safe to call twice. */
  close(): Promise<void>;
}

const API_ROUTES: readonly Route[] = [...logsRoutes, ...visitorChatRoutes, ...provisioningRoutes];

function isLoopback(address: string | undefined): boolean {
  return address === '127.0.0.1' || address === '::1' || address === '::ffff:127.0.0.1';
}

/** The SnapEngage APIs' answers: the documented empty 404, a plain 405 with Allow. */
const API_MISSES: RouteMisses = {
  notFound: () => notFound(),
  methodNotAllowed: (_method, _url, allowed) => methodNotAllowed(allowed),
};

async function dispatch(routes: readonly Route[], misses: RouteMisses, req: IncomingMessage, res: ServerResponse, url: URL, state: SandboxState): Promise<Reply | undefined> {
  const method = req.method ?? 'GET';
  const found = matchRoute(routes, url.pathname);
  if (!found) return misses.notFound(method, url);
  const handler = found.route.methods[method];
  if (!handler) return misses.methodNotAllowed(method, url, Object.keys(found.route.methods));
  return handler({ req, res, url, params: found.params, state });
}

/** Sends the headers and part of the body, then resets the connection (a "connection reset mid-body"). */
function writeThenReset(res: ServerResponse, reply: Reply, headers: Record<string, string>): void {
  const body = bodyBytes(reply);
  res.writeHead(reply.status, buildHeaders(reply, body.length, headers));
  const socket = res.socket;
  const kill = (): void => {
    if (socket && typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
    else socket?.destroy();
  };
  const part = body.subarray(0, Math.floor(body.length / 2));
  if (part.length === 0) {
    res.flushHeaders();
    setImmediate(kill);
  } else {
    res.write(part, kill);
  }
}

/** Sends a cut body with a matching Content-Length: valid HTTP, invalid JSON. */
function writeTruncated(res: ServerResponse, reply: Reply, headers: Record<string, string>): void {
  const body = bodyBytes(reply);
  const cut = body.subarray(0, Math.floor(body.length / 2));
  res.writeHead(reply.status, buildHeaders(reply, cut.length, headers));
  res.end(cut);
}

/**
 * A fixed port that cannot be had is a problem with the `port` option (a test file run twice in parallel, a sandbox
 * left running): say so and how to get out of it, instead of Node's bare "listen EADDRINUSE".
 */
function listenError(caught: NodeJS.ErrnoException, port: number): Error {
  const cause = { cause: caught };
  if (caught.code === 'EADDRINUSE') {
    return new SandboxOptionError(`port ${port} is already in use on 127.0.0.1: stop what holds it, choose another port, or use port 0 for any free one`, 'port', cause);
  }
  if (caught.code === 'EACCES') {
    return new SandboxOptionError(`port ${port} needs privileges this process does not have: use a port above 1023, or port 0 for any free one`, 'port', cause);
  }
  return caught;
}

/** Starts a sandbox listening on 127.0.0.1 with seeded data; an invalid option throws SandboxOptionError naming it. */
export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const resolved = resolveOptions(options);
  const key = seedKey(resolved.seed);
  const fixtures = buildFixtures(key, resolved.widgets);
  const startMs = firstDayStart(resolved.nowMs, resolved.days);
  const store = new CaseStore(key, fixtures.widgets, casesPerWidget(resolved.cases, resolved.widgets), startMs, resolved.nowMs, resolved.quirks);
  const chats = new ChatRoom(store);
  const users = new Map<string, UserRecord>();
  const seedUsers = (): void => {
    users.clear();
    users.set(fixtures.owner.email, { ...fixtures.owner });
  };
  seedUsers();

  let faults = new FaultPlan(resolved.faults, key);
  let faultText = resolved.faultText;
  let byStatus: Record<string, number> = {};
  let faultCounts: Record<string, number> = {};
  let apiRequests = 0;
  /** TCP connections accepted (admin ones too): whether a client reuses its connections (keep-alive). */
  let connections = 0;
  const pendingDelays = new Set<NodeJS.Timeout>();
  /** A delay that close() cancels (its promise then never settles, and the handler is dropped with its socket). */
  const wait = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        pendingDelays.delete(timer);
        resolve();
      }, ms);
      pendingDelays.add(timer);
    });

  const state: SandboxState = {
    options: resolved,
    key,
    fixtures,
    store,
    chats,
    users,
    baseUrl: '',
    startDate: utcDay(startMs),
    paging: { ...resolved.paging },
    now: () => Date.now(),
    admin: {
      setFaults(spec: string) {
        faults = new FaultPlan(parseFaultSpec(spec), key);
        faultText = spec;
      },
      setPaging(given) {
        state.paging = resolvePagingEnd(given, state.paging);
        return { ...state.paging };
      },
      reset() {
        store.reset();
        chats.reset();
        seedUsers();
        faults = new FaultPlan(resolved.faults, key);
        faultText = resolved.faultText;
        state.paging = { ...resolved.paging };
        byStatus = {};
        faultCounts = {};
        apiRequests = 0;
        connections = 0;
      },
      stats: () => ({
        requests: apiRequests,
        connections,
        byStatus: { ...byStatus },
        faults: { ...faultCounts },
        faultSpec: faultText,
        paging: { ...state.paging },
        cases: { generated: store.generatedCount, injected: store.injectedCount },
      }),
    },
  };

  const count = (table: Record<string, number>, name: string): void => {
    table[name] = (table[name] ?? 0) + 1;
  };

  async function handleApi(req: IncomingMessage, res: ServerResponse, url: URL, headers: Record<string, string>): Promise<void> {
    apiRequests++;
    const outcome: FaultOutcome = faults.active ? faults.next(Date.now()) : 'none';
    if (outcome !== 'none') count(faultCounts, outcome);
    // A round trip's worth before anything else, 429s and 500s included: the real API answers those over the network too.
    const latency = faults.nextLatency();
    if (latency > 0) {
      await wait(latency);
      if (res.destroyed) return;
    }
    let reply: Reply | undefined;
    if (outcome === 'rps' || outcome === '429') {
      reply = error(429, outcome === 'rps' ? 'rate limit exceeded, retry later' : 'too many requests, retry later');
      const retryAfter = faults.spec.retryAfter;
      if (retryAfter >= 0) reply.headers = { 'retry-after': String(retryAfter) };
    } else if (outcome === '500') {
      reply = error(500, 'internal server error (injected fault)');
    } else {
      if (outcome === 'slow') {
        await wait(faults.spec.slowMs);
        if (res.destroyed) return;
      }
      reply = (await dispatch(API_ROUTES, API_MISSES, req, res, url, state)) ?? error(500, 'no reply');
    }
    count(byStatus, String(reply.status));
    if (outcome === 'reset') writeThenReset(res, reply, headers);
    else if (outcome === 'truncate') writeTruncated(res, reply, headers);
    else if (faults.spec.bodyKBps > 0) await writePaced(res, reply, headers, faults.spec.bodyKBps, wait);
    else writeReply(res, reply, headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const headers = { 'x-request-id': randomUUID() };
    let url: URL;
    try {
      url = new URL(req.url ?? '/', state.baseUrl);
    } catch {
      writeReply(res, error(400, 'malformed request target'), headers);
      return;
    }
    if (url.pathname === '/__sandbox' || url.pathname.startsWith('/__sandbox/')) {
      if (!isLoopback(req.socket.remoteAddress)) {
        writeReply(res, error(403, 'the admin API answers loopback clients only'), headers);
        return;
      }
      const reply = await dispatch(adminRoutes, adminMisses, req, res, url, state);
      if (reply) writeReply(res, reply, headers);
      return;
    }
    await handleApi(req, res, url, headers);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((caught: unknown) => {
      // The client hung up mid-body, or close() dropped the connection: reading the body fails with "aborted".
      // Nobody is left to answer and nothing is wrong here, so no "internal error" stack in the user's test output.
      if (res.destroyed) return;
      process.stderr.write(`snapengage-sandbox: internal error on ${req.method} ${(req.url ?? '').split('?')[0]}: ${(caught as Error)?.stack ?? String(caught)}\n`);
      if (!res.headersSent) writeReply(res, error(500, 'internal sandbox error'), {});
      else res.destroy();
    });
  });

  server.on('connection', () => {
    connections++;
  });

  await new Promise<void>((resolve, reject) => {
    const refuse = (caught: NodeJS.ErrnoException): void => reject(listenError(caught, resolved.port));
    server.once('error', refuse);
    server.listen(resolved.port, '127.0.0.1', () => {
      server.off('error', refuse);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  state.baseUrl = url;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      for (const timer of pendingDelays) clearTimeout(timer);
      pendingDelays.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    });
    return closing;
  };

  const credentials = fixtures.credentials;
  return {
    url,
    credentials: { ...credentials, widgetIds: [...credentials.widgetIds] },
    startDate: state.startDate,
    env: {
      SNAPENGAGE_BASE_URL: url,
      SNAPENGAGE_ORG_ID: credentials.orgId,
      SNAPENGAGE_API_TOKEN: credentials.apiToken,
      SNAPENGAGE_API_KEY: credentials.apiKey,
      SNAPENGAGE_PROVISIONING_KEY: credentials.provisioningKey,
      SNAPENGAGE_WIDGET_ID: credentials.widgetIds.join(','),
      SNAPENGAGE_EMAIL: credentials.email,
      SNAPENGAGE_START_DATE: state.startDate,
    },
    close,
  };
}
