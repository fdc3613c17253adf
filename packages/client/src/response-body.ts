// Responses the transport hands back: a validated body rebuilt from its bytes, and a streamed body that tells the
// transport when it is done.

/**
 * The default cap on a body the client reads for you: 256 MiB, after decompression. A Logs API page holds at most 100
 * cases, a few MiB even with very long transcripts; no API page comes near it. It is there for what no page is (a
 * gzip bomb of a few KiB that decodes to GBs, an endless body), and stays under V8's longest string (~512 Mi chars),
 * past which decoding would fail with a bare RangeError anyway.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

/** A body larger than the cap; `announced` when its Content-Length said so and nothing was read. */
export class BodyTooLarge extends Error {
  constructor(readonly limit: number, readonly announced: boolean) {
    super(`body over ${limit} bytes`);
  }
}

/**
 * The whole body, as `arrayBuffer()` reads it (decoded, under the attempt's signal), but never more than `limit`
 * bytes: past it the read is cancelled (the connection dropped, not drained) and BodyTooLarge thrown. A body without
 * Content-Encoding whose Content-Length is over the limit is refused before a byte is read.
 */
export async function readBounded(response: Response, limit: number): Promise<Uint8Array> {
  if (!response.body) return new Uint8Array(0);
  const announced = Number(response.headers.get('content-length') ?? NaN);
  const reader = response.body.getReader();
  if (!response.headers.has('content-encoding') && announced > limit) {
    await reader.cancel().catch(() => undefined);
    throw new BodyTooLarge(limit, true);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Bounded: each pass reads a chunk of the body, and the body ends, fails or passes the limit.
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(limit, false);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Statuses whose Response may not have a body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/**
 * Releases what a streamed body held when the body is garbage-collected unread: an app's onResponse that throws, or
 * returns another Response, drops it before anyone could read or cancel it, and the attempt's listeners stayed on the
 * client's AbortSignal for as long as the client lived, one per such call. Only where the runtime has one: Cloudflare
 * Workers lack FinalizationRegistry (and WeakRef) before compatibility date 2025-05-05 (flag enable_weak_ref), and
 * constructing it unchecked made the client fail at import there. Without them a dropped body's listeners stay until
 * the client goes.
 */
const droppedBodies = typeof FinalizationRegistry === 'function' ? new FinalizationRegistry<() => void>((release) => release()) : undefined;

/**
 * Held by the attempt's signal in place of `fail`, which (through the stream's controller) holds the body: the attempt's
 * signal lives as long as the client's signal does (its listeners hold the attempt), so a strong hold kept a dropped
 * body from ever being collected. Node 20 hid this: there `new ReadableStream()` hands back a wrapper its controller
 * does not reference (makeTransferable), and the wrapper went; from Node 22 the controller holds the stream itself.
 */
function weakly<A extends unknown[]>(fn: (...args: A) => void): { deref(): ((...args: A) => void) | undefined } {
  return typeof WeakRef === 'function' ? new WeakRef(fn) : { deref: () => fn };
}

/** Built out here, not in releasedWithBody: a closure made there would share (and hold) the scope that holds the body. */
function abortListener(fail: { deref(): ((reason: unknown) => void) | undefined }, signal: AbortSignal): () => void {
  return () => fail.deref()?.(signal.reason);
}

/**
 * The response with a body that calls `release` once, when it has been read to the end, failed or was cancelled, or
 * (see droppedBodies) was dropped unread. A read that fails (the connection dropped, the caller's abort) errors the
 * body with `wrapError(error)`: the client's own error, as every other failure of a call.
 *
 * `abortSignal` (the attempt's, which the caller's and the client's signals abort) errors the body itself and cancels
 * the network read. fetch's own abort could not be relied on once the call had returned: fetch follows the attempt's
 * signal through a Request of its own, which undici links weakly and nobody holds after the headers came, so after a
 * garbage collection the caller's abort no longer reached a body still being read, and the read hung.
 */
export function releasedWithBody(response: Response, release: () => void, keepAlive: unknown, wrapError: (error: unknown) => unknown, abortSignal: AbortSignal): Response {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  // The registry holds `release` (the attempt's), never the body: the body would then stay reachable forever.
  const token = {};
  let released = false;
  let ended = false;
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const once = () => {
    if (released) return;
    released = true;
    abortSignal.removeEventListener('abort', onAbort);
    droppedBodies?.unregister(token);
    release();
  };
  function fail(error: unknown): void {
    if (ended) return;
    ended = true;
    // Wrapped before release: the wrapper reads whether the caller's signal ended it (the attempt's listener).
    const wrapped = wrapError(error);
    once();
    stream.error(wrapped);
    reader.cancel(error).catch(() => undefined);
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      stream = controller;
    },
    // `fail` (what the registry watches) is held only by this scope's functions, which the stream's own algorithms
    // hold: it goes when the body can no longer be read, whichever object of it (Node 20's wrapper, a reader) is held.
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (ended) return;
        if (done) {
          ended = true;
          once();
          controller.close();
        } else controller.enqueue(value);
      } catch (error) {
        fail(error);
      }
    },
    cancel(reason) {
      ended = true;
      once();
      return reader.cancel(reason);
    },
  });
  const onAbort = abortListener(weakly(fail), abortSignal);
  if (abortSignal.aborted) fail(abortSignal.reason);
  else abortSignal.addEventListener('abort', onAbort, { once: true });
  // Held by the body for as long as it is read (see RequestState.keepAlive).
  Object.defineProperty(body, Symbol.for('snapengage.keepAlive'), { value: keepAlive });
  droppedBodies?.register(fail, release, token);
  return new Response(body, { status: response.status, statusText: reasonPhrase(response.statusText), headers: response.headers });
}

/** A fully read copy of a response, so openapi-fetch parses bytes we already validated. */
export function rebuild(response: Response, bytes: Uint8Array): Response {
  const headers = new Headers(response.headers);
  // The bytes are decoded (gunzipped): the original length and encoding no longer describe them.
  headers.delete('content-length');
  headers.delete('content-encoding');
  // The bytes are handed over only if someone reads the body: openapi-fetch gets the parsed JSON, and a Response
  // built on a Uint8Array copies it, which on a large load would be work thrown away.
  const body = NULL_BODY_STATUSES.has(response.status)
    ? null
    : new ReadableStream<Uint8Array>(
        {
          pull(controller) {
            if (bytes.byteLength > 0) controller.enqueue(bytes);
            controller.close();
          },
        },
        // highWaterMark 0: a stream pulls up to its high-water mark as soon as it exists; this one waits for a reader.
        { highWaterMark: 0 },
      );
  return new Response(body, { status: response.status, statusText: reasonPhrase(response.statusText), headers });
}

/**
 * A status text that `new Response` accepts. Node's fetch decodes the server's reason phrase as UTF-8, so a latin1
 * byte (`400 Requ\xeate incorrecte` from a proxy) came back as U+FFFD, which Response's ByteString check refused with a
 * bare TypeError instead of the call's answer or SnapEngageError. Characters it refuses are written as `\uXXXX`.
 */
function reasonPhrase(text: string): string {
  return text.replace(/[^\t\x20-\x7e\x80-\xff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
