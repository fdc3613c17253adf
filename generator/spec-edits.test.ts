// Spec edits a user makes (or should not make) before `npm run generate`: each gives a working result, or one problem
// naming the file, the line, the JSON pointer and what to do (never a stack trace, never a catalog that fails the build).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEFAULT_SPEC, generate, writeGenerated } from './generate.js';
import { SpecError } from './validate-spec.js';

const root = resolve(import.meta.dirname, '..');
// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'snapengage-spec-edits-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const LOGS_OP = ['paths', '/api/v2/{orgId}/logs', 'get'];
const LOGS = '#/paths/~1api~1v2~1{orgId}~1logs/get';

/** The real spec edited by `edit`, written to a file: its path and its lines. */
function specWith(name: string, edit: (doc: ReturnType<typeof parseDocument>) => void): { specPath: string; lines: string[] } {
  const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
  edit(doc);
  const text = doc.toString({ lineWidth: 0 });
  const specPath = join(tmp, name);
  writeFileSync(specPath, text);
  return { specPath, lines: text.split('\n') };
}

async function problemsOf(specPath: string): Promise<string[]> {
  const err = await generate(specPath).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SpecError);
  return (err as SpecError).problems.map((p) => `${p.line} ${p.pointer}: ${p.message}`);
}

function addLogsParameter(doc: ReturnType<typeof parseDocument>, param: object): void {
  (doc.getIn([...LOGS_OP, 'parameters']) as { add(v: unknown): void }).add(doc.createNode(param));
}

describe('a credential declared as a parameter (the house rule: credentials are security schemes only)', () => {
  it("a scheme's header as a parameter is one problem naming the scheme to list in security", async () => {
    const { specPath, lines } = specWith('auth-param.yaml', (doc) => addLogsParameter(doc, {
      name: 'Authorization', in: 'header', required: true, description: 'The API token [doc]', schema: { type: 'string' },
    }));
    // Before: 'required parameter "Authorization" has no source' (the loading hints' check, not the rule).
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf('        - name: Authorization') + 1} ${LOGS}/parameters/6: header parameter "Authorization" carries a credential, and credentials are declared only as security schemes (house rule; a parameter is never filled from the client's credentials nor redacted in logs): it is the credential of security scheme "apiToken": remove this parameter and list the scheme in the operation's security (security: [{ apiToken: [] }])`,
    ]);
  });

  it('an optional credential header that no scheme declares is refused too, saying how to declare the scheme', async () => {
    const { specPath } = specWith('token-header.yaml', (doc) => addLogsParameter(doc, {
      name: 'X-Partner-Token', in: 'header', required: false, description: 'A partner token [inferred]', schema: { type: 'string' },
    }));
    // Before: generated, the token an argument of getAllLogs that the client never fills nor redacts.
    expect(await problemsOf(specPath)).toEqual([
      expect.stringContaining(`${LOGS}/parameters/6: header parameter "X-Partner-Token" carries a credential, and credentials are declared only as security schemes (house rule; a parameter is never filled from the client's credentials nor redacted in logs): declare the credential as a security scheme (components.securitySchemes, type: apiKey, with x-snapengage-credential: option, env, howToGet)`),
    ]);
  });

  it('an ordinary header parameter is still fine', async () => {
    const { specPath } = specWith('plain-header.yaml', (doc) => addLogsParameter(doc, {
      name: 'X-Request-Id', in: 'header', required: false, description: 'Tracing id [inferred]', schema: { type: 'string' },
    }));
    expect((await generate(specPath)).get('openapi.ts')).toContain('"X-Request-Id"?: string');
  });
});

