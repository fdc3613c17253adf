// Catalog-driven extraction. Nothing here knows a resource by name: request parameters come from each resource's
// `params` sources (env, with `each` fanning out over a comma list; constant; incremental window bound; parent record
// field or parent request param), pages from `paginator`, records from `dataSelector`, extra columns from `addFields`,
// and child resources are fanned out per parent record as `parent` says.
import { setMaxListeners } from 'node:events';
import type { SourceRecord } from './config.js';
import { CursorWatch, type OutOfWindow } from './cursor.js';
import { checkEndDay, owesEndDayCheck, witnessOf } from './end-day-check.js';
import type { Env } from './env.js';
import { ExtractCounts, increment } from './extract-counts.js';
import { describeExtractError, isClientError, PipelineError, type WidgetContext } from './errors.js';
import { WidgetFailures } from './widget-failures.js';
import { todayUtc, type ResourcePlan } from './plan.js';
import { eachParams } from './each-params.js';
import { Semaphore } from './limits.js';
import { ResourceTasks } from './resource-tasks.js';
import { followSignal } from './shared-signal.js';
import { applySteps, childRequests, fanOutParams, lastPage, linksNextPage, pageWindow, partitionKey, requestParams, selectRecords, windowParams, type ChildRequest, type Params } from './page-records.js';
import type { ResumeState } from './resume.js';
import { consumerRanges, dayCount, probePieces, resumeDay, sliceWindow, storedWindows, windowParts, type PartsOf, type SampledDays, type Slice, type WindowState } from './windows.js';

/** The slice of the typed client the extractor uses. */
export interface PageSource {
  iteratePages(
    path: string,
    init: { params: { path: Params; query: Params }; signal?: AbortSignal },
    pagination: { nextUrlPath: string | null; maxPages?: number },
  ): AsyncIterable<{ data: unknown; pageIndex: number; unfollowedNextLink?: boolean }>;
}

export interface ExtractOptions {
  client: PageSource;
  env: Env;
  /** Resources to extract, parents before children. */
  plans: ResourcePlan[];
  /** State committed by the previous run, per resource name. */
  previousState: Map<string, unknown>;
  concurrency: number;
  /** Pages per request sequence (per widget, per parent record); incremental state is not advanced. */
  limitPages?: number;
  signal: AbortSignal;
  /** The run's credential values (Plan.credentials), masked wherever a message quotes an env value. */
  secrets: readonly string[];
  /** Receives each page's records of a loaded resource; awaited, so a slow destination slows fetching down. */
  sink(plan: ResourcePlan, records: SourceRecord[]): Promise<void>;
  onPage?(resource: string, records: number): void;
  /** The run's clock, read once (run.ts): every widget's window ends on the same day, the one the run planned with. */
  now: Date;
}

export class Extractor {
  private readonly semaphore: Semaphore;
  /** Window slices paging at once: each holds up to two pages (one being written, one prefetched), so this bounds memory. */
  private readonly slices: Semaphore;
  private readonly controller = new AbortController();
  private readonly tasks = new ResourceTasks((error, resourceName) => this.fail(error, resourceName));
  private firstError: PipelineError | undefined;
  private readonly newState = new Map<string, WindowState>();
  /** With `limitPages`: per incremental resource and widget, the first day the sample read (windows.ts, SampledDays). */
  readonly sampled = new Map<string, SampledDays>();
  private readonly cursors: CursorWatch;
  /** What the load info reports of this extraction (extract-counts.ts). */
  readonly counts = new ExtractCounts();
  /** The widgets that got a page, and those unknown to the API while others were answered (widget-failures.ts). */
  private readonly widgets: WidgetFailures;
  /** Per incremental resource: the run's check that the API returns the `end` day (end-day-check.ts), once begun. */
  private readonly endDayChecks = new Map<string, Promise<void>>();
  /** Per incremental resource: its stored windows, checked (storedWindowsOf). */
  private readonly checkedWindows = new Map<string, WindowState['windows']>();
  /** Resources a first load gave records to, none fit for the end-day check (so far). */
  private readonly endDayUncheckedFor = new Set<string>();

