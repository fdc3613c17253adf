// Seeded generator of records for the differential test of the normalizer's two routes (fast-path-differential.test.ts):
// records in the logs resource's shape (declared fields, transcripts, requester_details, labels) plus fields the spec
// does not declare. Each seed fixes a shape (which extra keys, which kind of value each holds) and most records
// follow it, so later records fit the columns the first ones decided and take the fast paths; a few break it (a type
// conflict, null, an empty list, a hostile key or value, a map keyed by ids), which sends them, or only their list,
// down the row path.
type Obj = Record<string, unknown>;

/** A seeded PRNG (mulberry32), uniform in [0, 1); the hostile-records fuzz (hostile.ts) draws from it too. */
export function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Values at the edges: texts that look like other types, unicode and controls, numbers at the edges of BIGINT and
// DOUBLE (JSON.parse's `1e400` is Infinity).
const TEXTS = ['', ' ', 'true', 'false', 'null', '0012', '1e400', '-0', '9007199254740993', '2025-01-01', '2025-01-01T00:00:00Z',
  '{"a":1}', '[1]', 'NaN', 'ü中文', '😀', 'cut \ud83d', 'a\u0000b', 'x\u2028y', '\ufeffbom', 'e\u0301', "q'\"\\", 'a\r\nb'];
const INTS = [0, -0, 1, -1, 2 ** 31, 2 ** 53, -(2 ** 53), 2 ** 53 + 2, 9223372036854774784, -9223372036854775808, 1e18];
const DOUBLES = [0.1, -1.5, 5e-324, 1.7976931348623157e308, 1e21, 2 ** 63, 1e-7, 123456.789, Infinity, -Infinity];
// Keys that are fast-path struct fields, and keys that are not (collide after naming, upper case, unicode, symbols).
const TAME_KEYS = ['x', 'y', 'n', 'flag', 'tags', 'data', 'k', 'v', 'value', 'a_b', 'r', 'l', 'e', '123', 'rowid', 'name', 'list', 'meta', 'deep', 'items'];
const HOSTILE_KEYS = ['A B', 'a b', 'Name', 'NAME', 'é', 'x-y', 'camelCase', 'camel_case', '_row_id', '_list_idx', '#id', 'a.b', '😀', '', '__proto__', 'id_1', 'Value', 'l '];

type Kind = 'text' | 'int' | 'double' | 'bool' | 'loose' | 'texts' | 'ints' | 'object' | 'objects' | 'nested' | 'any';
const KINDS: Kind[] = ['text', 'int', 'double', 'bool', 'loose', 'texts', 'ints', 'object', 'objects', 'nested', 'any'];

export class RecordGenerator {
  private readonly rnd: () => number;
  private readonly shape: Array<[key: string, kind: Kind]>;
  private readonly subShapes = new Map<string, Array<[string, Kind]>>();
  private ids = 0;

