import { expect } from 'vitest';
import { SnapEngageError } from '../../src/index.js';

/** The SnapEngageError a call rejects with; fails the test when it resolves or throws anything else. */
export async function caught(promise: Promise<unknown>): Promise<SnapEngageError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(SnapEngageError);
    return error as SnapEngageError;
  }
  throw new Error('expected a SnapEngageError, got a result');
}
