// What a pending attempt, retry wait or beforeAttempt wait listens to for an abort: the call's own signals, and the
// client-level `signal`. That one is shared by every call of a client for as long as the client lives (an app's
// shutdown signal): with one listener per pending wait on it, the eleventh concurrent call made Node print
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected", though nothing leaked. The client listens
// to it once, while anything waits, and fans the abort out. (No Node-only import: events.setMaxListeners is Node's.)

export interface AbortSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  /** Calls `onAbort` once, with the reason, when the source aborts; returns what stops listening. */
  listen(onAbort: (reason: unknown) => void): () => void;
}

/** A signal of one call: one listener on it per wait. */
export function ownSignal(signal: AbortSignal): AbortSource {
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason as unknown;
    },
    listen(onAbort) {
      const listener = (): void => onAbort(signal.reason);
      signal.addEventListener('abort', listener, { once: true });
      return () => signal.removeEventListener('abort', listener);
    },
  };
}

/**
 * A signal shared by every call: one listener on it while any wait listens, none otherwise (so a client the app drops
 * leaves nothing on a signal that outlives it).
 */
export function sharedSignal(signal: AbortSignal): AbortSource {
  // A fresh entry per listen(): the same function may listen twice, and each stop removes its own.
  const waiting = new Set<{ onAbort: (reason: unknown) => void }>();
  const fire = (): void => {
    const all = [...waiting];
    waiting.clear();
    for (const entry of all) entry.onAbort(signal.reason);
  };
  return {
    get aborted() {
      return signal.aborted;
    },
    get reason() {
      return signal.reason as unknown;
    },
    listen(onAbort) {
      const entry = { onAbort };
      if (waiting.size === 0) signal.addEventListener('abort', fire, { once: true });
      waiting.add(entry);
      return () => {
        if (waiting.delete(entry) && waiting.size === 0) signal.removeEventListener('abort', fire);
      };
    },
  };
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
