// Reads one attempt's outcome (a response, or the error fetch threw) into a Verdict: what the transport then returns,
// retries or throws. Bodies are read here once: checked as JSON, and kept as bytes for openapi-fetch to parse.
import { describeCause, describeResponseTooLarge, excerpt, printable, SnapEngageError, type ResponseTooLarge, type SnapEngageErrorKind } from './errors.js';
import type { Redactor } from './redact.js';
import { parseKeepingLargeIntegers } from './large-integers.js';
import { BodyTooLarge, readBounded, rebuild } from './response-body.js';
import { blockedPort, certainlyNotSent, isRetryableStatus, parseRetryAfter, requestMistake, tlsFailure } from './retry.js';

export type Outcome = { response: Response } | { error: unknown };

export type Verdict =
  | { type: 'success'; response: Response; requestId?: string }
  | { type: 'http_error'; response: Response; status: number; retryable: boolean; retryAfterMs?: number; requestId?: string; bodyExcerpt?: string }
  | { type: 'failure'; kind: SnapEngageErrorKind; detail: string; retryable: boolean; status?: number; retryAfterMs?: number; requestId?: string; bodyExcerpt?: string; causeSummary?: string; abortReason?: { value: unknown }; responseTooLarge?: ResponseTooLarge };

export type Failure = Extract<Verdict, { type: 'failure' }>;

export interface ClassifyContext {
  timeoutMs: number;
  /** The most bytes (decoded) a body is read to (SnapEngageClientOptions.maxResponseBytes). */
  maxResponseBytes: number;
  redactor: Redactor;
  /** SnapEngageClientOptions.largeIntegers. */
  largeIntegers?: 'number' | 'bigint';
}

/** The request an outcome answers, as far as reading it needs. */
export interface AttemptedRequest {
  url: string;
  parseAs: string;
  /** Whether the operation may be sent again (a retry of a non-idempotent call could act twice). */
  op: { idempotent: boolean };
}

/** How the attempt ended on this side: the caller's abort, or its timer. */
export interface AttemptOutcome {
  timedOut: boolean;
  callerAborted: boolean;
  abortReason?: unknown;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * A body's text, and the charset it was read in when that was not UTF-8. UTF-8 (a BOM dropped) whenever the bytes are
 * UTF-8, whatever the header says (RFC 8259: JSON is UTF-8, a charset parameter has no effect). Bytes that are not
 * UTF-8 under a header that names another charset, as a Java servlet's `application/json;charset=ISO-8859-1` does,
 * are read in that charset: decoded as UTF-8, as fetch's response.json() would, every accented letter was silently
 * loaded as U+FFFD. Otherwise bad bytes are replaced.
 */
function bodyText(bytes: Uint8Array, contentType: string | null): { text: string; charset?: string } {
  try {
    return { text: utf8Decoder.decode(bytes) };
  } catch {
    const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType ?? '')?.[1];
    if (charset) {
      try {
        return { text: new TextDecoder(charset).decode(bytes), charset };
      } catch {
        // A charset TextDecoder does not know: as UTF-8 below.
      }
    }
    return { text: new TextDecoder().decode(bytes) };
  }
}

/** `rejectedFetch`: the error is fetch's rejection of the attempt (not a body's read that failed). */
export function failureFromError(ctx: Omit<ClassifyContext, 'maxResponseBytes'>, request: AttemptedRequest, attempt: AttemptOutcome, error: unknown, rejectedFetch = false): Failure {
  if (error instanceof SnapEngageError) return { type: 'failure', kind: error.kind, detail: error.message, retryable: false };
  if (attempt.callerAborted) {
    return { type: 'failure', kind: 'aborted', detail: 'aborted by the caller’s AbortSignal', retryable: false, abortReason: { value: attempt.abortReason } };
  }
  if (attempt.timedOut) {
    return {
      type: 'failure',
      kind: 'timeout',
      detail: `no complete response within timeoutMs=${ctx.timeoutMs} (raise timeoutMs if the API is slow)`,
      retryable: request.op.idempotent,
    };
  }
  const causeSummary = ctx.redactor.text(describeCause(error));
  if (blockedPort(error)) {
    const port = portOf(request.url);
    return {
      type: 'failure',
      kind: 'network',
      detail: `fetch refuses port ${port} (one of the ports the Fetch standard blocks, such as 6000 and 10080): serve the API on another port and change the base URL`,
      causeSummary,
      retryable: false,
    };
  }
  if (rejectedFetch && requestMistake(error)) {
    return {
      type: 'failure',
      kind: 'config',
      detail: `fetch rejected the request (${causeSummary}): a mistake in how it was made, not a network fault, so it was not retried: check the URL and the header values the fetch option or an app middleware give it`,
      causeSummary,
      retryable: false,
    };
  }
  return {
    type: 'failure',
    kind: 'network',
    detail: `network error: ${causeSummary}`,
    causeSummary,
    // A TLS handshake that failed for what the server is (plain http, a certificate not trusted) fails the same
    // way on every attempt: retrying only delays the error by the backoff.
    retryable: !tlsFailure(error) && (request.op.idempotent || certainlyNotSent(error)),
  };
}

/**
 * A body over maxResponseBytes: not retried (the same bytes would come back), and not kept. The limit is named in
 * bytes, as the option takes it, and in MiB (KiB, bytes), with what was decoded, so a genuine page can be let through.
 */
