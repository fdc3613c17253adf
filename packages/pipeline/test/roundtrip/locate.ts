// Finds every leaf of every served case in a loaded DuckDB file, through the loader's own name mapping
// (`_pipeline_tables`, `_pipeline_columns`: source path → table, column, variants), and says what differs. Written
// apart from hostile.ts's reconstruction on purpose: it walks the truth, not the tables, and then asks that every
// stored value was reached (nothing stored that the API did not send).
//
// Equality, and the lossy spots NORMALIZATION.md (Types) states: a lone surrogate is stored as U+FFFD (texts and
// keys: String.prototype.toWellFormed); -0 is 0; a number or boolean in a VARCHAR is its JS text (String());
// `"true"`/`"false"` in a BOOLEAN is the boolean; an integer beyond ±2^53 is exact (BIGINT, or text past BIGINT's
// range); 1e400 is Infinity. Nulls are not stored: a null (or a list or object of nothing but nulls) needs no place.
import { DuckDBInstance } from '@duckdb/node-api';
import { parseKeepingLargeIntegers } from 'snapengage-client';

type Row = Record<string, unknown>;
interface Column { name: string; type: string }
interface Node { main?: Column; variants: Column[] }
interface Table { name: string; nodes: Map<string, Node>; children: Map<string, string>; rows: Row[]; byParent: Map<string, Row[]> }

