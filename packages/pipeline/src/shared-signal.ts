// An app may give one AbortSignal (its shutdown signal) to every run, and to runs at once (a worker loading several
// orgs). Each run listening to it for itself put one listener per run on it: the eleventh run at once made Node print
// "MaxListenersExceededWarning: Possible EventTarget memory leak detected", though nothing leaked. Runs follow a
// signal through one listener, there while any run follows it (the client does the same for its calls).

interface Followers {
  readonly callbacks: Set<{ onAbort: () => void }>;
  readonly fire: () => void;
}

const followed = new WeakMap<AbortSignal, Followers>();

/** Calls `onAbort` once when `signal` aborts (at once if it has); returns what stops following it. */
export function followSignal(signal: AbortSignal, onAbort: () => void): () => void {
  if (signal.aborted) {
    onAbort();
    return () => undefined;
  }
  let followers = followed.get(signal);
  if (!followers) {
    const callbacks = new Set<{ onAbort: () => void }>();
    const fire = (): void => {
      followed.delete(signal);
      const all = [...callbacks];
      callbacks.clear();
      for (const entry of all) entry.onAbort();
    };
    followers = { callbacks, fire };
    followed.set(signal, followers);
    signal.addEventListener('abort', fire, { once: true });
  }
  // A fresh entry per call: the same function may follow twice, and each stop removes its own.
  const entry = { onAbort };
  const { callbacks, fire } = followers;
  callbacks.add(entry);
  return () => {
    if (!callbacks.delete(entry) || callbacks.size > 0) return;
    signal.removeEventListener('abort', fire);
    if (followed.get(signal)?.fire === fire) followed.delete(signal);
  };
}
