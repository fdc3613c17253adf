// Fast paths of the normalizer: when every value of a record (or of a list of flat objects) already fits the
// column that holds it, exactly as it is, the JSON is staged the way it arrived and SQL flattens it — one
// JSON.stringify per record instead of a row object and a serialized line per row. Both paths stage the same JSON
// text for every value (coerce() would return it unchanged), so DuckDB parses the same values into the same rows.
// Anything else — a key seen for the first time, a value that needs converting or a variant column, a key that
// cannot name a struct field — takes the row path.
import type { FieldNode, TableState } from './normalizer.js';
import { holdsNonFinite } from './js-values.js';
import { nodeKeyPath, type ColumnDef } from './schema.js';
import { BIGINT_LIMIT, DUCKDB_TYPES, isPlainObject, type DataType, type ScalarType } from './types.js';

// Keys a fast-path line may carry: they are struct field names in SQL, where names are case-insensitive.
const FAST_PATH_KEY = /^[a-z0-9_]+$/;

function fastKey(node: FieldNode, key: string): boolean {
  return (node.fastKey ??= FAST_PATH_KEY.test(key));
}

/**
 * True when every item of the list is null or a flat object whose keys are all columns of the table (already
 * decided) that take the item's value unchanged.
 */
export function listFitsColumns(table: TableState, items: readonly unknown[]): boolean {
  const fields = table.row.fields;
  if (!fields) return false;
  for (const item of items) {
    if (item === null || item === undefined) continue;
    if (!isPlainObject(item)) return false;
    for (const key of Object.keys(item)) {
      const value = item[key];
      if (value === null || value === undefined) continue;
      const node = fields.get(key);
      if (node?.kind !== 'column' || !fastKey(node, key) || !fitsUnchanged(value, node.column!.type)) return false;
    }
  }
  return true;
}

/**
 * True when every key of the record (and of its nested objects) is a decided column that takes the value unchanged,
 * a flattened object that fits likewise, or — at the top level only — a child table holding a list (the list goes its
 * own way).
 */
export function recordFitsColumns(node: FieldNode, obj: Record<string, unknown>, nested = false): boolean {
  const fields = node.fields;
  if (!fields) return false;
  for (const key of Object.keys(obj)) {
    const value = obj[key];
    if (value === null || value === undefined) continue;
    const child = fields.get(key);
    if (!child || !fastKey(child, key)) return false;
    switch (child.kind) {
      case 'column':
        if (!fitsUnchanged(value, child.column!.type)) return false;
        break;
      case 'object':
        if (!isPlainObject(value) || !recordFitsColumns(child, value, true)) return false;
        break;
      case 'table':
        // Only the record's own lists are taken out of the line (see normalize()); deeper ones need the row path.
        if (nested || !Array.isArray(value)) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** The source keys a list line of this table can carry, with the column each one fills. */
export function listLineColumns(table: TableState): Array<{ key: string; column: ColumnDef }> {
  const out: Array<{ key: string; column: ColumnDef }> = [];
  for (const [key, node] of table.row.fields ?? []) {
    if (node.kind === 'column' && FAST_PATH_KEY.test(key)) out.push({ key, column: node.column! });
  }
  return out;
}

/** DuckDB type of a record line's `r` for the root table: nested STRUCTs of the fast-path keys, lists left out. */
export function recordStructType(node: FieldNode): string | undefined {
  const fields: string[] = [];
  for (const [key, child] of node.fields ?? []) {
    if (!FAST_PATH_KEY.test(key)) continue;
    if (child.kind === 'column') fields.push(`"${key}" ${DUCKDB_TYPES[child.column!.type]}`);
    else if (child.kind === 'object') {
      const inner = recordStructType(child);
      if (inner) fields.push(`"${key}" ${inner}`);
    }
  }
  return fields.length > 0 ? `STRUCT(${fields.join(', ')})` : undefined;
}

/**
 * SQL expression for a root column read from a record line (`s.r`), or undefined when record lines never hold it:
 * variant columns (a fast-path value always fits its base column) and paths through keys that cannot be fields.
 */
export function recordColumnExpression(column: ColumnDef, alias: string): string | undefined {
  if (column.variant !== null) return undefined;
  const path = nodeKeyPath(column.nodeKey);
  if (path.length === 0 || !path.every((key) => FAST_PATH_KEY.test(key))) return undefined;
  return `${alias}.r.${path.map((key) => `"${key}"`).join('.')}`;
}

/** Whether `coerce(value, type)` would stage the value as it is (no conversion, no variant). */
function fitsUnchanged(value: unknown, type: DataType): boolean {
  switch (type) {
    case 'text':
      return typeof value === 'string';
    case 'bigint':
      return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < BIGINT_LIMIT;
    case 'double':
      return typeof value === 'number' && Number.isFinite(value);
    case 'bool':
      return typeof value === 'boolean';
    case 'json':
      // ±Infinity (JSON.parse's 1e400) inside: JSON.stringify of the line would write null; the row path keeps it.
      // NaN (a map step's) likewise, where the row path refuses it: JSON has no NaN.
      return typeof value !== 'bigint' && !(value instanceof Date) && typeof value !== 'function' && typeof value !== 'symbol' && !holdsNonFinite(value);
    default: {
      if (!Array.isArray(value)) return false;
      const itemType = type.slice(0, -2) as ScalarType;
      return value.every((v) => v === null || fitsUnchanged(v, itemType));
    }
  }
}
