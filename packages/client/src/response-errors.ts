// The typed error of an HTTP error response, and the one-line message format every client error shares.
import { credentialHint } from './auth.js';
import { metaOf } from './call-meta.js';
import { SnapEngageError, kindForStatus, printable, type SnapEngageErrorKind } from './errors.js';

export function formatMessage(operation: string, detail: string, extra: { requestId?: string; retries: number; url: string }): string {
  const parts = [`${operation}: ${detail}`];
  if (extra.retries > 0) parts.push(`after ${extra.retries} ${extra.retries === 1 ? 'retry' : 'retries'}`);
  if (extra.requestId) parts.push(`request id ${extra.requestId}`);
  if (extra.url) parts.push(extra.url);
  return parts.join(' | ');
}

/** Names the operation's own path parameters (from its path template) in the 404 hint. */
function notFoundHint(operation: string): string {
  const params = [...operation.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  return params.length > 0 ? `check the path parameters (${params.join(', ')}) and query values` : 'check the query values';
}

/** The typed error of an HTTP error response the client returned. */
export function errorForResponse(response: Response, fallbackOperation: string | undefined): SnapEngageError {
  const meta = metaOf(response);
  const status = response.status;
  const kind = kindForStatus(status);
  const operation = meta?.op.label ?? fallbackOperation ?? 'request';
  const url = meta?.url ?? '';
  const hints: Partial<Record<SnapEngageErrorKind, string>> = {
    auth: meta ? credentialHint(meta.op) : 'check the credential',
    not_found: notFoundHint(operation),
    // An operation that is never replayed (it could act twice) got no retry, whatever maxRetries says.
    rate_limited: meta && !meta.op.idempotent
      ? `rate limited: ${operation} is never retried (a replay could act twice); wait, then call it again`
      : 'rate limited: lower the request rate or raise maxRetries',
    server: 'server error: try again later',
    bad_request: 'check the parameters against the spec',
  };
  // The transport's redacted copy: the status line is the server's text.
  const statusText = meta ? meta.statusText : printable(response.statusText);
  const detail = [`HTTP ${status}${statusText ? ` ${statusText}` : ''} (${kind})`, hints[kind], meta?.bodyExcerpt ? `body: ${meta.bodyExcerpt}` : undefined]
    .filter(Boolean)
    .join('; ');
  return responseError(kind, status, operation, url, detail, meta, true);
}

/** A SnapEngageError for a response the client returned (its meta: retries, request id, the body's redacted excerpt). */
function responseError(kind: SnapEngageErrorKind, status: number, operation: string, url: string, detail: string, meta: ReturnType<typeof metaOf>, withBody: boolean): SnapEngageError {
  return new SnapEngageError({
    kind,
    status,
    operation,
    url,
    retries: meta?.retries ?? 0,
    message: formatMessage(operation, detail, { requestId: meta?.requestId, retries: meta?.retries ?? 0, url }),
    ...(meta?.requestId !== undefined ? { requestId: meta.requestId } : {}),
    ...(withBody && meta?.bodyExcerpt !== undefined ? { bodyExcerpt: meta.bodyExcerpt } : {}),
  });
}

/**
 * The error of a 2xx that came without a body (openapi-fetch's data undefined: a 204, Content-Length 0, an empty or
 * blank body) for an operation whose spec promises one: unwrap() would otherwise return undefined where its type
 * says the data is there.
 */
export function errorForEmptyBody(response: Response, fallbackOperation: string | undefined): SnapEngageError {
  const meta = metaOf(response);
  const operation = meta?.op.label ?? fallbackOperation ?? 'request';
  const url = meta?.url ?? '';
  const status = response.status;
  let detail = `HTTP ${status} with no body, where the spec promises one for ${operation}: there is no data to return`;
  // A success status of start chat or create user: whatever the body, the server may have acted.
  if (meta && !meta.op.idempotent) detail += `; ${operation} may still have acted on the server (a chat started, a user created): check before calling it again`;
  return responseError('invalid_response', status, operation, url, detail, meta, false);
}
