// The tree of tables a resource's records land in, as the normalizer builds it: the stored tables adopted at the
// start (their columns and child tables re-attached to the source paths they came from), the columns and child
// tables the spec declares, and those a record brings that nothing declared. normalizer.ts decides what each value
// is (types.ts newPathShape, and whether there is room); this creates the column or table that holds it.
import { NameAllocator, joinPath, snakeCase } from './naming.js';
import { CHILD_SYSTEM_COLUMNS, ELEMENT_NODE_KEY, RESERVED_COLUMN_NAMES, ROOT_SYSTEM_COLUMNS, ROW_NODE_KEY, cloneTableDef, dataNodeKey, nodeKeyPath, type ColumnDef, type TableDef } from './schema.js';
import { declaredShape, type DataType, type JsonSchema, type ScalarType } from './types.js';

/**
 * How wide the fields a record brings (those the spec does not declare) may make a table, and all of a resource's
 * tables together, system columns counted. Past either, a new field's value goes to the row's OVERFLOW_COLUMN
 * instead of a new column or child table. Why: DuckDB holds memory per column of a table it inserts into or
 * compares, and all of a resource's tables commit in one transaction. Measured at the default memory_limit (192MB):
 * an object keyed by ids (25 new keys per record) failed its first commit out of memory at 20 records (~1,000
 * columns), and a map of ids makes one column per id without bound; a table of 150 columns loads and merges 60,000
 * records, one of 200 columns failed at 20,000; resources of 1,500–2,000 columns over 40-column tables load and merge.
 */
export const MAX_TABLE_COLUMNS = 150;
export const MAX_RESOURCE_COLUMNS = 1500;

/**
 * JSON column of a table's rows that holds, under their source paths, the values of fields that found no room
 * (see MAX_TABLE_COLUMNS); stored as a `json` variant of the row itself (node key `d[]`).
 */
const OVERFLOW_COLUMN = '_overflow';

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
  /** Source path of the table's rows from the record (`transcripts[]`); unset for the root. Names fields in messages. */
  sourcePath?: string;
}


export class TableTree {
  private readonly tableNames: NameAllocator;
  /** Tables in creation order (parents before children). */
  readonly allTables: TableState[] = [];
  /** Columns of all the resource's tables, system columns included (see MAX_RESOURCE_COLUMNS). */
  private columnCount = 0;
  /** Columns and child tables the spec declares: the others are reported when added (schema-report.ts). */
  readonly declared = new WeakSet<ColumnDef | TableState>();
  /** Stored columns the spec now declares with another type (a spec edit): reported, as values may go to variants. */
  readonly typeMismatches: Array<{ table: TableState; node: FieldNode; declared: DataType }> = [];
  /** Stored JSON columns the spec declares as objects or lists of objects that maxNestingDepth would now flatten. */
  readonly keptAsJson: Array<{ table: TableState; column: ColumnDef }> = [];

  constructor(
    private readonly resource: string,
    readonly maxNestingDepth: number,
    takenTableNames: Iterable<string>,
  ) {
    this.tableNames = new NameAllocator(takenTableNames);
  }

  addColumn(table: TableState, node: FieldNode, type: DataType): void {
    const col: ColumnDef = { name: table.names.allocate(naturalName(node)), nodeKey: node.key, variant: null, type };
    node.kind = 'column';
    node.column = col;
    this.pushColumn(table, col);
  }

  /** The `<column>__v_<type>` column of a node, created on first use. */
  variantColumn(table: TableState, node: FieldNode, type: ScalarType): ColumnDef {
    const variants = (node.variants ??= new Map());
    let col = variants.get(type);
    if (!col) {
      // The overflow column's name is kept for it (adoptTable), unless a column stored before it, or one a user added
      // to the table, has that name.
      const taken = () => [...table.def.columns.map((c) => c.name), ...(table.def.namesInFile ?? [])].some((n) => n.toLowerCase() === OVERFLOW_COLUMN);
      const name = node !== table.row ? table.names.allocate(`${node.column?.name ?? naturalName(node)}__v_${type}`)
        : taken() ? table.names.allocate(OVERFLOW_COLUMN) : OVERFLOW_COLUMN;
      col = { name, nodeKey: node.key, variant: type, type };
      variants.set(type, col);
      this.pushColumn(table, col);
    }
    return col;
  }

  private pushColumn(table: TableState, col: ColumnDef): void {
    col.index = table.def.columns.push(col) - 1;
    table.newColumns.push(col);
    this.columnCount++;
  }

  /** Whether a field the spec does not declare may add `columns` columns to the table (MAX_TABLE_COLUMNS). */
  hasRoomForColumns(table: TableState, columns = 1): boolean {
    return table.def.columns.length + columns <= MAX_TABLE_COLUMNS && this.columnCount + columns <= MAX_RESOURCE_COLUMNS;
  }

  /** Whether such a field may add a child table (its system columns and a first column). */
  hasRoomForTable(): boolean {
    return this.columnCount + CHILD_SYSTEM_COLUMNS.length + 1 <= MAX_RESOURCE_COLUMNS;
  }

  /**
   * Whether the table has its `_overflow` column (made by a value that found no room, in this load or a stored one): a
   * value without room goes there, adding nothing to the schema.
   */
  hasOverflowColumn(table: TableState): boolean {
    return table.row.variants?.has('json') === true;
  }

  addChildTable(parent: TableState, node: FieldNode, depth: number): TableState {
    const base = joinPath([parent.def.name, naturalName(node)]);
    const table = this.newTable(parent, node.key, this.tableNames.allocate(base), depth, parent.lineage + node.key);
    table.sourcePath = listPath(parent, node.path);
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
    // Source keys cannot take the system columns' names, nor the overflow column's (as they were, a source key
    // `_overflow` seen first took it, and the values that found no room went to `_overflow_1`).
    const names = new NameAllocator([...RESERVED_COLUMN_NAMES, OVERFLOW_COLUMN, ...(def.namesInFile ?? [])]);
    const state: TableState = {
      def, isRoot, depth, lineage, isNew: false, newColumns: [], names, row: { path: [], key: ROW_NODE_KEY, kind: 'object' },
    };
    def.columns.forEach((col, i) => (col.index = i));
    this.columnCount += def.columns.length + (isRoot ? ROOT_SYSTEM_COLUMNS : CHILD_SYSTEM_COLUMNS).length;
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
      child.sourcePath = listPath(parent, nodeKeyPath(def.nodeKey));
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
        if (child.column) this.declared.add(child.column);
        if (child.table) this.declared.add(child.table);
      } else if (shape.kind === 'column' && (child.kind !== 'column' || child.column!.type !== shape.type)) {
        this.typeMismatches.push({ table, node: child, declared: shape.type });
      } else if (shape.kind !== 'column' && child.kind === 'column' && child.column!.type === 'json' && depth + 1 <= this.maxNestingDepth) {
        this.keptAsJson.push({ table, column: child.column! });
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

/** Source path of the rows a list at `path` under `parent`'s rows makes: `transcripts[]`, `a[].b[]`, `a[][]`. */
function listPath(parent: TableState, path: readonly string[]): string {
  const base = parent.sourcePath ?? '';
  return `${base}${base !== '' && path.length > 0 ? '.' : ''}${path.join('.')}[]`;
}

/** Column (or child table suffix) name a node gets before collision handling. */
export function naturalName(node: FieldNode): string {
  return node.path.length === 0 ? 'value' : joinPath(node.path.map(snakeCase));
}
