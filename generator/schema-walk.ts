// Walks the response schemas of the spec along the dot paths of the `x-snapengage-resource` loading hints
// (dataSelector, paginator.nextUrlPath, primaryKey, incremental.cursorField). One walker serves both the
// cross-checks of validate-spec.ts and the record schemas of the catalog, so what is checked is what is generated.
// Local $refs are followed lazily (a recursive schema is fine as long as the path is finite); a property declared
// in an allOf/anyOf/oneOf branch counts as a property of the schema.
import type { Json } from './validate-spec.js';

const MAX_SCHEMA_DEPTH = 32;
const COMPOSITIONS = ['allOf', 'anyOf', 'oneOf'] as const;

export function resolveLocalRef(spec: Json, ref: string): Json {
  if (!ref.startsWith('#/')) throw new Error(`only local $refs are supported, got ${ref}`);
  return ref.slice(2).split('/').reduce((node: Json, seg) => node?.[seg.replace(/~1/g, '/').replace(/~0/g, '~')], spec);
}

/** A record schema that contains itself: `pointer` is the $ref that leads back, `ref` the schema it leads back to. */
export class RecursiveSchemaError extends Error {
  constructor(readonly pointer: string | undefined, readonly ref: string) {
    super(`the record schema contains itself: ${pointer ?? 'a $ref'} is ${ref}, which contains it`);
    this.name = 'RecursiveSchemaError';
  }
}

/**
 * Inline every local $ref so the catalog's record schemas stand alone. `at` is the JSON pointer of `schema` in the
 * spec (once known: from the first $ref on), `inside` the $refs being inlined around it: meeting one of those again
 * is a recursive schema, which cannot be inlined (nor turned into tables: the loader declares a child table per
 * nested list of the schema).
 */
