import { buildCase, createdTimeOf, type CaseRecord } from './case-generator.js';
import { CASE_KIND_GENERATED, CASE_KIND_INJECTED, CaseIdCodec } from './case-ids.js';
import type { WidgetFixture } from './fixtures.js';
import { stringifyKeepingLargeIntegers } from './large-integers.js';
import { Timeline } from './timeline.js';

// All cases of the sandbox: the generated ones (computed on demand, never held) and the injected ones
// (posted by tests or started through the Visitor Chat API, held in memory). Every listing walks them in
// the Logs API order — creation time ascending, then id — and can resume after any (time, id) key, which
// is what makes the keyset cursor immune to cases injected mid-pagination.

export interface SortKey {
  t: number;
  id: string;
  /**
   * Tiebreak between cases of the same time and id (a test may inject a case id twice): 0 for generated cases,
   * the injection serial + 1 for injected ones. Without it the keyset cursor skipped the second one.
   */
  n?: number;
}

export interface InjectedCase {
  /** Id used for ordering and lookup: the record's own `id` when it is a string, else a fresh one. */
  id: string;
  t: number;
  n: number;
  widgetIndex: number;
  record: CaseRecord;
}

export interface CaseEntry {
  t: number;
  id: string;
  n?: number;
  widgetIndex: number;
  /** Index on the widget's timeline for a generated case, -1 for an injected one. */
  index: number;
  injected: InjectedCase | undefined;
}

export function compareKeys(a: SortKey, b: SortKey): number {
  if (a.t !== b.t) return a.t < b.t ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return (a.n ?? 0) - (b.n ?? 0);
}

