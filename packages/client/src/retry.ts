// Retry policy. Idempotent operations are retried on network errors, timeouts, invalid 2xx bodies, 408, 429
// and 5xx. A non-idempotent one (POST startChat) is re-sent only when it certainly never reached the server
// (the connection was refused or the host did not resolve): never after a response, not even a 429, since
// SnapEngage documents no rate-limit semantics and a replayed POST starts a second chat.
import { firstAborted, onFirstAbort, type AbortSource } from './abort-sources.js';
import { causeCode } from './errors.js';

/** Connection-level codes that prove the request was never delivered. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** 408, 429 and 5xx, except the two 5xx that say the request itself can never work (501, 505). */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501 && status !== 505);
}

export function certainlyNotSent(error: unknown): boolean {
  const code = causeCode(error);
  return code !== undefined && NOT_SENT_CODES.has(code);
}

/** Milliseconds a `Retry-After` header asks for (delta-seconds or an HTTP date), or undefined. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // Only an HTTP date (IMF-fixdate, RFC 9110): Date.parse takes nearly anything, and "2, 2" (two headers joined)
  // or "soon 3" would parse as a past date and mean "retry now".
  if (!/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

export interface BackoffSettings {
  baseDelayMs: number;
  maxDelayMs: number;
  retryAfterCapMs: number;
}

/**
 * Delay before retry number `retry` (1-based). A server's Retry-After wins, capped at retryAfterCapMs;
 * otherwise exponential backoff with "equal jitter" (half fixed, half random) so that parallel clients
 * that failed together do not come back together.
 */
export function retryDelayMs(retry: number, retryAfterMs: number | undefined, settings: BackoffSettings, random: () => number = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, settings.retryAfterCapMs);
  const exponential = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** (retry - 1));
  return Math.round(exponential / 2 + random() * (exponential / 2));
}

/** Resolves after ms, or rejects with the abort reason as soon as one of the sources aborts. */
export function sleep(ms: number, sources: readonly AbortSource[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = firstAborted(sources);
    if (aborted) {
      reject(aborted.reason);
      return;
    }
    const stop = onFirstAbort(sources, (reason) => {
      clearTimeout(timer);
      reject(reason);
    });
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
  });
}

/** Codes of TLS failures that no retry can fix: OpenSSL's (`ERR_SSL_…`, e.g. https:// against a plain-http port) and certificate checks. */
const TLS_FAILURE_CODES = new Set([
  'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_GET_ISSUER_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_UNTRUSTED', 'CERT_REVOKED',
]);

export function tlsFailure(error: unknown): boolean {
  const code = causeCode(error);
  return code !== undefined && (code.startsWith('ERR_SSL_') || TLS_FAILURE_CODES.has(code));
}

/**
 * fetch (undici) refuses the ports the Fetch standard blocks (6000, 10080, …) before connecting, with a cause whose
 * message is "bad port": every retry fails the same way, so it is not retried.
 */
export function blockedPort(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current instanceof Error; depth++) {
    if (current.message === 'bad port') return true;
    current = current.cause;
  }
  return false;
}

/** Codes of Node's and undici's refusals of an argument: the request is built wrong, whatever the network does. */
const ARGUMENT_CODES = new Set(['ERR_INVALID_URL', 'ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN', 'ERR_HTTP_INVALID_HEADER_VALUE', 'UND_ERR_INVALID_ARG']);

/**
 * TypeErrors of a request built wrong (Fetch's, any runtime's: a URL it cannot parse, a header name or value it
 * refuses) and of JavaScript itself (an app's fetch wrapper calling what is not a function).
 */
const MISTAKE_MESSAGE = /Failed to parse URL|Invalid URL|is not a valid URL|invalid header (?:name|value)|is an invalid header|is not a valid HTTP header|is not a function|Cannot read propert|is not iterable|is not a constructor/i;

/**
 * A fetch rejection that is a mistake in the request, not a network fault: undici's TypeError "Failed to parse URL
 * from …" (an app's fetch that rebuilt the URL wrong), "Headers.append: … is an invalid header value", a TypeError
 * of the app's fetch wrapper itself. Retried as network errors, each failed the same way maxRetries times, after
 * the backoff, and was reported as "network error". Only these: a rejection not known as a mistake (undici's "fetch
 * failed" with ECONNRESET as its cause, another runtime's network error in its own words) is retried as before.
 */
export function requestMistake(error: unknown): boolean {
  const code = causeCode(error);
  if (code !== undefined && ARGUMENT_CODES.has(code)) return true;
  // By name: a TypeError of another realm (a vm context's fetch) is one too.
  return error instanceof Error && error.name === 'TypeError' && MISTAKE_MESSAGE.test(error.message);
}

/**
 * The app's wait before an attempt (a rate limiter), before the attempt's timer starts: time in a limiter's queue is
 * not the server being slow. Its signal aborts with any of `sources` (the caller's, the client's); an abort ends the
 * wait quietly at once, even when the hook does not listen to its signal (a limiter that takes none), and the attempt
 * then starts aborted, so it fails as aborted like any other. What such a hook does later is ignored.
 */
export async function waitBeforeAttempt(hook: (signal: AbortSignal) => Promise<void>, sources: readonly AbortSource[]): Promise<void> {
  if (firstAborted(sources)) return;
  const controller = new AbortController();
  let stopWaiting = (): void => undefined;
  const aborted = new Promise<void>((resolve) => (stopWaiting = resolve));
  const stop = onFirstAbort(sources, (reason) => {
    controller.abort(reason);
    stopWaiting();
  });
  try {
    const waiting = hook(controller.signal);
    // Left behind on an abort: its later rejection (the abort reason, or the app's own) is nobody's to handle.
    Promise.resolve(waiting).catch(() => undefined);
    await Promise.race([waiting, aborted]);
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  } finally {
    stop();
  }
}
