// A YAML syntax error of the spec as one problem a user can act on: the first error only (the yaml parser goes on
// after it and reports what the broken structure makes of the rest: a tab in one line gave a dozen "All mapping items
// must start at the same column" down the file), at its line and column, with the JSON pointer of the key it is at
// and what to do about the usual mistakes of hand-edited YAML.
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode, type YAMLError } from 'yaml';

interface KeyAt {
  start: number;
  pointer: string;
  name: string;
}

/** A JSON pointer segment (RFC 6901): `~` and `/` escaped. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Every mapping key of the (partly parsed) document with its offset and pointer, in document order. */
function keysOf(node: unknown, path: string, out: KeyAt[] = []): KeyAt[] {
  if (isMap(node)) {
    for (const pair of node.items) {
      const name = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      const pointer = `${path}/${escapePointer(name)}`;
      const start = (pair.key as YamlNode | null)?.range?.[0];
      if (start !== undefined) out.push({ start, pointer, name });
      keysOf(pair.value, pointer, out);
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => keysOf(item, `${path}/${i}`, out));
  }
  return out;
}

/** What to do about the errors hand edits make most, by the yaml parser's error code. */
function hint(error: YAMLError, key: KeyAt | undefined): string | undefined {
  switch (error.code) {
    case 'TAB_AS_INDENT': return 'indent with spaces';
    case 'DUPLICATE_KEY': return key ? `"${key.name}" is already a key of this mapping: keep one of them` : 'keep one of the two keys';
    case 'BLOCK_AS_IMPLICIT_KEY':
    case 'MULTILINE_IMPLICIT_KEY':
      return "a value with \": \" in it must be quoted (key: 'a: b'); otherwise check the indentation of this line";
    case 'BAD_INDENT':
      return /flow (sequence|mapping)/i.test(error.message)
        ? 'close each [ or { on the line it opens'
        : 'start the key at the same column as the other keys of its mapping';
    default: return undefined;
  }
}

export interface YamlProblem {
  line: number;
  pointer: string;
  message: string;
}

/** The first of the document's errors, as a problem with its line, pointer and a fix. */
export function yamlProblem(doc: Document.Parsed, counter: LineCounter): YamlProblem {
  const [first, ...rest] = doc.errors as [YAMLError, ...YAMLError[]];
  const offset = first.pos[0];
  let { line, col } = counter.linePos(offset);
  const keys = keysOf(doc.contents, '#');
  const before = keys.filter((k) => k.start < offset).at(-1);
  const own = first.code === 'DUPLICATE_KEY' ? keys.find((k) => k.start === offset) : undefined;
  const fix = hint(first, own);
  let pointer: string;
  if (own) pointer = own.pointer; // a duplicate key
  else if (before && counter.linePos(before.start).line === line) pointer = before.pointer; // in the value of its line's key
  else if (/flow (sequence|mapping)/i.test(first.message) && keys.some((k) => counter.linePos(k.start).line < line)) {
    // An unclosed [ or { is found on a later line, which it swallowed: the key whose value opened it is the one to fix.
    const opener = keys.filter((k) => counter.linePos(k.start).line < line).at(-1)!;
    pointer = opener.pointer;
    ({ line, col } = counter.linePos(opener.start));
  } else {
    // A line broken as a whole (a tab, a wrong indent): in the mapping of the last key before it.
    pointer = before ? before.pointer.slice(0, before.pointer.lastIndexOf('/')) || '#' : '#';
  }
  const more = rest.length > 0 ? `; ${rest.length} more YAML error(s) after it, often caused by this one: fix it and run again` : '';
  return {
    line,
    pointer,
    message: `YAML: ${first.message.split('\n')[0]} (column ${col})${fix ? `; ${fix}` : ''}${more}`,
  };
}
