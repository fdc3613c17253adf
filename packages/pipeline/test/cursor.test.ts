// The incremental cursorField at run time (cursor.ts): the newest value per widget in the committed state, never
// lowered by a rerun, shown by `show` and the load info, tolerant of garbage values, untouched by a --limit-pages
// sample, and a warning when records come back far outside the window they were requested for. Against the sandbox
// over loopback into real DuckDB files.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { CursorWatch, cursorInstant, describeSampled, describeWindows, mergeWindow } from '../src/cursor.js';
import { definePipeline, runPipeline, showDataset } from '../src/index.js';
import { planPipeline } from '../src/plan.js';
import { stateToCommit } from '../src/resume.js';
import { admin, PACKAGE_DIR, query, sandbox, tempDir, truth } from './helpers.js';

interface Window {
  lastEnd: string;
  cursorField?: string;
  lastValue?: number | string;
  lastValueAt?: string;
}

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');

describe('cursor values', () => {
  const now = Date.parse('2026-11-26T14:03:11Z');

  it('reads epoch seconds and milliseconds by magnitude, digit strings and ISO dates; ignores the rest', () => {
    expect(cursorInstant(1_795_702_991, now)).toBe(1_795_702_991_000);
    expect(cursorInstant(1_795_702_991_123, now)).toBe(1_795_702_991_123);
    expect(cursorInstant('1795702991', now)).toBe(1_795_702_991_000);
    expect(cursorInstant('2026-11-26T14:03:11Z', now)).toBe(now);
    expect(cursorInstant('2026-11-26 14:03:11', now)).toBe(now); // no offset: UTC
    expect(cursorInstant('2026-11-26T16:03:11+02:00', now)).toBe(now);
    expect(cursorInstant('2026-11-26', now)).toBe(Date.parse('2026-11-26T00:00:00Z'));
    for (const garbage of [null, undefined, '', 'yesterday', '1', '2026-02-30', '2026-02-30T10:00:00Z', '2026-04-31 08:00', 0, -5, Number.NaN, true, {}, [], '2026-11-26T14:03:11 PST']) {
      expect(cursorInstant(garbage, now), JSON.stringify(garbage)).toBeUndefined();
    }
    // Before 2000 or more than a day after the clock: not a creation time.
    expect(cursorInstant(Date.UTC(1999, 11, 31) / 1000, now)).toBeUndefined();
    expect(cursorInstant(now / 1000 + 2 * 86_400, now)).toBeUndefined();
  });

  it('counts as strays the records more than a day before or after a past window (a backfill slice), not those within', () => {
    const watch = new CursorWatch(now);
    const slice = { resource: 'logs', cursorField: 'created_at_seconds', partition: 'w1', start: '2026-10-01', end: '2026-10-07' };
    const at = (day: string) => ({ created_at_seconds: Date.parse(`${day}Z`) / 1000 });
    // Within: the window's days, and up to a day either side (time zones); a later one is still a real instant (≤ now).
    watch.see(slice, [at('2026-09-30T00:00:00'), at('2026-10-07T23:59:59'), at('2026-10-08T23:59:59')]);
    expect(watch.outOfWindow).toBeUndefined();
    watch.see(slice, [at('2026-11-20T10:00:00'), at('2026-09-29T23:59:59'), at('2026-10-09T00:00:00')]);
    expect(watch.outOfWindow).toEqual({ records: 3, resource: 'logs', partition: 'w1', cursorField: 'created_at_seconds', value: Date.parse('2026-11-20T10:00:00Z') / 1000, at: '2026-11-20T10:00:00Z', start: '2026-10-01', end: '2026-10-07' });
    // The one after the window is the newest value all the same: state records what came back.
    expect(watch.stateOf('logs', 'w1', 'created_at_seconds')?.lastValueAt).toBe('2026-11-20T10:00:00Z');
  });

  it('merges a window keeping the newest value of the current field', () => {
    const at = (lastEnd: string, lastValue?: number, cursorField = 'created_at_seconds'): Window =>
      lastValue === undefined ? { lastEnd } : { lastEnd, cursorField, lastValue, lastValueAt: iso(lastValue) };
    expect(mergeWindow(at('2026-11-20', 1_795_000_000), at('2026-11-26', 1_795_702_991), 'created_at_seconds')).toEqual(at('2026-11-26', 1_795_702_991));
    expect(mergeWindow(at('2026-11-20', 1_795_702_991), at('2026-11-26', 1_795_000_000), 'created_at_seconds')).toEqual(at('2026-11-26', 1_795_702_991));
    expect(mergeWindow(at('2026-11-20', 1_795_702_991), at('2026-11-26'), 'created_at_seconds')).toEqual(at('2026-11-26', 1_795_702_991));
    expect(mergeWindow(undefined, at('2026-11-26'), 'created_at_seconds')).toEqual(at('2026-11-26'));
    // The spec changed the field: the old field's value is dropped.
    expect(mergeWindow(at('2026-11-20', 1_795_702_991, 'old_field'), at('2026-11-26'), 'created_at_seconds')).toEqual(at('2026-11-26'));
    // A hand-edited stored value that is not one is ignored, not an error.
    expect(mergeWindow({ lastEnd: '2026-11-20', cursorField: 'created_at_seconds', lastValue: 'soon' }, at('2026-11-26'), 'created_at_seconds')).toEqual(at('2026-11-26'));
  });

  it('reads 1e11 and above as milliseconds, a decimal or space-padded digit string as its number', () => {
    // Below 1e11: seconds (99,999,999,999 s is the year 5138: past the clock, ignored); from 1e11: milliseconds.
    expect(cursorInstant(99_999_999_999, now)).toBeUndefined();
    expect(cursorInstant(999_999_999_999, now)).toBe(999_999_999_999); // 2001-09-09T01:46:39.999Z
    expect(cursorInstant('999999999999', now)).toBe(999_999_999_999);
    expect(cursorInstant('1795702991.5', now)).toBe(1_795_702_991_500);
    expect(cursorInstant(' 1795702991 ', now)).toBe(1_795_702_991_000);
    expect(cursorInstant(' 2026-11-26T14:03:11Z', now)).toBe(now);
  });

  it('keeps the earlier first day loaded, ignoring one that is not a day', () => {
    const w = (firstStart?: string) => ({ lastEnd: '2026-11-26', ...(firstStart === undefined ? {} : { firstStart }) });
    expect(mergeWindow(w('2026-10-01'), w('2026-11-01'), 'created_at_seconds').firstStart).toBe('2026-10-01');
    expect(mergeWindow(w('2026-11-01'), w('2026-10-01'), 'created_at_seconds').firstStart).toBe('2026-10-01');
    expect(mergeWindow(w('2026-10-01'), w(), 'created_at_seconds').firstStart).toBe('2026-10-01');
    // A hand-edited first day that is no day (sorted before any date) is not kept over a real one.
    expect(mergeWindow(w('0'), w('2026-10-01'), 'created_at_seconds').firstStart).toBe('2026-10-01');
    expect(mergeWindow(w('2026-02-30'), w('2026-10-01'), 'created_at_seconds').firstStart).toBe('2026-10-01');
  });

  it('keeps a stored ISO text value, and one ahead of this run\'s clock (stored by a run whose clock was ahead): never lowered', () => {
    const stored: Window = { lastEnd: '2026-11-20', cursorField: 'created_at_seconds', lastValue: '2026-11-26T14:03:11Z', lastValueAt: '2026-11-26T14:03:11Z' };
    expect(mergeWindow<Window>(stored, { lastEnd: '2026-11-26' }, 'created_at_seconds')).toEqual({ ...stored, lastEnd: '2026-11-26' });
    const ahead = Math.floor(Date.now() / 1000) + 3 * 86_400;
    const aheadWindow = { lastEnd: '2026-11-20', cursorField: 'created_at_seconds', lastValue: ahead, lastValueAt: iso(ahead) };
    const fresh = { lastEnd: '2026-11-26', cursorField: 'created_at_seconds', lastValue: 1_795_702_991, lastValueAt: iso(1_795_702_991) };
    expect(mergeWindow(aheadWindow, fresh, 'created_at_seconds')).toEqual({ ...aheadWindow, lastEnd: '2026-11-26' });
  });

  it('sums up more than 10 windows: lastEnd days newest first, the span of newest records, the furthest behind first', () => {
    const at = (s: number) => ({ cursorField: 'created_at_seconds', lastValue: s, lastValueAt: iso(s) });
    const t = 1_795_000_000;
    const windows: Record<string, unknown> = {
      w0: { lastEnd: '2026-11-01', firstStart: '2026-10-01', ...at(t) },
      w1: { lastEnd: '2026-11-02', firstStart: '2026-10-01', ...at(t + 300) },
      w2: { lastEnd: '2026-11-02', firstStart: '2026-10-01', ...at(t + 200) },
      w3: { lastEnd: '2026-11-02', firstStart: '2026-10-01' },
      w4: { lastEnd: '2026-11-05', firstStart: '2026-10-01', ...at(t + 100) },
    };
    for (let i = 5; i <= 10; i++) windows[`w${i}`] = { lastEnd: '2026-11-27', firstStart: '2026-10-01', ...at(t + 1000 * i) };
    expect(describeWindows('logs', windows, 'widget')).toEqual([
      `  logs  11 widgets  lastEnd 2026-11-27 (6), 2026-11-05 (1), 2026-11-02 (3), ... (1 other day)  newest record ${iso(t)} to ${iso(t + 10_000)} (1 with none)  from 2026-10-01`,
      // The oldest lastEnd first; on the same day, the oldest newest record, then those with none (counted above).
      `  logs  w0  lastEnd 2026-11-01  newest record ${iso(t)} (created_at_seconds ${t})  from 2026-10-01`,
      `  logs  w2  lastEnd 2026-11-02  newest record ${iso(t + 200)} (created_at_seconds ${t + 200})  from 2026-10-01`,
      `  logs  w1  lastEnd 2026-11-02  newest record ${iso(t + 300)} (created_at_seconds ${t + 300})  from 2026-10-01`,
      '  logs  w3  lastEnd 2026-11-02  from 2026-10-01',
      `  logs  w4  lastEnd 2026-11-05  newest record ${iso(t + 100)} (created_at_seconds ${t + 100})  from 2026-10-01`,
      '  logs  ... 6 more widgets (the furthest behind are above; openDataset(...).state() has every window)',
    ]);
    // A sparse organisation: most widgets never had a case, all windows current. Listed first, they named five of them
    // (in state order, the same five every day) and hid the widget whose cases stopped weeks ago.
    const sparse: Record<string, unknown> = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`q${i}`, { lastEnd: '2026-11-27', firstStart: '2026-10-01' }]));
    for (let i = 0; i < 10; i++) sparse[`b${i}`] = { lastEnd: '2026-11-27', firstStart: '2026-10-01', ...at(t + 1000 * (10 - i)) };
    expect(describeWindows('logs', sparse, 'widget').slice(0, 3)).toEqual([
      `  logs  30 widgets  lastEnd 2026-11-27  newest record ${iso(t + 1000)} to ${iso(t + 10_000)} (20 with none)  from 2026-10-01`,
      `  logs  b9  lastEnd 2026-11-27  newest record ${iso(t + 1000)} (created_at_seconds ${t + 1000})  from 2026-10-01`,
      `  logs  b8  lastEnd 2026-11-27  newest record ${iso(t + 2000)} (created_at_seconds ${t + 2000})  from 2026-10-01`,
    ]);
    // Ten are listed one line each; three days are all named; every window with a newest record says none is without.
    const ten = Object.fromEntries(Object.entries(windows).slice(0, 10));
    expect(describeWindows('logs', ten, 'widget')).toHaveLength(10);
    const threeDays = Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, { lastEnd: `2026-11-0${(i % 3) + 1}`, firstStart: '2026-10-01', ...at(t) }]));
    expect(describeWindows('logs', threeDays, 'widget')[0]).toBe(`  logs  11 widgets  lastEnd 2026-11-03 (3), 2026-11-02 (4), 2026-11-01 (4)  newest record ${iso(t)} to ${iso(t)}  from 2026-10-01`);
  });

  it("OPERATIONS.md's many-widgets example is what the load info prints for the widgets it names", () => {
    // The example was copied from a run against 300 sandbox widgets: rebuilt here from its own lines (the 5 listed, and
    // 295 others newer than them up to the summary's newest record), so a change of wording or order shows up here.
    const doc = readFileSync(join(PACKAGE_DIR, 'OPERATIONS.md'), 'utf8');
    const block = /With 300 widgets[^\n]*\n```\n([\s\S]*?)```/.exec(doc)?.[1]?.trimEnd().split('\n');
    expect(block).toHaveLength(7);
    const summary = /^ {2}logs {2}300 widgets {2}lastEnd (\S+) {2}newest record \S+ to (\S+) {2}from (\S+)$/.exec(block![0]!);
    expect(summary).not.toBeNull();
    const [, lastEnd, newest, firstStart] = summary!;
    const windows: Record<string, unknown> = {};
    for (const line of block!.slice(1, 6)) {
      const [, key, seconds] = /^ {2}logs {2}(\S+) {2}lastEnd .* \(created_at_seconds (\d+)\)/.exec(line)!;
      windows[key!] = { lastEnd, firstStart, cursorField: 'created_at_seconds', lastValue: Number(seconds), lastValueAt: iso(Number(seconds)) };
    }
    const last = Date.parse(newest!) / 1000;
    for (let i = 0; i < 295; i++) {
      const s = i === 294 ? last : last - 1000 + i;
      windows[`other-${i}`] = { lastEnd, firstStart, cursorField: 'created_at_seconds', lastValue: s, lastValueAt: iso(s) };
    }
    expect(describeWindows('logs', windows, 'widget')).toEqual(block);
  });

  it('lists the sampled days of up to 10 widgets one line each, as the windows are, and more as one line', () => {
    const sampled = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`w${i}`, { firstStart: '2026-11-20' }]));
    const ten = describeSampled('logs', sampled(10), 'widget');
    expect(ten).toEqual(Array.from({ length: 10 }, (_, i) => `  logs  w${i}  sampled from 2026-11-20 (--limit-pages)`));
    expect(describeSampled('logs', sampled(11), 'widget')).toEqual(['  logs  11 widgets  sampled from 2026-11-20 (--limit-pages)']);
    expect(describeSampled('logs', {}, 'widget')).toEqual([]);
  });

  it('commits the max per widget for a resource and for the parent windows a child keeps; other widgets as stored', () => {
    const env = { SNAPENGAGE_ORG_ID: 'o', SNAPENGAGE_API_TOKEN: 't', SNAPENGAGE_API_KEY: 'k', SNAPENGAGE_WIDGET_ID: 'w1' };
    const plans = planPipeline({ resources: { logs: true, chat_poll: true } }, env).resources;
    const [logs, chatPoll] = [plans.find((p) => p.name === 'logs')!, plans.find((p) => p.name === 'chat_poll')!];
    const old = (lastEnd: string, lastValue: number): Window => ({ lastEnd, cursorField: 'created_at_seconds', lastValue, lastValueAt: iso(lastValue) });
    const stored = new Map<string, unknown>([
      ['logs', { windows: { w1: old('2026-11-20', 1_795_702_991), w2: old('2026-11-20', 1_795_000_000) } }],
      ['chat_poll', { parents: { logs: { windows: { w1: old('2026-11-20', 1_795_100_000) } } } }],
    ]);
    const extracted = new Map([['logs', { windows: { w1: old('2026-11-26', 1_795_200_000) } }]]);
    expect(stateToCommit(logs, plans, stored, extracted)).toEqual({ windows: { w1: old('2026-11-26', 1_795_702_991), w2: old('2026-11-20', 1_795_000_000) } });
    expect(stateToCommit(chatPoll, plans, stored, extracted)).toEqual({ parents: { logs: { windows: { w1: old('2026-11-26', 1_795_200_000) } } } });
  });
});

