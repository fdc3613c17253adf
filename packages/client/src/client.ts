// createSnapEngageClient: an openapi-fetch client typed by generated/openapi.ts, with the transport
// middleware (auth, timeouts, retries, logging) and the pagination helpers attached.
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { apiOperations, defaultBaseUrl, securitySchemes, type CredentialOption } from '../../../generated/catalog.js';
import { withFollowedSignal } from './abort-sources.js';
import { credentialsOf } from './auth.js';
import { numberOptionProblem, type NumberOptionName } from './call-options.js';
import type { components, paths } from '../../../generated/openapi.js';
import { SnapEngageError } from './errors.js';
import type { SnapEngageClientOptions } from './options.js';
import { iterateLogs, iteratePages, type GetPath, type IterateLogsArgs, type PageData, type PageInit, type PageResult, type PagingOptions, type TypedPageInit } from './pagination.js';
import { Redactor, hideUrlCredentials } from './redact.js';
import { keepResponseMeta, metaOf } from './call-meta.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from './response-body.js';
import { errorForEmptyBody, errorForResponse } from './response-errors.js';
import { createTransport } from './transport.js';

/** This package's version; the default User-Agent is `snapengage-client/<CLIENT_VERSION>`. */
export const CLIENT_VERSION = '0.1.0';

/**
 * One chat or offline case of the Logs API, as `iterateLogs` yields it (`components['schemas']['Case']`). Every field
 * may be absent, and fields not listed may come. Each field's description ends in a source label: `[doc]` SnapEngage's
 * documentation, `[code]` public client code, `[inferred]` our own inference.
 */
export type Case = components['schemas']['Case'];

/** openapi-fetch's client typed by the spec's paths (`client.GET(path, { params })`, …), with the paging helpers below. */
export type SnapEngageClient = Client<paths> & {
  /**
   * Follows a next-URL paginator (same auth, retries and timeouts on every page). Yields one page at a time, its
   * `data` typed by the spec's 200 response; `params` are typed like client.GET's. Throws SnapEngageError.
   */
  iteratePages<P extends GetPath>(path: P, init: TypedPageInit<P>, paging?: PagingOptions): AsyncIterable<PageResult<PageData<P>>>;
  /** Every case of one widget between start and end (YYYY-MM-DD, inclusive), across pages. Throws SnapEngageError. */
  iterateLogs(args: IterateLogsArgs): AsyncIterable<Case>;
  /** The origin every request (and every followed next link) must use. */
  readonly baseUrl: string;
};

const DEFAULTS = { timeoutMs: 30_000, maxRetries: 4, retryBaseDelayMs: 500, retryAfterCapMs: 60_000, maxDelayMs: 20_000, maxResponseBytes: DEFAULT_MAX_RESPONSE_BYTES };

function configError(option: string, message: string): SnapEngageError {
  return new SnapEngageError({ kind: 'config', operation: 'createSnapEngageClient', url: '', message: `${option}: ${message}` });
}

function numberOption(options: SnapEngageClientOptions, name: NumberOptionName): number {
  const value = options[name] ?? DEFAULTS[name];
  const problem = numberOptionProblem(name, value);
  if (problem) throw configError(name, problem);
  return value;
}

