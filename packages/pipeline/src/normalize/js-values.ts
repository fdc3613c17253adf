// JavaScript values that JSON cannot carry as they are (a BigInt from a `map` step or the client, a Date from a step):
// how they are staged, and how they enter the ids made of values.
import { isPlainObject } from './types.js';

/** Whether DuckDB's BIGINT holds the value. */
const inBigintRange = (value: bigint) => value >= -(2n ** 63n) && value <= 2n ** 63n - 1n;

/**
 * Values JSON cannot carry as-is, alone or as items of a list: a Date (from a `map` step) and a BigInt (a map step's,
 * or the client's reading of an integer literal beyond ±2^53, `largeIntegers: 'bigint'`). A BigInt is a number when
 * it is a safe integer; else itself when it is in BIGINT's range (a BIGINT column takes it, staged with every digit:
 * types.ts coerce), else its text.
 */
export function normalizeJsValue(value: unknown): unknown {
  if (typeof value === 'bigint') {
    if (Number.isSafeInteger(Number(value))) return Number(value);
    return inBigintRange(value) ? value : value.toString();
  }
  if (value instanceof Date) return value.toISOString();
  // A list of them is a list of numbers or texts (it had no type at all, and was left out).
  if (Array.isArray(value)) {
    for (const item of value) if (typeof item === 'bigint' || item instanceof Date) return value.map(normalizeJsValue);
  }
  return value;
}

// A BigInt inside a JSON value (a map step may put one there) is written as the number it is, digits exact: the
// replacer swaps it for a marker string no real value can equal (a per-process nonce behind a NUL), then the
// marker's quotes come off. ±Infinity and NaN go the same way (below).
const BIGINT_MARKER = `\u0000${Math.random().toString(36).slice(2)}:`;
const BIGINT_MARKER_TEXT = new RegExp(`"${JSON.stringify(BIGINT_MARKER).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+(?:e999)?|NaN)"`, 'g');

function bigintAsMarker(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return `${BIGINT_MARKER}${value.toString()}`;
  return typeof value === 'number' && !Number.isFinite(value) ? `${BIGINT_MARKER}${numberText(value)}` : value;
}

/**
 * A number's JSON text. JSON.parse reads a number beyond the double range (`1e400`, valid JSON) as ±Infinity, which
 * JSON.stringify writes as `null` (silently losing it) and String() as `Infinity` (not JSON: a JSON column holding it
 * failed every dataset read of its table). `1e999` is JSON, and DuckDB (DOUBLE, lists, JSON) and JSON.parse read it
 * back as infinity. NaN (no JSON value, only a map step can return it) stays `NaN`, which DuckDB reads into a DOUBLE
 * (or a DOUBLE list) as NaN; a JSON column cannot hold it, so the normalizer refuses it there (jsonHoldsNaN).
 */
export function numberText(value: number): string {
  if (Number.isFinite(value) || Number.isNaN(value)) return String(value);
  return value > 0 ? '1e999' : '-1e999';
}

/**
 * JSON text of a value for staging. Plain JSON.stringify first (the hot path); only a value it refuses is tried
 * again with BigInts as numbers, so a failure that is not about a BigInt (a cycle) still throws its own error. The
 * fast paths stage only values without ±Infinity (fast-path.ts), so this does not look for one.
 */
export function stringifyJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError)) throw error;
    return JSON.stringify(value, bigintAsMarker).replace(BIGINT_MARKER_TEXT, '$1');
  }
}

/**
 * As stringifyJson, keeping ±Infinity inside lists and objects as `1e999`/`-1e999`, and NaN as `NaN` (a DOUBLE list
 * holds it; a JSON column refuses it first, see jsonHoldsNaN). Either makes JSON.stringify write `null`, so only a
 * text holding one is searched for them: a value without a null pays one `includes`.
 */
export function stringifyValue(value: unknown): string {
  const text = stringifyJson(value);
  // A text (most values) holds no number: not searched, which cost a third more than its stringify (measured).
  if (typeof value !== 'object' || value === null || !text.includes('null') || !holdsNonFinite(value)) return text;
  return JSON.stringify(value, bigintAsMarker).replace(BIGINT_MARKER_TEXT, '$1');
}

/**
 * Whether NaN is in a value for a JSON column, given its staged text (numberText or stringifyValue): JSON has no NaN,
 * and a `NaN` token in a JSON column failed every read of its table ("NaN" is not valid JSON). Only a text with the
 * token is searched.
 */
export function jsonHoldsNaN(value: unknown, text: string): boolean {
  return text.includes('NaN') && holdsNonFinite(value, 0, true);
}