  constructor(readonly seed: number) {
    this.rnd = mulberry32(seed);
    this.longRnd = mulberry32(seed ^ 0x5bd1e995);
    const keys = new Set<string>();
    const n = 3 + this.int(6);
    for (let i = 0; i < n; i++) keys.add(this.chance(0.75) ? this.pick(TAME_KEYS) : this.pick(HOSTILE_KEYS));
    this.shape = [...keys].map((k) => [k, this.pick(KINDS)]);
  }

  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  chance(p: number): boolean {
    return this.rnd() < p;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)]!;
  }

  private readonly made: Obj[] = [];
  /**
   * Draws for the long lists only (see transcripts()): a stream of its own, so the other values of a seed stay what
   * they were before long lists were added (seeds named in tests and commits replay as they did).
   */
  private readonly longRnd: () => number;

  /**
   * `count` records; ids repeat now and then (a merge keeps the last), and a record made before comes again as it
   * was (a rerun's lookback reads it again: a merge leaves it unchanged).
   */
  records(count: number): Obj[] {
    return Array.from({ length: count }, () => {
      if (this.made.length > 0 && this.chance(0.15)) return structuredClone(this.pick(this.made));
      const r = this.record();
      this.made.push(r);
      return r;
    });
  }

  private record(): Obj {
    const id = this.ids > 0 && this.chance(0.1) ? `c${this.int(this.ids)}` : `c${this.ids++}`;
    // Now and then no key value: a merge identifies such a record by its content.
    const r: Obj = this.chance(0.03) ? {} : { id };
    if (this.chance(0.8)) r.type = this.pick(['chat', 'offline']);
    if (this.chance(0.7)) r.chat_duration = this.conflict() ? this.scalar(this.pick(KINDS)) : this.int(5000);
    if (this.chance(0.5)) r.survey_score = this.conflict() ? this.pick([2.5, '7', 2 ** 63, true]) : this.int(101);
    if (this.chance(0.5)) r.proactive_chat = this.conflict() ? this.pick(['yes', 1, null]) : this.pick([true, false, 'true', 'false']);
    if (this.chance(0.5)) r.latitude = this.pick([...DOUBLES, 48, -0, 'north']);
    if (this.chance(0.7)) {
      const details: Obj = { name: this.text(), email: `u${this.int(9)}@x.io` };
      if (this.chance(0.2)) details.age = this.pick([30, '30', null]);
      if (this.chance(0.1)) details.extra = this.value('object', 2);
      r.requester_details = this.conflict() ? this.pick(['text', [details], 5]) : details;
    }
    if (this.chance(0.8)) r.transcripts = this.conflict() ? this.pick([[], [null], ['text'], {}, 'x']) : this.transcripts();
    if (this.chance(0.4)) r.labels = Array.from({ length: this.int(3) }, () => (this.chance(0.1) ? null : { name: this.pick(['vip', 'Vip', '']), value: this.scalar('text') }));
    // A map keyed by ids: one column per id until the table's budget, then `_overflow` (NORMALIZATION.md, Wide records).
    if (this.chance(0.3)) r.visitor_map = Object.fromEntries(Array.from({ length: 20 + this.int(60) }, () => [`id_${this.int(400)}`, this.chance(0.5) ? { seen: this.int(9), page: this.text() } : this.text()]));
    for (const [key, kind] of this.shape) {
      // A key that cannot be a struct field sends its record down the row path: present less often, so that the
      // other records of the seed can take the fast path.
      if (this.chance(/^[a-z0-9_]+$/.test(key) ? 0.1 : 0.6)) continue;
      const v = this.chance(0.1) ? null : this.value(this.conflict() ? this.pick(KINDS) : kind, 1, key);
      Object.defineProperty(r, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return r;
  }

  private conflict(): boolean {
    return this.chance(0.08);
  }

  private transcripts(): unknown[] {
    const short = this.shortTranscripts();
    // Now and then a chat open for days: a list longer than the 32 items a staged list line holds (normalizer.ts
    // LIST_LINE_ITEMS), 33 to 100 long, with null items around the line boundaries. A case read again with another
    // length crosses them (a merge must replace every old row).
    if (this.longRnd() >= 0.15) return short;
    const length = 33 + Math.floor(this.longRnd() * 68);
    const nulls = new Set([31, 32, 63, 64].filter(() => this.longRnd() < 0.3));
    return Array.from({ length }, (_, i) => (nulls.has(i) ? null : short[i] ?? {
      id: `t${i}`, date: 1_700_000_000_000 + i, alias: `a${Math.floor(this.longRnd() * 3)}`, message: `m${Math.floor(this.longRnd() * 5)}`,
    }));
  }

  private shortTranscripts(): unknown[] {
    return Array.from({ length: this.int(4) }, (_, i) => {
      if (this.chance(0.08)) return null;
      const t: Obj = { id: `t${i}`, date: 1_700_000_000_000 + this.int(1000), alias: this.text(), message: this.text() };
      if (this.chance(0.3)) t.translations = this.pick([{ de: ['hallo'] }, 'plain', 42, [1, 'a'], {}, { n: 1e21 }]);
      if (this.chance(0.1)) t.date = this.pick(['2025-01-01', 1.5, null]);
      if (this.chance(0.05)) t.brand_new = this.scalar(this.pick(KINDS));
      return t;
    });
  }

  private text(): string {
    return this.chance(0.3) ? this.pick(TEXTS) : `s${this.int(1000)}`;
  }

  private scalar(kind: Kind): unknown {
    switch (kind) {
      case 'int': return this.chance(0.3) ? this.pick(INTS) : this.int(1000);
      case 'double': return this.chance(0.5) ? this.pick(DOUBLES) : this.int(100) / 8;
      case 'bool': return this.chance(0.5);
      case 'loose': return this.pick([true, false, 'true', 'false']);
      default: return this.text();
    }
  }

  /** A value of the kind; `key` keys the sub-shape of objects, so objects under one key mostly look alike. */
  private value(kind: Kind, depth: number, key = ''): unknown {
    switch (kind) {
      case 'texts': return Array.from({ length: this.int(4) }, () => (this.chance(0.1) ? null : this.text()));
      case 'ints': return Array.from({ length: this.int(4) }, () => (this.chance(0.1) ? null : this.scalar('int')));
      case 'object': return this.object(key, depth);
      case 'objects': return Array.from({ length: this.int(4) }, () => (this.chance(0.1) ? null : this.object(key, depth + 1)));
      case 'nested': {
        // A chain deeper than maxNestingDepth, with lists on the way: JSON columns and grandchild tables.
        let v: unknown = { leaf: this.scalar(this.pick(KINDS)) };
        for (let i = 0; i < 1 + this.int(5); i++) v = this.chance(0.6) ? { [this.pick(TAME_KEYS)]: v } : [v, ...(this.chance(0.5) ? [null] : [])];
        return v;
      }
      case 'any': return this.pick([[], {}, [null], [[]], [{}], { a: null }, [1, 'a', { z: 1 }], [[1, 2], [3]]]);
      default: return this.scalar(kind);
    }
  }

  private object(key: string, depth: number): Obj {
    let shape = this.subShapes.get(key);
    if (!shape) {
      shape = Array.from({ length: 1 + this.int(4) }, () => [this.chance(0.8) ? this.pick(TAME_KEYS) : this.pick(HOSTILE_KEYS), this.pick(KINDS)]);
      this.subShapes.set(key, shape);
    }
    const o: Obj = {};
    for (const [k, kind] of shape) {
      if (this.chance(0.1)) continue;
      const sub = depth > 3 ? 'text' : this.conflict() ? this.pick(KINDS) : kind;
      Object.defineProperty(o, k, { value: this.value(sub, depth + 1, `${key}.${k}`), enumerable: true, writable: true, configurable: true });
    }
    return o;
  }
}
