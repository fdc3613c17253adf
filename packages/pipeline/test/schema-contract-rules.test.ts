// contract.ts on its own: what the normalizer asks about a new path's first value (newEntity), and how SchemaContract
// answers and tallies. schema-contract.test.ts covers each entity and mode end to end; the edges here (depth, empty
// lists, the tally's cap, a long path, a BigInt, a record dropped after a value of it was) a load rarely reaches.
import { describe, expect, it } from 'vitest';
import { DISCARD_ROW, entityOf, SchemaContract, type SchemaContractModes } from '../src/normalize/contract.js';
import { newPathShape } from '../src/normalize/types.js';

/** What the contract is asked about for a new path's first value at `depth`. */
const newEntity = (value: unknown, depth: number, maxNestingDepth: number) => entityOf(newPathShape(value, depth, maxNestingDepth));
import { ResourceNormalizer } from '../src/normalize/normalizer.js';
import type { FieldNode, TableState } from '../src/normalize/table-tree.js';
import type { JsonSchema } from '../src/normalize/types.js';

const logs = { def: { name: 'logs' }, isRoot: true, depth: 0, isNew: false } as unknown as TableState;
const field = (path: string[]): FieldNode => ({ path, key: path.join('.') });
const modes = (given: Partial<SchemaContractModes>): SchemaContractModes => ({ tables: 'evolve', columns: 'evolve', dataType: 'evolve', ...given });

/** The message a call throws, or '' when it throws nothing. */
function refusal(run: () => void): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '';
}

describe('entityOf(newPathShape())', () => {
  it('a list of objects is a child table within the depth and a JSON column past it; an object past it is a column', () => {
    expect(newEntity([{ a: 1 }], 0, 1)).toBe('tables');
    expect(newEntity([{ a: 1 }], 1, 1)).toBe('columns');
    expect(newEntity({ a: 1 }, 0, 1)).toBeUndefined();
    expect(newEntity({ a: 1 }, 1, 1)).toBe('columns');
  });

  it('a list that says nothing (empty, nulls) asks nothing; a list of scalars is a column', () => {
    expect(newEntity([], 0, 2)).toBeUndefined();
    expect(newEntity([null, null], 0, 2)).toBeUndefined();
    expect(newEntity([1, 2], 0, 2)).toBe('columns');
  });
});

describe('SchemaContract', () => {
  it('a record dropped by discard_row does not count the values it had discarded before', () => {
    const contract = new SchemaContract('logs', modes({ columns: 'discard_value', dataType: 'discard_row' }));
    expect(contract.allows('columns', logs, field(['extra']), 1, false)).toBe(false);
    const column = { ...field(['count']), kind: 'column', column: { name: 'count', type: 'bigint' } } as FieldNode;
    expect(() => contract.allows('dataType', logs, column, 'many', false)).toThrow(DISCARD_ROW);
    contract.recordKept(); // the next record, kept
    expect(contract.discards()).toMatchObject({ records: 1, values: 0 });
  });

  it('tallies 50 fields one by one, the rest as "(other fields)"', () => {
    const contract = new SchemaContract('logs', modes({ columns: 'discard_value' }));
    for (let i = 0; i < 60; i++) contract.allows('columns', logs, field([`f${i}`]), 1, false);
    contract.recordKept();
    const fields = contract.discards()!.fields;
    expect(fields).toHaveLength(51);
    expect(fields[49]).toMatchObject({ field: 'f49', count: 1 });
    expect(fields[50]).toMatchObject({ table: '*', field: '(other fields)', count: 10 });
  });

  it("tallies a field's values of each type apart (dataType)", () => {
    const contract = new SchemaContract('logs', modes({ dataType: 'discard_value' }));
    const column = { ...field(['count']), kind: 'column', column: { name: 'count', type: 'bigint' } } as FieldNode;
    for (const value of ['many', true, 'lots']) contract.allows('dataType', logs, column, value, false);
    contract.recordKept();
    expect(contract.discards()!.fields.map((f) => [f.valueType, f.count])).toEqual([['string', 2], ['boolean', 1]]);
  });

  it('freeze names a path of 100 characters whole and cuts a longer one; a BigInt is an integer value', () => {
    const contract = new SchemaContract('logs', modes({ columns: 'freeze', dataType: 'freeze' }));
    const hundred = 'k'.repeat(100);
    expect(refusal(() => contract.allows('columns', logs, field([hundred]), 1, false))).toContain(`for field ${hundred}, which`);
    expect(refusal(() => contract.allows('columns', logs, field([`${hundred}x`]), 1, false))).toContain(`for field ${hundred}... (101 characters), which`);
    const text = { ...field(['note']), kind: 'column', column: { name: 'note', type: 'text' } } as FieldNode;
    expect(refusal(() => contract.allows('dataType', logs, text, 12n, false))).toContain('refused an integer value in table logs, field note, whose VARCHAR column note');
  });
});

