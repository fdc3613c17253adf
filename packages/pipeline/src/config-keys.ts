// Refuses option names the PipelineConfig type does not have (`lookbackDay`, `ratelimit`), with the nearest known
// name as a guess. TypeScript misses many of them (see checkKeys), so planPipeline runs this before reading any
// option. It is apart from plan.ts because it checks only the config's shape, not its values; its lists are pinned
// to the config types at compile time, so an option added to the type fails the build until it is listed here.
import type { PipelineConfig, ResourceOptions } from './config.js';
import { ConfigError } from './errors.js';
import { nearestName } from './nearest-name.js';
import { shownValue } from './shown-value.js';

/** The option names each part of a PipelineConfig accepts: a misspelt one (`lookbackDay`) is refused, not ignored. */
const KNOWN_KEYS = {
  '': ['pipelineName', 'destination', 'resources', 'rateLimit', 'concurrency', 'connection'],
  destination: ['type', 'path', 'dataset'],
  rateLimit: ['requestsPerSecond'],
  connection: ['baseUrl', 'timeoutMs', 'maxRetries', 'retryBaseDelayMs', 'maxResponseBytes'],
  resource: ['selected', 'writeDisposition', 'primaryKey', 'incremental', 'maxNestingDepth', 'schemaContract', 'steps'],
  incremental: ['startDate', 'lookbackDays', 'sliceDays', 'endDay'],
  schemaContract: ['tables', 'columns', 'dataType'],
} as const satisfies Record<string, readonly string[]>;

// Compile-time: each list names exactly the keys of its part of PipelineConfig, so a new option cannot be forgotten.
type Incremental = NonNullable<ResourceOptions['incremental']>;
type ContractSettings = Exclude<NonNullable<ResourceOptions['schemaContract']>, string>;
type SameKeys<T, K extends readonly string[]> = [Exclude<keyof T, K[number]>, Exclude<K[number], keyof T>] extends [never, never] ? true : false;
const KNOWN_KEYS_MATCH_THE_TYPES: [
  SameKeys<PipelineConfig, typeof KNOWN_KEYS['']>,
  SameKeys<NonNullable<PipelineConfig['destination']>, typeof KNOWN_KEYS.destination>,
  SameKeys<NonNullable<PipelineConfig['rateLimit']>, typeof KNOWN_KEYS.rateLimit>,
  SameKeys<NonNullable<PipelineConfig['connection']>, typeof KNOWN_KEYS.connection>,
  SameKeys<ResourceOptions, typeof KNOWN_KEYS.resource>,
  SameKeys<Incremental, typeof KNOWN_KEYS.incremental>,
  SameKeys<ContractSettings, typeof KNOWN_KEYS.schemaContract>,
] = [true, true, true, true, true, true, true];
void KNOWN_KEYS_MATCH_THE_TYPES;

/**
 * Refuses keys the config type does not have. TypeScript misses many of them: `definePipeline`'s inferred (const)
 * type parameter skips excess-property checks at the top level, in `destination`, and next to a valid key.
 */
function checkKeys(value: unknown, known: readonly string[], field: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    const guess = nearestName(key, known, 2);
    const where = field === '' ? 'the pipeline config' : field;
    throw new ConfigError(`Unknown option ${shownValue(key)} in ${where}${guess ? `; did you mean "${guess}"?` : ''} (known: ${known.join(', ')})`);
  }
}

/** An example of each part, for the error when a part is not an object. */
const EXAMPLES = {
  destination: "{ type: 'duckdb', path: 'snapengage.duckdb' }",
  rateLimit: '{ requestsPerSecond: 5 }',
  connection: "{ baseUrl: 'https://www.snapengage.com' }",
  incremental: "{ startDate: '2025-01-01' }",
} as const;

const isObject = (value: unknown): value is object => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A part given as something else than an object (`rateLimit: 0`, `incremental: true`, `destination: 'x.duckdb'`) was
 * ignored, its defaults used: refused, as TypeScript would if the config were type-checked (tsx does not).
 */
function checkObject(value: unknown, field: string, example: string): void {
  if (value !== undefined && !isObject(value)) throw new ConfigError(`${field} must be an object such as ${example}, got ${shownValue(value)}`);
}

/**
 * A resource is `true` or an object of its options (undefined leaves it out). `false` loaded it (read as a resource
 * with no options), and so did any other value.
 */
function checkResourceEntry(name: string, value: unknown): void {
  if (value === true || value === undefined || isObject(value)) return;
  const off = value === false ? `to leave ${name} out, remove it or write \`${name}: { selected: false }\`; ` : '';
  throw new ConfigError(`resources.${name} is ${shownValue(value)}: ${off}to load it, write \`${name}: true\` or an object of its options`);
}

/** Every part of the config: top level, destination, rateLimit, connection, each resource and its incremental. */
export function checkConfigKeys(config: PipelineConfig): void {
  checkKeys(config, KNOWN_KEYS[''], '');
  for (const part of ['destination', 'rateLimit', 'connection'] as const) {
    checkObject(config[part], part, EXAMPLES[part]);
    checkKeys(config[part], KNOWN_KEYS[part], part);
  }
  for (const [name, options] of Object.entries(config.resources)) {
    checkResourceEntry(name, options);
    checkKeys(options, KNOWN_KEYS.resource, `resources.${name}`);
    if (isObject(options)) {
      // Read as "selected unless false": `selected: 'false'` or `0` loaded the resource.
      const selected: unknown = options.selected;
      if (selected !== undefined && typeof selected !== 'boolean') throw new ConfigError(`resources.${name}.selected must be true or false, got ${shownValue(selected)}`);
      checkObject(options.incremental, `resources.${name}.incremental`, EXAMPLES.incremental);
      checkKeys(options.incremental, KNOWN_KEYS.incremental, `resources.${name}.incremental`);
      // dlt spells it `data_type`: the guess below names `dataType` for it.
      checkKeys(options.schemaContract, KNOWN_KEYS.schemaContract, `resources.${name}.schemaContract`);
    }
  }
}
