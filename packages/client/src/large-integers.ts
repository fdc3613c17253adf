// JSON.parse reads an integer literal beyond ±2^53 as the nearest double: `9007199254740993` becomes
// 9007199254740992, silently. With `largeIntegers: 'bigint'` such a literal is a BigInt instead, every digit kept.
// Cheap on the pages that have none (all of SnapEngage's known fields): the parsed page is walked once for a number
// of 2^53 or more (each such literal parses to one), 0.07 ms on a 100-case page (250 KB) whose JSON.parse takes
// 1.1 ms; a regex for a run of 16 digits over the text took 1 ms. Only a page with such a number is scanned as text.

/** A JSON number token at a position (sticky): its integer part, and whether a fraction or exponent follows. */
const NUMBER = /-?(\d+)(\.\d+)?([eE][+-]?\d+)?/y;
/** Stands for a large literal in the rewritten text: a per-process nonce behind a NUL, which no API text carries. */
const NONCE = `${Math.random().toString(36).slice(2)}:`;
const MARKER = `\u0000${NONCE}`;
/** The marker as JSON string text (a raw NUL is not valid JSON). */
const MARKER_TEXT = `\\u0000${NONCE}`;
/** Past this depth the walk stops and says "maybe" (the text scan has no recursion): no stack overflow on deep JSON. */
const WALK_DEPTH = 200;

/**
 * JSON.parse, with integer literals beyond ±2^53 as BigInts, or with `as: 'text'` as their decimal text
 * (`"9007199254740993"`: JSON-safe, as the pipeline's dataset API gives such a BIGINT). Throws what JSON.parse throws
 * on invalid JSON.
 */
export function parseKeepingLargeIntegers(text: string, as: 'bigint' | 'text' = 'bigint'): unknown {
  const parsed: unknown = JSON.parse(text);
  if (!mayHoldLargeInteger(parsed, 0)) return parsed;
  const spans = largeIntegerSpans(text);
  if (spans.length === 0) return parsed;
  // As text, the literal only needs quotes; as a BigInt, a marker tells it from a string that has the same digits.
  const open = as === 'text' ? '"' : `"${MARKER_TEXT}`;
  let rewritten = '';
  let last = 0;
  for (const [start, end] of spans) {
    rewritten += `${text.slice(last, start)}${open}${text.slice(start, end)}"`;
    last = end;
  }
  rewritten += text.slice(last);
  const exact: unknown = JSON.parse(rewritten);
  if (as === 'text') return exact;
  return typeof exact === 'string' ? markerValue(exact) : (restoreMarkers(exact), exact);
}

function markerValue(value: string): unknown {
  return value.startsWith(MARKER) ? BigInt(value.slice(MARKER.length)) : value;
}

/**
 * Puts each marked literal back as a BigInt, in place. A walk with its own stack (any depth), not a JSON.parse reviver,
 * which made such a page 6 times slower to read than JSON.parse; with this walk the whole read of such a page (parse,
 * scan, parse again, restore) takes about 3 times as long as JSON.parse (README, "Large integers").
 */
function restoreMarkers(root: unknown): void {
  const stack: unknown[] = [root];
  // Bounded: each object or array of the parsed value is pushed once.
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (typeof node !== 'object' || node === null) continue;
    const holder = node as Record<string, unknown>;
    for (const key of Array.isArray(node) ? node.keys() : Object.keys(holder)) {
      const value = holder[key as string];
      if (typeof value === 'string') {
        if (value.startsWith(MARKER)) holder[key as string] = markerValue(value);
      } else if (typeof value === 'object' && value !== null) {
        stack.push(value);
      }
    }
  }
}

/** Whether a parsed value holds a number of magnitude 2^53 or more (or nests deeper than the walk goes). */
function mayHoldLargeInteger(value: unknown, depth: number): boolean {
  if (typeof value === 'number') return value >= 9007199254740992 || value <= -9007199254740992;
  if (typeof value !== 'object' || value === null) return false;
  if (depth > WALK_DEPTH) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (mayHoldLargeInteger(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (mayHoldLargeInteger((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
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
