// "Adding a resource is a spec edit": a copy of the spec gets two endpoints no part of the toolkit knows (a paged,
// date-windowed list with a child list per record, both [inferred]); the generator builds their catalog entries, and
// the loader, `show` and the scaffolder's resource list take them with no code change, over loopback HTTP from a
// tiny server on 127.0.0.1 (the sandbox emulates only the endpoints it was built with). The entries are added to the
// catalog the client exports, as `npm run generate` + a build would, and removed after.
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import { parseDocument } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiOperations, resourceNames, resourcePaging, resources } from 'snapengage-client';
import { loadCatalog } from 'create-snapengage-pipeline';
import { definePipeline, runPipeline, showDataset } from 'snapengage-pipeline';
import { DEFAULT_SPEC, generate } from '../generator/generate.js';
import { query, tempDir } from '../packages/pipeline/test/helpers.js';

const LIST = '/api/v2/{orgId}/departments';
const CHILD = '/api/v2/{orgId}/departments/{deptId}/members';
const inferred = (text: string) => `${text} [inferred]`;

/** The real spec plus `departments` (next_url pages, a date window on from/to) and its child `department_members`. */
function specWithDepartments(): string {
  const doc = parseDocument(readFileSync(DEFAULT_SPEC, 'utf8'));
  const orgId = { name: 'orgId', in: 'path', required: true, description: inferred('Organisation id.'), schema: { type: 'string', minLength: 1 } };
  const query = (name: string) => ({ name, in: 'query', required: true, description: inferred(name), schema: { type: 'string' } });
  const json = (ref: string) => ({ '200': { description: 'OK.', content: { 'application/json': { schema: { $ref: `#/components/schemas/${ref}` } } } } });
  doc.setIn(['paths', LIST], { get: {
    operationId: 'listDepartments', tags: ['logs'], summary: 'Departments.', description: inferred('A paged list.'), 'x-source': 'inferred',
    security: [{ apiToken: [] }], parameters: [orgId, query('widgetId'), query('from'), query('to')], responses: json('DepartmentsPage'),
    'x-snapengage-resource': {
      name: 'departments', description: 'Departments of each widget (inferred endpoint).', loadable: true, credential: 'apiToken',
      dataSelector: 'items', primaryKey: ['dept_id'], writeDisposition: 'merge', paginator: { type: 'next_url', nextUrlPath: 'next' },
      incremental: { type: 'date_window', startParam: 'from', endParam: 'to', cursorField: 'updated_at_ms', initialStartEnv: 'SNAPENGAGE_DEPT_START', defaultStartDaysAgo: 5, lookbackDays: 0 },
      params: {
        orgId: { from: 'env', env: 'SNAPENGAGE_ORG_ID', organisation: true, description: 'The org' },
        widgetId: { from: 'env', env: 'SNAPENGAGE_DEPT_WIDGETS', each: true, description: 'Comma-separated widget ids' },
        from: { from: 'incremental', bound: 'start' }, to: { from: 'incremental', bound: 'end' },
      },
      addFields: { widget_id: { from: 'param', param: 'widgetId' } },
    },
  } });
  doc.setIn(['paths', CHILD], { get: {
    operationId: 'listDepartmentMembers', tags: ['logs'], summary: 'Members.', description: inferred('Members.'), 'x-source': 'inferred',
    security: [{ apiToken: [] }], parameters: [orgId, { ...query('deptId'), in: 'path', schema: { type: 'string', minLength: 1 } }], responses: json('Members'),
    'x-snapengage-resource': {
      name: 'department_members', description: 'Members of every department loaded by `departments`.', loadable: true, credential: 'apiToken',
      dataSelector: 'members', primaryKey: ['dept_id', 'email'], writeDisposition: 'merge', notFound: 'skip', paginator: { type: 'single_page' },
      parent: 'departments',
      params: { orgId: { from: 'parent', resource: 'departments', param: 'orgId' }, deptId: { from: 'parent', resource: 'departments', field: 'dept_id' } },
      addFields: { dept_id: { from: 'param', param: 'deptId' } },
    },
  } });
  const object = (properties: Record<string, unknown>) => ({ type: 'object', description: inferred('Object.'), properties });
  const text = { type: 'string', description: inferred('Text.') };
  doc.setIn(['components', 'schemas', 'DepartmentsPage'], object({
    items: { type: 'array', description: inferred('Departments.'), items: { $ref: '#/components/schemas/Department' } },
    next: { type: ['string', 'null'], description: inferred('Next page.') },
  }));
  doc.setIn(['components', 'schemas', 'Department'], object({
    dept_id: text, name: text, updated_at_ms: { type: 'integer', description: inferred('Epoch ms.') },
    tags: { type: 'array', description: inferred('Tags.'), items: object({ tag: text }) },
  }));
  doc.setIn(['components', 'schemas', 'Members'], object({
    members: { type: 'array', description: inferred('Members.'), items: object({ email: text, role: text }) },
  }));
  return doc.toString();
}

/** Two pages of one department per widget and day asked; members of every department but those of page 2 (404). */
function departmentsServer(requests: string[]): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${url.pathname}${url.search}`);
    res.setHeader('content-type', 'application/json');
    const list = /^\/api\/v2\/org-1\/departments$/.exec(url.pathname);
    const members = /^\/api\/v2\/org-1\/departments\/([^/]+)\/members$/.exec(url.pathname);
    if (req.headers.authorization !== 'token-1') res.writeHead(401).end('{}');
    else if (list) {
      const [widget, from, page] = [url.searchParams.get('widgetId'), url.searchParams.get('from'), url.searchParams.get('page') ?? '1'];
      const item = { dept_id: `${widget}-${page}`, name: 'Sales', updated_at_ms: Date.parse(`${from}T12:00:00Z`), tags: [{ tag: 'a' }, { tag: 'b' }] };
      const next = page === '1' ? `${url.pathname}?widgetId=${widget}&from=${from}&to=${url.searchParams.get('to')}&page=2` : null;
      res.end(JSON.stringify({ items: [item], next: next && `http://${req.headers.host}${next}` }));
    } else if (members && !members[1]!.endsWith('-2')) res.end(JSON.stringify({ members: [{ email: `agent@${members[1]}`, role: 'agent' }] }));
    else res.writeHead(404).end('{}');
  });
}

