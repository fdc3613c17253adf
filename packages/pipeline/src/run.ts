// runPipeline: plan → take the run lock and read the state from DuckDB → close the file and extract (concurrent,
// rate-limited) while staging pages as they arrive → open the file again and commit each resource in one
// transaction (data + state + load row) → LoadInfo. On any failure every writer is aborted, so the data tables keep
// exactly what they had before the run (see DuckDBDestination.createdFile for the file itself).
import { redactSecrets, type RequestLogEvent, type ResourceName } from 'snapengage-client';
import type { PipelineConfig } from './config.js';
import { DuckDBDestination, newLoadId, organisationEnv, type ResourceWriter } from './destination/index.js';
import type { LoadStep } from './run-records.js';
import { loadDuckDB } from './duckdb.js';
import { envValue, loadEnv, type Env } from './env.js';
import { guardCallbacks } from './callbacks.js';
import { checkRunOptions } from './run-options.js';
import { AbortedError, afterPartialCommit, ConfigError, PipelineError, withCommitted, type InterruptedRun } from './errors.js';
import { describeDestinationError } from './duckdb-errors.js';
import { Extractor } from './extract.js';
import { RetryTally, type ExtractCounts } from './extract-counts.js';
import { TokenBucket } from './limits.js';
import { LoadInfo, type ResourceStats } from './load-info.js';
import { releaseHeapBeforeCommit } from './memory.js';
import { committedWindows, stateToCommit, statesToResume } from './resume.js';
import { readStatesToResume, refreshReadFrom, refuseRefreshOptions } from './refresh-plan.js';
import { WriteQueue } from './write-queue.js';
import { isEmptyReport, type SchemaReport } from './normalize/schema-report.js';
import type { ContractDiscards } from './normalize/contract.js';
import { dateWindowReading, DEFAULTS, planPipeline, type Plan } from './plan.js';
import { proxyFromEnv } from './proxy.js';
import { shownValue } from './shown-value.js';
import { makeClient, withProxyHint } from './run-client.js';

/** One HTTP request as the client reports it; the URL is already redacted. */
export type RequestEvent = RequestLogEvent;

export interface ProgressSnapshot {
  /** The run's load id (the `_load_id` of its rows, `load_id` in `_pipeline_loads`). */
  loadId: string;
  elapsedMs: number;
  /**
   * `items`: for a resource read once per item of a list (each widget of SNAPENGAGE_WIDGET_ID), the items whose every
   * request of that resource is done (a parent's children may still be running), of the list's.
   */
  resources: Array<ResourceStats & { recordsPerSecond: number; items?: { done: number; total: number } }>;
  done: boolean;
  /**
   * `committing` comes once, when extraction is over and the commit begins: from then on, aborting the signal no longer
   * stops the run (stopping between resources would leave some loaded); before it, an abort loads nothing.
   */
  phase: 'extracting' | 'committing' | 'done';
  /**
   * The run that did not finish whose lock this run took over (as `notes.interruptedRun` and a failure's
   * `interruptedRun`), for a caller that ends the process before the run settles (the CLI's second Ctrl-C): its exit
   * releases the lock, and no later run could say it.
   */
  interruptedRun?: InterruptedRun;
}

