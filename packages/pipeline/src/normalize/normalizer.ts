// Turns one resource's records into flat rows: nested objects become `a__b` columns, lists of objects become
// child tables, lists of scalars become DuckDB list columns. Every source path is decided once (column,
// flattened object or child table) — from the spec's schema where it declares the path, else from the first
// non-empty value — and a later value that does not fit goes to a variant column `<col>__v_<type>`.
import { DISCARD_ROW, SchemaContract, entityOf, type ContractDiscards, type SchemaContractModes } from './contract.js';
import { listFitsColumns, recordFitsColumns } from './fast-path.js';
import { rootTableName } from './naming.js';
import { asJson, asStored, holdsNoValue, normalizeJsValue, storesNothing, stringifyJson } from './js-values.js';
import { childRowId, md5, rootRowId, serializeRow, type RowSink, type StagedKind } from './row-line.js';
import { ELEMENT_NODE_KEY, cloneTableDef, type ColumnDef, type TableDef } from './schema.js';
import { schemaReport, type SchemaReport } from './schema-report.js';
import { TableTree, declaredShapeProperties, fieldNode, type FieldNode, type TableState } from './table-tree.js';
import { REJECT, coerce, inferType, isPlainObject, newPathShape, type JsonSchema } from './types.js';

export interface NormalizerOptions {
  resource: string;
  /** The catalog's `recordSchema`; declared columns and child tables are created from it. */
  recordSchema: JsonSchema;
  /**
   * Source field names the root `_row_id` is a hash of, so merges and reruns keep ids; only for merges. Empty: ids
   * unique per load.
   */
  primaryKey: readonly string[];
  /** Objects and lists nested deeper than this are stored in one JSON column. */
  maxNestingDepth: number;
  /** Makes `_row_id`s of records without a primary key unique to this writer. */
  rowIdSalt: string;
  /** false stages every row one by one (the fast paths of fast-path.ts are on by default). */
  fastPath?: boolean;
  /** Stage a `keys` line per record (see StagedKind): only a merge needs them. */
  stageKeys?: boolean;
  /** What the load may add to the resource's tables (contract.ts); default evolve, everything. */
  schemaContract?: SchemaContractModes;
  /** `--refresh`: the tables are built anew, not on the stored ones (the contract's refusals say so). */
  refresh?: boolean;
}

export type { FieldNode, TableState } from './table-tree.js';
export { childRowId, rootRowId, type RowSink, type StagedKind } from './row-line.js';

/**
 * Most items a fast-path list line holds. DuckDB's JSON reader parses 2,048 lines at a time, so the items of one
 * chunk, all parsed into vectors at once, are 2,048 times this: one case of 130,000 transcript entries staged as one
 * line, or 100 cases of 2,000 on one page, failed the commit out of memory at the default limit (192MB), where lines
 * of up to 50 small items load 1M rows. Ordinary lists (a few to a few dozen items) stay one line.
 */
const LIST_LINE_ITEMS = 32;

/** Column values of a row being built, by column position (ColumnDef.index). */
type RowValues = unknown[];

interface RowIdentity {
  id?: string;
  parentId: string;
  lineage: string;
  idx: number;
}

export class ResourceNormalizer {
  private readonly opts: NormalizerOptions;
  private readonly tree: TableTree;
  private currentSeq = 0;
  /** `_row_id` of the record being normalized, carried by every child line as `#r`. */
  private currentRootId = '';
  /** Child-list keys and values of the record being staged, hidden while it is stringified (see stringifyOwn). */
  private readonly hiddenLists: unknown[] = [];
  readonly root: TableState;
  /** Records normalized without a primary-key value (merges only; they are matched by content). */
  keylessRecords = 0;
  /** Values kept in a table's `_overflow` column, their table having no room for another column. */
  overflowValues = 0;
  /** Values put in each variant column (schema-report.ts says where they went). */
  readonly variantValues = new Map<ColumnDef, number>();
  /** Set when the contract is not evolve for every entity: then it is asked before anything is added. */
  private readonly contract: SchemaContract | undefined;
  /** With a discard_row contract: the record's staged lines (table, line, kind), held until the record is whole. */
  private readonly heldLines: Array<[TableState, string, StagedKind | undefined]> = [];
  /** With a discard_row contract: the variant columns the record put values in, so a dropped record uncounts them. */
  private heldVariants: ColumnDef[] | undefined;