// Made in beforeAll: vitest runs no hook of a file whose tests a -t filter skips all, so one made at import was left.
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('spec-new-resource-');
});
const requests: string[] = [];
let server: Server;
let added: { names: string[]; operations: number } | undefined;

beforeAll(async () => {
  const specPath = join(tmp.dir, 'spec.yaml');
  writeFileSync(specPath, specWithDepartments());
  // What `npm run generate` writes, as the JavaScript a build makes of it (its imports are types only).
  const source = (await generate(specPath)).get('catalog.ts')!;
  const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  writeFileSync(join(tmp.dir, 'catalog.mjs'), js);
  const generated = await import(pathToFileURL(join(tmp.dir, 'catalog.mjs')).href);
  const names = (generated.resourceNames as string[]).filter((n) => !(resourceNames as readonly string[]).includes(n));
  const operations = (generated.apiOperations as Array<{ path: string }>).filter((op) => op.path === LIST || op.path === CHILD);
  Object.assign(resources, Object.fromEntries(names.map((n) => [n, generated.resources[n]])));
  Object.assign(resourcePaging, Object.fromEntries(names.map((n) => [n, generated.resourcePaging[n]])));
  (resourceNames as string[]).push(...names);
  (apiOperations as unknown[]).push(...operations);
  added = { names, operations: operations.length };
  server = departmentsServer(requests);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
});

afterAll(async () => {
  if (added) {
    for (const n of added.names) {
      delete (resources as Record<string, unknown>)[n];
      delete (resourcePaging as Record<string, unknown>)[n];
    }
    (resourceNames as string[]).splice(-added.names.length);
    (apiOperations as unknown[]).splice(-added.operations);
  }
  server?.close();
  tmp.cleanup();
});

describe('a resource added to the spec', () => {
  it('is loaded, shown and offered by the scaffolder with no code change', async () => {
    expect(added?.names).toEqual(['departments', 'department_members']);
    const port = (server.address() as { port: number }).port;
    // The window runs to today (UTC): it starts yesterday.
    const today = new Date().toISOString().slice(0, 10);
    const start = new Date(Date.parse(`${today}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
    const noon = Date.parse(`${start}T12:00:00Z`);
    const env = {
      SNAPENGAGE_BASE_URL: `http://127.0.0.1:${port}`, SNAPENGAGE_API_TOKEN: 'token-1', SNAPENGAGE_ORG_ID: 'org-1',
      SNAPENGAGE_DEPT_WIDGETS: 'w1,w2', SNAPENGAGE_DEPT_START: start,
    };
    const path = join(tmp.dir, 'new.duckdb');
    const config = definePipeline({ resources: { departments: true, department_members: true } as never, rateLimit: { requestsPerSecond: 0 } });
    const info = await runPipeline(config, { env, destination: { path } });

    // Asked as the spec says: its parameter names, its credential, its next links, a child request per record.
    expect(requests).toContain(`/api/v2/org-1/departments?widgetId=w1&from=${start}&to=${today}`);
    expect(requests.some((r) => r.includes('page=2'))).toBe(true);
    expect(requests).toContain('/api/v2/org-1/departments/w2-1/members');
    expect(await query(path, `SELECT dept_id, widget_id, updated_at_ms = ${noon} AS at_noon FROM snapengage_data.departments ORDER BY 1`)).toEqual([
      { dept_id: 'w1-1', widget_id: 'w1', at_noon: true },
      { dept_id: 'w1-2', widget_id: 'w1', at_noon: true },
      { dept_id: 'w2-1', widget_id: 'w2', at_noon: true },
      { dept_id: 'w2-2', widget_id: 'w2', at_noon: true },
    ]);
    expect(await query(path, 'SELECT count(*)::INTEGER AS n FROM snapengage_data.departments__tags')).toEqual([{ n: 8 }]);
    expect(await query(path, 'SELECT dept_id, email FROM snapengage_data.department_members ORDER BY 1')).toEqual([
      { dept_id: 'w1-1', email: 'agent@w1-1' },
      { dept_id: 'w2-1', email: 'agent@w2-1' },
    ]);
    expect(String(info)).toContain('department_members 2 of 4');

    // show: the tables and the window per widget, with the spec's cursor field.
    const shown = await showDataset({ path, dataset: 'snapengage_data' });
    expect(shown).toContain('departments__tags  8 rows');
    expect(shown).toContain(`departments  w1  lastEnd ${today}  newest record ${start}T12:00:00Z (updated_at_ms ${noon})`);

    // The scaffolder's resource list, with the variables each one needs.
    const choice = loadCatalog().find((c) => c.name === 'departments');
    expect(choice).toMatchObject({ parent: null, incremental: true, startDateEnv: 'SNAPENGAGE_DEPT_START', defaultStartDaysAgo: 5 });
    expect(choice!.envVars.map((v) => v.name)).toEqual(['SNAPENGAGE_API_TOKEN', 'SNAPENGAGE_ORG_ID', 'SNAPENGAGE_DEPT_WIDGETS', 'SNAPENGAGE_DEPT_START']);
    expect(loadCatalog().find((c) => c.name === 'department_members')?.parent).toBe('departments');
  });
});