export function derefSchema(spec: Json, schema: Json, depth = 0, at?: string, inside: readonly string[] = []): Json {
  if (depth > MAX_SCHEMA_DEPTH * 4) throw new Error('schema nesting too deep');
  if (Array.isArray(schema)) return schema.map((s, i) => derefSchema(spec, s, depth + 1, at && `${at}/${i}`, inside));
  if (schema === null || typeof schema !== 'object') return schema;
  if (typeof schema.$ref === 'string') {
    const { $ref, ...rest } = schema;
    if (inside.includes($ref)) throw new RecursiveSchemaError(at && `${at}/$ref`, $ref);
    return derefSchema(spec, { ...resolveLocalRef(spec, $ref), ...rest }, depth + 1, $ref, [...inside, $ref]);
  }
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-') || k === 'examples' || k === 'example') continue;
    out[k] = derefSchema(spec, v, depth + 1, at && `${at}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, inside);
  }
  return out;
}

/** The schema with its $ref (and that one's $ref…) merged in, as derefSchema merges it; `refs` collects them. */
function resolveRefs(spec: Json, schema: Json, refs?: string[]): Json {
  let node = schema;
  for (let hops = 0; node !== null && typeof node === 'object' && typeof node.$ref === 'string'; hops++) {
    if (hops > MAX_SCHEMA_DEPTH) throw new Error('schema nesting too deep (recursive $ref?)');
    const { $ref, ...rest } = node;
    refs?.push($ref);
    node = { ...resolveLocalRef(spec, $ref), ...rest };
  }
  return node;
}

/** The (unresolved) schema of property `name`, looking into allOf/anyOf/oneOf branches; undefined when undeclared. */
function propertyOf(spec: Json, schema: Json, name: string, depth = 0): Json | undefined {
  if (depth > MAX_SCHEMA_DEPTH) throw new Error('schema nesting too deep (recursive $ref?)');
  const s = resolveRefs(spec, schema);
  if (s === null || typeof s !== 'object') return undefined;
  if (s.properties && typeof s.properties === 'object' && Object.hasOwn(s.properties, name)) return s.properties[name];
  for (const keyword of COMPOSITIONS) {
    if (!Array.isArray(s[keyword])) continue;
    const found = s[keyword].map((b: Json) => propertyOf(spec, b, name, depth + 1)).filter((b: Json) => b !== undefined);
    if (found.length === 1) return found[0];
    if (found.length > 1) return keyword === 'allOf' ? { allOf: found } : { anyOf: found };
  }
  return undefined;
}

/** Every property name the schema declares, allOf/anyOf/oneOf branches included. */
function propertyNames(spec: Json, schema: Json, depth = 0, names = new Set<string>()): Set<string> {
  if (depth > MAX_SCHEMA_DEPTH) return names;
  const s = resolveRefs(spec, schema);
  if (s === null || typeof s !== 'object') return names;
  for (const name of Object.keys(s.properties ?? {})) names.add(name);
  for (const keyword of COMPOSITIONS) {
    if (Array.isArray(s[keyword])) for (const b of s[keyword]) propertyNames(spec, b, depth + 1, names);
  }
  return names;
}

type Kind = 'string' | 'number' | 'boolean';

/** JSON Schema types of each kind of value (an integer is a number). */
const KIND_TYPES: Record<Kind, string[]> = { string: ['string'], number: ['number', 'integer'], boolean: ['boolean'] };

/** Whether a value of the schema may be of one of `kinds` (a schema that says nothing may be anything). */
function mayBe(spec: Json, schema: Json, kinds: readonly Kind[], depth = 0): boolean {
  if (depth > MAX_SCHEMA_DEPTH) return true;
  const s = resolveRefs(spec, schema);
  if (s === false) return false;
  if (s === null || typeof s !== 'object') return true;
  const types = kinds.flatMap((k) => KIND_TYPES[k]);
  const isKind = (v: unknown) => kinds.includes(typeof v as Kind);
  if (s.type !== undefined && !(Array.isArray(s.type) ? s.type : [s.type]).some((t: string) => types.includes(t))) return false;
  if ('const' in s && !isKind(s.const)) return false;
  if (Array.isArray(s.enum) && !s.enum.some(isKind)) return false;
  if (Array.isArray(s.allOf) && !s.allOf.every((b: Json) => mayBe(spec, b, kinds, depth + 1))) return false;
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(s[keyword]) && !s[keyword].some((b: Json) => mayBe(spec, b, kinds, depth + 1))) return false;
  }
  return true;
}

function isArraySchema(s: Json): boolean {
  const t = s?.type;
  return t === 'array' || (Array.isArray(t) && t.includes('array'));
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** The candidate a typo of `name` most likely meant (same letters in another case, or up to 2 edits), if any. */
export function nearestName(name: string, candidates: Iterable<string>): string | undefined {
  return [...candidates]
    .map((n) => ({ n, d: n.toLowerCase() === name.toLowerCase() ? 0 : editDistance(n, name) }))
    .filter(({ d }) => d <= Math.min(2, Math.floor(name.length / 3)) || d === 0)
    .sort((x, y) => x.d - y.d)[0]?.n;
}

/**
 * When `schema` is a list (and nothing else): the message for a dot path that goes on into its items, which no dot
 * path does (the loader reads a segment as a property of an object only). Undefined for any other schema.
 */
function intoList(spec: Json, what: string, name: string, schema: Json, listName: string): string | undefined {
  const s = resolveRefs(spec, schema);
  const types = s === null || typeof s !== 'object' ? [] : Array.isArray(s.type) ? s.type : [s.type];
  if (!types.includes('array') || types.some((t: unknown) => t !== 'array' && t !== 'null')) return undefined;
  return `${what} "${name}" cannot be read: "${listName}" is a list, and a dot path does not go into the items of a list`;
}

/** `"<what>" is not a property of <where> (<$ref>); did you mean …? | its properties are …` */
function notAProperty(spec: Json, what: string, name: string, schema: Json, where: string, added: string[] = []): string {
  const refs: string[] = [];
  resolveRefs(spec, schema, refs);
  const names = [...propertyNames(spec, schema), ...added];
  const near = nearestName(name, names);
  const ref = refs.at(-1);
  let message = `${what} "${name}" is not a property of ${where}${ref ? ` (${ref})` : ''}`;
  if (added.length > 0) message += ' nor an addFields field';
  if (near !== undefined) message += `; did you mean "${near}"?`;
  else if (names.length === 0) message += '; it declares no properties';
  else {
    const shown = names.slice(0, 15).map((n) => `"${n}"`).join(', ');
    message += `; its properties are ${shown}${names.length > 15 ? `, … (${names.length} in all)` : ''}`;
  }
  return message;
}

interface SuccessResponse {
  status: string;
  /** The application/json schema of the first 2xx response, unresolved ({} when it has none). */
  schema: Json;
}

function successResponse(spec: Json, op: Json): SuccessResponse | undefined {
  const status = Object.keys(op.responses ?? {}).filter((s) => /^2\d\d$/.test(s)).sort()[0];
  if (!status) return undefined;
  // A response may be a $ref to components/responses (a Response Object kept once for several operations).
  const response = resolveRefs(spec, op.responses[status]);
  return { status, schema: response?.content?.['application/json']?.schema ?? {} };
}

/** What to do instead, after the intoList message of a walk. */
const LIST_FIX: Record<string, string> = {
  'data selector segment': ' (end the data selector at the list: its items are the records, and lists inside a record become child tables)',
};

/** `direct[i]`: segment i is a property of the schema itself, not only of an allOf/anyOf/oneOf branch of it. */
type Walk = { ok: true; schema: Json; direct: boolean[] } | { ok: false; message: string };

/** Follows a dot path of properties from `schema`; `what` names one segment and `where` the root in messages. */
function walkPath(spec: Json, schema: Json, path: string, what: string, where: string): Walk {
  let current = schema;
  const direct: boolean[] = [];
  const segments = path.split('.').filter(Boolean);
  for (const [i, seg] of segments.entries()) {
    const own = resolveRefs(spec, current)?.properties;
    direct.push(own !== null && typeof own === 'object' && Object.hasOwn(own, seg));
    const next = propertyOf(spec, current, seg);
    if (next === undefined) {
      const list = i === 0 ? undefined : intoList(spec, what, seg, current, segments[i - 1]!);
      if (list !== undefined) return { ok: false, message: `${list}${LIST_FIX[what] ?? ''}` };
      const at = i === 0 ? where : `${where} at "${segments.slice(0, i).join('.')}"`;
      return { ok: false, message: notAProperty(spec, what, seg, current, at) };
    }
    current = next;
  }
  return { ok: true, schema: current, direct };
}

export interface RecordLocation {
  status: string;
  /** Property names along the data selector. */
  segments: string[];
  /** Per segment: a property of its object schema itself (else only of a branch: its TS type is a union member's). */
  direct: boolean[];
  /** Whether the selected value is an array of records (else it is one record). */
  array: boolean;
  /** Schema of one record, unresolved; derefSchema it for a standalone copy. */
  record: Json;
}

/** Follows the data selector through the success response's schema to the schema of one record. */
export function locateRecord(spec: Json, op: Json, dataSelector: string): { ok: true; value: RecordLocation } | { ok: false; message: string } {
  const response = successResponse(spec, op);
  if (!response) return { ok: false, message: 'the operation has no 2xx response to load records from' };
  const walk = walkPath(spec, response.schema, dataSelector, 'data selector segment', `the ${response.status} response body`);
  if (!walk.ok) return walk;
  const items = listItems(spec, walk.schema);
  return {
    ok: true,
    value: { status: response.status, segments: dataSelector.split('.').filter(Boolean), direct: walk.direct, array: items !== undefined, record: items ?? walk.schema },
  };
}

/**
 * The items schema when `schema` is a list: `type: array` (or [array, 'null']), or a list or null written as an
 * anyOf/oneOf of an array and `type: 'null'` (the other way to write a nullable list; its TS type, `T[] | null`, is a
 * list once NonNullable). Undefined for anything else.
 */
function listItems(spec: Json, schema: Json): Json | undefined {
  const resolved = resolveRefs(spec, schema);
  if (isArraySchema(resolved)) return resolved.items ?? {};
  if (resolved === null || typeof resolved !== 'object' || resolved.type !== undefined) return undefined;
  for (const keyword of ['anyOf', 'oneOf'] as const) {
    if (!Array.isArray(resolved[keyword])) continue;
    const branches = resolved[keyword].map((b: Json) => resolveRefs(spec, b));
    const isNull = (b: Json) => b?.type === 'null' || (Array.isArray(b?.type) && b.type.every((t: unknown) => t === 'null'));
    const lists = branches.filter((b: Json) => !isNull(b));
    if (lists.length === 1 && isArraySchema(lists[0])) return lists[0].items ?? {};
  }
  return undefined;
}

export interface ReferenceProblem {
  /** JSON pointer inside the operation's x-snapengage-resource extension, e.g. `/primaryKey/0`. */
  pointer: string;
  message: string;
}

/**
 * Checks the loading hints of a loadable resource that name parts of its response: dataSelector and
 * paginator.nextUrlPath (dot paths into the response body), primaryKey and incremental.cursorField (fields of
 * one record, or fields the extension adds with addFields). A typo in any of them would silently lose data.
 */
export function checkResponseReferences(spec: Json, op: Json, ext: Json): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const response = successResponse(spec, op);
  if (!response) return [{ pointer: '', message: 'a loadable resource needs a 2xx response to load records from' }];
  const located = locateRecord(spec, op, ext.dataSelector);
  if (!located.ok) problems.push({ pointer: '/dataSelector', message: located.message });
  if (ext.paginator?.type === 'next_url') {
    const where = `the ${response.status} response body`;
    const walk = walkPath(spec, response.schema, ext.paginator.nextUrlPath, 'nextUrlPath segment', where);
    if (!walk.ok) problems.push({ pointer: '/paginator/nextUrlPath', message: walk.message });
    else if (!mayBe(spec, walk.schema, ['string'])) {
      problems.push({ pointer: '/paginator/nextUrlPath', message: `"${ext.paginator.nextUrlPath}" in ${where} cannot be a string, so it cannot hold the next page's URL` });
    }
  }
  if (!located.ok) return problems;
  const { record } = located.value;
  const added = Object.keys(ext.addFields ?? {});
  const isField = (name: string) => added.includes(name) || propertyOf(spec, record, name) !== undefined;
  const recordWhere = 'the record schema';
  // An addFields field is a string; a declared field is checked for the values the loader can use.
  const declaredKind = (name: string, kinds: readonly Kind[]) => added.includes(name) || mayBe(spec, propertyOf(spec, record, name), kinds);
  for (const [i, field] of (ext.primaryKey as string[]).entries()) {
    if (!isField(field)) problems.push({ pointer: `/primaryKey/${i}`, message: notAProperty(spec, 'primary key field', field, record, recordWhere, added) });
    else if (!declaredKind(field, ['string', 'number', 'boolean'])) {
      // A list becomes a child table and an object flattened columns: the root row would have no column of the key.
      problems.push({ pointer: `/primaryKey/${i}`, message: `primary key field "${field}" is never a scalar (a string, number or boolean): a list or object has no column of its own to identify the record by; name a scalar field of the record` });
    }
  }
  const cursor = ext.incremental?.cursorField;
  if (typeof cursor === 'string' && !isField(cursor)) {
    problems.push({ pointer: '/incremental/cursorField', message: notAProperty(spec, 'cursor field', cursor, record, recordWhere, added) });
  } else if (typeof cursor === 'string' && !declaredKind(cursor, ['string', 'number'])) {
    // The loader reads a cursor value as epoch seconds or milliseconds, or as an ISO 8601 date: any other is ignored.
    problems.push({ pointer: '/incremental/cursorField', message: `cursor field "${cursor}" is never a number or a string, so the loader cannot read a time from it; name the record's timestamp field (epoch seconds or milliseconds, or an ISO 8601 date)` });
  }
  return problems;
}

