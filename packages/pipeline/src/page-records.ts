// What a page holds, read the way the catalog says: its records (`dataSelector`, `addFields`), what the config's
// steps make of them, and the child requests each record drives (`params` from the parent). Pure functions of one
// page; extract.ts does the fetching and the fan-out, with resource-tasks.ts and extract-counts.ts keeping its books.
import { pathValueProblem } from 'snapengage-client';
import type { SourceRecord } from './config.js';
import type { PageWindow } from './cursor.js';
import { eachParams } from './each-params.js';
import { envList, envValue, type Env } from './env.js';
import { ConfigError, ExtractError } from './errors.js';
import { addDays, type ResourcePlan } from './plan.js';
import { checkMappedRecord, onOneLine } from './step-values.js';

/** Values of one request's parameters by name (path and query together, as the catalog names them). */
export type Params = Record<string, string | number | boolean>;

/** One child request sequence a parent record drives; `parentParams` are the parent sequence's request params. */
export interface ChildRequest {
  child: ResourcePlan;
  params: Params;
  parentParams: Params;
  /** Set when the parent record gives no value for this required parameter: no request, only counted. */
  lacking?: { param: string; field: string };
}

/** `pageIndex`: 0 for the first page of a sequence, then one more per next link followed. */
export function selectRecords(plan: ResourcePlan, body: unknown, params: Params, pageIndex = 0): SourceRecord[] {
  const selected = selectPath(body, plan.resource.dataSelector);
  // Not an answer of the API (a proxy or gateway said 200): an empty body or null, or for a records field, a body
  // that is no JSON object, or a page a next link led to without the field (more records were promised). Read as
  // "no records", the windows would advance over days never seen. A first page that is an object without the field
  // is no records (the tolerant reading: whether the API leaves out an empty list is unknown).
  const selector = plan.resource.dataSelector;
  const noPage = selector === ''
    ? body === undefined || body === null
    : selected === undefined && (pageIndex > 0 || body === null || typeof body !== 'object' || Array.isArray(body));
  // A text, number or boolean where records belong (`{"cases": "x"}`, a body `"OK"`) is no record either: loaded as
  // a `{ value }` row, it advanced the windows over the days whose cases the page did not hold.
  const scalar = selected !== undefined && selected !== null && typeof selected !== 'object';
  if (noPage || scalar) {
    const which = pageIndex > 0 ? ` page ${pageIndex + 1} (a next link)` : '';
    const what = scalar && selector !== '' ? `a JSON object whose "${selector}" is a ${typeof selected}` : describeBody(body);
    throw new ExtractError(
      `Extracting ${plan.name} failed: GET ${plan.resource.path}${which} answered with ${what}, not ${selector === '' ? 'a record' : `a page with "${selector}"`}: ` +
        'check SNAPENGAGE_BASE_URL points at the SnapEngage API (not a proxy or gateway page), then run again',
      plan.name,
      'invalid_response',
    );
  }
  const items = Array.isArray(selected) ? selected : selected === undefined || selected === null ? [] : [selected];
  const addFields = Object.entries(plan.resource.addFields);
  return items.map((item) => {
    const record: SourceRecord = item !== null && typeof item === 'object' && !Array.isArray(item) ? (item as SourceRecord) : { value: item };
    for (const [field, source] of addFields) {
      if (source.from === 'param' && params[source.param] !== undefined) record[field] = params[source.param];
    }
    return record;
  });
}

/** The child requests one parent record drives: one per child resource whose parent fields are present. */
export function childRequests(children: readonly ResourcePlan[], record: SourceRecord, parentParams: Params, env: Env): ChildRequest[] {
  const requests: ChildRequest[] = [];
  for (const child of children) {
    const params: Params = {};
    let lacking: { param: string; field: string } | undefined;
    for (const [name, source] of Object.entries(child.resource.params)) {
      if (source.from === 'env') {
        const value = envValue(env, source.env);
        if (value !== undefined) params[name] = value;
      } else if (source.from === 'parent') {
        const value = source.field !== undefined ? selectPath(record, source.field) : source.param !== undefined ? parentParams[source.param] : undefined;
        // An empty text is no value: in a path it would name another endpoint (`/chat/poll/`), as `.` and `..` would
        // (the client refuses all three rather than send them, by the same rule).
        const text = typeof value === 'string' && value !== '' && !(source.in === 'path' && pathValueProblem(value) !== undefined);
        if (text || typeof value === 'number' || typeof value === 'boolean') params[name] = value;
        // An integer beyond 2^53 (the client reads it as a BigInt) as its digits: dropped, it read as a missing id.
        else if (typeof value === 'bigint') params[name] = value.toString();
        else if (source.required) lacking ??= { param: name, field: `${source.resource}.${source.field ?? source.param}` };
      }
    }
    requests.push({ child, params, parentParams, ...(lacking ? { lacking } : {}) });
  }
  return requests;
}

