// Every reading the sandbox serves of what the real API leaves unknown (how a last page says "no more", a trailing
// empty page, the Visitor Chat booleans, the quirks of the case bodies, faults), loaded end to end by runPipeline
// with every loadable resource, over a long history: since 2e1550e a long window is asked for whole first, then in
// ~sqrt(days x sliceDays)-day pieces, then in slices, and a probe page that links a next one is dropped (extract.ts,
// readRange). Each reading must give exactly the truth on the first load and on a rerun after new cases and late
// survey results, with no duplicates, and advance the incremental state.
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox, SandboxOptions } from 'snapengage-sandbox';
import { definePipeline, runPipeline, type PipelineConfig } from '../src/index.js';
import { admin, expectMatchesTruth, query, sandbox, tempDir, truth, withQueries, type TruthCase } from './helpers.js';

const DATASET = 'snapengage_data';
const DAY_MS = 86_400_000;
const ALL = { logs: true, chat_poll: true, visitor_typing: true, widgets: true, users: true, chat_availability: true } as const;
// Retry-After 0: the sandbox's default of 1 s holds every request for a second per 429 (the loader's limiter, limits.ts).
const FAULTS = '429=0.1,500=0.05,reset=0.02,truncate=0.02,retryAfter=0';

interface Reading {
  name: string;
  options: SandboxOptions;
  /** The loader's `incremental.endDay` for logs (default inclusive). */
  endDay?: 'exclusive';
}

// One sandbox per reading: 400 days of 4 widgets of very different volumes (weights 1, 1/2, 1/3, 1/4 of 200 cases,
// plus a burst of 150 in the busiest), so that each level of the probe is met: the quieter widgets' whole windows fit
// one page each, the busiest one's probe links a next page (dropped) and most of its pieces fit one page, and the
// burst's piece is busy too and read in 7-day slices, one of them over two pages.
const readings: Reading[] = [
  { name: 'last page without a link (absent), chat booleans as in the doc', options: { lastPageLink: 'absent', chatBooleans: 'doc' } },
  { name: 'last page link ""', options: { lastPageLink: 'empty' } },
  { name: 'last page link null', options: { lastPageLink: 'null' } },
  { name: 'trailing empty page', options: { trailingEmptyPage: true } },
  { name: 'trailing empty page, last page link ""', options: { trailingEmptyPage: true, lastPageLink: 'empty' } },
  { name: 'trailing empty page, last page link null', options: { trailingEmptyPage: true, lastPageLink: 'null' } },
  { name: 'chat booleans all strings', options: { chatBooleans: 'string' } },
  { name: 'chat booleans all JSON booleans', options: { chatBooleans: 'boolean', lastPageLink: 'null' } },
  { name: 'quirks', options: { quirks: true } },
  { name: 'quirks, trailing empty page, last page link ""', options: { quirks: true, trailingEmptyPage: true, lastPageLink: 'empty' } },
  { name: `quirks with faults ${FAULTS}`, options: { quirks: true, faults: FAULTS } },
  { name: 'end day exclusive, loaded with endDay exclusive', options: { endDay: 'exclusive', lastPageLink: 'empty' }, endDay: 'exclusive' },
];

let box: Sandbox | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
  box = undefined;
  tmp = undefined;
});

