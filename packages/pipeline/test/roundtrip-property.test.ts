// Property: whatever a log case holds, normalize → DuckDB → read back gives it back. fast-check makes the cases
// (roundtrip/arbitraries.ts: hostile keys, nesting, type changes across records, edge values), the sandbox serves
// them over loopback, runPipeline loads them into a new DuckDB file, and roundtrip/locate.ts finds every leaf of the
// sandbox's truth in the tables (equality as NORMALIZATION.md states it). A rerun must then add nothing.
//
// A fixed seed and few runs by default (each run is two loads). More, or another seed, locally:
//   ROUNDTRIP_RUNS=200 ROUNDTRIP_SEED=123 npx vitest run packages/pipeline/test/roundtrip-property.test.ts
// A failure prints fast-check's seed and path: ROUNDTRIP_SEED=<seed> ROUNDTRIP_PATH=<path> replays it at once.
// ROUNDTRIP_TIME_LIMIT_MS (150 s) bounds the runs and the shrinking; a run cut short says how many runs it made.
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeepingLargeIntegers } from 'snapengage-client';
import type { Sandbox } from 'snapengage-sandbox';
import { runPipeline } from '../src/index.js';
import { query, sandbox, tempDir } from './helpers.js';
import { roundTripArb, toJsonText, type RoundTripCase } from './roundtrip/arbitraries.js';
import { locateCases } from './roundtrip/locate.js';

const RUNS = Number(process.env.ROUNDTRIP_RUNS ?? 12);
const SEED = Number(process.env.ROUNDTRIP_SEED ?? 20261128);
const REPLAY_PATH = process.env.ROUNDTRIP_PATH;

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let runNo = 0;

