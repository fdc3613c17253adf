// Column types: how JSON Schema maps to DuckDB types, what type an undeclared value gets, and which values
// a column accepts. A value a column does not accept is never coerced lossily and never dropped: the
// normalizer sends it to a variant column instead (see normalizer.ts).

export type ScalarType = 'bigint' | 'double' | 'bool' | 'text' | 'json';
type ListType = 'bigint[]' | 'double[]' | 'bool[]' | 'text[]';
export type DataType = ScalarType | ListType;

export const DUCKDB_TYPES: Record<DataType, string> = {
  bigint: 'BIGINT',
  double: 'DOUBLE',
  bool: 'BOOLEAN',
  text: 'VARCHAR',
  json: 'JSON',
  'bigint[]': 'BIGINT[]',
  'double[]': 'DOUBLE[]',
  'bool[]': 'BOOLEAN[]',
  'text[]': 'VARCHAR[]',
};

export function isDataType(value: string): value is DataType {
  return Object.hasOwn(DUCKDB_TYPES, value);
}

// BIGINT is 64-bit; a JSON integer outside that range would make read_json fail, so it is a DOUBLE.
export const BIGINT_LIMIT = 9_223_372_036_854_775_807;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Type of an undeclared scalar (or of a value sent to a variant column). Objects and arrays are JSON. */
export function inferType(value: unknown): ScalarType {
  switch (typeof value) {
    case 'string':
      return 'text';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(value) && Math.abs(value) < BIGINT_LIMIT ? 'bigint' : 'double';
    case 'bigint':
      // Beyond ±2^53 and within BIGINT's range (normalizeJsValue makes any other BigInt a number or a text).
      return 'bigint';
    default:
      return 'json';
  }
}

/** List column type for an array of scalars, or undefined when its items do not share a type. */
function inferListType(items: readonly unknown[]): ListType | undefined {
  let type: ScalarType | undefined;
  for (const item of items) {
    if (item === null || item === undefined) continue;
    const t = inferType(item);
    if (t === 'json') return undefined;
    if (type === undefined || type === t) type = t;
    else if ((type === 'bigint' && t === 'double') || (type === 'double' && t === 'bigint')) type = 'double';
    else return 'text[]';
  }
  return type === undefined ? undefined : (`${type}[]` as ListType);
}

/**
 * What a new path's first value makes, room permitting: the value's counterpart of DeclaredShape, maxNestingDepth
 * applied. The one statement of these rules: the normalizer makes what it says, the schema contract is asked about
 * it (contract.ts entityOf), and whether there is room for it is judged by its kind (normalizer.ts decide()).
 */
export type NewPathShape =
  /** A list that says nothing (empty, nulls only): nothing is made, the path stays undecided. */
  | { kind: 'nothing' }
  /** An object within the depth, flattened: each of its fields is a new path of its own. */
  | { kind: 'object' }
  /** A scalar, a list of scalars, or an object or list past the depth (JSON). */
  | { kind: 'column'; type: DataType }
  /** A list of objects within the depth. */
  | { kind: 'table' };

// Made once (nothing changes them): a path whose values overflow or say nothing is classified again on every record,
// so a call makes no object.
const NOTHING: NewPathShape = { kind: 'nothing' };
const OBJECT: NewPathShape = { kind: 'object' };
const TABLE: NewPathShape = { kind: 'table' };
const COLUMN = Object.fromEntries(Object.keys(DUCKDB_TYPES).map((type) => [type, { kind: 'column', type }])) as Record<DataType, NewPathShape>;

/** `depth`: that of the object holding the value (a root record's fields are at 0). */
export function newPathShape(value: unknown, depth: number, maxNestingDepth: number): NewPathShape {
  const withinDepth = depth + 1 <= maxNestingDepth;
  if (isPlainObject(value)) return withinDepth ? OBJECT : COLUMN.json;
  if (!Array.isArray(value)) return COLUMN[inferType(value)];
  if (value.some((v) => typeof v === 'object' && v !== null)) return withinDepth ? TABLE : COLUMN.json;
  const listType = inferListType(value);
  return listType === undefined ? NOTHING : COLUMN[listType];
}

/** Sentinel for "this column does not accept the value". */
export const REJECT: unique symbol = Symbol('reject');

/**
 * The value as it is staged for a column of `type`, or REJECT. Accepted: exact types; any number in a
 * DOUBLE; numbers and booleans in VARCHAR (their text is exact); "true"/"false" in BOOLEAN (LooseBoolean);
 * anything in JSON; arrays whose items all fit a list column.
 */
export function coerce(value: unknown, type: DataType): unknown {
  switch (type) {
    case 'text':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
      return REJECT;
    case 'bigint':
      // A BigInt here is in BIGINT's range (normalizeJsValue): staged as its digits (stringifyValue).
      if (typeof value === 'bigint') return value;
      return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) < BIGINT_LIMIT ? value : REJECT;
    case 'double':
      // Not a BigInt: a double would round it; it goes to a __v_bigint variant, exact.
      return typeof value === 'number' ? value : REJECT;
    case 'bool':
      if (typeof value === 'boolean') return value;
      if (value === 'true') return true;
      if (value === 'false') return false;
      return REJECT;
    case 'json':
      return value;
    default: {
      if (!Array.isArray(value)) return REJECT;
      const itemType = type.slice(0, -2) as ScalarType;
      const out: unknown[] = new Array(value.length);
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (item === null || item === undefined) {
          out[i] = null;
          continue;
        }
        const c = coerce(item, itemType);
        if (c === REJECT) return REJECT;
        out[i] = c;
      }
      return out;
    }
  }
}