/** How runPipeline runs a config: callbacks, cancellation and the CLI's per-run overrides. All optional. */
export interface RunOptions {
  /** Cancels the run: before its commit starts it rejects with AbortedError and loads nothing (ProgressSnapshot.phase). */
  signal?: AbortSignal | undefined;
  /**
   * Called after every page (and once after the commit with `done: true`); throttle rendering yourself. A throw (or a
   * rejected promise) in this or any callback below does not fail the run: it is reported once through `warn`, or
   * as a process warning (code SNAPENGAGE_CALLBACK_THREW). To stop a run, abort its `signal`.
   */
  progress?: ((snapshot: ProgressSnapshot) => void) | undefined;
  /** Called for every HTTP request (what `--verbose` prints). */
  onRequest?: ((event: RequestEvent) => void) | undefined;
  /** Called after each step of each resource's commit (what `--verbose` prints): where the load step's time goes. */
  onLoadStep?: ((step: LoadStep) => void) | undefined;
  /** Receives warnings, one line each: a request being retried, a callback that threw. */
  warn?: ((message: string) => void) | undefined;
  /**
   * Called once when another program has the DuckDB file open and the run waits for it (at most
   * SNAPENGAGE_DUCKDB_LOCK_WAIT seconds, default 60) before reading its state or before committing.
   */
  onLockWait?: ((message: string) => void) | undefined;
  /** Environment to read `SNAPENGAGE_*` from; default: process.env over `.env` in the working directory. */
  env?: Env | undefined;
  /** Load only these resources (the CLI's `--resources`), with options from the config where present. */
  resources?: ResourceName[] | undefined;
  /** Overrides of the config's destination (the CLI's `--duckdb` and `--dataset`). */
  destination?: { path?: string | undefined; dataset?: string | undefined } | undefined;
  /** Sample N pages per request sequence (dlt's add_limit); incremental state is not advanced. */
  limitPages?: number | undefined;
  /**
   * Reload every resource the run loads (narrow with `resources`) from the start date (or the first day it loaded, when
   * earlier) as if never loaded, and replace its tables and state in its commit's transaction (the CLI's `--refresh`;
   * INCREMENTAL.md, "Refreshing a resource").
   */
  refresh?: boolean | undefined;
  /**
   * Run a full garbage collection between extraction and commit when the heap is large (see memory.ts): lowers the
   * peak memory of a big load by ~40 MiB. Off by default because it sets a V8 flag for the whole process; the CLI,
   * which owns its process, turns it on.
   */
  collectGarbageBeforeCommit?: boolean | undefined;
  /** fetch implementation handed to the client (default: global fetch). */
  fetch?: ((request: Request) => Promise<Response>) | undefined;
}

export function withOverrides(config: PipelineConfig, options: RunOptions): PipelineConfig {
  const d = options.destination;
  if (!d || (d.path === undefined && d.dataset === undefined)) return config;
  // A destination that is not an object is left for planPipeline to refuse: spread, a string became "0", "1", … keys.
  const given: unknown = config.destination;
  if (given !== undefined && (typeof given !== 'object' || given === null || Array.isArray(given))) return config;
  return {
    ...config,
    destination: {
      type: 'duckdb',
      ...config.destination,
      ...(d.path !== undefined ? { path: d.path } : {}),
      ...(d.dataset !== undefined ? { dataset: d.dataset } : {}),
    },
  };
}

/**
 * Extracts the config's resources, normalizes them and loads them into its DuckDB file, with their incremental state,
 * in one commit (what `snapengage-pipeline run` does); resolves to the LoadInfo it prints. Rejects with a PipelineError
 * subclass (ConfigError, ExtractError, DestinationError, AbortedError, …).
 */
export async function runPipeline(config: PipelineConfig, given?: RunOptions): Promise<LoadInfo> {
  try {
    return await run(config, given);
  } catch (error) {
    settleStacks(error);
    throw error;
  }
}

/**
 * Formats the stack of a run's error and of its causes now. Until it is read V8 keeps each frame's function to format
 * it from, and a frame of the run's fetch held the run's options, client and callbacks for as long as an app kept the
 * error (its last failure, a status page's list): 0.4–0.6 MiB a failed run, measured.
 */
function settleStacks(error: unknown): void {
  for (let e = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) void e.stack;
}