  constructor(private readonly options: ExtractOptions) {
    this.semaphore = new Semaphore(options.concurrency);
    this.slices = new Semaphore(options.concurrency);
    this.cursors = new CursorWatch(options.now.getTime());
    this.widgets = new WidgetFailures(options.env, options.secrets);
    // One listener per live request sequence (fetchPages): bounded by the concurrency and the pending children, and
    // above Node's default warning threshold of 10 on any fan-out.
    setMaxListeners(0, this.controller.signal);
  }

  /**
   * Incremental resources whose first load (of some widget) gave records but none the end-day check could ask for
   * (end-day-check.ts, witnessOf): the load info says the API's reading of `end` went unchecked.
   */
  get endDayUnchecked(): string[] {
    return [...this.endDayUncheckedFor].filter((name) => !this.endDayChecks.has(name));
  }

  /** Extracts everything; resolves with the new incremental state of each incremental resource. */
  async run(): Promise<Map<string, WindowState>> {
    // The caller's signal may outlive the run (a service's shutdown signal): a listener left on it would hold this
    // extractor and, through its sink, the run's writers, one more per run (Node warns after 10).
    const unfollow = follow(this.options.signal, this.controller);
    try {
      for (const plan of this.options.plans.filter((p) => p.resource.parent === null)) {
        const sets = fanOutParams(plan, this.options.env);
        // A short window (a daily rerun's lookback) is cut finer when there are fewer widgets than request slots, so
        // a busy widget's days page side by side instead of in one chain.
        const minSlices = Math.ceil(this.options.concurrency / Math.max(1, sets.length));
        const items = this.counts.listed(plan.name, sets.length, eachParams(plan.resource).length > 0);
        for (const params of sets) this.tasks.spawn(plan, () => this.extractSequence(plan, params, undefined, minSlices).then(() => { if (items) items.done++; }));
      }
      await this.tasks.settle();
      await Promise.all(this.endDayChecks.values());
    } finally {
      unfollow();
    }
    if (this.firstError) throw this.firstError;
    const unknownWidgets = this.widgets.error();
    if (unknownWidgets) throw unknownWidgets;
    return this.newState;
  }

  /** Records of incremental resources whose cursor value lay more than a day outside their requested window. */
  get outOfWindow(): OutOfWindow | undefined {
    return this.cursors.outOfWindow;
  }

  /**
   * The run's first failure stops every other request sequence at once (the run fails anyway); but a widget of the
   * list unknown to the API while others were answered is only recorded, so that the run, failing at its end as
   * before, names every such widget at once (widget-failures.ts).
   */
  private fail(error: unknown, resourceName: string, widget?: WidgetContext): void {
    if (this.firstError || this.widgets.record(error, resourceName, widget)) return;
    this.firstError = describeExtractError(error, resourceName, widget);
    this.controller.abort(this.firstError);
  }

  /** Which widget of its list a fanned-out top-level request was for (widget-failures.ts). */
  private widgetOf(plan: ResourcePlan, params: Params): WidgetContext | undefined {
    return this.widgets.contextOf(plan, params, partitionKey(plan, params));
  }

  /**
   * The windows the previous run committed for `plan`, checked once per run: storedWindows checks every widget's
   * window, and was called for each widget (2,000 widgets: 4 million checks, half of a rerun's 12 s).
   */
  private storedWindowsOf(plan: ResourcePlan): WindowState['windows'] {
    let windows = this.checkedWindows.get(plan.name);
    if (!windows) {
      windows = storedWindows(this.options.previousState.get(plan.name), plan.name);
      this.checkedWindows.set(plan.name, windows);
    }
    return windows;
  }

