// The result of a run, printed like dlt's load info so the seed page's output reads the same here.
import { isAbsolute, relative } from 'node:path';
import { describeWindows, listItemNoun, type OutOfWindow } from './cursor.js';
import type { DroppedTables } from './run-records.js';
import type { InterruptedRun } from './errors.js';
import type { RetryReport } from './extract-counts.js';
import type { RateLimitReport } from './limits.js';
import type { WindowState } from './windows.js';
import { MAX_RESOURCE_COLUMNS, MAX_TABLE_COLUMNS } from './normalize/table-tree.js';
import type { SchemaReport } from './normalize/schema-report.js';
import { describeContractDiscards, type ContractDiscards } from './normalize/contract.js';
import { describeSchemaChanges, listedSchemaChanges } from './schema-notes.js';
import { padEndWidth, widthOf } from './text-width.js';

export interface ResourceStats {
  name: string;
  /** false when the resource was extracted only to drive its children. */
  loaded: boolean;
  requests: number;
  pages: number;
  records: number;
}

/** What else a run found worth saying. */
export interface LoadNotes {
  /** Loader tables or columns found dropped from the dataset before this run, and what was done (DroppedTables). */
  droppedTables?: readonly DroppedTables[];
  /**
   * With `refresh` (`--refresh`): per resource committed, the stored tables its commit dropped and replaced, with its
   * state (empty: nothing of it was stored, or its tables were dropped or renamed before the run: `droppedTables`),
   * and `readFrom`, the first day it read when a date window reads it: the start date, or the first day stored
   * windows say was loaded when that is earlier.
   */
  refreshed?: Readonly<Record<string, { replacedTables: readonly string[]; readFrom?: string }>>;
  /** Merged records per resource without a primary-key value, so matched by content (see NORMALIZATION.md). */
  keylessRecords?: Readonly<Record<string, number>>;
  /** Records loaded before by append or replace (or merged on another key) that a merge took over. */
  adoptedRecords?: Readonly<Record<string, number>>;
  /**
   * Stored records such a takeover removed, with their child rows, because a newer row had the same key: copies after
   * appends, or different records when the primary key was changed to a field that is not unique.
   */
  adoptionRemovedRecords?: Readonly<Record<string, number>>;
  /**
   * Resources whose earlier append/replace rows a merge could not take over, with the primary-key field that held
   * objects (a takeover cannot rebuild them from their columns; see NORMALIZATION.md).
   */
  notTakenOver?: Readonly<Record<string, string>>;
  /**
   * Per child resource whose spec says `notFound: skip`: parent records its API answered 404 for (no record loaded
   * for them), of the parent records it was asked for.
   */
  notFound?: Readonly<Record<string, { notFound: number; requested: number }>>;
  /**
   * Per child resource: parent records it sent no request for, because the parent field a required parameter comes
   * from was missing or not a value (e.g. the spec takes `caseId` from a field the API leaves out), of those it was
   * driven by; `param` and `field` name the first such parameter.
   */
  missingParentValues?: Readonly<Record<string, { records: number; of: number; param: string; field: string }>>;
  /**
   * Per resource the spec reads as a single page (`paginator: { type: single_page }`): responses that linked a next
   * page all the same, which was not read. Its records are loaded, but not all of them.
   */
  unfollowedNextLinks?: Readonly<Record<string, number>>;
  /** With --limit-pages: per resource, request sequences stopped while the API linked more pages. */
  sampledCutShort?: Readonly<Record<string, number>>;
  /** Per resource: requests the API answered 204 No Content, read as no records. */
  noContent?: Readonly<Record<string, number>>;
  /** The API's 429 answers and how far they slowed the run's requests (limits.ts). */
  rateLimit?: Readonly<RateLimitReport>;
  /** The client's retries other than 429s (a server error, a dropped connection, a timeout): the API was flaky. */
  retries?: Readonly<RetryReport>;
  /**
   * Per resource: values kept in an `_overflow` JSON column because their table (or the resource) had no room for
   * another column (MAX_TABLE_COLUMNS, MAX_RESOURCE_COLUMNS; see NORMALIZATION.md "Wide records").
   */
  overflowValues?: Readonly<Record<string, number>>;
  /**
   * Per resource: columns and child tables this load added for fields the spec does not declare, new variant columns,
   * and stored columns the spec now declares with another type (normalize/schema-report.ts).
   */
  schemaChanges?: Readonly<Record<string, SchemaReport>>;
  /**
   * Per resource whose `schemaContract` left something out (discard_row, discard_value): records and values, and per
   * table and field how many and why (normalize/contract.ts; at most 50 fields, the rest as `(other fields)`).
   */
  contractDiscards?: Readonly<Record<string, ContractDiscards>>;
  /**
   * Only when there was one: the run before this one on the file, which ended without finishing (killed: a kernel's
   * out-of-memory kill leaves no line of its own; crashed; the machine stopped). Its uncommitted work was not kept.
   */
  interruptedRun?: InterruptedRun;
  /**
   * Only when it happened: DuckDB could not fold the run's WAL into the file as the run closed it (a full disk). The
   * load is committed all the same: it waits in `wal` (`<file>.wal`), which DuckDB folds in when it next opens the
   * file. `message` is the one line the CLI prints after `snapengage-pipeline: warning: ` on stderr (not in toString()).
   */
  checkpointFailed?: { wal: string; message: string };
  /** Records an append of a date window read again (lookback) and left out, their primary key being stored already. */
  alreadyStoredRecords?: Readonly<Record<string, number>>;
  /**
   * Records left out because another record of the run had their primary key (merge: the last kept; append: the
   * first): the API answering a record twice, or a primaryKey override that is not unique, whose records are lost.
   */
  repeatedKeyRecords?: Readonly<Record<string, number>>;
  /**
   * The windows this run advanced, per incremental resource and widget, as committed: `lastEnd` and, when a record
   * had a usable one, the newest `cursorField` value over all runs (`lastValue`, `lastValueAt`). Empty after a
   * `--limit-pages` sample.
   */
  incremental?: Readonly<Record<string, WindowState['windows']>> | undefined;
  /**
   * Incremental resources whose first load gave no record the end-day check could ask for (created before 10:00 UTC),
   * so whether the API returns the `end` day went unchecked (INCREMENTAL.md, "End day").
   */
  endDayUnchecked?: readonly string[];
  /** Records whose cursor value lay more than a day outside the window requested: the API may ignore the dates. */
  outOfWindow?: OutOfWindow | undefined;
}

