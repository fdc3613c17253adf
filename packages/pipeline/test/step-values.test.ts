// step-values.ts on its own: what checkMappedRecord makes of a map step's record, and onOneLine's joins. The run's
// path (the step named, the row stored, row and fast paths alike) is in map-steps.test.ts; these pin the cases it
// does not reach.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import { checkMappedRecord, onOneLine } from '../src/step-values.js';

const WHERE = 'resources.logs.steps[0] (map)';

describe('checkMappedRecord', () => {
  it('replaces an object with toJSON inside a list by what it returns, in a copy', () => {
    class Money {
      toJSON() {
        return 'USD 5';
      }
    }
    const record = { id: 'c1', prices: [1, new Money(), { at: new Money() }] };
    expect(checkMappedRecord(record, WHERE)).toEqual({ id: 'c1', prices: [1, 'USD 5', { at: 'USD 5' }] });
    // The step's own object is left as it was.
    expect(record.prices[1]).toBeInstanceOf(Money);
  });

  it('refuses a SharedArrayBuffer (no own keys: it was stored as an empty object), naming the field', () => {
    expect(() => checkMappedRecord({ id: 'c1', blob: new SharedArrayBuffer(4) }, WHERE)).toThrow(
      new ConfigError(`${WHERE} returned a record whose blob is a SharedArrayBuffer, which no column can hold: return its bytes as text or a list`),
    );
  });

  it('refuses a toJSON that returns its own object as a cycle, not with a stack overflow', () => {
    const self = { a: 1, toJSON() { return this; } };
    expect(() => checkMappedRecord({ id: 'c1', self }, WHERE)).toThrow(
      new ConfigError(`${WHERE} returned a record whose self is the object it is inside (a cycle), which no column can hold: return a copy without the reference back`),
    );
  });
});

describe('onOneLine', () => {
  it('joins lines after punctuation with a space, and others with "; "', () => {
    expect(onOneLine('Invalid record.\nname: required\n\nage is not a number\r\nlast')).toBe('Invalid record. name: required; age is not a number; last');
  });
});