  /** One request sequence: the pages of one resource for one parameter set. */
  private async extractSequence(plan: ResourcePlan, base: Params, parentParams?: Params, minSlices = 1): Promise<void> {
    const resource = plan.resource;
    const params: Params = { ...base };
    let windowEnd: { key: string; end: string } | undefined;
    for (const [name, source] of Object.entries(resource.params)) {
      if (source.from === 'constant') params[name] = source.value;
    }
    let ranges: Slice[] = [];
    let sliceDays: number | null = null;
    if (plan.incremental) {
      const key = partitionKey(plan, params);
      const previous = this.options.previousState.get(plan.name);
      const end = todayUtc(this.options.now);
      const resumeAt = (windows: WindowState['windows']) => resumeDay(windows[key], plan.incremental!.lookbackDays, plan.incremental!.startDate, end);
      const sampling = this.options.limitPages !== undefined;
      const partsOf: PartsOf = (windows) => {
        const at = resumeAt(windows);
        // --limit-pages samples N pages per widget, so the window stays one sequence there, for every consumer.
        const parts = windowParts(windows[key], at, end, plan.incremental!.startDate);
        return sampling ? [{ start: parts[0]!.start, end }] : parts;
      };
      sliceDays = sampling ? null : plan.incremental.sliceDays;
      const consumers = sampling ? undefined : (previous as ResumeState | null | undefined)?.consumers;
      ranges = consumerRanges(this.storedWindowsOf(plan), consumers, partsOf);
      windowEnd = { key, end };
      // A rerun of a widget no load gave a record yet is not cut into one-day slices (end-day-check.ts, owesEndDayCheck).
      if (this.storedWindowsOf(plan)[key] !== undefined && this.owesEndDayCheck(plan, key)) minSlices = 1;
    }
    if (ranges.length > 0) {
      // The window's state advances only when every range is done.
      await this.all(plan, params, ranges.map((range) => this.readRange(plan, params, parentParams, range, sliceDays, minSlices, 0)));
    } else {
      // Failed here with the widget named (as `all` does for windows): chat_availability and widgets are read once
      // per widget too, and a 404 for one id of 200 said only to check the list and the endpoint.
      await this.fetchPages(plan, params, parentParams).catch((error: unknown) => {
        if (parentParams === undefined) this.fail(error, plan.name, this.widgetOf(plan, params));
        throw error;
      });
    }
    // The first day this run read of the window: a sample's rows lie from there on, and a lookback may reach before
    // the start date (a refresh from a later day would drop those cases: refresh-plan.ts).
    const firstRead = ranges.reduce<string | undefined>((day, range) => (day === undefined || range.start < day ? range.start : day), undefined);
    if (windowEnd && this.options.limitPages !== undefined && !this.controller.signal.aborted) {
      if (firstRead !== undefined) this.sampled.set(plan.name, { ...this.sampled.get(plan.name), [windowEnd.key]: { firstStart: firstRead } });
    } else if (windowEnd && !this.controller.signal.aborted) {
      // This run's windows only; resume.ts merges them with the stored ones (widgets not in this run keep theirs).
      const state = this.newState.get(plan.name) ?? { windows: {} };
      // With the newest cursorField value this run saw for the widget (resume.ts keeps the stored one if newer).
      const cursor = this.cursors.stateOf(plan.name, windowEnd.key, resource.incremental!.cursorField);
      // Every consumer now holds the days from the start date on (read now, or before: resume.ts keeps the earlier
      // first day), or from the first day read if earlier, so a start date moved earlier is backfilled from there.
      const startDate = plan.incremental!.startDate;
      state.windows[windowEnd.key] = { lastEnd: windowEnd.end, firstStart: firstRead !== undefined && firstRead < startDate ? firstRead : startDate, ...cursor };
      this.newState.set(plan.name, state);
    }
  }

