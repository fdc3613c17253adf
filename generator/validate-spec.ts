// Loads the hand-written spec and reports every problem with its file, line and JSON pointer, before anything is
// generated. Three layers: YAML syntax, OpenAPI structure (Redocly's maintained linter), and the
// `x-snapengage-resource` loading hints (a JSON Schema plus the cross-checks a schema cannot express).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { LineCounter, parseDocument, isMap, isSeq, isScalar, type Node as YamlNode } from 'yaml';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import Ajv2020 from 'ajv/dist/2020.js';
import { checkParentField, checkResponseReferences, nearestName, resolveLocalRef } from './schema-walk.js';
import { escapePointer, yamlProblem } from './yaml-errors.js';
import { schemaErrors } from './schema-errors.js';
import { credentialParameters, externalRefs, refOnlyCycle, unreadExtensions } from './spec-rules.js';

const require = createRequire(import.meta.url);
const extensionSchema = require('./resource-extension.schema.json') as object;

export const RESOURCE_EXTENSION = 'x-snapengage-resource';
export const CREDENTIAL_EXTENSION = 'x-snapengage-credential';
/** Operation-level override of the method's idempotency (a PUT that appends is not safe to replay). */
export const IDEMPOTENT_EXTENSION = 'x-snapengage-idempotent';
export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface SpecProblem {
  file: string;
  line?: number;
  pointer: string;
  message: string;
}

export class SpecError extends Error {
  constructor(readonly problems: SpecProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'SpecError';
  }
}

function formatProblem(p: SpecProblem): string {
  return `${p.file}${p.line ? `:${p.line}` : ''} ${p.pointer || '#'}: ${p.message}`;
}

// Loose typing on purpose: the spec is user-edited input, checked field by field below.
export type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface LoadedSpec {
  file: string;
  source: string;
  document: Json;
  /** Line (1-based) of the node at a JSON pointer, or of its closest existing ancestor. */
  lineOf(ptr: string): number | undefined;
}

export function pointer(...segments: (string | number)[]): string {
  return '#/' + segments.map((s) => escapePointer(String(s))).join('/');
}

/** Line (1-based) of the YAML node at a JSON pointer, or of its closest existing ancestor. */
function lineOf(doc: ReturnType<typeof parseDocument>, counter: LineCounter, ptr: string): number | undefined {
  const segments = ptr.replace(/^#\/?/, '').split('/').filter(Boolean)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  let node: YamlNode | null | undefined = doc.contents as YamlNode;
  let best = node?.range?.[0];
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === seg);
      if (!pair) break;
      best = (pair.key as YamlNode | undefined)?.range?.[0] ?? best;
      node = pair.value as YamlNode;
    } else if (isSeq(node)) {
      node = node.items[Number(seg)] as YamlNode;
      best = node?.range?.[0] ?? best;
    } else break;
  }
  return best === undefined ? undefined : counter.linePos(best).line;
}

/** Redocly rules that `minimal` only warns about, but that leave the generated client or catalog broken. */
const STRUCTURE_ERRORS = {
  'path-parameters-defined': 'error',
  'path-declaration-must-exist': 'error',
  'operation-parameters-unique': 'error',
  'operation-operationId-unique': 'error',
  'no-identical-paths': 'error',
} as const;

