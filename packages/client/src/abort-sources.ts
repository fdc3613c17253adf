// What a pending attempt, retry wait or beforeAttempt wait listens to for an abort: the call's own signals, and the
// client-level `signal`. That one is shared by every call of a client for as long as the client lives (an app's
// shutdown signal): with one listener per pending wait on it, the eleventh concurrent call made Node print
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected", though nothing leaked. A signal an app
// gives every call (its shutdown signal) fared worse: see follow(). The client listens to such a signal once, while
// anything waits, and fans the abort out. (No Node-only import: events.setMaxListeners is Node's.)

export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `onAbort` once, with the reason, when the source aborts; returns what stops listening. */
  listen(onAbort: (reason: unknown) => void): () => void;
}

/** A signal of one call: one listener on it per wait. */
export function ownSignal(signal: AbortSignal): AbortSource {
  return sourceOf(signal, (onAbort) => {
    const listener = (): void => onAbort(signal.reason);
    signal.addEventListener('abort', listener, { once: true });
    return () => signal.removeEventListener('abort', listener);
  });
}

/** The signal's state as an AbortSource, with its way of listening. */
function sourceOf(signal: AbortSignal, listen: AbortSource['listen']): AbortSource {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason as unknown;
    },
    listen,
  };
}

/** The fan-out of each signal in use: one per signal, whichever clients and calls wait on it. */
const fanOuts = new WeakMap<AbortSignal, AbortSource>();

/**
 * A signal shared by calls: one listener on it while any wait listens, none otherwise (so a client the app drops
 * leaves nothing on a signal that outlives it).
 */
export function sharedSignal(signal: AbortSignal): AbortSource {
  let source = fanOuts.get(signal);
  if (!source) fanOuts.set(signal, (source = fanOut(signal)));
  return source;
}

function fanOut(signal: AbortSignal): AbortSource {
  // A fresh entry per listen(): the same function may listen twice, and each stop removes its own.
  const waiting = new Set<{ onAbort: (reason: unknown) => void }>();
  const fire = (): void => {
    const all = [...waiting];
    waiting.clear();
    for (const entry of all) entry.onAbort(signal.reason);
  };
  return sourceOf(signal, (onAbort) => {
    const entry = { onAbort };
    if (waiting.size === 0) signal.addEventListener('abort', fire, { once: true });
    waiting.add(entry);
    return () => {
      if (waiting.delete(entry) && waiting.size === 0) signal.removeEventListener('abort', fire);
    };
  });
}

/**
 * A signal of the call's own that follows the caller's until `release()`: what openapi-fetch gets in its place. Given
 * the caller's signal, openapi-fetch's `new Request(…, { signal })` made undici put a listener on it that goes only when
 * that Request is garbage-collected (nodejs/undici#3157): an app passing its shutdown signal to every call piled them
 * up between collections, and past 1500 Node printed a MaxListenersExceededWarning for each new one.
 */
function follow(signal: AbortSignal): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const source = sharedSignal(signal);
  if (source.aborted) {
    controller.abort(source.reason);
    return { signal: controller.signal, release: () => undefined };
  }
  return { signal: controller.signal, release: source.listen((reason) => controller.abort(reason)) };
}

/** The first source that has aborted already, if any. */
export function firstAborted(sources: readonly AbortSource[]): AbortSource | undefined {
  return sources.find((s) => s.aborted);
}

/** Calls `onAbort` once, when the first of the sources aborts, and stops listening to all; returns what stops listening. */
export function onFirstAbort(sources: readonly AbortSource[], onAbort: (reason: unknown) => void): () => void {
  let stops: Array<() => void> = [];
  const stop = (): void => {
    for (const s of stops) s();
    stops = [];
  };
  stops = sources.map((source) =>
    source.listen((reason) => {
      stop();
      onAbort(reason);
    }),
  );
  return stop;
}

/** A call's followed signal, as the call hands it to the transport: a streamed body that outlives the call takes it. */
export interface SignalHandoff {
  release: () => void;
  /** Set by the transport when a streamed body lets go of it when it ends, instead of the call when it returns. */
  takenByBody: boolean;
}

// openapi-fetch puts a call's extra option keys on the Request it makes (as it does maxRetries and timeoutMs).
const HANDOFF_KEY = 'snapengageSignalHandoff';

export function handoffOf(request: Request): SignalHandoff | undefined {
  return (request as unknown as Record<string, SignalHandoff | undefined>)[HANDOFF_KEY];
}

function isSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && 'aborted' in value && typeof (value as AbortSignal).addEventListener === 'function';
}

/** Sends a call with its `signal` followed (follow()), and lets go of it when the call ends, or its streamed body does. */
export async function withFollowedSignal<R>(init: unknown, send: (init: unknown) => Promise<R>): Promise<R> {
  const signal = (init as { signal?: unknown } | undefined)?.signal;
  if (!isSignal(signal)) return send(init);
  const followed = follow(signal);
  const handoff: SignalHandoff = { release: followed.release, takenByBody: false };
  try {
    return await send({ ...(init as object), signal: followed.signal, [HANDOFF_KEY]: handoff });
  } finally {
    if (!handoff.takenByBody) handoff.release();
  }
}
