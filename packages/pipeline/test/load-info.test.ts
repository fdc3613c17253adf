// The printed load info's layout (its notes: plan.test.ts and the tests of what each note reports).
import { describe, expect, it } from 'vitest';
import { LoadInfo } from '../src/load-info.js';

describe('load info', () => {
  it('aligns the row counts by display width: a table named from a CJK key takes two columns a character', () => {
    const rowCounts = { logs: 1, logs__标签: 22, logs__labels_x: 333 };
    const text = new LoadInfo('p', 'ds', 'db.duckdb', '1.000001', new Date(0), new Date(1000), rowCounts, {}, []).toString();
    const rows = text.split('\n').slice(text.split('\n').indexOf('Rows loaded:') + 1);
    expect(rows).toEqual(['  logs            1', '  logs__labels_x  333', '  logs__标签      22']);
  });
});