const SYSTEM_COLUMNS = new Set(['_row_id', '_load_id', '_parent_id', '_root_id', '_list_idx']);
const OVERFLOW_NODE = 'd[]';
const ELEMENT_NODE = 'e';
/** Stands for a row's own object in check(): it has no node key (`d[]` is the row's `_overflow`). */
const ROW_OBJECT = '(row)';
const wellFormed = (s: string) => (s as unknown as { toWellFormed(): string }).toWellFormed();
const isObject = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown) => {
  const text = JSON.stringify(v, (_, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  return text.length > 120 ? `${text.slice(0, 120)}… (${text.length} chars)` : text;
};

/** Node keys compared with lone surrogates as U+FFFD, however the loader wrote them (the path's keys are `d` + JSON). */
function wellFormedNodeKey(key: string): string {
  return key.startsWith('d[') ? `d${JSON.stringify((JSON.parse(key.slice(1)) as string[]).map(wellFormed))}` : key;
}

/** A value that needs no place: null, or lists and objects holding nothing but such values. */
function holdsNothing(v: unknown): boolean {
  if (v === null || v === undefined) return true;
  if (Array.isArray(v)) return v.every(holdsNothing);
  if (isObject(v)) return Object.values(v).every(holdsNothing);
  return false;
}

/** Is the stored scalar `got` the served scalar `want`, in a column of DuckDB type `type`? */
function sameScalar(want: unknown, got: unknown, type: string): boolean {
  if (typeof want === 'string') want = wellFormed(want);
  if (typeof got === 'bigint') return (typeof want === 'bigint' || (typeof want === 'number' && Number.isInteger(want))) && BigInt(want) === got;
  if (typeof got === 'number') return typeof want === 'number' && want === got; // -0 === 0
  if (typeof got === 'boolean') return want === got || (type === 'BOOLEAN' && (want === 'true' || want === 'false') && String(got) === want);
  if (typeof got === 'string') return typeof want !== 'object' || want === null ? String(want) === got : false;
  return false;
}

/** Deep equality of a served value and a stored JSON value (parsed keeping large integers). */
function sameJson(want: unknown, got: unknown): boolean {
  if (Array.isArray(want)) return Array.isArray(got) && want.length === got.length && want.every((w, i) => sameJson(w, got[i]));
  if (isObject(want)) {
    if (!isObject(got)) return false;
    const wantKeys = Object.keys(want);
    const gotKeys = new Set(Object.keys(got));
    return wantKeys.length === gotKeys.size && wantKeys.every((k) => gotKeys.has(wellFormed(k)) && sameJson(want[k], got[wellFormed(k)]));
  }
  if (want === null) return got === null;
  if (typeof want === 'string') return wellFormed(want) === got;
  if (typeof want === 'bigint' || typeof got === 'bigint') return typeof want === typeof got && want === got;
  return want === got; // numbers (-0 === 0, Infinity from 1e999) and booleans
}

function sameStored(want: unknown, got: unknown, type: string): boolean {
  if (type === 'JSON') return sameJson(want, parseKeepingLargeIntegers(String(got)));
  if (type.endsWith('[]')) {
    const element = type.slice(0, -2);
    return Array.isArray(want) && Array.isArray(got) && want.length === got.length && want.every((w, i) => (w === null ? got[i] === null : sameScalar(w, got[i], element)));
  }
  return sameScalar(want, got, type);
}

export interface Located {
  problems: string[];
  /**
   * Ids of cases with an empty list (or one of nulls) stored as NULL in a list or JSON column: the column came after
   * it (a later case decided it), and a rerun stores it as `[]` (NORMALIZATION.md, Tables), so those may be rewritten.
   */
  emptyListsBeforeTheirColumn: Set<string>;
  /** Rows per data table, for the rerun's comparison. */
  rowCounts: Record<string, number>;
}

/**
 * Checks the `logs` tables of `path` against `cases` (as served, parsed keeping large integers): each id once, each
 * leaf in its column, a variant, `_overflow` or a JSON column with an equal value, child rows as the list's non-null
 * items in `_list_idx` order, and no stored value or child row that no served value accounts for.
 */
export async function locateCases(path: string, dataset: string, cases: Row[]): Promise<Located> {
  const problems: string[] = [];
  const tables = await readTables(path, dataset);
  const root = tables.get('logs');
  if (!root) return { problems: ['no logs table'], rowCounts: {}, emptyListsBeforeTheirColumn: new Set() };
  const emptyListsBeforeTheirColumn = new Set<string>();
  let currentCase = '';
  const reached = new Set<string>(); // `${table}|${_row_id}|${column}` of every stored cell a served value accounts for
  const rowsReached = new Set<string>(); // `${table}|${_row_id}`

  const cell = (table: Table, row: Row, column: string) => `${table.name}|${String(row._row_id)}|${column}`;
  const nodeOf = (table: Table, key: string) => table.nodes.get(key);
  const keyOf = (pathKeys: readonly string[]) => `d${JSON.stringify(pathKeys.map(wellFormed))}`;

  /** The served value at `pathKeys` inside the row's `_overflow` object, if it went there. */
  const fromOverflow = (table: Table, row: Row, pathKeys: readonly string[]): { found: boolean; value?: unknown } => {
    const column = nodeOf(table, OVERFLOW_NODE)?.variants[0];
    const text = column ? row[column.name] : null;
    if (text === null || text === undefined) return { found: false };
    reached.add(cell(table, row, column!.name));
    let at: unknown = parseKeepingLargeIntegers(String(text));
    for (const key of pathKeys) {
      if (!isObject(at) || !Object.hasOwn(at, wellFormed(key))) return { found: false };
      at = at[wellFormed(key)];
    }
    return { found: true, value: at };
  };

  const check = (table: Table, row: Row, pathKeys: readonly string[], nodeKey: string, want: unknown, where: string): void => {
    if (problems.length > 30 || want === null || want === undefined) return;
    const node = nodeOf(table, nodeKey);
    const held = node ? [node.main, ...node.variants].filter((c): c is Column => c !== undefined && row[c.name] !== null && row[c.name] !== undefined) : [];
    if (held.length > 1) problems.push(`${where}: held by ${held.map((c) => c.name).join(' and ')}`);
    if (held.length >= 1) {
      const column = held[0]!;
      reached.add(cell(table, row, column.name));
      if (!sameStored(want, row[column.name], column.type)) problems.push(`${where}: want ${show(want)}, got ${show(row[column.name])} in ${table.name}.${column.name} (${column.type})`);
      return;
    }
    if (isObject(want)) {
      for (const key of Object.keys(want)) check(table, row, [...pathKeys, key], keyOf([...pathKeys, key]), want[key], `${where}.${JSON.stringify(key)}`);
      return;
    }
    const childName = Array.isArray(want) ? table.children.get(nodeKey) : undefined;
    if (childName !== undefined) return checkChildren(tables.get(childName)!, row, want as unknown[], where);
    if (holdsNothing(want)) {
      if (Array.isArray(want) && node?.main && (node.main.type.endsWith('[]') || node.main.type === 'JSON')) emptyListsBeforeTheirColumn.add(currentCase);
      return;
    }
    const overflow = nodeKey === ELEMENT_NODE ? { found: false } : fromOverflow(table, row, pathKeys);
    if (!overflow.found) problems.push(`${where}: ${show(want)} is stored nowhere (table ${table.name})`);
    else if (!sameJson(want, overflow.value)) problems.push(`${where}: want ${show(want)}, got ${show(overflow.value)} in ${table.name}._overflow`);
  };

  const checkChildren = (child: Table, parent: Row, items: unknown[], where: string): void => {
    const stored = child.byParent.get(String(parent._row_id)) ?? [];
    // Null items make no row; `_list_idx` keeps each item's place in the served list.
    const expected = items.flatMap((item, index) => (item === null ? [] : [{ item, index }]));
    if (stored.length !== expected.length) {
      problems.push(`${where}: ${expected.length} non-null items, ${stored.length} rows in ${child.name}`);
      return;
    }
    expected.forEach(({ item, index }, i) => {
      const row = stored[i]!;
      rowsReached.add(`${child.name}|${String(row._row_id)}`);
      if (Number(row._list_idx) !== index) problems.push(`${where}[${index}]: at _list_idx ${String(row._list_idx)} in ${child.name}`);
      if (isObject(item)) check(child, row, [], ROW_OBJECT, item, `${where}[${index}]`);
      else check(child, row, [], ELEMENT_NODE, item, `${where}[${index}]`);
    });
  };

  const byId = new Map<string, Row[]>();
  for (const row of root.rows) byId.set(String(row.id), [...(byId.get(String(row.id)) ?? []), row]);
  for (const [id, rows] of byId) if (rows.length > 1) problems.push(`case ${id}: ${rows.length} rows in logs`);
  if (root.rows.length !== cases.length) problems.push(`logs has ${root.rows.length} rows, ${cases.length} cases were served`);
  for (const served of cases) {
    const row = byId.get(String(served.id))?.[0];
    if (!row) {
      problems.push(`case ${String(served.id)}: not in logs`);
      continue;
    }
    rowsReached.add(`logs|${String(row._row_id)}`);
    currentCase = String(served.id);
    check(root, row, [], ROW_OBJECT, served, `case ${String(served.id)}`);
  }
  // Nothing stored that no served value accounts for: every child row and every non-null cell was reached.
  for (const table of tables.values()) {
    for (const row of table.rows) {
      if (!rowsReached.has(`${table.name}|${String(row._row_id)}`)) {
        problems.push(`${table.name}: row ${String(row._row_id).slice(0, 8)} (parent ${String(row._parent_id).slice(0, 8)}) belongs to no served value`);
        continue;
      }
      for (const [column, value] of Object.entries(row)) {
        if (SYSTEM_COLUMNS.has(column) || value === null || reached.has(cell(table, row, column))) continue;
        problems.push(`${table.name}.${column} = ${show(value)}: no served value put it there`);
      }
    }
  }
  const rowCounts = Object.fromEntries([...tables.values()].map((t) => [t.name, t.rows.length]));
  return { problems, rowCounts, emptyListsBeforeTheirColumn };
}

/** Every table of the `logs` resource with its rows, its columns by source path and its child tables by path. */
async function readTables(path: string, dataset: string): Promise<Map<string, Table>> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const run = async (sql: string) => (await connection.runAndReadAll(sql)).getRowObjectsJS() as Row[];
      const tables = new Map<string, Table>();
      const parents: Array<[string, string, string]> = [];
      for (const t of await run(`SELECT DISTINCT table_name, parent_table, node_key FROM "${dataset}"._pipeline_tables WHERE resource = 'logs'`)) {
        const name = String(t.table_name);
        tables.set(name, { name, nodes: new Map(), children: new Map(), rows: [], byParent: new Map() });
        if (t.parent_table !== null) parents.push([String(t.parent_table), wellFormedNodeKey(String(t.node_key)), name]);
      }
      for (const [parent, nodeKey, name] of parents) tables.get(parent)?.children.set(nodeKey, name);
      const types = new Map<string, string>();
      for (const c of await run(`SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE schema_name = '${dataset}'`)) types.set(`${c.table_name}|${c.column_name}`, String(c.data_type));
      for (const c of await run(`SELECT DISTINCT table_name, column_name, node_key, variant FROM "${dataset}"._pipeline_columns`)) {
        const table = tables.get(String(c.table_name));
        if (!table) continue;
        const nodeKey = wellFormedNodeKey(String(c.node_key));
        const node = table.nodes.get(nodeKey) ?? { variants: [] };
        const column = { name: String(c.column_name), type: types.get(`${c.table_name}|${c.column_name}`) ?? '?' };
        if (c.variant === null) node.main = column;
        else node.variants.push(column);
        table.nodes.set(nodeKey, node);
      }
      for (const table of tables.values()) {
        table.rows = await run(`SELECT * FROM "${dataset}"."${table.name}"${table.name === 'logs' ? '' : ' ORDER BY _parent_id, _list_idx'}`);
        if (table.name === 'logs') continue;
        for (const row of table.rows) table.byParent.set(String(row._parent_id), [...(table.byParent.get(String(row._parent_id)) ?? []), row]);
      }
      return tables;
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
