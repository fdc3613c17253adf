// What an extraction counts on the way for the load info: 404s a child may skip, 204 answers, parent records with no
// value for a child's parameter, next links a single-page resource left unread, and the child request sequences
// these are out of. It is apart from extract.ts, which decides what to request, because none of it steers a request:
// the extractor only notes each event here, and runPipeline reads the totals into LoadInfo's notes.

export class ExtractCounts {
  /** Per child resource with `notFound: skip`: parent records its API answered 404 for. */
  readonly notFound = new Map<string, number>();
  /** Per resource: requests answered 204 No Content (no records). */
  readonly noContent = new Map<string, number>();
  /** Per child resource: request sequences started (one per parent record). */
  readonly childSequences = new Map<string, number>();
  /** Per child resource: parent records with no value for a required parameter (so no request), and the first such one. */
  readonly missing = new Map<string, { records: number; param: string; field: string }>();
  /** Per resource read as single pages: responses that linked a next page anyway (the spec's paginator is off). */
  readonly unfollowed = new Map<string, number>();
  /** Per resource: request sequences --limit-pages stopped while the API linked a next page. */
  readonly cutShort = new Map<string, number>();
  /**
   * Per top-level resource read once per item of an env list (each widget of SNAPENGAGE_WIDGET_ID): the items whose
   * every request of this resource is done (its children's may still be running), of the list's. Pages and records
   * alone never said how far a first load of 300 widgets was.
   */
  readonly listItems = new Map<string, { done: number; total: number }>();

  /** The counter of `resource`'s `total` list items when an env list fans it out (`fansOut`), else undefined. */
  listed(resource: string, total: number, fansOut: boolean): { done: number; total: number } | undefined {
    if (!fansOut) return undefined;
    const items = { done: 0, total };
    this.listItems.set(resource, items);
    return items;
  }

  /** Per resource: requests answered 204 No Content, read as no records. */
  get noContentResponses(): Record<string, number> {
    return Object.fromEntries(this.noContent);
  }

  /** Per child resource with `notFound: skip`: how many parent records its API answered 404 for, of how many asked. */
  get notFoundRecords(): Record<string, { notFound: number; requested: number }> {
    return Object.fromEntries([...this.notFound].map(([name, n]) => [name, { notFound: n, requested: this.childSequences.get(name) ?? n }]));
  }

  /**
   * Per child resource: parent records it sent no request for, a required parameter's field being missing or not a
   * value (a spec's param field the API does not send), of the parent records it was driven by.
   */
  get missingParentValues(): Record<string, { records: number; of: number; param: string; field: string }> {
    return Object.fromEntries([...this.missing].map(([name, m]) => [name, { ...m, of: m.records + (this.childSequences.get(name) ?? 0) }]));
  }

  /** Per resource whose spec says `single_page`: responses that linked a next page, left unread. */
  get unfollowedNextLinks(): Record<string, number> {
    return Object.fromEntries(this.unfollowed);
  }

  /** Per resource: request sequences a --limit-pages sample stopped before their last page. */
  get sampledCutShort(): Record<string, number> {
    return Object.fromEntries(this.cutShort);
  }
}

export function increment(counts: Map<string, number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** Retries other than 429s (the rate-limit line has those): requests retried, and retries per reason. */
export interface RetryReport {
  requests: number;
  reasons: Record<string, number>;
}

/**
 * The client's retries of the run, from its request events (`retryReasons`). Without it a run slowed by a flaky API
 * (backoff waits of up to 20 s each) looked no different from a healthy one unless it ran with --verbose.
 */
export class RetryTally {
  private requests = 0;
  private readonly reasons = new Map<string, number>();

  add(reasons: readonly string[] | undefined): void {
    const counted = (reasons ?? []).filter((reason) => reason !== 'HTTP 429');
    if (counted.length === 0) return;
    this.requests++;
    for (const reason of counted) this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
  }

  get report(): RetryReport {
    return { requests: this.requests, reasons: Object.fromEntries(this.reasons) };
  }
}
