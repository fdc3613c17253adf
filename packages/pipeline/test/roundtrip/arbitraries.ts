// fast-check arbitraries for the round-trip property (roundtrip-property.test.ts): log cases as the sandbox serves
// them, mutated with hostile keys, nesting, per-record type changes and edge values. Values are a small tree of our
// own (JsonValue) rather than JS values, so that a number can be any JSON number text (`-0`, `9007199254740993`,
// `1e400`), which JSON.stringify of a JS value could not write; toJsonText writes the tree as the JSON we POST.
import fc from 'fast-check';

/** A JSON number as its literal text, exactly as it is POSTed (and served: the sandbox keeps it raw). */
class NumberText {
  constructor(readonly text: string) {}
}
/** A JSON object as its entries, in order (keys unique): `__proto__` is a key like any other here. */
class ObjectEntries {
  constructor(readonly entries: ReadonlyArray<readonly [string, JsonValue]>) {}
}
export type JsonValue = string | boolean | null | NumberText | ObjectEntries | JsonValue[];

export function toJsonText(value: JsonValue): string {
  if (value instanceof NumberText) return value.text;
  if (value instanceof ObjectEntries) return `{${value.entries.map(([k, v]) => `${JSON.stringify(k)}:${toJsonText(v)}`).join(',')}}`;
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  // JSON.stringify escapes a lone surrogate as \udXXX (well-formed JSON.stringify), and NUL as \u0000.
  return JSON.stringify(value);
}

// Keys that collide after snake_case (`A B`, `a_b`, `aB`, `a b`), SQL words, the loader's own column names, keys the
// spec declares (so their types change under them), the empty key, leading digits and `_`, unicode, a lone surrogate.
// A small pool on purpose: keys recur across the records of one run, with other types and shapes each time.
// Keys whose names collide: after snake_case, with a flattened path (`a` holding `b` is `a__b`), with system columns.
const COLLIDING_KEYS = ['A B', 'a_b', 'aB', 'a b', 'AB', 'ab', 'a', 'b', 'a__b', 'Name', 'name', 'NAME', 'value', 'Value', '_row_id', '_list_idx'];
const POOL_KEYS = [
  '', ' ', '_', '_x', '__x', '1st', '123', '_123',
  'select', 'FROM', 'order', 'group', 'table', 'null', 'true', '__proto__', 'constructor',
  '_load_id', '_parent_id', '_root_id', '_overflow', 'rowid', '#s', 'e',
  'é', 'e\u0301', 'ß', 'İ', '😀', '\ud83d', 'a\u0000b', '"q"', "it's", 'a.b', 'a-b',
  'transcripts', 'labels', 'chat_duration', 'survey_score', 'requester_details', 'proactive_chat', 'latitude', 'type', 'description',
];
const keyArb = fc.oneof(
  { arbitrary: fc.constantFrom(...COLLIDING_KEYS), weight: 4 },
  { arbitrary: fc.constantFrom(...POOL_KEYS), weight: 6 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }), weight: 1 },
);

// Numbers at the edges, as JSON text: -0, the double range and past it, 2^53 ± 1, BIGINT's range and past it, fractions.
const NUMBER_TEXTS = [
  '-0', '0', '1', '-1', '0.1', '-1.5', '2.5e-7', '5e-324', '1e21', '1e308', '-1e308', '1.7976931348623157e308', '1e400', '-1e400',
  '9007199254740991', '9007199254740992', '9007199254740993', '-9007199254740993', '9223372036854775807', '-9223372036854775808',
  '9223372036854775808', '123456789012345678901234567890',
];
const numberArb: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom(...NUMBER_TEXTS).map((t) => new NumberText(t)),
  fc.integer().map((n) => new NumberText(String(n))),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => new NumberText(Object.is(d, -0) ? '-0' : JSON.stringify(d))),
);

