// The bare baseline the loader is measured against: plain `fetch` of the same Logs API pages (one widget after the
// other, following linkToNextSetOfResults) into an NDJSON file, then DuckDB `read_json` + `unnest` into the same two
// tables (`logs`, `logs__transcripts`). No retries, no state, no schema handling: the least work that gives the tables,
// `logs.widget_id` included (the loader records the widget it asked for: the spec's addFields).
// Usage: node --import tsx test/bench/baseline.ts <out.duckdb>   (SNAPENGAGE_* from the environment)
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { DuckDBInstance } from '@duckdb/node-api';

const out = process.argv[2];
if (!out) throw new Error('usage: baseline.ts <out.duckdb>');
const env = process.env;
const base = env.SNAPENGAGE_BASE_URL!;
const widgets = env.SNAPENGAGE_WIDGET_ID!.split(',');
const start = env.SNAPENGAGE_START_DATE!;
const end = new Date().toISOString().slice(0, 10);
const ndjson = `${out}.ndjson`;

const file = createWriteStream(ndjson);
let cases = 0;
for (const widget of widgets) {
  let url: string | undefined = `${base}/api/v2/${env.SNAPENGAGE_ORG_ID}/logs?widgetId=${widget}&start=${start}&end=${end}&timezone=Etc/UTC`;
  for (let page = 0; url && page < 1_000_000; page++) {
    const response = await fetch(url, { headers: { Authorization: env.SNAPENGAGE_API_TOKEN! } });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const body = (await response.json()) as { cases: unknown[]; linkToNextSetOfResults?: string };
    let chunk = '';
    for (const item of body.cases) chunk += `${JSON.stringify({ ...(item as object), widget_id: widget })}\n`;
    cases += body.cases.length;
    if (!file.write(chunk)) await once(file, 'drain');
    url = body.linkToNextSetOfResults;
  }
}
file.end();
await once(file, 'finish');

const instance = await DuckDBInstance.create(out);
const connection = await instance.connect();
await connection.run(`CREATE TEMP TABLE raw AS SELECT * FROM read_json('${ndjson}', format = 'newline_delimited', maximum_object_size = 100000000)`);
await connection.run(`CREATE TABLE logs AS SELECT * EXCLUDE (transcripts) FROM raw`);
await connection.run(`CREATE TABLE logs__transcripts AS
  SELECT _parent_id, _list_idx, unnest(t) FROM (
    SELECT id AS _parent_id, generate_subscripts(transcripts, 1) - 1 AS _list_idx, unnest(transcripts) AS t FROM raw)`);
const counted = await connection.runAndReadAll(`SELECT (SELECT count(*) FROM logs) AS logs, (SELECT count(*) FROM logs__transcripts) AS transcripts`);
connection.closeSync();
instance.closeSync();
process.stdout.write(`${JSON.stringify({ fetched: cases, ...(counted.getRowObjectsJson()[0] as object) })}\n`);
