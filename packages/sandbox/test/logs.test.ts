import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../src/index.js';
import { allPages, FIXED_NOW, getLogsPage, logsUrl, postAdmin, truthLines } from './helpers/sandbox.js';

// Logs API behaviour: pages add up exactly to the truth, keyset pagination, several widgets, parameters.

let sandbox: Sandbox;
let widgets: string[];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 11, cases: 1500, widgets: 3, days: 20, now: FIXED_NOW });
  widgets = sandbox.credentials.widgetIds;
});

afterAll(() => sandbox.close());

const token = (): Record<string, string> => ({ authorization: sandbox.credentials.apiToken });

describe('pagination adds up to the truth', () => {
  const ranges: Array<[string, string, string | undefined]> = [
    ['2025-01-12', '2025-01-31', undefined], // everything
    ['2025-01-15', '2025-01-15', undefined], // one day, end inclusive
    ['2025-01-20', '2025-01-24', 'Europe/Paris'],
    ['2025-01-20', '2025-01-24', 'Pacific/Kiritimati'],
    ['2024-06-01', '2024-06-30', undefined], // before the data: empty
  ];

  for (const [index, widgetIndex] of [0, 1, 2].entries()) {
    for (const [start, end, timezone] of ranges.slice(index === 0 ? 0 : 1, index === 0 ? ranges.length : 3)) {
      it(`widget ${widgetIndex}, ${start}..${end} ${timezone ?? 'UTC'}`, async () => {
        const query: Record<string, string> = { widgetId: widgets[widgetIndex] ?? '', start, end };
        if (timezone) query.timezone = timezone;
        const pages = await allPages(sandbox, query);
        const truth = await truthLines(sandbox, query);
        const served = pages.flatMap((page) => page.cases.map((c) => JSON.stringify(c)));
        expect(served).toEqual(truth);
        // Pages are full except the last one, and only the last one has no next link.
        for (const page of pages.slice(0, -1)) expect([page.cases.length, typeof page.next]).toEqual([100, 'string']);
        expect(pages.at(-1)?.next).toBeUndefined();
        expect(pages.at(-1)?.text.includes('linkToNextSetOfResults')).toBe(false);
      });
    }
  }

  it('counts the whole widget in the truth of all widgets, and dates respect the time zone', async () => {
    const all = await truthLines(sandbox);
    expect(all).toHaveLength(1500);
    const paris = (await truthLines(sandbox, { start: '2025-01-20', end: '2025-01-20', timezone: 'Europe/Paris' })).map((l) => JSON.parse(l) as { created_at_date: number });
    expect(paris.length).toBeGreaterThan(0);
    for (const c of paris) {
      expect(c.created_at_date).toBeGreaterThanOrEqual(Date.UTC(2025, 0, 19, 23));
      expect(c.created_at_date).toBeLessThan(Date.UTC(2025, 0, 20, 23));
    }
  });

  it('serves the exact bytes of the truth (page text is the truth lines joined)', async () => {
    const query = { widgetId: widgets[1] ?? '', start: '2025-01-13', end: '2025-01-31' };
    const page = await getLogsPage(sandbox, logsUrl(sandbox, query));
    const truth = await truthLines(sandbox, query);
    expect(page.text.startsWith(`{"cases":[${truth.slice(0, 100).join(',')}],"linkToNextSetOfResults":`)).toBe(true);
  });

  it('orders by creation time, then id', async () => {
    const cases = (await truthLines(sandbox)).map((l) => JSON.parse(l) as { id: string; created_at_milliseconds: number });
    for (let i = 1; i < cases.length; i++) {
      const [a, b] = [cases[i - 1], cases[i]];
      if (!a || !b) continue;
      expect(a.created_at_milliseconds < b.created_at_milliseconds || (a.created_at_milliseconds === b.created_at_milliseconds && a.id < b.id)).toBe(true);
    }
  });
});

