// Spec edits a user makes (or should not make) before `npm run generate`: each gives a working result, or one problem
// naming the file, the line, the JSON pointer and what to do (never a stack trace).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { DEFAULT_SPEC, generate } from './generate.js';
import { SpecError } from './validate-spec.js';

const tmp = mkdtempSync(join(tmpdir(), 'snapengage-spec-edits-'));
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
