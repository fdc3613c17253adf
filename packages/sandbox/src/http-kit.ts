import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';

// Small HTTP helpers. Route handlers return a Reply (status, headers, body) instead of writing to the
// socket, so the fault layer can still cut, delay or reset any response after it is built.

export interface Reply {
  status: number;
  /** Text, or bytes already encoded as UTF-8 (a Logs API page: see jsonBytes). */
  body: string | Buffer;
  contentType?: string | undefined;
  headers?: Record<string, string> | undefined;
}

const JSON_TYPE = 'application/json; charset=utf-8';
export const NDJSON_TYPE = 'application/x-ndjson; charset=utf-8';

export function json(status: number, value: unknown): Reply {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE };
}

/**
 * A JSON reply from UTF-8 pieces. A page of 100 cases is ~250 kB of text with non-Latin-1 letters: joining its cases
 * into one string and encoding that took 1.0 ms, encoding each case and concatenating the bytes 0.4 ms.
 */
export function jsonBytes(status: number, pieces: readonly Buffer[]): Reply {
  return { status, body: Buffer.concat(pieces), contentType: JSON_TYPE };
}

/** The body's bytes, to send or to cut (faults). */
export function bodyBytes(reply: Reply): Buffer {
  return typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
}

/** Error bodies are undocumented in SnapEngage; ours are `{"error": "..."}` with a message for humans. */
export function error(status: number, message: string): Reply {
  return json(status, { error: message });
}

/** The documented "404 Not Found – Widget or Chat object not found" has an empty body. */
export function notFound(): Reply {
  return { status: 404, body: '' };
}

export function methodNotAllowed(allowed: readonly string[]): Reply {
  return { status: 405, body: 'Method Not Allowed', contentType: 'text/plain; charset=utf-8', headers: { allow: allowed.join(', ') } };
}

/** Thrown by readBody when the body is larger than allowed. */
export class BodyTooLargeError extends Error {
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/** Reads a request body into memory, refusing more than `limit` bytes as soon as they arrive. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    req.resume();
    throw new BodyTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) {
      req.resume();
      throw new BodyTooLargeError(limit);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, size);
}

export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Writes a reply as is. */
export function writeReply(res: ServerResponse, reply: Reply, extraHeaders: Record<string, string>): void {
  const body = bodyBytes(reply);
  res.writeHead(reply.status, buildHeaders(reply, body.length, extraHeaders));
  res.end(body);
}

export function buildHeaders(reply: Reply, length: number, extraHeaders: Record<string, string>): Record<string, string | number> {
  const headers: Record<string, string | number> = { ...extraHeaders, ...reply.headers, 'content-length': length };
  if (reply.contentType && reply.body.length > 0) headers['content-type'] = reply.contentType;
  return headers;
}

/** Waits until the response can take more data, or resolves false when the client went away. */
export function drained(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = (): void => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = (): void => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}