/**
 * Whether ±Infinity or NaN (only NaN with `nanOnly`) may be anywhere in the value (own enumerable keys, as
 * JSON.stringify reads them). Past a depth no API answer reaches it says yes without looking further: a cycle then
 * gets JSON.stringify's own error on the row path, not a stack overflow here, and a value that deep is written with
 * the replacer.
 */
export function holdsNonFinite(value: unknown, depth = 0, nanOnly = false): boolean {
  if (typeof value === 'number') return nanOnly ? Number.isNaN(value) : !Number.isFinite(value);
  if (typeof value !== 'object' || value === null) return false;
  if (depth > 256) return true;
  if (Array.isArray(value)) {
    for (const item of value) if (holdsNonFinite(item, depth + 1, nanOnly)) return true;
    return false;
  }
  for (const key of Object.keys(value)) if (holdsNonFinite((value as Record<string, unknown>)[key], depth + 1, nanOnly)) return true;
  return false;
}

/**
 * JSON.stringify replacer for ids made of values, giving each value as it is stored: a BigInt (a map step may return
 * one) as its number, so `5n` and `5` give the same id, as they give the same row; a text with half a surrogate pair
 * with U+FFFD in its place (DuckDB's text is UTF-8), so a record whose key is read back from its columns (a merge
 * taking over appended rows) gets the id a merge gives it.
 */
export function asStored(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return value.isWellFormed() ? value : value.toWellFormed();
  // ±Infinity (JSON.parse's reading of 1e400) as its text, not the null JSON.stringify would make it.
  if (typeof value === 'number') return value === Infinity || value === -Infinity ? numberText(value) : value;
  // A BigInt in BIGINT's range that a double holds exactly as its number, as a number with that value hashes (a map
  // step's 2 ** 53 + 2 and the client's 9007199254740994n are one key, stored alike, and a BIGINT reads back as a
  // BigInt either way: adopt.ts); any other as its text, as it is stored (BIGINT digits beyond a double, or VARCHAR).
  if (typeof value === 'bigint') {
    const number = Number(value);
    return inBigintRange(value) && BigInt(number) === value ? number : value.toString();
  }
  return value;
}

/**
 * How deep a value nests (the value itself is level 1, each object or list inside one more) and the keys down to its
 * deepest point (at most `keys`). Without recursion: it measures values too deep for the recursive code that failed
 * on them. An object met twice (a map step's cycle) is not walked again.
 */
export function deepestPath(value: unknown, keys = 5): { depth: number; path: string[]; cut: boolean } {
  const seen = new WeakSet<object>();
  const stack: { value: unknown; depth: number; path: string[] }[] = [{ value, depth: 1, path: [] }];
  let deepest = { depth: 0, path: [] as string[] };
  // Bounded: each object is pushed once per parent key, and walked once (seen).
  for (let item = stack.pop(); item; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null || seen.has(item.value)) continue;
    seen.add(item.value);
    if (item.depth > deepest.depth) deepest = item;
    for (const [key, child] of Object.entries(item.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth: item.depth + 1, path: item.path.length < keys ? [...item.path, key] : item.path });
    }
  }
  return { depth: deepest.depth, path: deepest.path, cut: deepest.depth - 1 > deepest.path.length };
}

/**
 * An object whose values are all null, lists of nulls or such objects: a path of it would be decided by none.
 * `levels`: how many levels of objects below it are still flattened (past them an object, `{}` too, is a JSON value).
 */
export function holdsNoValue(obj: Record<string, unknown>, levels = Infinity): boolean {
  for (const key of Object.keys(obj)) {
    const value = normalizeJsValue(obj[key]);
    if (value === null || value === undefined) continue;
    if (Array.isArray(value) ? value.some((v) => v !== null && v !== undefined) : !isPlainObject(value) || levels < 1 || !holdsNoValue(value, levels - 1)) return false;
  }
  return true;
}

/**
 * The value a JSON column, variant or `_overflow` takes: a BigInt or a list as it came. normalizeJsValue() turns a
 * BigInt beyond BIGINT's range into text, for a VARCHAR (or VARCHAR[]); inside JSON it is the number, every digit
 * (stringifyValue), as it is inside an object and on the fast path.
 */
export function asJson(value: unknown, source: unknown): unknown {
  return Array.isArray(source) || typeof source === 'bigint' ? source : value;
}

/**
 * Whether `value`, placed on a path not decided yet with `levels` levels of flattening left (maxNestingDepth - depth
 * - 1), would store nothing (the normalizer's decide() and fillObject()): a list of nothing but nulls, or an object
 * flattened within maxNestingDepth whose fields all store nothing (beyond it, `{}` is a JSON column's value).
 */
export function storesNothing(value: unknown, levels: number): boolean {
  if (Array.isArray(value)) return value.every((item) => item === null || item === undefined);
  return isPlainObject(value) && levels >= 0 && holdsNoValue(value, levels);
}