export async function loadAndValidateSpec(file: string): Promise<LoadedSpec> {
  let source: string;
  try {
    source = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SpecError([{ file, pointer: '', message: `cannot read the spec: ${(err as Error).message}` }]);
  }
  const counter = new LineCounter();
  const yamlDoc = parseDocument(source, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (yamlDoc.errors.length > 0) throw new SpecError([{ file, ...yamlProblem(yamlDoc, counter) }]);
  let document: Json;
  try {
    document = yamlDoc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // The yaml library refuses aliases (*name) that expand to much more data than the file holds (its guard against
    // "billion laughs" documents): its ReferenceError escaped the CLI with a stack trace.
    throw new SpecError([{ file, pointer: '#', message: `YAML: ${(err as Error).message}: the aliases (*name) of the spec expand to too much data; write the repeated blocks out, or nest fewer aliases inside aliased blocks` }]);
  }
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    // Redocly throws on such a document ("Document must be JSON object"), out of the CLI with a stack trace.
    const what = document === null || document === undefined ? 'is empty' : `holds ${Array.isArray(document) ? 'a list' : `a ${typeof document}`}`;
    throw new SpecError([{ file, pointer: '#', line: 1, message: `the spec ${what}: it must be a YAML mapping of an OpenAPI 3.1 document (openapi: 3.1.0, info, paths, …)` }]);
  }
  const problems: SpecProblem[] = [];
  const at = (ptr: string, message: string) => problems.push({ file, pointer: ptr, line: lineOf(yamlDoc, counter, ptr), message });

  // OpenAPI structure: the `minimal` ruleset reports what makes a spec invalid, not style. A few of its warnings make
  // generated code that cannot work (a `{placeholder}` of the path with no parameter is sent literally; a duplicate
  // operationId or parameter collides in the types): errors here, as in `npm run lint:spec`.
  const refProblems = [...externalRefs(document), refOnlyCycle(document)].filter((p) => p !== undefined);
  if (refProblems.length > 0) throw new SpecError(refProblems.map((p) => ({ file, pointer: p.pointer, line: lineOf(yamlDoc, counter, p.pointer), message: p.message })));
  const config = await createConfig({ extends: ['minimal'], rules: STRUCTURE_ERRORS });
  let lintProblems;
  try {
    lintProblems = await lintFromString({ source, absoluteRef: file, config });
  } catch (err) {
    // Redocly throws on documents it cannot resolve (the known case, a $ref cycle, is reported above).
    throw new SpecError([{ file, pointer: '#', message: `OpenAPI: the linter cannot read the spec: ${(err as Error).message}` }]);
  }
  for (const p of lintProblems) {
    if (p.severity !== 'error') continue;
    const ptr = p.location[0]?.pointer ?? '#';
    const ref = p.message.startsWith("Can't resolve $ref") ? unresolvedRef(document, ptr) : undefined;
    if (ref) problems.push({ file, pointer: ptr, line: lineOf(yamlDoc, counter, `${ptr}/$ref`), message: `OpenAPI: Can't resolve $ref: ${ref}` });
    else at(ptr, `OpenAPI: ${p.message}`);
  }
  for (const p of [...credentialParameters(document), ...unreadExtensions(document)]) at(p.pointer, p.message);
  if (problems.length === 0) checkResourceExtensions(document, at);
  if (problems.length > 0) throw new SpecError(problems);
  return { file, source, document, lineOf: (ptr) => lineOf(yamlDoc, counter, ptr) };
}

/** `<ref> does not exist; did you mean <near miss>?` for the local $ref at `ptr`, or undefined when there is none. */
function unresolvedRef(document: Json, ptr: string): string | undefined {
  let node: Json;
  try {
    node = resolveLocalRef(document, ptr);
  } catch {
    return undefined;
  }
  const ref: unknown = node?.$ref;
  if (typeof ref !== 'string') return undefined;
  if (!ref.startsWith('#/')) return `${ref} cannot be read (only references inside the spec, #/…, are supported)`;
  const slash = ref.lastIndexOf('/');
  const container = ref.slice(0, slash);
  let siblings: Json;
  try {
    siblings = slash > 1 ? resolveLocalRef(document, container) : document;
  } catch {
    siblings = undefined;
  }
  const names = siblings !== null && typeof siblings === 'object' ? Object.keys(siblings) : [];
  const near = nearestName(ref.slice(slash + 1).replace(/~1/g, '/').replace(/~0/g, '~'), names);
  return `${ref} does not exist${near !== undefined ? `; did you mean ${container}/${escapePointer(near)}?` : ''}`;
}

const NAME = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;

/** `chatPoll`, `Chat-Poll`, `_chat__poll_` → `chat_poll`: the form a resource (and table) name must have. */
function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').replace(/^[_0-9]+|_+$/g, '').toLowerCase();
}

/** What to write instead of a resource name that breaks the name pattern. */
function nameFix(name: string): string {
  const reserved = name.startsWith('_') ? ' (a leading "_" is for the loader\'s own tables, _pipeline_*)' : '';
  const snake = snakeCase(name);
  return NAME.test(snake) ? `: snake_case, e.g. "${snake}"${reserved}` : `: snake_case, a letter first${reserved}`;
}