function parseBaseUrl(raw: string | undefined): string {
  const value = (raw ?? defaultBaseUrl).trim();
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw configError('baseUrl', `"${hideUrlCredentials(value)}" is not an absolute URL (set SNAPENGAGE_BASE_URL or the baseUrl option, e.g. ${defaultBaseUrl})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw configError('baseUrl', `must be http(s), got ${url.protocol}`);
  if (url.search || url.hash || url.username || url.password) throw configError('baseUrl', 'must not carry credentials, a query or a fragment');
  // The API answers plain http with a redirect, which is not followed, but only after the first request carried the
  // credential across the network unencrypted. Another host over http (an emulator, an internal proxy) is left be.
  // A trailing dot (`www.snapengage.com.`, the fully qualified name) resolves to the same host, so it is compared without.
  const apiDomain = new URL(defaultBaseUrl).hostname.replace(/^www\./, '');
  const host = url.hostname.replace(/\.+$/, '');
  if (url.protocol === 'http:' && (host === apiDomain || host.endsWith(`.${apiDomain}`))) {
    throw configError('baseUrl', `"${url.origin}" is plain http, which would send the credentials unencrypted: use https://${url.hostname} (SNAPENGAGE_BASE_URL or the baseUrl option)`);
  }
  // The spec's paths are appended to the base URL, and the SnapEngage API serves them at its origin: a base URL there
  // with a path (`…/api`) doubles it (`/api/api/v2/…`) and every request is a 404. Another host may be a proxy with a
  // prefix of its own (even one such as `/public`), so only the API's own origin is checked.
  const prefix = url.pathname.replace(/\/+$/, '');
  if (prefix !== '' && url.origin === new URL(defaultBaseUrl).origin) {
    const example = apiOperations.find((op) => op.path.startsWith(`${prefix}/`))?.path ?? apiOperations[0]?.path ?? '/';
    throw configError('baseUrl', `"${url.origin}${prefix}" has a path, but the SnapEngage API's paths (${example}) start at its origin: use ${url.origin} (SNAPENGAGE_BASE_URL or the baseUrl option)`);
  }
  return url.toString().replace(/\/+$/, '');
}

function largeIntegersOption(value: unknown): 'number' | 'bigint' {
  if (value === undefined || value === 'number' || value === 'bigint') return value ?? 'number';
  throw configError('largeIntegers', `must be 'number' or 'bigint', got ${typeof value === 'string' ? `"${value}"` : String(value)}`);
}

/**
 * A typed client of the SnapEngage APIs: each request carries the credential its operation needs (from the spec's
 * security), idempotent requests are retried with backoff and Retry-After, every attempt has a timeout. An invalid
 * option throws a SnapEngageError of kind `config` naming it.
 */
export function createSnapEngageClient(options: SnapEngageClientOptions = {}): SnapEngageClient {
  const baseUrl = parseBaseUrl(options.baseUrl);
  const credentials = credentialsOf(options);
  const redactor = new Redactor(Object.values(credentials));
  // Called through a closure: browsers reject window.fetch invoked with another `this`.
  const fetchImpl = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  // What the app added with use() and has not ejected, in openapi-fetch's order (transport.ts, appMiddleware).
  const appMiddleware: Middleware[] = [];
  const transport = createTransport({
    credentials,
    timeoutMs: numberOption(options, 'timeoutMs'),
    maxRetries: numberOption(options, 'maxRetries'),
    maxResponseBytes: numberOption(options, 'maxResponseBytes'),
    backoff: {
      baseDelayMs: numberOption(options, 'retryBaseDelayMs'),
      maxDelayMs: DEFAULTS.maxDelayMs,
      retryAfterCapMs: numberOption(options, 'retryAfterCapMs'),
    },
    userAgent: options.userAgent ?? `snapengage-client/${CLIENT_VERSION}`,
    logger: options.logger,
    signal: options.signal,
    origin: new URL(baseUrl).origin,
    beforeAttempt: options.beforeAttempt,
    redactor,
    largeIntegers: largeIntegersOption(options.largeIntegers),
    appMiddleware,
  });
  const client = createClient<paths>({ baseUrl, fetch: (request: Request) => fetchImpl(request) });
  // The transport (auth, retries, timeouts) stays the innermost middleware, whatever the app adds with use(): an app's
  // onRequest sees the request before credentials are put in, and its onResponse sees the final response, after
  // retries — not a 429 that is about to be retried.
  // keepResponseMeta is the outermost: whatever an app's onResponse returns still tells the paginator and unwrap()
  // which page it is and what the server said.
  const use = client.use.bind(client);
  const eject = client.eject.bind(client);
  client.use(keepResponseMeta, transport);
  client.use = (...middleware) => {
    eject(transport);
    // use() throws at a middleware it refuses (after adding the ones before it): the transport goes back regardless,
    // or every later request would go without credentials, retries or timeouts, and follow redirects. One at a time,
    // so appMiddleware holds exactly the ones it took.
    try {
      for (const m of middleware) {
        use(m);
        if (m) appMiddleware.push(m);
      }
    } finally {
      use(transport);
    }
  };
  client.eject = (...middleware) => {
    eject(...middleware);
    for (const m of middleware) {
      const i = appMiddleware.indexOf(m);
      if (i !== -1) appMiddleware.splice(i, 1);
    }
  };
  // Each call's signal is followed by one of its own, which is what openapi-fetch and undici get (abort-sources.ts,
  // follow()): the app's signal, often one for every call, then carries one listener however many calls use it.
  const methods = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const name of ['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE'] as const) {
    const send = methods[name] as (url: unknown, init: unknown) => Promise<unknown>;
    methods[name] = (url: unknown, init: unknown) => withFollowedSignal(init, (followed) => send(url, followed));
  }
  const request = methods.request as (method: unknown, url: unknown, init: unknown) => Promise<unknown>;
  methods.request = (method: unknown, url: unknown, init: unknown) => withFollowedSignal(init, (followed) => request(method, url, followed));
  const extended = client as SnapEngageClient;
  Object.defineProperty(extended, 'baseUrl', { value: baseUrl, enumerable: true });
  extended.iteratePages = ((path: string, init: PageInit = {}, paging: PagingOptions = {}) =>
    iteratePages(client, baseUrl, path, init, paging)) as SnapEngageClient['iteratePages'];
  extended.iterateLogs = (args) => iterateLogs(client, baseUrl, args);
  return extended;
}

