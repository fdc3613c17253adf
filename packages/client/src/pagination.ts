// Next-URL pagination. Each page after the first is sent through client.GET with the same path template,
// so it gets the same operation, credentials, retries and timeout; only its URL is replaced by the next
// link. The link must stay on the configured origin (credentials never go to another host), a link seen
// before or too many pages stop the loop with an error instead of spinning forever.
import type { Client } from 'openapi-fetch';
import type { components, paths } from '../../../generated/openapi.js';
// resourcePaging, not resources: the latter carries the loader's record schemas into every app that bundles the client.
import { nextLinkField, resourcePaging, type ResourcePaths } from '../../../generated/catalog.js';
import { CREDENTIAL_QUERY_PARAMS } from './auth.js';
import type { CallOverrides } from './call-options.js';
import { SnapEngageError } from './errors.js';
import { metaOf, overrideUrl } from './call-meta.js';
import { errorForResponse, formatMessage } from './response-errors.js';

export interface PageInit extends CallOverrides {
  params?: { path?: Record<string, unknown>; query?: Record<string, unknown> } | undefined;
  signal?: AbortSignal | undefined;
}

export interface PagingOptions {
  /** Dot path of the next-page link in the body; default `linkToNextSetOfResults`; null = a single page. */
  nextUrlPath?: string | null | undefined;
  /** Safety cap; default the catalog's maxPages for the path, else 100000. */
  maxPages?: number | undefined;
}

/** Paths of the spec that have a GET operation (the only ones a paginator follows). */
export type GetPath = { [P in keyof paths]: paths[P]['get'] extends undefined ? never : P }[keyof paths];

type GetOperation<P extends GetPath> = NonNullable<paths[P]['get']>;

/** The JSON body of a GET path's 200 response, as the spec declares it. */
export type PageData<P extends GetPath> = GetOperation<P> extends { responses: { 200: { content: { 'application/json': infer D } } } } ? D : unknown;

/** Parameters of a GET path's first page, typed by the spec (later pages follow the next link). */
export interface TypedPageInit<P extends GetPath> extends CallOverrides {
  params: Pick<GetOperation<P>['parameters'], 'path' | 'query'>;
  signal?: AbortSignal | undefined;
}

export interface PageResult<D = unknown> {
  data: D;
  response: Response;
  /** Redacted URL of the page. */
  url: string;
  pageIndex: number;
  /**
   * Read as a single page (nextUrlPath null), yet the body links a next page under the API's convention (the catalog's
   * next-link field): data was left unread. A spec that calls a paged endpoint `single_page` shows up here. Always
   * set by iteratePages; optional so that pages an app builds itself (a test double) need not carry it.
   */
  unfollowedNextLink?: boolean | undefined;
}

export interface IterateLogsArgs extends CallOverrides {
  orgId: string;
  /** One widget id: the Logs API paginates only single-widget queries. */
  widgetId: string;
  /** YYYY-MM-DD */
  start: string;
  /** YYYY-MM-DD, inclusive. */
  end: string;
  /** IANA zone the dates are read in; API default Etc/UTC. */
  timezone?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Stop with an error after this many pages (an integer >= 1); default the catalog's cap for the logs path. */
  maxPages?: number | undefined;
}

type Case = components['schemas']['Case'];
/** The Logs API operation as the spec declares it: iterateLogs sends its parameters by name, so a rename fails here. */
type LogsOperation = NonNullable<paths[ResourcePaths['logs']]['get']>;
type AnyClient = Client<paths>;
type LooseGet = (path: string, init: Record<string, unknown>) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

const DEFAULT_MAX_PAGES = 100_000;