  /**
   * Reads one day range of a widget's window. A range longer than a slice is first asked for whole (one request, its
   * first page): most widgets of a big organisation have a few cases a week, and cutting two years into 7-day slices
   * cost them 105 requests, nearly all empty (300 widgets: 31,500 requests, 52 minutes at 10 requests/s, for 60k
   * cases). A range that fits one page is read by that request. One that links a next page is busy: that page is
   * dropped (its records come again with the pieces) and the range is read in pieces (windows.ts, probePieces), each
   * probed likewise, then in slices, which page side by side as before. Only a resource that follows next links is
   * probed: one the spec reads as a single page cannot tell a window that fits one page from one cut short, and its
   * slices are what keep each request within a page (asked whole, 160 cases of 20 days loaded 100).
   */
  private async readRange(plan: ResourcePlan, params: Params, parentParams: Params | undefined, range: Slice, sliceDays: number | null, minSlices: number, depth: number): Promise<void> {
    const probes = plan.resource.paginator.type === 'next_url';
    if (probes && sliceDays !== null && depth < 2 && dayCount(range.start, range.end) > sliceDays) {
      if (!(await this.fetchSlice(plan, params, parentParams, range, true))) return;
      // One piece would be this range (about a slice and a day): probed again, it repeated the request above. Sliced.
      const probed = depth === 0 ? probePieces(range.start, range.end, sliceDays) : [];
      const pieces = probed.length > 1 ? probed : sliceWindow(range.start, range.end, sliceDays, minSlices);
      // minSlices is for the widget's whole range: each part owes its share only. Passed on whole, every 7-day slice
      // of a busy window was cut again into 3 + 3 + 1 days (a first load of 20k cases in 3 widgets: 283 requests
      // instead of 246, each extra one a partly filled last page, at the rate limit or a round trip each).
      const share = Math.ceil(minSlices / pieces.length);
      await this.all(plan, params, pieces.map((piece) => this.readRange(plan, params, parentParams, { ...piece, consumers: range.consumers }, sliceDays, share, probed.length > 1 ? 1 : 2)));
      return;
    }
    const slices = sliceWindow(range.start, range.end, sliceDays, minSlices);
    await this.all(plan, params, slices.map((slice) => this.fetchSlice(plan, params, parentParams, { ...slice, consumers: range.consumers }, false)));
  }