function checkResourceExtensions(spec: Json, at: (ptr: string, message: string) => void): void {
  // verbose: each error carries its schema, so an unknown key can be matched against the allowed ones.
  const ajv = new Ajv2020.default({ allErrors: true, strict: false, verbose: true });
  const validate = ajv.compile<Json>(extensionSchema);
  const schemes: Record<string, Json> = spec.components?.securitySchemes ?? {};
  const options = new Map<string, string>();
  for (const [name, scheme] of Object.entries(schemes)) {
    const cred = scheme?.[CREDENTIAL_EXTENSION];
    if (!cred || typeof cred.option !== 'string' || typeof cred.env !== 'string' || typeof cred.howToGet !== 'string') {
      at(pointer('components', 'securitySchemes', name), `${CREDENTIAL_EXTENSION} needs string fields option, env and howToGet`);
      continue;
    }
    // The option becomes a property of the client's options (CredentialOptions in the catalog).
    const optionPtr = `${pointer('components', 'securitySchemes', name)}/${CREDENTIAL_EXTENSION}/option`;
    if (!/^[a-z][A-Za-z0-9]*$/.test(cred.option)) at(optionPtr, `option "${cred.option}" must be a camelCase identifier (it is a client option, e.g. apiToken)`);
    else if (options.has(cred.option)) at(optionPtr, `option "${cred.option}" is also the option of security scheme "${options.get(cred.option)}"`);
    options.set(cred.option, name);
  }
  const seen = new Map<string, string>();
  const loadable = new Map<string, { ptr: string; ext: Json; op: Json }>();
  /** Resources whose extension breaks its JSON Schema: reported once, not again as a missing parent. */
  const invalid = new Set<string>();
  for (const [path, item] of Object.entries<Json>(spec.paths ?? {})) {
    for (const method of HTTP_METHODS) {
      const op = item?.[method];
      if (!op) continue;
      const opPtr = pointer('paths', path, method);
      if (op[IDEMPOTENT_EXTENSION] !== undefined && typeof op[IDEMPOTENT_EXTENSION] !== 'boolean') {
        at(`${opPtr}/${IDEMPOTENT_EXTENSION}`, `${IDEMPOTENT_EXTENSION} must be true or false`);
      }
      const ext = op[RESOURCE_EXTENSION];
      if (method === 'get' && ext === undefined) {
        at(opPtr, `every GET needs ${RESOURCE_EXTENSION} (set loadable: false to opt out)`);
        continue;
      }
      if (ext === undefined) continue;
      const extPtr = `${opPtr}/${RESOURCE_EXTENSION}`;
      if (!validate(ext)) {
        for (const e of schemaErrors(validate.errors ?? [])) {
          const named: unknown = (ext as Json)?.[e.instancePath.slice(1)];
          const fix = (e.instancePath === '/name' || e.instancePath === '/parent') && typeof named === 'string' ? nameFix(named) : '';
          at(extPtr + e.instancePath, `${RESOURCE_EXTENSION}: ${e.message}${fix}`);
        }
        const name: unknown = (ext as Json)?.name;
        // A changing operation (loadable: false) is never a parent, so it is neither a known one nor a suggestion. A
        // name that is not snake_case counts as its snake_case form: children naming that form are not blamed too.
        if (typeof name === 'string' && (ext as Json)?.loadable !== false) invalid.add(NAME.test(name) ? name : snakeCase(name));
        continue;
      }
      if (seen.has(ext.name)) at(`${extPtr}/name`, `resource name "${ext.name}" is also used by ${seen.get(ext.name)}`);
      seen.set(ext.name, `${method.toUpperCase()} ${path}`);
      const security: string[] = (op.security ?? spec.security ?? []).flatMap((s: Json) => Object.keys(s));
      const expected = ext.credential === null ? [] : [ext.credential];
      if (security.join(',') !== expected.join(',')) {
        at(`${extPtr}/credential`, `credential "${ext.credential}" does not match the operation's security [${security.join(', ')}]`);
      }
      if (ext.credential !== null && !schemes[ext.credential]) at(`${extPtr}/credential`, `no securityScheme named "${ext.credential}"`);
      if (ext.loadable && method !== 'get') at(`${extPtr}/loadable`, 'only GET operations can be loadable');
      if (ext.loadable) loadable.set(ext.name, { ptr: extPtr, ext, op: { ...op, parameters: [...(item.parameters ?? []), ...(op.parameters ?? [])] } });
    }
  }
  for (const { ptr, ext, op } of loadable.values()) {
    try {
      for (const p of checkResponseReferences(spec, op, ext)) at(ptr + p.pointer, p.message);
    } catch (err) {
      at(ptr, `cannot follow the response schema: ${(err as Error).message}`);
    }
    const declared = new Map<string, Json>();
    for (const p of op.parameters) {
      const param = p.$ref ? resolveLocalRef(spec, p.$ref) : p;
      if (param?.name) declared.set(param.name, param);
    }
    const knownParent = ext.parent === undefined || loadable.has(ext.parent) || invalid.has(ext.parent);
    for (const [name, source] of Object.entries<Json>(ext.params ?? {})) {
      if (!declared.has(name)) at(`${ptr}/params/${escapePointer(name)}`, `"${name}" is not a parameter of the operation`);
      else if (declared.get(name).in !== 'path' && declared.get(name).in !== 'query') {
        // The loader sends sourced params in the path or the query string only: a header one would go as a query parameter.
        at(`${ptr}/params/${escapePointer(name)}`, `"${name}" is a ${declared.get(name).in} parameter; the loader can only fill path and query parameters`);
      }
      if (source.from === 'incremental' && !ext.incremental) at(`${ptr}/params/${escapePointer(name)}`, 'from: incremental needs an incremental block');
      // A child is requested once per parent record, with each param's one value: the loader never splits a comma
      // list there, so every request would carry the whole list.
      if (source.from === 'env' && source.each === true && ext.parent !== undefined) {
        at(`${ptr}/params/${escapePointer(name)}/each`, `"each" is for a top-level resource (one request sequence per value); a child is requested once per record of "${ext.parent}": take the value from it ({ from: parent, resource: ${ext.parent}, param: … } or field: …)`);
      }
      if (source.from === 'env' && source.item !== undefined && source.each !== true) {
        at(`${ptr}/params/${escapePointer(name)}/item`, '"item" names one value of an each: true list; add each: true, or remove item (a single value is not counted or named in messages)');
      }
      if (source.from === 'parent') {
        const parent = loadable.get(source.resource);
        // A misspelt parent is reported once, on `parent`: params naming the right one are not told to follow the typo.
        if (ext.parent === undefined) {
          at(`${ptr}/params/${escapePointer(name)}/resource`, `"${ext.name}" has no parent: add parent: ${source.resource} to it, or take the value from env or a constant`);
        } else if (source.resource !== ext.parent && knownParent) at(`${ptr}/params/${escapePointer(name)}/resource`, `must be the resource's parent ("${ext.parent}")`);
        else if (parent && source.field !== undefined) {
          try {
            const problem = checkParentField(spec, parent.op, parent.ext, source.field);
            if (problem) at(`${ptr}/params/${escapePointer(name)}/field`, problem);
          } catch (err) {
            at(`${ptr}/params/${escapePointer(name)}/field`, `cannot follow the parent's record schema: ${(err as Error).message}`);
          }
        } else if (parent && source.param !== undefined && !Object.hasOwn(parent.ext.params ?? {}, source.param)) {
          // The child reads the parameter values the parent's request was made with: only params with a source have one.
          const names = Object.keys(parent.ext.params ?? {});
          const near = nearestName(source.param, names);
          at(`${ptr}/params/${escapePointer(name)}/param`, `"${source.param}" is not one of the params of "${source.resource}" (${names.join(', ') || 'it has none'})${near ? `; did you mean "${near}"?` : ''}`);
        }
      }
    }
    for (const [name, param] of declared) {
      if (param.required && !(name in (ext.params ?? {}))) at(`${ptr}/params`, `required parameter "${name}" has no source`);
    }
    if (ext.incremental) {
      // The loader fills the window's dates into the params whose source is `from: incremental` (by their `bound`):
      // startParam/endParam must be those params, or a request would go with the wrong dates, or none, and the
      // state would still advance to today (days never loaded).
      const boundOf = { startParam: 'start', endParam: 'end' } as const;
      for (const key of ['startParam', 'endParam'] as const) {
        const name = ext.incremental[key];
        const bound = boundOf[key];
        const source = Object.hasOwn(ext.params ?? {}, name) ? ext.params[name] : undefined;
        if (!declared.has(name)) at(`${ptr}/incremental/${key}`, `"${name}" is not a parameter of the operation`);
        else if (source?.from !== 'incremental' || source.bound !== bound) {
          at(source === undefined ? `${ptr}/params` : `${ptr}/params/${escapePointer(name)}`,
            `incremental.${key} is "${name}", so params.${name} must be { from: incremental, bound: ${bound} }`
            + (source === undefined ? ' (it has no source)' : `, not ${JSON.stringify(source)}`));
        }
      }
      for (const [name, source] of Object.entries<Json>(ext.params ?? {})) {
        if (source.from === 'incremental' && name !== ext.incremental.startParam && name !== ext.incremental.endParam) {
          at(`${ptr}/params/${escapePointer(name)}`, `from: incremental is only for incremental.startParam ("${ext.incremental.startParam}") and incremental.endParam ("${ext.incremental.endParam}")`);
        }
      }
    }
    // A top-level 404 is a wrong id or base URL, never "no record": skipping it would load nothing, silently.
    if (ext.notFound === 'skip' && ext.parent === undefined) at(`${ptr}/notFound`, '"skip" is for a resource with a parent (a 404 to a top-level request is a wrong id or URL)');
    if (ext.parent !== undefined) {
      if (ext.parent === ext.name) at(`${ptr}/parent`, 'a resource cannot be its own parent');
      else if (!knownParent) {
        // A resource whose own hints are broken (reported above) is not in `loadable`, yet may be the one meant.
        const candidates = [...loadable.keys(), ...invalid];
        const near = nearestName(ext.parent, candidates);
        at(`${ptr}/parent`, `parent "${ext.parent}" is not a loadable resource${near ? `; did you mean "${near}"?` : ` (the loadable ones are ${candidates.join(', ')})`}`);
      }
    }
    for (const [field, add] of Object.entries<Json>(ext.addFields ?? {})) {
      if (!declared.has(add.param)) at(`${ptr}/addFields/${escapePointer(field)}`, `"${add.param}" is not a parameter of the operation`);
    }
  }
  // A cycle of parents has no top-level resource to start from (and the loader would follow it forever): one
  // problem per cycle, at the parent of its first resource in the spec.
  const inCycle = new Set<string>();
  for (const [name, { ptr }] of loadable) {
    if (inCycle.has(name)) continue;
    const chain: string[] = [];
    for (let at: string | undefined = name; at !== undefined && loadable.has(at) && !chain.includes(at); at = loadable.get(at)!.ext.parent) chain.push(at);
    const last = loadable.get(chain.at(-1)!)!.ext.parent;
    if (last !== name || chain.length < 2) continue;
    chain.forEach((n) => inCycle.add(n));
    at(`${ptr}/parent`, `the parents form a cycle (${[...chain, name].join(' → ')}); a top-level resource has no parent, so remove "parent" from one of them`);
  }
  // A child of a child below a date window: the loader keeps, in a child's state, the windows of its parent only, so
  // such a resource would be driven through the whole history on every run alone, and not at all through the days
  // loaded before it was added. Refused until the loader keeps the windows of every ancestor.
  for (const [name, { ptr, ext }] of loadable) {
    const parent = ext.parent === undefined ? undefined : loadable.get(ext.parent);
    if (inCycle.has(name) || parent?.ext.parent === undefined) continue;
    const ancestors: string[] = [];
    for (let at: string | undefined = ext.parent; at !== undefined && loadable.has(at) && !ancestors.includes(at); at = loadable.get(at)!.ext.parent) ancestors.push(at);
    const windowed = ancestors.find((a) => loadable.get(a)!.ext.incremental);
    if (windowed !== undefined) {
      at(`${ptr}/parent`, `"${ext.parent}" has a parent itself (${[name, ...ancestors].join(' → ')}), and "${windowed}" is read by date window: a child of a child below an incremental resource is not supported yet (its windows would not be kept); make it a child of a resource whose own parent is not incremental, or of "${windowed}"`);
    }
  }
}
