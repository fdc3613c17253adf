// A row of the row path as its staged NDJSON line: what its staging keys mean, the kinds of line, the row ids.
import { hash } from 'node:crypto';
import { ConfigError } from '../errors.js';
import { asStored, jsonHoldsNaN, numberText, stringifyValue } from './js-values.js';
import type { TableState } from './table-tree.js';

/**
 * Receives each row as one NDJSON line. Keys are column names plus staging-only keys that no column name
 * can take (normalized names never contain `#`): root rows `#id` (the `_row_id`) and `#s` (record sequence);
 * child rows `#r` (their root's `_row_id`), `#s` (sequence of their root record), `#i` (list index) and, below the
 * first level, `#p` (the parent's `_row_id`). The loader derives `_parent_id`, `_root_id` and the child `_row_id`
 * in SQL from them, which keeps staged lines short; carrying the root id spares the load a join on the roots.
 */
export type RowSink = (table: TableState, line: string, kind?: StagedKind) => void;

/**
 * `rows`: one line per row, as above. The fast paths (fast-path.ts) stage JSON the way it arrived and let SQL
 * flatten it, when every value fits its column exactly, so both paths stage the same JSON text for every value and
 * give the same rows: `list`, one line per record for a whole list of flat objects under the root,
 * `{"#r":…,"#s":<seq>,"l":[…items…]}` (a long list in lines of LIST_LINE_ITEMS, normalizer.ts, each with `"#o"`, the index of its
 * first item); `record`, a root row as the record's own object minus its child lists, `{"#id":…,"#s":<seq>,"r":{…}}`. `keys`: one short line per record, `{"#id":…,"#s":<seq>}`, so a merge can find
 * the load's keys without parsing every staged root row again.
 */
export type StagedKind = 'rows' | 'list' | 'record' | 'keys';

/** `_row_id` of a child row. The loader computes the same hash in SQL (destination/staged-sql.ts childRowIdSql), keep them identical. */
export function childRowId(parentId: string, lineage: string, idx: number): string {
  return md5(`${parentId}|${lineage}|${idx}`);
}

export function rootRowId(resource: string, pkValues: readonly unknown[]): string {
  return md5(`${resource}|${JSON.stringify(pkValues, asStored)}`);
}

export function md5(s: string): string {
  // One-shot hashing (Node ≥ 20.12) skips the Hash object a createHash() chain allocates per call.
  return hash('md5', s, 'hex');
}

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
