// House rules of the spec that neither OpenAPI's linter nor the loading hints' JSON Schema express, checked before
// Redocly reads the document (a $ref cycle makes Redocly throw out of the CLI with a stack trace).
import { nearestName, resolveLocalRef } from './schema-walk.js';
import { HTTP_METHODS, pointer, type Json } from './validate-spec.js';

export interface RuleProblem {
  pointer: string;
  message: string;
}

/** Header names that always carry a credential (OpenAPI 3.1 even ignores an `Authorization` header parameter). */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie']);
/** Header or cookie names that read as a credential: x-api-key, X-Auth-Token, api_key, session-secret, … */
const CREDENTIAL_NAME = /(^|[-_])(api[-_]?key|(access|auth|api|bearer)?[-_]?token|secret|password)$/i;

/**
 * Parameters that carry a credential. The house rule: credentials are security schemes only. As a parameter, a
 * credential becomes an argument of every call in the generated types (openapi-typescript #1504), is never filled
 * from the client's credential options or env, and is not redacted as a secret in logs and errors.
 */
export function credentialParameters(spec: Json): RuleProblem[] {
  const schemes = Object.entries<Json>(isObject(spec.components?.securitySchemes) ? spec.components.securitySchemes : {})
    .filter(([, s]) => isObject(s) && s.type === 'apiKey' && typeof s.name === 'string' && typeof s.in === 'string');
  const problems: RuleProblem[] = [];
  const check = (param: Json, ptr: string) => {
    if (!isObject(param) || typeof param.name !== 'string' || typeof param.in !== 'string' || param.$ref !== undefined) return;
    const name: string = param.name;
    const same = (s: Json) => s.in === param.in && (param.in === 'header' ? s.name.toLowerCase() === name.toLowerCase() : s.name === name);
    const scheme = schemes.find(([, s]) => same(s))?.[0];
    const looksLike = param.in !== 'query' && param.in !== 'path' && (CREDENTIAL_HEADERS.has(name.toLowerCase()) || CREDENTIAL_NAME.test(name));
    if (scheme === undefined && !looksLike) return;
    const fix = scheme !== undefined
      ? `it is the credential of security scheme "${scheme}": remove this parameter and list the scheme in the operation's security (security: [{ ${scheme}: [] }])`
      : 'declare the credential as a security scheme (components.securitySchemes, type: apiKey, with x-snapengage-credential: option, env, howToGet), remove this parameter, and list the scheme in the operation\'s security';
    problems.push({
      pointer: ptr,
      message: `${param.in} parameter "${name}" carries a credential, and credentials are declared only as security schemes (house rule; a parameter is never filled from the client's credentials nor redacted in logs): ${fix}`,
    });
  };
  const paths = isObject(spec.paths) ? spec.paths : {};
  for (const [path, item] of Object.entries<Json>(paths)) {
    if (!isObject(item)) continue;
    listOf(item.parameters).forEach((p, i) => check(p, pointer('paths', path, 'parameters', i)));
    for (const method of HTTP_METHODS) {
      if (isObject(item[method])) listOf(item[method].parameters).forEach((p, i) => check(p, pointer('paths', path, method, 'parameters', i)));
    }
  }
  const components = isObject(spec.components?.parameters) ? spec.components.parameters : {};
  for (const [name, param] of Object.entries<Json>(components)) check(param, pointer('components', 'parameters', name));
  return problems;
}

/**
 * A $ref that leads back to itself through $refs alone (A: { $ref: B }, B: { $ref: A }): it names no schema at all.
 * Redocly throws "Self-referencing circular pointer" on it. A schema that refers to itself inside its properties is
 * not such a cycle (a tree of records is fine for the types).
 */
