// What a call's Response carries for unwrap() and the paginator (operation, redacted URL, retries, the server's
// words), and the outermost middleware that keeps it on whatever Response an app middleware returns. Keyed by
// objects openapi-fetch makes per call (`options`, `params`), so nothing outlives the call.
import type { Middleware } from 'openapi-fetch';
import type { OperationRef } from './auth.js';

/** What the client knows about a response it returned; read by unwrap() and the paginator. */
export interface ResponseMeta {
  op: OperationRef;
  url: string;
  retries: number;
  requestId?: string;
  bodyExcerpt?: string;
  /** The error status's reason phrase, redacted. */
  statusText?: string;
  /** The call's URL before any app middleware changed it (the paginator's loop guard knows pages by it too). */
  requestedUrl?: string;
}

const responseMeta = new WeakMap<Response, ResponseMeta>();

export function setMeta(response: Response, meta: ResponseMeta): void {
  responseMeta.set(response, meta);
}
/** Absolute URLs (next-page links) that replace the URL openapi-fetch built, keyed by the call's params object. */
const urlOverrides = new WeakMap<object, string>();

export function metaOf(response: Response): ResponseMeta | undefined {
  return responseMeta.get(response);
}

/** The meta of each call's final response, by the call's `options`: an app's onResponse may hand back another Response. */
const callMeta = new WeakMap<object, ResponseMeta>();

/** Remembers the meta of the Response the transport returned for the call with these `options`. */
export function rememberCallMeta(options: object, meta: ResponseMeta): void {
  callMeta.set(options, meta);
}
/** Each call's URL as the outermost middleware saw it, by the call's `options`. */
const requestedUrls = new WeakMap<object, string>();
/** Each call's request as openapi-fetch made it (its signal follows the caller's), by the call's `options`. */
const originalRequests = new WeakMap<object, Request>();

export function originalRequestOf(options: object): Request | undefined {
  return originalRequests.get(options);
}

/**
 * The outermost middleware. Its onRequest puts a page's next link (see overrideUrl) on the request before any app
 * middleware sees it: applied by the innermost transport, an app's onRequest saw the path without its query on every
 * page after the first, and what it changed in the URL was dropped. Its onResponse makes the Response a call returns
 * carry the meta of the one the transport returned, even when an app middleware replaced it
 * (`new Response(response.body, response)`). Without it the paginator lost the page's URL (relative links went to
 * baseUrl, the loop guard saw nothing) and errors lost their body excerpt and request id.
 */
export const keepResponseMeta: Middleware = {
  onRequest({ request, params, options }) {
    originalRequests.set(options, request);
    const url = urlOverrides.get(params);
    requestedUrls.set(options, url ?? request.url);
    // Pages are GETs: the request has no body to carry over.
    return url === undefined ? undefined : new Request(url, request);
  },
  onResponse({ response, options }) {
    const meta = callMeta.get(options);
    if (meta && !responseMeta.has(response)) responseMeta.set(response, meta);
    const own = responseMeta.get(response);
    if (own) own.requestedUrl = requestedUrls.get(options);
    return undefined;
  },
};

/** Makes the call that passes this exact params object go to `url` instead (same operation, same middleware). */
export function overrideUrl(params: object, url: string): void {
  urlOverrides.set(params, url);
}