/** First position in a sorted list whose key is > `after` (or >= when `inclusive`), from position `low` on. */
function searchKey(list: readonly SortKey[], after: SortKey, inclusive: boolean, low = 0): number {
  let high = list.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    const item = list[middle] as SortKey;
    const c = compareKeys(item, after);
    if (c < 0 || (c === 0 && !inclusive)) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Below this many new cases, inserting each in place (a memmove) beats rebuilding the list. */
const SPLICE_MAX = 64;

/**
 * Puts `added` into the sorted `list`, in key order. Keys are never equal (each injection has its own serial `n`), so
 * this is the order a sort of both gives. Replaces push(...added) + sort of the whole list: the spread threw a
 * RangeError (a 500) past ~120k cases in one POST, and each POST compared its way through every earlier injection.
 */
function mergeByKey(list: InjectedCase[], added: readonly InjectedCase[]): InjectedCase[] {
  const incoming = [...added].sort(compareKeys);
  if (incoming.length <= SPLICE_MAX) {
    let from = 0;
    for (const item of incoming) {
      from = searchKey(list, item, false, from);
      list.splice(from, 0, item);
      from++;
    }
    return list;
  }
  const merged: InjectedCase[] = [];
  let from = 0;
  for (const item of incoming) {
    const at = searchKey(list, item, false, from);
    for (let i = from; i < at; i++) merged.push(list[i] as InjectedCase);
    merged.push(item);
    from = at;
  }
  for (let i = from; i < list.length; i++) merged.push(list[i] as InjectedCase);
  return merged;
}

export interface CaseQuery {
  widgetIndexes: readonly number[];
  /** Inclusive lower bound of the creation time. */
  fromMs: number;
  /** Exclusive upper bound of the creation time. */
  toMs: number;
  /** Resume strictly after this key (the cursor). */
  after?: SortKey | undefined;
}

export class CaseStore {
  readonly codec: CaseIdCodec;
  private readonly timelines: Timeline[];
  private injected: InjectedCase[][] = [];
  private injectedById = new Map<string, InjectedCase>();
  /** Per-widget change counter, so a running listing notices injections and re-seeks. */
  private versions: number[] = [];
  /** Survey fields set on generated cases after the fact. */
  private surveyOverlay = new Map<string, CaseRecord>();
  private injectedSerial = 0;

  constructor(
    private readonly key: number,
    readonly widgets: readonly WidgetFixture[],
    counts: readonly number[],
    startMs: number,
    endMs: number,
    /** The `quirks` option: cases use the other readings of what the docs leave unknown (see applyQuirks). */
    private readonly quirks = false,
  ) {
    this.codec = new CaseIdCodec(key);
    this.timelines = widgets.map((w, i) => new Timeline(startMs, Math.max(endMs, startMs + (counts[i] ?? 0)), counts[i] ?? 0, key, w.index));
    this.reset();
  }

  reset(): void {
    this.injected = this.widgets.map(() => []);
    this.injectedById.clear();
    this.versions = this.widgets.map(() => 0);
    this.surveyOverlay.clear();
    this.injectedSerial = 0;
  }

  get generatedCount(): number {
    return this.timelines.reduce((sum, t) => sum + t.count, 0);
  }

  get injectedCount(): number {
    return this.injected.reduce((sum, list) => sum + list.length, 0);
  }

  /** Every case of the query, in the Logs API order. Safe to suspend between items while cases are injected. */
  *entries(query: CaseQuery): Generator<CaseEntry> {
    const sources = query.widgetIndexes.map((w) => this.widgetEntries(w, query));
    const heads: Array<IteratorResult<CaseEntry> | undefined> = sources.map((source) => source.next());
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (!head || head.done) continue;
        const bestHead = heads[best];
        if (best < 0 || (bestHead && !bestHead.done && compareKeys(head.value, bestHead.value) < 0)) best = i;
      }
      if (best < 0) return;
      const head = heads[best];
      if (!head || head.done) return;
      yield head.value;
      heads[best] = sources[best]?.next();
    }
  }

  private *widgetEntries(widgetIndex: number, query: CaseQuery): Generator<CaseEntry> {
    const timeline = this.timelines[widgetIndex];
    if (!timeline) return;
    const start: SortKey = query.after && query.after.t >= query.fromMs ? query.after : { t: query.fromMs, id: '' };
    const inclusive = !(query.after && query.after.t >= query.fromMs);
    let k = timeline.firstAtOrAfter(start.t);
    if (!inclusive && k < timeline.count && timeline.timeAt(k) === start.t && this.codec.encode(CASE_KIND_GENERATED, widgetIndex, k) <= start.id) k++;
    const kEnd = timeline.firstAtOrAfter(query.toMs);
    let version = this.versions[widgetIndex] ?? 0;
    let j = searchKey(this.injected[widgetIndex] ?? [], start, inclusive);
    let last: SortKey | undefined;
    let generated: CaseEntry | undefined;
    for (;;) {
      const list = this.injected[widgetIndex] ?? [];
      if ((this.versions[widgetIndex] ?? 0) !== version) {
        // Cases were injected since we last looked: find our place again by key, not by position.
        version = this.versions[widgetIndex] ?? 0;
        j = last ? searchKey(list, last, false) : searchKey(list, start, inclusive);
      }
      if (!generated && k < kEnd) {
        generated = { t: timeline.timeAt(k), id: this.codec.encode(CASE_KIND_GENERATED, widgetIndex, k), widgetIndex, index: k, injected: undefined };
      }
      const candidate = list[j];
      const injected = candidate && candidate.t < query.toMs ? candidate : undefined;
      if (!generated && !injected) return;
      if (injected && (!generated || compareKeys(injected, generated) < 0)) {
        last = { t: injected.t, id: injected.id, n: injected.n };
        j++;
        yield { t: injected.t, id: injected.id, n: injected.n, widgetIndex, index: -1, injected };
      } else if (generated) {
        last = generated;
        const entry = generated;
        generated = undefined;
        k++;
        yield entry;
      }
    }
  }

  /** The record of an entry, with late survey fields applied. A fresh object for generated cases. */
  record(entry: CaseEntry): CaseRecord {
    if (entry.injected) return entry.injected.record;
    const widget = this.widgets[entry.widgetIndex] as WidgetFixture;
    const record = buildCase(this.key, widget, CASE_KIND_GENERATED, entry.index, entry.id, entry.t, this.quirks);
    const overlay = this.surveyOverlay.get(entry.id);
    if (overlay) for (const [name, value] of Object.entries(overlay)) record[name] = value;
    return record;
  }

  /** The exact JSON text of a case, shared by the Logs API and the truth endpoint. */
  json(entry: CaseEntry): string {
    return stringifyKeepingLargeIntegers(this.record(entry));
  }

  find(id: string): CaseEntry | undefined {
    const injected = this.injectedById.get(id);
    if (injected) return { t: injected.t, id: injected.id, n: injected.n, widgetIndex: injected.widgetIndex, index: -1, injected };
    const decoded = this.codec.decode(id);
    if (!decoded || decoded.kind !== CASE_KIND_GENERATED) return undefined;
    const timeline = this.timelines[decoded.widgetIndex];
    if (!timeline || decoded.index >= timeline.count) return undefined;
    return { t: timeline.timeAt(decoded.index), id, widgetIndex: decoded.widgetIndex, index: decoded.index, injected: undefined };
  }

  /**
   * Adds cases to a widget. Each given object is spread over a generated default case with a fresh id and
   * "now" as creation time (or the creation time it gives), keeping its own keys and values untouched. `bare`: each
   * object is the whole case, with no default keys at all (not even `id`: one without a string id is ordered and
   * found under a fresh id that its record does not show).
   */
  inject(widgetIndex: number, given: readonly CaseRecord[], nowMs: number, bare = false): InjectedCase[] {
    const widget = this.widgets[widgetIndex];
    if (!widget) throw new Error(`no widget with index ${widgetIndex}`);
    const added: InjectedCase[] = [];
    for (const fields of given) {
      const serial = this.injectedSerial++;
      const freshId = this.codec.encode(CASE_KIND_INJECTED, widgetIndex, serial);
      const t = createdTimeOf(fields) ?? nowMs;
      // Spread (not Object.assign) so that an own "__proto__" key stays a plain data key.
      const record: CaseRecord = bare ? { ...fields } : { ...buildCase(this.key, widget, CASE_KIND_INJECTED, serial, freshId, t, this.quirks), ...fields };
      const id = typeof record.id === 'string' ? record.id : freshId;
      added.push({ id, t, n: serial + 1, widgetIndex, record });
    }
    this.injected[widgetIndex] = mergeByKey(this.injected[widgetIndex] ?? [], added);
    this.versions[widgetIndex] = (this.versions[widgetIndex] ?? 0) + 1;
    for (const item of added) this.injectedById.set(item.id, item);
    return added;
  }

  /** Sets survey fields on an existing case; false when the case is unknown. */
  setSurvey(id: string, fields: CaseRecord): boolean {
    const entry = this.find(id);
    if (!entry) return false;
    if (entry.injected) {
      for (const [name, value] of Object.entries(fields)) entry.injected.record[name] = value;
    } else {
      this.surveyOverlay.set(id, { ...this.surveyOverlay.get(id), ...fields });
    }
    return true;
  }
}
