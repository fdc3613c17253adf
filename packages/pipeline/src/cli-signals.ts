// SIGINT, SIGTERM and SIGHUP for the CLI, caught from the first moment: the entry (cli.ts) installs these before it imports
// anything else. Installed once the command's modules had loaded (~0.1-0.25 s in), a signal before that killed the
// process with no line and no `--json` document, and where Node is PID 1 (a container without an init) it was lost.
// This module imports nothing, so that it loads at once.

export interface CliSignals {
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** Called on the first signal, if set by then (the run aborts; a signal before it is in `received`). */
  onFirst: ((signal: NodeJS.Signals) => void) | undefined;
  /**
   * Called on every later signal, which must end the process: the user asked twice. Without it (a command other
   * than `run`), a later signal ends the process with the shell's code for it.
   */
  onAgain: ((signal: NodeJS.Signals) => void) | undefined;
  /**
   * For a command that does not stop on the AbortSignal (show, --help): the handlers are removed, and a signal that
   * already came ends the process as it would have without them.
   */
  release(): void;
}

/** 128 + the signal's number, as shells report a process a signal ended: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGTERM' ? 143 : signal === 'SIGHUP' ? 129 : 130;
}

/**
 * The signals that stop a run as a cancel: Ctrl-C, a stop (systemd, docker, CI), and the terminal closing (SIGHUP; on
 * Windows, the console window). Left to Node's default, a SIGHUP ended the run at once, with no line and an in-memory
 * run's staged rows left in the temp directory.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export function installCliSignals(): CliSignals {
  const signals: CliSignals = {
    received: undefined,
    onFirst: undefined,
    onAgain: undefined,
    release() {
      for (const name of STOP_SIGNALS) process.off(name, handle);
      if (signals.received) process.exit(signalExitCode(signals.received));
    },
  };
  const handle = (signal: NodeJS.Signals) => {
    if (signals.received === undefined) {
      (signals as { received: NodeJS.Signals }).received = signal;
      signals.onFirst?.(signal);
    } else if (signals.onAgain) {
      signals.onAgain(signal);
    } else {
      process.exit(signalExitCode(signal));
    }
  };
  for (const name of STOP_SIGNALS) process.on(name, handle);
  return signals;
}

/**
 * Settles as `work` does, or rejects with `stopped()` as soon as `signal` aborts. For what does not watch the run's
 * signal (loading the config): a config whose top-level await never settled made one SIGTERM wait for it for ever.
 */
export function unlessAborted<T>(work: Promise<T>, signal: AbortSignal, stopped: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(stopped());
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