describe('$ref cycles', () => {
  it('schemas that are only $refs to each other are one problem at the cycle, not a stack trace from the linter', async () => {
    const { specPath, lines } = specWith('ref-cycle.yaml', (doc) => {
      doc.setIn(['components', 'schemas', 'Alias'], doc.createNode({ $ref: '#/components/schemas/Other' }));
      doc.setIn(['components', 'schemas', 'Other'], doc.createNode({ $ref: '#/components/schemas/Alias' }));
      doc.setIn(['components', 'schemas', 'Case', 'properties', 'alias'], doc.createNode({ $ref: '#/components/schemas/Alias' }));
    });
    // Before: Redocly's "Error: Self-referencing circular pointer" was thrown out of generate() (a stack trace in the CLI).
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf('    Alias:') + 2} #/components/schemas/Alias/$ref: $ref #/components/schemas/Other leads back to itself through $refs only (#/components/schemas/Alias → #/components/schemas/Other → #/components/schemas/Alias), so it names no schema: make one of them a schema (type, properties, …) instead of a $ref`,
    ]);
  });
});

describe('$refs outside the spec', () => {
  it('a $ref to another file is one problem at its line saying to move the schema into the spec, even when the file exists', async () => {
    const { specPath, lines } = specWith('external-ref.yaml', (doc) => {
      doc.setIn(['components', 'schemas', 'Case', 'properties', 'shared'], doc.createNode({ $ref: './shared.yaml#/Shared' }));
    });
    writeFileSync(join(tmp, 'shared.yaml'), "Shared:\n  type: string\n  description: '[inferred]'\n");
    // Before: Redocly resolved it next to the spec, then openapi-typescript failed against the working directory
    // ("openapi-typescript: Can't resolve $ref: ENOENT … at #/…", no line, and a stray "✘" line on stderr).
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf("          $ref: ./shared.yaml#/Shared") + 1} #/components/schemas/Case/properties/shared/$ref: $ref ./shared.yaml#/Shared is outside the spec: only references inside it (#/components/…) are supported; move what it names into the spec's components and refer to it there`,
    ]);
  });
});

describe("the generator's extensions misspelt or misplaced", () => {
  it('a misspelt x-snapengage- key is one problem with the key it was meant to be (it was ignored without a word)', async () => {
    const { specPath, lines } = specWith('idempotant.yaml', (doc) => doc.setIn(['paths', '/api/v1/chat', 'post', 'x-snapengage-idempotant'], true));
    // Before: generated, the operation's idempotency left at its method's default.
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf('      x-snapengage-idempotant: true') + 1} #/paths/~1api~1v1~1chat/post/x-snapengage-idempotant: unknown extension x-snapengage-idempotant; did you mean x-snapengage-idempotent?`,
    ]);
  });

  it('a misspelt x-snapengage-resource is that one problem, not "every GET needs x-snapengage-resource" and its children blamed', async () => {
    const { specPath } = specWith('resouce.yaml', (doc) => {
      const ext = doc.getIn([...LOGS_OP, 'x-snapengage-resource']);
      doc.deleteIn([...LOGS_OP, 'x-snapengage-resource']);
      doc.setIn([...LOGS_OP, 'x-snapengage-resouce'], ext);
    });
    expect(await problemsOf(specPath)).toEqual([
      expect.stringMatching(new RegExp(`^\\d+ ${LOGS.replace(/[{}]/g, '\\$&')}/x-snapengage-resouce: unknown extension x-snapengage-resouce; did you mean x-snapengage-resource\\?$`)),
    ]);
  });

  it('a known extension in a place the generator does not read it says where it goes', async () => {
    const { specPath } = specWith('misplaced.yaml', (doc) => doc.setIn(['paths', '/api/v1/chat/{widgetId}', 'x-snapengage-idempotent'], false));
    expect(await problemsOf(specPath)).toEqual([
      expect.stringContaining('#/paths/~1api~1v1~1chat~1{widgetId}/x-snapengage-idempotent: x-snapengage-idempotent is read only on an operation (paths./…/get, post, …); move it there'),
    ]);
  });
});

