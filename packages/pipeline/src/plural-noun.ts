// The plural of the noun a spec gives for one value of an `each` list (its `item`: `widget` today), for the load
// info, `show` and the widget errors. A blind "s" read "categorys" or "inboxs" for an item a later spec may name.
// English's regular rules only: an item is one ordinary noun (the spec names it), and no dependency is worth it.

/** `widget` → `widgets`, `category` → `categories`, `inbox` → `inboxes`; a noun that already ends in "s" gets "es". */
export function pluralNoun(noun: string): string {
  if (/[^aeiou]y$/i.test(noun)) return `${noun.slice(0, -1)}ies`;
  if (/(?:s|x|z|ch|sh)$/i.test(noun)) return `${noun}es`;
  return `${noun}s`;
}
