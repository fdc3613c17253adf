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
}

export function isEmptyReport(r: SchemaReport): boolean {
  return r.newColumns.length + r.newTables.length + r.newVariants.length + r.typeMismatches.length === 0;
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
  return report;
}

/** The source keys of a node, dot-joined; a list's scalar items (ELEMENT_NODE_KEY) are its `value`. */
function sourcePath(nodeKey: string): string {
  return nodeKey === ELEMENT_NODE_KEY ? 'value' : nodeKeyPath(nodeKey).join('.');
}

function mainColumn(t: TableState, variant: ColumnDef): ColumnDef | undefined {
  return t.def.columns.find((c) => c.variant === null && c.nodeKey === variant.nodeKey);
}
