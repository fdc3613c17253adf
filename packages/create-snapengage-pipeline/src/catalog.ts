// The scaffolder's view of the generated resource catalog. Everything it offers comes from here, so a regenerated
// catalog (a new loadable endpoint in the spec) shows up in the prompts, flags and emitted files with no code edits.
import { resources, resourceNames, securitySchemes } from 'snapengage-client';

export interface EnvVarChoice {
  name: string;
  /** Where to get the value, shown in prompts and written as a comment in `.env.example`. */
  description: string;
  secret: boolean;
  required: boolean;
  /** A comma list (a parameter with `each: true`, SNAPENGAGE_WIDGET_ID): one request per item. */
  list?: boolean;
}

export interface ResourceChoice {
  name: string;
  description: string;
  /** Env var of the credential the resource needs, or null. */
  credentialEnv: string | null;
  /** Resource whose records this one reads (it is added with it), or null. */
  parent: string | null;
  incremental: boolean;
  /** Env var with the first day an incremental resource loads (asked as the start date, not as a credential), or null. */
  startDateEnv: string | null;
  /** Days before today an incremental resource starts from when no start date is given (the spec's), or null. */
  defaultStartDaysAgo: number | null;
  envVars: EnvVarChoice[];
}

type CatalogEntry = (typeof resources)[keyof typeof resources];

function toChoice(entry: CatalogEntry): ResourceChoice {
  return {
    name: entry.name,
    description: entry.description,
    credentialEnv: entry.credentialEnv,
    parent: entry.parent,
    incremental: entry.incremental !== null,
    startDateEnv: entry.incremental?.initialStartEnv ?? null,
    defaultStartDaysAgo: entry.incremental?.defaultStartDaysAgo ?? null,
    envVars: entry.envVars.map((v) => ({ ...v, description: howToGet(v.name, v.description), list: listEnvs(entry).has(v.name) })),
  };
}

/** Env vars read as comma lists by the entry's parameters. */
function listEnvs(entry: CatalogEntry): Set<string> {
  const params = Object.values(entry.params as Record<string, { from: string; env?: string; each?: boolean }>);
  return new Set(params.flatMap((p) => (p.from === 'env' && p.each === true && p.env ? [p.env] : [])));
}

/** The credential env vars carry the scheme's "how to get it" text, which beats a parameter description. */
function howToGet(env: string, fallback: string): string {
  const scheme = Object.values(securitySchemes).find((s) => s.env === env);
  return (scheme?.howToGet ?? fallback).replace(/\s+/g, ' ').trim();
}

export function loadCatalog(): ResourceChoice[] {
  return resourceNames.map((name) => toChoice(resources[name] as CatalogEntry));
}

/** The default selection: the first top-level resource in the spec's order (a child needs its parent anyway). */
export function defaultResources(catalog: readonly ResourceChoice[]): string[] {
  const first = catalog.find((c) => c.parent === null) ?? catalog[0];
  return first ? [first.name] : [];
}

/**
 * When incremental resources start without a start date, from the spec: `30 days ago`, or per resource when they
 * differ (`90 days ago for logs, 7 days ago for departments`). Null when none of them is incremental.
 */
export function defaultStartText(choices: readonly ResourceChoice[]): string | null {
  const incremental = choices.filter((c) => c.incremental && c.defaultStartDaysAgo !== null);
  const days = [...new Set(incremental.map((c) => c.defaultStartDaysAgo!))];
  const ago = (n: number) => (n === 0 ? 'today' : n === 1 ? '1 day ago' : `${n} days ago`);
  if (days.length === 0) return null;
  if (days.length === 1) return ago(days[0]!);
  return incremental.map((c) => `${ago(c.defaultStartDaysAgo!)} for ${c.name}`).join(', ');
}

/** Chosen names plus their parents (a child resource reads its parent's records), in catalog order. */
export function withParents(names: readonly string[], catalog: readonly ResourceChoice[]): string[] {
  const wanted = new Set(names);
  for (let changed = true, guard = 0; changed && guard < catalog.length; guard++) {
    changed = false;
    for (const choice of catalog) {
      if (wanted.has(choice.name) && choice.parent && !wanted.has(choice.parent)) {
        wanted.add(choice.parent);
        changed = true;
      }
    }
  }
  return catalog.filter((c) => wanted.has(c.name)).map((c) => c.name);
}

/** Env vars the resources need, each once, in the order they first appear. */
export function envVarsFor(names: readonly string[], catalog: readonly ResourceChoice[]): EnvVarChoice[] {
  const byName = new Map<string, EnvVarChoice>();
  for (const choice of catalog) {
    if (!names.includes(choice.name)) continue;
    for (const v of choice.envVars) {
      const seen = byName.get(v.name);
      // A variable optional for one resource but required by another is required.
      byName.set(v.name, seen ? { ...seen, required: seen.required || v.required, list: seen.list === true || v.list === true } : v);
    }
  }
  return [...byName.values()];
}

/** Names not in the catalog; an empty array when all are known. */
export function unknownResources(names: readonly string[], catalog: readonly ResourceChoice[]): string[] {
  const known = new Set(catalog.map((c) => c.name));
  return names.filter((n) => !known.has(n));
}

/**
 * The resources of `chosen` that make one request per record of their parent, for the README's note on them (slow
 * against the sandbox at the default rate limit): written at creation, updated by --add.
 */
export function perRecordResources(chosen: readonly ResourceChoice[]): Array<{ name: string; parent: string }> {
  return chosen.flatMap((c) => (c.parent !== null ? [{ name: c.name, parent: c.parent }] : []));
}
