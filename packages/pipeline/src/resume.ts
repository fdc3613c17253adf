// Where each incremental window resumes, and what state each resource commits.
//
// A parent's window (logs per widget) decides which parent records are read, and so which children (chat_poll per
// case) are fetched. A child therefore remembers the parent windows it was driven by, in its own state
// (`{ parents: { logs: { windows } } }`), committed with its data. A run resumes a parent's window, per widget, at the
// earliest point any of this run's consumers needs: the parent itself when it is loaded, and each loaded child. A
// consumer that has never seen a widget (a child selected for the first time) makes that widget start from the
// start date, so the new child gets the whole history and not just the last days; so does a consumer that replaces
// its tables. Reading more is safe for a merged parent. An appended parent would store the extra days twice, so
// those days only drive the children (`ownWindows`: where the parent's own loading resumes).
import { storedWindows, type WindowState } from './extract.js';
import type { ResourcePlan } from './plan.js';

/** A child resource's state: its own (if any) plus the windows of the parents that drove it. */
interface ChildState {
  parents?: Record<string, WindowState>;
  [key: string]: unknown;
}

/** Where an incremental extraction starts; `ownWindows`, when set, is where the resource's own loading resumes. */
export interface ResumeState extends WindowState {
  ownWindows?: WindowState['windows'];
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
    const ownWindows = plan.writeDisposition === 'replace' ? {} : storedWindows(own, plan.name);
    const consumers: Array<WindowState['windows']> = [];
    if (plan.load) consumers.push(ownWindows);
    for (const child of children) {
      const driven = (stored.get(child.name) as ChildState | null | undefined)?.parents?.[plan.name];
      // No windows of its own: never committed, or committed before children kept them (an older version wrote
      // null both after a full run and after a --limit-pages sample, so nothing says how far it got). Such a child
      // is driven through the whole history once; merged, that re-reads without duplicating.
      if (child.writeDisposition === 'replace' || driven === undefined) consumers.push({});
      else consumers.push(storedWindows(driven, child.name, `parents.${plan.name}.`));
    }
    const windows: WindowState['windows'] = {};
    for (const [key, window] of Object.entries(consumers[0] ?? {})) {
      const ends = consumers.map((c) => c[key]?.lastEnd);
      if (ends.every((end): end is string => end !== undefined)) windows[key] = { lastEnd: ends.reduce((a, b) => (b < a ? b : a)) };
    }
    const state: ResumeState = { windows };
    if (plan.load && plan.writeDisposition === 'append' && children.length > 0) state.ownWindows = ownWindows;
    resume.set(plan.name, state);
  }
  return resume;
}

/**
 * The state a loaded resource commits: its stored state with this run's windows merged in (widgets not in this run
 * keep theirs), and for a child of an incremental parent the parent's windows that drove it, merged the same way.
 * Nothing extracted (a `--limit-pages` sample): as stored.
 */
export function stateToCommit(plan: ResourcePlan, plans: readonly ResourcePlan[], stored: ReadonlyMap<string, unknown>, extracted: ReadonlyMap<string, WindowState>): unknown {
  let state: unknown = stored.get(plan.name) ?? null;
  const fresh = extracted.get(plan.name);
  if (fresh) state = { ...asObject(state), windows: { ...storedWindows(state, plan.name), ...fresh.windows } };
  const parent = plans.find((p) => p.name === plan.resource.parent);
  const driven = parent?.incremental ? extracted.get(parent.name) : undefined;
  if (parent && driven) {
    const base = asObject(state) as ChildState;
    const before = base.parents?.[parent.name];
    const windows = { ...(before === undefined ? {} : storedWindows(before, plan.name, `parents.${parent.name}.`)), ...driven.windows };
    state = { ...base, parents: { ...base.parents, [parent.name]: { windows } } };
  }
  return state;
}

function asObject(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
