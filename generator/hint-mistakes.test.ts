// Mistakes a user makes when editing the spec by hand: each must give one problem that names the file, the line,
// the JSON pointer and what to do, not a cascade of follow-on errors or a message that points the wrong way.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_SPEC, generate } from './generate.js';
import { SpecError } from './validate-spec.js';

const tmp = mkdtempSync(join(tmpdir(), 'snapengage-hint-mistakes-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LOGS = '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource';

/** The real spec with one text replaced (which must be there), and its problems as `line pointer: message`. */
async function problemsWith(name: string, from: string, to: string): Promise<{ lines: string[]; problems: string[] }> {
  const source = readFileSync(DEFAULT_SPEC, 'utf8');
  expect(source).toContain(from);
  const text = source.replace(from, to);
  const specPath = join(tmp, name);
  writeFileSync(specPath, text);
  const err = await generate(specPath).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SpecError);
  return { lines: text.split('\n'), problems: (err as SpecError).problems.map((p) => `${p.line} ${p.pointer}: ${p.message}`) };
}

describe('YAML syntax errors', () => {
  it('a tab used as indentation is one problem, at its line and key, saying to indent with spaces', async () => {
    const { lines, problems } = await problemsWith('tab.yaml', '        primaryKey: [id]\n', '\tprimaryKey: [id]\n');
    // Before: 12 problems, the 11 after the first one "All mapping items must start at the same column" down the file.
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${lines.indexOf('\tprimaryKey: [id]') + 1} ${escape(LOGS)}(/\\S+)?: YAML: Tabs are not allowed as indentation \\(column 1\\); indent with spaces`));
  });

  it('a duplicate key names the key and its mapping', async () => {
    const { lines, problems } = await problemsWith('dup.yaml', '        primaryKey: [id]\n', '        primaryKey: [id]\n        primaryKey: [id]\n');
    expect(problems).toEqual([
      `${lines.lastIndexOf('        primaryKey: [id]') + 1} ${LOGS}/primaryKey: YAML: Map keys must be unique (column 9); "primaryKey" is already a key of this mapping: keep one of them`,
    ]);
  });

  it('an unquoted value with ": " in it says to quote the value', async () => {
    const { lines, problems } = await problemsWith('colon.yaml', '        dataSelector: cases\n', '        dataSelector: cases: x\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${lines.indexOf('        dataSelector: cases: x') + 1} ${escape(LOGS)}/dataSelector: YAML: .*quote`));
  });

  it('an unclosed [ is one problem, not three', async () => {
    const { lines, problems } = await problemsWith('bracket.yaml', '        primaryKey: [id]\n', '        primaryKey: [id\n');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${lines.indexOf('        primaryKey: [id') + 1} ${escape(LOGS)}/primaryKey\\S*: YAML: .*\\]`));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
