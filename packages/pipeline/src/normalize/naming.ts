// Identifier normalization. Every table and column name the loader creates goes through here, so names are
// predictable (snake_case), safe to quote, and unique inside their scope even when source keys collide
// (`A B` next to `a_b`, `Name` next to `name`).
import { createHash } from 'node:crypto';

/** Separator between the segments of a flattened path (`requester_details__name`) and of child table names. */
const PATH_SEPARATOR = '__';
/** Longest identifier we create; longer ones are cut and get a short hash so they stay unique. */
const MAX_IDENTIFIER_LENGTH = 100;

/**
 * snake_case for one key: camelCase boundaries become `_`, letters are lower-cased, anything that is not a
 * Unicode letter, digit or `_` becomes `_`, runs of `_` collapse (so a key can never fake the `__` path
 * separator). The empty key becomes `empty`, a key of only symbols its code points (`😀` → `u1f600`); a
 * leading digit gets a `_` prefix.
 */
export function snakeCase(key: string): string {
  let s = key
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, '$1_$2')
    // A look-ahead, not `(\p{Lu}+)(\p{Lu}\p{Ll})`: that one backtracked through every capital of a long run of them
    // from each start, quadratic in an API key's length (a 1 MB key held the normalizer for many minutes).
    .replace(/(\p{Lu})(?=\p{Lu}\p{Ll})/gu, '$1_')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_]+/gu, '_')
    .replace(/_+/g, '_');
  // Keep a leading underscore only when the key itself starts with one (`_id`), not when it came from
  // punctuation (`; drop` → `drop`). Trailing underscores are always punctuation noise.
  s = s.replace(/_+$/, '');
  if (!key.startsWith('_')) s = s.replace(/^_+/, '');
  // Keys with no letter or digit (``, `😀`, `!!`) still need distinct, explainable names.
  if (s === '' || s === '_') s = key === '' ? 'empty' : `u${[...key].map((c) => c.codePointAt(0)!.toString(16)).join('_')}`;
  if (/^\p{N}/u.test(s)) s = `_${s}`;
  return shorten(s);
}

/** Joins already-normalized segments into one identifier, shortening it when needed. */
export function joinPath(segments: readonly string[]): string {
  return shorten(segments.join(PATH_SEPARATOR));
}

function shorten(name: string): string {
  if (name.length <= MAX_IDENTIFIER_LENGTH) return name;
  const hash = createHash('md5').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, MAX_IDENTIFIER_LENGTH - 9)}_${hash}`;
}

/** The root table of a resource takes the resource's name (reserved for it, not allocated). */
export function rootTableName(resource: string): string {
  return snakeCase(resource);
}

/**
 * Hands out unique names inside one scope (the columns of a table, or the tables of a dataset). A taken
 * name gets `_1`, `_2`, … — the first source key seen keeps the plain name. Callers persist what they got,
 * so the outcome is remembered across runs rather than recomputed from whatever order data arrives in.
 */
export class NameAllocator {
  /** Lower-cased: DuckDB resolves identifiers case-insensitively, so `Logs__Labels` takes `logs__labels`. */
  private readonly taken = new Set<string>();

  constructor(reserved: Iterable<string> = []) {
    for (const name of reserved) this.taken.add(name.toLowerCase());
  }

  /** Marks a name as used (names loaded from the stored mapping). */
  reserve(name: string): void {
    this.taken.add(name.toLowerCase());
  }

  has(name: string): boolean {
    return this.taken.has(name.toLowerCase());
  }

  allocate(base: string): string {
    let name = base;
    for (let i = 1; this.has(name); i++) {
      if (i > 1_000_000) throw new Error(`too many identifiers collide on "${base}"`);
      name = shorten(`${base}_${i}`);
    }
    this.reserve(name);
    return name;
  }
}

/** Double-quoted SQL identifier; always used, so reserved words (`type`, `index`) and odd names are safe. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
