// Redaction: credentials must never reach an error message, a log line or a thrown value. Two layers:
// URLs lose the values of credential-bearing query parameters, and any free text (server bodies, error
// causes) has every known secret value replaced, in case a server or a library echoes one back.

import { securitySchemes } from '../../../generated/catalog.js';

/** Query parameters whose values are always hidden, whatever their value: common names, and every query credential of the spec. */
const SECRET_QUERY_PARAMS = [...new Set([
  'api_key', 'apikey', 'token', 'api_token', 'access_token',
  ...Object.values(securitySchemes).filter((s) => s.in === 'query').map((s) => s.parameterName.toLowerCase()),
])];
const MASK = '***';
/** Values shorter than this are not replaced in free text: they would mangle unrelated words. */
const MIN_SECRET_LENGTH = 4;

export class Redactor {
  private readonly secrets: string[];

  constructor(secrets: ReadonlyArray<string | undefined>) {
    // Longest first, so a secret that contains another one is hidden whole.
    this.secrets = [...new Set(secrets.filter((s): s is string => typeof s === 'string' && s.length >= MIN_SECRET_LENGTH))]
      .sort((a, b) => b.length - a.length);
  }

  /** Replaces every known secret value (raw, or encoded as a URL path or a query string encodes it) in free text. */
  text(value: string): string {
    let out = value;
    for (const secret of this.secrets) {
      // A trimmed copy too: a token read from a file may end in a newline that the Headers API strips when sending.
      for (const form of new Set([secret, secret.trim(), encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2)])) {
        if (form.length >= MIN_SECRET_LENGTH) out = out.split(form).join(MASK);
      }
    }
    return out;
  }

  /** Hides credential query parameters, then any secret left in the URL text. Never throws. */
  url(value: string): string {
    let out = value;
    try {
      const parsed = new URL(value);
      for (const name of [...parsed.searchParams.keys()]) {
        if (SECRET_QUERY_PARAMS.includes(name.toLowerCase())) parsed.searchParams.set(name, MASK);
      }
      out = parsed.toString().split(encodeURIComponent(MASK)).join(MASK);
    } catch {
      // Not a URL: fall through to the free-text pass.
    }
    return this.text(out);
  }
}

/**
 * A URL text that may not parse, fit to echo in an error: without a user:password part (the password may hold an
 * `@`, so up to the last one), with or without the slashes after the scheme, and without a query or fragment.
 */
export function hideUrlCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/*)?[\s\S]*@/i, '$1***@').replace(/[?#][\s\S]*$/, '?…');
}
