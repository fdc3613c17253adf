// Two limits on top of the client's reactive retries: a semaphore bounds the requests in flight, and a token bucket
// spaces requests out proactively (dlt has only reactive 429 handling; Airbyte's api_budget is the model).

/** Counting semaphore; waiters go in order of priority (smallest first), then first come first served. */
export class Semaphore {
  private available: number;
  private readonly waiters: Array<{ resolve: () => void; priority: string; order: number }> = [];
  private arrivals = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`concurrency must be an integer >= 1, got ${size}`);
    this.available = size;
  }

  async acquire(priority = ''): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    const order = this.arrivals++;
    await new Promise<void>((resolve) => this.waiters.push({ resolve, priority, order }));
  }

  release(): void {
    if (this.waiters.length === 0) {
      this.available++;
      return;
    }
    let next = 0;
    for (let i = 1; i < this.waiters.length; i++) {
      const a = this.waiters[i]!;
      const b = this.waiters[next]!;
      if (a.priority < b.priority || (a.priority === b.priority && a.order < b.order)) next = i;
    }
    this.waiters.splice(next, 1)[0]!.resolve();
  }

  async run<T>(task: () => Promise<T>, priority?: string): Promise<T> {
    await this.acquire(priority);
    try {
      return await task();
    } finally {
      this.release();
    }
  }

  /** Tasks waiting for a slot. */
  get waiting(): number {
    return this.waiters.length;
  }
}

/**
 * Token bucket: `ratePerSecond` tokens a second, bursts up to `burst`. `take()` resolves when a token is available.
 * A rate of 0 or Infinity disables the limit.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number = Math.max(1, Math.ceil(ratePerSecond)),
    private readonly now: () => number = () => performance.now(),
    /** Injectable so tests can drive the bucket with a fake clock and no real waiting. */
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void> = sleep,
  ) {
    if (!(ratePerSecond >= 0)) throw new RangeError(`rateLimit.requestsPerSecond must be >= 0, got ${ratePerSecond}`);
    this.tokens = burst;
    this.last = now();
  }

  get unlimited(): boolean {
    return this.ratePerSecond === 0 || this.ratePerSecond === Infinity;
  }

  take(signal?: AbortSignal): Promise<void> {
    if (this.unlimited) return Promise.resolve();
    // Chained so that waiters are served in order and each one sees the bucket after the previous took its token.
    const turn = this.queue.then(() => this.waitForToken(signal));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    this.refill();
    if (this.tokens < 1) {
      const waitMs = ((1 - this.tokens) / this.ratePerSecond) * 1000;
      await this.wait(waitMs, signal);
      this.refill();
    }
    this.tokens -= 1;
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.ratePerSecond);
    this.last = t;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
