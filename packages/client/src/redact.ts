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
  /** One pattern per secret, longest secret first, so a secret that contains another one is hidden whole. */
  private readonly patterns: RegExp[];

  constructor(secrets: ReadonlyArray<string | undefined>) {
    // Trimmed: a token read from a file may end in a newline that the Headers API strips when sending; the trimmed
    // value is what goes out, and hiding it hides the untrimmed one too.
    const values = secrets.filter((s): s is string => typeof s === 'string').map((s) => s.trim()).filter((s) => s.length >= MIN_SECRET_LENGTH);
    this.patterns = [...new Set(values)].sort((a, b) => b.length - a.length).map(secretPattern);
  }

  /**
   * Replaces every known secret value in free text, however a server wrote it back: raw, percent-encoded (either hex
   * case, `+` for a space, or only partly: a server that decodes a query without turning `+` into a space), or
   * escaped in a JSON string (`\"`, `\\`, `\/`, `\u003d`). Email addresses keep their first letter and domain.
   */
  text(value: string): string {
    let out = value;
    for (const pattern of this.patterns) out = out.replace(pattern, MASK);
    return reduceEmails(out);
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
 * Each character of a secret as it may appear in echoed text: itself, its UTF-8 bytes percent-encoded, `+` for a
 * space, or a JSON string escape. A character per group (a run of backslashes per group), so a mix of forms (a partly
 * encoded value) matches too.
 */
function secretPattern(secret: string): RegExp {
  const anyCase = (hex: string) => hex.replace(/[a-f]/gi, (d) => `[${d.toUpperCase()}${d.toLowerCase()}]`);
  // A run of n backslashes is one group: each is 1 text backslash raw or 2 JSON-escaped, so the run is n to 2n of
  // them (or %5C / \u005C). Per character, the two readings of every backslash would make a near-miss (a long
  // backslash run not followed by the secret's rest) backtrack through 2^n combinations: seconds for n = 25.
  const runs = secret.match(/\\+|[^\\]/gu) ?? [];
  const groups = runs.map((run) => {
    if (run.startsWith('\\')) return `(?:\\\\|%5[Cc]|\\\\u005[Cc]){${run.length},${2 * run.length}}`;
    const ch = run;
    const forms = [ch.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')];
    forms.push([...new TextEncoder().encode(ch)].map((b) => `%${anyCase(b.toString(16).padStart(2, '0'))}`).join(''));
    // JSON escapes: \uXXXX for each UTF-16 unit (Gson writes `=` as \u003d), and the short ones for " and /.
    forms.push(Array.from({ length: ch.length }, (_, i) => ch.charCodeAt(i)).map((u) => `\\\\u${anyCase(u.toString(16).padStart(4, '0'))}`).join(''));
    if (ch === '"' || ch === '/') forms.push(`\\\\\\${ch}`);
    if (ch === ' ') forms.push('\\+');
    return `(?:${forms.join('|')})`;
  });
  return new RegExp(groups.join(''), 'g');
}

/**
 * An email address, raw or with its `@` percent-encoded: the Provisioning API takes the account's email in the query
 * string, and a server may quote it back. Verbose logs and error messages get pasted into issues and CI logs.
 * The lookbehind starts a match only where a run of local-part characters starts: without it, a long run with no `@`
 * (a base64 blob in an error body) would be rescanned from each of its characters, quadratic in its length.
 * A run may begin with dots (`...bob@corp.example`, `.bob@…` after a sentence): they are kept, and the address after
 * them reduced; the lookbehind would otherwise forbid every later start in that run, leaving the address whole.
 */
const EMAIL = /(?<![A-Za-z0-9._%+-])(\.*)([A-Za-z0-9_%+-])[A-Za-z0-9._%+-]*?(@|%40)([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/gi;

/**
 * The addresses the spec tells users to write to for a key (`howToGet`, quoted in the error for a refused key): public,
 * and useless reduced to `s***@snapengage.com`.
 */
const PUBLIC_ADDRESSES = new Set(
  Object.values(securitySchemes).flatMap((s) => [...s.howToGet.matchAll(EMAIL)].map((m) => m[0].replace(/^\.+/, '').toLowerCase())),
);

/** `bob.smith@corp.example` → `b***@corp.example`. */
function reduceEmails(text: string): string {
  return text.replace(EMAIL, (match: string, dots: string, first: string, at: string, domain: string) =>
    at === '@' && PUBLIC_ADDRESSES.has(match.slice(dots.length).toLowerCase()) ? match : `${dots}${first}${MASK}${at}${domain}`);
}

/**
 * `text` with every one of `secrets` hidden, in any form a server or a library may have written it back (raw,
 * percent-encoded, JSON-escaped), and emails reduced: the client's own masking, for an app's (or the loader's) messages.
 */
export function redactSecrets(text: string, secrets: ReadonlyArray<string | undefined>): string {
  return new Redactor(secrets).text(text);
}

/**
 * redactSecrets for many texts with the same secrets: the patterns are built once, not per text. Building them is
 * most of a call's time, so masking each string of a big document (`run --json`'s windows of 4,000 widgets) one
 * redactSecrets at a time took seconds.
 */
export function secretRedactor(secrets: ReadonlyArray<string | undefined>): (text: string) => string {
  const redactor = new Redactor(secrets);
  return (text) => redactor.text(text);
}

/**
 * A URL text that may not parse, fit to echo in an error: without a user:password part (the password may hold an
 * `@`, so up to the last one), with or without the slashes after the scheme, and without a query or fragment.
 */
export function hideUrlCredentials(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/*)?[\s\S]*@/i, '$1***@').replace(/[?#][\s\S]*$/, '?…');
}
