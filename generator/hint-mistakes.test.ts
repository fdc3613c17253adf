// Mistakes a user makes when editing the spec by hand: each must give one problem that names the file, the line,
// the JSON pointer and what to do, not a cascade of follow-on errors or a message that points the wrong way.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SPEC, generate } from './generate.js';
import { SpecError } from './validate-spec.js';

// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'snapengage-hint-mistakes-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LOGS = '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource';
const POLL = '#/paths/~1api~1v1~1chat~1poll~1{caseId}/get/x-snapengage-resource';

/** The real spec with one text replaced (which must be there), and its problems as `line pointer: message`. */
async function problemsWith(name: string, from: string, to: string, ...more: Array<[string, string]>): Promise<{ lines: string[]; problems: string[] }> {
  let text = readFileSync(DEFAULT_SPEC, 'utf8');
  for (const [a, b] of [[from, to] as [string, string], ...more]) {
    expect(text).toContain(a);
    text = text.replace(a, b);
  }
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

describe('dot paths into a list', () => {
  it('a data selector that goes into the items of a list says so (not "it declares no properties")', async () => {
    const { problems } = await problemsWith('selector-list.yaml', '        dataSelector: cases\n', '        dataSelector: cases.transcripts\n');
    expect(problems).toEqual([expect.stringContaining(`${LOGS}/dataSelector: data selector segment "transcripts" cannot be read: "cases" is a list, and a dot path does not go into the items of a list`)]);
    expect(problems[0]).not.toContain('declares no properties');
  });

  it("a parent field inside a list of the parent's record says so", async () => {
    const { problems } = await problemsWith('parent-list.yaml', '          caseId: { from: parent, resource: logs, field: id }\n', '          caseId: { from: parent, resource: logs, field: transcripts.id }\n');
    expect(problems).toEqual([expect.stringContaining(`${POLL}/params/caseId/field: parent field segment "id" cannot be read: "transcripts" is a list, and a dot path does not go into the items of a list`)]);
  });
});

describe('a misspelt parent', () => {
  it('is one problem, with the resource it was meant to be; the params that name the right parent are not blamed', async () => {
    const { lines, problems } = await problemsWith('parent-typo.yaml', '        parent: logs\n', '        parent: log\n');
    // Before: also `params/caseId/resource: must be the resource's parent ("log")`, telling the user to break it.
    expect(problems).toEqual([
      `${lines.indexOf('        parent: log') + 1} ${POLL}/parent: parent "log" is not a loadable resource; did you mean "logs"?`,
    ]);
  });

  it("when the parent's own hints are broken too, still names it (it is not listed among the loadable ones then)", async () => {
    const { lines, problems } = await problemsWith('parent-typo-broken-parent.yaml', '        parent: logs\n', '        parent: log\n',
      ['defaultStartDaysAgo: 30', 'defaultStartDaysAgo: thirty']);
    // Before: `parent "log" is not a loadable resource (the loadable ones are chat_availability, chat_poll, …)`,
    // without logs, as if the resource meant did not exist.
    expect(problems).toEqual([
      `${lines.findIndex((l) => l.includes('defaultStartDaysAgo: thirty')) + 1} ${LOGS}/incremental/defaultStartDaysAgo: x-snapengage-resource: must be integer`,
      `${lines.indexOf('        parent: log') + 1} ${POLL}/parent: parent "log" is not a loadable resource; did you mean "logs"?`,
    ]);
  });
});

describe("the noun of an each list's values", () => {
  it('is refused on a value that is not a list, with what to do', async () => {
    const { problems } = await problemsWith('item-without-each.yaml', "email: { from: env, env: SNAPENGAGE_EMAIL, description:", "email: { from: env, env: SNAPENGAGE_EMAIL, item: account, description:");
    expect(problems).toEqual([expect.stringMatching(/\/params\/email\/item: "item" names one value of an each: true list; add each: true, or remove item/)]);
  });
});

describe('fields of the wrong kind', () => {
  it('a cursor field that is a list or an object is refused (the loader reads only numbers and date strings)', async () => {
    for (const field of ['transcripts', 'requester_details']) {
      const { problems } = await problemsWith('cursor-kind.yaml', '          cursorField: created_at_seconds\n', `          cursorField: ${field}\n`);
      expect(problems).toEqual([expect.stringContaining(`${LOGS}/incremental/cursorField: cursor field "${field}" is never a number or a string`)]);
    }
  });

  it('a primary key field that is a list or an object is refused (it has no column of its own)', async () => {
    const { problems } = await problemsWith('key-kind.yaml', '        primaryKey: [id]\n', '        primaryKey: [id, transcripts]\n');
    expect(problems).toEqual([expect.stringContaining(`${LOGS}/primaryKey/1: primary key field "transcripts" is never a scalar`)]);
  });
});

describe('a value of the wrong type where one of several forms is expected', () => {
  it('a param source written as a plain string is one problem listing the forms (not "matches more than one")', async () => {
    const { problems } = await problemsWith('param-string.yaml',
      "          orgId: { from: env, env: SNAPENGAGE_ORG_ID, organisation: true, description: 'Admin Dashboard → My Account → API Token page' }\n",
      '          orgId: SNAPENGAGE_ORG_ID\n');
    // Before: "must be object", "matches more than one of the alternatives" and "must match exactly one schema in oneOf".
    expect(problems).toEqual([expect.stringContaining(`${LOGS}/params/orgId: x-snapengage-resource: must be an object: { from: env | constant | incremental | parent, … }`)]);
  });

  it('a paginator written as its type alone is one problem listing the forms', async () => {
    const { problems } = await problemsWith('paginator-string.yaml',
      '        paginator:\n          type: next_url\n          nextUrlPath: linkToNextSetOfResults\n', '        paginator: next_url\n');
    expect(problems).toEqual([expect.stringContaining(`${LOGS}/paginator: x-snapengage-resource: must be an object: { type: next_url | single_page, … }`)]);
  });

  it('a from: parent source on a resource without a parent says to add one', async () => {
    const { problems } = await problemsWith('parent-on-top.yaml',
      "          orgId: { from: env, env: SNAPENGAGE_ORG_ID, organisation: true, description: 'Admin Dashboard → My Account → API Token page' }\n",
      '          orgId: { from: parent, resource: users, field: email }\n');
    // Before: 'must be the resource\'s parent ("none")'.
    expect(problems).toEqual([expect.stringContaining(`${LOGS}/params/orgId/resource: "logs" has no parent: add parent: users to it, or take the value from env or a constant`)]);
  });
});

describe('YAML aliases', () => {
  it('aliases that expand to too much data are one problem, not a ReferenceError stack trace from the yaml library', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]', ...['b', 'c', 'd'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abc'[i]}`).join(', ')}]`)];
    const specPath = join(tmp, 'aliases.yaml');
    writeFileSync(specPath, ['openapi: 3.1.0', ...levels, `e: [${Array(9).fill('*d').join(', ')}]`, ''].join('\n'));
    const err = await generate(specPath).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).problems).toEqual([{
      file: specPath, pointer: '#',
      message: 'YAML: Excessive alias count indicates a resource exhaustion attack: the aliases (*name) of the spec expand to too much data; write the repeated blocks out, or nest fewer aliases inside aliased blocks',
    }]);
  });
});