  /**
   * @param stored tables of this resource as stored in the dataset (copied; this writer's additions stay
   *   local until commit)
   * @param takenTableNames every table name already used in the dataset
   */
  constructor(opts: NormalizerOptions, stored: readonly TableDef[], takenTableNames: Iterable<string>) {
    this.opts = opts;
    const tree = (this.tree = new TableTree(opts.resource, opts.maxNestingDepth, takenTableNames));
    const storedRoot = stored.find((t) => t.parent === null);
    this.root = storedRoot
      ? tree.adoptTable(cloneTableDef(storedRoot), true, 0, '')
      : tree.newTable(null, null, rootTableName(opts.resource), 0, '');
    tree.adoptChildren(this.root, stored);
    tree.declare(this.root, this.root.row, declaredShapeProperties(opts.recordSchema), 0);
    const modes = opts.schemaContract;
    if (modes && Object.values(modes).some((m) => m !== 'evolve')) this.contract = new SchemaContract(opts.resource, modes, opts.refresh === true);
  }

  /** What the contract left out of this load, when anything. */
  contractDiscards(): ContractDiscards | undefined {
    return this.contract?.discards();
  }

  /** Tables in creation order (parents before children). */
  tables(): readonly TableState[] {
    return this.tree.allTables;
  }

  /** What this load changes in the resource's tables that the user should hear of; call before commit. */
  schemaReport(): SchemaReport {
    return schemaReport(this.tree, this.variantValues);
  }

  /**
   * Normalizes one record; `seq` orders records within the load (the last duplicate wins a merge). False when the
   * schema contract left it out (discard_row): nothing of it was staged.
   */
  normalize(record: Record<string, unknown>, seq: number, sink: RowSink): boolean {
    const contract = this.contract;
    if (contract === undefined) {
      this.normalizeRecord(record, seq, sink);
      return true;
    }
    if (!contract.discardsRows) {
      this.normalizeRecord(record, seq, sink);
      contract.recordKept();
      return true;
    }
    // A record is dropped whole, though its child rows are made before the root row: its lines wait for its end.
    const held = this.heldLines;
    held.length = 0;
    const counts = { keyless: this.keylessRecords, overflow: this.overflowValues };
    const variants: ColumnDef[] = (this.heldVariants = []);
    try {
      this.normalizeRecord(record, seq, (table, line, kind) => held.push([table, line, kind]));
    } catch (error) {
      if (error !== DISCARD_ROW) throw error;
      this.keylessRecords = counts.keyless;
      this.overflowValues = counts.overflow;
      for (const col of variants) this.variantValues.set(col, this.variantValues.get(col)! - 1);
      return false;
    } finally {
      this.heldVariants = undefined;
    }
    for (const [table, line, kind] of held) sink(table, line, kind);
    held.length = 0;
    contract.recordKept();
    return true;
  }

