// Where each incremental window resumes, and what state each resource commits.
//
// A parent's window (logs per widget) decides which parent records are read, and so which children (chat_poll per
// case) are fetched. A child therefore remembers the parent windows it was driven by, in its own state
// (`{ parents: { logs: { windows } } }`), committed with its data. The parent and each loaded child are the
// window's consumers, each with its own resume point per widget. A run reads the parent's window from the earliest
// of them, and each consumer takes part only from its own point on: a child selected for the first time (or one that
// replaces its tables) is driven through the whole history, while the parent and the other children do not load
// those days again (an appended one would store them twice; a merged one would re-read for nothing).
import { mergeWindow } from './cursor.js';
import { sampledDays, storedWindows, type SampledDays, type WindowState } from './windows.js';
import type { ResourcePlan } from './plan.js';

/** A child resource's state: its own (if any) plus the windows of the parents that drove it. */
interface ChildState {
  parents?: Record<string, WindowState>;
  [key: string]: unknown;
}

/**
 * Where an incremental extraction starts (`windows`: the earliest point of any consumer), and, when it has several
 * consumers, where each one's part resumes (by resource name: the resource itself and its loaded children).
 */
export interface ResumeState extends WindowState {
  consumers?: Record<string, WindowState['windows']>;
}

/**
 * The state each extraction starts from: stored states as they are, except an incremental parent's, which becomes
 * the per-widget earliest of its consumers' windows (left out when a consumer has no window yet).
 * `stored` holds null for a resource whose state row is empty, and no entry for one never committed.
 */
export function statesToResume(plans: readonly ResourcePlan[], stored: ReadonlyMap<string, unknown>): Map<string, unknown> {
  const resume = new Map<string, unknown>();
  for (const plan of plans) {
    const own = stored.get(plan.name);
    const children = plans.filter((c) => c.load && c.resource.parent === plan.name);
    if (!plan.incremental || (!plan.load && children.length === 0)) {
      if (own !== undefined) resume.set(plan.name, own);
      continue;
    }
    // A consumer that replaces its tables keeps only what this run reads, so it needs the whole window every run.
    const consumers: Record<string, WindowState['windows']> = {};
    if (plan.load) consumers[plan.name] = plan.writeDisposition === 'replace' ? {} : storedWindows(own, plan.name);
    for (const child of children) {
      const driven = (stored.get(child.name) as ChildState | null | undefined)?.parents?.[plan.name];
      // No windows of its own: never committed, or committed before children kept them (an older version wrote
      // null both after a full run and after a --limit-pages sample, so nothing says how far it got). Such a child
      // is driven through the whole history once.
      consumers[child.name] = child.writeDisposition === 'replace' || driven === undefined ? {} : storedWindows(driven, child.name, `parents.${plan.name}.`);
    }
    const all = Object.values(consumers);
    const windows: WindowState['windows'] = {};
    for (const [key, window] of Object.entries(all[0] ?? {})) {
      const ends = all.map((c) => c[key]?.lastEnd);
      if (!ends.every((end): end is string => end !== undefined)) continue;
      windows[key] = { lastEnd: ends.reduce((a, b) => (b < a ? b : a)) };
      // One consumer: its first day too, so a start date moved before it is backfilled, and its newest record, where
      // a window that ends after today resumes (windows.ts, resumeDay). With several, each consumer's own windows say
      // what it needs: extract.ts.
      if (all.length === 1 && window.firstStart !== undefined) windows[key].firstStart = window.firstStart;
      if (all.length === 1 && window.lastValueAt !== undefined) windows[key].lastValueAt = window.lastValueAt;
    }
    resume.set(plan.name, all.length > 1 ? { windows, consumers } : { windows });
  }
  return resume;
}

/**
 * The state a loaded resource commits: its stored state with this run's windows merged in (widgets not in this run
 * keep theirs), and for a child of an incremental parent the parent's windows that drove it, merged the same way.
 * A `--limit-pages` sample extracts no windows: it adds the first day it read per widget (`sampled`, windows.ts) to
 * those stored, the windows as stored.
 * A resource that replaces its tables keeps only what this run read, so it commits only this run's windows and
 * sampled days: a stored window of a widget not in this run, or one a sample did not finish, would say that rows
 * are loaded which the replace has just deleted, and a later merge or append would resume after them.
 */
