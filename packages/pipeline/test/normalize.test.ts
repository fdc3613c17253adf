import { describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import { NameAllocator, quoteIdent, snakeCase } from '../src/normalize/naming.js';
import { ResourceNormalizer, childRowId, rootRowId, type FieldNode, type TableState } from '../src/normalize/normalizer.js';
import { coerce, declaredShape, REJECT } from '../src/normalize/types.js';
import { MAX_RESOURCE_COLUMNS, MAX_TABLE_COLUMNS } from '../src/normalize/table-tree.js';

/**
 * Runs records through a normalizer (row by row: the list fast path is compared with it in destination.test.ts)
 * and returns the staged rows per table, parsed back from NDJSON with positional keys named again.
 */
function normalize(records: Record<string, unknown>[], opts: { schema?: Record<string, unknown>; depth?: number; pk?: string[] } = {}) {
  const n = new ResourceNormalizer(
    {
      resource: 'things', recordSchema: opts.schema ?? { type: 'object', properties: {} }, primaryKey: opts.pk ?? ['id'],
      maxNestingDepth: opts.depth ?? 4, rowIdSalt: 's', fastPath: false, stageKeys: true,
    },
    [],
    [],
  );
  const staged: Array<[TableState, string]> = [];
  const keyLines: string[] = [];
  records.forEach((r, seq) => n.normalize(r, seq, (t: TableState, line: string, kind = 'rows') => {
    if (kind === 'keys') keyLines.push(line);
    else staged.push([t, line]);
  }));
  // Every record gives one key line with its root row's id and sequence (what a merge matches on).
  const rootIds = (rows: Map<string, Record<string, unknown>[]>) => rows.get(n.root.def.name)?.map((r) => ({ '#id': r['#id'], '#s': r['#s'] }));
  const rows = new Map<string, Record<string, unknown>[]>();
  for (const [t, line] of staged) {
    const named = Object.fromEntries(Object.entries(JSON.parse(line) as Record<string, unknown>)
      .map(([key, value]) => [/^\d+$/.test(key) ? t.def.columns[Number(key)]!.name : key, value]));
    rows.set(t.def.name, [...(rows.get(t.def.name) ?? []), named]);
  }
  expect(keyLines.map((l) => JSON.parse(l) as unknown)).toEqual(rootIds(rows) ?? []);
  const columns = (table: string) => n.tables().find((t) => t.def.name === table)?.def.columns.map((c) => `${c.name}:${c.type}`);
  return { n, rows, columns };
}

describe('snakeCase', () => {
  it.each([
    ['widgetId', 'widget_id'],
    ['emailRequired', 'email_required'],
    ['HTMLParser', 'html_parser'],
    ['userID', 'user_id'],
    ['A B', 'a_b'],
    ['a_b', 'a_b'],
    ['a; DROP TABLE x', 'a_drop_table_x'],
    ['a__b', 'a_b'],
    ['_id', '_id'],
    ['"quoted"', 'quoted'],
    ['9lives', '_9lives'],
    ['', 'empty'],
    ['😀', 'u1f600'],
    ['Grüße', 'grüße'],
  ])('%j → %j', (key, expected) => {
    expect(snakeCase(key)).toBe(expected);
  });

  it('shortens very long keys but keeps them distinct', () => {
    const a = snakeCase('x'.repeat(300));
    const b = snakeCase('x'.repeat(299) + 'y');
    expect(a.length).toBeLessThanOrEqual(100);
    expect(a).not.toBe(b);
  });

  it('names a key of many capitals in linear time (an API key is untrusted input)', () => {
    // A run of capitals with no lower-case letter after it made the acronym split backtrack quadratically: a 60 KB key
    // in one API record held the normalizer for seconds, a 1 MB one for many minutes.
    const started = performance.now();
    expect(snakeCase(`${'A'.repeat(200_000)}!`)).toHaveLength(100);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(snakeCase('ABCdEFgHIJ')).toBe('ab_cd_e_fg_hij');
  });

  it('allocates suffixes on collision and quotes identifiers', () => {
    const names = new NameAllocator(['_row_id']);
    expect(names.allocate('a_b')).toBe('a_b');
    expect(names.allocate('a_b')).toBe('a_b_1');
    expect(names.allocate('_row_id')).toBe('_row_id_1');
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });
});

describe('schema types', () => {
  const logs = resources.logs.recordSchema.properties as Record<string, Record<string, unknown>>;
  it('maps the spec schemas to DuckDB types', () => {
    expect(declaredShape(logs.proactive_chat!)).toEqual({ kind: 'column', type: 'bool' });
    expect(declaredShape(logs.chat_duration!)).toEqual({ kind: 'column', type: 'bigint' });
    expect(declaredShape(logs.latitude!)).toEqual({ kind: 'column', type: 'double' });
    expect(declaredShape(logs.url!)).toEqual({ kind: 'column', type: 'text' });
    expect(declaredShape(logs.transcripts!).kind).toBe('table');
    expect(declaredShape(logs.requester_details!).kind).toBe('object');
    expect(declaredShape({})).toEqual({ kind: 'column', type: 'json' });
    expect(declaredShape({ type: 'array', items: { type: 'string' } })).toEqual({ kind: 'column', type: 'text[]' });
    expect(declaredShape({ type: ['string', 'integer', 'null'] })).toEqual({ kind: 'column', type: 'text' });
  });

  it('coerces only what fits', () => {
    expect(coerce('true', 'bool')).toBe(true);
    expect(coerce('yes', 'bool')).toBe(REJECT);
    expect(coerce(3, 'text')).toBe('3');
    expect(coerce(1.5, 'bigint')).toBe(REJECT);
    expect(coerce(1e20, 'bigint')).toBe(REJECT);
    expect(coerce(['a', null], 'text[]')).toEqual(['a', null]);
    expect(coerce(['a', { x: 1 }], 'text[]')).toBe(REJECT);
  });
});

describe('ResourceNormalizer', () => {
  it('flattens objects, keeps scalar lists as lists and makes child tables with ids', () => {
    const { rows, columns } = normalize([
      { id: 'c1', details: { name: 'A', emails: ['a@x', 'b@x'] }, items: [{ k: 1, sub: [{ z: true }] }, { k: 2 }] },
    ]);
    const root = rows.get('things')![0]!;
    expect(root).toMatchObject({ '#id': rootRowId('things', ['c1']), '#s': 0, id: 'c1', details__name: 'A', details__emails: ['a@x', 'b@x'] });
    expect(columns('things')).toEqual(['id:text', 'details__name:text', 'details__emails:text[]']);
    // Child rows carry their root's id; grandchildren also their parent's, computed with the loader's SQL formula.
    const rootId = root['#id'] as string;
    expect(rows.get('things__items')).toEqual([{ '#r': rootId, '#s': 0, '#i': 0, k: 1 }, { '#r': rootId, '#s': 0, '#i': 1, k: 2 }]);
    const parentId = childRowId(rootId, 'd["items"]', 0);
    expect(rows.get('things__items__sub')).toEqual([{ '#p': parentId, '#r': rootId, '#s': 0, '#i': 0, z: true }]);
  });

  it('declares the schema columns and child tables up front', () => {
    const { n } = normalize([], { schema: resources.logs.recordSchema as Record<string, unknown> });
    const names = n.tables().map((t) => t.def.name);
    expect(names).toEqual(['things', 'things__javascript_variables', 'things__operator_variables', 'things__labels', 'things__transcripts']);
    const transcripts = n.tables().find((t) => t.def.name === 'things__transcripts')!;
    expect(transcripts.def.columns.map((c) => `${c.name}:${c.type}`)).toContain('translations:json');
    expect(n.root.def.columns.map((c) => c.name)).toContain('requester_details__age');
  });

  it('sends values that do not fit to variant columns', () => {
    const { rows, columns } = normalize([
      { id: 'a', n: 5, flag: true },
      { id: 'b', n: 'five', flag: 'false' },
      { id: 'c', n: { deep: 1 }, flag: 'maybe' },
    ]);
    expect(columns('things')).toEqual(['id:text', 'n:bigint', 'flag:bool', 'n__v_text:text', 'n__v_json:json', 'flag__v_text:text']);
    const r = rows.get('things')!;
    expect(r[1]).toMatchObject({ n__v_text: 'five', flag: false });
    expect(r[2]).toMatchObject({ n__v_json: { deep: 1 }, flag__v_text: 'maybe' });
  });

  it('resolves key collisions deterministically', () => {
    const { rows, columns } = normalize([{ id: 'x', 'A B': 1, a_b: 2, Name: 'N', name: 'n', '': 'e', _row_id: 'mine' }]);
    expect(columns('things')).toEqual(['id:text', 'a_b:bigint', 'a_b_1:bigint', 'name:text', 'name_1:text', 'empty:text', '_row_id_1:text']);
    expect(rows.get('things')![0]).toMatchObject({ a_b: 1, a_b_1: 2, name: 'N', name_1: 'n', empty: 'e', _row_id_1: 'mine' });
  });

  it('stores structures deeper than maxNestingDepth as JSON', () => {
    const record = { id: 'x', a: { b: { c: 1 } }, list: [{ y: { z: 1 } }] };
    const one = normalize([record], { depth: 1 });
    expect(one.columns('things')).toEqual(['id:text', 'a__b:json']);
    expect(one.columns('things__list')).toEqual(['y:json']);
    expect(one.rows.get('things')![0]).toMatchObject({ a__b: { c: 1 } });
    const zero = normalize([record], { depth: 0 });
    expect(zero.columns('things')).toEqual(['id:text', 'a:json', 'list:json']);
    expect(zero.rows.get('things')![0]).toMatchObject({ a: { b: { c: 1 } }, list: [{ y: { z: 1 } }] });
  });

  it('puts scalar items of a child-table list into a value column', () => {
    const { rows } = normalize([{ id: 'x', items: [{ k: 1 }, 'loose', 7, [1]] }]);
    const r = rootRowId('things', ['x']);
    expect(rows.get('things__items')).toEqual([
      { '#r': r, '#s': 0, '#i': 0, k: 1 },
      { '#r': r, '#s': 0, '#i': 1, value: 'loose' },
      { '#r': r, '#s': 0, '#i': 2, value: '7' },
      { '#r': r, '#s': 0, '#i': 3, value__v_json: [1] },
    ]);
  });

  it('gives keyless records unique ids and skips nulls and empty lists', () => {
    const { rows, columns } = normalize([{ a: null, b: [] }, { a: null }], { pk: [] });
    const r = rows.get('things')!;
    expect(r).toHaveLength(2);
    expect(r[0]!['#id']).not.toBe(r[1]!['#id']);
    expect(columns('things')).toEqual([]);
  });

  it('keeps fields past a table\'s column budget under their paths in _overflow, with nothing lost', () => {
    // An object keyed by ids (one column per id, without bound): 60 new keys per record, 2 columns each.
    const records = Array.from({ length: 10 }, (_, r) => ({
      id: `r${r}`,
      seen: { at: r },
      visitors: Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`v${r}_${k}`, { n: k, name: `x${k}` }])),
    }));
    // A later record: a variant of a known column and a new list column, both past the table's budget; a new
    // child table has its own columns, so it only needs room in the resource's budget.
    records.push({ id: 'late', seen: { at: 'text now' }, visitors: {}, extra: [{ a: 1 }], tags: ['one', 'two'] } as never);
    const { rows, columns } = normalize(records);
    const cols = columns('things')!;
    expect(cols.length).toBe(MAX_TABLE_COLUMNS + 1);
    expect(cols.at(-1)).toBe('_overflow:json');
    expect(columns('things__extra')).toEqual(['a:bigint']);
    const stored = rows.get('things')!;
    for (const [r, record] of records.entries()) {
      const row = stored[r]!;
      // The row's flattened columns and its _overflow object together give the record back.
      const rebuilt: Record<string, unknown> = structuredClone((row._overflow ?? {}) as Record<string, unknown>);
      for (const [name, value] of Object.entries(row)) {
        const m = /^visitors__(v\d+_\d+)__(n|name)$/.exec(name);
        if (m) ((rebuilt.visitors ??= {}) as Record<string, Record<string, unknown>>)[m[1]!] = { ...((rebuilt.visitors as Record<string, Record<string, unknown>>)[m[1]!]), [m[2]!]: value };
        else if (name === 'seen__at') rebuilt.seen = { at: value };
        else if (name === 'id') rebuilt.id = value;
      }
      const expected = structuredClone(record) as Record<string, unknown>;
      // The late record's list went to its child table, its empty object nowhere (as with any empty object).
      if (r === records.length - 1) {
        delete expected.visitors;
        delete expected.extra;
      }
      expect(rebuilt).toEqual(expected);
    }
    // The first records fill the budget in order; the rest of their keys and all of the later ones overflow.
    expect(stored[0]!._overflow).toBeUndefined();
    expect(Object.keys((stored[9]!._overflow as { visitors: object }).visitors)).toHaveLength(60);
    expect(stored[10]!._overflow).toEqual({ seen: { at: 'text now' }, tags: ['one', 'two'] });
    expect(rows.get('things__extra')).toEqual([expect.objectContaining({ a: 1 })]);
  });

  it('keeps source keys such as __proto__ and constructor in _overflow as keys', () => {
    const filler = Object.fromEntries(Array.from({ length: MAX_TABLE_COLUMNS }, (_, k) => [`f${k}`, k]));
    const record = JSON.parse('{"id":"x","__proto__":{"a":1},"constructor":{"b":{"c":2}},"toString":"t"}') as Record<string, unknown>;
    const { rows } = normalize([{ id: 'fill', ...filler }, record]);
    const overflow = rows.get('things')![1]!._overflow;
    expect(JSON.stringify(overflow)).toBe('{"__proto__":{"a":1},"constructor":{"b":{"c":2}},"toString":"t"}');
  });

  it('forgets an object keyed by a new id that stores nothing, so a long run does not grow a node per record', () => {
    // Objects keyed by ids whose values are empty or null: nothing is stored of them, here as after a rerun, which
    // knows paths from the stored columns only. Each one was kept as an object node for the rest of the run.
    const records = Array.from({ length: 2000 }, (_, i) => ({ id: `r${i}`, seen: { [`v${i}`]: i % 2 === 0 ? {} : { at: null, tags: [] } } }));
    const { n, rows } = normalize(records);
    const nodes = (node: FieldNode): number => 1 + [...(node.fields?.values() ?? [])].reduce((sum, child) => sum + nodes(child), 0);
    expect(nodes(n.root.row)).toBeLessThan(5);
    expect(rows.get('things')).toEqual(records.map((r, i) => ({ '#id': expect.any(String), '#s': i, id: r.id })));
  });

  it('keeps the name _overflow for the overflow column: a source key `_overflow` gets `_overflow_1`, as `_row_id` does', () => {
    const filler = Object.fromEntries(Array.from({ length: MAX_TABLE_COLUMNS }, (_, k) => [`f${k}`, k]));
    const { rows, columns } = normalize([{ id: 'a', _overflow: 'mine', items: [{ _overflow: 1, ...filler }] }, { id: 'b', ...filler }]);
    expect(columns('things')!.filter((c) => c.startsWith('_overflow'))).toEqual(['_overflow_1:text', '_overflow:json']);
    expect(rows.get('things')![0]).toMatchObject({ _overflow_1: 'mine' });
    expect(rows.get('things')![1]!._overflow).toEqual({ f148: 148, f149: 149 });
    expect(columns('things__items')!.filter((c) => c.startsWith('_overflow'))).toEqual(['_overflow_1:bigint', '_overflow:json']);
  });

  it('stops adding child tables at the resource\'s column budget', () => {
    // 40 lists of objects with 60 fields each: 65 columns per child table.
    const record = { id: 'x', ...Object.fromEntries(Array.from({ length: 40 }, (_, l) => [`list${l}`, [Object.fromEntries(Array.from({ length: 60 }, (_, k) => [`f${k}`, k]))]])) };
    const { n, rows } = normalize([record]);
    const total = n.tables().reduce((sum, t) => sum + t.def.columns.length + (t.isRoot ? 2 : 5), 0);
    expect(total).toBeLessThanOrEqual(MAX_RESOURCE_COLUMNS + n.tables().length);
    const tables = n.tables().length - 1;
    expect(tables).toBeGreaterThan(20);
    expect(tables).toBeLessThan(40);
    const overflow = rows.get('things')![0]!._overflow as Record<string, unknown>;
    expect(Object.keys(overflow)).toEqual(Array.from({ length: 40 - tables }, (_, i) => `list${tables + i}`));
    expect(overflow[`list${tables}`]).toEqual(record[`list${tables}` as keyof typeof record]);
  });
});