/** Connection settings from environment variables; unset or empty variables are left out. */
export function credentialsFromEnv(
  env: Record<string, string | undefined> = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {},
): Pick<SnapEngageClientOptions, 'baseUrl' | CredentialOption> {
  const pick = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value ? value : undefined;
  };
  const out: Record<string, string> = {};
  const baseUrl = pick('SNAPENGAGE_BASE_URL');
  if (baseUrl) out.baseUrl = baseUrl;
  // Each security scheme of the spec names its client option and env var.
  for (const scheme of Object.values(securitySchemes)) {
    const value = pick(scheme.env);
    if (value) out[scheme.option] = value;
  }
  return out as Pick<SnapEngageClientOptions, 'baseUrl' | CredentialOption>;
}

/**
 * The data type of a result's success branch, as openapi-fetch types it from the spec: it includes `undefined` only
 * when a success response of the operation may have no body (a 204, or a 2xx the spec gives no content). A result
 * typed loosely (`{ data?: unknown }`) gives its data type without `undefined`.
 */
export type UnwrappedData<R extends { data?: unknown }> = [SuccessData<R>] extends [never] ? Exclude<R['data'], undefined> : SuccessData<R>;
type SuccessData<R> = R extends { data: infer D } ? D : never;

/**
 * The data of a `client.GET(...)` result, or a SnapEngageError for an HTTP error status (401 → `auth`,
 * 404 → `not_found`, 429 → `rate_limited`, 5xx → `server`, other 4xx → `bad_request`), and `invalid_response` for a
 * 2xx without a body (data undefined) when the operation's spec promises one.
 */
export function unwrap<R extends { data?: unknown; error?: unknown; response: Response }>(result: R, operation?: string): UnwrappedData<R> {
  if (!result.response.ok) throw errorForResponse(result.response, operation);
  // Only where a spec operation promises a body: a path or method outside the spec (sent by HTTP semantics) has no
  // promise, and its 204 is an answer. A response without the client's meta (an app's stub) counts as promised.
  const op = metaOf(result.response)?.op;
  if (result.data === undefined && !(op && (op.info === undefined || op.info.emptySuccess))) throw errorForEmptyBody(result.response, operation);
  return result.data as UnwrappedData<R>;
}
