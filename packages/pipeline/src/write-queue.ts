// The buffer between extraction and the resource writers: pages' records are batched per resource and written
// through one chain, so fetching goes on while DuckDB stages a batch, and fetchers wait only when the writers fall
// behind; a failed write is kept and thrown from the next push or flush. It is apart from run.ts because it is the
// run's back-pressure between fetching and DuckDB, with sizes of its own tuned by measurement (below).
import type { SourceRecord } from './config.js';
import type { ResourceWriter } from './destination/index.js';
import { describeDestinationError } from './duckdb-errors.js';
import type { ResourcePlan } from './plan.js';

/**
 * Records per `writer.write` call. Writes only stage lines, so a batch needs to be just big enough to amortize the
 * call; every queued record is live JS heap (measured at 200k cases: 250 instead of 1000 keeps the heap ~20 MiB
 * smaller and the peak RSS ~50 MiB lower, at the same speed).
 */
const BATCH_RECORDS = 250;
/** Batches waiting for DuckDB before fetchers are made to wait. */
const MAX_QUEUED_BATCHES = 3;

/**
 * Batches records per resource and writes them through ONE chain (DuckDB writes are serialized), so pages keep
 * arriving while a batch is being written; a producer waits only when several batches are already queued.
 */
export class WriteQueue {
  private readonly buffers = new Map<string, SourceRecord[]>();
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private failure: unknown;

  constructor(
    private readonly writers: Map<string, ResourceWriter>,
    private readonly path: string,
  ) {}

  async push(plan: ResourcePlan, records: SourceRecord[]): Promise<void> {
    this.throwIfFailed();
    const buffer = this.buffers.get(plan.name) ?? [];
    for (const record of records) buffer.push(record);
    this.buffers.set(plan.name, buffer);
    if (buffer.length >= BATCH_RECORDS) {
      this.buffers.set(plan.name, []);
      this.enqueue(plan.name, buffer);
    }
    while (this.queued >= MAX_QUEUED_BATCHES && this.failure === undefined) await this.tail;
    this.throwIfFailed();
  }

  async flush(): Promise<void> {
    for (const [name, buffer] of this.buffers) if (buffer.length > 0) this.enqueue(name, buffer);
    this.buffers.clear();
    await this.tail;
    this.throwIfFailed();
  }

  /** Waits for queued writes to finish without throwing (before aborting the writers). */
  async drain(): Promise<void> {
    await this.tail;
  }

  private enqueue(name: string, batch: SourceRecord[]): void {
    const writer = this.writers.get(name);
    if (!writer) return;
    this.queued++;
    this.tail = this.tail.then(async () => {
      try {
        if (this.failure === undefined) await writer.write(batch);
      } catch (error) {
        this.failure ??= error;
      } finally {
        this.queued--;
      }
    });
  }

  private throwIfFailed(): void {
    if (this.failure !== undefined) throw describeDestinationError(this.failure, this.path, 'staging');
  }
}
