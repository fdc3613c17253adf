// The tree of tables a resource's records land in, as the normalizer builds it: the stored tables adopted at the
// start (their columns and child tables re-attached to the source paths they came from), the columns and child
// tables the spec declares, and those a record brings that nothing declared. normalizer.ts decides what each value
// is; this creates the column or table that holds it.
import { NameAllocator, joinPath, snakeCase } from './naming.js';
import { ELEMENT_NODE_KEY, RESERVED_COLUMN_NAMES, cloneTableDef, dataNodeKey, nodeKeyPath, type ColumnDef, type TableDef } from './schema.js';
import { declaredShape, type DataType, type JsonSchema, type ScalarType } from './types.js';

type NodeKind = 'column' | 'object' | 'table';

export interface FieldNode {
  /** Source keys relative to the table row; [] for the list-item node. */
  path: string[];
  key: string;
  kind?: NodeKind;
  column?: ColumnDef;
  fields?: Map<string, FieldNode>;
  table?: TableState;
  variants?: Map<ScalarType, ColumnDef>;
  /** The key can name a struct field of a fast-path line (see fast-path.ts); computed on first use. */
  fastKey?: boolean;
}

/** A table as the normalizer sees it: its definition plus what this writer added that is not stored yet. */
export interface TableState {
  def: TableDef;
  isRoot: boolean;
  /** Nesting depth of the table's rows (root 0). */
  depth: number;
  /** Identifies the table's place under the root; part of the child `_row_id` hash. */
  lineage: string;
  /** True until the table is committed. */
  isNew: boolean;
  /** Columns added since the table was last committed. */
  newColumns: ColumnDef[];
  readonly names: NameAllocator;
  readonly row: FieldNode;
  element?: FieldNode;
}


export class TableTree {
  private readonly tableNames: NameAllocator;
  /** Tables in creation order (parents before children). */
  readonly allTables: TableState[] = [];

  constructor(
    private readonly resource: string,
    private readonly maxNestingDepth: number,
    takenTableNames: Iterable<string>,
  ) {
    this.tableNames = new NameAllocator(takenTableNames);
  }

  addColumn(table: TableState, node: FieldNode, type: DataType): void {
    const col: ColumnDef = { name: table.names.allocate(naturalName(node)), nodeKey: node.key, variant: null, type };
    node.kind = 'column';
    node.column = col;
    col.index = table.def.columns.push(col) - 1;
    table.newColumns.push(col);
  }

  addChildTable(parent: TableState, node: FieldNode, depth: number): TableState {
    const base = joinPath([parent.def.name, naturalName(node)]);
    const table = this.newTable(parent, node.key, this.tableNames.allocate(base), depth, parent.lineage + node.key);
    node.kind = 'table';
    node.table = table;
    return table;
  }

  newTable(parent: TableState | null, nodeKey: string | null, name: string, depth: number, lineage: string): TableState {
    if (parent === null) this.tableNames.reserve(name);
    const def: TableDef = { name, resource: this.resource, parent: parent?.def.name ?? null, nodeKey, columns: [] };
    const state = this.adoptTable(def, parent === null, depth, lineage);
    state.isNew = true;
    return state;
  }

  adoptTable(def: TableDef, isRoot: boolean, depth: number, lineage: string): TableState {
    const names = new NameAllocator(RESERVED_COLUMN_NAMES);
    const state: TableState = {
      def, isRoot, depth, lineage, isNew: false, newColumns: [], names, row: { path: [], key: 'd[]', kind: 'object' },
    };
    def.columns.forEach((col, i) => (col.index = i));
    for (const col of def.columns) {
      names.reserve(col.name);
      const node = col.nodeKey === ELEMENT_NODE_KEY ? (state.element ??= { path: [], key: ELEMENT_NODE_KEY }) : this.nodeAt(state, nodeKeyPath(col.nodeKey));
      if (col.variant) (node.variants ??= new Map()).set(col.variant, col);
      else {
        node.kind = 'column';
        node.column = col;
      }
    }
    this.allTables.push(state);
    return state;
  }

  /** Re-attaches stored child tables (recursively) under their parent's node. */
  adoptChildren(parent: TableState, stored: readonly TableDef[]): void {
    for (const def of stored) {
      if (def.parent !== parent.def.name || def.nodeKey === null) continue;
      const node = def.nodeKey === ELEMENT_NODE_KEY ? (parent.element ??= { path: [], key: ELEMENT_NODE_KEY }) : this.nodeAt(parent, nodeKeyPath(def.nodeKey));
      const child = this.adoptTable(cloneTableDef(def), false, parent.depth + 1, parent.lineage + def.nodeKey);
      node.kind = 'table';
      node.table = child;
      this.adoptChildren(child, stored);
    }
  }

  /** The node for a path, creating the object nodes above it; the caller sets the last node's kind. */
  private nodeAt(table: TableState, path: readonly string[]): FieldNode {
    let node = table.row;
    for (const key of path) {
      if (node !== table.row) node.kind ??= 'object';
      node = fieldNode(node, key);
    }
    return node;
  }

  /** Creates the columns and child tables the spec declares, so they exist even when every value is null. */
  declare(table: TableState, node: FieldNode, properties: Record<string, JsonSchema>, depth: number): void {
    for (const [key, schema] of Object.entries(properties)) {
      const child = fieldNode(node, key);
      const shape = declaredShape(schema);
      if (child.kind === undefined) {
        if (shape.kind === 'column') this.addColumn(table, child, shape.type);
        else if (depth + 1 > this.maxNestingDepth) this.addColumn(table, child, 'json');
        else if (shape.kind === 'object') child.kind = 'object';
        else this.addChildTable(table, child, depth + 1);
      }
      if (shape.kind === 'object' && child.kind === 'object') this.declare(table, child, shape.properties, depth + 1);
      if (shape.kind === 'table' && child.kind === 'table') {
        const items = declaredShape(shape.items);
        if (items.kind === 'object') this.declare(child.table!, child.table!.row, items.properties, child.table!.depth);
      }
    }
  }
}

/** The node under `node` for `key`, created (undecided) on first use. */
export function fieldNode(node: FieldNode, key: string): FieldNode {
  const fields = (node.fields ??= new Map());
  let child = fields.get(key);
  if (!child) {
    const path = [...node.path, key];
    child = { path, key: dataNodeKey(path) };
    fields.set(key, child);
  }
  return child;
}

export function declaredShapeProperties(schema: JsonSchema): Record<string, JsonSchema> {
  const shape = declaredShape(schema);
  return shape.kind === 'object' ? shape.properties : {};
}

/** Column (or child table suffix) name a node gets before collision handling. */
export function naturalName(node: FieldNode): string {
  return node.path.length === 0 ? 'value' : joinPath(node.path.map(snakeCase));
}
