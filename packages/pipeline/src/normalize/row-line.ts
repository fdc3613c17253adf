// A row of the row path as its staged NDJSON line (normalizer.ts says what the staging keys mean).
import { ConfigError } from '../errors.js';
import { jsonHoldsNaN, numberText, stringifyValue } from './js-values.js';
import type { TableState } from './table-tree.js';

/** One NDJSON line: the staging prefix, then every column that has a value. */
export function serializeRow(resource: string, table: TableState, head: string, values: readonly unknown[]): string {
  let line = head;
  const columns = table.def.columns;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === undefined) continue;
    const col = columns[i]!;
    // Staged under its position, not its name: shorter lines to write and for read_json to parse.
    const text = typeof v === 'number' ? numberText(v) : typeof v === 'boolean' ? (v ? 'true' : 'false') : stringifyValue(v);
    if (col.type === 'json' && jsonHoldsNaN(v, text)) {
      throw new ConfigError(
        `resources.${resource}: a map step returned NaN for ${table.def.name}.${col.name}, a JSON column, and JSON has no NaN: ` +
          'return null or a number there (a DOUBLE column keeps NaN)',
      );
    }
    line += `,${(col.jsonKey ??= `"${i}"`)}:${text}`;
  }
  return line + '}';
}