export class LoadInfo {
  readonly destinationType = 'duckdb';

  constructor(
    readonly pipelineName: string,
    readonly datasetName: string,
    /** DuckDB file as configured (relative paths are relative to the working directory). */
    readonly destinationPath: string,
    readonly loadId: string,
    readonly startedAt: Date,
    readonly finishedAt: Date,
    /** Rows written per table (root, child and flattened tables) by this run. */
    readonly rowCounts: Readonly<Record<string, number>>,
    /** Merged records per resource that were already stored exactly as fetched again, so nothing was written. */
    readonly unchangedRecords: Readonly<Record<string, number>>,
    readonly resources: readonly ResourceStats[],
    /** Set when `--limit-pages` sampled the source; incremental state was then left as it was. */
    readonly limitPages?: number,
    readonly notes: LoadNotes = {},
  ) {}

  get durationMs(): number {
    return this.finishedAt.getTime() - this.startedAt.getTime();
  }

  /** Always true when a LoadInfo exists: a failed run throws instead. */
  get hasFailedJobs(): boolean {
    return false;
  }

  /**
   * `duckdb:/snapengage.duckdb` for a path inside the working directory, as the seed page prints it; dlt's form for
   * any other (`duckdb:////abs/path.duckdb`, `duckdb:///C:\\x.duckdb`), which `--duckdb` reads back as the same path.
   */
  get location(): string {
    const path = this.destinationPath;
    const inside = isAbsolute(path) ? relativeInside(path) : path;
    return inside === undefined ? `duckdb:///${path}` : `duckdb:/${inside}`;
  }