async function run(config: PipelineConfig, given: RunOptions | undefined): Promise<LoadInfo> {
  // Every callback below is the guarded one: a throw in the app's callback is reported, never the run's failure.
  const options = guardCallbacks(checkRunOptions(given));
  const env = options.env ?? loadEnv();
  // The run's clock, read once: "today" (the date windows' end, the default start date, the refresh's clock check)
  // is the day the run started. Read where each needed it, a run waiting past midnight UTC (for a lock, or the
  // windows of many widgets) planned with one day and read up to another.
  const now = new Date();
  const plan = planPipeline(withOverrides(config, options), env, options.resources, now);
  if (options.limitPages !== undefined && (!Number.isInteger(options.limitPages) || options.limitPages < 1)) {
    throw new ConfigError(`limitPages must be an integer >= 1, got ${shownValue(options.limitPages)}`);
  }
  if (options.refresh === true) refuseRefreshOptions(plan.resources, options.limitPages, options.resources !== undefined);
  const signal = options.signal ?? new AbortController().signal;
  if (signal.aborted) throw new AbortedError('Run cancelled before it started');
  loadDuckDB();
  const startedAt = new Date();
  const stats = new Map<string, ResourceStats>(
    plan.resources.map((p) => [p.name, { name: p.name, loaded: p.load, requests: 0, pages: 0, records: 0 }]),
  );
  // Each resource's rate is over the time until its latest page with records, so it stays put once the resource is done.
  const lastPageAt = new Map<string, number>();
  let tookOver: InterruptedRun | undefined;
  let listItems: ExtractCounts['listItems'] | undefined;
  const snapshot = (phase: ProgressSnapshot['phase']): ProgressSnapshot => {
    const elapsedMs = Date.now() - startedAt.getTime();
    const rate = (s: ResourceStats) => {
      const ms = (lastPageAt.get(s.name) ?? startedAt.getTime()) - startedAt.getTime();
      return ms > 0 ? (s.records * 1000) / ms : 0;
    };
    const resources = [...stats.values()].map((s) => {
      const items = listItems?.get(s.name);
      return { ...s, recordsPerSecond: rate(s), ...(items ? { items: { ...items } } : {}) };
    });
    return { loadId, elapsedMs, done: phase === 'done', phase, resources, ...(tookOver ? { interruptedRun: tookOver } : {}) };
  };

  const bucket = new TokenBucket(plan.requestsPerSecond);
  const retried = new RetryTally();
  // Only for the default fetch: an app's or a test's own fetch is theirs to route.
  const proxy = options.fetch ? undefined : await proxyFromEnv(env, plan.connection.baseUrl);
  const client = makeClient(plan, options, signal, bucket, proxy, (event) => {
    const stat = [...stats.values()].find((s) => operationResource(plan, event.operation) === s.name);
    if (stat) stat.requests++;
    retried.add(event.retryReasons);
  });

  // A failed run must leave the database as it was: an existing file keeps its data and only gains the `failed`
  // row(s) in `_pipeline_loads` (bookkeeping that says a run was attempted and why it failed; no data table is
  // touched); a file this run created holds nothing of value until something commits, so it is removed again.
  /** Resources whose commit is done: each commits in a transaction of its own. */
  const committedNames: string[] = [];
  let destination: DuckDBDestination;
  try {
    destination = await DuckDBDestination.open({
      ...plan.destination,
      pipelineName: plan.pipelineName,
      org: runOrg(plan, env),
      lockWaitMs: (plan.destination.lockWaitSeconds ?? DEFAULTS.lockWaitSeconds) * 1000,
      ...(options.onLockWait ? { onLockWait: options.onLockWait } : {}),
      ...(options.refresh ? { refresh: plan.resources.filter((p) => p.load).map((p) => p.name) } : {}),
      signal,
    });
  } catch (error) {
    await proxy?.dispatcher.close().catch(() => undefined);
    throw describeDestinationError(error, plan.destination.path, 'opening the destination');
  }
  tookOver = destination.interruptedRun;
  let failed = false;
  const loadId = newLoadId();
  const writers = new Map<string, ResourceWriter>();
  let queue: WriteQueue | undefined;
  try {
    // A refreshed resource starts as if never loaded, from the first day it loaded at the latest (refresh-plan.ts).
    const storedState = await readStatesToResume(destination, plan.resources, options.refresh === true, env, now);
    const previousState = statesToResume(plan.resources, storedState);
    for (const p of plan.resources.filter((r) => r.load)) {
      writers.set(
        p.name,
        destination.createResourceWriter({
          loadId,
          resource: p.resource,
          writeDisposition: p.writeDisposition,
          primaryKey: p.primaryKey,
          maxNestingDepth: p.maxNestingDepth,
          schemaContract: p.schemaContract,
          // An appended consumer of a date window re-reads its lookback days (and a rerun the last day at least):
          // what it appended from them before is not appended again.
          skipStoredKeys: p.writeDisposition === 'append' && dateWindowReading(p, plan.resources) !== undefined,
          // A merged resource reads again what it stored: its lookback days, or all of it (no date window).
          mergeReadsAgain: true,
          limitPages: options.limitPages,
          refresh: options.refresh === true,
          ...(options.onLoadStep ? { onStep: options.onLoadStep } : {}),
        }),
      );
    }
    // The state is read and the writers know the schema: other programs may read the file while this extracts.
    await destination.disconnect();
    queue = new WriteQueue(writers, plan.destination.path);
    const extractor = new Extractor({
      client,
      env,
      now,
      plans: plan.resources,
      previousState,
      concurrency: plan.concurrency,
      limitPages: options.limitPages,
      signal,
      secrets: Object.values(plan.credentials),
      sink: (p, records) => queue!.push(p, records),
      onPage: (name, records) => {
        const stat = stats.get(name);
        if (stat) {
          stat.pages++;
          stat.records += records;
          // An empty page (a slice with no cases, often today's just after midnight) adds no records: it must not
          // stretch the time the records took, or a finished resource's rate keeps falling.
          if (records > 0) lastPageAt.set(name, Date.now());
        }
        options.progress?.(snapshot('extracting'));
      },
    });
    listItems = extractor.counts.listItems;
    const newState = await extractor.run();
    await queue.flush();
    if (signal.aborted) throw new AbortedError('Run cancelled');
    if (options.collectGarbageBeforeCommit) releaseHeapBeforeCommit();
    await destination.reconnect();
    // What a commit would refuse for its data is refused before the first one, so no resource of the run is loaded.
    for (const p of plan.resources.filter((r) => r.load)) await checkWriter(writers.get(p.name)!, plan.destination.path);
    // The last check, and the 'committing' snapshot right after it with no await between: a signal is either before
    // it (nothing loaded) or after it (the commit finishes, and the caller knew it had begun). A signal during the GC
    // or the reopening above used to be ignored silently.
    if (signal.aborted) throw new AbortedError('Run cancelled');
    options.progress?.(snapshot('committing'));

    // Children first: if the process dies between two commits, the parent's window is not advanced yet, so the next
    // run re-reads it and re-drives the children (merged on their keys) instead of skipping them.
    const rowCounts: Record<string, number> = {};
    const unchangedRecords: Record<string, number> = {};
    const keylessRecords: Record<string, number> = {};
    const adoptedRecords: Record<string, number> = {};
    const adoptionRemovedRecords: Record<string, number> = {};
    const notTakenOver: Record<string, string> = {};
    const alreadyStoredRecords: Record<string, number> = {};
    const repeatedKeyRecords: Record<string, number> = {};
    const overflowValues: Record<string, number> = {};
    const schemaChanges: Record<string, SchemaReport> = {};
    const contractDiscards: Record<string, ContractDiscards> = {};
    const refreshed: Record<string, { replacedTables: string[]; readFrom?: string }> = {};
    for (const p of [...plan.resources].reverse().filter((r) => r.load)) {
      const state = stateToCommit(p, plan.resources, storedState, newState, extractor.sampled);
      const result = await commitWriter(writers.get(p.name)!, state, plan.destination.path).catch((error: PipelineError) => {
        const rest = plan.resources.filter((r) => r.load && !committedNames.includes(r.name)).map((r) => r.name);
        throw afterPartialCommit(error, committedNames, options.refresh ? rest : undefined);
      });
      writers.delete(p.name);
      committedNames.push(p.name);
      for (const [table, count] of Object.entries(result.rowCounts)) rowCounts[table] = (rowCounts[table] ?? 0) + count;
      if (result.unchangedRecords > 0) unchangedRecords[p.name] = result.unchangedRecords;
      if (result.keylessRecords > 0) keylessRecords[p.name] = result.keylessRecords;
      if (result.adoptedRecords > 0) adoptedRecords[p.name] = result.adoptedRecords;
      if (result.adoptionRemovedRecords > 0) adoptionRemovedRecords[p.name] = result.adoptionRemovedRecords;
      if (result.notTakenOverKeyField !== undefined) notTakenOver[p.name] = result.notTakenOverKeyField;
      if (result.alreadyStoredRecords > 0) alreadyStoredRecords[p.name] = result.alreadyStoredRecords;
      if (result.repeatedKeyRecords > 0) repeatedKeyRecords[p.name] = result.repeatedKeyRecords;
      if (result.overflowValues > 0) overflowValues[p.name] = result.overflowValues;
      if (!isEmptyReport(result.schema)) schemaChanges[p.name] = result.schema;
      if (result.contractDiscards) contractDiscards[p.name] = result.contractDiscards;
      const readFrom = result.replacedTables ? refreshReadFrom(p, plan.resources) : undefined;
      if (result.replacedTables) refreshed[p.name] = { replacedTables: result.replacedTables, ...(readFrom !== undefined ? { readFrom } : {}) };
    }
    // Closed here, not in `finally`: whether DuckDB folded the load into the file is part of what the run says. The
    // load is committed either way, so a failure to close is no failure of the run (as in `finally`).
    const { checkpointFailed } = await destination.close().catch(() => ({ checkpointFailed: undefined }));
    options.progress?.(snapshot('done'));
    return new LoadInfo(
      plan.pipelineName,
      plan.destination.dataset,
      plan.destination.path,
      loadId,
      startedAt,
      new Date(),
      rowCounts,
      unchangedRecords,
      [...stats.values()],
      options.limitPages,
      {
        droppedTables: destination.droppedTables, keylessRecords, adoptedRecords, adoptionRemovedRecords, notTakenOver, alreadyStoredRecords, repeatedKeyRecords,
        incremental: committedWindows(plan.resources, storedState, newState), outOfWindow: extractor.outOfWindow, endDayUnchecked: extractor.endDayUnchecked, notFound: extractor.counts.notFoundRecords,
        missingParentValues: extractor.counts.missingParentValues, unfollowedNextLinks: extractor.counts.unfollowedNextLinks, rateLimit: bucket.report,
        retries: retried.report, noContent: extractor.counts.noContentResponses, overflowValues, schemaChanges, contractDiscards,
        ...(options.refresh ? { refreshed } : {}),
        ...(options.limitPages !== undefined ? { sampledCutShort: extractor.counts.sampledCutShort } : {}),
        ...(destination.interruptedRun ? { interruptedRun: destination.interruptedRun } : {}),
        ...(checkpointFailed ? { checkpointFailed } : {}),
      },
    );
  } catch (error) {
    failed = true;
    const failure = signal.aborted && !(error instanceof PipelineError) ? new AbortedError('Run cancelled') : error;
    const mapped = withProxyHint(failure instanceof PipelineError ? failure : describeDestinationError(failure, plan.destination.path), proxy);
    await queue?.drain();
    // Masked like the CLI's last line: a message may quote a credential the loader did not put there (a config step's
    // own error, a path or id it was pasted into), and the file is read, copied and shared long after this run.
    const recorded = redactSecrets(withAbortReason(mapped, signal), Object.values(plan.credentials));
    for (const [name, writer] of writers) {
      await writer.abort().catch(() => undefined);
      // Best effort: a full disk or a lost file may refuse this too, and the original error matters more.
      await destination.recordFailedLoad(loadId, name, recorded, startedAt, options.limitPages).catch(() => undefined);
    }
    throw withCommitted(mapped, committedNames, loadId, destination.interruptedRun);
  } finally {
    await destination.close({ removeCreatedFile: failed && committedNames.length === 0 }).catch(() => undefined);
    await proxy?.dispatcher.close().catch(() => undefined);
  }
}

