// The loader's messages name doc sections ("see \"Wide records\" in the pipeline's NORMALIZATION.md") and CLI flags
// (`run --refresh --resources logs`), and the docs were renamed and merged by many hands: a message naming a section
// or a flag that no longer exists sends the user nowhere. This reads every string literal in src/ (the TypeScript
// scanner, so comments and code do not count) and checks each named section against the doc's headings and bold
// bullet titles, and each flag against the CLI's usage text.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PACKAGE_DIR } from './helpers.js';

const SRC = join(PACKAGE_DIR, 'src');
/** Flags of other programs that a string may name (Node's: the GC the CLI exposes, the env proxy proxy.ts looks for). */
const NOT_OURS = new Set(['--expose-gc', '--use-env-proxy']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

/** The text of every string and template literal of a file, with where it is. */
function literals(file: string): { where: string; text: string; whole?: boolean }[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { where: string; text: string; whole?: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    // A template's pieces are read one by one below; its whole text too, for the usage text with its defaults.
    if (ts.isTemplateExpression(node)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      out.push({ where: `${file.slice(PACKAGE_DIR.length + 1)}:${line}`, text: node.head.text + node.templateSpans.map((span) => ` ${span.literal.text}`).join(''), whole: true });
    }
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) {
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      out.push({ where: `${file.slice(PACKAGE_DIR.length + 1)}:${line}`, text: node.text });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return out;
}

const found = sourceFiles(SRC).flatMap(literals);
const all = found.filter((l) => !l.whole);

/** A doc's section titles: its headings and its bullets' bold titles (`- **End day.** …`). */
function sections(doc: string): Set<string> {
  const text = readFileSync(join(PACKAGE_DIR, doc), 'utf8');
  return new Set([
    ...[...text.matchAll(/^#{1,6}\s+(.+?)\s*$/gm)].map((m) => m[1]!),
    ...[...text.matchAll(/^\s*- \*\*(.+?)\.?\*\*/gm)].map((m) => m[1]!),
  ]);
}

describe('doc sections and flags named by messages', () => {
  it('finds the references it checks (the patterns still match the messages)', () => {
    expect(all.some((l) => /in the pipeline's \w+\.md/.test(l.text))).toBe(true);
    expect(all.some((l) => l.text.includes('--refresh --resources'))).toBe(true);
  });

  it('every section a message names is a heading or bullet title of that doc', () => {
    const named = all.flatMap(({ where, text }) => [
      ...[...text.matchAll(/"([^"]+)" in the pipeline's ([A-Z]+\.md)/g)].map((m) => ({ where, title: m[1]!, doc: m[2]! })),
      ...[...text.matchAll(/\(([A-Z]+\.md), "([^"]+)"\)/g)].map((m) => ({ where, title: m[2]!, doc: m[1]! })),
    ]);
    expect(named.length).toBeGreaterThan(3);
    const missing = named.filter(({ title, doc }) => !sections(doc).has(title)).map((n) => `${n.where}: "${n.title}" in ${n.doc}`);
    expect(missing).toEqual([]);
  });

  it('every flag a message names is one the CLI takes', () => {
    const usage = found.find((l) => l.whole && l.text.startsWith('Usage:'))?.text ?? '';
    const flags = new Set(usage.match(/--[a-z][a-z-]*/g));
    expect(flags.has('--refresh')).toBe(true);
    const unknown = all.flatMap(({ where, text }) =>
      (text.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []).filter((flag) => !flags.has(flag) && !NOT_OURS.has(flag)).map((flag) => `${where}: ${flag}`),
    );
    expect(unknown).toEqual([]);
  });

  it("every section the project README template names in the pipeline's docs is there", () => {
    const template = readFileSync(join(PACKAGE_DIR, '..', '..', 'templates', 'project', 'README.md.hbs'), 'utf8');
    // `"Running on a schedule" in \`node_modules/snapengage-pipeline/OPERATIONS.md\``, then `"…" there` for the same doc.
    const named: { title: string; doc: string }[] = [];
    let doc: string | undefined;
    for (const m of template.matchAll(/"([^"]+)" (?:in `node_modules\/snapengage-pipeline\/([A-Z]+\.md)`|there)/g)) {
      doc = m[2] ?? doc;
      if (doc !== undefined) named.push({ title: m[1]!, doc });
    }
    expect(named.length).toBeGreaterThan(2);
    expect(named.filter(({ title, doc }) => !sections(doc).has(title))).toEqual([]);
  });
});
