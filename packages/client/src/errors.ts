// The one error class of the client. Every field is safe to log: URLs are redacted, bodies are cut and
// scrubbed of known secrets, request headers are never kept, and the raw cause (which may quote a URL)
// is reduced to a redacted one-line summary. The one `cause` kept is an abort's: the caller's own
// `signal.reason`, the app's object (it is in neither the message nor toJSON).

export type SnapEngageErrorKind =
  | 'auth'
  | 'not_found'
  | 'rate_limited'
  | 'server'
  | 'bad_request'
  | 'network'
  | 'timeout'
  | 'aborted'
  | 'invalid_response'
  | 'config';

/**
 * Why an `invalid_response` error is a body over `maxResponseBytes`: set by the client itself, never read from the
 * message (whose text quotes the server's, which could say anything). `announcedLength`: the Content-Length that
 * announced the body when it was refused unread; `contentEncoding`: the encoding it was decoded from (the server's
 * header, printable), when it was read until it passed the limit.
 */
export interface ResponseTooLarge {
  /** The maxResponseBytes in force, in bytes. */
  limit: number;
  announcedLength?: number;
  contentEncoding?: string;
}

/**
 * `1 MiB, after gzip decoding`: the limit in MiB (KiB, bytes: a limit under 1 MiB read "0 MiB" in MiB alone) and how
 * the body was found over it, as the client's message says it and the loader's repeats it.
 */
export function describeResponseTooLarge({ limit, announcedLength, contentEncoding }: ResponseTooLarge): string {
  const size = limit >= 1024 * 1024 ? `${+(limit / 1024 / 1024).toFixed(2)} MiB` : limit >= 1024 ? `${+(limit / 1024).toFixed(2)} KiB` : `${limit} bytes`;
  const how = announcedLength !== undefined ? `Content-Length ${announcedLength}` : contentEncoding !== undefined ? `after ${contentEncoding} decoding` : 'read so far';
  return `${size}, ${how}`;
}

/** What SnapEngageError's constructor takes (an app's test double can build one the client would throw). */
export interface SnapEngageErrorInit {
  kind: SnapEngageErrorKind;
  /** One line saying what went wrong and how to fix it; must already be redacted. */
  message: string;
  operation: string;
  url: string;
  status?: number;
  requestId?: string;
  bodyExcerpt?: string;
  retries?: number;
  /** Redacted summary of the underlying error (e.g. `ECONNREFUSED`), never the raw error object. */
  causeSummary?: string;
  /** Only for a body over maxResponseBytes (kind `invalid_response`). */
  responseTooLarge?: ResponseTooLarge;
  /**
   * Only for kind `aborted`: the aborting signal's `reason`, the app's own value. Kept as the standard `cause`;
   * never a raw error of the transport (it may quote a URL with credentials).
   */
  cause?: unknown;
}

/**
 * Marks the client's errors across copies of this package: an app whose dependencies install two versions gets
 * errors made by the other copy's class, which a plain `instanceof` would not recognise.
 */
const BRAND = Symbol.for('snapengage-client.SnapEngageError');