  toString(): string {
    const seconds = (this.durationMs / 1000).toFixed(2);
    const lines = [
      `Pipeline ${this.pipelineName} load step completed in ${seconds} seconds`,
      `1 load package(s) were loaded to destination ${this.destinationType} and into dataset ${this.datasetName}`,
      `The ${this.destinationType} destination used ${this.location} location to store data`,
      `Load package ${this.loadId} is LOADED and contains no failed jobs`,
    ];
    const dead = this.notes.interruptedRun;
    if (dead) lines.push(interruptedRunNote(dead, Object.keys(this.notes.refreshed ?? {})));
    // Plain string order: localeCompare follows the machine's locale (a Czech one sorts `ch` after `h`).
    const tables = Object.entries(this.rowCounts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    if (tables.length > 0) {
      lines.push('', 'Rows loaded:');
      // Table names keep the letters of their keys (NORMALIZATION.md): a CJK one is twice as wide as it is long.
      const width = Math.max(...tables.map(([name]) => widthOf(name)));
      for (const [name, count] of tables) lines.push(`  ${padEndWidth(name, width)}  ${count}`);
    }
    const unchanged = Object.entries(this.unchangedRecords).filter(([, n]) => n > 0);
    if (unchanged.length > 0) {
      const list = unchanged.map(([name, n]) => `${name} ${n}`).join(', ');
      lines.push(`Unchanged records, already stored as fetched (not rewritten): ${list}`);
    }
    const already = Object.entries(this.notes.alreadyStoredRecords ?? {}).filter(([, n]) => n > 0);
    if (already.length > 0) {
      const list = already.map(([name, n]) => `${name} ${n}`).join(', ');
      lines.push(`Read again, primary key already stored (not appended again): ${list}`);
    }
    // Said, as a key that is not unique keeps one record of each key value and nothing else would tell.
    for (const [name, n] of Object.entries(this.notes.repeatedKeyRecords ?? {})) {
      if (n <= 0) continue;
      lines.push(
        `Primary key read more than once in this run, one record kept per key: ${name} ${n} ` +
          `(if they are different records, resources.${name}.primaryKey is not unique: the others were not loaded)`,
      );
    }
    const notFound = Object.entries(this.notes.notFound ?? {}).filter(([, n]) => n.notFound > 0);
    if (notFound.length > 0) {
      const list = notFound.map(([name, n]) => `${name} ${n.notFound} of ${n.requested}`).join(', ');
      // Every one of them: rather the API not serving these records at all (or another account's key) than gaps. The
      // windows still advance (an endpoint that serves none would otherwise re-poll the whole history on every run),
      // so the line says how to have them asked again.
      const all = notFound.filter(([, n]) => n.notFound >= n.requested).map(([name]) => name);
      const hint = all.length > 0
        ? ` (every one for ${all.join(', ')}: check that its API serves these records, and its credential's account; `
          + `once fixed, reload it to poll the whole history again: --refresh --resources ${all.join(',')})`
        : '';
      lines.push(`Not found (404), no record loaded for these parent records: ${list}${hint}`);
    }
    const noContent = Object.entries(this.notes.noContent ?? {}).filter(([, n]) => n > 0);
    if (noContent.length > 0) {
      lines.push(`No content (HTTP 204), read as no records: ${noContent.map(([name, n]) => `${name} ${n} request${n === 1 ? '' : 's'}`).join(', ')}`);
    }
    const missing = Object.entries(this.notes.missingParentValues ?? {}).filter(([, m]) => m.records > 0);
    if (missing.length > 0) {
      const list = missing.map(([name, m]) => `${name} ${m.records} of ${m.of} (${m.param} from ${m.field})`).join(', ');
      lines.push(`No request for these parent records, a parameter's field missing or not a value: ${list}`);
    }
    const limited = this.notes.rateLimit;
    if (limited && limited.throttled > 0) {
      const from = limited.configured > 0 ? `from ${limited.configured} ` : '';
      const rate = Number(limited.lowest.toPrecision(2));
      const answered = `Rate limited: the API answered 429 ${limited.throttled} time${limited.throttled === 1 ? '' : 's'}`;
      // A 429 now and then is retried without cutting the rate (see TokenBucket): saying it "slowed down to" the
      // configured rate sent users looking for a slowdown that never happened.
      if (limited.configured > 0 && limited.lowest >= limited.configured) {
        lines.push(`${answered}, each retried; too few to lower the rate, which stayed at ${limited.configured}/s`);
      } else {
        lines.push(`${answered}; requests slowed ${from}down to ${rate}/s at the lowest`);
      }
    }
    for (const name of this.notes.endDayUnchecked ?? []) {
      lines.push(
        `Not checked: whether the API returns the end day of ${name}'s date windows (no record of its first load was created before 10:00 UTC, ` +
          `which the check asks for again); if some days' records are missing, see "End day" in the pipeline's INCREMENTAL.md`,
      );
    }
    const retries = this.notes.retries;
    if (retries && retries.requests > 0) {
      // Most common first: what the API mostly did is what to look into.
      // Plain ASCII, as the rest of the load info: cron mails it under LANG=C.
      const reasons = Object.entries(retries.reasons).sort(([, a], [, b]) => b - a).map(([reason, n]) => `${n} ${reason}`);
      const total = Object.values(retries.reasons).reduce((sum, n) => sum + n, 0);
      lines.push(
        `Retried after transient failures: ${retries.requests} request${retries.requests === 1 ? '' : 's'}, ${total} ${total === 1 ? 'retry' : 'retries'} ` +
          `(${reasons.join(', ')}); --verbose logs each`,
      );
    }
    const unfollowed = Object.entries(this.notes.unfollowedNextLinks ?? {}).filter(([, n]) => n > 0);
    if (unfollowed.length > 0) {
      const list = unfollowed.map(([name, n]) => `${name} (${n} response${n === 1 ? '' : 's'})`).join(', ');
      lines.push(
        `Only the first page read, the API linked more: ${list}. The spec reads ${unfollowed.length === 1 ? 'it' : 'them'} as a single page; `
        + 'set its x-snapengage-resource paginator to { type: next_url, nextUrlPath: <the link field> } and run npm run generate',
      );
    }
    const overflow = Object.entries(this.notes.overflowValues ?? {}).filter(([, n]) => n > 0);
    if (overflow.length > 0) {
      const list = overflow.map(([name, n]) => `${name} ${n}`).join(', ');
      lines.push(
        `Kept as JSON in _overflow columns, their tables having no room for more columns: ${list} values ` +
          `(a table takes up to ${MAX_TABLE_COLUMNS} columns, a resource ${MAX_RESOURCE_COLUMNS}; see "Wide records" in the pipeline's NORMALIZATION.md)`,
      );
    }
    lines.push(...describeSchemaChanges(this.datasetName, this.notes.schemaChanges ?? {}));
    lines.push(...describeContractDiscards(this.notes.contractDiscards ?? {}));
    const extractedOnly = this.resources.filter((r) => !r.loaded).map((r) => r.name);
    if (extractedOnly.length > 0) lines.push(`Extracted to drive child resources, not loaded: ${extractedOnly.join(', ')}`);
    const keyless = Object.entries(this.notes.keylessRecords ?? {}).filter(([, n]) => n > 0);
    if (keyless.length > 0) {
      const list = keyless.map(([name, n]) => `${name} ${n}`).join(', ');
      lines.push(`Merged by content, no primary-key value: ${list} (check resources.<name>.primaryKey if every record should have one)`);
    }
    const adopted = Object.entries(this.notes.adoptedRecords ?? {}).filter(([, n]) => n > 0);
    if (adopted.length > 0) {
      const list = adopted.map(([name, n]) => `${name} ${n}`).join(', ');
      lines.push(`Taken over by merge from earlier append/replace loads, or a merge on another primary key (one row per key, the newest): ${list}`);
    }
    // Said apart: after a primary key changed to a field that is not unique, these are records lost, not copies.
    for (const [name, n] of Object.entries(this.notes.adoptionRemovedRecords ?? {})) {
      if (n <= 0) continue;
      lines.push(
        `Warning: taking over ${name}'s earlier rows removed ${n} stored ${n === 1 ? 'record' : 'records'} (with their child rows) whose primary key a newer row has too: ` +
          `copies if ${name} was appended before; if it was merged on another key, they were different records, so check resources.${name}.primaryKey ` +
          `(to get them back, reload ${name} with the key that tells them apart: --refresh --resources ${name})`,
      );
    }
    for (const [name, field] of Object.entries(this.notes.notTakenOver ?? {})) {
      lines.push(`Not taken over by merge: the rows of earlier append/replace loads of ${name} stay beside the merged ones, since its primary-key field ${field} holds objects. Merge on a field with scalar values, or reload it: --refresh --resources ${name}`);
    }
    for (const [name, refreshed] of Object.entries(this.notes.refreshed ?? {})) {
      lines.push(describeRefresh(name, refreshed, this.notes.droppedTables?.find((d) => d.resource === name)));
    }
    for (const d of this.notes.droppedTables ?? []) {
      // A refreshed resource's line says it: the repair below was for a plain run, which the refresh did not do.
      if (this.notes.refreshed?.[d.resource] !== undefined) continue;
      const what = [...d.tables, ...d.columns].join(', ');
      if (d.action === 'reload') lines.push(`Dropped since the last run: ${what}. The state of ${d.resource} was reset: its next load starts over and re-creates them`);
      else if (d.action === 'recreate') lines.push(`Dropped since the last run: ${what}. Re-created as ${d.resource} loads from now on (to reload all of ${d.resource}, drop all its tables)`);
      else lines.push(`Dropped since the last run: ${what}, but ${d.remaining.join(', ')} below it remain: ${d.resource} will not load until they are dropped too (or ${d.under} is restored)`);
    }
    const windows = Object.entries(this.notes.incremental ?? {}).flatMap(([name, byKey]) => describeWindows(name, byKey, listItemNoun(name)));
    if (windows.length > 0) lines.push('', 'Incremental state:', ...windows);
    const stray = this.notes.outOfWindow;
    if (stray) {
      const records = stray.records === 1 ? '1 record' : `${stray.records} records`;
      lines.push(
        `Warning: ${records} of ${stray.resource} came back with ${stray.cursorField} more than a day outside the requested window (first: ${stray.at}, ${stray.partition}, requested ${stray.start}..${stray.end}): ` +
          'the API may have ignored the date parameters, so the incremental windows may not say what was loaded',
      );
    }
    if (this.limitPages !== undefined) {
      const cut = Object.entries(this.notes.sampledCutShort ?? {}).filter(([, n]) => n > 0);
      if (cut.length === 0) {
        lines.push(`Sampled with --limit-pages ${this.limitPages}: every request sequence ended within it; incremental state was not advanced (a run without --limit-pages records it)`);
      } else {
        const where = cut.map(([name, n]) => `${name} stopped early in ${n} request sequence${n === 1 ? '' : 's'}`).join(', ');
        lines.push(`Sampled with --limit-pages ${this.limitPages}: ${where} (the API linked more pages); incremental state was not advanced: run without --limit-pages to load the rest`);
      }
    }
    return lines.join('\n');
  }

  toJSON() {
    return {
      pipelineName: this.pipelineName,
      destination: this.destinationType,
      dataset: this.datasetName,
      location: this.location,
      loadId: this.loadId,
      status: 'LOADED' as const,
      startedAt: this.startedAt.toISOString(),
      finishedAt: this.finishedAt.toISOString(),
      durationMs: this.durationMs,
      rowCounts: this.rowCounts,
      unchangedRecords: this.unchangedRecords,
      resources: this.resources,
      limitPages: this.limitPages,
      ...this.notes,
      // Cut as the text is: uncut, one line of `--json` could carry 1,500 columns per resource (`notes` keeps them all).
      ...(this.notes.schemaChanges ? { schemaChanges: listedSchemaChanges(this.notes.schemaChanges) } : {}),
    };
  }
}

function relativeInside(path: string): string | undefined {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : undefined;
}

/**
 * What a refresh did for one resource. Tables the user dropped or renamed away since the last run were forgotten when
 * the run began (forgetDroppedTables), so the refresh found less (or nothing) to replace: said so, rather than "never
 * stored" or the plain run's "its next load starts over".
 */
function describeRefresh(name: string, { replacedTables, readFrom }: { replacedTables: readonly string[]; readFrom?: string }, dropped: DroppedTables | undefined): string {
  const loaded = `Refreshed ${name}: loaded ${readFrom !== undefined ? `from ${readFrom} ` : ''}as if never loaded`;
  const gone = dropped && `${[...dropped.tables, ...dropped.columns].join(', ')} had been dropped or renamed since the last run`;
  const renamed = dropped && dropped.tables.length > 0 ? " (a table renamed away is left as it is, no longer the loader's)" : '';
  if (replacedTables.length > 0) {
    return `${loaded}, replacing its tables ${replacedTables.join(', ')}${readFrom !== undefined ? ' and its incremental state' : ''}${gone ? `; ${gone}${renamed}` : ''}`;
  }
  if (gone) return `${loaded}; ${gone}, so there was nothing left to replace${renamed}`;
  return `Refreshed ${name}: nothing of it was stored before, so this was its first load`;
}

/**
 * What a run says of the unfinished run before it (notes.interruptedRun), loaded or failed itself. `refreshedNow`: the
 * resources this run refreshed (committed with --refresh); those of a killed refresh not among them are named.
 */
export function interruptedRunNote(dead: InterruptedRun, refreshedNow: readonly string[]): string {
  const unfinished = (dead.refresh ?? []).filter((name) => !refreshedNow.includes(name));
  // Nothing else ever says so: a SIGKILL (exit 137, `Killed`, often a container's memory limit) leaves no line.
  return (
    `The previous run on this file did not finish (PID ${dead.pid} on ${dead.host}, started ${dead.startedAt}): it was killed or crashed ` +
    '(exit 137 is a SIGKILL, such as a container memory limit\'s); what it had not committed was not kept, and is read again by the next run of each resource' +
    // A plain run loads into the old tables: the refresh the user asked for would silently not happen.
    (unfinished.length > 0 ? `; it was a refresh of ${unfinished.join(', ')}, which this run does not finish: run with --refresh --resources ${unfinished.join(',')} (runPipeline's refresh: true)` : '')
  );
}