/** What a JSON Schema property declares, in loader terms. */
export type DeclaredShape =
  | { kind: 'column'; type: DataType }
  | { kind: 'object'; properties: Record<string, JsonSchema> }
  | { kind: 'table'; items: JsonSchema };

export type JsonSchema = { [key: string]: unknown };

/**
 * Reads the spec's JSON Schema (3.1: `type` arrays with 'null', `oneOf` for LooseBoolean) into a shape.
 * No type at all (`{}`, e.g. transcripts[].translations) means any JSON value → JSON column.
 */
export function declaredShape(schema: JsonSchema): DeclaredShape {
  const types = schemaTypes(schema);
  if (types.size === 0) return { kind: 'column', type: 'json' };
  if (types.size === 1) {
    const [only] = types;
    if (only === 'object') return { kind: 'object', properties: composedProperties(schema) };
    if (only === 'array') {
      const items = composedItems(schema);
      const itemTypes = schemaTypes(items);
      if (itemTypes.size === 1 && itemTypes.has('object')) return { kind: 'table', items };
      const itemScalar = scalarTypeOf(itemTypes);
      if (itemScalar && itemScalar !== 'json') return { kind: 'column', type: `${itemScalar}[]` as ListType };
      return { kind: 'column', type: 'json' };
    }
  }
  return { kind: 'column', type: scalarTypeOf(types) ?? 'json' };
}

function scalarTypeOf(types: ReadonlySet<string>): ScalarType | undefined {
  if (types.size === 0) return undefined;
  if (types.has('object') || types.has('array')) return 'json';
  if (types.size === 1) {
    const [only] = types;
    if (only === 'integer') return 'bigint';
    if (only === 'number') return 'double';
    if (only === 'boolean' || only === 'loose-bool') return 'bool';
    if (only === 'string') return 'text';
    return 'json';
  }
  if ([...types].every((t) => t === 'integer' || t === 'number')) return 'double';
  // A LooseBoolean is `oneOf: [boolean, string enum ["true","false"]]`; it arrives here as {boolean, loose-bool}.
  if ([...types].every((t) => t === 'boolean' || t === 'loose-bool')) return 'bool';
  // Mixed scalars (e.g. age: string | integer): text holds every one of them exactly.
  return 'text';
}

/** The JSON types a schema admits, without 'null'; a string enum of exactly "true"/"false" is 'loose-bool'. */
function schemaTypes(schema: JsonSchema): Set<string> {
  const out = new Set<string>();
  const t = schema.type;
  if (typeof t === 'string') out.add(t);
  else if (Array.isArray(t)) for (const x of t) if (typeof x === 'string') out.add(x);
  if (out.has('string') && Array.isArray(schema.enum) && schema.enum.length > 0 &&
      schema.enum.every((v) => v === 'true' || v === 'false')) {
    out.delete('string');
    out.add('loose-bool');
  }
  // allOf too: its branches usually split one type over several schemas (a $ref plus a description), so the
  // union of what they name is that type.
  for (const b of branches(schema)) for (const x of schemaTypes(b)) out.add(x);
  out.delete('null');
  return out;
}

/** The allOf/oneOf/anyOf branches of a schema. */
function branches(schema: JsonSchema): JsonSchema[] {
  return COMPOSITIONS.flatMap((key) => (Array.isArray(schema[key]) ? (schema[key] as unknown[]).filter(isPlainObject) : []));
}

const COMPOSITIONS = ['allOf', 'oneOf', 'anyOf'] as const;

/**
 * The properties an object schema declares, its branches' included: the generator inlines every $ref but keeps
 * compositions, so a spec that splits a record into `allOf: [{$ref: Core}, …]` or makes it nullable with
 * `oneOf: [{$ref: Widget}, {type: 'null'}]` (both accepted by `npm run generate`) declares its fields there. Read
 * only at the top level, they were lost: no declared column was created and a primaryKey override was not checked.
 * A field declared in several branches gets each of its schemas (as allOf: its types are their union, see above).
 */
function composedProperties(schema: JsonSchema): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  const add = (properties: unknown) => {
    if (!isPlainObject(properties)) return;
    for (const [key, value] of Object.entries(properties)) {
      if (!isPlainObject(value)) continue;
      out[key] = Object.hasOwn(out, key) ? { allOf: [out[key]!, value] } : value;
    }
  };
  add(schema.properties);
  // Bounded by the schema's own nesting (inlined $refs leave no cycles).
  for (const b of branches(schema)) add(composedProperties(b));
  return out;
}

/** The `items` schema of an array schema, or of the first of its branches that has one; {} when none does. */
function composedItems(schema: JsonSchema): JsonSchema {
  if (isPlainObject(schema.items)) return schema.items;
  for (const b of branches(schema)) {
    const items = composedItems(b);
    if (Object.keys(items).length > 0) return items;
  }
  return {};
}
