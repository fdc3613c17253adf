// Builds generated/catalog.ts: the typed resource catalog that the client, the loader and the scaffolder read.
// Everything here comes from the spec: security schemes, which credential each operation needs, and the
// `x-snapengage-resource` loading hints with the JSON Schema of each resource's records.
import {
  CREDENTIAL_EXTENSION, HTTP_METHODS, IDEMPOTENT_EXTENSION, pointer, RESOURCE_EXTENSION, type Json,
} from './validate-spec.js';
import { derefSchema, locateRecord, RecursiveSchemaError, resolveLocalRef } from './schema-walk.js';

/** A problem found while building the catalog, at the JSON pointer of the extension it comes from. */
export class CatalogError extends Error {
  constructor(readonly pointer: string, message: string) {
    super(message);
    this.name = 'CatalogError';
  }
}

/**
 * Whether a success response of the operation may come without a body: a 204/205, or a 2xx (or `2XX`) response that
 * declares no content. openapi-fetch answers `data: undefined` for those, and types `data` with `undefined` for them.
 */
function allowsEmptySuccess(spec: Json, op: Json): boolean {
  return Object.entries<Json>(op.responses ?? {}).some(([status, response]) => {
    if (!/^2(\d\d|XX)$/i.test(status)) return false;
    if (status === '204' || status === '205') return true;
    const resolved = typeof response?.$ref === 'string' ? resolveLocalRef(spec, response.$ref) : response;
    return !resolved?.content || Object.keys(resolved.content).length === 0;
  });
}

/** The record schema (every $ref inlined) the data selector reaches, and its TS type expression. */
function selectRecord(spec: Json, path: string, method: string, op: Json, selector: string): { schema: Json; tsType: string } {
  const located = locateRecord(spec, op, selector);
  // validate-spec.ts reported this already, with its line; reached only when the catalog is built unvalidated.
  if (!located.ok) throw new Error(located.message);
  const { status, segments, direct, array, record } = located.value;
  let ts = `paths[${JSON.stringify(path)}][${JSON.stringify(method)}]['responses'][${status}]['content']['application/json']`;
  // A property of only some oneOf/anyOf branches is not a property of their union type: `Field` picks it from those.
  segments.forEach((seg, i) => {
    ts = direct[i] ? `NonNullable<${ts}>[${JSON.stringify(seg)}]` : `Field<NonNullable<${ts}>, ${JSON.stringify(seg)}>`;
  });
  if (array) ts = `NonNullable<${ts}>[number]`;
  return { schema: derefSchema(spec, record), tsType: ts };
}

// The spec's provenance labels (info.description), spelled out where a label stands alone in an editor's hover (and
// in the legend generate.ts puts on the OpenAPI types).
export const SOURCE_LABELS: Record<string, string> = {
  doc: 'SnapEngage\'s developer documentation',
  code: 'public client code only, not SnapEngage\'s documentation',
  unverified: 'only the dlt integration page names this endpoint; no other source confirms it',
  inferred: 'our own inference, stated by no source',
};

/**
 * JSDoc of one resource in `ResourceRecords`. The catalog's mapped types (`resources`, the loader's config) are keyed
 * by `keyof ResourceRecords`, so this is what an editor shows on hover over `resources.visitor_typing` or a resource
 * name in a pipeline config: what it loads, from which endpoint and credential, and how sure the spec is of it.
 */
function resourceDoc(r: Json, ext: Json): string {
  const from = r.parent ? `, one request per record of \`${r.parent}\`` : '';
  const credential = r.credential ? `; credential \`${r.credential}\` (env ${r.credentialEnv})` : '; no credential';
  const label = typeof r.source === 'string' ? `[${r.source}] ${SOURCE_LABELS[r.source] ?? ''}`.trim() : 'not labelled in the spec';
  const lines = [
    String(ext.description).trim(),
    '',
    `\`${r.method} ${r.path}\`${r.operationId ? ` (${r.operationId})` : ''}${from}${credential}.`,
    `Source: ${label}.`,
  ];
  return `  /**\n${lines.map((l) => `   *${l ? ` ${l.replace(/\*\//g, '*\\/')}` : ''}`).join('\n')}\n   */`;
}

