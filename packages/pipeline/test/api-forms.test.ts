// The forms the API facts leave open, served by the sandbox, and the loader's tolerant reading of them: how the last
// page says "no more" (no link, "", null, or a link to an empty page) and cases missing fields the doc shows.
import { afterEach, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, runPipeline } from '../src/index.js';
import { admin, expectMatchesTruth, query, sandbox, tempDir, truth } from './helpers.js';

const config = definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } });
let box: Sandbox | undefined;
let tmp: ReturnType<typeof tempDir> | undefined;
afterEach(async () => {
  await box?.close();
  tmp?.cleanup();
  box = undefined;
  tmp = undefined;
});

describe('the end of a page sequence, in each form the facts leave open', () => {
  // One slice per widget (its whole window in one request sequence: two widgets, concurrency 2, slices of 60 days), so
  // each sequence holds all of its widget's cases: 400 and 200 here, exact multiples of 100. A trailing empty page is
  // served only after a full last page; with the default slicing no sequence ended on one, and the trailing cases
  // passed without ever meeting an empty page.
  const oneSlice = definePipeline({ resources: { logs: { incremental: { sliceDays: 60 } } }, concurrency: 2, rateLimit: { requestsPerSecond: 0 } });
  it.each([
    ['empty', false],
    ['null', false],
    ['absent', true],
    ['null', true],
  ] as const)('last page link %s, trailing empty page %s: exactly the truth, and a rerun adds nothing', async (lastPageLink, trailingEmptyPage) => {
    box = await sandbox({ cases: 600, widgets: 2, days: 10, lastPageLink, trailingEmptyPage });
    tmp = tempDir();
    const path = `${tmp.dir}/forms.duckdb`;
    const cases = await truth(box);
    const perWidget = await Promise.all(box.credentials.widgetIds.map(async (widgetId) => {
      const response = await fetch(`${box!.url}/__sandbox/truth?resource=logs&widgetId=${widgetId}`);
      return (await response.text()).split('\n').filter((line) => line.trim() !== '').length;
    }));
    expect(perWidget.every((n) => n > 0 && n % 100 === 0)).toBe(true);
    const info = await runPipeline(oneSlice, { env: box.env, destination: { path } });
    expect(info.rowCounts.logs).toBe(cases.length);
    // Every page the loader read, the empty trailing ones included: the sequences did end the way this case says.
    const pages = info.resources.find((r) => r.name === 'logs')?.pages;
    expect(pages).toBe(perWidget.reduce((sum, n) => sum + n / 100 + (trailingEmptyPage ? 1 : 0), 0));
    expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
    await runPipeline(oneSlice, { env: box.env, destination: { path } });
    expect(await expectMatchesTruth(path, 'snapengage_data', cases)).toEqual([]);
  });
});

describe('cases missing fields the doc shows', () => {
  it('loads a case with only an id, one without created_at_seconds, a transcript without id, one without an id; a rerun duplicates none', async () => {
    box = await sandbox({ cases: 100, widgets: 1, days: 5 });
    tmp = tempDir();
    const path = `${tmp.dir}/bare.duckdb`;
    const widgetId = box.credentials.widgetIds[0]!;
    const seconds = Math.floor(Date.now() / 1000) - 60;
    await admin(box, 'cases', {
      widgetId,
      bare: true,
      cases: [
        { id: 'bare-a', created_at_seconds: seconds + 1 },
        { id: 'bare-b', created_at_milliseconds: (seconds + 2) * 1000 },
        { id: 'bare-c', created_at_seconds: seconds + 3, transcripts: [{ message: 'hi' }] },
        { created_at_seconds: seconds + 4, description: 'no id at all' },
      ],
    });
    const count = async () => (await query(path, `SELECT coalesce(id, description) AS k, count(*)::INTEGER AS n FROM snapengage_data.logs
      WHERE id LIKE 'bare-%' OR description = 'no id at all' GROUP BY ALL ORDER BY k`)).map((r) => `${String(r.k)} ${String(r.n)}`);
    await runPipeline(config, { env: box.env, destination: { path } });
    const expected = ['bare-a 1', 'bare-b 1', 'bare-c 1', 'no id at all 1'];
    expect(await count()).toEqual(expected);
    expect(await query(path, `SELECT message FROM snapengage_data.logs__transcripts t JOIN snapengage_data.logs l ON t._parent_id = l._row_id WHERE l.id = 'bare-c'`)).toEqual([{ message: 'hi' }]);
    await runPipeline(config, { env: box.env, destination: { path } });
    expect(await count()).toEqual(expected);
  });
});
