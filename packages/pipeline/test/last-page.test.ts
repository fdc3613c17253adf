// Whether a page ends its request sequence (page-records.ts lastPage): the extractor asks the client's iterator for
// no next page after it. It must agree with the iterator (snapengage-client pagination.ts), which ends on a missing,
// null or empty link and fails on a link of another type: such a page is not the last, so that error still comes.
import { describe, expect, it } from 'vitest';
import { lastPage } from '../src/page-records.js';

describe('lastPage', () => {
  it('is the last page without a next link (absent, null, empty) or when the resource is read as single pages', () => {
    for (const body of [{ cases: [] }, { cases: [], linkToNextSetOfResults: null }, { cases: [], linkToNextSetOfResults: '' }]) {
      expect(lastPage(body, 'linkToNextSetOfResults')).toBe(true);
    }
    expect(lastPage({ cases: [], linkToNextSetOfResults: 'https://x.test/next' }, null)).toBe(true);
    expect(lastPage({ data: { next: null } }, 'data.next')).toBe(true);
  });

  it('is not the last page with a link, nor with a link that is no URL text (the iterator fails on it)', () => {
    expect(lastPage({ linkToNextSetOfResults: 'https://x.test/next' }, 'linkToNextSetOfResults')).toBe(false);
    expect(lastPage({ data: { next: '/next?page=2' } }, 'data.next')).toBe(false);
    for (const link of [0, 42, false, { href: 'https://x.test/next' }, ['https://x.test/next']]) {
      expect(lastPage({ linkToNextSetOfResults: link }, 'linkToNextSetOfResults')).toBe(false);
    }
  });
});