/** What a response body was, for an error line (never its content: it may be anything). */
function describeBody(body: unknown): string {
  if (body === undefined) return 'an empty body';
  if (body === null) return 'null';
  if (Array.isArray(body)) return 'a JSON array';
  return typeof body === 'object' ? 'a JSON object without that field' : `a JSON ${typeof body}`;
}

/** Whether a page links a next one (the client's reading: a non-empty string at the paginator's field). */
export function linksNextPage(body: unknown, nextUrlPath: string): boolean {
  const link = selectPath(body, nextUrlPath);
  return typeof link === 'string' && link !== '';
}

/**
 * Whether the client's page iterator ends after this page (pagination.ts): a resource read as single pages, or no next
 * link at all. A link that is no string is not the end: the iterator's next step fails on it.
 */
export function lastPage(body: unknown, nextUrlPath: string | null): boolean {
  const link = nextUrlPath === null ? undefined : selectPath(body, nextUrlPath);
  return link === undefined || link === null || link === '';
}

/** Dot path into a JSON value; "" is the value itself. */
export function selectPath(value: unknown, path: string): unknown {
  if (path === '' || path === '$') return value;
  let current = value;
  for (const key of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

/** A key field that is an id (`id`, `caseId`, `uuid`), not a value such as users' `email`: messages name ids only (PRIVACY.md). */
const ID_FIELD = /^(id|uuid)$|(Id|_id)$/;

/**
 * ` (on the logs record id "…")`: the record a step threw on, by the catalog's key as the API sent it (a map step may
 * have changed it); '' when a key field is not an id or has no scalar value.
 */
function recordNamed(plan: ResourcePlan, record: SourceRecord): string {
  const key = plan.resource.primaryKey;
  const values = key.map((field) => record[field]);
  if (key.length === 0 || !key.every((field) => ID_FIELD.test(field)) || !values.every((v) => typeof v === 'string' || typeof v === 'number')) return '';
  return ` (on the ${plan.name} record ${key.map((field, i) => `${field} ${JSON.stringify(values[i])}`).join(', ')})`;
}

/** Every object a map step of the resource returned in this run, so one returned twice is caught (see applySteps). */
const returnedByMap = new WeakMap<ResourcePlan, WeakSet<object>>();

/** Runs the resource's steps over one page: the positions of the records that pass every filter, and what the steps made of them. */
export function applySteps(plan: ResourcePlan, records: SourceRecord[]): { kept: number[]; results: SourceRecord[] } {
  if (plan.steps.length === 0) return { kept: records.map((_, index) => index), results: records };
  const lastMap = plan.steps.findLastIndex((step) => 'map' in step);
  let returned = lastMap < 0 ? undefined : returnedByMap.get(plan);
  if (lastMap >= 0 && !returned) returnedByMap.set(plan, (returned = new WeakSet()));
  const kept: number[] = [];
  const results: SourceRecord[] = [];
  for (const [position, record] of records.entries()) {
    let current: unknown = record;
    for (const [index, step] of plan.steps.entries()) {
      const field = () => `resources.${plan.name}.steps[${index}]`;
      let passed: unknown = true;
      try {
        if ('filter' in step) passed = step.filter(current as never);
        else current = step.map(current as never);
      } catch (error) {
        // A step may throw anything (null, a string): its message if it has one, else the thing itself.
        const message = error instanceof Error ? error.message : String(error);
        throw new ConfigError(`${field()} threw: ${onOneLine(message)}${recordNamed(plan, record)}`);
      }
      // An async step's Promise was a truthy verdict (every record kept) or an object without fields (every record
      // stored as one empty row): neither is what it meant.
      if (isThenable(passed) || isThenable(current)) {
        throw new ConfigError(`${field()} (${'filter' in step ? 'filter' : 'map'}) returned a Promise: steps run synchronously, so an async step is not supported; fetch what it needs before the run`);
      }
      // A filter without its `return` (tsx runs the config without type checks) dropped every record, and the
      // windows advanced past them for good. Any other value is read as JavaScript reads it (null, '' and 0 drop).
      if (passed === undefined) {
        // An optional chain (`record.tags?.includes('vip')`) gives undefined for a record without the field: typed
        // configs are told by `boolean`, but tsx does not check, so the fix for that case is named as well.
        throw new ConfigError(
          `${field()} (filter) returned undefined: return true to keep the record, false to drop it (is a \`return\` missing? ` +
            "an optional chain such as record.tags?.includes('vip') is undefined for a record without the field: end it with ?? false)",
        );
      }
      if (!passed) {
        current = undefined;
        break;
      }
      if (current === null || typeof current !== 'object' || Array.isArray(current)) {
        const got = current === null ? 'null' : Array.isArray(current) ? 'an array' : typeof current;
        throw new ConfigError(`${field()} (map) returned ${got}: a map step must return the record as an object`);
      }
      if (index === lastMap) {
        // The records are normalized later (after the page, behind a write queue): one object returned for two
        // records, filled anew each time, would be stored as the last one's content, twice.
        if (returned!.has(current)) {
          throw new ConfigError(`${field()} (map) returned the same object for two records: return a new object for each ({ ...record, field: value })`);
        }
        returned!.add(current);
        current = checkMappedRecord(current as SourceRecord, `${field()} (map)`);
      }
    }
    if (current === undefined) continue;
    kept.push(position);
    results.push(current as SourceRecord);
  }
  return { kept, results };
}

function isThenable(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** The fan-out key of a request: values of its `each` params, so state is kept per widget. */
export function partitionKey(plan: ResourcePlan, params: Params): string {
  const parts = eachParams(plan.resource).map((param) => String(params[param.name] ?? ''));
  return parts.length === 0 ? '*' : parts.join('|');
}

/** Parameter sets of a top-level resource: the product of its `each` env lists (one set when there is none). */
export function fanOutParams(plan: ResourcePlan, env: Env): Params[] {
  let sets: Params[] = [{}];
  for (const [name, source] of Object.entries(plan.resource.params)) {
    if (source.from !== 'env') continue;
    if (source.each) {
      const values = envList(env, source.env);
      if (values.length === 0) {
        if (source.required) throw new ConfigError(`Missing environment variable ${source.env} (needed by ${plan.name})`);
        continue;
      }
      sets = sets.flatMap((set) => values.map((value) => ({ ...set, [name]: value })));
    } else {
      const value = envValue(env, source.env);
      if (value === undefined) {
        if (source.required) throw new ConfigError(`Missing environment variable ${source.env} (needed by ${plan.name})`);
        continue;
      }
      sets = sets.map((set) => ({ ...set, [name]: value }));
    }
  }
  return sets;
}

/** `params` with the resource's date-window parameters set to `start`..`end` (one day more with endDay 'exclusive'). */
export function windowParams(plan: ResourcePlan, params: Params, start: string, end: string): Params {
  const windowed: Params = { ...params };
  for (const [name, source] of Object.entries(plan.resource.params)) {
    // endDay 'exclusive': the API stops at the first instant of `end`, so the last day wanted is the one before.
    if (source.from === 'incremental') windowed[name] = source.bound === 'start' ? start : plan.incremental?.endDay === 'exclusive' ? addDays(end, 1) : end;
  }
  return windowed;
}

/**
 * Which widget and which days a request of an incremental resource asked for: its date-window parameters read back
 * as sent (windowParams sets them), for the cursor watch (cursor.ts) and the end-day check (end-day-check.ts).
 */
export function pageWindow(plan: ResourcePlan, params: Params): PageWindow {
  const bound = (which: 'start' | 'end') => {
    const name = Object.entries(plan.resource.params).find(([, source]) => source.from === 'incremental' && source.bound === which)?.[0];
    const value = name === undefined ? undefined : params[name];
    return typeof value === 'string' ? value : undefined;
  };
  return { resource: plan.name, cursorField: plan.resource.incremental!.cursorField, partition: partitionKey(plan, params), start: bound('start'), end: bound('end') };
}

/** The request's parameters, split into path and query as the resource declares them. */
export function requestParams(plan: ResourcePlan, params: Params): { path: Params; query: Params } {
  const request = { path: {} as Params, query: {} as Params };
  for (const [name, source] of Object.entries(plan.resource.params)) {
    const value = params[name];
    if (value === undefined) continue;
    (source.in === 'path' ? request.path : request.query)[name] = value;
  }
  return request;
}