  private normalizeRecord(record: Record<string, unknown>, seq: number, sink: RowSink): void {
    this.currentSeq = seq;
    const pk = this.opts.primaryKey;
    let rowId: string;
    const pkValues = pk.map((k) => record[k]);
    if (pk.length > 0 && pkValues.every((v) => v !== null && v !== undefined)) {
      rowId = rootRowId(this.opts.resource, pkValues);
    } else if (pk.length > 0) {
      this.keylessRecords++;
      // A merged record without a key value is identified by its content, so a rerun that reads it again does not
      // add it again (a per-load id would duplicate it on every run). Changed content is a new record.
      rowId = md5(`${this.opts.resource}|content|${JSON.stringify(record, asStored)}`);
    } else {
      // Without a key the row cannot be matched across runs anyway; the id only has to be unique.
      rowId = md5(`${this.opts.rowIdSalt}|${seq}`);
    }
    this.currentRootId = rowId;
    if (this.opts.stageKeys) sink(this.root, `{"#id":"${rowId}","#s":${seq}}`, 'keys');
    const identity: RowIdentity = { id: rowId, parentId: '', lineage: '', idx: 0 };
    if (this.opts.fastPath !== false && recordFitsColumns(this.root.row, record)) {
      // The root row as the record itself, minus the child lists, which go their own way.
      sink(this.root, `{"#id":"${rowId}","#s":${seq},"r":${this.stringifyOwn(record, identity, sink)}}`, 'record');
      return;
    }
    const row: RowValues = [];
    this.fillObject(this.root, this.root.row, record, row, 0, identity, sink);
    sink(this.root, serializeRow(this.opts.resource, this.root, `{"#id":"${rowId}","#s":${seq}`, row));
  }

  /**
   * JSON of a fitting record without its child lists, after emitting them. The lists are hidden for the moment of
   * JSON.stringify (undefined values are left out) and put back, rather than copying every other field into a new
   * object (measured: 7 % of the normalizer's time). Null and unknown keys may stay in the text: the SQL side reads
   * only the struct fields it declares, by exact name. A record that refuses the write (frozen) or is not a plain
   * object gets the copy.
   */
  private stringifyOwn(record: Record<string, unknown>, identity: RowIdentity, sink: RowSink): string {
    const fields = this.root.row.fields!;
    const lists = this.hiddenLists;
    lists.length = 0;
    // The same (own) keys recordFitsColumns() checked.
    for (const key of Object.keys(record)) {
      const value = record[key];
      if (value === null || value === undefined) continue;
      const node = fields.get(key)!;
      if (node.kind === 'table') {
        this.emitChildren(node.table!, value as unknown[], identity, sink);
        lists.push(key, value);
      }
    }
    // An object of another class could bring its own toJSON(); JSON.parse gives plain objects, map steps may not.
    const proto: unknown = Object.getPrototypeOf(record);
    if (proto === Object.prototype || proto === null) {
      if (lists.length === 0) return stringifyJson(record);
      let hidden = 0;
      try {
        for (; hidden < lists.length; hidden += 2) record[lists[hidden] as string] = undefined;
        return stringifyJson(record);
      } catch {
        // Frozen or read-only: copied below.
      } finally {
        for (let i = 0; i < hidden; i += 2) record[lists[i] as string] = lists[i + 1];
      }
    }
    const own: Record<string, unknown> = {};
    for (const key of Object.keys(record)) if (!lists.includes(key)) own[key] = record[key];
    return stringifyJson(own);
  }

  private fillObject(
    table: TableState, node: FieldNode, obj: Record<string, unknown>, row: RowValues, depth: number,
    identity: RowIdentity, sink: RowSink,
  ): void {
    for (const key of Object.keys(obj)) {
      const source = obj[key];
      const value = normalizeJsValue(source);
      if (value === null || value === undefined) continue;
      const child = fieldNode(node, key);
      const decided = child.kind !== undefined;
      try {
        this.place(table, child, value, row, depth, identity, sink, source);
      } finally {
        // A path left undecided (its value overflowed or said nothing) is not kept, nor an object its value made that
        // holds nothing (`{}`, nulls, fields that overflowed): a map keyed by ids would otherwise hold a node per id
        // for the rest of the run. Neither is stored, so the next run does not know them either, and decides them
        // alike. Also when a contract drops the record midway (DISCARD_ROW): an object left empty would take the next
        // record's scalar there as a variant, never asked about as the new column it is.
        if (child.kind === undefined || (!decided && child.kind === 'object' && !child.fields?.size)) node.fields!.delete(key);
      }
    }
  }

