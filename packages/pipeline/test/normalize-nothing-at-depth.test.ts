// A value that holds nothing ({} , {a: null}) at a path decided as a scalar column stores nothing, as it would at a path
// not decided yet (NORMALIZATION.md), but only within maxNestingDepth: past it, `{}` is a JSON value, kept in a variant.
// The round-trip property runs at the default depth; these are the edges of a depth of 1.
import { describe, expect, it } from 'vitest';
import { ResourceNormalizer } from '../src/normalize/normalizer.js';
import type { JsonSchema } from '../src/normalize/types.js';

const recordSchema = { type: 'object', properties: { id: { type: 'string' } } } as unknown as JsonSchema;

/** The variant columns a load of `records` makes, with maxNestingDepth 1: a root field's object is flattened, no deeper. */
function variantsOf(records: Array<Record<string, unknown>>): string[] {
  const normalizer = new ResourceNormalizer({ resource: 'logs', recordSchema, primaryKey: ['id'], maxNestingDepth: 1, rowIdSalt: 's', fastPath: false }, [], []);
  records.forEach((record, seq) => normalizer.normalize(record, seq, () => undefined));
  return normalizer.schemaReport().newVariants.map((v) => v.column);
}

describe('a value holding nothing at a decided scalar column, maxNestingDepth 1', () => {
  it('an object flattened within the depth stores nothing: no variant', () => {
    expect(variantsOf([{ id: 'a', note: 'hi' }, { id: 'b', note: {} }, { id: 'c', note: { x: null } }])).toEqual([]);
  });

  it('an object holding {} past the depth holds a JSON value: a variant keeps it', () => {
    expect(variantsOf([{ id: 'a', note: 'hi' }, { id: 'b', note: { x: {} } }])).toEqual(['note__v_json']);
  });
});