const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
const daysBetween = (start: string, end: string) => (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / DAY_MS + 1;

/**
 * What the Visitor Chat API answers for each case now (404: the loader stores nothing for it), as the truth of the two
 * children; visitor_typing's only when `typing` (one request per case, only worth it where it is compared).
 */
async function childTruth(b: Sandbox, cases: TruthCase[], typing_: boolean): Promise<{ polls: TruthCase[]; typing: TruthCase[] }> {
  const headers = { 'x-api-key': b.env.SNAPENGAGE_API_KEY! };
  const polls: TruthCase[] = [];
  const typing: TruthCase[] = [];
  const widgetOf = new Map<string, string>();
  for (const widgetId of b.credentials.widgetIds) {
    for (const line of (await (await fetch(`${b.url}/__sandbox/truth?resource=logs&widgetId=${widgetId}`)).text()).split('\n')) {
      if (line.trim() !== '') widgetOf.set((JSON.parse(line) as TruthCase).id, widgetId);
    }
  }
  for (let i = 0; i < cases.length; i += 100) {
    await Promise.all(cases.slice(i, i + 100).map(async ({ id }) => {
      const poll = await fetch(`${b.url}/api/v1/chat/poll/${encodeURIComponent(id)}?index=0`, { headers });
      if (poll.status !== 404) polls.push((await poll.json()) as TruthCase);
      else await poll.arrayBuffer();
      if (!typing_) return;
      const widgetId = widgetOf.get(id)!;
      const typed = await fetch(`${b.url}/public/api/v2/chat/${widgetId}/${encodeURIComponent(id)}/visitorTyping`, { headers });
      if (typed.status !== 404) typing.push({ ...((await typed.json()) as { data: Record<string, unknown> }).data, widgetId, caseId: id } as unknown as TruthCase);
      else await typed.arrayBuffer();
    }));
  }
  return { polls, typing };
}

/**
 * The loaded resources against the sandbox's truth (the children against what the API answers now): `logs` and
 * `chat_poll` (the windows drive both), and with `all` the others too (each comparison reads every row of its tables,
 * so the first load of each reading checks only what the probe reads).
 */
async function expectAllMatch(b: Sandbox, path: string, all: boolean): Promise<TruthCase[]> {
  const cases = await truth(b);
  // Every comparison on one read-only connection (nothing writes the file meanwhile): opened once, not per table.
  return withQueries(path, async (run) => {
    expect(await expectMatchesTruth(run, DATASET, cases)).toEqual([]);
    const { polls, typing } = await childTruth(b, cases, all);
    expect(polls.length).toBeGreaterThan(0);
    expect(await expectMatchesTruth(run, DATASET, polls, 'chat_poll', 'caseId')).toEqual([]);
    if (all) {
      expect(await expectMatchesTruth(run, DATASET, typing, 'visitor_typing', 'caseId')).toEqual([]);
      expect(await expectMatchesTruth(run, DATASET, await truth(b, 'widgets'), 'widgets', 'uuid')).toEqual([]);
      expect(await expectMatchesTruth(run, DATASET, await truth(b, 'users'), 'users', 'email')).toEqual([]);
      expect(await expectMatchesTruth(run, DATASET, await truth(b, 'chat_availability'), 'chat_availability', 'widgetId')).toEqual([]);
    }
    // No key stored twice in any root table (expectMatchesTruth counts per table too; this says it plainly).
    const keys = [['logs', 'id'], ['chat_poll', 'case_id'], ['visitor_typing', 'case_id'], ['widgets', 'uuid'], ['users', 'email'], ['chat_availability', 'widget_id']];
    const counts = await run(keys.map(([table, key]) => `SELECT '${table}' AS t, count(*)::INTEGER AS n, count(DISTINCT ${key})::INTEGER AS d FROM ${DATASET}.${table}`).join(' UNION ALL '));
    for (const row of counts) expect(row.n, String(row.t)).toBe(row.d);
    return cases;
  });
}

type Windows = Record<string, { lastEnd: string; lastValue?: number | string; lastValueAt?: string }>;

async function storedWindows(path: string): Promise<{ logs: Windows; chat_poll: Windows; visitor_typing: Windows }> {
  const rows = await query(path, `SELECT resource, state FROM ${DATASET}._pipeline_state`);
  const of = (resource: string) => {
    const state = JSON.parse(String(rows.find((r) => r.resource === resource)?.state)) as { windows?: Windows; parents?: { logs: { windows: Windows } } };
    return state.windows ?? state.parents!.logs.windows;
  };
  return { logs: of('logs'), chat_poll: of('chat_poll'), visitor_typing: of('visitor_typing') };
}

/** The newest created_at_seconds of each widget's cases in the truth. */
async function newestPerWidget(b: Sandbox): Promise<Record<string, number>> {
  const newest: Record<string, number> = {};
  for (const widgetId of b.credentials.widgetIds) {
    const lines = (await (await fetch(`${b.url}/__sandbox/truth?resource=logs&widgetId=${widgetId}`)).text()).split('\n').filter((l) => l.trim() !== '');
    newest[widgetId] = Math.max(...lines.map((l) => Number((JSON.parse(l) as TruthCase).created_at_seconds)));
  }
  return newest;
}

describe('every reading of the API the sandbox serves, over a long history read through the probe', () => {
  it.each(readings)('$name: exactly the truth on a first load of 400 days and on a rerun, no duplicates, state advanced', async ({ options, endDay }) => {
    const faulty = options.faults !== undefined;
    // Fewer cases under faults: each 429 slows every request down for a while, and each retried 500, reset or cut
    // body waits its backoff (0.5 s and up).
    box = await sandbox({ seed: 11, cases: faulty ? 120 : 200, widgets: 4, days: 400, ...options });
    tmp = tempDir();
    const path = `${tmp.dir}/readings.duckdb`;
    const widgets = box.credentials.widgetIds;
    const today = dayOf(Date.now());
    // A burst in the busiest widget: 150 cases within one UTC day, 200 days ago, so that its piece of ~53 days links a
    // next page, and so does the 7-day slice holding that day (a day is never cut between pieces or slices).
    const burstStart = Math.floor(Date.now() / DAY_MS - 200) * 86_400 + 3_600;
    await admin(box, 'cases', { widgetId: widgets[0], cases: Array.from({ length: 150 }, (_, i) => ({ created_at_seconds: burstStart + i * 400 })) });
    // Recent cases in another widget, for late survey results the rerun's lookback must bring in.
    const recent = (await admin(box, 'cases', { widgetId: widgets[1], cases: [0, 1, 2].map((i) => ({ created_at_seconds: Math.floor(Date.now() / 1000) - 3_600 + i })) }) as { ids: string[] }).ids;

    // 429s need the limiter, configured high: it halves its rate on a 429 (once a second) and steps back up by 10 % of
    // the configured rate every 2 s without one, and the sandbox's 429s come at random, whatever the rate. Measured on
    // this case's first load (708 requests): 6.7 s at 1,000/s, 61 s at 200/s (down to 0.83/s); with none configured
    // the limiter starts at half the rate of the second the first 429 came in, a few requests at the run's start, and
    // 500 requests took 212 s. More request slots, as a retry waits its backoff in its slot. The backoff is short
    // (20 ms base, not 500): its length is not what this case tests, only that every fault is retried into the truth.
    const config: PipelineConfig = definePipeline({
      resources: endDay ? { ...ALL, logs: { incremental: { endDay } } } : ALL,
      ...(faulty ? { rateLimit: { requestsPerSecond: 1000 }, concurrency: 8, connection: { maxRetries: 10, retryBaseDelayMs: 20 } } : { rateLimit: { requestsPerSecond: 0 } }),
    });
    // The Logs API requests each run sent, once each (a retry sends the same URL again).
    const sent = new Map<string, URL>();
    const fetchSpy = (request: Request) => {
      const url = new URL(request.url);
      if (url.pathname.endsWith('/logs')) sent.set(url.href, url);
      return globalThis.fetch(request);
    };

    const first = await runPipeline(config, { env: box.env, destination: { path }, fetch: fetchSpy });
    // The checks read the API's own answers for the children: without faults.
    if (faulty) await admin(box, 'faults', { faults: '' });
    const cases = await expectAllMatch(box, path, false);
    expect(first.rowCounts.logs).toBe(cases.length);
    const windows = await storedWindows(path);
    const newest = await newestPerWidget(box);
    for (const resource of ['logs', 'chat_poll', 'visitor_typing'] as const) {
      expect(Object.keys(windows[resource]).sort(), resource).toEqual([...widgets].sort());
      for (const widget of widgets) {
        expect(windows[resource][widget]?.lastEnd, `${resource} ${widget}`).toBe(today);
        expect(windows[resource][widget]?.lastValue, `${resource} ${widget}`).toBe(newest[widget]);
      }
    }

    {
      const logsRequests = [...sent.values()];
      // The probe did its three levels: each widget's window asked whole (400 days) once; the quietest widget read
      // in that one request; the busiest one down to 7-day slices, one of them over more than one page.
      const firstPages = logsRequests.filter((u) => u.searchParams.has('start'));
      const byWidget = (w: string) => firstPages.filter((u) => u.searchParams.get('widgetId') === w);
      // The days wanted: with endDay exclusive the loader asks for one more.
      const span = (u: URL) => daysBetween(u.searchParams.get('start')!, u.searchParams.get('end')!) - (endDay ? 1 : 0);
      for (const w of widgets) expect(byWidget(w).filter((u) => span(u) === 400)).toHaveLength(1);
      const quietest = widgets[widgets.length - 1]!;
      // Besides the run's end-day check (end-day-check.ts), two days asked again, maybe of this widget.
      const check = (u: URL) => !endDay && daysBetween(u.searchParams.get('start')!, u.searchParams.get('end')!) === 2;
      expect(logsRequests.filter((u) => u.searchParams.get('widgetId') === quietest && !check(u))).toHaveLength(1);
      expect(byWidget(widgets[0]!).some((u) => span(u) > 7 && span(u) < 400)).toBe(true);
      expect(byWidget(widgets[0]!).some((u) => span(u) <= 7)).toBe(true);
      expect(logsRequests.some((u) => u.searchParams.has('next'))).toBe(true);
    }

    // New cases (the busiest and the quietest widget) and late survey results on recent ones; then a rerun.
    const injected = await admin(box, 'cases', { widgetId: widgets[0], cases: [{ description: 'new after the first load' }, { description: 'and another' }] }) as { ids: string[] };
    await admin(box, 'cases', { widgetId: widgets[widgets.length - 1], cases: [{ description: 'new in the quietest widget' }] });
    await admin(box, 'surveys', { updates: recent.map((caseId, i) => ({ caseId, survey_score: 90 + i, survey_comments: `late ${i}` })) });

    sent.clear();
    if (faulty) await admin(box, 'faults', { faults: FAULTS });
    await runPipeline(config, { env: box.env, destination: { path }, fetch: fetchSpy });
    if (faulty) await admin(box, 'faults', { faults: '' });
    const after = await expectAllMatch(box, path, true);
    expect(after).toHaveLength(cases.length + 3);
    expect(after.map((c) => c.id)).toEqual(expect.arrayContaining(injected.ids));
    const scores = await query(path, `SELECT id FROM ${DATASET}.logs WHERE survey_comments LIKE 'late %'`);
    expect(scores).toHaveLength(recent.length);
    // The rerun read only the lookback days (yesterday and today), never the history again.
    for (const u of [...sent.values()].filter((u) => u.searchParams.has('start'))) expect(daysBetween(u.searchParams.get('start')!, u.searchParams.get('end')!)).toBeLessThanOrEqual(endDay ? 3 : 2);
    const rerun = await storedWindows(path);
    const newer = await newestPerWidget(box);
    for (const resource of ['logs', 'chat_poll', 'visitor_typing'] as const) {
      for (const widget of widgets) {
        expect(rerun[resource][widget]?.lastEnd, `${resource} ${widget}`).toBe(today);
        expect(rerun[resource][widget]?.lastValue, `${resource} ${widget}`).toBe(newer[widget]);
      }
      // Advanced where new cases came: the newest record is the one injected after the first load.
      for (const widget of [widgets[0]!, widgets[widgets.length - 1]!]) {
        expect(Number(rerun[resource][widget]?.lastValue), `${resource} ${widget}`).toBeGreaterThan(Number(windows[resource][widget]?.lastValue));
      }
    }
  });
});
