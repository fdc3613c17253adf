import { hashUnit } from './random.js';

// Seeded, reproducible faults for the SnapEngage API routes. The fate of the n-th API request is a pure
// function of (seed, n), so a failing test can be replayed. The requests-per-second limit is the only
// time-based fault; requests it rejects do not consume a fate, so the seeded sequence stays reproducible.

/** Probabilities (0..1) of each random fault plus the rate limit and the delay of a slow response. */
export interface FaultSpec {
  /** Answer 429 with `Retry-After`. */
  '429': number;
  /** Answer 500. */
  '500': number;
  /** Send the headers and part of the body, then destroy the socket. */
  reset: number;
  /** Send a cut body with a matching Content-Length, so the client reads invalid JSON. */
  truncate: number;
  /** Delay the response by `slowMs`. */
  slow: number;
  /** Requests per second allowed before answering 429 (0 = no limit). */
  rps: number;
  /** Delay of a slow response in milliseconds. */
  slowMs: number;
  /** `Retry-After` of a 429 in seconds (default 1); -1 (`retryAfter=none`) sends none: the real API's is unknown. */
  retryAfter: number;
  /**
   * Every API answer waits this long before its headers (a round trip to the real API is 50–300 ms; loopback ~0),
   * plus a seeded 0..`jitterMs`. Not a fault: counted nowhere, and it does not consume a fate.
   */
  latencyMs: number;
  jitterMs: number;
  /** Bodies are sent at this many KiB/s, in 10 chunks a second (0 = at once): a slow link, not a stalled one. */
  bodyKBps: number;
}

type FaultKind = '429' | '500' | 'reset' | 'truncate' | 'slow';
export type FaultOutcome = FaultKind | 'rps' | 'none';

const RANDOM_FAULTS: readonly FaultKind[] = ['429', '500', 'reset', 'truncate', 'slow'];
const DEFAULT_SLOW_MS = 2000;
const MAX_SLOW_MS = 60_000;
const MAX_RETRY_AFTER = 3600;
const FAULT_SALT = 0xfa017;
const LATENCY_SALT = 0x1a7e;
const MAX_BODY_KBPS = 1_000_000;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

function emptyFaultSpec(): FaultSpec {
  return { '429': 0, '500': 0, reset: 0, truncate: 0, slow: 0, rps: 0, slowMs: DEFAULT_SLOW_MS, retryAfter: 1, latencyMs: 0, jitterMs: 0, bodyKBps: 0 };
}

/**
 * Parses `429=0.1,500=0.05,reset=0.02,truncate=0.02,slow=0.01,rps=20[,slowMs=2000][,retryAfter=1|none]`
 * `[,latencyMs=100][,jitterMs=50][,bodyKBps=500]`. An empty string means
 * no faults. Throws an Error naming the bad part for an unknown key, a repeated key or a bad number.
 */