describe('a spec that is not a mapping', () => {
  it('an empty file, or a list or a bare value at the top, is one problem instead of a crash with a stack trace', async () => {
    for (const [name, text, what] of [['empty.yaml', '', 'is empty'], ['comments.yaml', '# nothing yet\n', 'is empty'], ['list.yaml', '- openapi: 3.1.0\n', 'holds a list'], ['scalar.yaml', 'openapi 3.1.0\n', 'holds a string']]) {
      const specPath = join(tmp, name!);
      writeFileSync(specPath, text!);
      // Before: Redocly threw "Document must be JSON object, got undefined" out of the CLI.
      const err = await generate(specPath).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SpecError);
      expect((err as SpecError).problems).toEqual([{ file: specPath, pointer: '#', line: 1, message: `the spec ${what}: it must be a YAML mapping of an OpenAPI 3.1 document (openapi: 3.1.0, info, paths, …)` }]);
    }
  });
});

describe('a success response kept in components/responses', () => {
  it('is followed through its $ref, as OpenAPI allows: the loading hints are checked against it and the catalog built', async () => {
    const source = readFileSync(DEFAULT_SPEC, 'utf8');
    const inline = "        '200':\n          description: One page of cases.\n          content:\n            application/json:\n              schema:\n                $ref: '#/components/schemas/LogsPage'\n";
    expect(source).toContain(inline);
    expect(source).toContain('  responses:\n    BadRequest:\n');
    const text = source.replace(inline, "        '200':\n          $ref: '#/components/responses/LogsPageResponse'\n")
      .replace('  responses:\n    BadRequest:\n', "  responses:\n    LogsPageResponse:\n      description: One page of cases.\n      content:\n        application/json:\n          schema:\n            $ref: '#/components/schemas/LogsPage'\n    BadRequest:\n");
    const specPath = join(tmp, 'response-ref.yaml');
    writeFileSync(specPath, text);
    // Before: 'data selector segment "cases" is not a property of the 200 response body; it declares no properties'.
    const files = await generate(specPath);
    const catalog = files.get('catalog.ts')!;
    expect(catalog).toContain('"created_at_seconds"');
    expect(catalog).toBe((await generate()).get('catalog.ts'));
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
