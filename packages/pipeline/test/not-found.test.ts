// A child resource whose API may not know every parent record (the spec's `notFound: skip`: chat_poll and
// visitor_typing, since the Visitor Chat API knowing every Logs API case is not documented): a 404 for one case is
// no record of it, counted in the load info, and the run goes on. A 404 anywhere else still fails the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resources } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, ExtractError, runPipeline } from '../src/index.js';
import { admin, query, sandbox, tempDir, truth } from './helpers.js';

describe('a child resource answered 404 for some parent records', () => {
  let box: Sandbox;
  let tmp: ReturnType<typeof tempDir>;
  let gone: string[];

  beforeAll(async () => {
    box = await sandbox({ cases: 120, widgets: 2, days: 5 });
    tmp = tempDir();
    const widgetId = box.credentials.widgetIds[0]!;
    // Cases the Logs API lists and the Visitor Chat API does not know (an offline message, an old chat).
    gone = ((await admin(box, 'cases', { widgetId, noChat: true, cases: [{}, {}, {}] })) as { ids: string[] }).ids;
  });
  afterAll(async () => {
    await box?.close();
    tmp?.cleanup();
  });

  it('the spec marks chat_poll and visitor_typing notFound: skip, and no top-level resource', () => {
    expect(resources.chat_poll.notFound).toBe('skip');
    expect(resources.visitor_typing.notFound).toBe('skip');
    for (const resource of Object.values(resources)) if (resource.parent === null) expect(resource.notFound).toBe('fail');
  });

  it('loads every other case, says how many were not found, and a rerun does the same', async () => {
    const path = `${tmp.dir}/polls.duckdb`;
    const config = definePipeline({ resources: { logs: true, chat_poll: true, visitor_typing: true }, rateLimit: { requestsPerSecond: 0 } });
    const cases = await truth(box);
    expect(cases).toHaveLength(123);
    const info = await runPipeline(config, { env: box.env, destination: { path } });
    expect(info.rowCounts.logs).toBe(123);
    expect(info.rowCounts.chat_poll).toBe(120);
    expect(info.rowCounts.visitor_typing).toBe(120);
    expect(info.notes.notFound).toEqual({ chat_poll: { notFound: 3, requested: 123 }, visitor_typing: { notFound: 3, requested: 123 } });
    expect(info.toString()).toContain('Not found (404), no record loaded for these parent records: chat_poll 3 of 123, visitor_typing 3 of 123');
    const polled = await query(path, 'SELECT case_id FROM snapengage_data.chat_poll');
    expect(polled.map((r) => r.case_id).filter((id) => gone.includes(String(id)))).toEqual([]);
    // Asked again on a rerun only because they lie inside the lookback (the next test: outside it, they are not).
    const rerun = await runPipeline(config, { env: box.env, destination: { path } });
    expect(rerun.notes.notFound?.chat_poll?.notFound).toBe(3); // injected now, so inside the lookback
    expect(Number((await query(path, 'SELECT count(*) AS n FROM snapengage_data.chat_poll'))[0]?.n)).toBe(120);
  });

  it('some cases not found: the windows advance, so a rerun does not ask for those outside the lookback again', async () => {
    const small = await sandbox({ cases: 30, widgets: 1, days: 10 });
    try {
      const fiveDaysAgo = Math.floor(Date.now() / 1000) - 5 * 86_400;
      await admin(small, 'cases', { widgetId: small.credentials.widgetIds[0]!, noChat: true, cases: [{ created_at_seconds: fiveDaysAgo }, { created_at_seconds: fiveDaysAgo + 60 }] });
      const path = `${tmp.dir}/some-404.duckdb`;
      const config = definePipeline({ resources: { logs: true, chat_poll: true }, rateLimit: { requestsPerSecond: 0 } });
      const info = await runPipeline(config, { env: small.env, destination: { path } });
      expect(info.notes.notFound).toEqual({ chat_poll: { notFound: 2, requested: 32 } });
      expect(info.rowCounts.chat_poll).toBe(30);
      const rerun = await runPipeline(config, { env: small.env, destination: { path } });
      expect(rerun.notes.notFound).toEqual({});
      expect(rerun.toString()).not.toContain('Not found (404)');
    } finally {
      await small.close();
    }
  });

  it('every case not found: the load info says to check the API and the credential, once', async () => {
    const empty = await sandbox({ cases: 0, widgets: 1, days: 2 });
    try {
      await admin(empty, 'cases', { widgetId: empty.credentials.widgetIds[0]!, noChat: true, cases: [{}, {}] });
      const info = await runPipeline(definePipeline({ resources: { chat_poll: true }, rateLimit: { requestsPerSecond: 0 } }), { env: empty.env, destination: { path: `${tmp.dir}/none.duckdb` } });
      expect(info.toString()).toContain('Not found (404), no record loaded for these parent records: chat_poll 2 of 2 (every one for chat_poll: check that its API serves these records, and its credential\'s account; once fixed, reload it to poll the whole history again: --refresh --resources chat_poll)');
    } finally {
      await empty.close();
    }
  });

  it('a 404 to a top-level request still fails the run (a wrong org id is not "no record")', async () => {
    const env = { ...box.env, SNAPENGAGE_ORG_ID: 'not-this-org' };
    const error = await runPipeline({ resources: { logs: true, chat_poll: true } }, { env, destination: { path: `${tmp.dir}/org.duckdb` } })
      .then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(ExtractError);
    expect((error as Error).message).toMatch(/HTTP 404/);
  });
});
