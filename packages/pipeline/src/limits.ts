// Two limits on top of the client's reactive retries: a semaphore bounds the requests in flight, and a token bucket
// spaces requests out proactively (dlt has only reactive 429 handling; Airbyte's api_budget is the model).

interface Waiter {
  resolve: () => void;
  priority: string;
  order: number;
}

/**
 * Counting semaphore; waiters go in order of priority (smallest first), then first come first served. The waiters
 * are a binary heap: a run queues one per date slice of every widget (200 widgets over years are ~10^5), and picking
 * the next by scanning them all made the queue quadratic.
 */
export class Semaphore {
  private available: number;
  private readonly waiters: Waiter[] = [];
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
    await new Promise<void>((resolve) => this.push({ resolve, priority, order }));
  }

  release(): void {
    const next = this.pop();
    if (next) next.resolve();
    else this.available++;
  }

  private static before(a: Waiter, b: Waiter): boolean {
    return a.priority < b.priority || (a.priority === b.priority && a.order < b.order);
  }

  private push(waiter: Waiter): void {
    const heap = this.waiters;
    heap.push(waiter);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!Semaphore.before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private pop(): Waiter | undefined {
    const heap = this.waiters;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let first = i;
        if (left < heap.length && Semaphore.before(heap[left]!, heap[first]!)) first = left;
        if (right < heap.length && Semaphore.before(heap[right]!, heap[first]!)) first = right;
        if (first === i) break;
        [heap[i], heap[first]] = [heap[first]!, heap[i]!];
        i = first;
      }
    }
    return top;
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

/** Below this a 429 does not cut the rate further: a request every 5 s still gets a run through, slowly. */
const MIN_RATE = 0.2;
/**
 * A cut rate steps back up by this share of its ceiling after each this long without a 429 (a probe: 10 steps to full),
 * or after each hold's length if the last hold was longer: a probe that finds the limit costs a whole hold.
 */
const RECOVERY_STEP_MS = 2_000;
const RECOVERY_SHARE = 0.1;
/** A Retry-After longer than this holds requests only this long (the client caps its own wait the same way). */
const MAX_HOLD_MS = 60_000;
/**
 * A 429 is judged among the API's last this many answers (itself included): it cuts the rate and holds every request
 * only when a third or more of them were 429s. A rate limit answers 429 to a share of requests that grows with the
 * rate sent (1.5 times the limit: a third), and backing off lowers it; 429s that are not about the rate (a load
 * balancer's, a burst limit's) come at a share of their own whatever the rate, and cutting on each one took a run
 * with 10 % of them (the sandbox's 429=0.1) down to 0.28 requests/s. With 10 % of them, 10 in 30 at a 429 has a
 * chance of 0.16 % (7 in 20: 0.9 %); one costs a cut that recovers in 10 s. A 429 below the share only delays its own
 * request, which the client retries after its Retry-After. Applied under a configured rate only (see throttled).
 */
const ANSWER_WINDOW = 30;
/** Requests remembered as answered 429 (refusedAgain); past this the memory starts over. */
const MAX_REFUSED = 10_000;

/** What the API's rate limiting did to a run: its 429 answers and the rate the bucket went down to. */
export interface RateLimitReport {
  /** 429 answers, retries included. */
  throttled: number;
  /** The rate the run started with (0: none). */
  configured: number;
  /** The lowest rate it was cut to. */
  lowest: number;
}

