// The config a run sequence edits between runs (run-sequences-property.test.ts), and what its filter and map steps
// make of a served case, as the model expects it stored (NORMALIZATION.md, "Filter and map steps"; INCREMENTAL.md,
// "Changing the config between runs"). The steps the loader runs are built from source text (the CLI's config module
// needs it as text), while the model applies its own TypeScript rules below: the two are written apart on purpose.
import { writeFileSync } from 'node:fs';
import type { TruthCase } from '../helpers.js';

/** A filter on `logs` by `created_at_seconds`: none, dropping multiples of 3, or of 2 (changed: some come back). */
export type FilterStep = 'none' | 'mod3' | 'mod2';
/**
 * A map on `logs` (after the filter): none; one adding a nested field (schema evolution: new columns, or one JSON
 * column at depth 0); one dropping two fields (a scalar and a nested object: NULL in the records it writes); one
 * prefixing the primary key's value (`id`: a merge on `id` stores a re-read case under the new id).
 */
export type MapStep = 'none' | 'addField' | 'dropFields' | 'rekey';
export type WriteDisposition = 'merge' | 'append' | 'replace';

/** The config's parts a sequence edits between runs (`chat_availability` is always appended). */
export interface SequenceConfig {
  lookbackDays: number;
  sliceDays: number;
  filter: FilterStep;
  map: MapStep;
  /** Unset: the default (4). */
  maxNestingDepth?: number | undefined;
  /** Of `logs` (its primary key `id`): merge by default. */
  writeDisposition: WriteDisposition;
}

export const DEFAULT_CONFIG: SequenceConfig = { lookbackDays: 1, sliceDays: 7, filter: 'none', map: 'none', writeDisposition: 'merge' };

/** Whether the config's filter keeps the case (as the API sent it: the filter is the first step). */
export function kept(config: SequenceConfig, c: Record<string, unknown>): boolean {
  const seconds = Number(c.created_at_seconds);
  if (config.filter === 'mod3') return seconds % 3 !== 0;
  if (config.filter === 'mod2') return seconds % 2 !== 0;
  return true;
}

const REKEY_PREFIX = 'k-';

/** The case as the config's map step returns it: what a run that writes it stores. */
export function mapped(config: SequenceConfig, c: TruthCase): TruthCase {
  if (config.map === 'addField') return { ...c, sequence_tag: { source: 'map', seconds_mod_7: Number(c.created_at_seconds) % 7 } };
  if (config.map === 'dropFields') {
    const { survey_comments: _comments, requester_details: _details, ...rest } = c;
    return rest as TruthCase;
  }
  if (config.map === 'rekey') return { ...c, id: `${REKEY_PREFIX}${c.id}` };
  return c;
}

/** The served case's id of a stored `logs` id (a rekeyed one has the prefix). */
export const servedId = (storedId: string) => (storedId.startsWith(REKEY_PREFIX) ? storedId.slice(REKEY_PREFIX.length) : storedId);

/** The steps as JavaScript source, the same rules as kept() and mapped(), for the in-process and the CLI config. */
function stepSources(config: SequenceConfig): string[] {
  const steps: string[] = [];
  if (config.filter === 'mod3') steps.push('{ filter: (r) => Number(r.created_at_seconds) % 3 !== 0 }');
  if (config.filter === 'mod2') steps.push('{ filter: (r) => Number(r.created_at_seconds) % 2 !== 0 }');
  if (config.map === 'addField') steps.push(`{ map: (r) => ({ ...r, sequence_tag: { source: 'map', seconds_mod_7: Number(r.created_at_seconds) % 7 } }) }`);
  if (config.map === 'dropFields') steps.push('{ map: ({ survey_comments: _c, requester_details: _d, ...r }) => r }');
  if (config.map === 'rekey') steps.push(`{ map: (r) => ({ ...r, id: '${REKEY_PREFIX}' + r.id }) }`);
  return steps;
}

function configWithoutSteps(config: SequenceConfig, pipelineName: string, maxRetries?: number) {
  const { lookbackDays, sliceDays, maxNestingDepth, writeDisposition } = config;
  return {
    pipelineName,
    resources: {
      logs: { incremental: { lookbackDays, sliceDays }, writeDisposition, ...(maxNestingDepth === undefined ? {} : { maxNestingDepth }) } as Record<string, unknown>,
      chat_availability: { writeDisposition: 'append' as const },
    },
    rateLimit: { requestsPerSecond: 0 },
    // Faulted runs only; their short backoff (20 ms base) is not what they test: what a failed run leaves is.
    ...(maxRetries === undefined ? {} : { connection: { maxRetries, retryBaseDelayMs: 20 } }),
  };
}

/** The run's config object for runPipeline: the steps made from the same source text the CLI's config module holds. */
export function runConfig(config: SequenceConfig, pipelineName: string, maxRetries?: number) {
  const result = configWithoutSteps(config, pipelineName, maxRetries);
  const sources = stepSources(config);
  if (sources.length > 0) result.resources.logs.steps = new Function(`return [${sources.join(', ')}];`)() as unknown;
  return result;
}

/** The same config as an ES module for a CLI run. */
export function writeConfigFile(config: SequenceConfig, pipelineName: string, file: string): void {
  const sources = stepSources(config);
  const steps = sources.length > 0 ? `config.resources.logs.steps = [${sources.join(', ')}];\n` : '';
  writeFileSync(file, `const config = ${JSON.stringify(configWithoutSteps(config, pipelineName))};\n${steps}export default config;\n`);
}

export const describeConfig = (c: SequenceConfig) =>
  `config(lookback ${c.lookbackDays}, slice ${c.sliceDays}${c.filter === 'none' ? '' : `, filter ${c.filter}`}${c.map === 'none' ? '' : `, map ${c.map}`}` +
  `${c.maxNestingDepth === undefined ? '' : `, depth ${c.maxNestingDepth}`}${c.writeDisposition === 'merge' ? '' : `, ${c.writeDisposition}`})`;
