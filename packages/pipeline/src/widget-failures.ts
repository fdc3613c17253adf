// Which widget of its env list (SNAPENGAGE_WIDGET_ID) a failed request was for, and the widgets the API does not know
// (404) or refuses (401/403) while it answered others of the list. Those are the list's fault, not the org id's or the
// token's, so the extractor records them and reads on, and the run fails at its end naming them all in one line: with
// 200 widgets of which 3 were deleted, failing at the first took 3 failing daily runs to find them. Apart from
// extract.ts because none of it steers a request.
import { printable, redactSecrets, type SnapEngageErrorKind } from 'snapengage-client';
import { eachParams } from './each-params.js';
import { envList, type Env } from './env.js';
import { describeExtractError, ExtractError, isClientError, type PipelineError, type WidgetContext } from './errors.js';
import type { ResourcePlan } from './plan.js';
import type { Params } from './page-records.js';
import { pluralNoun } from './plural-noun.js';

/** Widgets a message names before "and N more": with 300 deleted ones the line would be 15,000 characters. */
const NAMED = 10;

interface Found {
  resource: string;
  widget: WidgetContext;
  refused: boolean;
  status: number | undefined;
  error: unknown;
}

export class WidgetFailures {
  /** Per fanned-out top-level resource: the partitions (widgets) that got a page. */
  private readonly answered = new Map<string, Set<string>>();
  private readonly found: Found[] = [];
  /** Errors recorded: the same error comes back as it is rethrown up its sequence's chain (all, the task's handler). */
  private readonly seen = new WeakSet<object>();

  constructor(private readonly env: Env, private readonly secrets: readonly string[]) {}

  /** `key` (a partition of `resource`) got a page. */
  answer(resource: string, key: string): void {
    this.answered.set(resource, (this.answered.get(resource) ?? new Set()).add(key));
  }

  /**
   * Which item of its env list a fanned-out request was for (one widget of 300: its 404 or 403 must name it), and
   * whether another item of that list was answered already (then the widget is at fault, not the org id or token).
   */
  contextOf(plan: ResourcePlan, params: Params, key: string): WidgetContext | undefined {
    const each = eachParams(plan.resource)[0];
    if (!each || typeof params[each.name] !== 'string') return undefined;
    const value = params[each.name] as string;
    const list = envList(this.env, each.env);
    const answered = this.answered.get(plan.name);
    // A credential pasted into the list by mistake is named by its place alone: the client masks it in the URL, but
    // this message also reaches _pipeline_loads.error and an app's error.message, which no CLI masks. Its terminal
    // controls escaped for the same readers: an id with an ESC or a bidi override rewrote or reordered the error line.
    const shown = printable(redactSecrets(value, this.secrets));
    return { item: each.item ?? 'item', env: each.env, value: shown, position: list.indexOf(value) + 1, of: list.length, othersAnswered: [...(answered ?? [])].some((k) => k !== key) };
  }

  /**
   * Records `error` when it is the widget's own (a 404 or a refusal while others of the list were answered) and says
   * so; an error recorded before is its own too. Anything else (a 500 storm, the network, a 404 before any widget was
   * answered: likely a wrong org id or token) is the caller's to fail the run with at once.
   */
  record(error: unknown, resource: string, widget: WidgetContext | undefined): boolean {
    if (typeof error === 'object' && error !== null && this.seen.has(error)) return true;
    if (!widget?.othersAnswered || !isClientError(error) || (error.kind !== 'not_found' && error.kind !== 'auth')) return false;
    this.seen.add(error);
    // Once per widget and resource: each of its window's slices may fail alike. The slices run concurrently, so the
    // one kept is the first by URL (its message quotes it), not the first to fail.
    const found: Found = { resource, widget, refused: error.kind === 'auth', status: error.status, error };
    const same = this.found.findIndex((f) => f.widget.env === widget.env && f.widget.position === widget.position && f.resource === resource);
    if (same === -1) this.found.push(found);
    else if (urlOf(error) < urlOf(this.found[same]!.error)) this.found[same] = found;
    return true;
  }

  /** The run's error for the widgets recorded, or undefined when there are none. */
  error(): PipelineError | undefined {
    // Requests run concurrently, so the order they failed in is timing: the line (and --json's resource and kind)
    // is built from the failures sorted, never from the first recorded. The list named is the one with the most
    // failed items (every resource of today's spec reads the same one); every resource is read per widget from it,
    // so the widgets are told apart by their place in it.
    const lists = new Map<string, Found[]>();
    for (const f of this.found) lists.set(f.widget.env, [...(lists.get(f.widget.env) ?? []), f]);
    const [, inList] = [...lists].sort(([a, x], [b, y]) => y.length - x.length || compare(a, b))[0] ?? [];
    if (!inList) return undefined;
    const sorted = [...inList].sort((a, b) => a.widget.position - b.widget.position || compare(a.resource, b.resource));
    // Each widget once, as it failed for the first resource by name.
    const found = sorted.filter((f, i) => i === 0 || sorted[i - 1]!.widget.position !== f.widget.position);
    const first = found[0]!;
    // One widget for one resource: the message it always had (with the request's URL and id). One widget failing for
    // several resources (a deleted one fails for each) gets the line below, which names them all.
    if (sorted.length === 1 && lists.size === 1) return describeExtractError(first.error, first.resource, first.widget);
    const unknown = found.filter((f) => !f.refused);
    const refused = found.filter((f) => f.refused);
    const where = ` of ${first.widget.of} in ${first.widget.env}`;
    const clauses: string[] = [];
    if (unknown.length > 0) clauses.push(`${names(unknown, where)} ${unknown.length === 1 ? 'is' : 'are'} unknown to the API${statuses(unknown)}`);
    if (refused.length > 0) clauses.push(`${names(refused, clauses.length === 0 ? where : '')} ${refused.length === 1 ? 'was' : 'were'} refused${statuses(refused)}`);
    const them = found.length === 1 ? 'it' : 'them';
    const fix = refused.length > 0
      ? `the credential may not reach ${found.length === 1 ? 'it' : 'the refused ones'}; correct ${them} or remove ${them} from the list`
      : `remove ${them} from the list`;
    const resources = [...new Set(sorted.map((f) => f.resource))].sort(compare);
    return new ExtractError(
      `Extracting ${resources.join(' and ')} failed: ${clauses.join(', and ')} while others were answered: ${fix}`,
      first.resource,
      (first.error as { kind: SnapEngageErrorKind }).kind,
      { cause: first.error },
    );
  }
}

/** `widgets A (item 3), B (item 17) and C (item 41) of 200 in SNAPENGAGE_WIDGET_ID`, the first NAMED of them. */
function names(found: Found[], where: string): string {
  const shown = found.slice(0, NAMED).map((f) => `${f.widget.value} (item ${f.widget.position})`);
  const more = found.length - shown.length;
  const list = more > 0 ? `${shown.join(', ')} and ${more} more` : shown.length === 1 ? shown[0]! : `${shown.slice(0, -1).join(', ')} and ${shown.at(-1)!}`;
  const item = found[0]?.widget.item ?? 'item';
  return `${found.length === 1 ? item : pluralNoun(item)} ${list}${where}`;
}

function statuses(found: Found[]): string {
  const codes = [...new Set(found.map((f) => f.status).filter((s): s is number => s !== undefined))].sort();
  return codes.length === 0 ? '' : ` (HTTP ${codes.join('/')})`;
}

/** Sorts as plain strings, the same on every machine (localeCompare follows the locale). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function urlOf(error: unknown): string {
  return (error as { url?: string }).url ?? '';
}