export function buildCatalogSource(spec: Json): string {
  const schemes = spec.components?.securitySchemes ?? {};
  const securitySchemes: Json = {};
  for (const [name, s] of Object.entries<Json>(schemes)) {
    const c = s[CREDENTIAL_EXTENSION];
    securitySchemes[name] = {
      name, in: s.in, parameterName: s.name, option: c.option, env: c.env, howToGet: c.howToGet,
      description: String(s.description ?? '').trim(),
    };
  }
  const operations: Json[] = [];
  const resources: Json = {};
  const recordTypes: string[] = [];
  for (const [path, item] of Object.entries<Json>(spec.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const security = (op.security ?? spec.security ?? []).flatMap((s: Json) => Object.keys(s));
      const ext = op[RESOURCE_EXTENSION];
      operations.push({
        operationId: op.operationId ?? null, method: method.toUpperCase(), path, security,
        idempotent: op[IDEMPOTENT_EXTENSION] ?? (method !== 'post' && method !== 'patch'), emptySuccess: allowsEmptySuccess(spec, op),
        resource: ext?.name ?? null, loadable: ext?.loadable === true,
      });
      if (!ext) continue;
      const credentialEnv = ext.credential ? schemes[ext.credential]?.[CREDENTIAL_EXTENSION]?.env : null;
      if (!ext.loadable) {
        // One sentence for every tool asked to load it (the loader's CLI and config, the scaffolder's flags).
        const what = String(ext.description).replace(/\.$/, '');
        resources[ext.name] = {
          name: ext.name, description: ext.description, loadable: false, operationId: op.operationId ?? null,
          method: method.toUpperCase(), path, credential: ext.credential, credentialEnv,
          whyNotLoadable: `${JSON.stringify(ext.name)} (${method.toUpperCase()} ${path}) ${what.charAt(0).toLowerCase()}${what.slice(1)}: call it with snapengage-client`,
        };
        continue;
      }
      let selected;
      try {
        selected = selectRecord(spec, path, method, op, ext.dataSelector);
      } catch (err) {
        const selectorPtr = pointer('paths', path, method, RESOURCE_EXTENSION, 'dataSelector');
        if (err instanceof RecursiveSchemaError) {
          // The loader makes a table of the record, and a child table of each list in it, from this schema.
          throw new CatalogError(err.pointer ?? selectorPtr, `the record schema of "${ext.name}" contains itself: ${err.pointer ? `this $ref` : `a $ref`} leads back to ${err.ref}, which contains it. The catalog inlines the record schema for the loader's tables, so it cannot be recursive: replace the $ref with a schema that does not lead back (e.g. type: object and the properties needed)`);
        }
        throw new CatalogError(selectorPtr, (err as Error).message);
      }
      const { schema, tsType } = selected;
      const recordSchema = { ...schema, properties: { ...(schema.properties ?? {}) } };
      for (const field of Object.keys(ext.addFields ?? {})) recordSchema.properties[field] = { type: 'string' };
      const parameters = [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p: Json) => (p.$ref ? resolveLocalRef(spec, p.$ref) : p));
      const params: Json = {};
      for (const [name, source] of Object.entries<Json>(ext.params ?? {})) {
        const declared = parameters.find((p: Json) => p.name === name);
        params[name] = { in: declared.in, required: declared.required === true, ...source };
      }
      const envVars: Json[] = [];
      const addEnv = (name: string, description: string, secret: boolean, required: boolean) => {
        if (!envVars.some((e) => e.name === name)) envVars.push({ name, description, secret, required });
      };
      if (ext.credential) {
        const c = schemes[ext.credential][CREDENTIAL_EXTENSION];
        addEnv(c.env, c.howToGet, true, true);
      }
      for (const [name, source] of Object.entries<Json>(ext.params ?? {})) {
        if (source.from === 'env') addEnv(source.env, source.description ?? `Value of the "${name}" parameter`, false, true);
      }
      if (ext.incremental) {
        addEnv(ext.incremental.initialStartEnv, `First day to load (YYYY-MM-DD, a day in UTC); default ${ext.incremental.defaultStartDaysAgo} days ago`, false, false);
      }
      resources[ext.name] = {
        name: ext.name,
        description: ext.description,
        loadable: true,
        operationId: op.operationId ?? null,
        method: 'GET',
        path,
        credential: ext.credential,
        credentialEnv,
        dataSelector: ext.dataSelector,
        primaryKey: ext.primaryKey,
        writeDisposition: ext.writeDisposition,
        notFound: ext.notFound ?? 'fail',
        paginator: ext.paginator,
        incremental: ext.incremental ?? null,
        parent: ext.parent ?? null,
        params,
        addFields: ext.addFields ?? {},
        envVars,
        source: op['x-source'] ?? null,
        recordSchema,
      };
      // The loader's steps see a record with its addFields set (page-records.ts), so its type says so.
      const added = Object.keys(ext.addFields ?? {}).map((field) => `${JSON.stringify(field)}: string`);
      const recordType = added.length === 0 ? tsType : `${tsType} & { ${added.join('; ')} }`;
      recordTypes.push(`${resourceDoc(resources[ext.name], ext)}\n  ${ext.name}: ${recordType};`);
    }
  }
  // One client option per security scheme, so a scheme added to the spec is an option of the client with no code edit.
  const credentialOptions = Object.values<Json>(securitySchemes).map((s) => {
    const where = s.in === 'header' ? `the \`${s.parameterName}\` header` : `the \`${s.parameterName}\` query parameter`;
    const doc = `Credential of the \`${s.name}\` security scheme, sent in ${where} (env ${s.env}). ${s.howToGet}.`;
    return `  /** ${doc.replace(/\*\//g, '*\\/').replace(/\.\.$/, '.')} */\n  ${s.option}?: string | undefined;`;
  });
  const loadableNames = Object.values<Json>(resources).filter((r) => r.loadable).map((r) => r.name);
  const allNames = Object.keys(resources);
  const lit = (v: unknown) => JSON.stringify(v, null, 2);
  const union = (names: string[]) => (names.length ? names.map((n) => JSON.stringify(n)).join(' | ') : 'never');
  return `${HEADER}
import type { paths } from './openapi.js';

${recordTypes.some((t) => t.includes('Field<')) ? FIELD_TYPE : ''}/** JSON Schema (OpenAPI 3.1 dialect), with every $ref inlined. */
export type JsonSchema = { [key: string]: unknown };

export interface SecuritySchemeInfo {
  /** Name of the security scheme in the spec. */
  name: string;
  in: 'header' | 'query';
  /** Header or query parameter that carries the credential. */
  parameterName: string;
  /** Client option that holds the credential. */
  option: string;
  /** Environment variable that holds the credential. */
  env: string;
  howToGet: string;
  description: string;
}

export interface OperationInfo {
  operationId: string | null;
  method: 'GET' | 'PUT' | 'POST' | 'DELETE' | 'PATCH' | 'HEAD' | 'OPTIONS';
  path: string;
  /** Security schemes the operation needs (all of them). */
  security: readonly string[];
  /** Safe to retry after the request may have reached the server. */
  idempotent: boolean;
  /** A success response of the spec may have no body (204, or a 2xx without content): unwrap() may return undefined. */
  emptySuccess: boolean;
  resource: string | null;
  loadable: boolean;
}

export type ParamSource =
  | { in: string; required: boolean; from: 'env'; env: string; each?: boolean; item?: string; organisation?: boolean; description?: string }
  | { in: string; required: boolean; from: 'constant'; value: string | number | boolean }
  | { in: string; required: boolean; from: 'incremental'; bound: 'start' | 'end' }
  | { in: string; required: boolean; from: 'parent'; resource: string; field?: string; param?: string };

export interface EnvVarInfo {
  name: string;
  description: string;
  secret: boolean;
  /** false when a default applies. */
  required: boolean;
}

export type Paginator = { type: 'next_url'; nextUrlPath: string; maxPages?: number } | { type: 'single_page' };

export interface DateWindowIncremental {
  type: 'date_window';
  startParam: string;
  endParam: string;
  /** Field of a record that orders it in time: no request parameter; the loader keeps its newest value per widget in the state. */
  cursorField: string;
  initialStartEnv: string;
  defaultStartDaysAgo: number;
  lookbackDays: number;
  /** Slices of at most this many days are requested in parallel; absent = the whole window in one sequence. */
  sliceDays?: number;
  /** Whether the API returns the endParam day's records (absent = inclusive); exclusive: the loader asks for one day more. */
  endDay?: 'inclusive' | 'exclusive';
}

export interface LoadableResource {
  name: string;
  description: string;
  loadable: true;
  operationId: string | null;
  method: 'GET';
  path: string;
  credential: string | null;
  credentialEnv: string | null;
  /** Dot path to the records in the response body; "" = the body itself. */
  dataSelector: string;
  primaryKey: readonly string[];
  writeDisposition: 'merge' | 'append' | 'replace';
  /** A 404 to one request of this child resource: fail the run, or skip (no record for that parent). */
  notFound: 'fail' | 'skip';
  paginator: Paginator;
  incremental: DateWindowIncremental | null;
  parent: string | null;
  params: Readonly<Record<string, ParamSource>>;
  addFields: Readonly<Record<string, { from: 'param'; param: string }>>;
  /** Every environment variable the resource reads, credential first. */
  envVars: readonly EnvVarInfo[];
  /** Provenance label of the operation (doc, code, unverified, inferred). */
  source: string | null;
  recordSchema: JsonSchema;
}

export interface NonLoadableResource {
  name: string;
  description: string;
  loadable: false;
  operationId: string | null;
  method: string;
  path: string;
  /** Why it is never loaded, as a sentence for an error message: it changes state on the server. */
  whyNotLoadable: string;
  credential: string | null;
  credentialEnv: string | null;
}

/** The client options that carry credentials: one per security scheme of the spec (its x-snapengage-credential option). */
export interface CredentialOptions {
${credentialOptions.join('\n')}
}

export type CredentialOption = keyof CredentialOptions;

export type ResourceName = ${union(loadableNames)};

/**
 * The path template of each loadable resource, as a literal type: \`paths[ResourcePaths['logs']]\` is its operation, so
 * code that calls one resource's endpoint by name is typed by the spec (a renamed parameter fails its build).
 */
export interface ResourcePaths {
${Object.values<Json>(resources).filter((r) => r.loadable).map((r) => `  ${r.name}: ${JSON.stringify(r.path)};`).join('\n')}
}

export type AnyResourceName = ${union(allNames)};

export const defaultBaseUrl = ${JSON.stringify(spec.servers?.[0]?.url ?? '')};

export const securitySchemes: Readonly<Record<string, SecuritySchemeInfo>> = ${lit(securitySchemes)};

/** The body field in which the API links a next page (the spec's \`x-snapengage-next-link\`), or null. */
export const nextLinkField: string | null = ${JSON.stringify(typeof spec['x-snapengage-next-link'] === 'string' ? spec['x-snapengage-next-link'] : null)};

export const apiOperations: readonly OperationInfo[] = ${lit(operations)};

/**
 * Each loadable resource's path, data selector and paginator: all the client's paginators read. Kept apart from
 * \`resources\` (record schemas, params, env hints: the loader's part) so that an app bundling the client leaves those out.
 */
export const resourcePaging: { readonly [N in ResourceName]: { path: ResourcePaths[N]; dataSelector: string; paginator: Paginator } } = ${lit(
    Object.fromEntries(
      Object.entries<Json>(resources)
        .filter(([, r]) => r.loadable)
        .map(([name, r]) => [name, { path: r.path, dataSelector: r.dataSelector, paginator: r.paginator }]),
    ),
  )};

export const resources: { readonly [N in keyof ResourceRecords]: LoadableResource & { name: N } } = ${lit(
    Object.fromEntries(Object.entries<Json>(resources).filter(([, r]) => r.loadable)),
  )};

export const nonLoadableResources: readonly NonLoadableResource[] = ${lit(Object.values<Json>(resources).filter((r) => !r.loadable))};

export const resourceNames: readonly ResourceName[] = ${lit(loadableNames)};

/**
 * The TypeScript type of one record of each resource, from the generated OpenAPI types. Each key's JSDoc describes the
 * resource; types keyed by \`keyof ResourceRecords\` carry it to an editor's hover.
 */
export interface ResourceRecords {
${recordTypes.join('\n')}
}
`;
}

// Emitted only when a record type uses it: an unused local type fails a build with noUnusedLocals.
const FIELD_TYPE = `/** Property K of the members of union T that have it (a data selector segment declared in a oneOf/anyOf branch). */
type Field<T, K extends PropertyKey> = T extends unknown ? (K extends keyof T ? T[K] : never) : never;

`;

export const HEADER = `// Generated by \`npm run generate\` from spec/snapengage.openapi.yaml. Do not edit by hand.`;
