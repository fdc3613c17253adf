// How the dataset API hands DuckDB values to JavaScript: plain, JSON-safe values that lose nothing silently.
// DuckDB's own JS conversion gives bigint (JSON.stringify throws on it), a Date cut to milliseconds (and throws on
// 'infinity', failing the whole query), a DATE as midnight UTC, a TIME as a count of microseconds and a DECIMAL as a
// double that rounds; JSON nested in a list or struct stays text, and JSON.parse rounds an integer beyond 2^53 in
// it. Each type is listed in the package README.
import type { DuckDBResultReader, DuckDBType, DuckDBValue, DuckDBValueConverter } from '@duckdb/node-api';
import { parseKeepingLargeIntegers } from 'snapengage-client';
import { duckdbApi } from './duckdb.js';

/** DuckDB's ±infinity for the 64-bit timestamps and the 32-bit DATE. */
const INFINITY_64 = 2n ** 63n - 1n;
const INFINITY_DAYS = 2 ** 31 - 1;
/** JS Date's range, in milliseconds either side of the epoch. */
const MAX_DATE_MS = 8.64e15;
const MAX_DATE_MS_BIG = BigInt(MAX_DATE_MS);

/** An integer as a number when that is exact, else its decimal text. */
function exactInteger(value: bigint): number | string {
  return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
}

/** ISO 8601 UTC with the digits below the millisecond kept (`.123456Z`) when there are any; `fraction` is in units of 10^-digits s below the ms. */
function isoTimestamp(ms: bigint, fraction: bigint, digits: number, value: DuckDBValue): string {
  if (ms > MAX_DATE_MS_BIG || ms < -MAX_DATE_MS_BIG) return String(value);
  const iso = new Date(Number(ms)).toISOString();
  return fraction === 0n ? iso : `${iso.slice(0, -1)}${fraction.toString().padStart(digits, '0')}Z`;
}

/** A timestamp stored as an integer count of `unitsPerMs`ths of a millisecond (1/1000 for seconds); DuckDB's text when out of Date's range. */
function timestamp(value: DuckDBValue, raw: bigint, unitsPerMs: bigint, digits: number): string {
  if (raw === INFINITY_64) return 'infinity';
  if (raw === -INFINITY_64) return '-infinity';
  if (unitsPerMs === 0n) return isoTimestamp(raw * 1000n, 0n, 0, value);
  let ms = raw / unitsPerMs;
  let rest = raw % unitsPerMs;
  if (rest < 0n) {
    ms -= 1n;
    rest += unitsPerMs;
  }
  return isoTimestamp(ms, rest, digits, value);
}

/** A DECIMAL as a number when it has at most 15 significant digits (a double keeps those exactly), else its text. */
function decimal(value: { toString(): string }): number | string {
  const text = value.toString();
  const digits = text.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return digits.length <= 15 ? Number(text) : text;
}

/** Converts one non-null value of a column type. */
type Convert = (value: DuckDBValue) => unknown;
type Fields = DuckDBValue & Record<string, unknown>;

/** The conversion of a type's values, chosen once per type rather than once per value (a read may be 200k rows). */
function converterOf(type: DuckDBType): Convert {
  // Looked up here, not at import: `show` and the dataset API import this module before any file is opened, and a
  // command that stops before (no such file) does not load DuckDB (duckdb.ts).
  const { DuckDBTypeId, JSDuckDBValueConverter } = duckdbApi();
  switch (type.typeId) {
    case DuckDBTypeId.VARCHAR:
      // An integer beyond ±2^53 in JSON (the loader stores the API's digits) is its decimal text, as a BIGINT's:
      // JSON.parse rounded it silently. A value without a number of 2^53 or more costs one walk of the parsed value.
      return type.alias === 'JSON' ? (value) => parseKeepingLargeIntegers(String(value), 'text') : (value) => String(value);
    case DuckDBTypeId.BOOLEAN:
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      // Already a JS boolean or number.
      return (value) => value;
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.BIGNUM:
      return (value) => exactInteger(value as bigint);
    case DuckDBTypeId.DECIMAL:
      return (value) => decimal(value as { toString(): string });
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_TZ:
      return (value) => timestamp(value, (value as Fields).micros as bigint, 1000n, 3);
    case DuckDBTypeId.TIMESTAMP_MS:
      return (value) => timestamp(value, (value as Fields).millis as bigint, 1n, 0);
    case DuckDBTypeId.TIMESTAMP_S:
      return (value) => timestamp(value, (value as Fields).seconds as bigint, 0n, 0);
    case DuckDBTypeId.TIMESTAMP_NS:
      return (value) => timestamp(value, (value as Fields).nanos as bigint, 1_000_000n, 6);
    case DuckDBTypeId.DATE:
      return (value) => {
        const days = (value as Fields).days as number;
        if (Math.abs(days) === INFINITY_DAYS) return days > 0 ? 'infinity' : '-infinity';
        return Math.abs(days * 86_400_000) <= MAX_DATE_MS ? new Date(days * 86_400_000).toISOString().split('T')[0] : String(value);
      };
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.TIME_TZ:
    case DuckDBTypeId.BIT:
      return (value) => String(value);
    case DuckDBTypeId.INTERVAL:
      return (value) => {
        const v = value as Fields;
        return { months: v.months, days: v.days, micros: exactInteger(v.micros as bigint) };
      };
    default:
      // Lists, arrays, structs, maps and unions recurse through `friendly`; BLOB stays a Uint8Array.
      return (value) => JSDuckDBValueConverter(value, type, friendly as unknown as Parameters<typeof JSDuckDBValueConverter>[2]);
  }
}

/** Converters of the types met so far (a nested type is one object for every row of its column). */
const converters = new WeakMap<DuckDBType, Convert>();

const friendly: DuckDBValueConverter<unknown> = (value, type) => {
  if (value === null || value === undefined) return null;
  let convert = converters.get(type as DuckDBType);
  if (convert === undefined) {
    convert = converterOf(type as DuckDBType);
    converters.set(type as DuckDBType, convert);
  }
  return convert(value);
};

/** Result rows with the values above; columns of DuckDB type JSON (at any depth) are parsed. */
export function friendlyRows(reader: DuckDBResultReader): Record<string, unknown>[] {
  return reader.getRows().map(rowConverter(reader));
}

/**
 * Turns a row of a result (read whole, or a chunk of a streamed one) into an object of the values above. From the
 * result's column types, not the chunks' vectors': only the former carry the JSON alias of a top-level column.
 */
export function rowConverter(result: Pick<DuckDBResultReader, 'deduplicatedColumnNames' | 'columnTypes'>): (row: readonly DuckDBValue[]) => Record<string, unknown> {
  const names = result.deduplicatedColumnNames();
  const convert = result.columnTypes().map(converterOf);
  // A column named __proto__ (a user's alias) assigned would set the row's prototype, and the column would be gone.
  const own = names.map((name) => name === '__proto__');
  return (row) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < row.length; i++) {
      const value = row[i];
      const converted = value === null || value === undefined ? null : convert[i]!(value);
      if (own[i]) Object.defineProperty(out, names[i]!, { value: converted, enumerable: true, writable: true, configurable: true });
      else out[names[i]!] = converted;
    }
    return out;
  };
}
