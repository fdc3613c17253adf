import type { ServerResponse } from 'node:http';
import { bodyBytes, buildHeaders, type Reply } from './http-kit.js';

// A slow link (`bodyKBps`): the body goes out in ten pieces a second, so a client sees bytes keep coming for as long
// as the whole body takes, unlike a stall (`slow`, `reset`), where nothing comes.

const TICK_MS = 100;

/** Writes `reply` at `kBps` KiB/s; `wait` is the server's cancellable delay (close() drops pending ones). */
export async function writePaced(res: ServerResponse, reply: Reply, headers: Record<string, string>, kBps: number, wait: (ms: number) => Promise<void>): Promise<void> {
  const body = bodyBytes(reply);
  res.writeHead(reply.status, buildHeaders(reply, body.length, headers));
  res.flushHeaders();
  const chunk = Math.max(1, Math.round((kBps * 1024 * TICK_MS) / 1000));
  for (let at = 0; at < body.length; at += chunk) {
    if (at > 0) await wait(TICK_MS);
    if (res.destroyed) return;
    res.write(body.subarray(at, at + chunk));
  }
  res.end();
}