describe('loading hints missing several required keys', () => {
  it('is one problem listing them, not one per key', async () => {
    const { specPath, lines } = specWith('incremental-stub.yaml', (doc) => doc.setIn([...LOGS_OP, 'x-snapengage-resource', 'incremental'], doc.createNode({ type: 'date_window' })));
    // Before: six problems at the same line, "must have required property 'startParam'", then 'endParam', ….
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf('        incremental:') + 1} ${LOGS}/x-snapengage-resource/incremental: x-snapengage-resource: must have required properties 'startParam', 'endParam', 'cursorField', 'initialStartEnv', 'defaultStartDaysAgo', 'lookbackDays'`,
    ]);
  });
});

describe('response schemas written with oneOf/anyOf', () => {
  /** tsc over the generated files alone: a catalog that does not compile fails every package's build. */
  function typecheck(name: string, files: Map<string, string>): { status: number | null; stdout: string } {
    const dir = join(tmp, name);
    writeGenerated(join(dir, 'generated'), files);
    writeFileSync(join(dir, 'generated', 'probe.ts'), [
      "import type { ResourceRecords } from './catalog.js';",
      "export const id: ResourceRecords['logs']['id'] = 'a7e91ae8';",
      '// @ts-expect-error not a field of a case (the record type is neither never nor any)',
      "export const nope: ResourceRecords['logs']['nope'] = 1;",
      '',
    ].join('\n'));
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(join(root, 'node_modules/typescript'), join(dir, 'node_modules/typescript'), 'dir');
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: join(root, 'tsconfig.base.json'), compilerOptions: { noEmit: true, types: [] }, include: ['generated'] }));
    return spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
  }

  it('a data selector declared in one oneOf branch gives a catalog that compiles, with the record type of that branch', async () => {
    const { specPath } = specWith('oneof-page.yaml', (doc) => {
      const page = (doc.getIn(['components', 'schemas', 'LogsPage']) as { toJSON(): unknown }).toJSON();
      doc.setIn(['components', 'schemas', 'LogsPage'], doc.createNode({
        description: 'A page of cases, or an error object [inferred]',
        oneOf: [page, { type: 'object', properties: { error: { type: 'string', description: '[inferred]' } } }],
      }));
    });
    // Before: generated, then `NonNullable<…>["cases"]` on the union failed tsc: Property 'cases' does not exist.
    const result = typecheck('oneof-page', await generate(specPath));
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('a nullable list written as anyOf [array, null] is the list of records, as type: [array, null] is', async () => {
    const { specPath } = specWith('nullable-list.yaml', (doc) => {
      doc.setIn(['components', 'schemas', 'LogsPage', 'properties', 'cases'], doc.createNode({
        description: 'Up to 100 cases, or null [inferred]',
        anyOf: [{ type: 'array', items: { $ref: '#/components/schemas/Case' } }, { type: 'null' }],
      }));
    });
    // Before: four problems, 'primary key field "id" is not a property of the record schema', on logs and its children.
    const files = await generate(specPath);
    expect(files.get('catalog.ts')).toBe((await generate()).get('catalog.ts'));
  });
});

describe('a resource name that is not snake_case', () => {
  it('is one problem with the snake_case form; the children naming that form are not blamed too', async () => {
    const { specPath, lines } = specWith('camel.yaml', (doc) => doc.setIn([...LOGS_OP, 'x-snapengage-resource', 'name'], 'Logs'));
    // Before: the pattern alone, then 'parent "logs" is not a loadable resource; did you mean "Logs"?' on both children.
    expect(await problemsOf(specPath)).toEqual([
      `${lines.indexOf('        name: Logs') + 1} ${LOGS}/x-snapengage-resource/name: x-snapengage-resource: must match pattern "^[a-z][a-z0-9]*(_[a-z0-9]+)*$": snake_case, e.g. "logs"`,
    ]);
  });

  it('a leading "_" says the loader keeps those names for its own tables', async () => {
    const { specPath } = specWith('reserved.yaml', (doc) => doc.setIn(['paths', '/api/v1/user.json', 'get', 'x-snapengage-resource', 'name'], '_pipeline_users'));
    expect(await problemsOf(specPath)).toEqual([
      expect.stringMatching(/x-snapengage-resource\/name: x-snapengage-resource: must match pattern .*: snake_case, e\.g\. "pipeline_users" \(a leading "_" is for the loader's own tables, _pipeline_\*\)$/),
    ]);
  });
});
