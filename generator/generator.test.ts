import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lint, loadConfig } from '@redocly/openapi-core';
import { parseDocument } from 'yaml';
import { buildCatalogSource } from './catalog.js';
import { DEFAULT_OUT, DEFAULT_SPEC, generate, staleFiles, writeGenerated } from './generate.js';
import { SpecError } from './validate-spec.js';
import { escapePointer } from './yaml-errors.js';

const root = resolve(import.meta.dirname, '..');
// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'snapengage-generator-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function runCli(args: string[], timeout = 60_000) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(root, 'generator/cli.ts'), ...args], {
    cwd: root, encoding: 'utf8', timeout,
  });
}

/** A copy of the real spec with one more loadable endpoint: the Widget Availability API. */
function specWithExtraEndpoint(): string {
  const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
  doc.setIn(['paths', '/public/api/v2/chat/{widgetId}'], {
    get: {
      operationId: 'getPublicWidgetAvailability',
      summary: 'Public widget availability.',
      description: '[code] Used without a key by public integrations.',
      security: [],
      parameters: [{ $ref: '#/components/parameters/WidgetIdPath' }],
      responses: {
        '200': {
          description: 'Availability.',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: {
                  data: { type: 'object', properties: { online: { $ref: '#/components/schemas/LooseBoolean' }, widgetId: { type: 'string' } } },
                },
              },
            },
          },
        },
        '404': { $ref: '#/components/responses/NotFound' },
      },
      'x-snapengage-resource': {
        name: 'public_availability',
        description: 'Whether each widget is online (public endpoint).',
        loadable: true,
        credential: null,
        dataSelector: 'data',
        primaryKey: ['widgetId'],
        writeDisposition: 'merge',
        paginator: { type: 'single_page' },
        params: { widgetId: { from: 'env', env: 'SNAPENGAGE_WIDGET_ID', each: true } },
        addFields: { widgetId: { from: 'param', param: 'widgetId' } },
      },
    },
  });
  return doc.toString();
}

