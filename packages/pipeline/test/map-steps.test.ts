// What a config's filter and map steps may return, against the sandbox over loopback into real DuckDB files: every
// value is stored loss-free (the same on the row path and the fast paths, and unchanged on a rerun), or the run is
// refused before anything is written, naming the step or column, the field and the fix.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Sandbox } from 'snapengage-sandbox';
import { ConfigError, definePipeline, runPipeline, type SourceRecord } from '../src/index.js';
import { query, sandbox, tempDir } from './helpers.js';

let box: Sandbox;
let tmp: ReturnType<typeof tempDir>;
let n = 0;
beforeAll(async () => {
  box = await sandbox({ cases: 20, widgets: 1, days: 3 });
  tmp = tempDir('map-steps-');
});
afterAll(async () => {
  await box?.close();
  tmp?.cleanup();
});

type Transcript = Record<string, unknown>;
type Step = { map: (r: SourceRecord) => unknown } | { filter: (r: SourceRecord) => unknown };
const run = (steps: Step[], path = `${tmp.dir}/run-${n++}.duckdb`) =>
  runPipeline(definePipeline({ resources: { logs: { steps: steps as never } }, rateLimit: { requestsPerSecond: 0 } }), { env: box.env, destination: { path } });
const eachTranscript = (edit: (t: Transcript) => void) => ({
  map: (r: SourceRecord) => {
    for (const t of (r.transcripts as Transcript[] | null) ?? []) edit(t);
    return r;
  },
});

describe('NaN from a map step', () => {
  it('is kept in DOUBLE columns and lists, and the rerun finds every record unchanged', async () => {
    const path = `${tmp.dir}/nan-double.duckdb`;
    const steps = [{ map: (r: SourceRecord) => ({ ...r, latitude: NaN, ratios: [1.5, NaN] }) }];
    const first = await run(steps, path);
    expect(first.rowCounts.logs).toBe(20);
    const rows = await query(path, `SELECT count(*)::INTEGER AS n FROM snapengage_data.logs WHERE isnan(latitude) AND isnan(ratios[2]) AND ratios[1] = 1.5`);
    expect(rows).toEqual([{ n: 20 }]); // the list's NaN was null
    const again = await run(steps, path);
    expect(again.rowCounts.logs ?? 0).toBe(0);
    expect(again.unchangedRecords.logs).toBeGreaterThan(0);
  });

  // transcripts[].translations is a JSON column (declared without a type). On the list fast path NaN was staged as
  // null; on the row path (a new key in the items) as the token NaN, which failed every read of the table.
  it.each([
    ['the list fast path', (t: Transcript) => (t.translations = NaN)],
    ['the row path', (t: Transcript) => ((t.translations = NaN), (t.extra = 1))],
    ['inside an object', (t: Transcript) => ((t.translations = { score: NaN }), (t.extra = 1))],
  ])('is refused in a JSON column, naming it (%s)', async (_, edit) => {
    const path = `${tmp.dir}/nan-json-${n++}.duckdb`;
    const failure = run([eachTranscript(edit)], path);
    await expect(failure).rejects.toThrow(ConfigError);
    await expect(failure).rejects.toThrow(
      'resources.logs: a map step returned NaN for logs__transcripts.translations, a JSON column, and JSON has no NaN: return null or a number there',
    );
  });
});