function tooLarge(error: BodyTooLarge, response: Response, requestId: string | undefined): Failure {
  const encoding = response.headers.get('content-encoding');
  // Over the limit when announced, so a number; a Content-Length that is not a whole one is left out.
  const announcedLength = Number(response.headers.get('content-length'));
  const responseTooLarge: ResponseTooLarge = {
    limit: error.limit,
    ...(error.announced && Number.isSafeInteger(announcedLength) ? { announcedLength } : {}),
    ...(!error.announced && encoding ? { contentEncoding: printable(encoding) } : {}),
  };
  return {
    type: 'failure',
    kind: 'invalid_response',
    status: response.status,
    requestId,
    retryable: false,
    responseTooLarge,
    detail: `the response body is larger than maxResponseBytes=${error.limit} (${describeResponseTooLarge(responseTooLarge)}); the read was stopped there: if the response is genuine, raise the client option maxResponseBytes`,
  };
}

/** What an attempt's outcome means: a success to hand back, an HTTP error status, or a failure (retryable or not). */
export async function classify(ctx: ClassifyContext, request: AttemptedRequest, attempt: AttemptOutcome, outcome: Outcome): Promise<Verdict> {
  if ('error' in outcome) return failureFromError(ctx, request, attempt, outcome.error, true);
  const response = outcome.response;
  const status = response.status;
  if (response.type === 'opaqueredirect' || (status >= 300 && status < 400)) {
    // Read to the end (under the attempt's timeout, as every error body is) and dropped: left unread, it kept the
    // connection busy until the Response was collected, and every such call opened another one.
    // A body over the cap is dropped with its connection instead.
    await readBounded(response, ctx.maxResponseBytes).catch(() => undefined);
    const location = response.headers.get('location');
    let target = 'an unknown location';
    if (location) {
      // An unparsable Location must not throw Node's TypeError: it carries the request URL, credentials included.
      try {
        target = ctx.redactor.url(new URL(location, request.url).toString());
      } catch {
        target = `"${printable(ctx.redactor.text(location))}"`;
      }
    }
    return {
      type: 'failure',
      kind: 'invalid_response',
      status: status || undefined,
      retryable: false,
      detail: `the server redirected (HTTP ${status}) to ${target}; redirects are not followed so credentials stay on the configured host: set baseUrl to the final origin`,
    };
  }
  // Header text is the server's, like its body: it may echo a credential back.
  // A header value may hold C1 controls (bytes 0x80-0x9f, read as latin1), and the id is quoted in messages.
  const requestId = printable(ctx.redactor.text(response.headers.get('x-request-id') ?? '')) || undefined;
  if (response.ok && request.parseAs === 'stream') return { type: 'success', response, requestId };
  let bytes: Uint8Array;
  try {
    bytes = await readBounded(response, ctx.maxResponseBytes);
  } catch (error) {
    if (error instanceof BodyTooLarge) return tooLarge(error, response, requestId);
    return failureFromError(ctx, request, attempt, error);
  }
  // The text is what the bytes say (bodyText).
  const contentType = response.headers.get('content-type');
  const { text, charset } = bodyText(bytes, contentType);
  // The excerpt (decode, redact, collapse) is only needed on failures: computing it for every page of a large
  // load cost a fifth of the loader's CPU.
  const bodyExcerpt = () => excerpt(ctx.redactor.text(text));
  // Read in another charset, a body that is read as text (JSON, parseAs 'text', any error body) becomes that text's
  // UTF-8 bytes, labelled so: every reader then gets it (openapi-fetch's text(), a clone, an app middleware's
  // `new Response(response.body, response)`), where an own text() on this Response reached openapi-fetch alone.
  // Bytes asked for as bytes (parseAs 'arrayBuffer' or 'blob') stay the server's.
  const asText = charset !== undefined && contentType !== null && (!response.ok || request.parseAs === 'json' || request.parseAs === 'text');
  const body = asText ? new TextEncoder().encode(text) : bytes;
  const buffered = rebuild(response, body);
  if (asText) buffered.headers.set('content-type', contentType.replace(/(;\s*charset\s*=\s*)("?)[^";\s]+\2/i, '$1utf-8'));
  if (response.ok) {
    // A body of only whitespace is no JSON value: answered as an empty body (data undefined), as openapi-fetch
    // answers a body of length 0, instead of a raw SyntaxError from its JSON.parse.
    if (request.parseAs === 'json' && text.trim() === '') {
      buffered.headers.set('content-length', '0');
      buffered.headers.delete('transfer-encoding');
    } else if (request.parseAs === 'json') {
      try {
        // Parsed once here to tell a cut body from a good one; openapi-fetch then gets this value instead of
        // parsing the same text a second time.
        // (openapi-fetch calls response.json() when a Content-Length is present, so it is set to the body's
        // real byte length.)
        const parsed: unknown = ctx.largeIntegers === 'bigint' ? parseKeepingLargeIntegers(text) : JSON.parse(text);
        buffered.headers.set('content-length', String(body.byteLength));
        Object.defineProperty(buffered, 'json', { value: async () => parsed });
      } catch {
        return {
          type: 'failure',
          kind: 'invalid_response',
          status,
          requestId,
          bodyExcerpt: bodyExcerpt(),
          // A cut body is usually transient (a dropped connection behind a proxy); an HTML page is not, but
          // retrying it costs only a few requests.
          retryable: request.op.idempotent,
          detail: `HTTP ${status} with a body that is not valid JSON (${text.length} characters${contentType ? `, ${printable(ctx.redactor.text(contentType))}` : ''})`,
        };
      }
    }
    return { type: 'success', response: buffered, requestId };
  }
  return {
    type: 'http_error',
    response: buffered,
    status,
    requestId,
    bodyExcerpt: bodyExcerpt(),
    retryable: request.op.idempotent && isRetryableStatus(status),
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()),
  };
}

function portOf(url: string): string {
  try {
    return new URL(url).port || '(the default)';
  } catch {
    return '(unknown)';
  }
}