export function parseFaultSpec(text: string): FaultSpec {
  const spec = emptyFaultSpec();
  const seen = new Set<string>();
  const trimmed = text.trim();
  if (trimmed === '') return spec;
  for (const part of trimmed.split(',')) {
    const match = /^\s*([A-Za-z0-9]+)\s*=\s*([^\s,]+)\s*$/.exec(part);
    // Quoted as JSON: a line break inside the spec would otherwise split the one-line error in two.
    if (!match) throw new Error(`fault spec: ${JSON.stringify(part.trim())} is not key=value (example: 429=0.1,rps=20)`);
    const key = match[1] ?? '';
    const raw = match[2] ?? '';
    if (seen.has(key)) throw new Error(`fault spec: "${key}" is given twice`);
    seen.add(key);
    if (key === 'retryAfter') {
      const seconds = raw === 'none' ? -1 : /^\d+$/.test(raw) ? Number(raw) : NaN;
      if (!(seconds === -1 || (seconds >= 0 && seconds <= MAX_RETRY_AFTER))) {
        throw new Error(`fault spec: retryAfter=${raw} must be none or whole seconds between 0 and ${MAX_RETRY_AFTER}`);
      }
      spec.retryAfter = seconds;
      continue;
    }
    // Decimal only: Number() also reads 0x1, 0b1 and 0o1, which no one writes for a rate and which hide a typo.
    const value = DECIMAL.test(raw) ? Number(raw) : NaN;
    if (!Number.isFinite(value)) throw new Error(`fault spec: ${key}=${raw} is not a number`);
    if ((RANDOM_FAULTS as readonly string[]).includes(key)) {
      if (value < 0 || value > 1) throw new Error(`fault spec: ${key}=${raw} must be a probability between 0 and 1`);
      spec[key as FaultKind] = value;
    } else if (key === 'rps') {
      // Whole: the limit admits requests one by one within a clock second, so rps=0.5 admitted one a second (twice the
      // limit) and rps=2.5 three.
      if (value < 0 || !Number.isInteger(value)) throw new Error(`fault spec: rps=${raw} must be 0 (no limit) or a whole number of requests per second`);
      spec.rps = value;
    } else if (key === 'slowMs' || key === 'latencyMs' || key === 'jitterMs') {
      if (!Number.isInteger(value) || value < 0 || value > MAX_SLOW_MS) {
        throw new Error(`fault spec: ${key}=${raw} must be an integer between 0 and ${MAX_SLOW_MS}`);
      }
      spec[key] = value;
    } else if (key === 'bodyKBps') {
      if (!(value >= 0 && value <= MAX_BODY_KBPS)) throw new Error(`fault spec: bodyKBps=${raw} must be 0 (no limit) or a positive number up to ${MAX_BODY_KBPS}`);
      spec.bodyKBps = value;
    } else {
      throw new Error(`fault spec: unknown key "${key}" (known: ${[...RANDOM_FAULTS, 'rps', 'slowMs', 'retryAfter', 'latencyMs', 'jitterMs', 'bodyKBps'].join(', ')})`);
    }
  }
  const total = RANDOM_FAULTS.reduce((sum, kind) => sum + spec[kind], 0);
  // Rounded: 0.7+0.2+0.2 is 1.0999999999999999 in binary floating point, not what anyone wrote.
  if (total > 1 + 1e-9) throw new Error(`fault spec: the probabilities add up to ${Number(total.toPrecision(12))}, more than 1`);
  return spec;
}

/** Decides the fate of each API request: the rate limit first, then the seeded random faults. */
export class FaultPlan {
  private requestNumber = 0;
  private windowSecond = -1;
  private windowCount = 0;
  private latencyNumber = 0;

  constructor(
    readonly spec: FaultSpec,
    private readonly key: number,
  ) {}

  /** True when any fault can happen. */
  get active(): boolean {
    return this.spec.rps > 0 || RANDOM_FAULTS.some((kind) => this.spec[kind] > 0);
  }

  /** The wait before the next API answer's headers: `latencyMs` plus its seeded share of `jitterMs`. */
  nextLatency(): number {
    if (this.spec.latencyMs === 0 && this.spec.jitterMs === 0) return 0;
    const n = this.latencyNumber++;
    return this.spec.latencyMs + Math.floor(hashUnit(this.key, LATENCY_SALT, n % 4294967296) * (this.spec.jitterMs + 1));
  }

  next(nowMs: number): FaultOutcome {
    if (this.spec.rps > 0) {
      const second = Math.floor(nowMs / 1000);
      if (second !== this.windowSecond) {
        this.windowSecond = second;
        this.windowCount = 0;
      }
      if (this.windowCount >= this.spec.rps) return 'rps';
      this.windowCount++;
    }
    const n = this.requestNumber++;
    return fateOf(this.spec, this.key, n);
  }
}

/** The seeded fate of request number n (0-based), ignoring the rate limit. */
export function fateOf(spec: FaultSpec, key: number, n: number): FaultKind | 'none' {
  const roll = hashUnit(key, FAULT_SALT, n % 4294967296, Math.floor(n / 4294967296));
  let threshold = 0;
  for (const kind of RANDOM_FAULTS) {
    threshold += spec[kind];
    if (roll < threshold) return kind;
  }
  return 'none';
}