describe('next links', () => {
  it('are absolute URLs on the server base URL, repeating the query and adding next', async () => {
    const page = await getLogsPage(sandbox, logsUrl(sandbox, { widgetId: widgets[0] ?? '', start: '2025-01-12', end: '2025-01-31', timezone: 'Etc/UTC' }));
    const next = new URL(page.next ?? '');
    expect(next.origin).toBe(sandbox.url);
    expect(next.pathname).toBe(`/api/v2/${sandbox.credentials.orgId}/logs`);
    expect(Object.fromEntries(next.searchParams)).toMatchObject({ widgetId: widgets[0], start: '2025-01-12', end: '2025-01-31', timezone: 'Etc/UTC' });
    expect(next.searchParams.get('next')).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it('never duplicate or skip existing cases when cases are injected mid-pagination', async () => {
    const isolated = await startSandbox({ seed: 3, cases: 900, widgets: 1, days: 10, now: FIXED_NOW });
    try {
      const query = { widgetId: isolated.credentials.widgetIds[0] ?? '', start: '2025-01-01', end: '2025-01-31' };
      const before = await truthLines(isolated, query);
      const seen: string[] = [];
      let url: string | undefined = logsUrl(isolated, query);
      for (let pageNumber = 0; url !== undefined && pageNumber < 100; pageNumber++) {
        const page = await getLogsPage(isolated, url);
        seen.push(...page.cases.map((c) => JSON.stringify(c)));
        url = page.next;
        if (pageNumber === 2) {
          // One case in the past (behind the cursor), one in the middle (ahead of it), one "now".
          const middle = JSON.parse(before[600] ?? '{}') as { created_at_milliseconds: number };
          const injected = await postAdmin(isolated, '/__sandbox/cases', {
            widgetId: query.widgetId,
            cases: [{ created_at_milliseconds: Date.UTC(2025, 0, 22) }, { created_at_milliseconds: middle.created_at_milliseconds + 1 }, { created_at_milliseconds: Date.UTC(2025, 0, 31, 10) }],
          });
          expect(injected.status).toBe(201);
        }
      }
      const seenSet = new Set(seen);
      expect(seenSet.size).toBe(seen.length);
      for (const line of before) expect(seenSet.has(line)).toBe(true);
      expect(seen.length).toBe(before.length + 2);
      expect(await truthLines(isolated, query)).toHaveLength(before.length + 3);
    } finally {
      await isolated.close();
    }
  });
});

describe('cases that share an id and a creation time', () => {
  it('are all listed once, even across a page boundary (the cursor breaks the tie by injection order)', async () => {
    const isolated = await startSandbox({ seed: 4, cases: 0, widgets: 1, days: 10, now: FIXED_NOW });
    try {
      const query = { widgetId: isolated.credentials.widgetIds[0] ?? '', start: '2025-01-01', end: '2025-01-31' };
      const t = Date.UTC(2025, 0, 20);
      const cases = Array.from({ length: 150 }, (_, i) => ({ id: 'same', created_at_milliseconds: t, copy: i }));
      expect((await postAdmin(isolated, '/__sandbox/cases', { widgetId: query.widgetId, cases })).status).toBe(201);
      const copies: number[] = [];
      let url: string | undefined = logsUrl(isolated, query);
      for (let pageNumber = 0; url !== undefined && pageNumber < 10; pageNumber++) {
        const page = await getLogsPage(isolated, url);
        copies.push(...page.cases.map((c) => (c as { copy: number }).copy));
        url = page.next;
      }
      expect(copies).toEqual(cases.map((c) => c.copy));
    } finally {
      await isolated.close();
    }
  });
});

describe('several widgets', () => {
  it('without widgetId: the first 100 matching cases of all widgets and no next link', async () => {
    const query = { start: '2025-01-12', end: '2025-01-31' };
    const page = await getLogsPage(sandbox, logsUrl(sandbox, query));
    expect(page.cases.map((c) => JSON.stringify(c))).toEqual((await truthLines(sandbox, query)).slice(0, 100));
    expect(page.next).toBeUndefined();
  });

  it('with a comma list: the same, restricted to the listed widgets', async () => {
    const query = { widgetId: `${widgets[1]},${widgets[2]}`, start: '2025-01-12', end: '2025-01-31' };
    const page = await getLogsPage(sandbox, logsUrl(sandbox, query));
    expect(page.cases.map((c) => JSON.stringify(c))).toEqual((await truthLines(sandbox, query)).slice(0, 100));
    expect(page.next).toBeUndefined();
  });

  it('a one-widget organisation does not page without widgetId either (the doc: only when specifying one)', async () => {
    const single = await startSandbox({ seed: 5, cases: 250, widgets: 1, days: 5, now: FIXED_NOW });
    try {
      const unspecified = await allPages(single, { start: '2025-01-01', end: '2025-01-31' });
      expect(unspecified.map((p) => [p.cases.length, p.next])).toEqual([[100, undefined]]);
      const specified = await allPages(single, { widgetId: single.credentials.widgetIds[0] ?? '', start: '2025-01-01', end: '2025-01-31' });
      expect(specified.map((p) => p.cases.length)).toEqual([100, 100, 50]);
      // The same widget twice is a list of two: not the documented single widgetId.
      const twice = await allPages(single, { widgetId: `${single.credentials.widgetIds[0]},${single.credentials.widgetIds[0]}`, start: '2025-01-01', end: '2025-01-31' });
      expect(twice.map((p) => [p.cases.length, p.next])).toEqual([[100, undefined]]);
    } finally {
      await single.close();
    }
  });
});

describe('how a sequence ends (unknown in the real API: absent, "" or null; maybe a trailing empty page)', () => {
  const rawPages = async (box: Sandbox, query: Record<string, string>): Promise<Array<Record<string, unknown>>> => {
    const pages: Array<Record<string, unknown>> = [];
    let url: string | undefined = logsUrl(box, query);
    while (url) {
      const response = await fetch(url, { headers: { authorization: box.credentials.apiToken } });
      expect(response.status).toBe(200);
      const body = (await response.json()) as Record<string, unknown>;
      pages.push(body);
      url = typeof body.linkToNextSetOfResults === 'string' && body.linkToNextSetOfResults !== '' ? body.linkToNextSetOfResults : undefined;
      if (pages.length > 50) throw new Error('no end');
    }
    return pages;
  };
  const shape = (pages: Array<Record<string, unknown>>) =>
    pages.map((p) => [(p.cases as unknown[]).length, 'linkToNextSetOfResults' in p ? (typeof p.linkToNextSetOfResults === 'string' && p.linkToNextSetOfResults !== '' ? 'url' : p.linkToNextSetOfResults) : 'absent']);

  it('serves each last-page form, from start-up and through the admin API, and reset restores the start-up one', async () => {
    // 300 cases on one widget: exactly three full pages.
    const box = await startSandbox({ seed: 5, cases: 300, widgets: 1, days: 5, now: FIXED_NOW, lastPageLink: 'empty' });
    try {
      const query = { widgetId: box.credentials.widgetIds[0] ?? '', start: '2025-01-01', end: '2025-01-31' };
      expect(shape(await rawPages(box, query))).toEqual([[100, 'url'], [100, 'url'], [100, '']]);
      expect(await postAdmin(box, '/__sandbox/paging', { lastPageLink: 'null' })).toEqual({ status: 200, body: { lastPageLink: 'null', trailingEmptyPage: false } });
      expect(shape(await rawPages(box, query))).toEqual([[100, 'url'], [100, 'url'], [100, null]]);
      // One widget out of a list, or none: not paged, and the one page says there is no next one in that form too.
      expect(shape(await rawPages(box, { start: '2025-01-01', end: '2025-01-31' }))).toEqual([[100, null]]);
      expect(await postAdmin(box, '/__sandbox/paging', { trailingEmptyPage: true })).toEqual({ status: 200, body: { lastPageLink: 'null', trailingEmptyPage: true } });
      expect(shape(await rawPages(box, query))).toEqual([[100, 'url'], [100, 'url'], [100, 'url'], [0, null]]);
      // A short last page never links on.
      expect(shape(await rawPages(box, { ...query, end: '2025-01-29' })).at(-1)?.[1]).toBe(null);
      expect(await postAdmin(box, '/__sandbox/paging', { lastPageLink: 'absent' })).toEqual({ status: 200, body: { lastPageLink: 'absent', trailingEmptyPage: true } });
      expect(shape(await rawPages(box, query))).toEqual([[100, 'url'], [100, 'url'], [100, 'url'], [0, 'absent']]);
      expect((await postAdmin(box, '/__sandbox/paging', { lastPageLink: 'missing' })).status).toBe(400);
      expect((await postAdmin(box, '/__sandbox/paging', { trailingEmptyPage: 'yes' })).status).toBe(400);
      expect((await postAdmin(box, '/__sandbox/reset', {})).status).toBe(200);
      expect(shape(await rawPages(box, query))).toEqual([[100, 'url'], [100, 'url'], [100, '']]);
      // The pages still add up to the truth whatever the form.
      const served = (await rawPages(box, query)).flatMap((p) => (p.cases as unknown[]).map((c) => JSON.stringify(c)));
      expect(served).toEqual(await truthLines(box, query));
    } finally {
      await box.close();
    }
  });

  it('refuses a bad start-up value', async () => {
    await expect(startSandbox({ lastPageLink: 'none' as never })).rejects.toThrow(/lastPageLink must be one of/);
  });

  it('refuses a JSON null for lastPageLink or trailingEmptyPage instead of keeping the form in force with a 200', async () => {
    // null is no form: the null form is the string "null". Read as "left out", it changed nothing and said 200.
    await expect(startSandbox({ lastPageLink: null as never })).rejects.toThrow('lastPageLink must be one of absent, empty, null, got null (for a null link give the string "null")');
    await expect(startSandbox({ trailingEmptyPage: null as never })).rejects.toThrow('trailingEmptyPage must be true or false, got null');
    const box = await startSandbox({ seed: 5, cases: 10, widgets: 1, days: 5, now: FIXED_NOW, lastPageLink: 'empty', trailingEmptyPage: true });
    try {
      expect(await postAdmin(box, '/__sandbox/paging', { lastPageLink: null })).toMatchObject({ status: 400, body: { error: expect.stringContaining('give the string "null"') } });
      expect(await postAdmin(box, '/__sandbox/paging', { trailingEmptyPage: null })).toMatchObject({ status: 400 });
      expect(await postAdmin(box, '/__sandbox/paging', {})).toEqual({ status: 200, body: { lastPageLink: 'empty', trailingEmptyPage: true } });
    } finally {
      await box.close();
    }
  });
});

describe('parameters', () => {
  const base = (): Record<string, string> => ({ widgetId: widgets[0] ?? '', start: '2025-01-20', end: '2025-01-21' });

  it('accepts full ISO 8601 datetimes and uses their date', async () => {
    const plain = await getLogsPage(sandbox, logsUrl(sandbox, base()));
    const iso = await getLogsPage(sandbox, logsUrl(sandbox, { ...base(), start: '2025-01-20T17:45:00Z', end: '2025-01-21T00:00:00+02:00' }));
    expect(iso.cases).toEqual(plain.cases);
  });

  it.each([
    [{ start: '' }, 'start is required'],
    [{ end: '2025-02-30' }, 'is not a date'],
    [{ start: '20250120' }, 'is not a date'],
    [{ start: '2025-01-22' }, 'is after end'],
    [{ timezone: 'Mars/Olympus_Mons' }, 'not a known IANA time zone'],
    [{ timezone: '+02:00' }, 'not a known IANA time zone'],
    [{ next: 'not-a-cursor' }, 'not a cursor'],
  ])('answers 400 for %o', async (override, message) => {
    const response = await fetch(logsUrl(sandbox, { ...base(), ...override }), { headers: token() });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain(message);
  });

  it('answers 404 with an empty body when one widget of a list is unknown', async () => {
    const response = await fetch(logsUrl(sandbox, { ...base(), widgetId: `${widgets[0]},unknown` }), { headers: token() });
    expect([response.status, await response.text()]).toEqual([404, '']);
  });
});

describe('determinism', () => {
  it('the same seed gives the same bytes; another seed gives other data', async () => {
    const again = await startSandbox({ seed: 11, cases: 1500, widgets: 3, days: 20, now: FIXED_NOW });
    const other = await startSandbox({ seed: 12, cases: 1500, widgets: 3, days: 20, now: FIXED_NOW });
    try {
      expect(again.credentials).toEqual(sandbox.credentials);
      expect(await truthLines(again)).toEqual(await truthLines(sandbox));
      expect(other.credentials.apiToken).not.toBe(sandbox.credentials.apiToken);
      expect((await truthLines(other))[0]).not.toEqual((await truthLines(sandbox))[0]);
    } finally {
      await Promise.all([again.close(), other.close()]);
    }
  });

  it('generates varied, realistic cases', async () => {
    const cases = (await truthLines(sandbox)).map((l) => JSON.parse(l) as Record<string, unknown>);
    const types = new Set(cases.map((c) => c.type));
    expect(types).toEqual(new Set(['chat', 'offline']));
    const transcriptLengths = cases.map((c) => (c.transcripts as unknown[]).length);
    expect(transcriptLengths).toContain(0);
    expect(Math.max(...transcriptLengths)).toBeGreaterThan(12);
    expect(cases.some((c) => typeof c.survey_score === 'number')).toBe(true);
    expect(cases.some((c) => !('referrer_url' in c))).toBe(true);
    expect(cases.some((c) => !('requester_details' in c))).toBe(true);
    const text = JSON.stringify(cases);
    for (const sample of ['é', '東京', '😊', '\\n', '\\"']) expect(text).toContain(sample);
    for (const c of cases) {
      expect(c.created_at_seconds).toBe(Math.floor((c.created_at_date as number) / 1000));
      expect(c.created_at_milliseconds).toBe(c.created_at_date);
      expect(c.url).toBe(`https://www.snapengage.com/viewcase?c=${c.id as string}`);
    }
  });
});

describe('endDay: exclusive (the other reading of `end`)', () => {
  it('stops at the first instant of `end`: start = end is an empty range, and two days hold the first one only', async () => {
    const exclusive = await startSandbox({ seed: 11, cases: 1500, widgets: 3, days: 20, now: FIXED_NOW, endDay: 'exclusive' });
    try {
      const widgetId = exclusive.credentials.widgetIds[0] ?? '';
      const day = async (s: Sandbox, start: string, end: string) => (await allPages(s, { widgetId, start, end })).flatMap((p) => p.cases.map((c) => (c as { id: string }).id));
      const inclusiveDay = await day(sandbox, '2025-01-15', '2025-01-15');
      expect(inclusiveDay.length).toBeGreaterThan(0);
      expect(await day(exclusive, '2025-01-15', '2025-01-15')).toEqual([]);
      expect(await day(exclusive, '2025-01-15', '2025-01-16')).toEqual(inclusiveDay);
    } finally {
      await exclusive.close();
    }
  });

  it('is checked like every option', async () => {
    await expect(startSandbox({ endDay: 'open' as never })).rejects.toThrow(/^endDay must be one of inclusive, exclusive, got "open"/);
  });
});