  /** Each task pages on its own; the first that fails stops the others now (see fail) and is thrown once all are settled. */
  private async all(plan: ResourcePlan, params: Params, tasks: Array<Promise<unknown>>): Promise<void> {
    const results = await Promise.allSettled(tasks.map((task) => task.catch((error: unknown) => {
      // Now, not once every slice of this window has been tried (with its retries: a 500 storm or a hanging server
      // made the run last slices × retries × timeout).
      this.fail(error, plan.name, this.widgetOf(plan, params));
      throw error;
    })));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** One slice's request sequence; with `probe`, only its first page, and true (that page dropped) if it links a next one. */
  private fetchSlice(plan: ResourcePlan, params: Params, parentParams: Params | undefined, slice: Slice, probe: boolean): Promise<boolean> {
    const sliced = windowParams(plan, params, slice.start, slice.end);
    // Only top-level slices take a slot: a child's slices waiting behind parents that wait for room for their
    // children would deadlock. Older slices go first, across widgets: the newest days are staged last, and the
    // root table (loaded by one thread, in file order) stores them last, so the next run's lookback merge deletes
    // rows in its tail row groups only (DuckDB rewrites each row group with deleted rows at the next checkpoint).
    const fetch = () => (this.controller.signal.aborted ? Promise.resolve(false) : this.fetchPages(plan, sliced, parentParams, slice.consumers, probe));
    return plan.resource.parent === null ? this.slices.run(fetch, slice.start) : fetch();
  }

  /**
   * Fetches one request sequence (all its pages) and hands each page's records on. `consumers`: who takes part in
   * these pages (the resource and/or some children); undefined: all of them. `probe`: see fetchSlice.
   */
  private async fetchPages(plan: ResourcePlan, params: Params, parentParams?: Params, consumers?: ReadonlySet<string>, probe = false): Promise<boolean> {
    const resource = plan.resource;
    const request = requestParams(plan, params);
    const paginator = resource.paginator;
    // A signal of this sequence's own, following the run's: each Request built with a signal adds an abort listener
    // to it that only garbage collection removes (undici), so the run's one signal gathered thousands over a chat_poll
    // fan-out (a MaxListenersExceededWarning past 1500). The run's signal holds one listener per live sequence.
    const sequence = new AbortController();
    const unfollow = follow(this.controller.signal, sequence);
    const pages = this.options.client.iteratePages(
      resource.path,
      { params: request, signal: sequence.signal },
      {
        nextUrlPath: paginator.type === 'next_url' ? paginator.nextUrlPath : null,
        ...(paginator.type === 'next_url' && paginator.maxPages !== undefined ? { maxPages: paginator.maxPages } : {}),
      },
    );
    const iterator = pages[Symbol.asyncIterator]();
    const limit = this.options.limitPages ?? Infinity;
    // A slot is held only while a page is being fetched, never while its records are written or children wait.
    const fetchNext = () => {
      const promise = this.semaphore.run(() => iterator.next());
      promise.catch(() => undefined); // handled where it is awaited; this only keeps a prefetch failure from being "unhandled"
      return promise;
    };
    let pageCount = 0;
    let upcoming: ReturnType<typeof fetchNext> | undefined = limit > 0 ? fetchNext() : undefined;
    try {
      // --limit-pages stops here, not through the client's maxPages, which treats running out of pages as an error.
      while (upcoming) {
        pageCount++;
        let next: Awaited<ReturnType<typeof fetchNext>>;
        try {
          next = await upcoming;
        } catch (error) {
          // A child resource whose API may not know every parent record (the spec's `notFound: skip`): a 404 to its
          // first request is no record for that parent, counted in the load info. Anywhere else a 404 fails the run.
          if (pageCount === 1 && parentParams !== undefined && resource.notFound === 'skip' && isClientError(error) && error.kind === 'not_found') {
            increment(this.counts.notFound, plan.name);
            upcoming = undefined;
            return false;
          }
          // 204 No Content to a request's first page: the API says it has nothing for it (dlt crashed on these, #1849).
          // No records, counted in the load info. Undocumented for SnapEngage: the tolerant reading.
          if (pageCount === 1 && isClientError(error) && error.kind === 'invalid_response' && error.status === 204) {
            increment(this.counts.noContent, plan.name);
            upcoming = undefined;
            return false;
          }
          throw error;
        }
        upcoming = undefined;
        if (next.done) break;
        if (pageCount === 1 && parentParams === undefined) this.widgets.answer(plan.name, partitionKey(plan, params));
        if (probe && paginator.type === 'next_url' && linksNextPage(next.value.data, paginator.nextUrlPath)) {
          this.options.onPage?.(plan.name, 0);
          return true;
        }
        // One page of lookahead: the next page is fetched while this one's records are written, so a sequence's
        // latency (the server's and ours) overlaps instead of adding up page after page. None after the last page: that
        // step waited for a request slot behind every queued request only to hear there was none, so a widget's
        // sequence ended (and counted as done in the progress) only once the requests queued before it had gone.
        if (pageCount < limit) upcoming = lastPage(next.value.data, paginator.type === 'next_url' ? paginator.nextUrlPath : null) ? undefined : fetchNext();
        // Counted so the load info can say which resources a sample left incomplete, not only that it sampled.
        else if (paginator.type === 'next_url' && linksNextPage(next.value.data, paginator.nextUrlPath)) increment(this.counts.cutShort, plan.name);
        if (next.value.unfollowedNextLink) increment(this.counts.unfollowed, plan.name);
        const records = selectRecords(plan, next.value.data, { ...parentParams, ...params }, next.value.pageIndex);
        if (plan.incremental) {
          this.cursors.see(pageWindow(plan, params), records);
          this.checkEndDay(plan, params, records);
        }
        this.options.onPage?.(plan.name, records.length);
        // Children are fetched for the records the steps keep (as dlt's transformers get a filtered resource's
        // items), with parameters read before any step runs, so a map step (even one that edits the record in
        // place) cannot change or break them.
        const children = consumers === undefined ? plan.children : plan.children.filter((child) => consumers.has(child.name));
        const requests = children.length > 0 ? records.map((record) => childRequests(children, record, params, this.options.env)) : [];
        const { kept, results } = applySteps(plan, records);
        if (requests.length > 0) await this.fanOutChildren(kept.flatMap((index) => requests[index]!));
        if (plan.load && (consumers === undefined || consumers.has(plan.name)) && results.length > 0) await this.options.sink(plan, results);
        if (this.controller.signal.aborted) return false;
      }
    } finally {
      if (upcoming) await upcoming.catch(() => undefined);
      await iterator.return?.();
      unfollow();
    }
    return false;
  }

  /**
   * Begins the end-day check of an incremental resource (end-day-check.ts) with the first record fit for it, from a
   * widget's first load only (or a later one while no load gave it a record): that is when a wrong reading would lose
   * its history, and a daily rerun would pay for the check's pages (up to two days of a widget) every time.
   */
  private checkEndDay(plan: ResourcePlan, params: Params, records: SourceRecord[]): void {
    if (this.endDayChecks.has(plan.name) || plan.incremental?.endDay !== 'inclusive' || this.options.limitPages !== undefined) return;
    const key = partitionKey(plan, params);
    if (!this.owesEndDayCheck(plan, key)) return;
    const afterEarlierLoads = this.storedWindowsOf(plan)[key] !== undefined;
    if (records.length > 0) this.endDayUncheckedFor.add(plan.name);
    const { start, end } = pageWindow(plan, params);
    const nowMs = this.options.now.getTime();
    for (const record of records) {
      const found = witnessOf(plan, params, record, start, end, nowMs);
      if (!found) continue;
      const witness = { ...found, afterEarlierLoads };
      const widget = this.widgetOf(plan, params);
      const where = widget ? ` (${widget.env} item ${widget.position} of ${widget.of}, ${widget.value})` : '';
      const check = this.semaphore.run(() => checkEndDay(this.options.client, witness, where, this.controller.signal));
      this.endDayChecks.set(plan.name, check.catch((error: unknown) => this.fail(error, plan.name, widget)));
      this.endDayUncheckedFor.delete(plan.name);
      return;
    }
  }

  private owesEndDayCheck(plan: ResourcePlan, key: string): boolean {
    const consumers = (this.options.previousState.get(plan.name) as ResumeState | null | undefined)?.consumers;
    return plan.incremental?.endDay === 'inclusive' && owesEndDayCheck(this.storedWindowsOf(plan), consumers, key);
  }

  /** Starts one request sequence per child request, waiting for room when a child has too many pending. */
  private async fanOutChildren(requests: ChildRequest[]): Promise<void> {
    for (const { child, params, parentParams, lacking } of requests) {
      if (lacking) {
        // Counted for the load info: the windows advance over these records too, so silence would be a gap for good.
        const m = this.counts.missing.get(child.name) ?? { records: 0, ...lacking };
        m.records++;
        this.counts.missing.set(child.name, m);
        continue;
      }
      await this.tasks.roomFor(child, this.controller.signal);
      if (this.controller.signal.aborted) return;
      increment(this.counts.childSequences, child.name);
      this.tasks.spawn(child, () => this.extractSequence(child, params, parentParams));
    }
  }
}

/** Aborts `controller` when `parent` (the app's signal, maybe given to runs at once) aborts; returns the unfollow. */
function follow(parent: AbortSignal, controller: AbortController): () => void {
  return followSignal(parent, () => controller.abort(parent.reason));
}