  /** `source`: the value before normalizeJsValue(), which a JSON value takes (see asJson). */
  private place(
    table: TableState, node: FieldNode, value: unknown, row: RowValues, depth: number,
    identity: RowIdentity, sink: RowSink, source: unknown,
  ): void {
    if (node.kind === undefined) {
      const decided = this.decide(table, node, value, depth);
      if (decided === 'no room') return this.putOverflow(table, node, asJson(value, source), row);
      if (!decided) return;
    }
    // A value the path's column, object or table does not take goes to a variant, unless it holds nothing (`[]`,
    // `{}`, nulls): at a path not decided yet it would store nothing, so it stores nothing here either, whichever
    // came first (a rerun, its paths decided by the first load, stored such a record anew with a new variant).
    if (node.kind === 'column') {
      const col = node.column!;
      const staged = coerce(col.type === 'json' ? asJson(value, source) : value, col.type);
      if (staged !== REJECT) row[col.index!] = staged;
      else this.putVariantUnlessEmpty(table, node, value, row, depth, source);
    } else if (node.kind === 'object') {
      if (isPlainObject(value)) this.fillObject(table, node, value, row, depth + 1, identity, sink);
      else this.putVariantUnlessEmpty(table, node, value, row, depth, source);
    } else if (Array.isArray(value)) {
      this.emitChildren(node.table!, value, identity, sink);
    } else {
      this.putVariantUnlessEmpty(table, node, value, row, depth, source);
    }
  }

  private putVariantUnlessEmpty(table: TableState, node: FieldNode, value: unknown, row: RowValues, depth: number, source: unknown): void {
    if (!storesNothing(value, this.opts.maxNestingDepth - depth - 1)) this.putVariant(table, node, value, row, source);
  }

  /**
   * Fixes what a new path is from its first value; false when the value says nothing (empty list, all nulls), 'no
   * room' when the column or table it needs would pass MAX_TABLE_COLUMNS / MAX_RESOURCE_COLUMNS (the path stays
   * undecided: a later value gets the same answer, since tables do not shrink).
   */
  private decide(table: TableState, node: FieldNode, value: unknown, depth: number): boolean | 'no room' {
    const shape = newPathShape(value, depth, this.opts.maxNestingDepth);
    if (shape.kind === 'nothing') return false;
    const tree = this.tree;
    // A list item's own node (items of a list that are not objects) is exempt: one per table, so it cannot multiply.
    // A flattened object needs column room too: without, it would only overflow field by field.
    const room = node === table.element || (shape.kind === 'table' ? tree.hasRoomForTable() : tree.hasRoomForColumns(table));
    // Without room, an object overflows whole, unless it holds no value (`{}`, nulls), which field by field, with
    // room, stores nothing. Nothing is added then, so nothing is asked.
    if (!room && isPlainObject(value) && holdsNoValue(value)) return false;
    const entity = this.contract && this.addsToSchema(table, room) ? entityOf(shape) : undefined;
    // A primary-key field's column (a map step may set it) is the config's: the key a merge matches records on is stored.
    const keyColumn = entity === 'columns' && table.isRoot && node.path.length === 1 && this.opts.primaryKey.includes(node.path[0]!);
    // Asked first: a field the contract keeps out must not take room (or make `_overflow`) either.
    if (entity && !keyColumn && !this.contract!.allows(entity, table, node, value, this.newUndeclared(table))) return false;
    if (!room) return 'no room';
    if (shape.kind === 'object') node.kind = 'object';
    else if (shape.kind === 'table') tree.addChildTable(table, node, depth + 1);
    else tree.addColumn(table, node, shape.type);
    return true;
  }

