// The JSON Schema errors of the loading hints (ajv's, for resource-extension.schema.json) as a reader wants them:
// one per problem, naming the allowed values or keys.
import type { ErrorObject } from 'ajv/dist/2020.js';
import { nearestName } from './schema-walk.js';

/** Whether ajv error `e` was found while checking the schema and value of error `outer`. */
function isInside(e: ErrorObject, outer: ErrorObject): boolean {
  return e.schemaPath.startsWith(`${outer.schemaPath}/`)
    && (e.instancePath === outer.instancePath || e.instancePath.startsWith(`${outer.instancePath}/`));
}

/**
 * The JSON Schema errors as a reader wants them: ajv reports every failed oneOf branch, so a wrong
 * `paginator.type` would read "must be equal to constant" once per branch without saying which constants.
 * Here a branch whose discriminator (a `const` on one of the value's own properties, like `type` or `from`)
 * rejects the value is dropped when another branch was meant; when none was meant, the discriminator gets one
 * error listing the allowed values. Messages name the allowed values, and each distinct problem appears once.
 */
export function schemaErrors(errors: readonly ErrorObject[]): { instancePath: string; message: string }[] {
  let kept = [...errors];
  const merged = new Map<ErrorObject, unknown[]>();
  const overrides = new Map<ErrorObject, string>();
  const composites = errors.filter((e) => e.keyword === 'oneOf' || e.keyword === 'anyOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const outer of composites) {
    if (!kept.includes(outer)) continue;
    const inside = kept.filter((e) => isInside(e, outer));
    if (inside.length === 0) continue;
    const branches = new Map<string, ErrorObject[]>();
    for (const e of inside) {
      const branch = e.schemaPath.slice(outer.schemaPath.length + 1).split('/')[0] ?? '';
      branches.set(branch, [...(branches.get(branch) ?? []), e]);
    }
    const discriminator = (e: ErrorObject) => e.keyword === 'const'
      && e.instancePath.startsWith(`${outer.instancePath}/`) && !e.instancePath.slice(outer.instancePath.length + 1).includes('/');
    const meant = [...branches.values()].filter((errs) => !errs.some(discriminator));
    const wrongType = (e: ErrorObject) => e.keyword === 'type' && e.instancePath === outer.instancePath;
    const forms = Array.isArray(outer.schema) ? outer.schema as unknown[] : [];
    let keep: ErrorObject[];
    if (forms.length > 0 && branches.size === forms.length && [...branches.values()].every((errs) => errs.some(wrongType))) {
      // A value no form takes by its type (a string where an object is expected): each branch's own checks, nested
      // oneOfs among them, would only add noise ("matches more than one" where none matched). One error with the forms.
      const first = inside.find(wrongType)!;
      overrides.set(first, `must be ${describeType(first)}${formsOf(forms)}`);
      keep = [first];
    } else if (meant.length === 1) {
      keep = meant[0]!;
    } else if (meant.length === 0 && inside.some(discriminator)) {
      // No branch was meant: one error on the discriminator with every allowed value.
      const first = inside.find(discriminator)!;
      const allowed = [...new Set(inside.filter((e) => discriminator(e) && e.instancePath === first.instancePath)
        .map((e) => (e.params as { allowedValue: unknown }).allowedValue))];
      merged.set(first, allowed);
      keep = [first];
    } else if (inside.every((e) => e.keyword === 'required' && e.instancePath === outer.instancePath)) {
      // e.g. a parent param with neither `field` nor `param`: one message naming the alternatives.
      const names = inside.map((e) => `'${(e.params as { missingProperty: string }).missingProperty}'`);
      merged.set(outer, names);
      keep = [outer];
    } else {
      keep = [...inside, outer];
    }
    kept = kept.filter((e) => (e !== outer && !inside.includes(e)) || keep.includes(e));
  }
  // "must match "then" schema" only repeats the errors of the `then` branch, which are reported themselves.
  if (kept.some((e) => e.keyword !== 'if')) kept = kept.filter((e) => e.keyword !== 'if');
  // A misspelt key is one problem, not two: "must have required property 'dataSelector'" goes when the unknown key
  // beside it is that property misspelt (its message says so).
  const meantKeys = new Set(kept.filter((e) => e.keyword === 'additionalProperties')
    .map((e) => `${e.instancePath} ${misspeltKey(e) ?? ''}`));
  kept = kept.filter((e) => e.keyword !== 'required' || !meantKeys.has(`${e.instancePath} ${(e.params as { missingProperty: string }).missingProperty}`));
  // The required properties missing from one object are one problem: a new block started with one key got one per key.
  const missing = new Map<string, ErrorObject[]>();
  for (const e of kept) if (e.keyword === 'required' && !merged.has(e)) missing.set(e.instancePath, [...(missing.get(e.instancePath) ?? []), e]);
  for (const errs of missing.values()) {
    if (errs.length < 2) continue;
    overrides.set(errs[0]!, `must have required properties ${errs.map((e) => `'${(e.params as { missingProperty: string }).missingProperty}'`).join(', ')}`);
    kept = kept.filter((e) => !errs.slice(1).includes(e));
  }
  const out = new Map<string, { instancePath: string; message: string }>();
  for (const e of kept) {
    const message = overrides.get(e) ?? describeError(e, merged.get(e));
    out.set(`${e.instancePath} ${message}`, { instancePath: e.instancePath, message });
  }
  return [...out.values()];
}

