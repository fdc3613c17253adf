// Turns a PipelineConfig plus the environment into a checked plan: which resources are loaded, which are only
// extracted to drive their children, their options, and the connection. Every check that can fail without a
// request happens here, so a missing env var is reported before anything is fetched or written.
import { notLoadableReason, resourceNames, resources, securitySchemes, type LoadableResource, type ResourceName } from 'snapengage-client';
import type { PipelineConfig, ResourceOptions, SourceRecord, WriteDisposition } from './config.js';
import { envListProblem, envValue, whereToFixEnv, whereToSetEnv, type Env } from './env.js';
import { ConfigError, UsageError } from './errors.js';
import { checkConfigKeys } from './config-keys.js';
import { checkedBaseUrl, joinedAssignment } from './connection-settings.js';
import { checkDestinationNames, duckdbTuning } from './destination-settings.js';
import { eachParams } from './each-params.js';
import { nearestName } from './nearest-name.js';
import { shownValue } from './shown-value.js';
import { startDateHint } from './start-date.js';
import { declaredShapeProperties } from './normalize/table-tree.js';
import { declaredShape } from './normalize/types.js';
import { resolveSchemaContract, type SchemaContractModes } from './normalize/contract.js';

export const DEFAULTS = {
  pipelineName: 'snapengage_pipeline',
  path: 'snapengage.duckdb',
  dataset: 'snapengage_data',
  /**
   * Requests in flight. The rate limit bounds what reaches the API; this only has to cover its round trip: a run
   * makes at most concurrency / round trip requests a second, and the real API is 50–300 ms away plus a page's body
   * (~250 kB). With 4, a run 250 ± 250 ms away at 1 MB/s made 6.9 requests/s, all 4 slots busy (OPERATIONS.md).
   */
  concurrency: 8,
  requestsPerSecond: 10,
  maxNestingDepth: 4,
  /** How long a run waits for another program to close the DuckDB file (SNAPENGAGE_DUCKDB_LOCK_WAIT). */
  lockWaitSeconds: 60,
} as const;

type Step = NonNullable<ResourceOptions['steps']>[number];

export interface ResourcePlan {
  name: ResourceName;
  resource: LoadableResource;
  /** false: extracted only because a selected child needs its records; nothing is written. */
  load: boolean;
  writeDisposition: WriteDisposition;
  primaryKey: string[];
  maxNestingDepth: number;
  /** The config's schemaContract, a mode per entity (all `evolve` by default). */
  schemaContract: SchemaContractModes;
  steps: Step[];
  /** Resolved date-window options of an incremental resource. */
  incremental: { startDate: string; lookbackDays: number; sliceDays: number | null; endDay: 'inclusive' | 'exclusive' } | null;
  children: ResourcePlan[];
}

export interface Plan {
  pipelineName: string;
  destination: { path: string; dataset: string; memoryLimit?: string; threads?: number; lockWaitSeconds?: number };
  /** Which DuckDB settings a memory cgroup limit chose, and why; absent when none were chosen (destination-settings.ts). */
  duckdbSettingsNote?: string;
  /** Parents before children. */
  resources: ResourcePlan[];
  concurrency: number;
  requestsPerSecond: number;
  connection: { baseUrl: string; timeoutMs?: number; maxRetries?: number; retryBaseDelayMs?: number; maxResponseBytes?: number };
  /** Client options by name (apiToken, apiKey, provisioningKey), read through the catalog's security schemes. */
  credentials: Record<string, string>;
}

export function isResourceName(name: string): name is ResourceName {
  return (resourceNames as readonly string[]).includes(name);
}

/** The resource a misspelt name most likely meant (`log` → `logs`, `chatpoll` → `chat_poll`), if one is close. */
function resourceGuess(name: string): string | undefined {
  // One edit per four letters (at least one): short names are easily near each other (`bogus` is 2 from `logs`).
  return nearestName(name, resourceNames, Math.max(1, Math.floor(name.length / 4)));
}

/** "Unknown resource …" for the unknown names (with guesses), then why each non-loadable one is not loaded. */
function unknownResourceMessage(unknown: readonly string[]): string {
  const parts: string[] = [];
  const other = unknown.filter((n) => notLoadableReason(n) === undefined);
  if (other.length > 0) {
    const listed = other.map((n) => {
      const guess = resourceGuess(n);
      return `${shownValue(n)}${guess ? ` (did you mean "${guess}"?)` : ''}`;
    });
    parts.push(`Unknown resource ${listed.join(', ')}`);
  }
  for (const n of unknown) {
    const reason = notLoadableReason(n);
    if (reason) parts.push(reason);
  }
  return `${parts.join('; ')}; valid resources: ${resourceNames.join(', ')}`;
}

