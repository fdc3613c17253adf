// A tiny HTTP server on 127.0.0.1 for what the sandbox cannot produce on demand (Retry-After as an HTTP
// date, repeated next links, non-JSON 2xx bodies, hanging responses, counting POST arrivals). Each test
// scripts the answer per request; every request is recorded.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach } from 'vitest';

interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export type Handler = (req: RecordedRequest, res: ServerResponse, index: number) => void;

export interface ScriptedServer {
  url: string;
  requests: RecordedRequest[];
  /** Connections accepted so far (a body left unread keeps its connection busy, so the next call opens another). */
  connections(): number;
  close(): Promise<void>;
}

/** `port` 0 takes any free port; a fixed one lets a test bring a server up where a connection was refused. */
export async function startScriptedServer(handler: Handler, port = 0): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(recorded);
      handler(recorded, res, requests.length - 1);
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    accepted++;
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * `serve(handler, port?)` for a test file: each server it starts is closed after the test that started it, so a
 * failing test leaves no listener behind for the next one.
 */
export function scriptedServersPerTest(): (handler: Handler, port?: number) => Promise<ScriptedServer> {
  const servers: ScriptedServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  return async (handler, port = 0) => {
    const server = await startScriptedServer(handler, port);
    servers.push(server);
    return server;
  };
}
