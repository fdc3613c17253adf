// What a load changes in a resource's tables that the user would otherwise not hear of: columns and child tables
// for fields the spec does not declare (typed from their first value), variant columns made for values their
// column's type does not take, and stored columns the spec now declares with another type. The load info prints it
// (load-info.ts), so a field the API starts sending, or a field changing type, is never only found by chance.
import { joinPath, snakeCase } from './naming.js';
import { ELEMENT_NODE_KEY, ROW_NODE_KEY, nodeKeyPath, type ColumnDef } from './schema.js';
import type { TableState, TableTree } from './table-tree.js';
import { DUCKDB_TYPES } from './types.js';

export interface SchemaReport {
  /**
   * Columns added by this load for fields the spec does not declare (variants and `_overflow` apart); `key` is the
   * source path when the name is not the one it would have had alone (a collision took it: `Name` beside `name`).
   * Source paths here (`key`, `field`, a mismatch's `column`) are cut short past MAX_SHOWN_KEY characters.
   */
  newColumns: Array<{ table: string; column: string; type: string; key?: string }>;
  /** Child tables made by this load for lists of objects the spec does not declare. */
  newTables: string[];
  /**
   * Variant columns made by this load, with the values put there. `of` is the column the values did not fit, null
   * when the field is no column (an object flattened into `<field>__*` columns, or a child table).
   */
  newVariants: Array<{ table: string; column: string; type: string; field: string; of: string | null; ofType: string | null; values: number }>;
  /**
   * Stored fields the spec now declares as a column of another type (a spec edit after they were made): `kind` is how
   * they are stored, `column` the column's name, else the field's path, and `type` its type or the child table.
   */
  typeMismatches: Array<{ table: string; column: string; type: string; declared: string; kind: 'column' | 'object' | 'table' }>;
  /**
   * What earlier loads stored with another maxNestingDepth than this run's, which keeps its shape (a stored choice,
   * NORMALIZATION.md "Tables"): `deeper`, child tables and flattened columns below the depth (it was lowered);
   * `json`, declared objects or lists stored as one JSON column that the depth would now flatten (it was raised).
   */
  depthNotApplied?: { maxNestingDepth: number; deeper: string[]; json: string[] };
}

export function isEmptyReport(r: SchemaReport): boolean {
  return r.newColumns.length + r.newTables.length + r.newVariants.length + r.typeMismatches.length === 0 && r.depthNotApplied === undefined;
}

/** Stored tables and flattened columns deeper than the tree's maxNestingDepth, and declared shapes stored as JSON. */
function depthNotApplied(tree: TableTree): SchemaReport['depthNotApplied'] {
  const max = tree.maxNestingDepth;
  const deeper: string[] = [];
  for (const t of tree.allTables) {
    if (t.isNew) continue;
    if (!t.isRoot && t.depth > max) {
      // Only the topmost: the tables below it are deeper still.
      const parent = tree.allTables.find((p) => p.def.name === t.def.parent);
      if (parent === undefined || parent.depth <= max) deeper.push(t.def.name);
      continue;
    }
    for (const c of t.def.columns) {
      // A column `a__b` of a table at depth d is a value of object `a`, one level below: d + 1. Named by the object
      // at the first level past the depth (`logs.requester_details__*`), once.
      const path = nodeKeyPath(c.nodeKey);
      if (c.variant !== null || t.newColumns.includes(c) || t.depth + path.length - 1 <= max) continue;
      const name = `${t.def.name}.${joinPath(path.slice(0, Math.max(1, max + 1 - t.depth)).map(snakeCase))}__*`;
      if (!deeper.includes(name)) deeper.push(name);
    }
  }
  const json = tree.keptAsJson.map(({ table, column }) => `${table.def.name}.${column.name}`);
  return deeper.length + json.length > 0 ? { maxNestingDepth: max, deeper, json } : undefined;
}

export function schemaReport(tree: TableTree, variantValues: ReadonlyMap<ColumnDef, number>): SchemaReport {
  const report: SchemaReport = { newColumns: [], newTables: [], newVariants: [], typeMismatches: [] };
  for (const t of tree.allTables) {
    if (t.isNew && !t.isRoot && !tree.declared.has(t)) report.newTables.push(t.def.name);
    for (const c of t.isNew ? t.def.columns : t.newColumns) {
      if (c.variant === null) {
        if (tree.declared.has(c)) continue;
        const path = nodeKeyPath(c.nodeKey);
        const renamed = c.name !== (path.length === 0 ? 'value' : joinPath(path.map(snakeCase)));
        report.newColumns.push({ table: t.def.name, column: c.name, type: DUCKDB_TYPES[c.type], ...(renamed ? { key: sourcePath(c.nodeKey) } : {}) });
      } else if (c.nodeKey !== ROW_NODE_KEY) {
        const of = mainColumn(t, c);
        report.newVariants.push({
          table: t.def.name, column: c.name, type: DUCKDB_TYPES[c.type], field: sourcePath(c.nodeKey), of: of?.name ?? null,
          ofType: of ? DUCKDB_TYPES[of.type] : null, values: variantValues.get(c) ?? 0,
        });
      }
    }
  }
  for (const { table, node, declared } of tree.typeMismatches) {
    const kind = node.kind ?? 'object';
    const column = node.column?.name ?? sourcePath(node.key);
    const type = node.column ? DUCKDB_TYPES[node.column.type] : (node.table?.def.name ?? '');
    report.typeMismatches.push({ table: table.def.name, column, type, declared: DUCKDB_TYPES[declared], kind });
  }
  const depth = depthNotApplied(tree);
  if (depth) report.depthNotApplied = depth;
  return report;
}

/** Characters of a source path the report keeps: a key is whatever the API sends, and the load info quotes it. */
const MAX_SHOWN_KEY = 100;

/**
 * The source keys of a node, dot-joined; a list's scalar items (ELEMENT_NODE_KEY) are its `value`. Cut short past
 * MAX_SHOWN_KEY (the column's name, itself at most 100 characters, is what identifies it): a 5000-character key made a
 * 5000-character load info line, and the same in the --json document.
 */
function sourcePath(nodeKey: string): string {
  const path = nodeKey === ELEMENT_NODE_KEY ? 'value' : nodeKeyPath(nodeKey).join('.');
  return path.length > MAX_SHOWN_KEY ? `${path.slice(0, MAX_SHOWN_KEY)}... (${path.length} characters)` : path;
}

function mainColumn(t: TableState, variant: ColumnDef): ColumnDef | undefined {
  return t.def.columns.find((c) => c.variant === null && c.nodeKey === variant.nodeKey);
}
