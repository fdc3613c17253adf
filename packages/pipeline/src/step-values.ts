// What a config's map step may return: a record of JSON values, plus the JavaScript values the normalizer turns
// into them (BigInt, Date, ±Infinity, NaN where a DOUBLE holds it: normalize/js-values.ts). Anything else had no
// faithful row: a Map or Set lost all its entries (no own keys), a function or symbol failed staging with "Cannot read
// properties of undefined", an invalid Date with "Invalid time value", a Promise (an async step) was stored as an
// empty record, and a Buffer became columns of its bytes on the row path but `{type, data}` on the fast path (which
// stages JSON.stringify's text, calling toJSON). So every mapped record is checked here once, naming the field and
// the fix, and objects with a toJSON method are replaced by what it returns, on both paths alike.
import type { SourceRecord } from './config.js';
import { ConfigError } from './errors.js';

/** Objects whose own enumerable keys (all JSON.stringify reads) do not hold what they hold, with how to pass it. */
const REFUSED: Array<[new (...args: never[]) => object, string, string]> = [
  [Map, 'a Map', 'Object.fromEntries(map) for an object, or [...map] for a list of pairs'],
  [Set, 'a Set', '[...set] for a list'],
  [WeakMap, 'a WeakMap', 'a plain object'],
  [WeakSet, 'a WeakSet', 'a list'],
  [RegExp, 'a RegExp', 'its text (String(re))'],
  [Error, 'an Error', 'its message (error.message)'],
  [ArrayBuffer, 'an ArrayBuffer', 'its bytes as text (Buffer.from(buffer).toString("base64")) or a list (Array.from(new Uint8Array(buffer)))'],
];

/** Where a step is, for messages: `resources.logs.steps[1] (map)`. */
export type StepWhere = string;

/**
 * The record a map step returned, checked: the same object when every value is fine as it is, else a copy with each
 * toJSON object replaced by its JSON value (a Buffer by `{ type: 'Buffer', data: [...] }`, as JSON.stringify writes
 * it). Throws a ConfigError naming the step, the field and the fix for a value with no faithful row.
 */
export function checkMappedRecord(record: SourceRecord, where: StepWhere): SourceRecord {
  // The objects above the one visited, and the keys leading to it: the field's path is built only for a message
  // (building it for every value tripled the walk's time).
  const ancestors: object[] = [];
  const keys: Array<string | number> = [];
  const fail = (what: string, fix: string) => refuse(where, fieldPath(keys), what, fix);
  const visit = (value: unknown, key: string): unknown => {
    switch (typeof value) {
      case 'function':
        throw fail('a function', 'call it and return its value, or leave the field out');
      case 'symbol':
        throw fail('a symbol', 'return its description (symbol.description) as text, or leave the field out');
      case 'object':
        break;
      default:
        return value; // strings, numbers (NaN too: it depends on the column, see js-values.ts), booleans, BigInts, undefined
    }
    if (value === null) return value;
    const proto: unknown = Object.getPrototypeOf(value);
    const plain = proto === Object.prototype || proto === null || Array.isArray(value);
    if (!plain && value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw fail('an invalid Date', 'return a valid Date, a text or null');
      return value;
    }
    if (!plain && typeof (value as { then?: unknown }).then === 'function') {
      throw fail('a Promise', 'steps run synchronously: await the value before the run, or load it in a separate step after it');
    }
    if (ancestors.includes(value)) throw fail('the object it is inside (a cycle)', 'return a copy without the reference back');
    // Any object with a toJSON method (a class's, or its own: `{ toJSON() {…} }`) is what it returns, as in JSON.stringify.
    if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
      ancestors.push(value);
      let returned: unknown;
      try {
        returned = (value as { toJSON(key: string): unknown }).toJSON(key);
      } catch (error) {
        // Thrown on, it failed the run as "Extracting logs failed: <its first line>", naming neither step nor field.
        const field = keys.length === 0 ? 'a record whose toJSON method' : `a record whose ${fieldPath(keys)} has a toJSON method that`;
        throw new ConfigError(`${where} returned ${field} threw: ${onOneLine(error instanceof Error ? error.message : String(error))}`);
      }
      const json = visit(returned, key);
      ancestors.pop();
      return json;
    }
    if (!plain) {
      if (ArrayBuffer.isView(value)) {
        throw fail(`a ${value.constructor.name}`, 'return its bytes as text (Buffer.from(bytes).toString("base64")) or a list (Array.from(bytes))');
      }
      for (const [type, what, fix] of REFUSED) if (value instanceof type) throw fail(what, `return ${fix}`);
      if (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer) throw fail('a SharedArrayBuffer', 'return its bytes as text or a list');
    }
    // No try/finally around the stacks: a refusal ends the walk, and nothing reads them after it.
    ancestors.push(value);
    let out: unknown[] | Record<string, unknown> | undefined;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue;
        keys.push(i);
        const checked = visit(item, String(i));
        keys.pop();
        if (checked !== item) ((out as unknown[] | undefined) ??= value.slice())[i] = checked;
      }
    } else {
      // A class instance without toJSON is what JSON.stringify makes of it too: its own enumerable fields.
      const obj = value as Record<string, unknown>;
      for (const field of Object.keys(obj)) {
        const item = obj[field];
        if (typeof item !== 'object' && typeof item !== 'function' && typeof item !== 'symbol') continue;
        keys.push(field);
        const checked = visit(item, field);
        keys.pop();
        if (checked !== item) ((out as Record<string, unknown> | undefined) ??= { ...obj })[field] = checked;
      }
    }
    ancestors.pop();
    return out ?? value;
  };
  return visit(record, '') as SourceRecord;
}

/**
 * A step's message on one line, every line of it kept: a validator's "invalid record:\n  - a\n  - b" printed as
 * several lines on stderr, the last ones after the record's id and looking like other errors. A line that ends
 * without punctuation is followed by "; ", so its end stays visible.
 */
export function onOneLine(message: string): string {
  const lines = message.split(/\r\n|[\n\r\v\f\u0085\u2028\u2029]/).map((line) => line.trim()).filter((line) => line !== '');
  return lines.reduce((joined, line) => (joined === '' ? line : `${joined}${/[:;,.]$/.test(joined) ? ' ' : '; '}${line}`), '');
}

/** `transcripts[3].translations` */
function fieldPath(keys: ReadonlyArray<string | number>): string {
  let path = '';
  for (const key of keys) path += typeof key === 'number' ? `[${key}]` : path === '' ? key : `.${key}`;
  return path;
}

function refuse(where: StepWhere, path: string, what: string, fix: string): ConfigError {
  const field = path === '' ? 'a record that is' : `a record whose ${path} is`;
  return new ConfigError(`${where} returned ${field} ${what}, which no column can hold: ${fix}`);
}
