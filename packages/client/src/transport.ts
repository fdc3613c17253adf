// The openapi-fetch middleware that carries auth, per-attempt timeouts, cancellation, retries, body
// validation and logging. openapi-fetch sends the first attempt itself; onResponse/onError then decide
// whether to re-send. Every attempt is rebuilt from a snapshot taken in onRequest (URL, headers, body
// bytes), because a Request body can be read only once.
import type { Middleware } from 'openapi-fetch';
import { CREDENTIAL_HEADERS, applyCredentials, findOperation, type Credentials, type OperationRef } from './auth.js';
import { firstAborted, handoffOf, onFirstAbort, ownSignal, sharedSignal, type AbortSource, type SignalHandoff } from './abort-sources.js';
import { SnapEngageError, kindForStatus, printable } from './errors.js';
import type { ClientLogger } from './options.js';
import type { Redactor } from './redact.js';
import { metaOf, originalRequestOf, rememberCallMeta, setMeta, type ResponseMeta } from './call-meta.js';
import { callOverrides } from './call-options.js';
import { checkPathParams } from './path-params.js';
import { releasedWithBody } from './response-body.js';
import { formatMessage } from './response-errors.js';
import { handToAppOnError } from './app-middleware.js';
import { retryDelayMs, sleep, waitBeforeAttempt, type BackoffSettings } from './retry.js';
import { classify, failureFromError, type Failure, type Outcome, type Verdict } from './verdict.js';

export interface TransportSettings {
  credentials: Credentials;
  timeoutMs: number;
  maxRetries: number;
  /** Largest body (decoded) read for the caller; a streamed one is the caller's (SnapEngageClientOptions.maxResponseBytes). */
  maxResponseBytes: number;
  backoff: BackoffSettings;
  userAgent: string;
  logger: ClientLogger | undefined;
  signal: AbortSignal | undefined;
  /** The client's baseUrl origin: the only one a request (credentials or not) may go to. */
  origin: string;
  /** Awaited before each attempt, outside its timeout (SnapEngageClientOptions.beforeAttempt). */
  beforeAttempt: ((signal: AbortSignal) => Promise<void>) | undefined;
  redactor: Redactor;
  /** SnapEngageClientOptions.largeIntegers. */
  largeIntegers: 'number' | 'bigint';
  /** The app's own middleware (client.use()), outermost first: what gets a final error found in onResponse. */
  appMiddleware: readonly Middleware[];
}

interface Attempt {
  timedOut: boolean;
  callerAborted: boolean;
  /** The `reason` of the caller's (or the client's) signal that aborted the attempt: the aborted error's `cause`. */
  abortReason?: unknown;
  /** Aborted with the caller's or the client's signal (their reason), or by the timer: what the attempt's fetch gets. */
  signal: AbortSignal;
  /** Stops the attempt's timer only (a streamed body is the caller's to read, for as long as it takes). */
  stopTimer(): void;
  dispose(): void;
}

interface RequestState {
  op: OperationRef;
  method: string;
  url: string;
  redactedUrl: string;
  headers: Headers;
  body: ArrayBuffer | undefined;
  parseAs: string;
  /** The call's own `timeoutMs` and `maxRetries` (call-options.ts), else the client's. */
  timeoutMs: number;
  maxRetries: number;
  /** The call's signals: openapi-fetch's request's (the caller's) and, if an app middleware gave it another, this one's. */
  callerSignals: AbortSignal[];
  /** The app's request, as this middleware got it (its headers are the app's own). */
  callerRequest: Request;
  /**
   * What keeps the call's signals following the caller's: each Request's signal follows the one it was made from only
   * while that Request lives (undici links them weakly), so openapi-fetch's request and the app's are kept until the
   * call settles, or its streamed body ends.
   */
  keepAlive: readonly Request[];
  /** The call's followed signal, which a streamed body takes over from the call (abort-sources.ts, withFollowedSignal). */
  handoff: SignalHandoff | undefined;
  /** The first attempt's request, credentials included, as this middleware handed it to openapi-fetch. */
  sent: Request | undefined;
  /** The fetch of this call (openapi-fetch lets a call override the client's), wrapped to keep `this` unbound. */
  send: (request: Request) => Promise<Response>;
  startedAt: number;
  /** Time spent in `beforeAttempt` (a rate limiter's queue): not the request's own duration. */
  queuedMs: number;
  attempt: number;
  /** Why each retry so far was made (the log event's retryReasons). */
  retryReasons: string[];
  current: Attempt | undefined;
}

