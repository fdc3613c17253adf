// How an error message quotes a config value it refuses. JSON.stringify alone threw on a BigInt (`concurrency: 8n`) or
// an object that refers to itself, so the user got "Do not know how to serialize a BigInt" instead of the option's
// name; it said `undefined` for a function or a symbol; and a value megabytes long made the line as long.

const MAX_SHOWN = 200;

/** The value as one line of JSON (quoted strings, `8n`, `a function`), cut past MAX_SHOWN characters. */
export function shownValue(value: unknown): string {
  const text = shownInFull(value);
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

function shownInFull(value: unknown): string {
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'bigint') return `${value}n`;
  try {
    // Nested BigInts are written as `8n` too; undefined (and functions, symbols within) as JSON leaves them.
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)) ?? String(value);
  } catch (error) {
    // A toJSON or a getter that throws is the other way here: not named after the cycle.
    return /circular/i.test(String(error)) ? 'an object that refers to itself' : `a value JSON cannot write (${typeof value})`;
  }
}