/** Checks names given on the command line; unknown ones are a usage error with a guess and the valid names. */
export function checkResourceNames(names: string[]): ResourceName[] {
  const unknown = names.filter((name) => !isResourceName(name));
  if (unknown.length > 0) throw new UsageError(unknownResourceMessage(unknown));
  return names as ResourceName[];
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** The first start date accepted: case times are seconds since the Unix epoch. */
/**
 * The resource whose date window reads `plan`: itself when incremental, else the nearest ancestor that is (its records
 * drive the child, a grandchild too); undefined when none is (widgets, users).
 */
export function dateWindowReading(plan: ResourcePlan, plans: readonly ResourcePlan[]): ResourcePlan | undefined {
  // A plan has a window exactly when its catalog resource has one (resourcePlan), so the catalog's walk finds it.
  const name = catalogDateWindow(plan.name);
  return name === undefined ? undefined : plans.find((p) => p.name === name);
}

/** dateWindowReading by the catalog alone, also before the plans exist (the merge-without-key refusal). */
function catalogDateWindow(name: ResourceName): ResourceName | undefined {
  // Bounded by the catalog's size: a parent cycle in an edited spec ends the walk.
  for (let r: ResourceName | null = name, hops = 0; r !== null && hops <= resourceNames.length; hops++) {
    if (resources[r].incremental) return r;
    r = resources[r].parent as ResourceName | null;
  }
  return undefined;
}

export const EARLIEST_START = '1970-01-01';

export function isIsoDate(text: string): boolean {
  if (!DATE.test(text)) return false;
  const t = Date.parse(`${text}T00:00:00Z`);
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === text;
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
}

export function todayUtc(now: Date = new Date()): string {
  return now.toISOString().slice(0, 10);
}

function positiveInteger(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`${field} must be an integer >= 1, got ${shownValue(value)}`);
  }
  return value;
}

function optionsOf(config: PipelineConfig, name: ResourceName): ResourceOptions<SourceRecord> | undefined {
  const entry = (config.resources as Record<string, ResourceOptions<SourceRecord> | true | undefined>)[name];
  return entry === true ? {} : entry;
}

/**
 * Builds the plan. `only` (from `--resources`) replaces the config's selection; options still come from the config.
 */