export function stateToCommit(
  plan: ResourcePlan, plans: readonly ResourcePlan[], stored: ReadonlyMap<string, unknown>, extracted: ReadonlyMap<string, WindowState>,
  sampled: ReadonlyMap<string, SampledDays> = new Map(),
): unknown {
  let state: unknown = plan.writeDisposition === 'replace' ? null : (stored.get(plan.name) ?? null);
  const fresh = extracted.get(plan.name);
  if (fresh) state = { ...asObject(state), windows: mergeWindows(storedWindows(state, plan.name), fresh.windows, plan.resource.incremental?.cursorField) };
  const ownSample = plan.incremental ? sampled.get(plan.name) : undefined;
  if (ownSample) state = withSampled(state, storedWindows(state, plan.name), ownSample);
  const parent = plans.find((p) => p.name === plan.resource.parent);
  const driven = parent?.incremental ? extracted.get(parent.name) : undefined;
  const drivenSample = parent?.incremental ? sampled.get(parent.name) : undefined;
  if (parent && (driven || drivenSample)) {
    const base = asObject(state) as ChildState;
    const before = base.parents?.[parent.name];
    let windows = before === undefined ? {} : storedWindows(before, plan.name, `parents.${parent.name}.`);
    if (driven) windows = mergeWindows(windows, driven.windows, parent.resource.incremental?.cursorField);
    // The rest of the entry (the days a sample read) stays with it.
    const entry = drivenSample ? withSampled(before, windows, drivenSample) : { ...asObject(before), windows };
    state = { ...base, parents: { ...base.parents, [parent.name]: entry } };
  }
  return state;
}

/** `state` with `windows`, and this sample's days merged into those it holds: per widget, the earlier first day. */
function withSampled(state: unknown, windows: WindowState['windows'], fresh: SampledDays): WindowState & { sampled: SampledDays } {
  const kept = sampledDays(state);
  const earlier = ([key, entry]: [string, SampledDays[string]]) => [key, Object.hasOwn(kept, key) && kept[key]!.firstStart < entry.firstStart ? kept[key]! : entry] as const;
  return { ...asObject(state), windows, sampled: Object.fromEntries([...Object.entries(kept), ...Object.entries(fresh).map(earlier)]) };
}

/**
 * The windows this run extracted, per incremental resource, as committed (merged with the stored ones, so with the
 * newest cursor value over all runs): the resource's own state when it is loaded, else that of the first loaded child
 * it drove. What the load info prints.
 */
export function committedWindows(plans: readonly ResourcePlan[], stored: ReadonlyMap<string, unknown>, extracted: ReadonlyMap<string, WindowState>): Record<string, WindowState['windows']> {
  const result: Record<string, WindowState['windows']> = {};
  for (const plan of plans) {
    const fresh = extracted.get(plan.name);
    const holder = plan.load ? plan : plans.find((c) => c.load && c.resource.parent === plan.name);
    if (!fresh || !holder) continue;
    const state = stateToCommit(holder, plans, stored, extracted) as (Partial<WindowState> & ChildState) | null;
    const windows = holder === plan ? state?.windows : state?.parents?.[plan.name]?.windows;
    result[plan.name] = Object.fromEntries(Object.keys(fresh.windows).map((key) => [key, windows?.[key] ?? fresh.windows[key]!]));
  }
  return result;
}

/** Stored windows with this run's merged in: widgets not in this run keep theirs; a cursor value is never lowered. */
function mergeWindows(stored: WindowState['windows'], fresh: WindowState['windows'], cursorField: string | undefined): WindowState['windows'] {
  // fromEntries and hasOwn: a key is the user's widget id, so even "__proto__" stays a plain key.
  const merge = ([key, window]: [string, WindowState['windows'][string]]) => [key, mergeWindow(Object.hasOwn(stored, key) ? stored[key] : undefined, window, cursorField)] as const;
  return Object.fromEntries([...Object.entries(stored), ...Object.entries(fresh).map(merge)]);
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
