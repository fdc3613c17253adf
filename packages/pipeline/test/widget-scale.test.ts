// Organisations with many widgets and long histories: what a first load and a daily rerun cost in requests, and what
// the load info, show and errors say when there are hundreds of widget windows. Real sandbox over loopback, real files.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createSnapEngageClient } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { existsSync } from 'node:fs';
import { definePipeline, ExtractError, runPipeline, showDataset } from '../src/index.js';
import { Extractor, type PageSource } from '../src/extract.js';
import { addDays, planPipeline, todayUtc } from '../src/plan.js';
import { admin, expectMatchesTruth, sandbox, stats, tempDir, truth } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });

describe('many widgets, two years of history', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let path: string;
  const widgets = 40;

  beforeAll(async () => {
    // Cases per widget fall off as 1/rank (the sandbox's split): widget 1 has ~700, most have a few dozen.
    box = await sandbox({ cases: 3000, widgets, days: 730 });
    tmp = tempDir();
    path = `${tmp.dir}/scale.duckdb`;
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('a first load does not ask for every 7-day slice of every quiet widget (was 105 requests a widget)', async () => {
    const before = (await stats(box)).requests;
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    const requests = (await stats(box)).requests - before;
    expect(info.rowCounts.logs).toBe(3000);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
    // 3,000 cases are 30 full pages; slicing every window cut 2 years into 105 requests per widget: 4,200.
    expect(requests).toBeLessThan(widgets * 8);
    console.log(`first load of ${widgets} widgets over 730 days: ${requests} requests`);
  });

  it('a daily rerun asks once per widget (the end-day check, end-day-check.ts, is for the first load only)', async () => {
    const before = (await stats(box)).requests;
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect((await stats(box)).requests - before).toBe(widgets);
    expect(info.rowCounts.logs).toBe(0);
    // The load info sums the windows up instead of a line per widget, naming those furthest behind.
    const state = String(info).split('Incremental state:\n')[1]!.split('\n');
    expect(state[0]).toMatch(/^ {2}logs {2}40 widgets {2}lastEnd \d{4}-\d\d-\d\d {2}newest record \S+Z to \S+Z {2}from \d{4}-\d\d-\d\d$/);
    expect(state).toHaveLength(7);
    expect(state[6]).toBe('  logs  ... 35 more widgets (the furthest behind are above; openDataset(...).state() has every window)');
    expect(Object.keys(info.notes.incremental!.logs!)).toHaveLength(widgets); // all of them in the JSON
    // Plain ASCII, as the rest of the load info (cron mails it under LANG=C): the summary's `…` came out as three characters.
    expect(String(info)).toMatch(/^[\x00-\x7f]*$/);
  });

  it("the progress counts the widgets done of the list's, up to all of them when the commit begins", async () => {
    const seen: Array<{ phase: string; items: unknown }> = [];
    await runPipeline(config, { env: box.env, destination: { path }, progress: (s) => seen.push({ phase: s.phase, items: s.resources.find((r) => r.name === 'logs')?.items }) });
    const extracting = seen.filter((s) => s.phase === 'extracting').map((s) => s.items as { done: number; total: number });
    expect(extracting.length).toBeGreaterThanOrEqual(widgets); // a page per widget at least
    for (const items of extracting) expect(items.total).toBe(widgets);
    const done = extracting.map((items) => items.done);
    expect(done).toEqual([...done].sort((a, b) => a - b)); // never goes back
    expect(done[0]).toBeLessThan(widgets);
    expect(seen.find((s) => s.phase === 'committing')?.items).toEqual({ done: widgets, total: widgets });
  });

  it('a widget read in one page is done with that page, not once the requests queued after it have gone', async () => {
    // chat_availability is one request per widget, all queued at once: after each page the lookahead waited for a
    // request slot behind the other widgets' requests only to hear there was no next page, so no widget was done
    // before the last page came (0 of 40 throughout), and progress could not say how far the run was.
    const availability = definePipeline({ resources: { chat_availability: true }, concurrency: 1, rateLimit: { requestsPerSecond: 0 } });
    const done: number[] = [];
    await runPipeline(availability, {
      env: box.env,
      destination: { path: `${tmp.dir}/availability.duckdb` },
      progress: (s) => {
        if (s.phase === 'extracting') done.push(s.resources.find((r) => r.name === 'chat_availability')!.items!.done);
      },
    });
    expect(done).toHaveLength(widgets); // a snapshot per page, a page per widget
    // The snapshot of a page comes before its widget's sequence ends: each widget before it is done.
    expect(done).toEqual(done.map((_, i) => i));
  });

  it('only a resource read once per widget of the list counts items: one read once (users, by the account email) has none', async () => {
    const both = definePipeline({ resources: { users: true, chat_availability: true }, rateLimit: { requestsPerSecond: 0 } });
    const last = new Map<string, unknown>();
    await runPipeline(both, {
      env: box.env,
      destination: { path: `${tmp.dir}/users.duckdb` },
      progress: (s) => {
        if (s.phase === 'extracting') for (const r of s.resources) last.set(r.name, 'items' in r ? r.items : 'none');
      },
    });
    // SNAPENGAGE_EMAIL is taken from the environment too, but it is one value, not a list (no `each`).
    expect(last.get('users')).toBe('none');
    expect(last.get('chat_availability')).toMatchObject({ total: widgets });
  });

  it('show sums the windows up too, a widget behind the others first', async () => {
    const lagging = box.env.SNAPENGAGE_WIDGET_ID!.split(',')[17]!;
    const others = box.env.SNAPENGAGE_WIDGET_ID!.split(',').filter((id) => id !== lagging).join(',');
    // The others advance a day later: the lagging one keeps its lastEnd and is the first named.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 86_400_000 });
    try {
      await runPipeline(config, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: others }, destination: { path } });
    } finally {
      vi.useRealTimers();
    }
    const text = await showDataset({ path, dataset: 'snapengage_data' });
    const state = text.split('Incremental state\n')[1]!.split('\n');
    expect(state[0]).toMatch(/^ {2}logs {2}40 widgets {2}lastEnd \d{4}-\d\d-\d\d \(39\), \d{4}-\d\d-\d\d \(1\) {2}newest record /);
    expect(state[1]).toContain(`  logs  ${lagging}  lastEnd `);
    expect(state).toHaveLength(7);
    expect(text).toMatch(/^[\x00-\x7f]*$/); // ASCII, as the load info
  });

  it('show names the list values by the spec also for the windows of a second pipeline in the dataset', async () => {
    await runPipeline({ ...config, pipelineName: 'second' }, { env: box.env, destination: { path } });
    const text = await showDataset({ path, dataset: 'snapengage_data' });
    const state = text.split('Incremental state\n')[1]!.split('\n');
    expect(state.filter((line) => line.startsWith('  [second] logs  40 '))).toEqual([expect.stringMatching(/^ {2}\[second\] logs {2}40 widgets {2}lastEnd /)]);
  });
});

