// Public option and logging types of the client.
import type { CredentialOptions } from '../../../generated/catalog.js';

/**
 * The credential options (`apiToken`, `apiKey`, `provisioningKey`, …) come from the spec's security schemes
 * (CredentialOptions in the generated catalog): a scheme added to the spec is an option here with no code edit.
 */
export interface SnapEngageClientOptions extends CredentialOptions {
  /** API origin; default `https://www.snapengage.com` (env SNAPENGAGE_BASE_URL via credentialsFromEnv()). */
  baseUrl?: string | undefined;
  /** Per attempt, covering the headers and the whole body. Default 30000. */
  timeoutMs?: number | undefined;
  /** Re-sends after the first attempt. Default 4. 0 disables retries. */
  maxRetries?: number | undefined;
  /**
   * Most bytes of a response body the client reads for you (JSON pages, error bodies), counted after decompression.
   * A larger one fails the call (`invalid_response`, not retried) and the read stops there: a gzip bomb or an endless
   * body cannot fill the memory. A `parseAs: 'stream'` body is yours to read and not counted. Default 268435456
   * (256 MiB), far above any SnapEngage page.
   */
  maxResponseBytes?: number | undefined;
  /**
   * How a JSON body's integer literals beyond ±2^53 are read. `'number'` (default): as `JSON.parse` reads them, the
   * nearest double (`9007199254740993` → 9007199254740992, digits lost silently). `'bigint'`: as a `BigInt`, every
   * digit kept (JSON.stringify throws on one: convert it first). No field the spec declares holds such a number; an
   * undeclared field might. Each parsed page is walked for a number of 2^53 or more (~0.07 ms per 100 cases); only
   * a page with one is scanned as text and parsed again (about 3 times JSON.parse's time).
   */
  largeIntegers?: 'number' | 'bigint' | undefined;
  /** First backoff delay; doubles on each retry (with jitter), up to 20 s. Default 500. */
  retryBaseDelayMs?: number | undefined;
  /** Longest `Retry-After` wait honoured; longer requests wait this long. Default 60000. */
  retryAfterCapMs?: number | undefined;
  /**
   * Awaited before each attempt, retries included, before its `timeoutMs` starts: a rate limiter's wait (time in its
   * queue is not the server being slow). Its signal aborts with the caller's and the client's `signal`; the request
   * then fails as aborted at once, even if the hook does not listen to its signal. Any other error it throws is the app's own and reaches the caller as it was thrown.
   */
  beforeAttempt?: ((signal: AbortSignal) => Promise<void>) | undefined;
  /**
   * fetch implementation; default globalThis.fetch. Pass it the Request you get (`(request) => fetch(request, …)`):
   * `timeoutMs` and every `signal` reach a request through `request.signal`, so a fetch that rebuilds the request
   * without it (`fetch(request.url, { headers: request.headers })`) is never timed out or aborted.
   */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
  /** User-Agent header (ignored by browsers). Default `snapengage-client/<version>`. */
  userAgent?: string | undefined;
  /** Receives every completed request and every retry's warning; default: none, nothing is logged. */
  logger?: ClientLogger | undefined;
  /** Aborts every request of the client (a per-call `signal` works too). */
  signal?: AbortSignal | undefined;
}

/** Receives one event per completed request and a warning per retry. Never sees a credential. */
export interface ClientLogger {
  request?(event: RequestLogEvent): void;
  warn?(message: string): void;
}

export interface RequestLogEvent {
  method: string;
  /** Redacted. */
  url: string;
  /** HTTP status of the last attempt, when there was a response. */
  status?: number;
  /** Error kind when the request failed (HTTP error statuses included). */
  kind?: string;
  /** The server's `x-request-id` of the last attempt, when it sent one (redacted): what a support ticket quotes. */
  requestId?: string;
  /** From the call to its outcome, retries and their waits included, without `queuedMs`. */
  durationMs: number;
  /** Time the call waited in `beforeAttempt` (a rate limiter), when it waited. */
  queuedMs?: number;
  /** Attempts - 1. */
  retries: number;
  /**
   * Why each retry was made, in order (`HTTP 500`, `HTTP 429`, `network`, `timeout`, …), when there was one: what a
   * caller sums up after a run without logging every request.
   */
  retryReasons?: string[];
  /** `GET /api/v2/{orgId}/logs` */
  operation: string;
}