export function createTransport(settings: TransportSettings): Middleware {
  // Keyed by the call's `options` (openapi-fetch freezes one per call and drops it when the call ends, however it
  // ends), then by id. A call that never reaches our onResponse/onError — a user middleware threw first — leaves
  // nothing behind once the call is over.
  const states = new WeakMap<object, Map<string, RequestState>>();
  const { redactor } = settings;
  const clientSignal = settings.signal ? sharedSignal(settings.signal) : undefined;

  function startAttempt(state: RequestState): Request {
    const controller = new AbortController();
    // Built first: if it throws, no timer or listener is left behind.
    // Redirects are not followed: a redirect to another host would carry x-api-key / api_key with it.
    const request = new Request(state.url, { method: state.method, headers: state.headers, body: state.body ?? null, signal: controller.signal, redirect: 'manual' });
    const sources = abortSources(state);
    const abort = (reason: unknown): void => {
      attempt.callerAborted = true;
      attempt.abortReason = reason;
      controller.abort(reason);
    };
    let stopListening = (): void => undefined;
    const timer = setTimeout(() => {
      attempt.timedOut = true;
      controller.abort(new Error(`timed out after ${state.timeoutMs} ms`));
      // The attempt is over; its listeners go now, even if the response never reaches settle() (a user middleware
      // that throws in onResponse runs before ours and stops the chain).
      stopListening();
    }, state.timeoutMs);
    // A pending attempt must not keep the process alive by itself.
    (timer as { unref?: () => void }).unref?.();
    const attempt: Attempt = {
      timedOut: false,
      callerAborted: false,
      signal: controller.signal,
      stopTimer() {
        clearTimeout(timer);
      },
      dispose() {
        clearTimeout(timer);
        stopListening();
      },
    };
    const aborted = firstAborted(sources);
    if (aborted) abort(aborted.reason);
    else stopListening = onFirstAbort(sources, abort);
    state.current = attempt;
    return request;
  }

  /** What a wait of the call listens to: its own signals, and the client's (one listener for all calls). */
  function abortSources(state: RequestState): AbortSource[] {
    const sources = state.callerSignals.map(ownSignal);
    if (clientSignal) sources.push(clientSignal);
    return sources;
  }

  /** The app's wait before an attempt (retry.ts, waitBeforeAttempt), counted apart from the request's duration. */
  async function beforeAttempt(state: RequestState): Promise<void> {
    if (!settings.beforeAttempt) return;
    const start = Date.now();
    await waitBeforeAttempt(settings.beforeAttempt, abortSources(state));
    state.queuedMs += Date.now() - start;
  }

  function log(state: RequestState, status: number | undefined, kind: string | undefined, requestId: string | undefined): void {
    try {
      settings.logger?.request?.({
        method: state.method,
        url: state.redactedUrl,
        ...(status !== undefined ? { status } : {}),
        ...(kind !== undefined ? { kind } : {}),
        ...(requestId !== undefined ? { requestId } : {}),
        durationMs: Date.now() - state.startedAt - state.queuedMs,
        ...(state.queuedMs > 0 ? { queuedMs: state.queuedMs } : {}),
        retries: state.attempt - 1,
        ...(state.retryReasons.length > 0 ? { retryReasons: [...state.retryReasons] } : {}),
        operation: state.op.label,
      });
    } catch {
      // A failing logger must not fail the request.
    }
  }

  function warn(message: string): void {
    try {
      settings.logger?.warn?.(redactor.text(message));
    } catch {
      // idem
    }
  }

  function errorOf(state: RequestState, failure: Failure): SnapEngageError {
    const retries = state.attempt - 1;
    return new SnapEngageError({
      kind: failure.kind,
      message: formatMessage(state.op.label, failure.detail, { requestId: failure.requestId, retries, url: state.redactedUrl }),
      operation: state.op.label,
      url: state.redactedUrl,
      retries,
      ...(failure.status !== undefined ? { status: failure.status } : {}),
      ...(failure.requestId !== undefined ? { requestId: failure.requestId } : {}),
      ...(failure.bodyExcerpt !== undefined ? { bodyExcerpt: failure.bodyExcerpt } : {}),
      ...(failure.causeSummary !== undefined ? { causeSummary: failure.causeSummary } : {}),
      ...(failure.responseTooLarge !== undefined ? { responseTooLarge: failure.responseTooLarge } : {}),
      // The caller's own signal.reason (their object, not the transport's error): the standard `cause`.
      ...(failure.abortReason ? { cause: failure.abortReason.value } : {}),
    });
  }

  /** A streamed body's read that failed after the call returned: the error a failed call gets, not undici's own. */
  function bodyReadError(state: RequestState, attempt: Attempt, error: unknown): SnapEngageError {
    const failure = failureFromError({ redactor, timeoutMs: state.timeoutMs }, state, attempt, error);
    return errorOf(state, { ...failure, detail: `${failure.detail}, while reading the streamed body` });
  }

  function finish(state: RequestState, verdict: Verdict): Response {
    const retries = state.attempt - 1;
    if (verdict.type === 'failure') {
      log(state, verdict.status, verdict.kind, verdict.requestId);
      throw errorOf(state, verdict);
    }
    const meta: ResponseMeta = { op: state.op, url: state.redactedUrl, retries, requestId: verdict.requestId };
    if (verdict.type === 'http_error') {
      meta.bodyExcerpt = verdict.bodyExcerpt;
      // The reason phrase is the server's text too, quoted in the message: its controls escaped as the body's are.
      meta.statusText = printable(redactor.text(verdict.response.statusText));
      log(state, verdict.status, kindForStatus(verdict.status), verdict.requestId);
    } else log(state, verdict.response.status, undefined, verdict.requestId);
    setMeta(verdict.response, meta);
    return verdict.response;
  }

  async function settle(options: object, id: string, first: Outcome): Promise<Response> {
    const state = states.get(options)?.get(id);
    if (!state) throw new Error('snapengage-client: response for an unknown request id (was the middleware registered twice?)');
    try {
      let outcome = first;
      // Bounded: each pass either returns, throws, or increments state.attempt towards maxRetries.
      for (;;) {
        const attempt = state.current as Attempt;
        const verdict = await classify({ redactor, timeoutMs: state.timeoutMs, maxResponseBytes: settings.maxResponseBytes, largeIntegers: settings.largeIntegers }, state, attempt, outcome);
        if (verdict.type === 'success' && state.parseAs === 'stream' && verdict.response.body && !emptyForOpenapiFetch(verdict.response)) {
          // The caller's signal must still reach the body they stream: the attempt's listeners stay until the body
          // ends, errors or is cancelled. The timeout covered the headers.
          attempt.stopTimer();
          state.current = undefined;
          const keep = state.keepAlive;
          // The call's followed signal (abort-sources.ts) too must reach the body: the body lets go of it, not the call.
          const handoff = state.handoff;
          if (handoff) handoff.takenByBody = true;
          const release = (): void => {
            attempt.dispose();
            handoff?.release();
          };
          return finish(state, { ...verdict, response: releasedWithBody(verdict.response, release, keep, (error) => bodyReadError(state, attempt, error), attempt.signal) });
        }
        attempt.dispose();
        if (verdict.type === 'success' || !verdict.retryable || state.attempt > state.maxRetries) return finish(state, verdict);
        const delay = retryDelayMs(state.attempt, verdict.retryAfterMs, settings.backoff);
        const what = verdict.type === 'http_error' ? `HTTP ${verdict.status}` : verdict.kind;
        state.retryReasons.push(what);
        warn(`${state.op.label}: ${what}; retry ${state.attempt} of ${state.maxRetries} in ${delay} ms | ${state.redactedUrl}`);
        try {
          await sleep(delay, abortSources(state));
        } catch (reason) {
          return finish(state, { type: 'failure', kind: 'aborted', detail: 'aborted by the caller’s AbortSignal while waiting to retry', retryable: false, abortReason: { value: reason } });
        }
        await beforeAttempt(state);
        state.attempt++;
        const request = startAttempt(state);
        try {
          outcome = { response: await state.send(request) };
        } catch (error) {
          outcome = { error };
        }
      }
    } finally {
      state.current?.dispose();
      states.get(options)?.delete(id);
    }
  }

  return {
    async onRequest({ request, schemaPath, params, options, id }) {
      const original = originalRequestOf(options) ?? request;
      const op = findOperation(request.method, schemaPath);
      checkPathParams(op.label, schemaPath, params.path);
      const url = new URL(request.url);
      // openapi-fetch puts a call's extra option keys on the Request it made, the one an app's middleware may replace.
      const own = callOverrides(original);
      if ('problem' in own) {
        const redacted = redactor.url(url.toString());
        throw new SnapEngageError({ kind: 'config', operation: op.label, url: redacted, message: formatMessage(op.label, own.problem, { retries: 0, url: redacted }) });
      }
      // openapi-fetch takes a per-call `baseUrl`, and an app's onRequest may return a Request for any URL: the
      // credentials were put on it all the same, and went to that host.
      if (url.origin !== settings.origin) {
        const redacted = redactor.url(url.toString());
        const detail = `the request goes to ${redactor.text(url.origin)}, not the client's baseUrl origin ${settings.origin} (a per-call baseUrl, or a middleware that changed the URL); requests and their credentials go to the configured host only: use a client created with that baseUrl`;
        throw new SnapEngageError({ kind: 'config', operation: op.label, url: redacted, message: formatMessage(op.label, detail, { retries: 0, url: redacted }) });
      }
      const headers = new Headers(request.headers);
      applyCredentials(op, settings.credentials, headers, url, redactor.url(url.toString()));
      if (settings.userAgent) headers.set('user-agent', settings.userAgent);
      if (!headers.has('accept')) headers.set('accept', 'application/json');
      const state: RequestState = {
        op,
        method: request.method,
        url: url.toString(),
        redactedUrl: redactor.url(url.toString()),
        headers,
        body: request.body ? await request.arrayBuffer() : undefined,
        parseAs: options.parseAs,
        timeoutMs: own.overrides.timeoutMs ?? settings.timeoutMs,
        maxRetries: own.overrides.maxRetries ?? settings.maxRetries,
        // An app's onRequest that returns `new Request(request, …)` makes a signal that follows openapi-fetch's
        // request's only while that one lives: listened to alone, the caller's abort was lost once it was collected.
        callerSignals: [...new Set([original.signal, request.signal])],
        callerRequest: request,
        keepAlive: [original, request],
        handoff: handoffOf(original),
        sent: undefined,
        send: (attemptRequest) => options.fetch(attemptRequest),
        startedAt: Date.now(),
        queuedMs: 0,
        attempt: 1,
        retryReasons: [],
        current: undefined,
      };
      await beforeAttempt(state);
      const first = startAttempt(state);
      state.sent = first;
      let calls = states.get(options);
      if (!calls) states.set(options, (calls = new Map()));
      calls.set(id, state);
      return first;
    },
    onResponse({ response, request, schemaPath, params, options, id }) {
      // openapi-fetch also runs onResponse on the Response our onError returned: it is final already. A response an
      // app's onRequest returned (a cache, a stub) never reached the network, so there is nothing to settle.
      if (metaOf(response) || !states.get(options)?.has(id)) return undefined;
      conceal(states.get(options)!.get(id)!);
      return settle(options, id, { response }).then(
        (final) => remember(options, final),
        // The final error came after the headers (a reset mid-body, a truncated body): thrown here, it skipped the
        // app's onError, which openapi-fetch runs only for a fetch that rejects (app-middleware.ts).
        (failure: unknown) => {
          if (!(failure instanceof SnapEngageError)) throw failure;
          return handToAppOnError(settings.appMiddleware, { request, schemaPath, params, options, id }, failure);
        },
      );
    },
    onError({ error, options, id }) {
      const state = states.get(options)?.get(id);
      if (state) conceal(state);
      // The final error is returned, not thrown: openapi-fetch then hands it to the app's onError handlers (outer to
      // this one) before throwing it, as the README promises for onResponse; thrown, it skipped them.
      return settle(options, id, { error }).then(
        (final) => remember(options, final),
        (failure: unknown) => {
          if (failure instanceof SnapEngageError) return failure;
          throw failure;
        },
      );
    },
  };
}

