// How a run spends its requests when each one costs a round trip to the real API (50–300 ms, not loopback's ~0): the
// request count and how many are in flight, counted at the sandbox or in a fetch wrapper, never timed.
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, sandbox, stats, tempDir, truth } from './helpers.js';

let box: Sandbox | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
  box = undefined;
  tmp = undefined;
});

const daysOf = (u: URL) => (Date.parse(`${u.searchParams.get('end')}T00:00:00Z`) - Date.parse(`${u.searchParams.get('start')}T00:00:00Z`)) / 86_400_000 + 1;

describe('a busy window over a slow link', () => {
  it('is read in slices of sliceDays, not cut again into days once its pieces already give every request slot a slice', async () => {
    // 3 widgets, 30 days; the busiest (~1,600 cases, ~55 a day) is busy in every piece and 7-day slice. Fewer widgets
    // than the 4 request slots: a short window is cut finer (minSlices), which a probed one's slices need not be.
    box = await sandbox({ seed: 5, cases: 3000, widgets: 3, days: 30 });
    tmp = tempDir();
    const sent: URL[] = [];
    const fetchSpy = (request: Request) => {
      const url = new URL(request.url);
      if (url.pathname.endsWith('/logs')) sent.push(url);
      return globalThis.fetch(request);
    };
    await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: `${tmp.dir}/n.duckdb` }, fetch: fetchSpy });
    const busiest = box.credentials.widgetIds[0]!;
    // First pages only, without the end-day check's two days (end-day-check.ts).
    const firsts = sent.filter((u) => u.searchParams.get('widgetId') === busiest && !u.searchParams.has('next') && daysOf(u) !== 2);
    const whole = Math.max(...firsts.map(daysOf));
    const pieces = firsts.filter((u) => daysOf(u) > 7 && daysOf(u) < whole);
    const slices = firsts.filter((u) => daysOf(u) <= 7);
    expect(whole).toBeGreaterThanOrEqual(30);
    expect(pieces.length).toBeGreaterThan(1);
    // Each piece in 7-day slices (the last one shorter): 6 for two pieces of 15 days. Cut again by minSlices, each
    // 7-day slice became 3 + 3 + 1 days, and every extra slice costs a request for its last, partly filled page.
    expect(slices).toHaveLength(pieces.reduce((sum, u) => sum + Math.ceil(daysOf(u) / 7), 0));
  });

  it('with sliceDays 1, a busy two-day rerun asks for the window whole once, then for each day, no request twice', async () => {
    // ~300 cases a day: the rerun's window (yesterday and today, the lookback) links a next page. Its probe pieces
    // (windows.ts probePieces: ~sqrt(2 x 1) days) are one piece, the window itself, which was probed again.
    box = await sandbox({ seed: 5, cases: 1500, widgets: 1, days: 5 });
    tmp = tempDir();
    const path = `${tmp.dir}/d.duckdb`;
    const config = definePipeline({ resources: { logs: { incremental: { sliceDays: 1 } } }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(config, { env: box.env, destination: { path } });
    await admin(box, 'cases', { widgetId: box.credentials.widgetIds[0], cases: [{ description: 'new before the rerun' }] });
    const sent: URL[] = [];
    const fetchSpy = (request: Request) => {
      sent.push(new URL(request.url));
      return globalThis.fetch(request);
    };
    const before = (await stats(box)).requests;
    await runPipeline(config, { env: box.env, destination: { path }, fetch: fetchSpy });
    expect((await stats(box)).requests - before, 'requests the sandbox answered').toBe(sent.length);
    // First pages: the window (its two days from the run's own clock), then each of its days.
    const firsts = sent.filter((u) => !u.searchParams.has('next'));
    const [window] = firsts.filter((u) => daysOf(u) === 2);
    const [yesterday, today] = [window?.searchParams.get('start'), window?.searchParams.get('end')];
    const asked = firsts.map((u) => `${u.searchParams.get('start')}..${u.searchParams.get('end')}`).sort();
    expect(asked).toEqual([`${today}..${today}`, `${yesterday}..${today}`, `${yesterday}..${yesterday}`].sort());
    expect(sent.length, 'the days link next pages').toBeGreaterThan(3);
    expect(new Set(sent.map(String)).size, 'requests asked twice').toBe(sent.length);
    expect(await expectMatchesTruth(path, 'snapengage_data', await truth(box))).toEqual([]);
  });

  it('keeps 8 requests in flight by default, so a 10 requests/s limit is still reached at up to 0.8 s a request', async () => {
    // Every answer waits 300 ms before its headers, as a far API does. With 4 slots a run could not exceed 4 / the
    // round trip: measured at 250 ms ± 250 ms and 1 MB/s bodies, 6.9 requests/s, 92 % of the time with all 4 busy.
    box = await sandbox({ seed: 5, cases: 600, widgets: 3, days: 10, faults: 'latencyMs=300' });
    tmp = tempDir();
    let inFlight = 0;
    let most = 0;
    const fetchSpy = async (request: Request) => {
      most = Math.max(most, ++inFlight);
      try {
        return await globalThis.fetch(request);
      } finally {
        inFlight--;
      }
    };
    // No rate limit: only the request slots bound what is in flight. At the start 10 requests wait: chat_availability
    // and widgets for each of the 3 widgets, users, and each widget's logs window.
    const config = definePipeline({ resources: { logs: true, chat_availability: true, widgets: true, users: true }, rateLimit: { requestsPerSecond: 0 } });
    await runPipeline(config, { env: box.env, destination: { path: `${tmp.dir}/c.duckdb` }, fetch: fetchSpy });
    expect(most).toBe(8);
  });
});
