// How the dataset API binds the `params` of sql() and iterate(): a value DuckDB takes as it is, a Date as its ISO
// text, bytes as a BLOB, any other array or object as JSON text. What JSON would silently turn into `{}` (a Set, a
// Map, an ArrayBuffer) or cannot write at all (a bigint inside, a cycle) is refused here, naming the parameter:
// bound, a Set of ids matched nothing, and a JSON failure read "query on dataset … failed: …: fix the query".
import { blobValue, type DuckDBValue } from './duckdb.js';

const KINDS = 'pass a number, string, boolean, bigint, null, Date, Uint8Array, or an array or object (bound as JSON text)';
const BYTES = 'pass a Uint8Array for a BLOB (new Uint8Array(buffer)), or an array (Array.from(…)) for a list';

/** Marks a bigint's digits inside the JSON text until they are put in unquoted (JSON.stringify throws on a bigint). */
const BIGINT = '\u0000bigint\u0000';
const BIGINT_TEXT = new RegExp(`"${JSON.stringify(BIGINT).slice(1, -1).replace(/\\/g, '\\\\')}(-?\\d+)"`, 'g');

/** Why JSON text would not hold `value` (a Set written as {}), or undefined when it would. */
function lostInJson(value: unknown, position: number): string | undefined {
  const kind = (v: object) => `${/^A/.test(v.constructor.name) ? 'an' : 'a'} ${v.constructor.name}`;
  if (value instanceof Set) return `a Set, which JSON writes as {}: pass an array ([...set], bound as JSON text: cast it, $${position + 1}::VARCHAR[])`;
  if (value instanceof Map) return 'a Map, which JSON writes as {}: pass an object (Object.fromEntries(map), bound as JSON text)';
  if (value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return `${kind(value)}, which JSON writes as {}: ${BYTES}`;
  if (ArrayBuffer.isView(value)) return `${kind(value)}, which JSON writes as {"0":…}: ${BYTES}`;
  return undefined;
}

function bindOne(method: string, value: unknown, index: number): DuckDBValue {
  const fail = (what: string) => new TypeError(`${method}(): params[${index}] ${what}`);
  if (value === undefined || value === null) return null;
  if (typeof value === 'symbol' || typeof value === 'function') throw fail(`is a ${typeof value}, which SQL cannot hold: ${KINDS}`);
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw fail('is an invalid Date (its time is NaN): pass a Date of a real instant, or its ISO text');
    return value.toISOString();
  }
  // Bytes bind as a BLOB (a value read from a BLOB column is one), not as the JSON text of their indexes.
  if (value instanceof Uint8Array) return blobValue(value);
  if (typeof value !== 'object') return value as DuckDBValue;
  const lost = lostInJson(value, index);
  if (lost !== undefined) throw fail(`is ${lost}`);
  let text: string | undefined;
  try {
    // `this[key]`: the value before its toJSON (a nested Uint8Array is a Buffer, whose toJSON hides what it is).
    text = JSON.stringify(value, function (this: Record<string, unknown>, key: string, converted: unknown) {
      const inner = lostInJson(this[key], index);
      if (inner !== undefined) throw fail(`holds ${inner}`);
      return typeof converted === 'bigint' ? `${BIGINT}${converted}` : converted;
    });
  } catch (error) {
    if (error instanceof TypeError && error.message.startsWith(`${method}(): `)) throw error;
    if (error instanceof TypeError && /circular/i.test(error.message)) throw fail('cannot be written as JSON: it refers to itself (a circular structure)');
    throw error;
  }
  // An object whose toJSON gives undefined writes nothing: NULL, as an undefined parameter.
  return text === undefined ? null : text.replace(BIGINT_TEXT, '$1');
}

/** `params` as DuckDB binds them (checkQuery has made sure it is an array). */
export function bindParams(method: 'sql' | 'iterate', params: readonly unknown[]): DuckDBValue[] {
  return Array.from(params, (value, index) => bindOne(method, value, index));
}
