// `snapengage-pipeline run --json`: the outcome of a run as one JSON document on one line of stdout, for whatever
// watches a scheduled run (Airflow's BashOperator pushes stdout's last line to XCom; a cron wrapper pipes it to jq).
// Its shape is documented in OPERATIONS.md ("Load info as JSON") and only grows: fields are added, never renamed.
import { DestinationError, ExtractError, PipelineError } from './errors.js';
import type { LoadInfo } from './load-info.js';

/** A run that loaded: the LoadInfo's toJSON(), with the resources committed, as a failed run's document has them. */
export function loadedDocument(info: LoadInfo): Record<string, unknown> {
  return { ...info.toJSON(), committedResources: info.resources.filter((r) => r.loaded).map((r) => r.name) };
}

export interface RunFailure {
  error: unknown;
  /** The line the CLI wrote on stderr, without its `snapengage-pipeline: ` prefix. */
  message: string;
  exitCode: number;
  startedAt: Date;
}

/**
 * A run that failed or was refused (exit code not 0). `committedResources` tells a partial failure (some resources
 * committed before it, the rest not) from a total one (empty: nothing of the run was loaded).
 */
export function failedDocument(failure: RunFailure): Record<string, unknown> {
  const { error } = failure;
  const known = error instanceof PipelineError ? error : undefined;
  return {
    status: 'FAILED',
    startedAt: failure.startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    // To join with `_pipeline_loads.load_id`: null when the run was refused before it drew one.
    loadId: known?.loadId ?? null,
    committedResources: known?.committedResources ?? [],
    // As a LOADED document has it: the lock is released, so no later run would say the killed one did not finish.
    ...(known?.interruptedRun ? { interruptedRun: known.interruptedRun } : {}),
    error: {
      name: known?.name ?? 'Error',
      message: failure.message,
      exitCode: failure.exitCode,
      // What code acts on: a `locked` file is retried later, a `corrupt` one is not; which resource's request failed.
      ...(error instanceof DestinationError ? { code: error.code } : {}),
      ...(error instanceof ExtractError ? { resource: error.resource, kind: error.kind } : {}),
    },
  };
}

/** One line: JSON.stringify escapes every newline inside values. Every string, value or key, goes through `mask` first. */
export function documentLine(document: Record<string, unknown>, mask: (text: string) => string): string {
  // Masked value by value, not the serialized text: a credential holding a quote or backslash is escaped in the JSON,
  // so masking the text would miss it. Keys too: ids are keys here (`incremental`'s widgets, `rowCounts`' tables),
  // which the text printout masks as it masks the rest of its lines.
  return JSON.stringify(document, (_key, value: unknown) => {
    if (typeof value === 'string') return mask(value);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
    const entries = Object.entries(value);
    return entries.some(([key]) => mask(key) !== key) ? Object.fromEntries(entries.map(([key, v]) => [mask(key), v])) : value;
  });
}
