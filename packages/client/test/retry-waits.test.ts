// retry.ts's waits on their own: the sleep between attempts and the app's beforeAttempt hook, each ended by an abort,
// leave no timer and no listener behind. Hand mutation testing (round 6) found the sandbox tests pass without these
// rules: a call aborted while it waits ends either way there, but a timer left running holds a CLI open for the
// retry's delay, and a listener left on a long-lived signal piles up with every call.
import { getEventListeners } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ownSignal } from '../src/abort-sources.js';
import { sleep, waitBeforeAttempt } from '../src/retry.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('sleep', () => {
  it('rejects at once with the reason of a source aborted before it starts', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    await expect(sleep(60_000, [ownSignal(controller.signal)])).rejects.toThrow('shutting down');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('clears its timer when aborted, and stops listening once its time is up', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const waiting = sleep(60_000, [ownSignal(controller.signal)]);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    expect(vi.getTimerCount()).toBe(0);

    const kept = new AbortController();
    const done = sleep(1_000, [ownSignal(kept.signal)]);
    expect(getEventListeners(kept.signal, 'abort')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await done;
    expect(getEventListeners(kept.signal, 'abort')).toHaveLength(0);
  });
});

describe('waitBeforeAttempt', () => {
  it('does not call the hook when a source has aborted already (a limiter would give a token to nothing)', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const hook = vi.fn(async () => undefined);
    await waitBeforeAttempt(hook, [ownSignal(controller.signal)]);
    expect(hook).not.toHaveBeenCalled();
  });
});
