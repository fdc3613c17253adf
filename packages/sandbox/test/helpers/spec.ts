import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { parse } from 'yaml';

// Validates real sandbox responses against the spec (spec/snapengage.openapi.yaml) with ajv (JSON Schema
// 2020-12), so the emulator and the spec cannot drift apart. Only tests read the spec; the sandbox does not.

type Json = Record<string, unknown>;

const SPEC_PATH = fileURLToPath(new URL('../../../../spec/snapengage.openapi.yaml', import.meta.url));
const SPEC_ID = 'snapengage-spec';

export const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as Json & { paths: Record<string, Record<string, Json>>; components: Json };

const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ $id: SPEC_ID, components: spec.components });
const compiled = new Map<string, ValidateFunction>();

/** Points every local `#/components/...` reference of an inline schema at the registered spec. */
function anchorRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(anchorRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: Json = {};
  for (const [key, item] of Object.entries(value as Json)) {
    out[key] = key === '$ref' && typeof item === 'string' && item.startsWith('#/') ? `${SPEC_ID}${item}` : anchorRefs(item);
  }
  return out;
}

function validatorFor(schema: unknown): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(anchorRefs(schema) as Json);
    compiled.set(key, validate);
  }
  return validate;
}

function resolve(node: unknown): Json {
  let current = node as Json;
  for (let depth = 0; depth < 10 && typeof current?.$ref === 'string'; depth++) {
    const path = (current.$ref as string).replace(/^#\//, '').split('/');
    current = path.reduce<unknown>((at, part) => (at as Json)?.[part], spec) as Json;
  }
  return current;
}

export interface CapturedResponse {
  status: number;
  contentType: string | null;
  text: string;
}

/**
 * Returns the problems of a response against the spec's operation `method path` (empty when valid): status
 * documented, content type documented, body valid for the schema, no body where the spec has no content.
 */
export function responseProblems(path: string, method: string, response: CapturedResponse): string[] {
  const operation = spec.paths[path]?.[method.toLowerCase()] as Json | undefined;
  if (!operation) return [`${method} ${path} is not in the spec`];
  const responses = operation.responses as Json;
  const documented = responses[String(response.status)];
  if (!documented) return [`status ${response.status} is not documented for ${method} ${path}`];
  const definition = resolve(documented);
  const content = definition.content as Json | undefined;
  if (!content) return response.text === '' ? [] : [`status ${response.status} must have an empty body, got ${response.text.slice(0, 80)}`];
  const mediaType = (response.contentType ?? '').split(';')[0]?.trim() ?? '';
  const media = content[mediaType] as Json | undefined;
  if (!media) return [`content type "${mediaType}" is not documented for status ${response.status} (documented: ${Object.keys(content).join(', ')})`];
  let body: unknown = response.text;
  if (mediaType === 'application/json') {
    try {
      body = JSON.parse(response.text);
    } catch {
      return ['body is not JSON'];
    }
  }
  const validate = validatorFor(media.schema ?? {});
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'invalid'}`);
}

/** Keys of a value that the named schema (and its nested schemas) does not declare: catches misspelled keys. */
export function undeclaredKeys(schemaName: string, value: unknown, at = ''): string[] {
  return walk(resolve({ $ref: `#/components/schemas/${schemaName}` }), value, at);
}

function walk(schema: Json, value: unknown, at: string): string[] {
  const resolved = resolve(schema);
  if (Array.isArray(value) && resolved.items) return value.flatMap((item, i) => walk(resolved.items as Json, item, `${at}[${i}]`));
  if (value === null || typeof value !== 'object' || !resolved.properties) return [];
  const properties = resolved.properties as Json;
  return Object.entries(value as Json).flatMap(([key, item]) =>
    key in properties ? walk(properties[key] as Json, item, `${at}.${key}`) : [`${at}.${key}`],
  );
}
