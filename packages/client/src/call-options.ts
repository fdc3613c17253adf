// The numeric options a client takes and a call may override (`client.GET(path, { params, maxRetries: 0 })`), and the
// rules both share. openapi-fetch copies the call's extra option keys onto the Request it hands to middleware, which is
// how a call's own maxRetries and timeoutMs reach the transport.

/** Timers take at most 2^31 - 1 ms (about 24.8 days); Node turns a longer delay into 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

export type NumberOptionName = 'timeoutMs' | 'maxRetries' | 'retryBaseDelayMs' | 'retryAfterCapMs' | 'maxResponseBytes';

const RULES: Record<NumberOptionName, { integer: boolean; min: number; timer: boolean }> = {
  timeoutMs: { integer: false, min: 1, timer: true },
  maxRetries: { integer: true, min: 0, timer: false },
  retryBaseDelayMs: { integer: false, min: 0, timer: true },
  retryAfterCapMs: { integer: false, min: 0, timer: true },
  maxResponseBytes: { integer: true, min: 1, timer: false },
};

/** What is wrong with a value of the option, or undefined when it is fine. */
export function numberOptionProblem(name: NumberOptionName, value: unknown): string | undefined {
  const { integer, min, timer } = RULES[name];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    return `must be ${integer ? 'an integer' : 'a number'} >= ${min}, got ${typeof value === 'string' ? `"${value}"` : String(value)}`;
  }
  if (timer && value > MAX_TIMER_MS) return `must be at most ${MAX_TIMER_MS} ms (about 24.8 days), got ${String(value)}`;
  return undefined;
}

/** Settings one call may override; read off openapi-fetch's Request for the call. */
export interface CallOverrides {
  /** This call's re-sends after the first attempt, instead of the client's `maxRetries`. */
  maxRetries?: number | undefined;
  /** This call's timeout per attempt in milliseconds, instead of the client's `timeoutMs`. */
  timeoutMs?: number | undefined;
}

/**
 * The call's own `maxRetries` and `timeoutMs`, or the problem with one of them (`per-call maxRetries: must be …`).
 * `undefined` means the client's setting.
 */
export function callOverrides(request: Request): { overrides: CallOverrides } | { problem: string } {
  const overrides: CallOverrides = {};
  for (const name of ['maxRetries', 'timeoutMs'] as const) {
    const value = (request as unknown as Partial<Record<NumberOptionName, unknown>>)[name];
    if (value === undefined) continue;
    const problem = numberOptionProblem(name, value);
    if (problem) return { problem: `per-call ${name}: ${problem}` };
    overrides[name] = value as number;
  }
  return { overrides };
}
