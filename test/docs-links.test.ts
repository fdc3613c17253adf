// Relative links between the repo's Markdown files (and the scaffolded project's README template) were edited by
// many hands; a renamed heading or a moved file left a link that GitHub and npm render as a dead one, and nothing
// noticed. This checks every relative link and #anchor against the files and headings as they are: no network, and
// no Markdown dependency: links are `[text](target)` outside code, anchors GitHub's heading slugs.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..');

function markdownFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.md') || name.endsWith('.md.hbs')) out.push(path);
    }
  };
  for (const top of ['packages', 'spec', 'templates', 'generator']) walk(join(repoRoot, top));
  out.push(join(repoRoot, 'README.md'));
  // Test fixtures and the projects tests scaffold are not documentation.
  return out.filter((p) => !/[\\/](test|fixtures)[\\/]/.test(relative(repoRoot, p)));
}

/**
 * The lines outside fenced code blocks, with inline code spans blanked (a `[a](b)` in code is not a link) unless
 * `keepCode` (a heading's code is part of its anchor: "## `--add`" is #--add).
 */
function proseLines(text: string, keepCode = false): string[] {
  const lines: string[] = [];
  let fence: string | undefined;
  for (const line of text.split('\n')) {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      lines.push('');
    } else if (marker) {
      fence = marker;
      lines.push('');
    } else lines.push(keepCode ? line : line.replace(/(`+)[^`]*?\1/g, (m) => ' '.repeat(m.length)));
  }
  return lines;
}

/** GitHub's heading anchor (as github-slugger): lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  return heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(path: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of proseLines(readFileSync(path, 'utf8'), true)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

interface Link { file: string; line: number; target: string }

function relativeLinks(path: string): Link[] {
  const links: Link[] = [];
  proseLines(readFileSync(path, 'utf8')).forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) {
      const target = m[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      links.push({ file: relative(repoRoot, path), line: i + 1, target });
    }
  });
  return links;
}

function problem(link: Link): string | undefined {
  const [file, anchor] = link.target.split('#') as [string, string | undefined];
  const from = join(repoRoot, link.file);
  const to = file === '' ? from : resolve(dirname(from), decodeURIComponent(file));
  if (!existsSync(to)) return 'no such file';
  if (anchor === undefined || anchor === '') return undefined;
  if (statSync(to).isDirectory() || !/\.md(\.hbs)?$/.test(to)) return 'an anchor into a file that has no headings';
  return anchors(to).has(decodeURIComponent(anchor).toLowerCase()) ? undefined : `no heading with anchor #${anchor}`;
}

describe('relative links in the Markdown docs', () => {
  const files = markdownFiles();

  it('finds the docs and their links', () => {
    expect(files.map((f) => relative(repoRoot, f))).toEqual(expect.arrayContaining(['README.md', 'packages/pipeline/OPERATIONS.md', 'templates/project/README.md.hbs']));
    expect(files.flatMap(relativeLinks).length).toBeGreaterThan(50);
  });

  it('every relative link names a file that exists and a heading it has', () => {
    const broken = files.flatMap(relativeLinks).flatMap((link) => {
      const why = problem(link);
      return why ? [`${link.file}:${link.line} ${link.target}: ${why}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it("a package's docs link only to files its tarball ships: npm shows them too, where ../ and unshipped files lead nowhere", () => {
    const outside = files.flatMap((path) => {
      const pkgDir = /^(packages\/[^/]+)\//.exec(relative(repoRoot, path))?.[1];
      if (!pkgDir) return [];
      const shipped: string[] = JSON.parse(readFileSync(join(repoRoot, pkgDir, 'package.json'), 'utf8')).files ?? [];
      if (!shipped.includes(relative(join(repoRoot, pkgDir), path))) return [];
      return relativeLinks(path).flatMap((link) => {
        const file = link.target.split('#')[0]!;
        if (file === '') return [];
        const inPackage = relative(join(repoRoot, pkgDir), resolve(dirname(path), decodeURIComponent(file))).split(sep).join('/');
        const ok = ['package.json', 'LICENSE', ...shipped].some((entry) => inPackage === entry || inPackage.startsWith(`${entry}/`));
        return ok ? [] : [`${link.file}:${link.line} ${link.target}: not in ${pkgDir}'s published files`];
      });
    });
    expect(outside).toEqual([]);
  });

  it('slugs headings as GitHub does', () => {
    expect(slug('Using it from an app: modules, types, bundling')).toBe('using-it-from-an-app-modules-types-bundling');
    expect(slug('`--json` and exit codes')).toBe('--json-and-exit-codes');
    expect(slug('Deleting old data, compacting a file')).toBe('deleting-old-data-compacting-a-file');
  });
});