/**
 * The message `_pipeline_loads.error` keeps: a cancelled run's with why it was cancelled, as the caller said it (the
 * CLI's `Interrupted (SIGTERM)`, an app's `AbortSignal.timeout`). A query over the loads could not tell a scheduler's
 * stop or time limit from a Ctrl-C, though the CLI's own line named the signal. A bare `abort()` says nothing more.
 */
function withAbortReason(error: Error, signal: AbortSignal): string {
  if (!(error instanceof AbortedError) || !signal.aborted) return error.message;
  const reason: unknown = signal.reason;
  const why = reason instanceof Error && reason.name !== 'AbortError' ? reason.message : typeof reason === 'string' ? reason : '';
  const first = why.split('\n')[0]!.trim();
  return first === '' || error.message.includes(first) ? error.message : `${error.message}: ${first}`;
}

async function checkWriter(writer: ResourceWriter, path: string) {
  try {
    await writer.checkBeforeCommit?.();
  } catch (error) {
    throw describeDestinationError(error, path, 'committing');
  }
}

async function commitWriter(writer: ResourceWriter, state: unknown, path: string) {
  try {
    return await writer.commit(state);
  } catch (error) {
    throw describeDestinationError(error, path, 'committing');
  }
}

/** The organisation the run's requests are for, when any sends one (dataset-org.ts). */
function runOrg(plan: Plan, env: Env): { id: string; env: string } | undefined {
  const name = organisationEnv(plan.resources.map((p) => p.resource));
  const id = name === undefined ? undefined : envValue(env, name);
  return name === undefined || id === undefined ? undefined : { id, env: name };
}

function operationResource(plan: Plan, operation: string | undefined): string | undefined {
  if (!operation) return undefined;
  // The client names operations by method and path template, e.g. `GET /api/v2/{orgId}/logs`.
  return plan.resources.find((p) => `${p.resource.method} ${p.resource.path}` === operation || p.resource.operationId === operation)?.name;
}
