// The parameters a parent record gives its child requests (page-records.ts childRequests). Unit level: the sandbox's
// ids are texts, and an integer id beyond 2^53 (which the client reads as a BigInt, largeIntegers: 'bigint') is what
// a tolerant reading of an unknown real API must still pass on.
import { describe, expect, it } from 'vitest';
import { childRequests } from '../src/page-records.js';
import type { ResourcePlan } from '../src/plan.js';

const poll = {
  name: 'chat_poll',
  resource: { params: { caseId: { in: 'path', required: true, from: 'parent', resource: 'logs', field: 'id' } } },
} as unknown as ResourcePlan;

describe('childRequests', () => {
  it('passes a parent id beyond 2^53 on with every digit, not as a missing one', () => {
    const [request] = childRequests([poll], { id: 9007199254740993n }, {}, {});
    expect(request?.lacking).toBeUndefined();
    expect(request?.params).toEqual({ caseId: '9007199254740993' });
  });

  it('passes texts and numbers on as they are, and names a missing required field', () => {
    expect(childRequests([poll], { id: 'ca5e' }, {}, {})[0]?.params).toEqual({ caseId: 'ca5e' });
    expect(childRequests([poll], { id: 42 }, {}, {})[0]?.params).toEqual({ caseId: 42 });
    expect(childRequests([poll], { id: '' }, {}, {})[0]?.lacking).toEqual({ param: 'caseId', field: 'logs.id' });
  });
});