/**
 * Takes the credentials off the request openapi-fetch hands to the app's onResponse and onError, which run after this
 * middleware's: the first attempt's request, as this middleware returned it (openapi-fetch passes that one object to
 * every middleware). Its credential headers get back the values the app's request had, and its `url` reads redacted.
 * Retries are built from the call's own snapshot, so nothing that is sent changes.
 */
function conceal(state: RequestState): void {
  const sent = state.sent;
  if (!sent) return;
  state.sent = undefined;
  for (const name of CREDENTIAL_HEADERS) {
    const own = state.callerRequest.headers.get(name);
    if (own === null) sent.headers.delete(name);
    else sent.headers.set(name, own);
  }
  if (sent.url !== state.redactedUrl) redactUrlOf(sent, state.redactedUrl);
}

/** Makes `request.url` read `url`, and so its clones' (a logging middleware clones to read the body). */
function redactUrlOf(request: Request, url: string): Request {
  Object.defineProperty(request, 'url', { value: url, enumerable: true, configurable: true });
  Object.defineProperty(request, 'clone', {
    value: function clone(this: Request): Request {
      return redactUrlOf(Request.prototype.clone.call(this), url);
    },
    configurable: true,
  });
  return request;
}

function remember(options: object, response: Response): Response {
  const meta = metaOf(response);
  if (meta) rememberCallMeta(options, meta);
  return response;
}

/**
 * A body openapi-fetch never hands over (it returns `data: undefined` for a `Content-Length: 0` that is not chunked):
 * given to the caller as a stream, nobody would end it, and it held the call's signals until a garbage collection.
 */
function emptyForOpenapiFetch(response: Response): boolean {
  return response.headers.get('content-length') === '0' && !response.headers.get('transfer-encoding')?.includes('chunked');
}