export function planPipeline(config: PipelineConfig, env: Env, only?: ResourceName[], now: Date = new Date()): Plan {
  if (!config || typeof config !== 'object' || typeof config.resources !== 'object' || config.resources === null) {
    throw new ConfigError('The pipeline config needs a `resources` object, e.g. definePipeline({ resources: { logs: true } })');
  }
  // A list of names (as runPipeline's `resources` option and --resources take) was read by its indexes: "Unknown resource "0"".
  if (Array.isArray(config.resources)) {
    const names = config.resources.filter((n): n is string => typeof n === 'string');
    const example = names.length > 0 && names.every(isResourceName) ? `{ ${names.map((n) => `${n}: true`).join(', ')} }` : '{ logs: true }';
    throw new ConfigError(`resources must be an object of resource names, such as ${example}, got the list ${shownValue(config.resources)}`);
  }
  for (const name of Object.keys(config.resources)) {
    if (!isResourceName(name)) {
      const reason = notLoadableReason(name);
      if (reason) throw new ConfigError(`${reason} (in the pipeline config); valid resources: ${resourceNames.join(', ')}`);
      const guess = resourceGuess(name);
      throw new ConfigError(`Unknown resource ${shownValue(name)} in the pipeline config;${guess ? ` did you mean "${guess}"?` : ''} valid resources: ${resourceNames.join(', ')}`);
    }
  }
  checkConfigKeys(config);
  // runPipeline's `resources` option, which the CLI checked for --resources, failed later reading a catalog entry.
  if (only !== undefined) checkResourceNames(only);
  // Before the environment: a destination this version cannot load into is the first thing to fix.
  const destination = config.destination ?? { type: 'duckdb' as const };
  if (destination.type === undefined) throw new ConfigError("destination.type is missing: write destination: { type: 'duckdb', path: … } (the only destination so far)");
  if (destination.type !== 'duckdb') {
    throw new ConfigError(`destination.type must be "duckdb" (the only destination so far), got ${shownValue(destination.type)}`);
  }
  checkDestinationNames(destination.path ?? DEFAULTS.path, destination.dataset ?? DEFAULTS.dataset);
  // Stored in every _pipeline_loads row: a number was stored as its text, an object failed only at the commit.
  const pipelineName: unknown = config.pipelineName;
  if (pipelineName !== undefined && (typeof pipelineName !== 'string' || pipelineName.trim() === '')) {
    throw new ConfigError(`pipelineName must be a non-empty string such as "${DEFAULTS.pipelineName}", got ${shownValue(pipelineName)}`);
  }
  const selected: ResourceName[] =
    only ?? resourceNames.filter((name) => optionsOf(config, name) !== undefined && optionsOf(config, name)?.selected !== false);
  if (selected.length === 0) throw new ConfigError(`No resource selected; choose some of: ${resourceNames.join(', ')}`);

  // Parents of selected children are extracted (not loaded) when they are not selected themselves.
  const toExtract = new Set<ResourceName>(selected);
  for (const name of selected) {
    for (let parent = resources[name].parent; parent !== null; parent = resources[parent as ResourceName].parent) {
      toExtract.add(parent as ResourceName);
    }
  }
  checkJoinedEnv(toExtract, env);
  const plans = new Map<ResourceName, ResourcePlan>();
  for (const name of resourceNames.filter((n) => toExtract.has(n))) plans.set(name, resourcePlan(config, env, name, selected.includes(name), now));
  for (const plan of plans.values()) {
    if (plan.resource.parent) plans.get(plan.resource.parent as ResourceName)?.children.push(plan);
  }
  // An append tells a record read again from a new one by its key alone, and a date window always reads days again
  // (the lookback, at least the last day): without a key each run stored their records once more, without a word.
  for (const plan of plans.values()) {
    const window = plan.load && plan.writeDisposition === 'append' && plan.primaryKey.length === 0 ? dateWindowReading(plan, [...plans.values()]) : undefined;
    if (window === undefined) continue;
    throw new ConfigError(
      `resources.${plan.name}.primaryKey is empty with writeDisposition "append": each run reads the last days of ${window.name} again ` +
        `(lookbackDays, and at least the last day), and without a key their records would be appended once more on every run; ` +
        `keep a primary key (the catalog's: ${plan.resource.primaryKey.join(', ')}), or set writeDisposition "replace"`,
    );
  }
  checkEnv([...plans.values()], env);

  const ordered: ResourcePlan[] = [];
  const visit = (plan: ResourcePlan) => {
    ordered.push(plan);
    plan.children.forEach(visit);
  };
  [...plans.values()].filter((p) => p.resource.parent === null).forEach(visit);

  const rate = config.rateLimit?.requestsPerSecond ?? DEFAULTS.requestsPerSecond;
  if (typeof rate !== 'number' || !(rate >= 0)) throw new ConfigError(`rateLimit.requestsPerSecond must be a number >= 0 (0 = no limit), got ${shownValue(rate)}`);

  const credentials: Record<string, string> = {};
  for (const scheme of Object.values(securitySchemes)) {
    const value = envValue(env, scheme.env);
    if (value !== undefined) credentials[scheme.option] = value;
  }
  const baseUrl = checkedBaseUrl(config.connection, envValue(env, 'SNAPENGAGE_BASE_URL'), credentials);
  const { note: duckdbSettingsNote, ...tuning } = duckdbTuning(env);
  return {
    pipelineName: config.pipelineName ?? DEFAULTS.pipelineName,
    destination: { path: destination.path ?? DEFAULTS.path, dataset: destination.dataset ?? DEFAULTS.dataset, ...tuning },
    ...(duckdbSettingsNote ? { duckdbSettingsNote } : {}),
    resources: ordered,
    concurrency: positiveInteger(config.concurrency, 'concurrency', DEFAULTS.concurrency),
    requestsPerSecond: rate,
    connection: {
      baseUrl,
      timeoutMs: config.connection?.timeoutMs,
      maxRetries: config.connection?.maxRetries,
      retryBaseDelayMs: config.connection?.retryBaseDelayMs,
      maxResponseBytes: config.connection?.maxResponseBytes,
    },
    credentials,
  };
}

