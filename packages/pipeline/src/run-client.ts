// The SnapEngage client a run extracts through: the run's proactive rate limit in front of every attempt, its proxy,
// its request log, and the client's option errors as one config line; and the proxy named in a request's failure.
import { createSnapEngageClient, parseRetryAfter, SnapEngageError } from 'snapengage-client';
import { clientNumberOptions, connectionSettingsError } from './connection-settings.js';
import { ExtractError, firstLine, type PipelineError } from './errors.js';
import type { PageSource } from './extract.js';
import type { TokenBucket } from './limits.js';
import type { Plan } from './plan.js';
import { proxiedFetch, proxyVarFor, type ProxySettings } from './proxy.js';
import type { RequestEvent, RunOptions } from './run.js';
import { LOADER_VERSION } from './version.js';

export function makeClient(plan: Plan, options: RunOptions, signal: AbortSignal, bucket: TokenBucket, proxy: ProxySettings | undefined, countRequest: (event: RequestEvent) => void): PageSource {
  const baseFetch = options.fetch ?? (proxy ? proxiedFetch(proxy) : (request: Request) => globalThis.fetch(request));
  // Every request, retries included, takes a token first (beforeAttempt, so that the wait is not part of the attempt's
  // timeoutMs): the limit is proactive, not only a reaction to 429s. A 429 slows the bucket for every request
  // (limits.ts), not only the one the client retries.
  const limitedFetch = async (request: Request): Promise<Response> => {
    // The same request again is a retry (method and URL: each page and case has its own), see limits.ts refusedAgain.
    const key = `${request.method} ${request.url}`;
    const response = await baseFetch(request);
    if (response.status === 429) bucket.throttled(parseRetryAfter(response.headers.get('retry-after'), Date.now()), key);
    else bucket.answered(key);
    return response;
  };
  const client = connectClient({
    baseUrl: plan.connection.baseUrl,
    ...plan.credentials,
    ...clientNumberOptions(plan.connection),
    fetch: limitedFetch,
    // An integer beyond ±2^53 in an undeclared field is a BigInt, not a rounded double: stored exact, in BIGINT within
    // its range, as text beyond (NORMALIZATION.md, Types). A page without one costs a walk of the parsed page.
    largeIntegers: 'bigint',
    beforeAttempt: (attemptSignal) => bucket.take(attemptSignal),
    userAgent: `snapengage-pipeline/${LOADER_VERSION} node/${process.versions.node}`,
    signal,
    logger: {
      request(event: RequestEvent) {
        countRequest(event);
        options.onRequest?.(event);
      },
      warn(message: string) {
        options.warn?.(firstLine(message));
      },
    },
  }, plan.credentials);
  return client as unknown as PageSource;
}

/** A request that could not get through names the proxy it went to: "check SNAPENGAGE_BASE_URL" alone sent users behind one to the wrong setting. */
export function withProxyHint(error: PipelineError, proxy: ProxySettings | undefined): PipelineError {
  const url = error.cause instanceof SnapEngageError ? error.cause.url : undefined;
  const variable = error instanceof ExtractError && error.kind === 'network' ? proxyVarFor(proxy, url) : undefined;
  if (!variable || !(error instanceof ExtractError)) return error;
  return new ExtractError(`${error.message}; requests go through the proxy in ${variable}: check it (NO_PROXY lists hosts that go direct)`, error.resource, error.kind, { cause: error.cause });
}

/** The client, its option errors as one config line (planPipeline checked the same options before). */
function connectClient(options: Parameters<typeof createSnapEngageClient>[0], credentials: Record<string, string>): ReturnType<typeof createSnapEngageClient> {
  try {
    return createSnapEngageClient(options);
  } catch (error) {
    throw connectionSettingsError(error, credentials);
  }
}

