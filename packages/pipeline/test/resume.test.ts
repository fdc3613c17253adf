// resume.ts on its own: where a replacing consumer resumes, what a replace commits, and the windows the load info
// prints (INCREMENTAL.md: "replace", "Child resources", "Newest record"). The parent/child cases it shares with the
// planner are in plan.test.ts ("incremental windows of parents and children") and cursor.test.ts.
import { describe, expect, it } from 'vitest';
import { planPipeline } from '../src/plan.js';
import { committedWindows, stateToCommit, statesToResume } from '../src/resume.js';

const env = { SNAPENGAGE_BASE_URL: 'http://127.0.0.1:9', SNAPENGAGE_ORG_ID: 'org', SNAPENGAGE_API_TOKEN: 'tok', SNAPENGAGE_API_KEY: 'k', SNAPENGAGE_WIDGET_ID: 'w1,w2', SNAPENGAGE_START_DATE: '2025-01-01' };
const w = (ends: Record<string, string>) => ({ windows: Object.fromEntries(Object.entries(ends).map(([k, lastEnd]) => [k, { lastEnd }])) });
const iso = (seconds: number) => new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
const withValue = (lastEnd: string, lastValue: number) => ({ lastEnd, cursorField: 'created_at_seconds', lastValue, lastValueAt: iso(lastValue) });

describe('resume points and committed windows', () => {
  it('drives a child that replaces its tables through the whole window every run, whatever parent windows it stored', () => {
    const plans = planPipeline({ resources: { logs: true, chat_poll: { writeDisposition: 'replace' } } }, env).resources;
    const stored = new Map<string, unknown>([
      ['logs', w({ w1: '2025-02-10' })],
      ['chat_poll', { parents: { logs: w({ w1: '2025-02-10' }) } }],
    ]);
    expect(statesToResume(plans, stored).get('logs')).toEqual({ windows: {}, consumers: { logs: w({ w1: '2025-02-10' }).windows, chat_poll: {} } });
  });

  it('commits only the windows a replacing resource read: a widget not in this run loses its window with its rows', () => {
    const plans = planPipeline({ resources: { logs: { writeDisposition: 'replace' } } }, env).resources;
    const stored = new Map<string, unknown>([['logs', w({ w1: '2025-02-10', w2: '2025-02-10' })]]);
    const extracted = new Map([['logs', w({ w1: '2025-03-01' })]]);
    expect(stateToCommit(plans[0]!, plans, stored, extracted)).toEqual(w({ w1: '2025-03-01' }));
    // Nothing read (a --limit-pages sample): no window at all.
    expect(stateToCommit(plans[0]!, plans, stored, new Map())).toBeNull();
  });

  it('adds the first day a sample read per widget beside the windows, kept by later loads, only this run\'s for a replace', () => {
    const both = planPipeline({ resources: { logs: true, chat_poll: true } }, env).resources;
    const [logs, chatPoll] = [both.find((p) => p.name === 'logs')!, both.find((p) => p.name === 'chat_poll')!];
    const stored = new Map<string, unknown>([
      ['logs', { ...w({ w1: '2025-02-10' }), sampled: { w1: { firstStart: '2025-01-05' }, w2: { firstStart: '2025-01-20' } } }],
      ['chat_poll', { parents: { logs: { ...w({ w1: '2025-02-10' }), sampled: { w2: { firstStart: '2025-01-20' } } } } }],
    ]);
    const sample = new Map([['logs', { w1: { firstStart: '2025-01-09' }, w2: { firstStart: '2025-01-02' } }]]);
    // The earlier day per widget, the windows as stored.
    const merged = { ...w({ w1: '2025-02-10' }), sampled: { w1: { firstStart: '2025-01-05' }, w2: { firstStart: '2025-01-02' } } };
    expect(stateToCommit(logs, both, stored, new Map(), sample)).toEqual(merged);
    expect(stateToCommit(chatPoll, both, stored, new Map(), sample)).toEqual({ parents: { logs: { ...w({ w1: '2025-02-10' }), sampled: { w2: { firstStart: '2025-01-02' }, w1: { firstStart: '2025-01-09' } } } } });
    // A full load advances the windows and keeps the days sampled: the sample's rows are still there.
    const extracted = new Map([['logs', w({ w1: '2025-03-01' })]]);
    expect(stateToCommit(logs, both, stored, extracted)).toEqual({ ...w({ w1: '2025-03-01' }), sampled: { w1: { firstStart: '2025-01-05' }, w2: { firstStart: '2025-01-20' } } });
    expect(stateToCommit(chatPoll, both, stored, extracted)).toEqual({ parents: { logs: { ...w({ w1: '2025-03-01' }), sampled: { w2: { firstStart: '2025-01-20' } } } } });
    // A replace deleted the rows of earlier samples: only this one's days, and no window.
    const replaced = planPipeline({ resources: { logs: { writeDisposition: 'replace' } } }, env).resources;
    expect(stateToCommit(replaced[0]!, replaced, stored, new Map(), sample)).toEqual({ windows: {}, sampled: sample.get('logs') });
  });

  it('prints the windows as committed: the newest value over all runs, from the child that holds them when logs is not loaded', () => {
    const both = planPipeline({ resources: { logs: true, chat_poll: true } }, env).resources;
    const extracted = new Map([['logs', { windows: { w1: withValue('2025-03-01', 1_740_000_000) } }]]);
    // A stored value newer than this run's records stays (never lowered), and the load info says so.
    const stored = new Map<string, unknown>([['logs', { windows: { w1: withValue('2025-02-10', 1_740_500_000) } }]]);
    expect(committedWindows(both, stored, extracted)).toEqual({ logs: { w1: withValue('2025-03-01', 1_740_500_000) } });
    // chat_poll alone: the parent windows it keeps are what it commits, not logs' own state (another consumer's).
    const childOnly = planPipeline({ resources: { chat_poll: true } }, env).resources;
    const both2 = new Map<string, unknown>([
      ['logs', { windows: { w1: withValue('2025-02-10', 1_740_900_000) } }],
      ['chat_poll', { parents: { logs: { windows: { w1: withValue('2025-02-10', 1_740_300_000) } } } }],
    ]);
    expect(committedWindows(childOnly, both2, extracted)).toEqual({ logs: { w1: withValue('2025-03-01', 1_740_300_000) } });
  });
});