function resourcePlan(config: PipelineConfig, env: Env, name: ResourceName, load: boolean, now: Date): ResourcePlan {
  const resource = resources[name] as LoadableResource;
  const options = optionsOf(config, name) ?? {};
  const field = `resources.${name}`;
  const disposition = options.writeDisposition ?? resource.writeDisposition;
  if (!['merge', 'append', 'replace'].includes(disposition)) {
    throw new ConfigError(`${field}.writeDisposition must be "merge", "append" or "replace", got ${shownValue(disposition)}`);
  }
  const primaryKey = options.primaryKey ?? [...resource.primaryKey];
  if (!Array.isArray(primaryKey) || primaryKey.some((k) => typeof k !== 'string' || k === '')) {
    throw new ConfigError(`${field}.primaryKey must be an array of field names`);
  }
  if (disposition === 'merge' && primaryKey.length === 0) {
    const catalogKey = resource.primaryKey.length > 0 ? `the catalog's: ${resource.primaryKey.join(', ')}` : 'the fields that name a record';
    // "append" without a key is refused where a date window reads days again (planPipeline): not suggested there.
    const window = catalogDateWindow(name);
    const otherwise = window === undefined ? '"append" or "replace"' : `"replace" (not "append": each run reads the last days of ${window} again, and without a key would append their records once more)`;
    throw new ConfigError(`${field}: writeDisposition "merge" needs a primaryKey: set primaryKey (${catalogKey}), or writeDisposition ${otherwise}`);
  }
  const steps = options.steps ?? [];
  // A step may be anything in plain JavaScript: `null` or a number is refused here, not read as an object.
  const isStep = (s: unknown) => typeof s === 'object' && s !== null && (typeof (s as { filter?: unknown }).filter === 'function' || typeof (s as { map?: unknown }).map === 'function');
  if (!Array.isArray(steps) || !steps.every(isStep)) {
    throw new ConfigError(`${field}.steps must be an array of { filter: fn } or { map: fn }`);
  }
  // A key field the records do not have makes every record keyless: merges would match by content only. A map
  // step may add the field, so the check is for the spec's fields when there is none.
  const properties = declaredShapeProperties(resource.recordSchema);
  const declared = Object.keys(properties);
  const unknownKey = primaryKey.find((k) => !declared.includes(k));
  if (options.primaryKey !== undefined && unknownKey !== undefined && declared.length > 0 && !steps.some((s) => 'map' in s)) {
    const shown = declared.length > 12 ? `${declared.slice(0, 12).join(', ')}, …` : declared.join(', ');
    throw new ConfigError(`${field}.primaryKey: "${unknownKey}" is not a field of ${name} records in the spec (${shown}); use one of them, or add a map step that sets it`);
  }
  // An object or a list is flattened into columns or a child table: as a key it could not be read back from the
  // stored rows (a merge's takeover of earlier loads, the append's stored-key check), so old rows would stay beside new.
  for (const key of options.primaryKey !== undefined ? primaryKey : []) {
    const kind = Object.hasOwn(properties, key) ? declaredShape(properties[key]!).kind : 'column';
    if (kind !== 'column') {
      throw new ConfigError(`${field}.primaryKey: "${key}" holds ${kind === 'table' ? 'a list' : 'an object'} in the spec, not a value; use a field with scalar values (a nested one is not a key field)`);
    }
  }
  let incremental: ResourcePlan['incremental'] = null;
  // Not ignored: after a spec edit that dropped the resource's date window, a start date would silently do nothing.
  if (options.incremental !== undefined && !resource.incremental) {
    const how = resource.parent ? `it is read per record of ${resource.parent}, whose window drives it` : 'its spec has no x-snapengage-resource incremental';
    throw new ConfigError(`${field}.incremental: ${name} is not incremental (${how}); remove the option`);
  }
  if (resource.incremental) {
    const inc = resource.incremental;
    const fromEnv = envValue(env, inc.initialStartEnv);
    const startDate = options.incremental?.startDate ?? fromEnv ?? addDays(todayUtc(now), -inc.defaultStartDaysAgo);
    const source = options.incremental?.startDate !== undefined ? `${field}.incremental.startDate` : inc.initialStartEnv;
    if (typeof startDate !== 'string' || !isIsoDate(startDate)) {
      const hint = typeof startDate === 'string' || (startDate as unknown) instanceof Date ? startDateHint(startDate, { today: todayUtc(now), earliest: EARLIEST_START }) : 'write the first day to load as text, e.g. \'2025-01-31\' (a whole UTC day)';
      throw new ConfigError(`${source} must be a date YYYY-MM-DD, got ${shownValue(startDate)}: ${hint}`);
    }
    if (startDate > todayUtc(now)) {
      throw new ConfigError(`${source} is ${startDate}, after today (${todayUtc(now)} UTC): use the first day to load, in the past`);
    }
    // A mistyped year (`0024-…`): no case is older than the epoch, and each window slice of the centuries between was
    // queued at once, so a run spent minutes of CPU before its first request failed.
    if (startDate < EARLIEST_START) throw new ConfigError(`${source} is ${startDate}, before ${EARLIEST_START}: no case is that old; check the year`);
    const lookbackDays = options.incremental?.lookbackDays ?? inc.lookbackDays;
    if (!Number.isInteger(lookbackDays) || lookbackDays < 0) {
      throw new ConfigError(`${field}.incremental.lookbackDays must be an integer >= 0, got ${shownValue(lookbackDays)}`);
    }
    // Past the epoch no case is older (see EARLIEST_START); a lookback of 1e300 days failed the next run as "Invalid time value".
    const sinceEarliest = Math.round((Date.parse(`${todayUtc(now)}T00:00:00Z`) - Date.parse(`${EARLIEST_START}T00:00:00Z`)) / 86_400_000);
    if (lookbackDays > sinceEarliest) {
      throw new ConfigError(`${field}.incremental.lookbackDays is ${lookbackDays}, more than the ${sinceEarliest} days since ${EARLIEST_START}: no case is that old; to load everything again, run with --refresh`);
    }
    const sliceDays = options.incremental?.sliceDays ?? inc.sliceDays ?? null;
    if (sliceDays !== null && !(Number.isInteger(sliceDays) && sliceDays >= 1)) {
      throw new ConfigError(`${field}.incremental.sliceDays must be an integer >= 1, got ${shownValue(sliceDays)}`);
    }
    const endDay = options.incremental?.endDay ?? inc.endDay ?? 'inclusive';
    if (endDay !== 'inclusive' && endDay !== 'exclusive') {
      throw new ConfigError(`${field}.incremental.endDay must be "inclusive" or "exclusive", got ${shownValue(endDay)}`);
    }
    incremental = { startDate, lookbackDays, sliceDays, endDay };
  }
  return {
    name,
    resource,
    load,
    writeDisposition: disposition,
    primaryKey,
    maxNestingDepth: positiveIntegerOrZero(options.maxNestingDepth, `${field}.maxNestingDepth`, DEFAULTS.maxNestingDepth),
    schemaContract: resolveSchemaContract(options.schemaContract, `${field}.schemaContract`),
    steps: steps as Step[],
    incremental,
    children: [],
  };
}

