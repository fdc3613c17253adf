// The loader's own record of the tables and columns it created: which source path each column holds, its
// type, and which columns are variants. It is stored in `_pipeline_tables` / `_pipeline_columns` and read
// back on every run, so names chosen once (collision suffixes included) stay the same forever.
import type { DataType, ScalarType } from './types.js';

export interface ColumnDef {
  /** SQL column name (snake_case, unique in the table). */
  name: string;
  /** Node the column belongs to: `d` + JSON array of source keys relative to the table row, or `e` for list items. */
  nodeKey: string;
  /** Set for variant columns: the type of the values that did not fit the base column. */
  variant: ScalarType | null;
  type: DataType;
  /** Runtime only: position in TableDef.columns, and the key its values are staged under (the position, quoted). */
  index?: number;
  jsonKey?: string;
}

export interface TableDef {
  /** SQL table name. */
  name: string;
  resource: string;
  /** Parent table name; null for the resource's root table. */
  parent: string | null;
  /** Node in the parent table whose lists became this table; null for the root table. */
  nodeKey: string | null;
  /** Data columns in creation order (system columns are implied by root/child). */
  columns: ColumnDef[];
  /**
   * Every column name the stored table has in the file, the loader's and any a user added (`ALTER TABLE … ADD
   * COLUMN`): a new field never takes one of them, as it would write into the user's column or fail on its type.
   */
  namesInFile?: string[];
}

/** Columns every root table has; the normalizer reserves these names so source keys cannot take them. */
export const ROOT_SYSTEM_COLUMNS = [
  { name: '_row_id', sqlType: 'VARCHAR' },
  { name: '_load_id', sqlType: 'VARCHAR' },
] as const;

/** Columns every child table has. */
export const CHILD_SYSTEM_COLUMNS = [
  { name: '_row_id', sqlType: 'VARCHAR' },
  { name: '_parent_id', sqlType: 'VARCHAR' },
  { name: '_root_id', sqlType: 'VARCHAR' },
  { name: '_list_idx', sqlType: 'BIGINT' },
  { name: '_load_id', sqlType: 'VARCHAR' },
] as const;

export const RESERVED_COLUMN_NAMES = ['_row_id', '_parent_id', '_root_id', '_list_idx', '_load_id'];

export function dataNodeKey(path: readonly string[]): string {
  return `d${JSON.stringify(path)}`;
}

export const ELEMENT_NODE_KEY = 'e';

/** Source path of a `d…` node key; [] for the element node. */
export function nodeKeyPath(nodeKey: string): string[] {
  if (nodeKey === ELEMENT_NODE_KEY) return [];
  if (!nodeKey.startsWith('d')) throw new Error(`malformed column key ${JSON.stringify(nodeKey)} in _pipeline_columns`);
  const path: unknown = JSON.parse(nodeKey.slice(1));
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string')) {
    throw new Error(`malformed column key ${JSON.stringify(nodeKey)} in _pipeline_columns`);
  }
  return path as string[];
}

/** The columns of a top-level field of a table's rows: its own and its variant columns (`<col>__v_<type>`). */
export function fieldColumns(def: TableDef, field: string): ColumnDef[] {
  return def.columns.filter((c) => {
    if (c.nodeKey === ELEMENT_NODE_KEY) return false;
    const path = nodeKeyPath(c.nodeKey);
    return path.length === 1 && path[0] === field;
  });
}

/** Node key of a table's row itself (the `_overflow` column's node). */
export const ROW_NODE_KEY = dataNodeKey([]);

/**
 * The table's `_overflow` column (table-tree.ts OVERFLOW_COLUMN), a `json` variant of the row itself: a top-level
 * field that found no room for a column keeps its values there, under its own key.
 */
export function overflowColumn(def: TableDef): ColumnDef | undefined {
  return def.columns.find((c) => c.variant === 'json' && c.nodeKey === ROW_NODE_KEY);
}

export function cloneTableDef(def: TableDef): TableDef {
  return { ...def, columns: def.columns.map((c) => ({ ...c })) };
}