function valueAt(data: unknown, dotPath: string): unknown {
  let current = data;
  for (const key of dotPath.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function isPlainObject(value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** The API's next-link convention: the first next_url paginator of the catalog. */
function conventionalPaginator() {
  const paginator = Object.values(resourcePaging).find((r) => r.paginator.type === 'next_url')?.paginator;
  return paginator?.type === 'next_url' ? paginator : undefined;
}

/** The catalog's paginator for a path; paths it does not know follow the API's next-link convention. */
function catalogPaging(path: string): { nextUrlPath: string | null; maxPages: number } {
  const paginator = Object.values(resourcePaging).find((r) => r.path === path)?.paginator ?? conventionalPaginator();
  if (paginator?.type !== 'next_url') return { nextUrlPath: null, maxPages: DEFAULT_MAX_PAGES };
  return { nextUrlPath: paginator.nextUrlPath, maxPages: paginator.maxPages ?? DEFAULT_MAX_PAGES };
}

/** A non-empty next link under the API's convention in a page read as a single page. */
function linksNextPage(data: unknown): boolean {
  // The spec's own next-link field first: the edit that made a paged endpoint single_page may have been its last paginator.
  const field = nextLinkField ?? conventionalPaginator()?.nextUrlPath;
  const link = field === undefined ? undefined : valueAt(data, field);
  return typeof link === 'string' && link !== '';
}

/** The URL without its credential query parameters (they are not part of a page); undefined when it does not parse. */
function withoutCredentials(url: string): URL | undefined {
  try {
    const parsed = new URL(url);
    for (const name of CREDENTIAL_QUERY_PARAMS) parsed.searchParams.delete(name);
    return parsed;
  } catch {
    return undefined;
  }
}

/**
 * A page's identity for loop detection: the URL without fragment (never sent) or credentials, query parameters
 * sorted (their order does not make another page).
 */
function pageKey(url: string): string {
  const parsed = withoutCredentials(url);
  if (!parsed) return url;
  parsed.hash = '';
  parsed.searchParams.sort();
  return parsed.toString();
}

/** The page's URL as a base for a relative next link: the logged URL without its (masked) credential parameters. */
function pageBase(loggedUrl: string, fallback: string): string {
  return withoutCredentials(loggedUrl)?.toString() ?? fallback;
}

function pagingError(operation: string, url: string, detail: string, status?: number): SnapEngageError {
  return new SnapEngageError({ kind: 'invalid_response', operation, url, message: formatMessage(operation, detail, { retries: 0, url }), ...(status !== undefined ? { status } : {}) });
}

/**
 * A next link to the configured https host over plain http (an API behind a TLS-terminating balancer that builds its
 * links from the request it saw) is followed over https: the same host, still encrypted. Refused, the error told users
 * to set an http:// base URL, which would send the credential unencrypted. Nothing else is rewritten.
 */
export function upgradedToHttps(link: URL, origin: string): URL {
  const configured = new URL(origin);
  // Default ports only: http://host:80 is https://host:443's plain twin; other ports may be other servers.
  if (configured.protocol !== 'https:' || configured.port !== '' || link.protocol !== 'http:' || link.hostname !== configured.hostname || link.port !== '') return link;
  const upgraded = new URL(link);
  upgraded.protocol = 'https:';
  return upgraded;
}

/** The signal, maxRetries and timeoutMs of a paginator's call, given to every page's client.GET. */
function callInit(init: PageInit): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ['signal', 'maxRetries', 'timeoutMs'] as const) if (init[key] !== undefined) out[key] = init[key];
  return out;
}

export async function* iteratePages(client: AnyClient, baseUrl: string, path: string, init: PageInit, paging: PagingOptions): AsyncGenerator<PageResult> {
  const operation = `GET ${path}`;
  const defaults = catalogPaging(path);
  const nextUrlPath = paging.nextUrlPath === undefined ? defaults.nextUrlPath : paging.nextUrlPath;
  const maxPages = paging.maxPages ?? defaults.maxPages;
  // Checked before the first request: with 0, a negative or NaN cap the loop never ran, and the error said the API
  // "still links a next page" though nothing had been fetched; a fraction allowed one page more than it said.
  if (!Number.isInteger(maxPages) || maxPages < 1) {
    throw new SnapEngageError({ kind: 'config', operation, url: '', message: `${operation}: maxPages must be an integer >= 1, got ${String(maxPages)}` });
  }
  const origin = new URL(baseUrl).origin;
  const seen = new Set<string>();
  const get = client.GET as unknown as LooseGet;
  let nextUrl: string | undefined;
  let lastUrl = '';
  for (let pageIndex = 0; pageIndex < maxPages; pageIndex++) {
    // A fresh params object per page: the URL override is keyed on it.
    const params = { path: init.params?.path ?? {}, query: pageIndex === 0 ? (init.params?.query ?? {}) : {} };
    if (nextUrl !== undefined) overrideUrl(params, nextUrl);
    const result = await get(path, { params, ...callInit(init) });
    if (!result.response.ok) throw errorForResponse(result.response, operation);
    const meta = metaOf(result.response);
    const url = meta?.url ?? '';
    lastUrl = url;
    // openapi-fetch answers an empty 2xx body with data undefined (and JSON null is null), but a page's data is typed
    // as the spec's 200 body: yielded, the app's own `data.cases` threw a TypeError instead of a SnapEngageError.
    if (result.data === undefined || result.data === null) {
      throw pagingError(operation, url, `page ${pageIndex} has no body (HTTP ${result.response.status} with ${result.data === null ? 'the JSON null' : 'an empty body'})`, result.response.status);
    }
    // Every fetched page counts, the first one included (its URL is built from params, not from a link), as it was
    // asked for and as it was sent: an app middleware may have changed the URL (a parameter added), and a link back
    // to the page is the URL without that change.
    if (url !== '') seen.add(pageKey(url));
    if (meta?.requestedUrl) seen.add(pageKey(meta.requestedUrl));
    yield { data: result.data, response: result.response, url, pageIndex, unfollowedNextLink: nextUrlPath === null && linksNextPage(result.data) };
    if (nextUrlPath === null) return;
    const link = valueAt(result.data, nextUrlPath);
    if (link === undefined || link === null || link === '') return;
    if (typeof link !== 'string') throw pagingError(operation, url, `${nextUrlPath} is ${typeof link}, expected a URL string`);
    let resolved: URL;
    try {
      // A relative link is relative to the page that carried it (RFC 3986), not to baseUrl.
      resolved = new URL(link, nextUrl ?? pageBase(url, baseUrl));
    } catch {
      throw pagingError(operation, url, `${nextUrlPath} is not a URL`);
    }
    resolved = upgradedToHttps(resolved, origin);
    if (resolved.origin !== origin) {
      throw pagingError(operation, url, `the next link points to ${resolved.origin}, not the configured ${origin}; credentials are never sent to another host (set baseUrl to ${resolved.origin} if the API moved there)`);
    }
    if (resolved.username !== '' || resolved.password !== '') {
      throw pagingError(operation, url, `the next link carries a user or password; it is not followed (credentials come from the client options only)`);
    }
    const key = resolved.toString();
    if (seen.has(pageKey(key))) {
      throw pagingError(operation, url, `the next link repeats a page already fetched (page ${pageIndex + 1}); stopping instead of looping`);
    }
    nextUrl = key;
  }
  throw pagingError(operation, lastUrl, `stopped after maxPages=${maxPages} pages and the API still links a next page; raise maxPages if the data really is that large`);
}

export async function* iterateLogs(client: AnyClient, baseUrl: string, args: IterateLogsArgs): AsyncGenerator<Case> {
  const operation = `GET ${resourcePaging.logs.path}`;
  for (const field of ['orgId', 'widgetId', 'start', 'end'] as const) {
    if (typeof args[field] !== 'string' || args[field].trim() === '') {
      throw new SnapEngageError({ kind: 'config', operation, url: '', message: `${operation}: iterateLogs needs ${field} (a non-empty string)` });
    }
  }
  if (args.widgetId.includes(',')) {
    throw new SnapEngageError({
      kind: 'config',
      operation,
      url: '',
      message: `${operation}: iterateLogs takes one widgetId (the Logs API paginates only single-widget queries); call it once per widget`,
    });
  }
  const query: LogsOperation['parameters']['query'] = { widgetId: args.widgetId, start: args.start, end: args.end };
  if (args.timezone) query.timezone = args.timezone;
  const path: LogsOperation['parameters']['path'] = { orgId: args.orgId };
  const logs = resourcePaging.logs;
  // The cap is the app's too: without it, iterateLogs alone could be bounded only by the catalog's 100000 pages.
  const paging: PagingOptions = args.maxPages === undefined ? {} : { maxPages: args.maxPages };
  const { signal, maxRetries, timeoutMs } = args;
  const pages = iteratePages(client, baseUrl, logs.path, { params: { path, query }, ...callInit({ signal, maxRetries, timeoutMs }) }, paging);
  for await (const page of pages) {
    const cases = valueAt(page.data, logs.dataSelector);
    // Whether the API leaves out an empty list is unknown (the docs show only pages with cases): a first page that is
    // an object without the field is no cases, as the loader reads it. A page a next link led to promised more cases,
    // so there, and for a field that is no array, the page is not understood.
    const emptyFirstPage = cases === undefined && page.pageIndex === 0 && isPlainObject(page.data);
    if (emptyFirstPage) continue;
    if (!Array.isArray(cases)) {
      throw pagingError(operation, page.url, `page ${page.pageIndex} has no "${logs.dataSelector}" array`);
    }
    yield* cases as Case[];
  }
}