function positiveIntegerOrZero(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new ConfigError(`${field} must be an integer >= 0`);
  return value;
}


/**
 * Two .env lines joined into one in a variable of the resources to extract, as the base URL is checked: the second
 * variable, often a key, is in no variable of its own, so nothing knows its value to mask it, and an id's value was
 * echoed by its check (a start date, a list item with a space) or sent in every request URL. Named, never echoed.
 */
function checkJoinedEnv(names: Iterable<ResourceName>, env: Env): void {
  for (const variable of new Set([...names].flatMap((name) => resources[name].envVars.map((v) => v.name)))) {
    const value = envValue(env, variable);
    const joined = value === undefined ? null : joinedAssignment(value);
    if (joined) {
      throw new ConfigError(`${variable} holds a second assignment (${joined[0].trim()}…): two lines of .env joined into one; put each variable on its own line: ${whereToFixEnv(env, variable)}`);
    }
  }
}

/** Every required env var of every resource to extract, reported together in one line. */
function checkEnv(plans: ResourcePlan[], env: Env): void {
  const missing = new Map<string, { description: string; resources: string[] }>();
  for (const plan of plans) {
    for (const variable of plan.resource.envVars) {
      if (!variable.required || envValue(env, variable.name) !== undefined) continue;
      const entry = missing.get(variable.name) ?? { description: variable.description, resources: [] };
      // A parent extracted only for its selected children is named with them: the user asked for chat_poll, not logs.
      entry.resources.push(plan.load ? plan.name : `${plan.name} (read for ${plan.children.map((c) => c.name).join(', ')})`);
      missing.set(variable.name, entry);
    }
  }
  if (missing.size === 0) {
    // Set, but as a list with nothing usable in it: reported before any request, as a missing one is.
    const lists = new Set(plans.flatMap((p) => eachParams(p.resource).map((param) => param.env)));
    for (const name of lists) {
      const problem = envListProblem(env, name);
      if (problem) throw new ConfigError(`${problem}: ${whereToFixEnv(env, name)}`);
    }
    return;
  }
  const parts = [...missing].map(([name, m]) => `${name} (needed by ${m.resources.join(', ')}; ${m.description})`);
  const variables = missing.size === 1 ? 'variable' : 'variables';
  throw new ConfigError(`Missing environment ${variables} ${parts.join('; ')}: ${whereToSetEnv(env, missing.size)}`);
}

/**
 * Top-level resources whose required env vars are all present: the default selection when there is no config file.
 * Child resources (one request per parent record) are left out; select them explicitly.
 */
export function resourcesWithEnv(env: Env): ResourceName[] {
  return resourceNames.filter(
    (name) => resources[name].parent === null && resources[name].envVars.every((v) => !v.required || envValue(env, v.name) !== undefined),
  );
}
