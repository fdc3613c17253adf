// What one value of a resource's `each` list is (a widget for every resource of today's spec): the spec says it
// (x-snapengage-resource params: item), and the load info, `show` and errors count and name values with it.
import { describe, expect, it } from 'vitest';
import { resources, type LoadableResource } from 'snapengage-client';
import { describeWindows, listItemNoun } from '../src/cursor.js';

const catalog = resources as unknown as Record<string, LoadableResource>;

describe('the noun of a list value', () => {
  it("is the spec's item of the each param, the parent's for a child, and 'item' when the spec names none", () => {
    expect(listItemNoun('logs')).toBe('widget');
    expect(listItemNoun('chat_poll')).toBe('widget');
    expect(listItemNoun('users')).toBe('item');
    expect(listItemNoun('no_such_resource')).toBe('item');
    const saved = catalog.logs!.params;
    try {
      catalog.logs!.params = { ...saved, widgetId: { ...saved.widgetId!, item: 'department' } as never };
      expect(listItemNoun('chat_poll')).toBe('department');
    } finally {
      catalog.logs!.params = saved;
    }
  });

  it('counts windows past the listed ones with it', () => {
    const windows = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`d-${i}`, { lastEnd: '2026-01-0' + (i % 9 + 1) }]));
    const lines = describeWindows('departments', windows, 'department');
    expect(lines[0]).toMatch(/^ {2}departments {2}12 departments {2}lastEnd /);
    expect(lines.at(-1)).toBe('  departments  … 7 more departments (the furthest behind are above; openDataset(…).state() has every window)');
  });
});