beforeAll(async () => {
  box = await sandbox({ cases: 0, widgets: 1, days: 2 });
  tmp = tempDir('roundtrip-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

async function post(path: string, body: string): Promise<void> {
  const response = await fetch(`${box.url}/__sandbox/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${await response.text()}`);
}

/** The cases as the sandbox serves them (its default case under our fields), each with the widget the loader adds. */
async function servedCases(widgetId: string): Promise<Array<Record<string, unknown>>> {
  const text = await (await fetch(`${box.url}/__sandbox/truth?resource=logs`)).text();
  return text.split('\n').filter((line) => line.trim() !== '').map((line) => ({ ...(parseKeepingLargeIntegers(line) as Record<string, unknown>), widget_id: widgetId }));
}

const load = (dbPath: string, maxNestingDepth: number) =>
  runPipeline(
    { resources: { logs: { maxNestingDepth } }, rateLimit: { requestsPerSecond: 0 } },
    { env: { ...box.env, SNAPENGAGE_DUCKDB_THREADS: '2' }, destination: { path: dbPath } },
  );

/** One property run: inject, load, locate every value, load again, and check that the rerun changed no row. */
async function roundTrip({ cases, maxNestingDepth }: RoundTripCase): Promise<void> {
  await roundTripTexts(cases.map((c) => toJsonText(c).slice(1, -1)), maxNestingDepth);
}

/** The same for cases given as the JSON text of their fields (without braces), for focused examples. */
async function roundTripTexts(fields: string[], maxNestingDepth = 4): Promise<void> {
  const run = runNo++;
  const widgetId = box.env.SNAPENGAGE_WIDGET_ID!;
  await post('reset', '{}');
  const texts = fields.map((f, i) => `{"id":${JSON.stringify(`rt${run}-${i}`)}${f ? ',' : ''}${f}}`);
  await post('cases', `{"widgetId":${JSON.stringify(widgetId)},"cases":[${texts.join(',')}]}`);
  const served = await servedCases(widgetId);
  expect(served.length, 'cases served').toBe(fields.length);

  const dbPath = join(tmp.dir, `rt${run}.duckdb`);
  await load(dbPath, maxNestingDepth);
  const first = await locateCases(dbPath, 'snapengage_data', served);
  expect(first.problems, `maxNestingDepth ${maxNestingDepth}, served ${JSON.stringify(served.map((c) => c.id))}`).toEqual([]);

  await load(dbPath, maxNestingDepth);
  const second = await locateCases(dbPath, 'snapengage_data', served);
  expect(second.problems, 'after the rerun').toEqual([]);
  expect(second.rowCounts, 'rows per table after the rerun').toEqual(first.rowCounts);
  // The rerun read the same cases: a merge leaves them as they are, so no row carries its load id; except a case
  // whose empty list was NULL before its list column existed, which the rerun stores as [] (NORMALIZATION.md, Tables).
  const [{ last }] = (await query(dbPath, `SELECT max(load_id) AS last FROM snapengage_data._pipeline_loads WHERE resource = 'logs'`)) as [{ last: string }];
  const rewritten = await query(dbPath, Object.keys(first.rowCounts).map((table) => table === 'logs'
    ? `SELECT 'logs' AS t, id FROM snapengage_data.logs WHERE _load_id = '${last}'`
    : `SELECT '${table}' AS t, l.id FROM snapengage_data."${table}" c JOIN snapengage_data.logs l ON l._row_id = c._root_id WHERE c._load_id = '${last}'`).join(' UNION ALL '));
  const unexplained = rewritten.filter((r) => !first.emptyListsBeforeTheirColumn.has(String(r.id)));
  expect(unexplained, 'rows the rerun wrote').toEqual([]);
}

// Bounded: runs stop after this long (shrinking a failure too, reporting the smallest case found so far).
const TIME_LIMIT_MS = Number(process.env.ROUNDTRIP_TIME_LIMIT_MS ?? 150_000);

describe('round trip of arbitrary log cases (fast-check)', () => {
  it(`every served value is in the dataset, equal, and a rerun adds nothing (seed ${SEED}, ${RUNS} runs)`, async () => {
    const details = await fc.check(fc.asyncProperty(roundTripArb, roundTrip), {
      seed: SEED,
      numRuns: RUNS,
      ...(REPLAY_PATH ? { path: REPLAY_PATH } : {}),
      interruptAfterTimeLimit: TIME_LIMIT_MS,
    });
    // fast-check's report: the seed and path to replay, the shrunk counterexample, the error.
    if (details.failed) throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
    // A slow machine may stop short of RUNS: say so (a search's count must be the runs made, not the runs asked).
    if (details.interrupted) console.warn(`round trip: ${details.numRuns} of ${RUNS} runs within ${TIME_LIMIT_MS} ms`);
    expect(details.numRuns).toBeGreaterThan(0);
  }, TIME_LIMIT_MS + 30_000);
});

// Found by the property (seed 20261128): a value that holds nothing (an empty list or object, or one of nulls) at
// a path not decided yet decides nothing and is not stored, but where the path was already decided as a scalar
// column, a flattened object or a child table, it went to a `__v_json` variant. Which one depended on what came first,
// so a rerun, with the path decided by the first load, stored a record differently (a new variant column, the
// record rewritten as changed).
describe('a value that holds nothing is stored alike whatever came before it', () => {
  it.each([
    ['in a list of objects, before the item that decides the column (the shrunk counterexample)', ['"A B":[{"123":[]},{"123":0}]']],
    ['in a scalar column decided by a later case', ['"k":[]', '"k":5']],
    ['an empty object in a scalar column', ['"k":{}', '"k":"text"']],
    ['a list of nulls in a scalar column', ['"k":[null]', '"k":true']],
    ['an empty list where a flattened object is', ['"o":[]', '"o":{"a":1}']],
    ['an empty object where a child table is', ['"t":{"x":null}', '"t":[{"a":1}]']],
    ['an empty list before its list column: the rerun stores it as [] (NORMALIZATION.md, Tables), nothing else', ['"l":[]', '"l":["a"]']],
  ])('%s', async (_, fields) => {
    await roundTripTexts(fields);
  });
});

// Found by the property (seeds 2 and 3): a list holding an integer beyond BIGINT's range, stored as JSON (a variant, a
// JSON column or `_overflow`), had its items turned into texts (`["9223372036854775808"]`), as a list column stores them, where a JSON
// value keeps the number with every digit (NORMALIZATION.md, Types), as it did when the list was inside an object.
describe('an integer beyond BIGINT stored as JSON (in a list or alone) is the number, every digit', () => {
  it.each([
    ['a __v_json variant of a declared scalar column (the shrunk counterexample)', ['"proactive_chat":[9223372036854775808]'], 4],
    // A key that is no struct field sends the record down the row path (the fast path staged the digits already).
    ['a JSON column (maxNestingDepth 0)', ['"j":{"a":1}', '"j":[9223372036854775808,-123456789012345678901234567890],"A B":1'], 0],
    // Seed 3 found it there: a map past the table's budget of columns keeps the ids after it in `_overflow`.
    ['the row\'s _overflow', [`"wide map":{${Array.from({ length: 160 }, (_, i) => `"id_${i}":${i}`).join(',')},"id_160":[123456789012345678901234567890]}`], 4],
    // And alone (seed 3 again): `_overflow` and a JSON column are JSON values; a variant of a scalar column is text.
    ['alone in the row\'s _overflow', [`"wide map":{${Array.from({ length: 160 }, (_, i) => `"id_${i}":${i}`).join(',')},"id_160":9223372036854775808}`], 4],
    ['alone in a JSON column', ['"j":{"a":1}', '"j":-9223372036854775809'], 0],
  ])('%s', async (_, fields, depth) => {
    await roundTripTexts(fields, depth);
  });
});
