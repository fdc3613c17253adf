// What one value of a resource's `each` list is (a widget for every resource of today's spec): the spec says it
// (x-snapengage-resource params: item), and the load info, `show` and errors count and name values with it.
import { describe, expect, it } from 'vitest';
import { resources, type LoadableResource } from 'snapengage-client';
import { describeWindows, listItemNoun } from '../src/cursor.js';
import { describeExtractError } from '../src/errors.js';
import { WidgetFailures } from '../src/widget-failures.js';
import { SnapEngageError } from 'snapengage-client';

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
    expect(lines.at(-1)).toBe('  departments  ... 7 more departments (the furthest behind are above; openDataset(...).state() has every window)');
  });

  // Today's spec says `widget` only; an item the spec may name later must not read "categorys" or "inboxs" (a blind
  // "s" was added in the load info, `show` and the widget errors alike).
  it.each([
    ['category', 'categories'],
    ['inbox', 'inboxes'],
    ['branch', 'branches'],
    ['day', 'days'],
    ['widget', 'widgets'],
    // Only the noun's end decides: "sh" as "ch", a noun already ending in "s", and an "s" or a consonant's "y" inside
    // the word changing nothing.
    ['brush', 'brushes'],
    ['status', 'statuses'],
    ['system', 'systems'],
  ])('says the plural of %s as %s wherever it counts or names several', (item, items) => {
    const windows = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`k-${i}`, { lastEnd: '2026-01-01' }]));
    const lines = describeWindows('logs', windows, item);
    expect(lines[0]).toContain(`  12 ${items}  `);
    expect(lines.at(-1)).toContain(`... 7 more ${items} (`);

    const context = (value: string, position: number) => ({ item, env: 'SNAPENGAGE_WIDGET_ID', value, position, of: 5, othersAnswered: true });
    const gone = () => new SnapEngageError({ kind: 'not_found', status: 404, message: 'HTTP 404', operation: 'GET x', url: 'http://127.0.0.1:9/x' });
    expect(describeExtractError(gone(), 'logs', context('a', 1)).message).toContain(`while other ${items} of the list were answered`);
    const refused = new SnapEngageError({ kind: 'auth', status: 403, message: 'HTTP 403', operation: 'GET x', url: 'http://127.0.0.1:9/x' });
    expect(describeExtractError(refused, 'logs', context('a', 1)).message).toContain(`while other ${items} of the list were answered`);
    const failures = new WidgetFailures({}, []);
    failures.record(gone(), 'logs', context('a', 1));
    failures.record(gone(), 'logs', context('b', 2));
    expect(failures.error()?.message).toContain(`: ${items} a (item 1) and b (item 2) of 5 in SNAPENGAGE_WIDGET_ID are unknown`);
  });
});
