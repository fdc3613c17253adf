// shared-signal.ts on its own: runs that follow one AbortSignal through one listener. The runs' side (no listener
// left, no MaxListenersExceededWarning) is in embedded.test.ts; these pin who is called, and when.
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { followSignal } from '../src/shared-signal.js';

describe('followSignal', () => {
  it('calls every follower still following when the signal aborts, once, through one listener', () => {
    const controller = new AbortController();
    const called: string[] = [];
    followSignal(controller.signal, () => called.push('a'));
    const stopB = followSignal(controller.signal, () => called.push('b'));
    followSignal(controller.signal, () => called.push('c'));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    // One follower stopping leaves the others following.
    stopB();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    controller.abort();
    expect(called).toEqual(['a', 'c']);
  });

  it('removes its listener when the last follower stops, and follows again afresh after that', () => {
    const controller = new AbortController();
    const called: string[] = [];
    const stops = [followSignal(controller.signal, () => called.push('first')), followSignal(controller.signal, () => called.push('second'))];
    for (const stop of stops) stop();
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    followSignal(controller.signal, () => called.push('third'));
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1);
    controller.abort();
    expect(called).toEqual(['third']);
  });

  it('calls a follower of a signal that has aborted at once, adding no listener', () => {
    const signal = AbortSignal.abort();
    const called: string[] = [];
    followSignal(signal, () => called.push('now'))();
    expect(called).toEqual(['now']);
  });
});