describe('the newest cursor value in the incremental state', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  let widgets: string[];

  const readWindows = async (resource = 'logs') => {
    const [row] = await query(path, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = '${resource}'`);
    return (JSON.parse(String(row?.state)) as { windows: Record<string, Window> }).windows;
  };
  /** The newest created_at_seconds the sandbox holds for a widget. */
  const truthNewest = async (widget: string) => {
    const response = await fetch(`${box.url}/__sandbox/truth?resource=logs&widgetId=${widget}`);
    const cases = (await response.text()).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { created_at_seconds?: unknown });
    return Math.max(...cases.map((c) => (typeof c.created_at_seconds === 'number' ? c.created_at_seconds : 0)));
  };

  beforeAll(async () => {
    box = await sandbox({ cases: 400, widgets: 2, days: 6 });
    tmp = tempDir('cursor-');
    path = join(tmp.dir, 'cursor.duckdb');
    widgets = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('commits the newest created_at_seconds of each widget with its window, and show and the load info print it', async () => {
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    const windows = await readWindows();
    expect(Object.keys(windows).sort()).toEqual([...widgets].sort());
    const newest = await Promise.all(widgets.map(truthNewest));
    expect(newest[0]).not.toBe(newest[1]); // two widgets, two values: kept apart
    for (const [i, widget] of widgets.entries()) {
      expect(windows[widget]).toEqual({
        lastEnd: new Date().toISOString().slice(0, 10),
        cursorField: 'created_at_seconds',
        lastValue: newest[i],
        lastValueAt: iso(newest[i]!),
        firstStart: box.env.SNAPENGAGE_START_DATE,
      });
    }
    const text = info.toString();
    expect(info.notes.outOfWindow).toBeUndefined();
    expect(text).not.toContain('Warning');
    const shown = await showDataset({ path, dataset: 'snapengage_data' });
    for (const [i, widget] of widgets.entries()) {
      const line = `  logs  ${widget}  lastEnd ${windows[widget]!.lastEnd}  newest record ${iso(newest[i]!)} (created_at_seconds ${newest[i]})  from ${box.env.SNAPENGAGE_START_DATE}`;
      expect(text.split('\n')).toContain(line);
      expect(shown.split('\n')).toContain(line);
    }
    expect(info.toJSON().incremental?.logs?.[widgets[0]!]?.lastValue).toBe(newest[0]);
  });

  it('a rerun keeps the max: a stored value newer than every record stays; a new case raises only its widget', async () => {
    const [a, b] = widgets as [string, string];
    const before = await readWindows();
    // A stored value newer than any record the rerun will see (as if newer records had been loaded and deleted since).
    const ahead = before[b]!.lastValue as number + 3600;
    const edited = { windows: { ...before, [b]: { ...before[b], lastValue: ahead, lastValueAt: iso(ahead) } } };
    await query(path, `UPDATE snapengage_data._pipeline_state SET state = '${JSON.stringify(edited)}' WHERE resource = 'logs'`, 'READ_WRITE');
    // A new case for widget a, created now, so newer than anything loaded.
    const [id] = ((await admin(box, 'cases', { widgetId: a, cases: [{ description: 'fresh' }] })) as { ids: string[] }).ids;

    await runPipeline(config, { env: box.env, destination: { path } });
    const after = await readWindows();
    const injected = (await truth(box)).find((c) => c.id === id)!;
    expect(after[a]!.lastValue).toBe(injected.created_at_seconds);
    expect(after[a]!.lastValue as number).toBeGreaterThan(before[a]!.lastValue as number);
    expect(after[b]).toEqual({ ...before[b], lastValue: ahead, lastValueAt: iso(ahead) });
    expect(await showDataset({ path, dataset: 'snapengage_data' })).toContain(`  logs  ${b}  lastEnd ${after[b]!.lastEnd}  newest record ${iso(ahead)} (created_at_seconds ${ahead})`);
  });

  it('a --limit-pages sample leaves the value as it was', async () => {
    const before = await readWindows();
    await admin(box, 'cases', { widgetId: widgets[1], cases: [{ description: 'sampled only' }] });
    const info = await runPipeline(config, { env: box.env, destination: { path }, limitPages: 1 });
    expect(await readWindows()).toEqual(before);
    expect(info.toString()).not.toContain('Incremental state:');
  });

  it('ignores garbage and null cursor values, and warns once when records come back far outside their window', async () => {
    const [a] = widgets as [string, string];
    const before = await readWindows();
    const monthAgo = Math.floor(Date.now() / 1000) - 30 * 86_400;
    // Listed today (created_at_milliseconds orders them in the sandbox), but with cursor values that are not today's.
    const hourAgo = Date.now() - 3_600_000;
    await admin(box, 'cases', {
      widgetId: a,
      cases: [
        { description: 'garbage', created_at_milliseconds: hourAgo, created_at_seconds: 'soon' },
        { description: 'null', created_at_milliseconds: hourAgo, created_at_seconds: null },
        { description: 'stray 1', created_at_milliseconds: hourAgo, created_at_seconds: monthAgo },
        { description: 'stray 2', created_at_milliseconds: hourAgo, created_at_seconds: monthAgo + 60 },
      ],
    });
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    const after = await readWindows();
    // The stray records are older, garbage is ignored: the newest value is the one the sandbox's newest case has.
    expect(after[a]!.lastValue).toBe(before[a]!.lastValue);
    expect(info.notes.outOfWindow).toMatchObject({ records: 2, resource: 'logs', partition: a, cursorField: 'created_at_seconds', value: monthAgo, at: iso(monthAgo) });
    const warnings = info.toString().split('\n').filter((line) => line.startsWith('Warning'));
    expect(warnings).toEqual([
      expect.stringMatching(/^Warning: 2 records of logs came back with created_at_seconds more than a day outside the requested window \(first: \S+Z, \S+, requested \d{4}-\d{2}-\d{2}\.\.\d{4}-\d{2}-\d{2}\): the API may have ignored the date parameters/),
    ]);
    expect(await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE description IN ('garbage', 'null', 'stray 1', 'stray 2')`)).toEqual([{ n: 4 }]);
  });

  it('a child selected alone keeps the newest parent value per widget in its parents windows, and show prints it', async () => {
    const childPath = join(tmp.dir, 'child.duckdb');
    const small = await sandbox({ cases: 40, widgets: 2, days: 2 });
    try {
      await runPipeline(definePipeline({ resources: { chat_poll: true }, rateLimit: { requestsPerSecond: 0 } }), { env: small.env, destination: { path: childPath } });
      const [row] = await query(childPath, `SELECT state FROM snapengage_data._pipeline_state WHERE resource = 'chat_poll'`);
      const windows = (JSON.parse(String(row?.state)) as { parents: { logs: { windows: Record<string, Window> } } }).parents.logs.windows;
      const shown = await showDataset({ path: childPath, dataset: 'snapengage_data' });
      for (const widget of small.env.SNAPENGAGE_WIDGET_ID!.split(',')) {
        const cases = (await (await fetch(`${small.url}/__sandbox/truth?resource=logs&widgetId=${widget}`)).text()).split('\n').filter((l) => l.trim() !== '');
        const newest = Math.max(...cases.map((l) => Number((JSON.parse(l) as { created_at_seconds: number }).created_at_seconds)));
        expect(windows[widget]).toMatchObject({ cursorField: 'created_at_seconds', lastValue: newest });
        expect(shown).toContain(`  chat_poll  (via logs)  ${widget}  lastEnd ${windows[widget]!.lastEnd}  newest record ${iso(newest)}`);
      }
    } finally {
      await small.close();
    }
  });
});