  private emitChildren(table: TableState, items: unknown[], parent: RowIdentity, sink: RowSink): void {
    if (table.depth === 1 && this.opts.fastPath !== false && listFitsColumns(table, items)) {
      // A list without an item makes no row: staged, it would name its table in the load's row counts (with 0),
      // where the row path stages nothing.
      if (!items.some((item) => item !== null && item !== undefined)) return;
      const head = `{"#r":"${this.currentRootId}","#s":${this.currentSeq}`;
      if (items.length <= LIST_LINE_ITEMS) {
        sink(table, `${head},"l":${stringifyJson(items)}}`, 'list');
        return;
      }
      // A long list (a chat open for days) in lines of LIST_LINE_ITEMS, each with the index of its first item.
      for (let start = 0; start < items.length; start += LIST_LINE_ITEMS) {
        sink(table, `${head},"#o":${start},"l":${stringifyJson(items.slice(start, start + LIST_LINE_ITEMS))}}`, 'list');
      }
      return;
    }
    const parentId = (parent.id ??= childRowId(parent.parentId, parent.lineage, parent.idx));
    // A child of the root has its parent's id in `#r`; deeper rows carry the parent id too.
    const root = `"#r":"${this.currentRootId}","#s":${this.currentSeq},"#i":`;
    const head = table.depth === 1 ? `{${root}` : `{"#p":"${parentId}",${root}`;
    for (let idx = 0; idx < items.length; idx++) {
      const source = items[idx];
      const item = normalizeJsValue(source);
      if (item === null || item === undefined) continue;
      const row: RowValues = [];
      const identity: RowIdentity = { parentId, lineage: table.lineage, idx };
      if (isPlainObject(item)) {
        this.fillObject(table, table.row, item, row, table.depth, identity, sink);
      } else {
        table.element ??= { path: [], key: ELEMENT_NODE_KEY };
        this.place(table, table.element, item, row, table.depth, identity, sink, source);
      }
      sink(table, serializeRow(this.opts.resource, table, head + idx, row));
    }
  }

  private putVariant(table: TableState, node: FieldNode, value: unknown, row: RowValues, source: unknown): void {
    const type = inferType(value);
    // A variant column the dataset has (or this load made under evolve) is the schema's: only a new one needs room or
    // is asked for. A list item's variants are at most one per type; any other node's need room like a new field's.
    const isNew = node.variants?.has(type) !== true;
    const room = !isNew || node === table.element || this.tree.hasRoomForColumns(table);
    const contract = this.contract;
    if (contract && isNew && this.addsToSchema(table, room) && !contract.allows('dataType', table, node, value, this.newUndeclared(table))) return;
    if (!room) {
      this.putOverflow(table, node, asJson(value, source), row);
      return;
    }
    const col = this.tree.variantColumn(table, node, type);
    row[col.index!] = coerce(type === 'json' ? asJson(value, source) : value, type);
    this.variantValues.set(col, (this.variantValues.get(col) ?? 0) + 1);
    this.heldVariants?.push(col);
  }

  /**
   * Whether a new path's or variant's value adds to the tables, so the contract is asked: with room, its column or
   * table; without, it goes to the row's `_overflow`, which is new only on a table that has none yet (what an evolve
   * load kept in `_overflow` is taken).
   */
  private addsToSchema(table: TableState, room: boolean): boolean {
    return room || !this.tree.hasOverflowColumn(table);
  }

  /** A child table this load makes that the spec does not declare: its columns are not the contract's (contract.ts). */
  private newUndeclared(table: TableState): boolean {
    return table.isNew && !table.isRoot && !this.tree.declared.has(table);
  }

  /**
   * A value with no room for its column (see MAX_TABLE_COLUMNS): kept under its source path in the row's
   * `_overflow` JSON object, so the row's columns and that object together still hold the whole record.
   */
  private putOverflow(table: TableState, node: FieldNode, value: unknown, row: RowValues): void {
    const col = this.tree.variantColumn(table, table.row, 'json');
    // Objects without a prototype: a source key `__proto__` or `constructor` is a key like any other here.
    let target = (row[col.index!] ??= Object.create(null)) as Record<string, unknown>;
    const path = node.path;
    for (let i = 0; i < path.length - 1; i++) target = (target[path[i]!] ??= Object.create(null)) as Record<string, unknown>;
    target[path[path.length - 1]!] = value;
    this.overflowValues++;
  }
}