describe('SchemaContract under --refresh', () => {
  it('says the tables are built anew, and that declaring the type is the fix, since the refresh makes the column', () => {
    const contract = new SchemaContract('logs', modes({ dataType: 'freeze' }), true);
    const column = { ...field(['count']), kind: 'column', column: { name: 'count', type: 'bigint' } } as FieldNode;
    const message = refusal(() => contract.allows('dataType', logs, column, 'many', false));
    expect(message).toContain("whose BIGINT column count does not take it (it would go to a new variant column); --refresh builds logs's tables anew from the spec and this run's records:");
    expect(message).toContain('for a column of another type, declare that type in the spec (npm run generate); nothing of this run');
    expect(message).not.toContain('many');
  });
});

describe('the normalizer under a contract: the primaryKey exemption is for the key column alone', () => {
  const recordSchema = {
    type: 'object',
    properties: { id: { type: 'string' }, transcripts: { type: 'array', items: { type: 'object', properties: { message: { type: 'string' } } } } },
  } as unknown as JsonSchema;
  const normalizer = (primaryKey: string[], schemaContract: SchemaContractModes) =>
    new ResourceNormalizer({ resource: 'logs', recordSchema, primaryKey, maxNestingDepth: 2, rowIdSalt: 's', fastPath: false, schemaContract }, [], []);
  const sink = () => undefined;

  it('a list of objects at the key field is still a new child table to refuse', () => {
    const keyed = normalizer(['ext_key'], modes({ tables: 'freeze' }));
    expect(refusal(() => keyed.normalize({ id: 'a', ext_key: [{ x: 1 }] }, 0, sink))).toContain('refused a new child table for ext_key (a list of objects) under logs');
  });

  it("a child row's field named as the key is a new column to refuse", () => {
    const keyed = normalizer(['id'], modes({ columns: 'freeze' }));
    expect(refusal(() => keyed.normalize({ id: 'a', transcripts: [{ message: 'm', id: 't-1' }] }, 0, sink))).toContain('refused a new column in table logs__transcripts for field transcripts[].id');
  });
});

describe('the normalizer under discard_row: a dropped record is not counted', () => {
  const recordSchema = {
    type: 'object',
    properties: { id: { type: 'string' }, transcripts: { type: 'array', items: { type: 'object', properties: { message: { type: 'string' } } } } },
  } as unknown as JsonSchema;

  it('neither as a record without a key nor by the values it put in a variant column before it was dropped', () => {
    const normalizer = new ResourceNormalizer({ resource: 'logs', recordSchema, primaryKey: ['id'], maxNestingDepth: 2, rowIdSalt: 's', fastPath: false, schemaContract: modes({ columns: 'discard_row' }) }, [], []);
    const lines: unknown[] = [];
    // A scalar where a child table is: a variant column (dataType evolves); then a new column drops the record.
    expect(normalizer.normalize({ transcripts: 'plain', extra: 1 }, 0, (...line) => lines.push(line))).toBe(false);
    expect(normalizer.normalize({ id: 'b', transcripts: 'also plain' }, 1, (...line) => lines.push(line))).toBe(true);
    expect(normalizer.keylessRecords).toBe(0);
    expect(normalizer.schemaReport().newVariants.map((v) => [v.column, v.values])).toEqual([['transcripts__v_text', 1]]);
    expect(lines).toHaveLength(1);
  });
});