export function refOnlyCycle(spec: Json): RuleProblem | undefined {
  for (const { at, ref } of refsOf(spec)) {
    // Pointers of the nodes followed so far (`#/…`): reaching one again is the cycle, reported at its first $ref.
    const chain = [at];
    let next: string | undefined = ref;
    for (let hops = 0; next !== undefined && next.startsWith('#') && hops < 100; hops++) {
      const target = next.replace(/^#\/?/, '');
      const hit = chain.findIndex((c) => c.replace(/^#\/?/, '') === target);
      if (hit !== -1) {
        const cycle = [...chain.slice(hit), next];
        return {
          pointer: `${chain[hit]}/$ref`,
          message: `$ref ${cycle[1]} leads back to itself through $refs only (${cycle.join(' → ')}), so it names no schema: make one of them a schema (type, properties, …) instead of a $ref`,
        };
      }
      const node: Json = target === '' ? spec : resolveLocalRef(spec, `#/${target}`);
      if (!isObject(node) || typeof node.$ref !== 'string') break;
      chain.push(next);
      next = node.$ref;
    }
  }
  return undefined;
}

/**
 * $refs to other files or URLs. The generator reads one file: Redocly resolves such a ref against the spec's
 * directory, openapi-typescript against the working directory (or fetches it), and the catalog not at all.
 */
export function externalRefs(spec: Json): RuleProblem[] {
  return refsOf(spec).filter(({ ref }) => !ref.startsWith('#')).map(({ at, ref }) => ({
    pointer: `${at}/$ref`,
    message: `$ref ${ref} is outside the spec: only references inside it (#/components/…) are supported; move what it names into the spec's components and refer to it there`,
  }));
}

/** Where each of the generator's extensions is read: anywhere else, or misspelt, it would be ignored without a word. */
const EXTENSION_PLACES: Record<string, { where: string; at: (segments: string[]) => boolean }> = {
  'x-snapengage-resource': { where: 'an operation (paths./…/get, post, …)', at: (s) => s.length === 3 && s[0] === 'paths' && (HTTP_METHODS as readonly string[]).includes(s[2]!) },
  'x-snapengage-idempotent': { where: 'an operation (paths./…/get, post, …)', at: (s) => s.length === 3 && s[0] === 'paths' && (HTTP_METHODS as readonly string[]).includes(s[2]!) },
  'x-snapengage-credential': { where: 'a security scheme (components.securitySchemes.<name>)', at: (s) => s.length === 3 && s[0] === 'components' && s[1] === 'securitySchemes' },
  'x-snapengage-next-link': { where: 'the top level of the spec', at: (s) => s.length === 0 },
};

/** `x-snapengage-…` keys that the generator does not read where they are: a typo, or the right key in the wrong place. */
export function unreadExtensions(spec: Json): RuleProblem[] {
  const problems: RuleProblem[] = [];
  const walk = (node: Json, segments: string[]) => {
    if (segments.length > 200 || node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries<Json>(node)) {
      const here = [...segments, key];
      if (key.toLowerCase().startsWith('x-snapengage-')) {
        const place = EXTENSION_PLACES[key];
        if (place === undefined) {
          const near = nearestName(key, Object.keys(EXTENSION_PLACES));
          problems.push({ pointer: pointer(...here), message: `unknown extension ${key}${near ? `; did you mean ${near}?` : ` (the generator reads ${Object.keys(EXTENSION_PLACES).join(', ')})`}` });
        } else if (!place.at(segments)) {
          problems.push({ pointer: pointer(...here), message: `${key} is read only on ${place.where}; move it there` });
        }
        continue; // an extension's own keys are checked by the extension's rules
      }
      walk(value, here);
    }
  };
  walk(spec, []);
  return problems;
}

/** Every $ref of the document, with the pointer of the object holding it, in document order. */
function refsOf(spec: Json): Array<{ at: string; ref: string }> {
  const refs: Array<{ at: string; ref: string }> = [];
  const walk = (node: Json, at: string, depth: number) => {
    if (depth > 200 || node === null || typeof node !== 'object') return;
    if (typeof node.$ref === 'string') refs.push({ at, ref: node.$ref });
    for (const [key, value] of Object.entries<Json>(node)) walk(value, `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, depth + 1);
  };
  walk(spec, '#', 0);
  return refs;
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function listOf(v: unknown): Json[] {
  return Array.isArray(v) ? v : [];
}