/**
 * Token bucket: `ratePerSecond` tokens a second, bursts up to `burst`. `take()` resolves when a token is available.
 * A rate of 0 or Infinity disables the limit.
 *
 * It adapts to the API (additive increase, multiplicative decrease, as TCP does): `throttled()` (a 429) holds every
 * request until the Retry-After (or one interval) and halves the rate, at most once a second so one burst of 429s
 * counts once; then every 2 s without a 429 adds back 10 % of the starting rate. Without a limit, the first 429
 * starts one at half the rate seen in the last second. The real API's limits are not documented: a fixed rate above
 * them made every request retry until one ran out of retries and failed the run.
 *
 * With a configured rate, only 429s that are a third or more of the last 30 answers do that (see ANSWER_WINDOW), or
 * a 429 for a request refused before (see refusedAgain): `answered()` counts the others. A caller that never calls
 * it (or a 429 that is the first answer) has every 429 count. Without a configured rate every 429 counts.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private queue: Promise<void> = Promise.resolve();
  /** The configured rate, 0 for none (0 or Infinity given). */
  private readonly configured: number;
  private rate: number;
  /** What the rate recovers to: the configured rate, or (none configured) the rate seen when the first 429 came. */
  private ceiling: number;
  private holdUntil = -Infinity;
  /** RECOVERY_STEP_MS, or the last hold if longer: an API that asks for 30 s is not probed every 2 s. */
  private stepMs = RECOVERY_STEP_MS;
  private lastCut = -Infinity;
  private lastStep = -Infinity;
  private throttles = 0;
  private lowest: number;
  /** Requests in the current and the previous second: the rate seen, for an unlimited bucket's first cut. */
  private second = -1;
  private inSecond = 0;
  private inPreviousSecond = 0;
  /** The last ANSWER_WINDOW answers, true for a 429 (a ring), and how many of them are 429s. */
  private readonly answers: boolean[] = [];
  private nextAnswer = 0;
  private throttledAnswers = 0;
  /** Requests (method and URL) answered 429 and not answered otherwise since: see refusedAgain. */
  private readonly refused = new Set<string>();

  constructor(
    readonly ratePerSecond: number,
    private readonly maxBurst: number = Math.max(1, Math.ceil(ratePerSecond)),
    private readonly now: () => number = () => performance.now(),
    /** Injectable so tests can drive the bucket with a fake clock and no real waiting. */
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void> = sleep,
  ) {
    if (!(ratePerSecond >= 0)) throw new RangeError(`rateLimit.requestsPerSecond must be >= 0, got ${ratePerSecond}`);
    this.configured = ratePerSecond === Infinity ? 0 : ratePerSecond;
    this.rate = this.configured;
    this.ceiling = this.rate;
    this.lowest = this.rate;
    this.tokens = maxBurst;
    this.last = now();
  }

  /** No limit now (none configured and no 429 yet, or recovered from them). */
  get unlimited(): boolean {
    return this.rate === 0;
  }

  /** The current rate, requests per second (0: no limit). */
  get currentRate(): number {
    return this.rate;
  }

  get report(): RateLimitReport {
    // Rounded: halving and 10 % steps leave float noise (1.6328125000000002).
    return { throttled: this.throttles, configured: this.configured, lowest: Number(this.lowest.toPrecision(3)) };
  }

  take(signal?: AbortSignal): Promise<void> {
    if (this.unlimited && this.now() >= this.holdUntil) {
      this.count();
      return Promise.resolve();
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    // Chained so that waiters are served in order and each one sees the bucket after the previous took its token.
    const turn = this.queue.then(() => this.waitForToken(signal));
    this.queue = turn.catch(() => undefined);
    if (!signal) return turn;
    // A waiter further back in the line rejects as soon as its signal aborts, not when its turn comes; at its turn it
    // then takes no token (waitForToken checks the signal first).
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      turn.then(
        () => (signal.removeEventListener('abort', onAbort), resolve()),
        (error: unknown) => (signal.removeEventListener('abort', onAbort), reject(error)),
      );
    });
  }

  /**
   * The API answered something other than 429 (an error too): what a 429's share is judged against. `request`
   * (method and URL) as given to `throttled`.
   */
  answered(request?: string): void {
    this.remember(false);
    if (request !== undefined) this.refused.delete(request);
  }

  /**
   * The API answered 429: if 429s are a meaningful share of its recent answers, or this request was refused before
   * (its retry refused again), hold every request and cut the rate (once per second); else leave the rate be (the
   * client retries the request after its Retry-After).
   */
  throttled(retryAfterMs?: number, request?: string): void {
    const t = this.now();
    this.throttles++;
    this.remember(true);
    // Remembered whatever the share: a request first refused among many 429s and refused again once they are few is
    // as much a retry refused again (short-circuited, its first refusal was never remembered).
    const again = this.refusedAgain(request);
    // Only under a configured rate: it already spaces requests out, so a stray 429 may be left to the client's retry.
    // With none, the run's whole concurrency goes at the API, and waiting for a third of the answers to be 429s let a
    // strict limit (1/s, no Retry-After) refuse one request on all its retries and fail the run, which cutting on
    // every 429 did not (soak rps=1,retryAfter=none with no limit, seeds 3 and 7).
    if (this.configured > 0 && 3 * this.throttledAnswers < this.answers.length && !again) return;
    this.refill();
    if (t - this.lastCut >= 1000) {
      if (this.unlimited) {
        this.ceiling = Math.max(MIN_RATE, this.seenRate());
        this.rate = Math.max(MIN_RATE, this.ceiling / 2);
      } else {
        this.rate = Math.max(MIN_RATE, this.rate / 2);
      }
      this.lowest = this.lowest === 0 ? this.rate : Math.min(this.lowest, this.rate);
      this.lastCut = t;
    }
    // At most one token when the hold ends (see refill): the first held request goes then, the others one interval
    // apart. A bucket that filled up during the hold let them all go at once, a burst of 429s against a 1/s API.
    this.tokens = Math.min(this.tokens, 1);
    const hold = retryAfterMs !== undefined && retryAfterMs >= 0 ? Math.min(retryAfterMs, MAX_HOLD_MS) : 1000 / this.rate;
    this.holdUntil = Math.max(this.holdUntil, t + hold);
    this.stepMs = Math.max(RECOVERY_STEP_MS, hold);
  }

  private async waitForToken(signal?: AbortSignal): Promise<void> {
    // Looped: a 429 that comes while this request waits (for the hold or for its token) holds it again and slows it
    // to the new rate; waking and going anyway sent a request into the hold.
    for (;;) {
      signal?.throwIfAborted();
      const held = this.holdUntil - this.now();
      if (held > 0) {
        await this.wait(held, signal);
        continue;
      }
      this.recover();
      if (this.unlimited) break;
      this.refill();
      // The epsilon: a wait of exactly (1 - tokens) / rate can refill to 0.999…9 in floating point.
      if (this.tokens >= 1 - 1e-9) {
        this.tokens = Math.max(0, this.tokens - 1);
        break;
      }
      await this.wait(((1 - this.tokens) / this.rate) * 1000, signal);
    }
    this.count();
  }

  /**
   * Steps a cut rate back up for each 2 s (or the last hold's length, if longer) without a 429 while requests went out (not while they were held: a long
   * Retry-After used to bring the rate all the way back, straight into the next 429); an unlimited bucket that got
   * back up is unlimited again.
   */
  private recover(): void {
    if (this.lastCut === -Infinity || this.unlimited || this.rate >= this.ceiling) return;
    const t = this.now();
    const from = Math.max(this.lastCut, this.lastStep, this.holdUntil);
    const steps = Math.floor((t - from) / this.stepMs);
    if (steps <= 0) return;
    this.refill();
    this.lastStep = from + steps * this.stepMs;
    // 10 % of the ceiling also without a configured limit: a floor of 1/s (half of a 2/s API's ceiling) lifted the
    // limit one step after the cut, and the run's whole concurrency went into the API's limit every few seconds, until
    // a request was refused on all its retries (see the test 'probes back up gradually').
    this.rate = Math.min(this.ceiling, this.rate + steps * this.ceiling * RECOVERY_SHARE);
    // Float drift: 0.5 + 0.1 five times is 0.9999999999999999, which took a sixth step (2 s more) to reach 1.
    if (this.ceiling - this.rate < this.ceiling * 1e-9) this.rate = this.ceiling;
    // Configured as no limit (0 or Infinity): back up, there is none again.
    if (this.rate >= this.ceiling && this.configured === 0) this.rate = 0;
  }

  /**
   * A request whose retry got a 429 again. Below the share, a 429 is left to the client's retry; but a rate limit the
   * run keeps exceeding refuses retries too, and a request refused maxRetries + 1 times fails the run: 429s at a share
   * s exhaust the default 4 retries once in 1/s^5 requests (a fifth: every 3,000; a third: every 250), where a stray
   * 429's retry goes through (a tenth refused again: a cut every ~10th 429, not every one).
   */
  private refusedAgain(request: string | undefined): boolean {
    if (request === undefined) return false;
    if (this.refused.has(request)) return true;
    // Bounded: requests answered 429 once and never again (their retry went elsewhere, or the run ended).
    if (this.refused.size >= MAX_REFUSED) this.refused.clear();
    this.refused.add(request);
    return false;
  }

  private remember(throttled: boolean): void {
    if (this.answers.length < ANSWER_WINDOW) this.answers.push(throttled);
    else {
      if (this.answers[this.nextAnswer]) this.throttledAnswers--;
      this.answers[this.nextAnswer] = throttled;
    }
    this.nextAnswer = (this.nextAnswer + 1) % ANSWER_WINDOW;
    if (throttled) this.throttledAnswers++;
  }

  private count(): void {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.second) {
      this.inPreviousSecond = second === this.second + 1 ? this.inSecond : 0;
      this.second = second;
      this.inSecond = 0;
    }
    this.inSecond++;
  }

  private seenRate(): number {
    const second = Math.floor(this.now() / 1000);
    if (second === this.second) return Math.max(this.inSecond, this.inPreviousSecond);
    return second === this.second + 1 ? this.inSecond : 1;
  }

  private refill(): void {
    const t = this.now();
    if (!this.unlimited) {
      // Time under a hold makes one token at most (see throttled).
      const heldUntil = Math.min(this.holdUntil, t);
      if (heldUntil > this.last) {
        this.tokens = Math.min(1, this.tokens + ((heldUntil - this.last) / 1000) * this.rate);
        this.last = heldUntil;
      }
      const cap = Math.max(1, Math.min(this.maxBurst, Math.ceil(this.rate)));
      this.tokens = Math.min(cap, this.tokens + (Math.max(0, t - this.last) / 1000) * this.rate);
    }
    this.last = t;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
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
