// The middleware an app registered with client.use(), and openapi-fetch's onError pass over it, for a final error
// the transport finds after the headers came (in its onResponse): openapi-fetch runs onError only when its fetch
// rejects, so an app's onError never saw a connection reset mid-body, a truncated JSON body or a body timeout.
import type { Middleware, MiddlewareCallbackParams } from 'openapi-fetch';

/**
 * As openapi-fetch does for a rejected fetch: each app onError from the innermost out, a Response answers the call
 * (the app's onResponse handlers then see it), an Error replaces the error; none answering, the error is thrown.
 */
export async function handToAppOnError(middleware: readonly Middleware[], params: MiddlewareCallbackParams, error: unknown): Promise<Response> {
  let current = error;
  // Bounded by the app's middleware, a copy: an onError that calls use() or eject() changes no pass in flight.
  const handlers = [...middleware].reverse();
  for (const m of handlers) {
    if (typeof m.onError !== 'function') continue;
    const result = await m.onError({ ...params, error: current });
    if (!result) continue;
    if (result instanceof Response) return result;
    if (result instanceof Error) {
      current = result;
      continue;
    }
    throw new Error('onError: must return new Response() or instance of Error');
  }
  throw current;
}