describe('one unknown widget among many', () => {
  it('fails the run (nothing loaded, as for any 404 to a top-level request) naming the widget and its place in the list', async () => {
    const box = await sandbox({ cases: 300, widgets: 30, days: 60 });
    const tmp = tempDir();
    try {
      const ids = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      ids.splice(20, 0, '00000000-0000-0000-0000-00000000dead');
      const run = runPipeline(config, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') }, destination: { path: `${tmp.dir}/bad.duckdb` } });
      await expect(run).rejects.toThrow(
        'not found: widget 00000000-0000-0000-0000-00000000dead (item 21 of 31 in SNAPENGAGE_WIDGET_ID) is unknown to the API while other widgets of the list were answered: correct it or remove it from SNAPENGAGE_WIDGET_ID',
      );
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });

  it('names the widget for a resource read once per widget without a date window too (chat_availability, widgets)', async () => {
    const box = await sandbox({ cases: 30, widgets: 12, days: 10 });
    const tmp = tempDir();
    try {
      const ids = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      ids.push('00000000-0000-0000-0000-00000000dead');
      const env = { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') };
      for (const resource of ['chat_availability', 'widgets'] as const) {
        const run = runPipeline(definePipeline({ resources: { [resource]: true }, rateLimit: { requestsPerSecond: 0 } }), { env, destination: { path: `${tmp.dir}/${resource}.duckdb` } });
        // Was "not found: check SNAPENGAGE_WIDGET_ID / SNAPENGAGE_BASE_URL, and that the server has this endpoint":
        // with 200 widgets in the list, the id was only in the URL and the message pointed at the endpoint.
        await expect(run).rejects.toThrow(
          'not found: widget 00000000-0000-0000-0000-00000000dead (item 13 of 13 in SNAPENGAGE_WIDGET_ID) is unknown to the API while other widgets of the list were answered',
        );
      }
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });
});

describe('several unknown widgets among many', () => {
  const dead = (n: number) => `00000000-0000-0000-0000-00000000dea${n}`;

  it('are all named by one failed run, not one run each (200 widgets with 3 deleted took 3 failing daily runs)', async () => {
    const box = await sandbox({ cases: 200, widgets: 5, days: 30 });
    const tmp = tempDir();
    try {
      const ids = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      // Items 3, 5 and 8 of 8; two known ones first, so another widget is answered before the first 404 (a 404 with
      // none answered yet is a wrong org id or token, and still stops the run at once).
      ids.splice(2, 0, dead(1));
      ids.splice(4, 0, dead(2));
      ids.push(dead(3));
      const error = await runPipeline({ ...config, concurrency: 2 }, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') }, destination: { path: `${tmp.dir}/bad.duckdb` } })
        .then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ExtractError);
      expect((error as ExtractError).message).toBe(
        `Extracting logs failed: widgets ${dead(1)} (item 3), ${dead(2)} (item 5) and ${dead(3)} (item 8) of 8 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered: remove them from the list`,
      );
      // As for one unknown widget: the run fails as a whole, nothing of it committed.
      expect((error as ExtractError).kind).toBe('not_found');
      expect((error as ExtractError).exitCode).toBe(1);
      expect((error as ExtractError).committedResources).toEqual([]);
      expect(existsSync(`${tmp.dir}/bad.duckdb`)).toBe(false);
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });

  it('a 404 before any widget was answered stops the run at once (a wrong org id or token), not read on as a widget of the list', async () => {
    const box = await sandbox({ cases: 200, widgets: 3, days: 30 });
    const tmp = tempDir();
    try {
      const ids = [dead(1), dead(2), ...box.env.SNAPENGAGE_WIDGET_ID!.split(',')];
      let after404 = 0;
      let seen404 = false;
      const error = await runPipeline({ ...config, concurrency: 1, connection: { maxRetries: 0 } }, {
        env: { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') },
        destination: { path: `${tmp.dir}/bad.duckdb` },
        onRequest: (event) => {
          if (seen404) after404++;
          if (event.status === 404) seen404 = true;
        },
      }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ExtractError);
      expect((error as ExtractError).kind).toBe('not_found');
      expect((error as ExtractError).message).toContain(dead(1));
      expect((error as ExtractError).message).not.toMatch(/while others were answered|dea2/);
      // At most the one request already under way when the 404 came in: not the other widgets' reads.
      expect(after404).toBeLessThanOrEqual(1);
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });

  it('names the first 10 of a long list of them and counts the rest', async () => {
    const box = await sandbox({ cases: 30, widgets: 3, days: 10 });
    const tmp = tempDir();
    try {
      const ids = [...box.env.SNAPENGAGE_WIDGET_ID!.split(','), ...Array.from({ length: 12 }, (_, i) => `00000000-0000-0000-0000-0000000d${String(i).padStart(4, '0')}`)];
      const run = runPipeline({ ...config, concurrency: 2 }, { env: { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') }, destination: { path: `${tmp.dir}/bad.duckdb` } });
      await expect(run).rejects.toThrow(
        'widgets 00000000-0000-0000-0000-0000000d0000 (item 4), 00000000-0000-0000-0000-0000000d0001 (item 5), 00000000-0000-0000-0000-0000000d0002 (item 6), 00000000-0000-0000-0000-0000000d0003 (item 7), 00000000-0000-0000-0000-0000000d0004 (item 8), 00000000-0000-0000-0000-0000000d0005 (item 9), 00000000-0000-0000-0000-0000000d0006 (item 10), 00000000-0000-0000-0000-0000000d0007 (item 11), 00000000-0000-0000-0000-0000000d0008 (item 12), 00000000-0000-0000-0000-0000000d0009 (item 13) and 2 more of 15 in SNAPENGAGE_WIDGET_ID are unknown to the API (HTTP 404) while others were answered',
      );
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });

  it('a failure of another kind after an unknown widget still stops the run at once, and is the one reported', async () => {
    const box = await sandbox({ cases: 2000, widgets: 5, days: 400 });
    const tmp = tempDir();
    try {
      const ids = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      ids.splice(1, 0, dead(1));
      let failing: Promise<unknown> | undefined;
      let after404 = 0;
      const run = runPipeline({ ...config, concurrency: 1, connection: { maxRetries: 0 } }, {
        env: { ...box.env, SNAPENGAGE_WIDGET_ID: ids.join(',') },
        destination: { path: `${tmp.dir}/bad.duckdb` },
        // One request at a time, the widgets' first requests in list order: once the unknown one's 404 is in, every
        // further request gets a 500 (a server failing, which no widget list explains).
        onRequest: (event) => {
          if (event.url.includes(dead(1)) && event.status === 404) failing ??= admin(box, 'faults', { faults: '500=1' });
          else if (failing) after404++;
        },
      });
      const error = await run.then(() => undefined, (e: unknown) => e);
      await failing;
      expect((error as ExtractError).kind).toBe('server');
      expect((error as ExtractError).message).toContain('server error');
      // Stopped at once: not every other widget's two years read first.
      expect(after404).toBeLessThan(10);
    } finally {
      await box.close();
      tmp.cleanup();
    }
  });
});

describe('the stored windows of many widgets', () => {
  it('are read and checked once per run, not once per widget (2,000 widgets spent 6 s of a 12 s rerun on it)', async () => {
    const box = await sandbox({ cases: 40, widgets: 20, days: 10 });
    try {
      const plan = planPipeline(config, box.env);
      const ids = box.env.SNAPENGAGE_WIDGET_ID!.split(',');
      const windows = Object.fromEntries(ids.map((id) => [id, { lastEnd: todayUtc(), firstStart: addDays(todayUtc(), -10) }]));
      // Counts how often the extractor takes the windows out of the stored state (each time it checked all of them).
      let reads = 0;
      const stored = { get windows() { reads++; return windows; } };
      const extractor = new Extractor({
        // The typed client's paths are narrower than the extractor's catalog-driven ones (run.ts casts the same way).
        client: createSnapEngageClient({ baseUrl: box.url, ...box.credentials }) as unknown as PageSource,
        env: box.env,
        now: new Date(),
        plans: plan.resources,
        previousState: new Map([['logs', stored]]),
        concurrency: 4,
        signal: new AbortController().signal,
        secrets: [],
        sink: async () => undefined,
      });
      const state = await extractor.run();
      expect(Object.keys(state.get('logs')!.windows)).toHaveLength(ids.length);
      expect(reads).toBe(1); // was 20: storedWindows per widget, each checking every widget's window (quadratic)
    } finally {
      await box.close();
    }
  });
});
