// What a value of the API becomes, end to end: hostile records served by the sandbox over loopback, loaded by
// runPipeline into a DuckDB file, read back with plain SQL (as the DuckDB CLI reads it) and through openDataset.
// NORMALIZATION.md (Types) says what each one becomes; this holds it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { definePipeline, openDataset, runPipeline } from '../src/index.js';
import { sandbox, tempDir, withQueries } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let dbPath: string;

/** Posts `body` as raw JSON text: JSON.stringify of a JS object could not write an integer beyond 2^53 exactly. */
async function postCases(text: string): Promise<void> {
  const response = await fetch(`${box.url}/__sandbox/cases`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: text });
  expect(response.status, await response.clone().text()).toBe(201);
}

beforeAll(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('value-fidelity-');
  dbPath = join(tmp.dir, 'values.duckdb');
  const widgetId = JSON.stringify(box.env.SNAPENGAGE_WIDGET_ID);
  await postCases(`{"widgetId": ${widgetId}, "cases": [
    {"id": "big-1", "big_id": 9007199254740993, "source_id": 9007199254740993, "safe_big": 9007199254740991,
     "huge": 123456789012345678901234567890, "big_list": [9007199254740993, 1], "note": "12345678901234567890",
     "transcripts": [{"id": "", "message": "hi", "translations": {"n": 9007199254740993}}]},
    {"id": "big-2", "big_id": 42, "source_id": 7, "safe_big": 1, "huge": 1, "big_list": [2]}
  ]}`);
  // Bare: only the keys given (a default case would fill the missing ones), created now.
  const now = `"created_at_date": ${Date.now()}, "created_at_seconds": ${Math.floor(Date.now() / 1000)}`;
  await postCases(`{"widgetId": ${widgetId}, "bare": true, "cases": [
    {${now}, "id": "v-1", "latitude": -0, "longitude": 1e-300, "e21": 1e21, "description": "", "survey_comments": "0012",
     "proactive_chat": "true", "chat_agent_alias": "a\\u0000b", "city": "\\ud83d", "region": null, "page_url": "${'x'.repeat(1_000_000)}"},
    {${now}, "id": "v-2", "latitude": 1.5, "e21": 2, "proactive_chat": "1", "survey_comments": null}
  ]}`);
  await runPipeline(definePipeline({ resources: { logs: true }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path: dbPath } });
}, 60_000);
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

describe('integers beyond 2^53 (JSON.parse would round them)', () => {
  it('keep every digit: in BIGINT columns and lists within its range, as text beyond it, in SQL and through openDataset', async () => {
    const sql = `SELECT id, big_id, source_id, safe_big, huge, big_list, note
      FROM snapengage_data.logs WHERE id LIKE 'big-%' ORDER BY id`;
    const rows = await withQueries(dbPath, (run) => run(sql));
    expect(rows).toEqual([
      {
        id: 'big-1', big_id: '9007199254740993', source_id: '9007199254740993', safe_big: '9007199254740991',
        huge: '123456789012345678901234567890', big_list: ["9007199254740993", "1"], note: '12345678901234567890',
      },
      { id: 'big-2', big_id: '42', source_id: '7', safe_big: '1', huge: '1', big_list: ["2"], note: null },
    ]);
    const types = await withQueries(dbPath, (run) => run(`SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'logs' AND column_name IN ('big_id', 'source_id', 'safe_big', 'huge', 'big_list') ORDER BY column_name`));
    expect(types).toEqual([
      { column_name: 'big_id', data_type: 'BIGINT' }, { column_name: 'big_list', data_type: 'BIGINT[]' }, { column_name: 'huge', data_type: 'VARCHAR' },
      { column_name: 'safe_big', data_type: 'BIGINT' }, { column_name: 'source_id', data_type: 'BIGINT' },
    ]);
    const ds = await openDataset({ path: dbPath, dataset: 'snapengage_data' });
    try {
      // A BIGINT beyond 2^53 is its decimal text in JavaScript (DATASET.md), a safe one a number.
      expect(await ds.sql(`SELECT big_id, source_id, safe_big, big_list, huge FROM logs WHERE id = 'big-1'`)).toEqual([{ big_id: '9007199254740993', source_id: '9007199254740993', safe_big: 9007199254740991, big_list: ['9007199254740993', 1], huge: '123456789012345678901234567890' }]);
      // In SQL it is the number: arithmetic is exact.
      expect(await ds.sql(`SELECT (source_id + 1)::VARCHAR AS next FROM logs WHERE id = 'big-1'`)).toEqual([{ next: '9007199254740994' }]);
      // Inside a JSON column the number is stored exact: SQL reads its digits.
      expect(await ds.sql(`SELECT translations->>'n' AS n FROM logs__transcripts`)).toEqual([{ n: '9007199254740993' }]);
    } finally {
      await ds.close();
    }
  });
});

describe('other values, as NORMALIZATION.md (Types) says', () => {
  it('-0, 1e21, 1e-300, numeric and boolean-looking text, "" vs null vs missing, NUL, a lone surrogate, 1 MB of text', async () => {
    const rows = await withQueries(dbPath, (run) => run(`SELECT id, latitude::VARCHAR AS latitude, longitude::VARCHAR AS longitude, e21::VARCHAR AS e21,
        typeof(e21) AS e21_type, description, survey_comments, proactive_chat, proactive_chat__v_text, length(chat_agent_alias) AS alias_length,
        chat_agent_alias = 'a' || chr(0) || 'b' AS nul_kept, city, region IS NULL AS region_null, requested_by IS NULL AS missing_null, length(page_url) AS url_length
      FROM snapengage_data.logs WHERE id LIKE 'v-%' ORDER BY id`));
    expect(rows).toEqual([
      {
        id: 'v-1', latitude: '0.0', longitude: '1e-300', e21: '1e+21', e21_type: 'DOUBLE', description: '', survey_comments: '0012', proactive_chat: true,
        proactive_chat__v_text: null, alias_length: '3', nul_kept: true, city: '\ufffd', region_null: true, missing_null: true, url_length: '1000000',
      },
      {
        id: 'v-2', latitude: '1.5', longitude: null, e21: '2.0', e21_type: 'DOUBLE', description: null, survey_comments: null, proactive_chat: null,
        proactive_chat__v_text: '1', alias_length: null, nul_kept: null, city: null, region_null: true, missing_null: true, url_length: null,
      },
    ]);
  });
});