describe('generator', () => {
  it('generated/ is up to date with the spec, and a rerun is byte-identical', async () => {
    const first = await generate();
    const second = await generate();
    expect([...second.entries()]).toEqual([...first.entries()]);
    expect(staleFiles(DEFAULT_OUT, first)).toEqual([]);
  });

  it('the catalog holds every resource of the spec with its loading hints', async () => {
    const catalog = (await generate()).get('catalog.ts')!;
    for (const name of ['logs', 'widgets', 'users', 'chat_availability', 'chat_poll', 'visitor_typing']) {
      expect(catalog).toContain(`"name": "${name}"`);
    }
    expect(catalog).toContain('"nextUrlPath": "linkToNextSetOfResults"');
    expect(catalog).toMatch(/"name": "start_chat",\s+"description": "[^"]+",\s+"loadable": false/);
    expect(catalog).toContain('export type ResourceName = "logs" | "chat_availability" | "chat_poll" | "visitor_typing" | "widgets" | "users";');
  });

  it('every schema property and parameter of the spec says where it comes from ([doc], [code], [inferred], [unverified])', () => {
    // House rule (shared/reference/snapengage-api.md): anything the reference does not establish is marked inferred.
    const spec = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8')).toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const label = /\[[^\]]*\b(doc|code|inferred|unverified)\b/;
    const unlabelled: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (Array.isArray(node)) return node.forEach((item, i) => walk(item, `${at}/${i}`));
      if (node === null || typeof node !== 'object') return;
      const properties = (node as { properties?: Record<string, { $ref?: string; description?: string }> }).properties;
      for (const [name, property] of Object.entries(properties ?? {})) {
        if (property.$ref === undefined && !label.test(property.description ?? '')) unlabelled.push(`${at}/properties/${name}`);
      }
      for (const [key, value] of Object.entries(node)) walk(value, `${at}/${key}`);
    };
    walk(spec.components.schemas, '#/components/schemas');
    for (const [path, item] of Object.entries<Record<string, { parameters?: Array<{ $ref?: string; name: string; description?: string }> }>>(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        for (const p of op.parameters ?? []) if (p.$ref === undefined && !label.test(p.description ?? '')) unlabelled.push(`${method} ${path} ${p.name}`);
      }
    }
    expect(unlabelled).toEqual([]);
    // Nullable fields and unlisted keys are the tolerant reading, not a fact: the spec says so.
    expect(spec.info.description).toMatch(/accepts null as the tolerant reading[^[]*\[inferred\]/);
    expect(spec.components.schemas.RequesterDetails.properties.age.description).toMatch(/full name is \[inferred\]/);
  });

  it('marks the operations whose spec allows a success response without a body (unwrap() may return undefined only there)', () => {
    const spec = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8')).toJS() as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
    const ok = { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } };
    spec.components.responses.Empty = { description: 'no body' };
    spec.paths['/x/no-content'] = { delete: { responses: { '200': ok, '204': { description: 'gone' } } } };
    spec.paths['/x/by-ref'] = { post: { responses: { '202': { $ref: '#/components/responses/Empty' } } } };
    spec.paths['/x/body'] = { get: { responses: { '200': ok, '404': { description: 'no body, but no success either' } } } };
    const catalog = buildCatalogSource(spec);
    const emptySuccess = (path: string) => new RegExp(`"path": "${path}",[^}]*"emptySuccess": (true|false)`).exec(catalog)?.[1];
    expect([emptySuccess('/x/no-content'), emptySuccess('/x/by-ref'), emptySuccess('/x/body')]).toEqual(['true', 'true', 'false']);
    // Every operation of the real spec promises a body on success.
    expect(catalog.match(/"emptySuccess": true/g)).toHaveLength(2);
  });

  it('every env var a resource reads says what it holds (it is shown in .env.example and in missing-variable errors)', async () => {
    const catalog = (await generate()).get('catalog.ts')!;
    // The fallback for a param without a description names the API parameter, which tells a user nothing.
    expect(catalog).not.toMatch(/"description": "Value of the \\"\w+\\" parameter"/);
  });

  it('adding an operation with the extension is all it takes for a new resource', async () => {
    const specPath = join(tmp, 'extra.yaml');
    writeFileSync(specPath, specWithExtraEndpoint());
    const out = join(tmp, 'extra-out');
    const result = runCli(['--spec', specPath, '--out', out]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const types = readFileSync(join(out, 'openapi.ts'), 'utf8');
    const catalog = readFileSync(join(out, 'catalog.ts'), 'utf8');
    expect(types).toContain('"/public/api/v2/chat/{widgetId}": {');
    expect(types).toContain('getPublicWidgetAvailability');
    expect(catalog).toContain('"name": "public_availability"');
    expect(catalog).toContain('public_availability: NonNullable<paths["/public/api/v2/chat/{widgetId}"]');
    // The new types typecheck together with the catalog.
    cpSync(join(root, 'tsconfig.base.json'), join(tmp, 'tsconfig.base.json'));
    writeFileSync(join(tmp, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(tmp, 'tsconfig.json'), JSON.stringify({ extends: './tsconfig.base.json', compilerOptions: { noEmit: true, types: [] }, include: ['extra-out'] }));
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(tmp, 'tsconfig.json')], { encoding: 'utf8' });
  });

  it("a spec edit that renames a parameter of logs breaks the client's build where iterateLogs sends it", async () => {
    // iterateLogs (the client's one resource-named helper) sends the Logs API's query parameters by name. Typed by the
    // spec, a rename there fails the client's typecheck; untyped, the client went on sending the old name.
    const typecheckClientWith = async (specText: string, name: string) => {
      const dir = join(tmp, name);
      const specPath = join(tmp, `${name}.yaml`);
      writeFileSync(specPath, specText);
      // In process: the generator CLI's own behaviour is tested above and below; a spawn costs ~2 s of CPU.
      writeGenerated(join(dir, 'generated'), await generate(specPath));
      cpSync(join(root, 'packages/client/src'), join(dir, 'packages/client/src'), { recursive: true });
      cpSync(join(root, 'tsconfig.base.json'), join(dir, 'tsconfig.base.json'));
      symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ extends: './tsconfig.base.json', compilerOptions: { noEmit: true, types: [] }, include: ['packages/client/src'] }));
      return spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    };
    const unchanged = await typecheckClientWith(readFileSync(DEFAULT_SPEC, 'utf8'), 'client-unchanged');
    expect(unchanged.stdout).toBe('');
    expect(unchanged.status).toBe(0);

    const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
    const op = ['paths', '/api/v2/{orgId}/logs', 'get'];
    const parameters = doc.getIn([...op, 'parameters']) as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
    parameters.items.find((p) => p.get('name') === 'start')!.set('name', 'since');
    const ext = [...op, 'x-snapengage-resource'];
    doc.setIn([...ext, 'incremental', 'startParam'], 'since');
    doc.deleteIn([...ext, 'params', 'start']);
    doc.setIn([...ext, 'params', 'since'], { from: 'incremental', bound: 'start' });
    const renamed = await typecheckClientWith(doc.toString(), 'client-renamed');
    expect(renamed.status).not.toBe(0);
    expect(renamed.stdout).toMatch(/packages\/client\/src\/pagination\.ts\(\d+,\d+\): error TS\d+: .*'(start|since)'/);
  });

  it("spec/README.md's worked example generates the resource it describes", async () => {
    // The example a spec editor copies: if the extension or the generator changed under it, it would teach a spec
    // that no longer generates.
    const readme = readFileSync(join(root, 'spec/README.md'), 'utf8');
    const block = /```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    const example = parseDocument(block as string).toJS() as Record<string, unknown>;
    expect(Object.keys(example)).toEqual(['/public/api/v2/chat/{widgetId}']);
    const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
    doc.setIn(['paths', '/public/api/v2/chat/{widgetId}'], example['/public/api/v2/chat/{widgetId}']);
    const specPath = join(tmp, 'readme-example.yaml');
    writeFileSync(specPath, doc.toString());
    const catalog = (await generate(specPath)).get('catalog.ts') as string;
    expect(catalog).toMatch(/export type ResourceName = [^;]*"public_chat_availability"/);
    expect(catalog).toContain('public_chat_availability: NonNullable<paths["/public/api/v2/chat/{widgetId}"]');
    expect(catalog).toContain('Whether each widget is online, from the public Widget Availability API.');
  });

  it("the spec passes npm run lint:spec's rules, which catch an example that does not match its schema", async () => {
    // generate lints with Redocly's minimal rules only, and nothing else runs lint:spec: without this, an example left
    // behind by a schema change would reach the JSDoc (@example) with every test passing.
    const config = await loadConfig({ configPath: join(root, 'spec/redocly.yaml') });
    const errors = async (ref: string) =>
      (await lint({ ref, config })).filter((p) => p.severity === 'error').map((p) => `${p.ruleId} ${p.location[0]?.pointer}`).sort();
    expect(await errors(DEFAULT_SPEC)).toEqual([]);
    const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
    doc.setIn(['components', 'schemas', 'Case', 'properties', 'survey_score', 'examples'], ['a hundred']);
    doc.deleteIn(['paths', '/api/v2/{orgId}/logs', 'get', 'x-source']);
    const broken = join(tmp, 'lint-broken.yaml');
    writeFileSync(broken, doc.toString());
    expect(await errors(broken)).toEqual([
      'no-invalid-schema-examples #/components/schemas/Case/properties/survey_score/examples/0',
      'rule/operation-x-source #/paths/~1api~1v2~1{orgId}~1logs/get/x-source',
    ]);
  });

  it('a security scheme added to the spec is a client option, sent, read from env and redacted with no code edit', async () => {
    // The client took only apiToken, apiKey and provisioningKey: a resource with a new scheme failed with "pass
    // { partnerKey } to createSnapEngageClient", which neither its types nor its runtime accepted.
    const doc = parseDocument(specWithExtraEndpoint());
    doc.setIn(['components', 'securitySchemes', 'partnerKey'], {
      type: 'apiKey', in: 'header', name: 'x-partner-key', description: 'Partner key.',
      'x-snapengage-credential': { option: 'partnerKey', env: 'SNAPENGAGE_PARTNER_KEY', howToGet: 'Ask your partner manager' },
    });
    doc.setIn(['paths', '/public/api/v2/chat/{widgetId}', 'get', 'security'], [{ partnerKey: [] }]);
    doc.setIn(['paths', '/public/api/v2/chat/{widgetId}', 'get', 'x-snapengage-resource', 'credential'], 'partnerKey');
    // A copy of the client beside the catalog generated from that spec, as the repository lays them out.
    const app = join(tmp, 'partner');
    mkdirSync(join(app, 'packages/client'), { recursive: true });
    cpSync(join(root, 'packages/client/src'), join(app, 'packages/client/src'), { recursive: true });
    symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'));
    writeFileSync(join(app, 'spec.yaml'), doc.toString());
    // In process (generate throws on a spec problem): the CLI's own behaviour is tested elsewhere in this file.
    writeGenerated(join(app, 'generated'), await generate(join(app, 'spec.yaml')));
    writeFileSync(join(app, 'package.json'), '{ "type": "module" }\n');
    writeFileSync(join(app, 'main.ts'), `
import { createServer } from 'node:http';
import { createSnapEngageClient, credentialsFromEnv, unwrap } from './packages/client/src/index.js';
const secret = 'partner-secret-123';
const server = createServer((req, res) => {
  const key = req.headers['x-partner-key'];
  res.writeHead(key === secret ? 200 : 401, { 'content-type': 'application/json' });
  res.end(JSON.stringify(key === secret ? { data: { widgetId: 'w1', online: true } } : { error: 'bad key ' + String(key) }));
});
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
const baseUrl = 'http://127.0.0.1:' + (server.address() as { port: number }).port;
const call = (client: ReturnType<typeof createSnapEngageClient>) =>
  client.GET('/public/api/v2/chat/{widgetId}', { params: { path: { widgetId: 'w1' } } }).then(unwrap).then((d) => d.data?.widgetId, (e: Error) => e.message);
const fromEnv: string | undefined = credentialsFromEnv({ SNAPENGAGE_PARTNER_KEY: secret }).partnerKey;
console.log(JSON.stringify({
  option: await call(createSnapEngageClient({ baseUrl, partnerKey: secret })),
  env: await call(createSnapEngageClient({ baseUrl, ...credentialsFromEnv({ SNAPENGAGE_PARTNER_KEY: fromEnv }) })),
  missing: await call(createSnapEngageClient({ baseUrl })),
  wrong: await call(createSnapEngageClient({ baseUrl, partnerKey: 'wrong-partner-key-456', maxRetries: 0 })),
}));
server.close();
`);
    cpSync(join(root, 'tsconfig.base.json'), join(app, 'tsconfig.base.json'));
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ extends: './tsconfig.base.json', compilerOptions: { noEmit: true, types: ['node'] }, include: ['main.ts'] }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(app, 'tsconfig.json')], { encoding: 'utf8' });
    expect(tsc.stdout).toBe('');
    const run = spawnSync(process.execPath, ['--import', 'tsx', join(app, 'main.ts')], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const out = JSON.parse(run.stdout) as Record<string, string>;
    expect(out.option).toBe('w1');
    expect(out.env).toBe('w1');
    expect(out.missing).toMatch(/needs the partnerKey credential: pass \{ partnerKey \} to createSnapEngageClient, or set SNAPENGAGE_PARTNER_KEY .*Ask your partner manager/);
    // The server echoed the wrong key: the error says which credential to check, and never shows the key.
    expect(out.wrong).toMatch(/HTTP 401 .*check the partnerKey \(SNAPENGAGE_PARTNER_KEY\) credential/);
    expect(out.wrong).not.toContain('wrong-partner-key-456');
  });

  it("a credential's client option must be an identifier, and each scheme's own", async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        option: apiKey\n', '        option: apiToken\n')
      .replace('        option: provisioningKey\n', '        option: provisioning-key\n');
    const specPath = join(tmp, 'options.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
      '#/components/securitySchemes/apiKey/x-snapengage-credential/option: option "apiToken" is also the option of security scheme "apiToken"',
      '#/components/securitySchemes/provisioningKey/x-snapengage-credential/option: option "provisioning-key" must be a camelCase identifier (it is a client option, e.g. apiToken)',
    ]);
  });

  it('an invalid spec lists each problem with file, line and pointer, exits non-zero and leaves the output untouched', () => {
    const out = join(tmp, 'untouched');
    writeGenerated(out, new Map([['catalog.ts', 'previous content\n']]));
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        dataSelector: cases\n', '        dataSelecter: cases\n')
      .replace('        primaryKey: [email]\n', '        primaryKey: email\n');
    const specPath = join(tmp, 'bad.yaml');
    writeFileSync(specPath, bad);
    const result = runCli(['--spec', specPath, '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/bad\.yaml:\d+ #\/paths\/~1api~1v2~1\{orgId\}~1logs\/get\/x-snapengage-resource: .*additional properties \(dataSelecter\)/);
    expect(result.stderr).toMatch(/bad\.yaml:\d+ #\/paths\/~1api~1v1~1user\.json\/get\/x-snapengage-resource\/primaryKey: .*must be array/);
    expect(readdirSync(out)).toEqual(['catalog.ts']);
    expect(readFileSync(join(out, 'catalog.ts'), 'utf8')).toBe('previous content\n');
  });

  it('reports YAML syntax errors and OpenAPI structure errors with their line', async () => {
    const yamlBad = join(tmp, 'syntax.yaml');
    writeFileSync(yamlBad, 'openapi: 3.1.0\ninfo:\n  title: x\n  title: y\n');
    await expect(generate(yamlBad)).rejects.toThrow(/syntax\.yaml:4 .*YAML/);
    const structure = join(tmp, 'structure.yaml');
    writeFileSync(structure, 'openapi: 3.1.0\ninfo:\n  title: x\npaths: {}\n');
    const err = await generate(structure).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).problems[0]).toMatchObject({ line: 2, pointer: '#/info', message: expect.stringContaining('version') });
  });

  it('rejects loading hints that contradict the operation', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace("          caseId: { from: parent, resource: logs, field: id }\n          index:", "          caseId: { from: parent, resource: logs, field: id }\n          nope: { from: constant, value: 1 }\n          index:")
      .replace('        name: widgets\n', '        name: users\n');
    const specPath = join(tmp, 'semantic.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const messages = err.problems.map((p) => `${p.pointer}: ${p.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/params\/nope: "nope" is not a parameter of the operation/));
    expect(messages).toContainEqual(expect.stringMatching(/name: resource name "users" is also used by/));
  });

  it("rejects a resource whose credential is not its operation's security, and an idempotent flag that is not a boolean", async () => {
    // A mismatch would have the loader send the API token where the operation takes the API key (every request a 401).
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        name: logs\n        description: Chat and offline cases with visitor details, transcripts, labels and survey results.\n        loadable: true\n        credential: apiToken\n', '        name: logs\n        description: Chat and offline cases with visitor details, transcripts, labels and survey results.\n        loadable: true\n        credential: apiKey\n')
      .replace('      x-snapengage-idempotent: false\n', "      x-snapengage-idempotent: 'no'\n");
    const specPath = join(tmp, 'credential-mismatch.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const messages = err.problems.map((p) => `${p.pointer}: ${p.message}`);
    expect(messages).toContainEqual(expect.stringMatching(/logs\/get\/x-snapengage-resource\/credential: credential "apiKey" does not match the operation's security \[apiToken\]/));
    expect(messages).toContainEqual(expect.stringMatching(/x-snapengage-idempotent: x-snapengage-idempotent must be true or false/));
  });

  it('rejects a data selector, next-page path, primary key or cursor field that the response schema lacks, at its line', () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        dataSelector: data\n', '        dataSelector: dta\n')
      .replace('          nextUrlPath: linkToNextSetOfResults\n', '          nextUrlPath: linkToNextSetOfResultz\n')
      .replace('          cursorField: created_at_seconds\n', '          cursorField: created_at_second\n')
      .replace('        primaryKey: [uuid]\n', '        primaryKey: [uuidx]\n')
      .replace('        primaryKey: [email]\n', '        primaryKey: [email, login]\n');
    const specPath = join(tmp, 'references.yaml');
    writeFileSync(specPath, bad);
    const lines = bad.split('\n');
    const lineOf = (text: string) => lines.indexOf(text) + 1;
    const result = runCli(['--spec', specPath, '--out', join(tmp, 'references-out')]);
    expect(result.status).toBe(1);
    const logs = '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource';
    const at = (line: number, pointer: string) => `references.yaml:${line} ${pointer}: `;
    expect(result.stderr).toContain(at(lineOf('          nextUrlPath: linkToNextSetOfResultz'), `${logs}/paginator/nextUrlPath`)
      + 'nextUrlPath segment "linkToNextSetOfResultz" is not a property of the 200 response body (#/components/schemas/LogsPage); did you mean "linkToNextSetOfResults"?');
    expect(result.stderr).toContain(at(lineOf('          cursorField: created_at_second'), `${logs}/incremental/cursorField`)
      + 'cursor field "created_at_second" is not a property of the record schema (#/components/schemas/Case) nor an addFields field; did you mean "created_at_seconds"?');
    expect(result.stderr).toContain(at(lineOf('        primaryKey: [uuidx]'), '#/paths/~1api~1v1~1widget.json/get/x-snapengage-resource/primaryKey/0')
      + 'primary key field "uuidx" is not a property of the record schema (#/components/schemas/Widget) nor an addFields field; did you mean "uuid"?');
    expect(result.stderr).toContain(at(lineOf('        primaryKey: [email, login]'), '#/paths/~1api~1v1~1user.json/get/x-snapengage-resource/primaryKey/1')
      + 'primary key field "login" is not a property of the record schema (#/components/schemas/User); its properties are "email", "name", "phone", "accountType"');
    expect(result.stderr).toMatch(new RegExp(`references\\.yaml:${lineOf('        dataSelector: dta')} #/paths/~1public~1api~1v2~1chat~1\\{widgetId\\}~1\\{caseId\\}~1visitorTyping/get/x-snapengage-resource/dataSelector: data selector segment "dta" is not a property of the 200 response body \\(#/components/schemas/VisitorTyping\\); did you mean "data"\\?`));
    expect(result.stderr).toContain('the spec has 5 problem(s)');
  });

  it('a primary key from addFields is accepted; a next-page path that cannot hold a URL is not', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('          nextUrlPath: linkToNextSetOfResults\n', '          nextUrlPath: cases\n')
      .replace('        primaryKey: [widgetId, caseId]\n', '        primaryKey: [widgetId, caseid]\n');
    const specPath = join(tmp, 'next-url-type.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
      '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource/paginator/nextUrlPath: "cases" in the 200 response body cannot be a string, so it cannot hold the next page\'s URL',
      // widgetId and caseId are not in the record schema, they are added by addFields.
      '#/paths/~1public~1api~1v2~1chat~1{widgetId}~1{caseId}~1visitorTyping/get/x-snapengage-resource/primaryKey/1: primary key field "caseid" is not a property of the record schema nor an addFields field; did you mean "caseId"?',
    ]);
  });

  it('follows $ref, allOf and oneOf to the fields the loading hints name', async () => {
    /** The spec with LogsPage, Case and Widget split into compositions of $refs. */
    const composed = (source: string) => {
      const doc = parseDocument(source);
      const schemas = (name: string) => (doc.getIn(['components', 'schemas', name]) as { toJSON(): unknown }).toJSON();
      const logsPage = schemas('LogsPage') as { properties: Record<string, unknown> };
      doc.setIn(['components', 'schemas', 'CaseCore'], schemas('Case'));
      doc.setIn(['components', 'schemas', 'Case'], { allOf: [{ $ref: '#/components/schemas/CaseCore' }, { type: 'object' }] });
      doc.setIn(['components', 'schemas', 'PageLink'], { type: 'object', properties: { linkToNextSetOfResults: logsPage.properties.linkToNextSetOfResults } });
      doc.setIn(['components', 'schemas', 'LogsPage'], {
        allOf: [{ type: 'object', properties: { cases: logsPage.properties.cases } }, { $ref: '#/components/schemas/PageLink' }],
      });
      doc.setIn(['components', 'schemas', 'WidgetCore'], schemas('Widget'));
      doc.setIn(['components', 'schemas', 'Widget'], { oneOf: [{ $ref: '#/components/schemas/WidgetCore' }, { type: 'null' }] });
      return doc.toString();
    };
    const source = readFileSync(DEFAULT_SPEC, 'utf8');
    const specPath = join(tmp, 'composed.yaml');
    writeFileSync(specPath, composed(source));
    const catalog = (await generate(specPath)).get('catalog.ts')!;
    expect(catalog).toContain('"nextUrlPath": "linkToNextSetOfResults"');
    expect(catalog).toContain('"cursorField": "created_at_seconds"');

    // The same typos are still caught through the compositions.
    writeFileSync(specPath, composed(source
      .replace('          nextUrlPath: linkToNextSetOfResults\n', '          nextUrlPath: linkToNextSetOfResultz\n')
      .replace('          cursorField: created_at_seconds\n', '          cursorField: created_at_second\n')
      .replace('        primaryKey: [uuid]\n', '        primaryKey: [uuidx]\n')));
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/^nextUrlPath segment "linkToNextSetOfResultz" .*did you mean "linkToNextSetOfResults"\?$/),
      expect.stringMatching(/^cursor field "created_at_second" .*did you mean "created_at_seconds"\?$/),
      expect.stringMatching(/^primary key field "uuidx" .*did you mean "uuid"\?$/),
    ]);
    expect(err.problems.every((p) => p.line !== undefined)).toBe(true);
  });

  it('reports a JSON Schema violation of the loading hints once, with the allowed values (and not again in its children)', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace(/(        name: widgets\n(?:.*\n)*?)        paginator: \{ type: single_page \}\n/, '$1        paginator: { type: singlepage }\n')
      .replace('          start: { from: incremental, bound: start }\n', '          start: { from: incremental, bound: begin }\n');
    const specPath = join(tmp, 'schema-errors.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const lines = bad.split('\n');
    expect(err.problems).toEqual([
      {
        file: specPath, line: lines.indexOf('          start: { from: incremental, bound: begin }') + 1,
        pointer: '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource/params/start/bound',
        message: 'x-snapengage-resource: must be one of "start", "end"',
      },
      {
        file: specPath, line: lines.indexOf('        paginator: { type: singlepage }') + 1,
        pointer: '#/paths/~1api~1v1~1widget.json/get/x-snapengage-resource/paginator/type',
        message: 'x-snapengage-resource: must be one of "next_url", "single_page"',
      },
    ]);
  });

  it('rejects a parent field or parent param the parent cannot give, and a cycle of parents', async () => {
    // A parent field or param that the parent does not have leaves every child request without its parameter: the
    // child would silently load nothing. A cycle of parents would never reach a top-level resource to start from.
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('          caseId: { from: parent, resource: logs, field: id }\n          index:', '          caseId: { from: parent, resource: logs, field: ids }\n          index:')
      .replace('          widgetId: { from: parent, resource: logs, param: widgetId }\n', '          widgetId: { from: parent, resource: logs, param: widget }\n')
      .replace('        name: widgets\n', '        name: widgets\n        parent: users\n')
      .replace('        name: users\n', '        name: users\n        parent: widgets\n');
    const specPath = join(tmp, 'parents.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const lines = bad.split('\n');
    const messages = err.problems.map((p) => `${p.line} ${p.pointer}: ${p.message}`);
    expect(messages).toEqual(expect.arrayContaining([
      `${lines.indexOf('          caseId: { from: parent, resource: logs, field: ids }') + 1} #/paths/~1api~1v1~1chat~1poll~1{caseId}/get/x-snapengage-resource/params/caseId/field: `
        + 'parent field "ids" is not a property of the record schema of "logs" (#/components/schemas/Case) nor an addFields field; did you mean "id"?',
      `${lines.indexOf('          widgetId: { from: parent, resource: logs, param: widget }') + 1} #/paths/~1public~1api~1v2~1chat~1{widgetId}~1{caseId}~1visitorTyping/get/x-snapengage-resource/params/widgetId/param: `
        + '"widget" is not one of the params of "logs" (orgId, widgetId, timezone, start, end); did you mean "widgetId"?',
      expect.stringMatching(/~1api~1v1~1widget\.json\/get\/x-snapengage-resource\/parent: the parents form a cycle \(widgets → users → widgets\); a top-level resource has no parent/),
    ]));
  });

  it("the incremental window's dates go to the params startParam/endParam name, with the matching bound", async () => {
    // The loader puts a slice's dates into the params sourced `from: incremental` by their bound: with the end bound
    // on `start` too, every request asked for one day and the state still advanced to today (days never loaded).
    const source = readFileSync(DEFAULT_SPEC, 'utf8');
    const swapped = source.replace('          end: { from: incremental, bound: end }\n', '          end: { from: incremental, bound: start }\n');
    const constant = source.replace('          start: { from: incremental, bound: start }\n', "          start: { from: constant, value: '2020-01-01' }\n");
    const logs = '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource';
    const problems = async (text: string, name: string) => {
      const specPath = join(tmp, name);
      writeFileSync(specPath, text);
      const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
      expect(err).toBeInstanceOf(SpecError);
      return err.problems.map((p) => `${p.line} ${p.pointer}: ${p.message}`);
    };
    expect(await problems(swapped, 'bounds-swapped.yaml')).toEqual([
      `${swapped.split('\n').indexOf('          end: { from: incremental, bound: start }') + 1} ${logs}/params/end: `
        + 'incremental.endParam is "end", so params.end must be { from: incremental, bound: end }, not {"from":"incremental","bound":"start"}',
    ]);
    expect(await problems(constant, 'bounds-constant.yaml')).toEqual([
      `${constant.split('\n').indexOf("          start: { from: constant, value: '2020-01-01' }") + 1} ${logs}/params/start: `
        + 'incremental.startParam is "start", so params.start must be { from: incremental, bound: start }, not {"from":"constant","value":"2020-01-01"}',
    ]);
  });

  it('notFound: skip is only for a resource with a parent (a top-level 404 is a wrong id or URL)', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8').replace(
      '        dataSelector: cases\n        primaryKey: [id]\n        writeDisposition: merge\n',
      '        dataSelector: cases\n        primaryKey: [id]\n        writeDisposition: merge\n        notFound: skip\n',
    );
    const specPath = join(tmp, 'not-found-top.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
      '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource/notFound: "skip" is for a resource with a parent (a 404 to a top-level request is a wrong id or URL)',
    ]);
  });

  it('a child of a child below an incremental resource is refused (the loader keeps one level of windows)', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        parent: logs\n        params:\n          widgetId: { from: parent, resource: logs, param: widgetId }\n', '        parent: chat_poll\n        params:\n          widgetId: { from: parent, resource: chat_poll, field: widgetId }\n')
      .replace('          caseId: { from: parent, resource: logs, field: id }\n        addFields:', '          caseId: { from: parent, resource: chat_poll, field: caseId }\n        addFields:');
    expect(bad).toContain('parent: chat_poll');
    const specPath = join(tmp, 'grandchild.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toContainEqual(
      '#/paths/~1public~1api~1v2~1chat~1{widgetId}~1{caseId}~1visitorTyping/get/x-snapengage-resource/parent: "chat_poll" has a parent itself (visitor_typing → chat_poll → logs), and "logs" is read by date window: '
        + 'a child of a child below an incremental resource is not supported yet (its windows would not be kept); make it a child of a resource whose own parent is not incremental, or of "logs"',
    );
  });

  it('each: true on a child param is refused (a child request carries one value; the list would go whole)', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8').replace(
      '          widgetId: { from: parent, resource: logs, param: widgetId }\n',
      '          widgetId: { from: env, env: SNAPENGAGE_WIDGET_ID, each: true }\n',
    );
    const specPath = join(tmp, 'each-on-child.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
      '#/paths/~1public~1api~1v2~1chat~1{widgetId}~1{caseId}~1visitorTyping/get/x-snapengage-resource/params/widgetId/each: '
        + '"each" is for a top-level resource (one request sequence per value); a child is requested once per record of "logs": take the value from it ({ from: parent, resource: logs, param: … } or field: …)',
    ]);
  });

  it('a loading-hint param must be a path or query parameter (the loader sends nothing else)', async () => {
    // Sourced params go in the path or the query string: a header parameter with a source was sent as a query parameter.
    const bad = readFileSync(DEFAULT_SPEC, 'utf8').replace(
      '        - name: timezone\n          in: query\n',
      '        - name: timezone\n          in: header\n',
    );
    const specPath = join(tmp, 'header-param.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems.map((p) => `${p.line} ${p.pointer}: ${p.message}`)).toEqual([
      `${bad.split('\n').indexOf('          timezone: { from: constant, value: Etc/UTC }') + 1} #/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource/params/timezone: `
        + '"timezone" is a header parameter; the loader can only fill path and query parameters',
    ]);
  });

  it('a path placeholder without its parameter is an error, as in npm run lint:spec (it would be sent literally)', async () => {
    // The caseId parameter of chat_poll dropped (and its source): generate passed, and every request went to
    // /api/v1/chat/poll/%7BcaseId%7D.
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace(/      parameters:\n        - name: caseId\n          in: path\n(?:          .*\n)+?          schema:\n            type: string\n            minLength: 1\n/, '      parameters:\n')
      .replace('          caseId: { from: parent, resource: logs, field: id }\n          index:', '          index:');
    const specPath = join(tmp, 'undeclared-path-param.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    expect(err.problems).toEqual([expect.objectContaining({
      pointer: '#/paths/~1api~1v1~1chat~1poll~1{caseId}/get/parameters',
      message: expect.stringMatching(/OpenAPI: .*caseId/),
      line: expect.any(Number),
    })]);
  });

  it('a misspelt loading-hint key is reported once, with the key it was meant to be', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace('        dataSelector: cases\n', '        dataSelecter: cases\n')
      .replace('          lookbackDays: 1\n', '          lookbackDay: 1\n')
      .replace('          uuid: { from: env, env: SNAPENGAGE_WIDGET_ID, each: true,', '          uuid: { from: env, env: SNAPENGAGE_WIDGET_ID, eachh: true,')
      .replace('        addFields:\n          widgetId:', '        addfields:\n          widgetId:')
      .replace('        name: users\n', '        name: users\n        label: Users\n');
    const specPath = join(tmp, 'misspelt.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const logs = '#/paths/~1api~1v2~1{orgId}~1logs/get/x-snapengage-resource';
    expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
      `${logs}: x-snapengage-resource: must NOT have additional properties (dataSelecter); did you mean "dataSelector"?`,
      `${logs}/incremental: x-snapengage-resource: must NOT have additional properties (lookbackDay); did you mean "lookbackDays"?`,
      '#/paths/~1public~1api~1v2~1chat~1{widgetId}~1{caseId}~1visitorTyping/get/x-snapengage-resource: x-snapengage-resource: must NOT have additional properties (addfields); did you mean "addFields"?',
      '#/paths/~1api~1v1~1widget.json/get/x-snapengage-resource/params/uuid: x-snapengage-resource: must NOT have additional properties (eachh); did you mean "each"?',
      '#/paths/~1api~1v1~1user.json/get/x-snapengage-resource: x-snapengage-resource: must NOT have additional properties (label); '
        + 'the allowed keys are name, description, loadable, credential, dataSelector, primaryKey, writeDisposition, notFound, paginator, incremental, parent, params, addFields',
    ]);
  });

  it('a $ref to nothing names the reference and the one it was probably meant to be', async () => {
    const bad = readFileSync(DEFAULT_SPEC, 'utf8')
      .replace("                $ref: '#/components/schemas/WidgetAvailability'\n", "                $ref: '#/components/schemas/WidgetAvailabilty'\n")
      .replace("          $ref: '#/components/responses/TooManyRequests'\n", "          $ref: '#/components/responses/TooManyRequest'\n");
    const specPath = join(tmp, 'bad-ref.yaml');
    writeFileSync(specPath, bad);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const lines = bad.split('\n');
    expect(err.problems).toEqual([
      {
        file: specPath, line: lines.indexOf('          $ref: \'#/components/responses/TooManyRequest\'') + 1,
        pointer: '#/paths/~1api~1v2~1{orgId}~1logs/get/responses/429',
        message: 'OpenAPI: Can\'t resolve $ref: #/components/responses/TooManyRequest does not exist; did you mean #/components/responses/TooManyRequests?',
      },
      {
        file: specPath, line: lines.indexOf('                $ref: \'#/components/schemas/WidgetAvailabilty\'') + 1,
        pointer: '#/paths/~1api~1v1~1chat~1{widgetId}/get/responses/200/content/application~1json/schema',
        message: 'OpenAPI: Can\'t resolve $ref: #/components/schemas/WidgetAvailabilty does not exist; did you mean #/components/schemas/WidgetAvailability?',
      },
    ]);
  });

  it('a resource name must be its own table name (no "__", no trailing "_")', async () => {
    for (const [name, meant] of [['logs__extra', 'logs_extra'], ['logs_', 'logs']]) {
      const specPath = join(tmp, 'name.yaml');
      writeFileSync(specPath, readFileSync(DEFAULT_SPEC, 'utf8').replace('        name: widgets\n', `        name: ${name}\n`));
      const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
      expect(err).toBeInstanceOf(SpecError);
      expect(err.problems.map((p) => `${p.pointer}: ${p.message}`)).toEqual([
        `#/paths/~1api~1v1~1widget.json/get/x-snapengage-resource/name: x-snapengage-resource: must match pattern "^[a-z][a-z0-9]*(_[a-z0-9]+)*$": snake_case, e.g. "${meant}"`,
      ]);
    }
  });

  it('a recursive record schema is one error at the $ref that leads back, with its line and what to do', async () => {
    // Valid for the checks (the walk stops at the fields it needs), but the catalog cannot inline a recursive record.
    // Before: "catalog: schema nesting too deep (recursive $ref?)" at logs' dataSelector, which is not what to change.
    const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
    doc.setIn(['components', 'schemas', 'Case', 'properties', 'parentCase'], { $ref: '#/components/schemas/Case' });
    const specPath = join(tmp, 'recursive.yaml');
    const text = doc.toString();
    writeFileSync(specPath, text);
    const err = (await generate(specPath).catch((e: unknown) => e)) as SpecError;
    expect(err).toBeInstanceOf(SpecError);
    const lines = text.split('\n');
    expect(err.problems).toEqual([{
      file: specPath,
      line: lines.indexOf('        parentCase:', lines.indexOf('    Case:')) + 2,
      pointer: '#/components/schemas/Case/properties/parentCase/$ref',
      message: 'catalog: the record schema of "logs" contains itself: this $ref leads back to #/components/schemas/Case, which contains it. '
        + "The catalog inlines the record schema for the loader's tables, so it cannot be recursive: replace the $ref with a schema that does not lead back (e.g. type: object and the properties needed)",
    }]);
  });

  it('a scratch directory left by a killed run is cleaned up by the next run, so --check passes again', () => {
    const out = join(tmp, 'leftover-tmp');
    cpSync(DEFAULT_OUT, out, { recursive: true });
    // What writeGenerated leaves when the process dies between mkdir and cleanup (pid 2^22+1 cannot be running).
    cpSync(DEFAULT_OUT, join(out, '.tmp-4194305'), { recursive: true });
    expect(runCli(['--check', '--out', out]).stderr).toContain('.tmp-4194305');
    const result = runCli(['--out', out]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('removed .tmp-4194305');
    expect(readdirSync(out).sort()).toEqual(['catalog.ts', 'openapi.ts']);
    expect(runCli(['--check', '--out', out]).status).toBe(0);
  });

  it("a running generate's scratch directory is left alone, and the message does not call it removed", () => {
    const out = join(tmp, 'live-tmp');
    cpSync(DEFAULT_OUT, out, { recursive: true });
    // This test process is alive: its pid names the scratch directory of a generate still at work.
    const live = `.tmp-${process.pid}`;
    cpSync(DEFAULT_OUT, join(out, live), { recursive: true });
    const result = runCli(['--out', out]);
    expect(result.status).toBe(0);
    expect(readdirSync(out)).toContain(live);
    expect(result.stdout).not.toContain(`removed ${live}`);
    expect(result.stdout).toContain(`left ${live}`);
  });

  it('--check exits non-zero and lists the stale files', () => {
    const out = join(tmp, 'stale');
    cpSync(DEFAULT_OUT, out, { recursive: true });
    writeFileSync(join(out, 'catalog.ts'), readFileSync(join(out, 'catalog.ts'), 'utf8') + '// edited by hand\n');
    writeFileSync(join(out, 'leftover.ts'), 'export {};\n');
    const result = runCli(['--check', '--out', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('  catalog.ts (differs from what the spec generates)\n');
    // Before: the name alone, though `npm run generate`, which the message says to run, deletes the file.
    expect(result.stderr).toContain('  leftover.ts (not a generated file: npm run generate removes it)\n');
    expect(result.stderr).not.toContain('openapi.ts');
    expect(runCli(['--check']).status).toBe(0);
  });

  it('an --out that is a file is one line saying so, in both modes, not a stack trace from node:fs', () => {
    const file = join(tmp, 'out-is-a-file.ts');
    writeFileSync(file, 'export {};\n');
    for (const args of [['--out', file], ['--check', '--out', file]]) {
      const result = runCli(args);
      // Before: "Error: ENOTDIR: not a directory, scandir …" with node:fs's stack.
      expect(result.status).toBe(1);
      expect(result.stderr).toBe(`generate: ${file} is not a directory (--out names the directory the generated files go to)\n`);
    }
    expect(readFileSync(file, 'utf8')).toBe('export {};\n');
  });

  it.runIf(existsSync('/proc/self'))('an --out the file system will not create is one line, not a spin in a recursive mkdir', () => {
    // procfs answers mkdir with ENOENT though /proc exists; Node's recursive mkdir then retries for ever (before: the
    // process spun at 100 % CPU until this spawn's timeout killed it).
    const result = runCli(['--out', '/proc/snapengage-no-such-dir/generated'], 20_000);
    expect(result.signal).toBeNull();
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^generate: cannot write \/proc\/snapengage-no-such-dir: ENOENT[^\n]*\n$/);
  });
});

describe('JSON pointers in spec errors', () => {
  it('escape ~ as ~0 before / as ~1 (RFC 6901), so a name holding either points at itself', () => {
    expect(escapePointer('/api/v2/{orgId}/logs')).toBe('~1api~1v2~1{orgId}~1logs');
    expect(escapePointer('a~b')).toBe('a~0b');
    // ~ first: a name holding "~1" stays "~01", not a slash.
    expect(escapePointer('x~1/y')).toBe('x~01~1y');
  });
});