function describeError(e: ErrorObject, merged: unknown[] | undefined): string {
  const params = e.params as Record<string, unknown>;
  const list = (values: unknown[]) => values.map((v) => JSON.stringify(v)).join(', ');
  if (merged && (e.keyword === 'oneOf' || e.keyword === 'anyOf')) return `must have exactly one of the properties ${merged.join(', ')}`;
  if (merged) return merged.length === 1 ? `must be ${list(merged)}` : `must be one of ${list(merged)}`;
  switch (e.keyword) {
    case 'const': return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'enum': return `must be one of ${list(params.allowedValues as unknown[])}`;
    case 'additionalProperties': {
      const base = `${e.message ?? 'must NOT have additional properties'} (${String(params.additionalProperty)})`;
      const meant = misspeltKey(e);
      if (meant !== undefined) return `${base}; did you mean "${meant}"?`;
      const allowed = allowedKeys(e);
      return allowed.length > 0 ? `${base}; the allowed keys are ${allowed.join(', ')}` : base;
    }
    case 'oneOf':
      return Array.isArray(params.passingSchemas) ? 'matches more than one of the alternatives; it must match exactly one' : (e.message ?? 'invalid');
    default: return e.message ?? 'invalid';
  }
}

/** The keys the object schema of an additionalProperties error allows (needs ajv's verbose option). */
function allowedKeys(e: ErrorObject): string[] {
  const properties = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties;
  return properties && typeof properties === 'object' ? Object.keys(properties) : [];
}

/** The allowed key an unknown key of an additionalProperties error is a near miss of, if any. */
function misspeltKey(e: ErrorObject): string | undefined {
  return nearestName(String((e.params as { additionalProperty: unknown }).additionalProperty), allowedKeys(e));
}

/** "an object", "a string", … for a type error. */
function describeType(e: ErrorObject): string {
  const type = String((e.params as { type: unknown }).type);
  return type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`;
}

/** `: { from: env | constant | …, … }` when the forms are objects told apart by one const property, else ''. */
function formsOf(forms: unknown[]): string {
  const consts = forms.map((f) => Object.entries((f as { properties?: Record<string, { const?: unknown }> }).properties ?? {})
    .find(([, p]) => p !== null && typeof p === 'object' && 'const' in p));
  if (consts.some((c) => c === undefined) || new Set(consts.map((c) => c![0])).size !== 1) return '';
  return `: { ${consts[0]![0]}: ${consts.map((c) => String(c![1].const)).join(' | ')}, … }`;
}