/** The error every failed call of the client rejects with; `kind` says what went wrong (SnapEngageErrorKind). */
export class SnapEngageError extends Error {
  /** `instanceof SnapEngageError` holds for errors of any installed copy of the client (see BRAND). */
  static [Symbol.hasInstance](this: unknown, value: unknown): boolean {
    // Inherited by an app's own subclass, for which instanceof keeps its usual meaning (otherwise every
    // SnapEngageError would count as one of its instances).
    if (this !== SnapEngageError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  override readonly name = 'SnapEngageError';
  readonly kind: SnapEngageErrorKind;
  readonly status?: number;
  /** Method and path template, e.g. `GET /api/v2/{orgId}/logs`. */
  readonly operation: string;
  readonly requestId?: string;
  /** Request URL with credentials masked. */
  readonly url: string;
  readonly bodyExcerpt?: string;
  /** How many times the request was re-sent before giving up. */
  readonly retries: number;
  readonly causeSummary?: string;
  /** Set only when the call failed because a body was over maxResponseBytes (kind `invalid_response`). */
  readonly responseTooLarge?: Readonly<ResponseTooLarge>;

  constructor(init: SnapEngageErrorInit) {
    // `cause` is set only when given (as Error does), so `'cause' in error` says whether there is one.
    super(init.message, 'cause' in init ? { cause: init.cause } : undefined);
    Object.defineProperty(this, BRAND, { value: true });
    this.kind = init.kind;
    this.operation = init.operation;
    this.url = init.url;
    this.retries = init.retries ?? 0;
    if (init.status !== undefined) this.status = init.status;
    if (init.requestId !== undefined) this.requestId = init.requestId;
    if (init.bodyExcerpt !== undefined) this.bodyExcerpt = init.bodyExcerpt;
    if (init.causeSummary !== undefined) this.causeSummary = init.causeSummary;
    if (init.responseTooLarge !== undefined) this.responseTooLarge = Object.freeze({ ...init.responseTooLarge });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      status: this.status,
      operation: this.operation,
      requestId: this.requestId,
      url: this.url,
      bodyExcerpt: this.bodyExcerpt,
      retries: this.retries,
      causeSummary: this.causeSummary,
      responseTooLarge: this.responseTooLarge,
    };
  }
}

/** Whether a value is an error of this client, made by this or any other installed copy of it. */
export function isSnapEngageError(value: unknown): value is SnapEngageError {
  return value instanceof SnapEngageError;
}

/** Kind of an HTTP error status. */
export function kindForStatus(status: number): SnapEngageErrorKind {
  if (status === 401 || status === 403) return 'auth';
  if (status === 404 || status === 410) return 'not_found';
  if (status === 429) return 'rate_limited';
  if (status === 408) return 'timeout';
  if (status >= 500) return 'server';
  if (status >= 400) return 'bad_request';
  return 'invalid_response';
}

const BODY_EXCERPT_CHARS = 300;

/**
 * Control characters (C0, DEL, C1), bidi marks (ALM, LRM, RLM), embeddings, overrides and isolates, and invisible
 * format characters (zero-width space and joiners, word joiner and invisible operators, BOM, line and paragraph
 * separators), written as `\uXXXX` as a JSON body shows them: a server's (or a captive portal's) text goes into
 * messages printed to terminals, where ESC sequences can write the clipboard (OSC 52) or erase the lines above, and
 * bidi controls reorder what is read or hide text (Trojan Source, CVE-2021-42574). Right-to-left letters are text.
 */
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb\u{e0000}-\u{e007f}]/gu;

/**
 * `text` with its terminal controls written as `\uXXXX` (tag characters, beyond U+FFFF, as `\u{XXXXX}`), fit to quote a
 * server in a message. Also escaped, as invisible: the soft hyphen, the Mongolian vowel separator, interlinear
 * annotation marks and tag characters (U+E0000–E007F, which can spell out hidden ASCII).
 */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** First characters of a body, on one line and without terminal controls, for error messages. */
export function excerpt(text: string): string | undefined {
  const oneLine = printable(text.replace(/\s+/g, ' ').trim());
  if (oneLine === '') return undefined;
  return oneLine.length > BODY_EXCERPT_CHARS ? `${oneLine.slice(0, BODY_EXCERPT_CHARS)}…` : oneLine;
}

/** Summary of a thrown value: its code and message (undici hides the interesting part in `cause`). */
export function describeCause(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 3 && current; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      // On one line: OpenSSL's text ends in a line break, which split the error's message before its URL.
      const message = current.message.replace(/\s+/g, ' ').trim();
      parts.push(typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message);
      current = (current as { cause?: unknown }).cause;
    } else {
      parts.push(String(current).replace(/\s+/g, ' ').trim());
      break;
    }
  }
  return parts.join(' ← ');
}

/** The error code of a thrown value or of its causes (`ECONNREFUSED`, …). */
export function causeCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