const STRING_TEXTS = [
  '', ' ', `q'"\\; DROP TABLE logs; --`, 'nul\u0000char', '\u0000', 'cut \ud83d', '\udc00 low', 'ls\u2028ps\u2029', '\ufeffbom',
  'true', 'false', 'null', '0012', '1e400', '-0', '9007199254740993', '{"a":1}', '[1]', 'NaN', 'ä中文עברית', 'a\r\nb',
];
const stringArb: fc.Arbitrary<JsonValue> = fc.oneof(
  { arbitrary: fc.constantFrom(...STRING_TEXTS), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 12 }), weight: 4 },
  // Very long: one value of 100k characters costs the run little (a staged line), and a column must keep it whole.
  { arbitrary: fc.integer({ min: 1_000, max: 100_000 }).map((n) => 'x'.repeat(n - 1) + 'y'), weight: 1 },
);

const scalarArb: fc.Arbitrary<JsonValue> = fc.oneof(
  { arbitrary: stringArb, weight: 4 },
  { arbitrary: numberArb, weight: 4 },
  { arbitrary: fc.boolean(), weight: 2 },
  { arbitrary: fc.constant(null), weight: 1 },
);

/** Any value: scalars, objects in objects, lists of objects, of scalars, mixed, lists of lists, empty ones. */
const { value: valueArb } = fc.letrec<{ value: JsonValue; object: JsonValue; list: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    { arbitrary: scalarArb, weight: 6 },
    { arbitrary: tie('object'), weight: 2 },
    { arbitrary: tie('list'), weight: 2 },
    { arbitrary: fc.constantFrom<JsonValue>([], new ObjectEntries([]), [null], [[]], [new ObjectEntries([])]), weight: 1 },
  ),
  object: fc.uniqueArray(fc.tuple(keyArb, tie('value')), { selector: ([k]) => k, maxLength: 4 }).map((e) => new ObjectEntries(e)),
  list: fc.oneof(
    fc.array(tie('object'), { maxLength: 4 }), // list of objects
    fc.array(scalarArb, { maxLength: 4 }), // list of scalars
    fc.array(tie('value'), { maxLength: 4 }), // mixed, lists in lists
  ),
}));

/** Keys the loader or the sandbox give a meaning (the key, the windows, the field the loader adds): never mutated. */
const FIXED_KEYS = new Set(['id', 'created_at_date', 'created_at_seconds', 'created_at_milliseconds', 'widget_id']);

/** The fields of one injected case (the sandbox spreads them over a default case of its own). */
const caseFieldsArb: fc.Arbitrary<ObjectEntries> = fc
  .uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 6 })
  .map((entries) => new ObjectEntries(entries.filter(([k]) => !FIXED_KEYS.has(k))));

/**
 * A map keyed by ids, wider than a table's budget of columns (NORMALIZATION.md, Wide records): the ids past it go to
 * the row's `_overflow`. Under one key the sandbox's default case does not have.
 */
const wideMapArb: fc.Arbitrary<readonly [string, JsonValue]> = fc
  .array(fc.oneof(scalarArb, valueArb), { minLength: 150, maxLength: 170 })
  .map((values) => ['wide map', new ObjectEntries(values.map((v, i) => [`id_${i}`, v] as const))] as const);

export interface RoundTripCase {
  /** The cases of the run, each with its own id given at injection; the first may hold a map wider than the budget. */
  cases: ObjectEntries[];
  /** The resource's maxNestingDepth: the default 4, or shallower so that JSON columns appear. */
  maxNestingDepth: number;
}

export const roundTripArb: fc.Arbitrary<RoundTripCase> = fc
  .record({
    cases: fc.array(caseFieldsArb, { minLength: 1, maxLength: 5 }),
    maxNestingDepth: fc.constantFrom(4, 4, 2, 1, 0),
    wide: fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary: wideMapArb, weight: 1 }),
  })
  .map(({ cases, maxNestingDepth, wide }) => ({
    cases: wide ? [new ObjectEntries([...cases[0]!.entries, wide]), ...cases.slice(1)] : cases,
    maxNestingDepth,
  }));