/**
 * Checks the `field` of a `from: parent` parameter source: a dot path into one record of the parent resource (whose
 * first segment may be one of the parent's addFields). A field the parent's records lack would leave every child
 * request without its parameter, so the child would silently load nothing. Undefined when fine, or when the parent's
 * own data selector is broken (reported on the parent).
 */
export function checkParentField(spec: Json, parentOp: Json, parentExt: Json, field: string): string | undefined {
  const added = Object.keys(parentExt.addFields ?? {});
  if (added.includes(field)) return undefined;
  const located = locateRecord(spec, parentOp, parentExt.dataSelector);
  if (!located.ok) return undefined;
  const where = `the record schema of "${parentExt.name}"`;
  let current = located.value.record;
  const segments = field.split('.');
  for (const [i, seg] of segments.entries()) {
    const next = propertyOf(spec, current, seg);
    if (next === undefined) {
      const list = i === 0 ? undefined : intoList(spec, 'parent field segment', seg, current, segments[i - 1]!);
      // One request per parent record takes one value: a field of the record itself, not of each item of its list.
      if (list !== undefined) return `${list}; name a field of the record of "${parentExt.name}" itself`;
      return i === 0
        ? notAProperty(spec, 'parent field', seg, current, where, added)
        : notAProperty(spec, 'parent field segment', seg, current, `${where} at "${segments.slice(0, i).join('.')}"`);
    }
    current = next;
  }
  return undefined;
}
