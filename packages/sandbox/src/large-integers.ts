// Integers beyond ±2^53 in posted records, kept to the digit: JSON.parse would read `9007199254740993` as
// 9007199254740992, so a test could not make the sandbox serve what an API written in Java (a `long`) may send. A
// posted body's such literals become BigInts, and the records that hold them are written back with every digit. The
// sandbox shares no code with the client, whose reading of these numbers it tests: this is its own copy.

/** A run of 16 digits, the fewest an integer beyond 2^53 has: a body without one is parsed as it is. */
const CANDIDATE = /\d{16}/;
/** A JSON number token at a position (sticky): its integer part, and whether a fraction or exponent follows. */
const NUMBER = /-?(\d+)(\.\d+)?([eE][+-]?\d+)?/y;
/** Stands for a large literal in the rewritten text: a per-process nonce behind a NUL, which no API text carries. */
const NONCE = `${Math.random().toString(36).slice(2)}:`;
const MARKER = `\u0000${NONCE}`;
/** The marker as JSON string text (a raw NUL is not valid JSON). */
const MARKER_TEXT = `\\u0000${NONCE}`;

/** JSON.parse, with integer literals beyond ±2^53 as BigInts. Throws what JSON.parse throws on invalid JSON. */
export function parseKeepingLargeIntegers(text: string): unknown {
  if (!CANDIDATE.test(text)) return JSON.parse(text);
  const spans = largeIntegerSpans(text);
  if (spans.length === 0) return JSON.parse(text);
  let rewritten = '';
  let last = 0;
  for (const [start, end] of spans) {
    rewritten += `${text.slice(last, start)}"${MARKER_TEXT}${text.slice(start, end)}"`;
    last = end;
  }
  rewritten += text.slice(last);
  try {
    return JSON.parse(rewritten, (_key, value: unknown) =>
      typeof value === 'string' && value.startsWith(MARKER) ? BigInt(value.slice(MARKER.length)) : value);
  } catch {
    // Invalid JSON: JSON.parse's own error, about the text as it came.
    return JSON.parse(text);
  }
}

/**
 * Start and end of each integer literal outside strings whose value is not a safe integer. Invalid JSON is not
 * judged here (JSON.parse does that): the scan only has to skip strings, whose digits are text. Bounded: each step
 * moves past at least one character.
 */
function largeIntegerSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = stringEnd(text, i);
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) {
        i++;
        continue;
      }
      const end = i + m[0].length;
      if (m[2] === undefined && m[3] === undefined && m[1]!.length >= 16 && !Number.isSafeInteger(Number(m[0]))) spans.push([i, end]);
      i = end;
    } else {
      i++;
    }
  }
  return spans;
}

/** The index after the string that starts at `start` (a quote), past escaped quotes; the text's end if unclosed. */
function stringEnd(text: string, start: number): number {
  for (let i = text.indexOf('"', start + 1); i !== -1; i = text.indexOf('"', i + 1)) {
    let backslashes = 0;
    while (text.charCodeAt(i - 1 - backslashes) === 0x5c) backslashes++;
    if (backslashes % 2 === 0) return i + 1;
  }
  return text.length;
}

/** JSON.stringify, writing a BigInt as its digits (JSON.stringify throws on one). The plain call first: the hot path. */
export function stringifyKeepingLargeIntegers(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/.test(error.message)) throw error;
  }
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${MARKER}${v.toString()}` : v))
    .replace(MARKED_TEXT, '$1');
}

/** A marked BigInt as stringify writes it: a JSON string holding the marker (its NUL escaped) and the digits. */
const MARKED_TEXT = new RegExp(`"\\\\u0000${NONCE}(-?\\d+)"`, 'g');
